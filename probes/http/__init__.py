"""The http probe kind: the probe (``probe``) and the health-body formats it grades
(``health``)."""
