"""Kubernetes integration, spoken with the exporter's own HTTP client (no Kubernetes library).

``settings`` is the config block (imported by ``exporter.config``: keep it light); the rest is
imported only when ``kubernetes.enabled`` is true or a probe uses the ``kubernetes`` runner.
"""
