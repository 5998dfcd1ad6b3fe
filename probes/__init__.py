"""Built-in probe kinds, one module each (``probes.<kind>`` holds ``KIND``).

The registry imports a kind's module only when a config uses the kind
(``exporter.registry.BUILTIN_KIND_NAMES``).
"""
