"""The report as Markdown: pastes into a wiki page or a ticket."""

from __future__ import annotations

from exporter.service_report import text
from exporter.service_report.figures import SiteFigures, TierFigures
from exporter.service_report.model import Report

#: Incidents listed per tier; the JSON form has all of them.
INCIDENTS_SHOWN = 50
RECURRING_SHOWN = 20


def _row(cells: list[object]) -> str:
    return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"


def _table(head: list[str], rows: list[list[object]]) -> list[str]:
    return [_row(list(head)), _row(["---"] * len(head)), *(_row(r) for r in rows)]


def heading(report: Report) -> list[str]:
    period = report.period
    lines = [
        f"# Service levels: {period.label} ({period.zone.key})",
        "",
        f"{text.moment(period, period.start_s)} to {text.moment(period, period.end_s)}, "
        f"{text.duration(period.minutes)}; {len(report.sites)} site(s) from {report.source}"
        + (f" matching `{report.match}`" if report.match else "")
        + f"; made {report.generated:%Y-%m-%d %H:%M %Z}.",
    ]
    for note in report.notes:
        lines += ["", f"> **Note:** {note}"]
    return lines


def tier_table(report: Report) -> list[str]:
    rows: list[list[object]] = [
        [
            tier.tier,
            len(tier.sites),
            tier.met,
            tier.missed,
            text.percent(tier.availability),
            text.percent(tier.reliability),
            text.duration(tier.total("down")),
            tier.incidents,
        ]
        for tier in report.tiers
    ]
    head = ["tier", "sites", "met", "missed", "availability", "reliability", "down", "incidents"]
    return _table(head, rows)


def site_row(site: SiteFigures) -> list[object]:
    m, spent = site.minutes, site.budget_spent
    longest = site.longest
    return [
        site.name,
        site.labels.get("environment", ""),
        text.percent(site.availability),
        text.target(site.targets.get("availability")),
        text.percent(site.reliability),
        text.target(site.targets.get("reliability")),
        f"**{text.met(site)}**" if site.met is False else text.met(site),
        " / ".join(
            filter(None, (text.spent(spent["availability"]), text.spent(spent["reliability"])))
        )
        or "",
        m.down,
        m.maintenance,
        m.unknown,
        len(site.incidents),
        text.duration(longest.minutes) if longest else "",
    ]


SITE_HEAD = [
    "site",
    "environment",
    "availability",
    "target",
    "reliability",
    "target",
    "result",
    "budget spent (A / R)",
    "min down",
    "min maintenance",
    "min unknown",
    "incidents",
    "longest",
]


def incidents(report: Report, tier: TierFigures) -> list[str]:
    listed = [(site, incident) for site in tier.sites for incident in site.incidents]
    if not listed:
        return ["No incidents."]
    listed.sort(key=lambda pair: (-pair[1].minutes, pair[1].start))
    rows: list[list[object]] = [
        [
            site.name,
            site.labels.get("environment", ""),
            text.incident_span(report.period, incident),
            text.duration(incident.minutes),
            text.causes(incident),
        ]
        for site, incident in listed[:INCIDENTS_SHOWN]
    ]
    lines = _table(["site", "environment", "when", "duration", "probes (reason)"], rows)
    if len(listed) > INCIDENTS_SHOWN:
        lines += [
            "",
            f"... and {len(listed) - INCIDENTS_SHOWN} shorter ones (all in --format json).",
        ]
    return lines


def recurring(report: Report) -> list[str]:
    if not report.recurring:
        return ["No probe failed in an incident."]
    rows: list[list[object]] = [
        [r.cause.text(), r.incidents, r.sites, r.most_at_one_site, text.duration(r.minutes)]
        for r in report.recurring[:RECURRING_SHOWN]
    ]
    head = ["probe (reason)", "incidents", "sites", "most at one site", "time down"]
    return _table(head, rows)


def render(report: Report) -> str:
    lines = heading(report)
    lines += ["", "## Tiers", "", *tier_table(report)]
    for tier in report.tiers:
        lines += ["", f"## {tier.tier}", ""]
        lines += _table(SITE_HEAD, [site_row(site) for site in tier.sites])
        lines += ["", f"### Incidents: {tier.tier}", "", *incidents(report, tier)]
    lines += [
        "",
        "## Probes that failed most often (recurring causes first)",
        "",
        *recurring(report),
    ]
    lines += [
        "",
        "Minutes are whole minutes sampled on the minute; *unknown* is time the exporter was not "
        "scraped or its rollup was UNKNOWN, and counts in no ratio. An incident is a run of "
        "minutes CRITICAL outside maintenance. Time outside a site's service hours counts in "
        "nothing. Budget spent: time down / ((1 - target) x time "
        "counted); over 100 % is a missed target.",
    ]
    return "\n".join(lines) + "\n"
