"""The report as JSON (everything, numbers as numbers) and CSV (one row per site)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from exporter.service_report.figures import Incident, SiteFigures
from exporter.service_report.model import Report
from exporter.service_report.period import Period


def _iso(period: Period, epoch: float) -> str:
    return period.local(epoch).isoformat()


def incident_document(period: Period, incident: Incident) -> dict[str, Any]:
    return {
        "start": _iso(period, incident.start),
        "end": _iso(period, incident.end),
        "minutes": incident.minutes,
        "began_before_period": incident.began_before,
        "ongoing_at_end": incident.ongoing,
        "probes": [{"probe": c.probe, "reason": c.reason, "part": c.part} for c in incident.causes],
    }


def site_document(period: Period, site: SiteFigures) -> dict[str, Any]:
    m = site.minutes
    longest = site.longest
    return {
        "labels": site.labels,
        "availability": site.availability,
        "reliability": site.reliability,
        "targets": site.targets,
        "met": site.met,
        "budget_spent": site.budget_spent,
        "minutes": {
            "total": m.total,
            "known": m.known,
            "up": m.up,
            "down": m.down,
            "down_outside_maintenance": m.down_outside_maintenance,
            "maintenance": m.maintenance,
            "unknown": m.unknown,
            "outside_service_hours": m.outside_service,
        },
        "incidents": [incident_document(period, i) for i in site.incidents],
        "longest_incident": incident_document(period, longest) if longest else None,
    }


def document(report: Report) -> dict[str, Any]:
    period = report.period
    return {
        "period": {
            "label": period.label,
            "timezone": period.zone.key,
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
            "minutes": period.minutes,
            "planned_end": period.planned_end.isoformat() if period.planned_end else None,
        },
        "source": report.source,
        "match": report.match,
        "generated": report.generated.isoformat(),
        "notes": report.notes,
        "tiers": [
            {
                "tier": tier.tier,
                "sites": len(tier.sites),
                "met": tier.met,
                "missed": tier.missed,
                "availability": tier.availability,
                "reliability": tier.reliability,
                "minutes_down": tier.total("down"),
                "incidents": tier.incidents,
                "daily_minutes_down": {d.isoformat(): n for d, n in tier.daily_down.items()},
            }
            for tier in report.tiers
        ],
        "sites": [site_document(period, site) for site in report.sites],
        "recurring": [
            {
                "probe": r.cause.probe,
                "reason": r.cause.reason,
                "part": r.cause.part,
                "incidents": r.incidents,
                "sites": r.sites,
                "most_at_one_site": r.most_at_one_site,
                "minutes": r.minutes,
            }
            for r in report.recurring
        ],
    }


def render_json(report: Report) -> str:
    return json.dumps(document(report), indent=1) + "\n"


CSV_HEAD = [
    "cluster",
    "tier",
    "site",
    "environment",
    "profile",
    "availability",
    "availability_target",
    "reliability",
    "reliability_target",
    "met",
    "availability_budget_spent",
    "reliability_budget_spent",
    "minutes_total",
    "minutes_known",
    "minutes_down",
    "minutes_maintenance",
    "minutes_unknown",
    "incidents",
    "longest_incident_minutes",
    "longest_incident_start",
]


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value


def render_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEAD)
    for site in report.sites:
        m, spent, longest = site.minutes, site.budget_spent, site.longest
        labels = site.labels
        row = [
            labels.get("cluster", ""),
            labels.get("tier", ""),
            site.name,
            labels.get("environment", ""),
            labels.get("profile", ""),
            site.availability,
            site.targets.get("availability"),
            site.reliability,
            site.targets.get("reliability"),
            site.met,
            spent["availability"],
            spent["reliability"],
            m.total,
            m.known,
            m.down,
            m.maintenance,
            m.unknown,
            len(site.incidents),
            longest.minutes if longest else None,
            _iso(report.period, longest.start) if longest else None,
        ]
        writer.writerow([_cell(v) for v in row])
    return out.getvalue()
