"""The report as one self-contained HTML file (inline style, inline SVG charts, no script, no
link to anywhere): attach it to a mail, open it offline."""

from __future__ import annotations

from html import escape

from exporter.service_report import text
from exporter.service_report.figures import SiteFigures, TierFigures
from exporter.service_report.markdown import INCIDENTS_SHOWN, RECURRING_SHOWN, SITE_HEAD
from exporter.service_report.model import Report

STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em auto;max-width:72em;padding:0 1em;color:#222}
h1{font-size:1.5em}h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid #ccc}
h3{font-size:1.05em}
table{border-collapse:collapse;margin:.5em 0}
th,td{padding:.2em .6em;border-bottom:1px solid #e4e4e4;text-align:right;vertical-align:top}
th{background:#f4f4f4}td.l,th.l{text-align:left}
.missed{color:#b00020;font-weight:bold}.met{color:#1b5e20}
.note{background:#fff4e5;border-left:4px solid #f0a020;padding:.4em .8em;margin:.6em 0}
.meta{color:#555}figure{margin:.5em 0}figcaption{color:#555;font-size:.9em}
svg text{font:10px system-ui,sans-serif;fill:#555}
@media (prefers-color-scheme:dark){body{background:#121212;color:#ddd}
th{background:#222}td,th{border-color:#333}.note{background:#2a2114}
.meta,figcaption,svg text{color:#aaa;fill:#aaa}}
"""

CHART_WIDTH, CHART_HEIGHT, AXIS = 640, 90, 14


def chart(tier: TierFigures) -> str:
    """Minutes down outside maintenance per local day, as bars."""
    days = sorted(tier.daily_down)
    if not days:
        return ""
    peak = max(tier.daily_down.values())
    scale = max(peak, 1)
    width = CHART_WIDTH / len(days)
    bars = []
    for n, day in enumerate(days):
        value = tier.daily_down[day]
        height = (CHART_HEIGHT - AXIS) * value / scale
        x, y = n * width, CHART_HEIGHT - AXIS - height
        title = f"{day:%a %d %b}: {text.duration(value)} down"
        colour = "#c62828" if value else "#9e9e9e"
        bars.append(
            f'<rect x="{x + 1:.1f}" y="{y:.1f}" width="{max(width - 2, 1):.1f}" '
            f'height="{max(height, 1):.1f}" fill="{colour}"><title>{escape(title)}</title></rect>'
        )
        if day.day == 1 or n == 0 or day.weekday() == 0:
            bars.append(f'<text x="{x + 1:.1f}" y="{CHART_HEIGHT - 2}">{day:%d %b}</text>')
    label = (
        f"{escape(tier.tier)}: minutes down outside maintenance per day "
        f"(highest {text.duration(peak)})"
    )
    return (
        f'<figure><svg role="img" width="{CHART_WIDTH}" '
        f'height="{CHART_HEIGHT}" viewBox="0 0 {CHART_WIDTH} {CHART_HEIGHT}" '
        f'aria-label="{label}">{"".join(bars)}</svg><figcaption>{label}</figcaption></figure>'
    )


def _table(head: list[str], rows: list[list[str]], left: int = 1) -> str:
    def cells(tag: str, values: list[str]) -> str:
        return "".join(
            f"<{tag}{' class=l' if n < left else ''}>{v}</{tag}>" for n, v in enumerate(values)
        )

    body = "".join(f"<tr>{cells('td', row)}</tr>" for row in rows)
    return f"<table><thead><tr>{cells('th', head)}</tr></thead><tbody>{body}</tbody></table>"


def _site_row(site: SiteFigures) -> list[str]:
    m, spent, longest = site.minutes, site.budget_spent, site.longest
    verdict = text.met(site)
    css = {"MISSED": "missed", "met": "met"}.get(verdict, "")
    return [
        escape(site.name),
        escape(site.labels.get("environment", "")),
        text.percent(site.availability),
        text.target(site.targets.get("availability")),
        text.percent(site.reliability),
        text.target(site.targets.get("reliability")),
        f'<span class="{css}">{verdict}</span>',
        " / ".join(
            filter(None, (text.spent(spent["availability"]), text.spent(spent["reliability"])))
        ),
        str(m.down),
        str(m.maintenance),
        str(m.unknown),
        str(len(site.incidents)),
        text.duration(longest.minutes) if longest else "",
    ]


def _incidents(report: Report, tier: TierFigures) -> str:
    listed = [(site, incident) for site in tier.sites for incident in site.incidents]
    if not listed:
        return "<p>No incidents.</p>"
    listed.sort(key=lambda pair: (-pair[1].minutes, pair[1].start))
    rows = [
        [
            escape(site.name),
            escape(site.labels.get("environment", "")),
            escape(text.incident_span(report.period, incident)),
            text.duration(incident.minutes),
            escape(text.causes(incident)),
        ]
        for site, incident in listed[:INCIDENTS_SHOWN]
    ]
    more = len(listed) - INCIDENTS_SHOWN
    tail = f"<p>... and {more} shorter ones (all in --format json).</p>" if more > 0 else ""
    head = ["site", "environment", "when", "duration", "probes (reason)"]
    return _table(head, rows, left=3) + tail


def render(report: Report) -> str:
    period = report.period
    title = f"Service levels: {period.label} ({period.zone.key})"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="meta">{escape(text.moment(period, period.start_s))} to '
        f"{escape(text.moment(period, period.end_s))}, {text.duration(period.minutes)}; "
        f"{len(report.sites)} site(s) from {escape(report.source)}"
        + (f" matching <code>{escape(report.match)}</code>" if report.match else "")
        + f"; made {report.generated:%Y-%m-%d %H:%M %Z}.</p>",
    ]
    parts += [f'<p class="note">{escape(note)}</p>' for note in report.notes]
    tier_rows = [
        [
            escape(tier.tier),
            str(len(tier.sites)),
            str(tier.met),
            f'<span class="missed">{tier.missed}</span>' if tier.missed else "0",
            text.percent(tier.availability),
            text.percent(tier.reliability),
            text.duration(tier.total("down")),
            str(tier.incidents),
        ]
        for tier in report.tiers
    ]
    head = ["tier", "sites", "met", "missed", "availability", "reliability", "down", "incidents"]
    parts += ["<h2>Tiers</h2>", _table(head, tier_rows)]
    for tier in report.tiers:
        parts += [
            f'<h2 id="tier-{escape(tier.tier)}">{escape(tier.tier)}</h2>',
            chart(tier),
            _table(SITE_HEAD, [_site_row(site) for site in tier.sites], left=2),
            f"<h3>Incidents: {escape(tier.tier)}</h3>",
            _incidents(report, tier),
        ]
    parts.append("<h2>Probes that failed most often (recurring causes first)</h2>")
    if report.recurring:
        rows = [
            [
                escape(r.cause.text()),
                str(r.incidents),
                str(r.sites),
                str(r.most_at_one_site),
                text.duration(r.minutes),
            ]
            for r in report.recurring[:RECURRING_SHOWN]
        ]
        head = ["probe (reason)", "incidents", "sites", "most at one site", "time down"]
        parts.append(_table(head, rows))
    else:
        parts.append("<p>No probe failed in an incident.</p>")
    parts.append(
        '<p class="meta">Minutes are whole minutes sampled on the minute; <em>unknown</em> is '
        "time the exporter was not scraped or its rollup was UNKNOWN, and counts in no ratio. "
        "An incident is a run of minutes CRITICAL outside maintenance. Time outside a site's "
        "service hours counts in nothing. Budget spent: time down / "
        "((1 - target) x time counted); over 100 % is a missed target.</p></body></html>"
    )
    return "\n".join(parts) + "\n"
