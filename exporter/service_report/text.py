"""How figures are written in every format but JSON (which keeps the numbers)."""

from __future__ import annotations

from exporter.service_report.figures import Incident, SiteFigures
from exporter.service_report.period import Period


def percent(ratio: float | None, digits: int = 3) -> str:
    return "no data" if ratio is None else f"{ratio * 100:.{digits}f} %"


def target(value: float | None) -> str:
    return "none" if value is None else f"{value * 100:g} %"


def spent(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.0f} %"


def met(site: SiteFigures) -> str:
    return {True: "met", False: "MISSED", None: "no target" if not site.targets else "no data"}[
        site.met
    ]


def duration(minutes: int) -> str:
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts = [f"{days} d"] if days else []
    parts += [f"{hours} h"] if hours else []
    parts += [f"{mins} min"] if mins or not parts else []
    return " ".join(parts)


def moment(period: Period, epoch: float) -> str:
    return f"{period.local(epoch):%Y-%m-%d %H:%M %Z}"


def incident_span(period: Period, incident: Incident) -> str:
    start = moment(period, incident.start)
    if incident.began_before:
        start = f"(before) {start}"
    end = "ongoing" if incident.ongoing else moment(period, incident.end)
    return f"{start} - {end}"


def causes(incident: Incident) -> str:
    return ", ".join(cause.text() for cause in incident.causes) or "(no probe series)"
