"""site-status monitoring mixin: alert and recording rules, Alertmanager routing and Grafana
dashboards, generated from one place (``mixin/config.py``) with ``python -m mixin``."""
