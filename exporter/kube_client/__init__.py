"""A small Kubernetes API client on the exporter's own HTTP stack: finding and trusting the API
server (``locate``, ``kubeconfig``, ``cluster``, ``tls``, ``credentials``), requests and watches
(``client``, ``reflector``), ``pods/exec`` (``exec``), and the one list of permissions it uses.
Kubernetes mode itself (discovery, events, annotations) is ``exporter.kube``."""
