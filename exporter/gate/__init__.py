"""``site-status gate``: is it safe to roll out, and did the rollout hold?

A pipeline asks one or many sites (their exporters' ``/status``, or Prometheus) whether every
site is at most ``--max-status``; with ``--watch`` it keeps asking for a while after a rollout.
"""
