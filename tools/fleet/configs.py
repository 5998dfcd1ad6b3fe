"""The files the run writes: each site's config, nginx, Prometheus (file_sd), blackbox, drush.

Health endpoints are served by one nginx; a failure is a marker file under ``state/down/``
(named after the site, or after the shared dependency), so the driver breaks and repairs sites by
creating and removing files while nginx keeps answering from its config.
"""

from __future__ import annotations

import datetime
import json
import os
import sys
from pathlib import Path
from typing import Any

from tools.fleet.plan import SHARED_DEPENDENCY, Site, Timing, node_of

REPO = Path(__file__).resolve().parents[2]
DRUSH_STANDIN = REPO / "tests" / "support" / "drush"
DRUSH_FIXTURES = REPO / "tests" / "probes" / "fixtures" / "drush"
ENVIRONMENT = "prod"
REQUIREMENTS_ROWS = 50
#: A Drupal bootstrap that cannot reach its database (the message of Drupal's PDO connection).
DB_DOWN_STDERR = (
    "In Connection.php line 79:\n\n"
    f"  SQLSTATE[HY000] [2002] Connection refused (host {SHARED_DEPENDENCY}:3306)\n\n"
    "Drush command terminated abnormally.\n"
)


def duration(seconds: float) -> str:
    return f"{seconds:g}s"


# --- nginx ------------------------------------------------------------------------------------


def _health_json(status: str, component: str, output: str) -> str:
    check = {"status": status, "componentType": "component", "output": output}
    body = {"status": status, "checks": {component: [check]}}
    return json.dumps(body, separators=(",", ":"))


def _spring_json(status: str, component: str) -> str:
    body = {"status": status, "components": {component: {"status": status}}}
    return json.dumps(body, separators=(",", ":"))


def nginx_config(port: int, state: Path) -> str:
    """Drupal sites: health+json at ``/sites/NAME/healthz``, or behind the shared database at
    ``/deps/DEP/sites/NAME/healthz``; services: Spring actuator ``/sites/NAME/actuator/health``
    (or behind DEP) and ``/sites/NAME/ready`` (status code only)."""
    temp_paths = "".join(
        f"    {kind}_temp_path {kind}_temp;\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    app_down = _health_json("fail", "app:responding", "php-fpm: no live upstreams")
    db_down = _health_json("fail", "database:connection", "connection refused ($dep:3306)")
    app_up = _health_json("pass", "database:connection", "connected")
    spring_app_down = _spring_json("DOWN", "app")
    spring_db_down = _spring_json("DOWN", "db")
    spring_up = _spring_json("UP", "db")

    def location(pattern: str, media: str, up: str, down: str, dep_down: str | None) -> str:
        dep = (
            f"            if (-f $document_root/down/$dep) {{ return 503 '{dep_down}'; }}\n"
            if dep_down
            else ""
        )
        return (
            f"        location ~ {pattern} {{\n"
            f"            default_type {media};\n"
            f"            if (-f $document_root/down/$site) {{ return 503 '{down}'; }}\n"
            f"{dep}"
            f"            return 200 '{up}';\n"
            "        }\n"
        )

    site = "(?<site>[^/]+)"
    dep = "/deps/(?<dep>[^/]+)"
    health = "application/health+json"
    spring = "application/vnd.spring-boot.actuator.v3+json"
    return (
        "daemon off;\n"
        "worker_processes 1;\n"
        "pid nginx.pid;\n"
        "error_log stderr;\n"
        "events { worker_connections 4096; }\n"
        "http {\n"
        "    access_log off;\n"
        "    keepalive_requests 100000;\n"
        f"{temp_paths}"
        "    server {\n"
        f"        listen 127.0.0.1:{port} backlog=4096;\n"
        f"        root {state};\n"
        + location(f"^{dep}/sites/{site}/healthz$", health, app_up, app_down, db_down)
        + location(f"^/sites/{site}/healthz$", health, app_up, app_down, None)
        + location(
            f"^{dep}/sites/{site}/actuator/health$",
            spring,
            spring_up,
            spring_app_down,
            spring_db_down,
        )
        + location(f"^/sites/{site}/actuator/health$", spring, spring_up, spring_app_down, None)
        + location(f"^/sites/{site}/ready$", "text/plain", "ok", "not ready", None)
        + "    }\n"
        "}\n"
    )


def healthz_url(nginx_port: int, site: Site) -> str:
    dep = f"/deps/{SHARED_DEPENDENCY}" if site.shared else ""
    path = "healthz" if site.profile == "drupal" else "actuator/health"
    return f"http://127.0.0.1:{nginx_port}{dep}/sites/{site.name}/{path}"


# --- drush ------------------------------------------------------------------------------------


def requirements_report(warning: bool) -> str:
    """A Drush 13 status report of ~50 requirements (~20 KB), every one OK or info (or with a
    contrib-updates warning), after PHP notices, as real sites print them."""
    fixture: dict[str, Any] = json.loads((DRUSH_FIXTURES / "drush13-requirements.json").read_text())
    report = {k: v for k, v in fixture.items() if int(v["sid"]) <= 0}
    if warning:
        report["update_contrib"] = fixture["update_contrib"]
    for n in range(REQUIREMENTS_ROWS - len(report)):
        report[f"custom_module_{n}"] = {
            "title": f"Custom integration {n}",
            "value": "Configured (endpoint https://api.example/v2, 3 queues)",
            "description": "The integration's queues are processed by cron. Last processed "
            f"{n + 2} minutes ago; 0 items waiting.",
            "sid": 0,
            "severity": "OK",
        }
    notice = (
        "PHP Deprecated:  Return type of Drupal\\legacy\\Iterator::current() should either be "
        "compatible with Iterator::current(): mixed in /var/www/html/web/modules/custom/legacy/"
        "src/Iterator.php on line 27\n"
    )
    return notice * 2 + json.dumps(report, indent=4) + "\n"


def drush_wrapper(path: Path) -> Path:
    """``drush`` for the fleet: the repo's stand-in, failing like a bootstrap without database
    while the file ``$FLEET_DB_DOWN`` exists."""
    path.write_text(
        "#!/bin/sh\n"
        '[ -e "$FLEET_DB_DOWN" ] && export DRUSH_STANDIN_MODE=fail\n'
        # A contrib release: the site's status report lists update_contrib as a warning.
        '[ -e "$FLEET_RELEASE" ] && export DRUSH_STANDIN_REQUIREMENTS="$FLEET_RELEASE_REPORT"\n'
        f'exec {sys.executable} {DRUSH_STANDIN} "$@"\n'
    )
    path.chmod(0o755)
    return path


# --- a site -----------------------------------------------------------------------------------


def site_document(
    site: Site,
    *,
    timing: Timing,
    workdir: Path,
    nginx_port: int,
    loki_url: str,
    drush: Path,
    maintenance: list[tuple[float, float]],
) -> dict[str, Any]:
    directory = workdir / "sites" / site.name
    cron_stamp = directory / "cron-last-run"
    probe_timeout = min(5.0, timing.probe_interval)
    probes: list[dict[str, Any]] = [
        {
            "name": "healthz",
            "kind": "http",
            "url": healthz_url(nginx_port, site),
            "timeout": duration(probe_timeout),
        },
        {"name": "cron", "kind": "file", "path": str(cron_stamp), "max_age": {"warning": "2h"}},
        {
            "name": "data-disk",
            "kind": "disk",
            "path": str(directory),
            "used_percent": {"warning": 85, "critical": 95},
        },
        # The benchmark node is oversubscribed on purpose: the load limits suit a busy node.
        {"name": "load", "kind": "load", "critical": False, "load5": {"warning": 8}},
        {"name": "root-mount", "kind": "mount", "mountpoints": ["/"], "expect_writable": False},
    ]
    if site.profile == "drupal":
        variant = "warning" if site.drupal_warning else "ok"
        requirements = workdir / f"requirements-{variant}.json"
        env = {
            "DRUSH_STANDIN_REQUIREMENTS": str(requirements),
            "DRUSH_STANDIN_STATUS": str(DRUSH_FIXTURES / "status.json"),
            "DRUSH_STANDIN_STDERR": str(workdir / "db-down.stderr"),
            "DRUSH_STANDIN_CPU_SECONDS": f"{timing.drush_cpu_seconds:.4f}",
        }
        if site.shared:
            env["FLEET_DB_DOWN"] = str(workdir / "state" / "down" / SHARED_DEPENDENCY)
        env["FLEET_RELEASE"] = str(workdir / "state" / "down" / release_marker(site.name))
        env["FLEET_RELEASE_REPORT"] = str(workdir / "requirements-warning.json")
        probes.append(
            {
                "name": "drupal",
                "kind": "drupal",
                "drush": [str(drush)],
                "root": str(directory),
                "interval": duration(timing.drupal_interval),
                "timeout": duration(min(timing.drupal_interval, 30.0)),
                "env": env,
            }
        )
    else:
        probes.append(
            {
                "name": "ready",
                "kind": "http",
                "url": f"http://127.0.0.1:{nginx_port}/sites/{site.name}/ready",
                "format": "status-code",
                "timeout": duration(probe_timeout),
            }
        )
    windows = [
        {
            "start": iso(start),
            "end": iso(end),
            "reason": "platform upgrade (fleet simulation)",
        }
        for start, end in maintenance
    ]
    identity: dict[str, Any] = {
        "name": site.name,
        "environment": ENVIRONMENT,
        "tier": site.tier,
        "profile": site.profile,
    }
    if windows:
        identity["maintenance"] = windows
    return {
        "site": identity,
        "exporter": {"node": node_of(site)},
        "reports": {
            "snapshot_interval": duration(timing.snapshot_interval),
            "loki": {
                "url": loki_url,
                "batch_max_wait": "1s",
                "spool": {"directory": str(directory / "loki-spool")},
            },
        },
        "defaults": {
            "interval": duration(timing.probe_interval),
            "timeout": duration(probe_timeout),
        },
        "probes": probes,
    }


def release_marker(site: str) -> str:
    """The marker file (under ``state/down/``) that makes ``site``'s drush list the release."""
    return f"release-{site}"


def iso(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).isoformat()


def write_site(document: dict[str, Any], workdir: Path, name: str) -> Path:
    directory = workdir / "sites" / name
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "cron-last-run").write_text("ok\n")
    path = directory / "site.yaml"
    path.write_text(json.dumps(document, indent=1) + "\n")
    return path


def write_shared_files(workdir: Path) -> None:
    # nginx's worker runs as an unprivileged user: it must reach the marker files.
    workdir.chmod(0o755)
    (workdir / "requirements-ok.json").write_text(requirements_report(warning=False))
    (workdir / "requirements-warning.json").write_text(requirements_report(warning=True))
    (workdir / "db-down.stderr").write_text(DB_DOWN_STDERR)
    (workdir / "state" / "down").mkdir(parents=True, exist_ok=True)


# --- Prometheus -------------------------------------------------------------------------------


def target_labels(site: Site) -> dict[str, str]:
    """The target labels a ServiceMonitor gives the scrape of a site's exporter Service:
    ``namespace`` (the site's), ``service``, ``endpoint``, ``pod``, ``container``. No ``site``
    label: the exporter's own ``site_status_site_info{site=...}`` carries it, and a target
    label of the same name would rename it to ``exported_site``."""
    return {
        "namespace": site.name,
        "service": "site-status",
        "endpoint": "metrics",
        "pod": f"site-status-{site.index:05x}-fleet",
        "container": "site-status",
    }


def site_workloads(site: Site) -> dict[str, dict[str, int]]:
    """The site's own workloads kube-state-metrics lists in its namespace, beside the
    exporter's Deployment: a Drupal site's web Deployment, a service's API Deployment and its
    cache StatefulSet (both kinds the retirement rule reads)."""
    if site.profile == "drupal":
        return {"deployments": {"drupal": 2}}
    return {"deployments": {"api": 2}, "statefulsets": {"cache": 1}}


#: The target labels kube-prometheus-stack's ServiceMonitor for kube-state-metrics gives (its
#: Service port ``http``, in the monitoring namespace). Its job is ``kube-state-metrics`` (the
#: ``app.kubernetes.io/name`` label, the chart's ``jobLabel``), and the chart scrapes it with
#: ``honorLabels: true`` (charts/kube-prometheus-stack/values.yaml, ``kube-state-metrics.
#: prometheus.monitor.http.honorLabels``, github.com/prometheus-community/helm-charts commit
#: cf408a290aec489277a94450bb3511432477a53a): the exposed ``namespace``, the object's, wins.
KUBE_STATE_METRICS_TARGET = {
    "namespace": "monitoring",
    "service": "kube-prometheus-stack-kube-state-metrics",
    "endpoint": "http",
    "pod": "kube-prometheus-stack-kube-state-metrics-7c9d5b8f6-q2x4z",
    "container": "kube-state-metrics",
}


def file_sd(entries: list[tuple[str, dict[str, str]]]) -> str:
    return json.dumps([{"targets": [address], "labels": labels} for address, labels in entries])


def write_file_sd(path: Path, entries: list[tuple[str, dict[str, str]]]) -> None:
    """Atomically, as Prometheus re-reads the file when it changes."""
    temporary = path.with_suffix(".tmp")
    temporary.write_text(file_sd(entries))
    os.replace(temporary, path)


def prometheus_config(
    timing: Timing,
    workdir: Path,
    rule_files: list[Path],
    alertmanager: str,
    blackbox: str,
    kube_state_metrics: str,
) -> dict[str, Any]:
    scrape = duration(timing.scrape_interval)
    timeout = duration(min(10.0, timing.scrape_interval))
    sd = workdir / "file_sd"
    return {
        "global": {
            "scrape_interval": scrape,
            "scrape_timeout": timeout,
            "evaluation_interval": duration(timing.evaluation_interval),
        },
        "rule_files": [str(path) for path in rule_files],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]},
        "scrape_configs": [
            {
                # prometheus-operator names the job after the Service: site-status.
                "job_name": "site-status",
                "file_sd_configs": [
                    {"files": [str(sd / "site-status.json")], "refresh_interval": "5s"}
                ],
            },
            {
                # The same healthz endpoints through blackbox_exporter, at the http probes'
                # interval, the usual relabelling (Probe CRD / blackbox README).
                "job_name": "blackbox",
                "scrape_interval": duration(timing.probe_interval),
                "scrape_timeout": duration(min(5.0, timing.probe_interval)),
                "metrics_path": "/probe",
                "params": {"module": ["http_2xx"]},
                "file_sd_configs": [
                    {"files": [str(sd / "blackbox.json")], "refresh_interval": "5s"}
                ],
                "relabel_configs": [
                    {"source_labels": ["__address__"], "target_label": "__param_target"},
                    {"source_labels": ["__param_target"], "target_label": "instance"},
                    {"target_label": "__address__", "replacement": blackbox},
                ],
            },
            {
                # The stand-in, as kube-prometheus-stack scrapes kube-state-metrics (above).
                "job_name": "kube-state-metrics",
                "honor_labels": True,
                "file_sd_configs": [
                    {"files": [str(sd / "kube-state-metrics.json")], "refresh_interval": "5s"}
                ],
            },
            {
                # Exporters at production intervals (not compressed): the cost per site-hour.
                "job_name": "site-status-calibration",
                "scrape_interval": "30s",
                "scrape_timeout": "10s",
                "file_sd_configs": [
                    {"files": [str(sd / "calibration.json")], "refresh_interval": "5s"}
                ],
            },
        ],
    }


BLACKBOX_CONFIG = "modules:\n  http_2xx:\n    prober: http\n    timeout: 5s\n"
