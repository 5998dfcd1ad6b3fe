"""Kubernetes mode: discovery of annotated services and ingresses, the Deployment's maintenance
annotation, and Events, over the client in ``exporter.kube_client`` (no Kubernetes library).

Imported only when ``kubernetes.enabled`` is true (the ``kubernetes:`` config block itself is
``exporter.kube_settings``).
"""
