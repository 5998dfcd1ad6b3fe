"""The figures as text (printed) and as Markdown tables (for docs/fleet.md)."""

from __future__ import annotations

from typing import Any


def _f(value: Any, digits: int = 1) -> str:
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def compression_lines(figures: dict[str, Any]) -> list[str]:
    t = figures["timing"]
    c = t["compression"]
    return [
        f"TIME-COMPRESSED RUN: x{c:g}. Probe interval {t['probe_interval']:g} s (60 s), drupal "
        f"{t['drupal_interval']:g} s (5 m, drush burns {t['drush_cpu_seconds']:.3f} s CPU, 1 s), "
        f"scrape {t['scrape_interval']:g} s (30 s), rule evaluation {t['evaluation_interval']:g} s "
        f"(30 s), report snapshots {t['snapshot_interval']:g} s (5 m), alert resend "
        f"{t['resend_delay']:g} s (1 m); every `for:`, rule group interval and Alertmanager "
        f"group_wait/group_interval/repeat_interval of the shipped alerts/ divided by {c:g} in a "
        "copy; expressions, grouping, routes and inhibitions as shipped. Night: Alertmanager "
        "reloaded with the office-hours interval moved to another weekday.",
    ]


def text_lines(figures: dict[str, Any]) -> list[str]:
    run, cost, prom, dash = (
        figures["run"],
        figures["cost"],
        figures["prometheus"],
        figures["dashboards"],
    )
    lines = [
        f"site-status fleet: {run['sites']} sites (+{run['exporters_started'] - run['sites']} "
        f"calibration exporters), {run['cpus']} CPUs",
        *compression_lines(figures),
        f"fleet: {figures['fleet']}",
        f"errors: {run['errors'] or 'none'}",
        f"exporters restarted at start-up (port taken meanwhile): "
        f"{run['restarted_at_start'] or 'none'}",
        f"setup {run['setup_seconds']:.0f} s, scripted day {run['day_seconds']:.0f} s; machine "
        f"{cost['machine_cpus_busy']:.2f} CPUs busy over the window, load {cost['load_average']}",
        "",
        "cost per site (CPU s per hour of the run, as run at the compressed intervals; PSS, RSS)",
    ]
    for profile, rows in cost["per_profile"].items():
        c, d = rows["cpu_s_per_hour"], rows["drush_cpu_s_per_hour"]
        p, r = rows["pss_mib"], rows["rss_mib"]
        lines.append(
            f"  {profile:8} n={c['n']:3}  CPU median {c['median']:.1f} s/h (p90 {c['p90']:.1f}, "
            f"max {c['max']:.1f}; drush {d['median']:.1f})  PSS median {p['median']:.1f} MiB "
            f"(max {rows['pss_max_mib']['max']:.1f})  RSS median {r['median']:.1f} MiB"
        )
    lines.append("  at production intervals (calibration exporters, same run):")
    for name, row in cost["calibration"].items():
        lines.append(
            f"    {name:8} {row['profile']:8} CPU {row['cpu_s_per_hour']:.1f} s/h (drush "
            f"{row['drush_cpu_s_per_hour']:.1f})  PSS {row['pss_mib']:.1f} MiB  "
            f"RSS {row['rss_mib']:.1f} MiB"
        )
    for name, parts in cost.get("pss_breakdown", {}).items():
        lines.append(
            f"  PSS of {name} by mapping: "
            + ", ".join(f"{k} {v:.1f} MiB" for k, v in sorted(parts.items(), key=lambda p: -p[1]))
        )
    comparison = cost["comparison"]
    lines += [
        f"  blackbox_exporter, the same HTTP endpoints at the same interval: "
        f"{comparison['blackbox_cpu_s_per_site_hour']:.2f} CPU s per site-hour, "
        f"{comparison['blackbox_cpu_ms_per_probe']:.2f} ms per probe "
        f"({comparison['blackbox_probes']:.0f} probes); site-status: "
        f"{comparison['exporter_own_cpu_ms_per_probe_run']:.2f} ms own CPU per probe run "
        f"({comparison['fleet_probe_runs']:.0f} runs, {comparison['fleet_http_probe_runs']:.0f} "
        "http)",
        "  others: "
        + ", ".join(f"{k} {v['cpus']:.3f} CPUs" for k, v in cost["others"].items())
        + f"; Prometheus RSS {cost['prometheus_rss_mib']:.0f} MiB",
        "",
        f"Prometheus: {prom['series_total']} series in the head, {prom['series_fleet']} of the "
        f"fleet, per site median {prom['series_per_site']['median']:.0f} (max "
        f"{prom['series_per_site']['max']:.0f}); {prom['samples_per_second']:.0f} samples/s; "
        f"{prom['rule_groups']} rule groups, {prom['rules']} rules loaded",
        f"  labels with more values than targets: {prom['unbounded_labels'] or 'none'}; labels "
        f"whose value count grew during the day: {prom['labels_that_grew'] or 'none'}",
        "",
        f"dashboard queries ({len(dash['queries'])}): slowest p50 {dash['slowest_p50_ms']:.1f} ms,"
        f" slowest max {dash['slowest_max_ms']:.1f} ms",
    ]
    for row in sorted(dash["queries"], key=lambda r: -r["p50_ms"])[:8]:
        lines.append(
            f"  {row['p50_ms']:7.1f} ms p50 {row['max_ms']:7.1f} ms max  {row['dashboard']}: "
            f"{row['panel']} ({row['kind']})"
        )
    lines += ["", "incidents (pages = firing notifications to the pager)"]
    for incident in figures["incidents"]:
        detection = "; ".join(
            f"{tier} {v['n']} paged, median {v['median']:.1f} s, max {v['max']:.1f} s"
            for tier, v in incident["detection"].items()
        )
        not_paged = ", ".join(f"{k} {v}" for k, v in incident["not_paged"].items())
        lines.append(
            f"  {incident['clock']} {incident['title']}: {incident['pages']} pages "
            f"({incident['alerts_paged']} alerts), {incident['pages_resolved']} resolved; chat "
            f"{incident['chat']} + {incident['chat_resolved']} resolved; expected: "
            f"{incident['expect']}"
        )
        if detection:
            lines.append(f"      detection: {detection}")
        if not_paged:
            lines.append(f"      not paged: {not_paged}")
    lines.append(f"  forbidden pages: {figures['forbidden_pages']}")
    lines.append(
        "  notifications about nothing a scene did: "
        f"{figures['unattributed_notifications'] or 'none'}"
    )
    why = figures["why"]
    lines += [
        "",
        f"why: {why['named_in_loki']} of {why['non_ok_probes']} non-OK probes at the end named "
        f"with their status in the Loki stand-in, {why['same_summary_in_loki']} with the very "
        f"summary /status shows now (the others' summary carries a live value: "
        f"{why['summary_moved_on_kinds'] or 'none'}); {why['reports_in_loki']} reports stored",
    ]
    for row in why["missing"][:5]:
        lines.append(f"  missing: {row}")
    lines += ["", "targets"]
    for row in figures["targets"]:
        lines.append(f"  {'PASS' if row['passed'] else 'FAIL'}  {row['target']}: {row['measured']}")
    return lines


def markdown(figures: dict[str, Any]) -> str:
    """The figure tables of docs/fleet.md."""
    cost, prom, dash = figures["cost"], figures["prometheus"], figures["dashboards"]
    out = ["### Targets", "", "| target | result | measured |", "|---|---|---|"]
    for row in figures["targets"]:
        verdict = "PASS" if row["passed"] else "FAIL"
        out.append(f"| {row['target']} | {verdict} | {row['measured']} |")
    out += [
        "",
        "### Cost per site",
        "",
        "| profile | sites | CPU s/h median (p90, max) | of it drush | PSS MiB median (max) | "
        "RSS MiB median |",
        "|---|---|---|---|---|---|",
    ]
    for profile, rows in cost["per_profile"].items():
        c, d, p, r = (
            rows["cpu_s_per_hour"],
            rows["drush_cpu_s_per_hour"],
            rows["pss_mib"],
            rows["rss_mib"],
        )
        out.append(
            f"| {profile} (compressed x{figures['timing']['compression']:g}) | {c['n']} | "
            f"{c['median']:.1f} ({c['p90']:.1f}, {c['max']:.1f}) | {d['median']:.1f} | "
            f"{p['median']:.1f} ({rows['pss_max_mib']['max']:.1f}) | {r['median']:.1f} |"
        )
    for name, row in cost["calibration"].items():
        out.append(
            f"| {row['profile']} (production intervals, `{name}`) | 1 | "
            f"{row['cpu_s_per_hour']:.1f} | {row['drush_cpu_s_per_hour']:.1f} | "
            f"{row['pss_mib']:.1f} | {row['rss_mib']:.1f} |"
        )
    comparison = cost["comparison"]
    out += [
        "",
        "blackbox_exporter probing the same HTTP endpoints "
        f"({comparison['http_endpoints_per_site']:.2f} per site) at the same interval "
        f"({comparison['blackbox_probes']:.0f} probes): "
        f"{comparison['blackbox_cpu_s_per_site_hour']:.2f} CPU s per site-hour as run, "
        f"{comparison['blackbox_cpu_ms_per_probe']:.2f} ms per probe, so "
        f"{comparison['blackbox_production_cpu_s_per_site_hour']:.2f} CPU s per site-hour at "
        "production intervals. site-status: "
        f"{comparison['exporter_own_cpu_ms_per_probe_run']:.2f} ms of its own CPU per probe run "
        "(all kinds; drush not included).",
        "",
        *[
            f"PSS of `{name}` by mapping: "
            + ", ".join(f"{k} {v:.1f} MiB" for k, v in sorted(parts.items(), key=lambda p: -p[1]))
            + "."
            for name, parts in cost.get("pss_breakdown", {}).items()
        ],
        "",
        "| program | CPUs over the window |",
        "|---|---|",
    ]
    for name, row in cost["others"].items():
        out.append(f"| {name} | {row['cpus']:.3f} |")
    out += [
        "",
        "### Prometheus",
        "",
        f"- series in the head: {prom['series_total']}; of the fleet's job: {prom['series_fleet']}"
        f"; per site median {prom['series_per_site']['median']:.0f}, max "
        f"{prom['series_per_site']['max']:.0f}",
        f"- samples appended per second: {prom['samples_per_second']:.0f}",
        f"- labels with more values than there are targets: {prom['unbounded_labels'] or 'none'}"
        f"; labels whose value count grew during the day: {prom['labels_that_grew'] or 'none'}",
        "",
        "| label | values after warm-up | values at the end |",
        "|---|---|---|",
    ]
    for row in prom["labels"]:
        out.append(f"| `{row['label']}` | {row['values_at_start']} | {row['values_at_end']} |")
    out += [
        "",
        "### Dashboard queries",
        "",
        "| dashboard | panel | kind | p50 ms | max ms | runs |",
        "|---|---|---|---|---|---|",
    ]
    for row in sorted(dash["queries"], key=lambda r: -r["p50_ms"]):
        out.append(
            f"| {row['dashboard']} | {row['panel']} | {row['kind']} | {row['p50_ms']:.1f} | "
            f"{row['max_ms']:.1f} | {row['runs']} |"
        )
    out += [
        "",
        "### Incidents",
        "",
        "| clock | scene | sites | pages | resolved | chat (+resolved) | warnings | "
        "detection (wall s) | expected |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for i in figures["incidents"]:
        c = figures["timing"]["compression"]
        detection = "; ".join(
            f"{tier}: {v['n']} paged, median {v['median']:.1f} s, max {v['max']:.1f} s "
            f"(x{c:g}: {v['max'] * c / 60:.1f} min)"
            for tier, v in i["detection"].items()
        )
        if i["not_paged"]:
            detection += " (not paged: " + ", ".join(f"{k} {v}" for k, v in i["not_paged"].items())
            detection += ")"
        out.append(
            f"| {i['clock']} | {i['title']} | {i['sites']} | {i['pages']} | {i['pages_resolved']}"
            f" | {i['chat']} (+{i['chat_resolved']}) | {i['warnings']} | {detection or '-'} "
            f"| {i['expect']} |"
        )
    why = figures["why"]
    out += [
        "",
        f"Forbidden pages: {figures['forbidden_pages']}. Notifications about nothing a scene did "
        f"(by receiver and status): {figures['unattributed_notifications'] or 'none'}.",
        "",
        f"Why: {why['named_in_loki']} of {why['non_ok_probes']} non-OK probes at the end are named"
        f" with their status in a report in the Loki stand-in, {why['same_summary_in_loki']} with"
        " the very summary `/status` shows at the end (the others' summary carries a live value "
        f"that moved on since the last report: {why['summary_moved_on_kinds'] or 'none'}); "
        f"{why['reports_in_loki']} reports stored. Examples:",
        "",
        "| site | probe | status | summary |",
        "|---|---|---|---|",
    ]
    for row in why["examples"]:
        summary = row["summary"].replace("|", "\\|")
        out.append(f"| {row['site']} | {row['probe']} | {row['status']} | {summary} |")
    return "\n".join(out) + "\n"
