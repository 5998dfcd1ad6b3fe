"""The deploy windows the docs and CI snippets ship, per tier, in the schedule grammar of
``site-status gate --window`` (docs/gate.md).

They must not overlap a pager mute of the same tier (the weekly maintenance slot, Thursday
13:00-16:00 Oslo, mixin/alertmanager.py): a rollout that breaks the site in a muted hour pages
nobody, when the operators' rule says someone watches. ``tests/mixin/test_deploy_windows.py``
checks it; a tier listed in ``OVERLAP_ALLOWED`` says the overlap is on purpose.
"""

from __future__ import annotations

#: Monday to Wednesday 10-15, Thursday until the maintenance slot's mute begins at 13:00.
DEPLOY_WINDOWS: dict[str, tuple[str, ...]] = {
    "priprod": ("mon-wed 10:00-15:00 Europe/Oslo", "thu 10:00-13:00 Europe/Oslo"),
    "flexprod": ("mon-wed 10:00-15:00 Europe/Oslo", "thu 10:00-13:00 Europe/Oslo"),
}
#: Tiers whose deploy windows may overlap their mutes on purpose (none shipped).
OVERLAP_ALLOWED: frozenset[str] = frozenset()
