"""Schedules people write: deploy windows (the gate's ``--window``) and maintenance windows (the
config's ``site.maintenance``) in one grammar, judged on each zone's wall clock.

``grammar`` reads one line into a :class:`~exporter.schedule.rules.Rule`; ``timeline`` turns
rules into the instants they open and close (blackouts cut the windows), which is all the rest
of the program asks of a schedule.
"""
