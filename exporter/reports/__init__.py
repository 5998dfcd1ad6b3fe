"""Status reports: what a report holds, when one is made, and the sinks that take them.

- ``schema``: report schema version 1, one JSON line per report (``schemas/`` is package data).
- ``tracker``: which probe views changed, so that a transition is reported once.
- ``service``: ``Reporting``, the one object the app talks to (on result, snapshots, flush).
- ``stats``: counters and gauges the sinks update, read by the metrics Collector.
- ``file``: the JSONL file sink.
- ``shared_access``: files a later exporter (another uid, the same group) can take over.
- ``loki``: the Loki sink (spool, batches, push client), imported only when configured.
"""
