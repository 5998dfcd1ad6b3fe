"""site-status: graded site status for Prometheus, with pluggable probes."""

__version__ = "0.1.0"
