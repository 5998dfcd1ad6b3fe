"""Built-in probe kinds: one entry module per kind holds ``KIND`` (``probes.<kind>``, or
``probes.<family>.probe`` for a kind with helper modules of its own, such as ``probes.http``).

The registry imports a kind's module only when a config uses the kind
(``exporter.registry.BUILTIN_KIND_MODULES``).
"""
