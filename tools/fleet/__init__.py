"""A fleet of site-status exporters on one machine, playing a scripted day in minutes.

``python -m tools.fleet`` starts N real ``site-status run`` processes (each with its own config),
nginx serving their healthz endpoints, Debian's Prometheus (file-based service discovery, a
time-compressed copy of the shipped rules), Alertmanager (a time-compressed copy of the shipped
routing) and blackbox_exporter (the same HTTP probes, for the cost comparison), plays the scenes
of ``tools.fleet.plan`` and measures what docs/fleet.md reports.
"""
