"""``site-status report``: availability, reliability, targets, error budgets and incidents per
tier and site for a calendar month (or any period), read from Prometheus.

Not to be confused with ``exporter/reports/`` (the exporter's JSON reports to Loki).
"""
