"""Service levels: targets per tier, the calendar month's error budget, and burn-rate alerts.

- ``site_status_site:objective:{availability,reliability}``: each site's target (its tier's, or
  its own from ``service_levels.sites``), one series per site while its exporter answers.
- Month-to-date counters (``site_status_site:<state>:sum_month``) add each state sample to the
  counter of the current calendar month (UTC: PromQL has no time zones). PromQL cannot select
  "since the first of the month" (a range is a literal), so the counter carries itself: each
  evaluation adds the sample to its own last value if that value is from this month
  (``site_status:month`` remembers the month of the last evaluation), else starts again.
- From them, the month's availability and reliability so far and the share of the month's error
  budget left. The budget is ``(1 - target)`` of the month's known time, counting the time still
  to come as if it will be known: at the month's end the budget is spent exactly when the target
  is missed.
- Multi-window, multi-burn-rate alerts on reliability (maintenance excluded, like the target),
  as recommended in Google's *The Site Reliability Workbook*, chapter 5 "Alerting on SLOs",
  section 6 "Multiwindow, Multi-Burn-Rate Alerts"
  (https://sre.google/workbook/alerting-on-slos/): page when 2 % of a 30-day budget goes in an
  hour (burn rate 14.4, confirmed over 5 minutes) or 5 % in 6 hours (6, over 30 minutes); a
  ticket when 10 % goes in 3 days (1, over 6 hours).

One outage pages once: the fast burn is quiet while ``SiteStatusSiteCritical`` fires for the
site and for the fast burn's longest short window (30m) after it, and its ``for`` is longer
than ``SiteStatusSiteCritical``'s, so that alert always fires first. What is left for the burn
alert to page is what the CRITICAL-for-5m page cannot see: a site that fails again and again for
less than 5 minutes each time (docs/alerts.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from mixin.alerts import Alert, site_text
from mixin.config import MixinConfig, Objective
from mixin.promql import PromQL
from mixin.recording import KNOWN, MAINTENANCE, MAINTENANCE_KNOWN, UP, UP_OUTSIDE_MAINTENANCE

SLIS = ("availability", "reliability")
MONTH = "site_status:month"
FAST_BURN = "SiteStatusErrorBudgetFastBurn"
SLOW_BURN = "SiteStatusErrorBudgetSlowBurn"
SITE_CRITICAL = "SiteStatusSiteCritical"


@dataclass(frozen=True)
class BurnWindow:
    """One condition of the workbook's table: the budget burns ``rate`` times too fast over
    ``long`` and, so that it stops soon after the burn does, over ``short`` too."""

    long: str
    short: str
    rate: float


#: The Site Reliability Workbook, chapter 5, table 5-8 (for a 30-day budget).
PAGE_WINDOWS = (BurnWindow("1h", "5m", 14.4), BurnWindow("6h", "30m", 6))
TICKET_WINDOWS = (BurnWindow("3d", "6h", 1),)
#: The fast burn stays quiet this long after the site's CRITICAL page (its longest short window).
AFTER_PAGE = "30m"


def objective_name(sli: str) -> str:
    return f"site_status_site:objective:{sli}"


def month_sum_name(series: str) -> str:
    return f"{series}:sum_month"


def month_ratio_name(sli: str) -> str:
    return f"site_status_site:{sli}:ratio_month"


def budget_remaining_name(sli: str) -> str:
    return f"site_status_site:{sli}:budget_remaining_month"


def error_ratio_name(window: str) -> str:
    return f"site_status_site:reliability_error:ratio_{window}"


def seconds(duration: str) -> float:
    """A Prometheus duration (``1h30m``) in seconds."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
    parts = re.findall(r"(\d+)(ms|s|m|h|d|w|y)", duration)
    return sum(int(number) * units[unit] for number, unit in parts)


def prom_duration(total: float) -> str:
    if total % 1:
        return f"{int(total * 1000)}ms"
    return f"{int(total) // 60}m" if total % 60 == 0 else f"{int(total)}s"


def _matchers(site: str, environment: str | None) -> str:
    found = f"site={_quoted(site)}"
    return found if environment is None else f"{found}, environment={_quoted(environment)}"


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def by_site(config: MixinConfig) -> str:
    """A per-site ``by``: the site's labels with its cluster."""
    return f"by ({', '.join(PromQL(config).site_labels)})"


def objective_rules(config: MixinConfig) -> list[dict[str, Any]]:
    """One rule per tier and target, and one per site with its own targets."""
    q = PromQL(config)
    levels = config.service_levels
    own = [q.info(_matchers(s.site, s.environment)) for s in levels.sites]
    overridden = f"group by (site, environment) ({' or '.join(own)})" if own else ""
    rules: list[dict[str, Any]] = []

    # Static labels equal to the ones the expression yields: they tell the rules apart for
    # promtool's duplicate check, and change nothing.
    def add(objective: Objective, info: str, labels: dict[str, str], exclude: str = "") -> None:
        for sli in SLIS:
            target = getattr(objective, sli)
            if target is None:
                continue
            sites = f"group {by_site(config)} ({info})"
            if exclude:
                sites = f"({sites}\n  unless on(site, environment) {exclude})"
            expr = f"{target:g} * {sites}"
            rules.append({"record": objective_name(sli), "expr": expr, "labels": labels})

    for tier, objective in levels.tiers.items():
        add(objective, q.info(f"tier={_quoted(tier)}"), {"tier": tier}, overridden)
    for site in levels.sites:
        labels = {"site": site.site}
        if site.environment is not None:
            labels["environment"] = site.environment
        add(site, q.info(_matchers(site.site, site.environment)), labels)
    return rules


def month_counter_rules(config: MixinConfig) -> list[dict[str, Any]]:
    """Month-to-date counters; evaluated right after the state samples, in their group."""
    carry = config.service_levels.month_carry
    per_site = f"sum {by_site(config)}"
    this_month = f"on() (last_over_time({MONTH}[{carry}]) == month())"
    rules: list[dict[str, Any]] = []
    for series in (KNOWN, UP, MAINTENANCE_KNOWN, UP_OUTSIDE_MAINTENANCE):
        name = month_sum_name(series)
        now = f"{per_site} ({series})"
        before = f"(last_over_time({name}[{carry}]) and {this_month})"
        # Sampled now and counted before; new this month; not sampled now (exporter down).
        rules.append({"record": name, "expr": f"{now} + {before}\nor {now}\nor {before}"})
    # Last: the counters above read the month of the evaluation before this one.
    rules.append({"record": MONTH, "expr": "month()"})
    return rules


def month_budget_rules(config: MixinConfig) -> list[dict[str, Any]]:
    """The month's ratios so far and the budget left, from the counters (every window interval)."""
    rules: list[dict[str, Any]] = []
    known, up = month_sum_name(KNOWN), month_sum_name(UP)
    maintenance, up_outside = (
        month_sum_name(MAINTENANCE_KNOWN),
        month_sum_name(UP_OUTSIDE_MAINTENANCE),
    )
    counted = {"availability": known, "reliability": f"({known} - {maintenance})"}
    good = {"availability": up, "reliability": up_outside}
    sample = seconds(config.state_interval)
    # Samples after this one until the month ends (each stands for the interval after it).
    to_month_end = "((days_in_month() - day_of_month() + 1) * 86400 - time() % 86400)"
    still_to_come = f"scalar(ceil({to_month_end} / {sample:g}) - 1)"
    for sli in SLIS:
        rules.append(
            {"record": month_ratio_name(sli), "expr": f"{good[sli]} / ({counted[sli]} > 0)"}
        )
        spent = f"({counted[sli]} - {good[sli]})"
        budget = f"((1 - {objective_name(sli)}) * ({counted[sli]} + {still_to_come}))"
        rules.append({"record": budget_remaining_name(sli), "expr": f"1 - {spent} / {budget}"})
    return rules


def error_ratio_rule(config: MixinConfig, window: str) -> dict[str, Any]:
    def total(series: str) -> str:
        return f"sum {by_site(config)} (sum_over_time({series}[{window}]))"

    counted = f"({total(KNOWN)} - {total(MAINTENANCE_KNOWN)} > 0)"
    return {
        "record": error_ratio_name(window),
        "expr": f"1 - {total(UP_OUTSIDE_MAINTENANCE)}\n/ {counted}",
    }


def _windows() -> list[str]:
    every = {w for b in (*PAGE_WINDOWS, *TICKET_WINDOWS) for w in (b.long, b.short)}
    return sorted(every, key=seconds)


#: Windows up to this long are evaluated every state interval (the 5-minute window is there to
#: end the alert soon after the burn does), longer ones with the 1d-30d ratios (every window
#: interval, 5m): minutes of lag on an hour change nothing, and every rule evaluated every
#: minute costs.
SHORT_WINDOW = "5m"


def fast_error_ratio_rules(config: MixinConfig) -> list[dict[str, Any]]:
    short = seconds(SHORT_WINDOW)
    return [error_ratio_rule(config, w) for w in _windows() if seconds(w) <= short]


def slow_error_ratio_rules(config: MixinConfig) -> list[dict[str, Any]]:
    short = seconds(SHORT_WINDOW)
    return [error_ratio_rule(config, w) for w in _windows() if seconds(w) > short]


def burning(windows: tuple[BurnWindow, ...]) -> str:
    """Sites whose reliability budget burns at one of ``windows``' rates over both windows;
    the value is the burn rate over the long window."""
    budget = f"(1 - {objective_name('reliability')})"

    def rate(window: str) -> str:
        return f"{error_ratio_name(window)} / {budget}"

    conditions = [
        f"({rate(w.long)} > {w.rate:g}\nand {rate(w.short)} > {w.rate:g})" for w in windows
    ]
    return "\nor\n".join(conditions)


def fast_burn_for(config: MixinConfig) -> str:
    """Longer than SiteStatusSiteCritical's ``for`` plus the lag between the state samples and
    the alert rules, so that an outage's CRITICAL page always fires first (and mutes this)."""
    total = seconds(config.for_.site_critical) + 2 * seconds(config.state_interval)
    return prom_duration(total)


def muted(config: MixinConfig, expr: str) -> str:
    return f"{expr}\nunless {PromQL(config).on_site} {MAINTENANCE} == 1"


def burn_alerts(config: MixinConfig) -> list[Alert]:
    """Evaluated in the alerts' group after SiteStatusSiteCritical (its ALERTS series is
    written before this reads it)."""
    paged = (
        f'max_over_time(ALERTS{{alertname="{SITE_CRITICAL}", alertstate="firing"}}[{AFTER_PAGE}])'
    )
    fast = f"({burning(PAGE_WINDOWS)})\nunless {PromQL(config).on_site} {paged}"
    page_text = " or ".join(f"{w.rate:g}x over {w.long} (and {w.short})" for w in PAGE_WINDOWS)
    ticket_text = " or ".join(f"{w.rate:g}x over {w.long} (and {w.short})" for w in TICKET_WINDOWS)
    budget_hint = (
        f"The month's budget left: {budget_remaining_name('reliability')} in the site "
        "dashboard or Prometheus; the month's figures per site: site-status report."
    )
    return [
        Alert(
            FAST_BURN,
            "critical",
            muted(config, fast),
            fast_burn_for(config),
            f"{site_text(config)} spends its error budget fast",
            "Reliability (maintenance excluded) is failing its target at a pace that spends "
            f"2-5 % of a month's error budget within hours ({page_text} the sustainable rate), "
            "with no CRITICAL page for it: the site keeps failing for short spells (each less "
            "than SiteStatusSiteCritical's for). Look for a flapping probe in the site "
            f"dashboard's probe status timeline. {budget_hint}",
        ),
        Alert(
            SLOW_BURN,
            "warning",
            muted(config, burning(TICKET_WINDOWS)),
            config.for_.error_budget_slow_burn,
            f"{site_text(config)} spends its error budget faster than the month allows",
            f"Reliability is below its target over days ({ticket_text} the sustainable "
            "rate): at this pace the month's error budget runs out before the month does. "
            f"Ticket-level: plan the fix in working hours. {budget_hint}",
        ),
    ]
