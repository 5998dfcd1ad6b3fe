"""The http probe kind: the probe (``probe``), its connection transport (``transport``) and
the health-body formats it grades (``health``)."""
