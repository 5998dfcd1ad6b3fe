"""Reports to Grafana Loki: labels and timestamps, a disk spool, batching, the push client.

Imported only when ``reports.loki`` is configured, so a file-only exporter never loads it.
Modules, one job each:

- ``streams``: the fixed label set, structured metadata, strictly increasing timestamps.
- ``spool``: append-only segment files plus a committed sequence number; the queue on disk.
- ``takeover``: the shared default spool of earlier versions, emptied into each site's own.
- ``batch``: the JSON push body, grouped by stream, gzipped.
- ``backoff``: exponential backoff with jitter and ``Retry-After``.
- ``client``: one push over httpx (auth and TLS from files), answered as a ``PushOutcome``.
- ``sink``: ties them together: submit, push loop, flush at shutdown.
"""
