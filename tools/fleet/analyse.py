"""From the readings to the figures: cost, Prometheus, dashboards, detection, notifications, why."""

from __future__ import annotations

import datetime
import json
import re
import statistics
from dataclasses import asdict, dataclass, field
from typing import Any

from tools.fleet.plan import TIERS, Plan, Scene, retire_how
from tools.fleet.run import Readings

PAGER = "pager"
PSS_TARGET_MIB = 32.0
DASHBOARD_P50_TARGET_MS = 500.0
SHARED_PAGES_TARGET = 3
PROFILES = ("drupal", "service")
#: The tiers whose sites each scene should page (daytime is office hours; night is not).
PAGED_TIERS = {
    "lone": ("priprod", "flexprod"),
    "shared": ("priprod", "flexprod"),
    "maintenance": (),
    "flap": (),
    "retire": (),
    "dies": ("priprod", "flexprod"),
    "night": ("priprod",),
}


def spread(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0, "median": float("nan"), "p90": float("nan"), "max": float("nan")}
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    return {
        "n": len(values),
        "min": ordered[0],
        "median": statistics.median(ordered),
        "p90": p90,
        "max": ordered[-1],
    }


# --- cost ---------------------------------------------------------------------------------------


def cpu_per_hour(readings: Readings, name: str) -> tuple[float, float] | None:
    """(total, drush children) CPU seconds per hour of ``name`` over the window."""
    start, end = readings.cpu_start.get(name), readings.cpu_end.get(name)
    if start is None or end is None or end.at <= start.at:
        return None
    hours = (end.at - start.at) / 3600
    return (end.total - start.total) / hours, (end.children - start.children) / hours


def cost(readings: Readings) -> dict[str, Any]:
    plan = readings.plan
    window = readings.window[1] - readings.window[0]
    per_profile: dict[str, dict[str, list[float]]] = {}
    per_site: dict[str, dict[str, float]] = {}
    for site in plan.sites:
        if site.name == plan.cast.dies:
            continue
        figures = cpu_per_hour(readings, site.name)
        memories = readings.memory.get(site.name, [])
        if figures is None or not memories:
            continue
        last = memories[-1]
        pss_max = max(m.pss_mib for m in memories)
        row = {
            "cpu_s_per_hour": figures[0],
            "drush_cpu_s_per_hour": figures[1],
            "pss_mib": last.pss_mib,
            "pss_max_mib": pss_max,
            "rss_mib": last.rss_mib,
        }
        per_site[site.name] = row
        bucket = per_profile.setdefault(site.profile, {})
        for key, value in row.items():
            bucket.setdefault(key, []).append(value)
    calibration = {}
    for site in plan.calibration:
        figures = cpu_per_hour(readings, site.name)
        memories = readings.memory.get(site.name, [])
        if figures is not None and memories:
            calibration[site.name] = {
                "profile": site.profile,
                "cpu_s_per_hour": figures[0],
                "drush_cpu_s_per_hour": figures[1],
                "pss_mib": memories[-1].pss_mib,
                "rss_mib": memories[-1].rss_mib,
            }
    others = {}
    for name in ("prometheus", "alertmanager", "blackbox_exporter", "nginx", "sinks"):
        figures = cpu_per_hour(readings, name)
        if figures is not None:
            others[name] = {"cpu_s_per_hour": figures[0], "cpus": figures[0] / 3600}
    fleet_sites = len(plan.sites)
    http_runs = readings.probe_runs.get("http", 0.0)
    blackbox = others.get("blackbox_exporter", {}).get("cpu_s_per_hour", float("nan"))
    blackbox_cpu_window = blackbox * window / 3600
    exporter_cpu_window = sum(
        (readings.cpu_end[n].own - readings.cpu_start[n].own)
        for n in per_site
        if n in readings.cpu_end and n in readings.cpu_start
    )
    all_runs = sum(readings.probe_runs.values())
    endpoints = sum(2 if s.profile == "service" else 1 for s in plan.sites) / fleet_sites
    ms_per_probe = 1000 * blackbox_cpu_window / max(1, readings.blackbox_probes)
    comparison = {
        "http_endpoints_per_site": endpoints,
        # The same probes at the production interval (1 per endpoint per minute).
        "blackbox_production_cpu_s_per_site_hour": ms_per_probe / 1000 * endpoints * 60,
        "blackbox_cpu_s_per_site_hour": blackbox / fleet_sites,
        "blackbox_probes": readings.blackbox_probes,
        "blackbox_cpu_ms_per_probe": ms_per_probe,
        "fleet_http_probe_runs": http_runs,
        "fleet_probe_runs": all_runs,
        "exporter_own_cpu_ms_per_probe_run": 1000 * exporter_cpu_window / max(1.0, all_runs),
    }
    busy = readings.machine_busy[1] - readings.machine_busy[0]
    return {
        "window_seconds": window,
        "per_profile": {p: {k: spread(v) for k, v in d.items()} for p, d in per_profile.items()},
        "per_site": per_site,
        "calibration": calibration,
        "others": others,
        "comparison": comparison,
        "machine_cpus_busy": busy / window if window else float("nan"),
        "load_average": readings.load_average,
        "prometheus_rss_mib": readings.prometheus_rss_mib,
        "pss_breakdown": getattr(readings, "pss_breakdown", {}),
    }


# --- Prometheus ---------------------------------------------------------------------------------


def prometheus(readings: Readings) -> dict[str, Any]:
    window = readings.window[1] - readings.window[0]
    samples = readings.samples_appended[1] - readings.samples_appended[0]
    head = readings.tsdb_status.get("headStats", {})
    targets = len(readings.plan.sites)
    labels: list[dict[str, Any]] = []
    for name in sorted(set(readings.cardinality_start) | set(readings.cardinality_end)):
        before = readings.cardinality_start.get(name, 0)
        after = readings.cardinality_end.get(name, 0)
        labels.append({"label": name, "values_at_start": before, "values_at_end": after})
    # A label is bounded when it has about one value per scrape target, or a small fixed set
    # of values (probe names, kinds, statuses, requirement ids), and did not grow while the
    # scripted day changed what the sites report.
    bound = 1.1 * max(targets, 100)
    unbounded = [row["label"] for row in labels if row["values_at_end"] > bound]
    grew = [
        row["label"]
        for row in labels
        if row["values_at_end"] > row["values_at_start"]
        and row["label"] not in ("namespace", "instance", "pod")
    ]
    per_site = list(readings.series_per_site.values())
    return {
        "series_total": head.get("numSeries"),
        "series_fleet": sum(per_site),
        "series_per_site": spread([float(v) for v in per_site]),
        "samples_per_second": samples / window if window else float("nan"),
        "labels": labels,
        "unbounded_labels": unbounded,
        "labels_that_grew": grew,
        "top_label_value_counts": readings.tsdb_status.get("labelValueCountByLabelName", []),
        "top_series_by_metric": readings.tsdb_status.get("seriesCountByMetricName", []),
        "rule_groups": readings.rule_groups,
        "rules": readings.rules_loaded,
    }


# --- dashboards ---------------------------------------------------------------------------------


def dashboards(readings: Readings) -> dict[str, Any]:
    rows: list[dict[str, Any]] = [
        {
            "dashboard": t.dashboard.removesuffix(".json"),
            "panel": t.panel,
            "kind": t.kind,
            "p50_ms": t.p50_ms,
            "max_ms": t.max_ms,
            "runs": len(t.latencies_ms),
            "series": t.series,
        }
        for t in readings.dashboard
    ]
    p50s = [r["p50_ms"] for r in rows]
    return {
        "queries": rows,
        "slowest_p50_ms": max(p50s) if p50s else float("nan"),
        "slowest_max_ms": max((r["max_ms"] for r in rows), default=float("nan")),
        "over_target": [r["panel"] for r in rows if r["p50_ms"] >= DASHBOARD_P50_TARGET_MS],
    }


# --- alerting -----------------------------------------------------------------------------------


@dataclass
class Sent:
    receiver: str
    at: float
    status: str  # the notification's: firing (at least one alert firing) or resolved
    alerts: list[dict[str, Any]]

    def firing(self) -> list[dict[str, Any]]:
        return [a for a in self.alerts if a.get("status") == "firing"]


def sent(readings: Readings) -> list[Sent]:
    return [
        Sent(n["receiver"], n["at"], n["body"].get("status", ""), n["body"].get("alerts", []))
        for n in readings.notifications
    ]


def mentions(alert: dict[str, Any], site: str) -> bool:
    """The alert is about ``site``: its label, or (a fleet-level alert) its text names it."""
    if alert.get("labels", {}).get("site") == site:
        return True
    text = json.dumps({"labels": alert.get("labels"), "annotations": alert.get("annotations")})
    return re.search(rf"(?<![\w-]){re.escape(site)}(?![\w-])", text) is not None


def labelled(alert: dict[str, Any], sites: set[str]) -> bool:
    return alert.get("labels", {}).get("site") in sites


def started(note: Sent, default: float) -> float:
    """When the notification's earliest alert started firing (its scene), epoch seconds."""
    times = []
    for alert in note.alerts:
        text = alert.get("startsAt", "")
        match = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)", text)
        if match:
            fraction = float(match[2] or 0)
            zone = "+00:00" if match[3] == "Z" else match[3]
            times.append(datetime.datetime.fromisoformat(match[1] + zone).timestamp() + fraction)
    return min(times) if times else default


def incident_alerts(note: Sent, members: set[str]) -> list[dict[str, Any]]:
    """The notification's alerts that are the scene's: critical ones about its sites, or
    fleet-level ones (no site). Warnings (a loaded node's SiteStatusLoadHigh on every site)
    are counted apart, in ``unattributed``."""
    critical = [a for a in note.alerts if a.get("labels", {}).get("severity") == "critical"]
    return [a for a in critical if any(mentions(a, s) for s in members)] or [
        a for a in critical if "site" not in a.get("labels", {})
    ]


def warning_alerts(note: Sent, members: set[str]) -> list[dict[str, Any]]:
    """The notification's firing warnings about ``members``, or about a cause many sites
    share (no site label; a node's load has a ``node`` label and is counted apart)."""
    out = []
    for alert in note.firing():
        labels = alert.get("labels", {})
        if labels.get("severity") != "warning" or "node" in labels:
            continue
        if labels.get("site") in members or "site" not in labels:
            out.append(alert)
    return out


#: Alerts whose summary lists each failing probe with its reason: ``...: probe: reason``.
PER_SITE_WHY = ("SiteStatusSiteCritical", "SiteStatusSiteDegraded", "SiteStatusSiteUnknown")


def reasons_named(readings: Readings) -> dict[str, Any]:
    """Does every firing notification say why? The rollup alerts name each failing probe with
    a reason (``frontpage: component database``), the fleet alert what its sites share."""
    checked, missing = 0, []
    for note in sent(readings):
        for alert in note.firing():
            name = alert.get("labels", {}).get("alertname", "")
            summary = alert.get("annotations", {}).get("summary", "")
            if name in PER_SITE_WHY:
                checked += 1
                listed = summary.split(": ", 1)[1] if ": " in summary else ""
                entries = [e for e in listed.split("; ") if e]
                if not entries or not all(re.fullmatch(r"\S+: \w.*", e) for e in entries):
                    missing.append(summary)
            elif name == "SiteStatusFleetCritical":
                checked += 1
                if not re.search(r"in common: \d+ \S", summary):
                    missing.append(summary)
    return {"checked": checked, "without_reason": missing}


def shared_pages(readings: Readings) -> dict[str, list[str]]:
    """The summaries of the pages of the shared-database scene, by alert name: the fleet alert
    (from 3 failing sites of a tier) or, in a fleet too small for one, the sites' own."""
    scene = readings.plan.day.scene("shared")
    start, end = scene_window(readings, scene)
    found: dict[str, set[str]] = {}
    for note in sent(readings):
        if note.receiver != PAGER or not start <= started(note, note.at) < end:
            continue
        for alert in incident_alerts(note, set(scene.sites)):
            name = alert.get("labels", {}).get("alertname", "?")
            found.setdefault(name, set()).add(alert.get("annotations", {}).get("summary", ""))
    return {name: sorted(summaries) for name, summaries in sorted(found.items())}


def per_node(readings: Readings) -> dict[str, int]:
    """Notifications of node-wide alerts, by alert name and node: each time one started firing
    (Alertmanager's repeats of an unchanged alert, every ``repeat_interval``, are not new)."""
    seen: dict[str, set[str]] = {}
    for note in sent(readings):
        for alert in note.firing():
            labels = alert.get("labels", {})
            if "node" in labels:
                key = f"{labels.get('alertname')} {labels['node']}"
                seen.setdefault(key, set()).add(alert.get("startsAt", ""))
    return {key: len(starts) for key, starts in sorted(seen.items())}


def unattributed(readings: Readings) -> dict[str, int]:
    """Notifications about nothing a scene did (e.g. the all-day WARNING sites), by receiver."""
    plan = readings.plan
    counts: dict[str, int] = {}
    for note in sent(readings):
        at = started(note, note.at)
        # Scenes of a compact day overlap: the notification is a scene's if any claims it.
        scenes = [
            sc
            for sc in plan.day.scenes
            if scene_window(readings, sc)[0] <= at < scene_window(readings, sc)[1]
        ]
        if not any(incident_alerts(note, set(sc.sites)) for sc in scenes):
            names = ",".join(sorted({a["labels"].get("alertname", "?") for a in note.alerts}))
            key = f"{note.receiver} {note.status} {names}"
            counts[key] = counts.get(key, 0) + 1
    return counts


def scene_window(readings: Readings, scene: Scene) -> tuple[float, float]:
    t0 = readings.started_at
    end = t0 + scene.end if scene is not readings.plan.day.scenes[-1] else readings.ended_at + 60
    return t0 + scene.start, end


@dataclass
class Incident:
    scene: str
    clock: str
    title: str
    sites: int
    expect: str
    pages: int = 0
    pages_resolved: int = 0
    chat: int = 0
    chat_resolved: int = 0
    alerts_paged: int = 0
    detection: dict[str, dict[str, float]] = field(default_factory=dict)
    not_paged: dict[str, int] = field(default_factory=dict)
    forbidden_pages: list[str] = field(default_factory=list)
    #: Firing notifications of warnings about its sites or about a cause (no site, no node).
    warnings: int = 0
    #: Those warnings by alert name and tier (or site).
    warnings_by_alert: dict[str, int] = field(default_factory=dict)


def incidents(readings: Readings) -> list[Incident]:
    plan = readings.plan
    notes = sent(readings)
    tiers = {s.name: s.tier for s in plan.sites}
    out = []
    for scene in plan.day.scenes:
        start, end = scene_window(readings, scene)
        inside = [n for n in notes if start <= started(n, n.at) < end]
        members = set(scene.sites)
        incident = Incident(scene.name, scene.clock, scene.title, len(members), scene.expect)
        for note in inside:
            warned = warning_alerts(note, members) if note.status == "firing" else []
            if warned:
                incident.warnings += 1
            for alert in warned:
                labels = alert.get("labels", {})
                key = f"{labels.get('alertname')} {labels.get('site', labels.get('tier'))}"
                incident.warnings_by_alert[key] = incident.warnings_by_alert.get(key, 0) + 1
            about = incident_alerts(note, members)
            if not about:
                continue
            if note.receiver == PAGER:
                if note.status == "firing":
                    incident.pages += 1
                    incident.alerts_paged += len([a for a in about if a["status"] == "firing"])
                else:
                    incident.pages_resolved += 1
            elif note.status == "firing":
                incident.chat += 1
            else:
                incident.chat_resolved += 1
        injected = readings.injected.get(scene.name)
        latencies: dict[str, list[float]] = {}
        missing: dict[str, int] = {}
        for site in scene.sites:
            if tiers[site] not in PAGED_TIERS.get(scene.name, ()):
                continue
            first = next(
                (
                    n.at
                    for n in notes
                    if n.receiver == PAGER
                    and injected is not None
                    and n.at >= injected
                    and any(mentions(a, site) for a in n.firing())
                ),
                None,
            )
            tier = tiers[site]
            if first is None or injected is None:
                missing[tier] = missing.get(tier, 0) + 1
            else:
                latencies.setdefault(tier, []).append(first - injected)
        incident.detection = {tier: spread(values) for tier, values in latencies.items()}
        incident.not_paged = missing
        out.append(incident)
    return out


def forbidden_pages(readings: Readings) -> dict[str, list[str]]:
    """Pages that must not happen: besteffort ever, maintenance sites inside their scene,
    the night's flexprod and besteffort sites at night."""
    plan = readings.plan
    notes = [n for n in sent(readings) if n.receiver == PAGER and n.status == "firing"]
    besteffort = {s.name for s in plan.sites if s.tier == "besteffort"}
    found: dict[str, list[str]] = {"besteffort": [], "maintenance": [], "flexprod at night": []}
    for note in notes:
        for alert in note.firing():
            if labelled(alert, besteffort) or alert.get("labels", {}).get("tier") == "besteffort":
                found["besteffort"].append(alert["labels"].get("site", "?"))
    scene = plan.day.scene("maintenance")
    start, end = scene_window(readings, scene)
    for note in notes:
        if start <= note.at < end:
            for alert in note.firing():
                if labelled(alert, set(scene.sites)):
                    found["maintenance"].append(alert["labels"]["site"])
    scene = plan.day.scene("night")
    start, end = scene_window(readings, scene)
    flexprod_night = {s for s in scene.sites if plan.site(s).tier == "flexprod"}
    for note in notes:
        if start <= note.at < end:
            for alert in note.firing():
                if labelled(alert, flexprod_night):
                    found["flexprod at night"].append(alert["labels"]["site"])
    return found


def retirement(readings: Readings) -> dict[str, Any]:
    """The retired sites: pages about them from their retirement to the end of the day (to any
    receiver: notifications), and fleet alerts that started in the scene or name them."""
    plan = readings.plan
    scene = plan.day.scene("retire")
    start, end = scene_window(readings, scene)
    retired = set(scene.sites)
    pages: list[str] = []
    fleet_alerts: list[str] = []
    notifications = 0
    for note in sent(readings):
        if note.at < start:
            continue
        about = [a for a in note.firing() if any(mentions(a, s) for s in retired)]
        notifications += bool(about)
        if note.receiver == PAGER:
            pages += [a["labels"].get("site", a["labels"].get("alertname", "?")) for a in about]
        for alert in note.firing():
            if alert.get("labels", {}).get("alertname") == "SiteStatusFleetCritical" and (
                start <= started(note, note.at) < end or alert in about
            ):
                fleet_alerts.append(alert.get("annotations", {}).get("summary", ""))
    return {
        "sites": sorted(retired),
        "how": retire_how(plan.cast),
        "pages": sorted(pages),
        "fleet_alerts": fleet_alerts,
        "notifications": notifications,
        "seen_after_s": readings.retired_seen_after,
    }


def notification_times(readings: Readings) -> list[dict[str, Any]]:
    t0 = readings.started_at
    return [
        {"receiver": n.receiver, "offset": n.at - t0, "status": n.status, "alerts": len(n.alerts)}
        for n in sent(readings)
    ]


# --- why ----------------------------------------------------------------------------------------


def why(readings: Readings) -> dict[str, Any]:
    """Every non-OK probe of the live exporters at the end, and whether a report in the Loki
    stand-in names it with its status and summary (a transition, or a snapshot's entry)."""
    named: set[tuple[str, str, str, str]] = set()
    for entry in readings.reports:
        report = entry["report"]
        site = report["site"]["name"]
        if report["report_type"] == "transition":
            named.add((site, report["probe"]["name"], report["status"], report["summary"]))
        else:
            for probe in report.get("probes", []):
                named.add((site, probe["name"], probe["status"], probe.get("summary", "")))
    with_status = {key[:3] for key in named}
    checked, missing, other_summary = [], [], []
    for site, probes in sorted(readings.statuses.items()):
        for probe in probes:
            if probe["status"] == "OK":
                continue
            key = (site, probe["name"], probe["status"], probe["summary"])
            row = {"site": site, "probe": probe["name"], "status": probe["status"]}
            row["summary"] = probe["summary"]
            checked.append(row)
            if key[:3] not in with_status:
                missing.append(row)
            elif key not in named:
                # Named with its status; the summary carries a live value (the load average)
                # that changed since the last report (reports come on transitions and snapshots).
                other_summary.append(row)
    return {
        "non_ok_probes": len(checked),
        "named_in_loki": len(checked) - len(missing),
        "same_summary_in_loki": len(checked) - len(missing) - len(other_summary),
        "summary_moved_on": other_summary[:5],
        "summary_moved_on_kinds": sorted({r["probe"] for r in other_summary}),
        "missing": missing,
        "examples": sorted(checked, key=lambda row: row["probe"] == "load")[:8],
        "reports_in_loki": len(readings.reports),
    }


# --- all ----------------------------------------------------------------------------------------


def targets(figures: dict[str, Any], plan: Plan) -> list[dict[str, Any]]:
    shared = next(i for i in figures["incidents"] if i["scene"] == "shared")
    lone = next(i for i in figures["incidents"] if i["scene"] == "lone")
    drupal = figures["cost"]["per_profile"].get("drupal", {})
    pss = drupal.get("pss_max_mib", {"max": float("nan")})["max"]
    pss_median = drupal.get("pss_mib", {"median": float("nan")})["median"]
    forbidden = figures["forbidden_pages"]
    rows = [
        (
            f"{len(plan.sites)} sites run on one machine and the run completes",
            figures["run"]["completed"]
            and not figures["run"]["unexpected_deaths"]
            and not figures["run"]["errors"],
            f"{figures['run']['exporters_started']} exporters started, "
            f"{len(figures['run']['unexpected_deaths'])} died unexpectedly, "
            f"{figures['cost']['machine_cpus_busy']:.2f} of {figures['run']['cpus']} CPUs busy",
        ),
        (
            f"shared incident ({shared['sites']} sites, "
            f"{100 * shared['sites'] / len(plan.sites):.0f} %): at most "
            f"{SHARED_PAGES_TARGET} pages",
            shared["pages"] <= SHARED_PAGES_TARGET,
            f"{shared['pages']} pages",
        ),
        (
            "one failing priprod site: paged",
            lone["pages"] >= 1 and not lone["not_paged"],
            f"{lone['pages']} page(s), detection "
            + ", ".join(f"{k} {v['max']:.1f} s" for k, v in lone["detection"].items()),
        ),
        (
            f"every dashboard query under {DASHBOARD_P50_TARGET_MS:g} ms p50",
            not figures["dashboards"]["over_target"],
            f"slowest p50 {figures['dashboards']['slowest_p50_ms']:.1f} ms, "
            f"slowest max {figures['dashboards']['slowest_max_ms']:.1f} ms",
        ),
        (
            f"PSS per Drupal site at most {PSS_TARGET_MIB:g} MiB",
            pss <= PSS_TARGET_MIB,
            f"median {pss_median:.1f} MiB, max {pss:.1f} MiB",
        ),
        (
            f"retiring {len(figures['retirement']['sites'])} sites: no page, no fleet alert",
            figures["retirement"]["seen_after_s"] is not None
            and not figures["retirement"]["pages"]
            and not figures["retirement"]["fleet_alerts"],
            f"{len(figures['retirement']['pages'])} pages, "
            f"{len(figures['retirement']['fleet_alerts'])} fleet alerts, "
            f"{figures['retirement']['notifications']} notifications about them; "
            "kube-state-metrics' change in the rule after "
            + (
                f"{figures['retirement']['seen_after_s']:.1f} s"
                if figures["retirement"]["seen_after_s"] is not None
                else "never"
            ),
        ),
        (
            "no page for maintenance, flexprod at night, besteffort",
            not any(forbidden.values()),
            ", ".join(f"{k}: {len(v)}" for k, v in forbidden.items()),
        ),
        (
            "every non-OK probe at the end named with its status and a summary in Loki",
            figures["why"]["named_in_loki"] == figures["why"]["non_ok_probes"],
            f"{figures['why']['named_in_loki']} of {figures['why']['non_ok_probes']}; "
            f"{figures['why']['same_summary_in_loki']} with the very summary /status shows now",
        ),
    ]
    return [{"target": t, "passed": bool(p), "measured": m} for t, p, m in rows]


def figures_of(readings: Readings, cpus: int) -> dict[str, Any]:
    plan = readings.plan
    figures: dict[str, Any] = {
        "run": {
            "sites": len(plan.sites),
            "exporters_started": len(plan.sites) + len(plan.calibration),
            "completed": readings.ended_at > 0,
            "unexpected_deaths": readings.unexpected_deaths,
            "restarted_at_start": readings.restarted_at_start,
            "errors": readings.errors,
            "cpus": cpus,
            "setup_seconds": readings.setup_seconds,
            "day_seconds": readings.ended_at - readings.started_at,
            "started_at": readings.started_at,
        },
        "timing": asdict(plan.timing),
        "day": {
            "warmup": plan.day.warmup,
            "failure": plan.day.failure,
            "settle": plan.day.settle,
            "flap_half_period": plan.day.flap_half_period,
            "scenes": [asdict(s) for s in plan.day.scenes],
        },
        "fleet": {
            "tiers": {t: sum(1 for s in plan.sites if s.tier == t) for t in TIERS},
            "profiles": {p: sum(1 for s in plan.sites if s.profile == p) for p in PROFILES},
            "shared": sum(1 for s in plan.sites if s.shared),
        },
        "cost": cost(readings),
        "prometheus": prometheus(readings),
        "dashboards": dashboards(readings),
        "incidents": [asdict(i) for i in incidents(readings)],
        "forbidden_pages": forbidden_pages(readings),
        "unattributed_notifications": unattributed(readings),
        "notifications": notification_times(readings),
        "why": why(readings),
        "reasons_named": reasons_named(readings),
        "shared_pages": shared_pages(readings),
        "retirement": retirement(readings),
        "per_node": per_node(readings),
        "rule_evaluation": readings.rule_evaluation,
        "timeline": {k: v for k, v in readings.timeline.items()},
    }
    figures["targets"] = targets(figures, plan)
    return figures
