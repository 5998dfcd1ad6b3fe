"""A synthetic fleet in a real Prometheus: ``promtool tsdb create-blocks-from openmetrics`` of
many sites' series (names and labels as exporter/web/metrics.py publishes them and the
dashboards read them), then Prometheus started on the blocks."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

from tests.support.monitoring import Prometheus, running_prometheus

#: Per series family: its sample type, and the label sets of one exporter's series (after job
#: and instance). Names and labels as the panels read them (exporter/web/metrics.py).
PROBES = (("healthz", "http"), ("drupal", "drupal"), ("disk", "filesystem"), ("load", "load"))
FAMILIES: dict[str, tuple[str, list[dict[str, str]]]] = {
    "site_status_site_status": ("gauge", [{}]),
    "site_status_maintenance": ("gauge", [{}]),
    "site_status_probe_status": ("gauge", [{"probe": p, "kind": k} for p, k in PROBES]),
    "site_status_probe_runs": (
        "counter",
        [{"kind": k, "status": s} for _, k in PROBES for s in ("ok", "critical")],
    ),
    "site_status_drupal_requirement_severity": (
        "gauge",
        [{"probe": "drupal", "requirement": r} for r in ("cron", "update_status")],
    ),
    "site_status_drupal_info": (
        "gauge",
        [{"probe": "drupal", "drupal_version": "10.3.1", "php_version": "8.3.9"}],
    ),
    "site_status_disk_available_bytes": ("gauge", [{"probe": "disk", "mountpoint": "/"}]),
    "site_status_disk_size_bytes": ("gauge", [{"probe": "disk", "mountpoint": "/"}]),
    "site_status_disk_inodes_free": ("gauge", [{"probe": "disk", "mountpoint": "/"}]),
    "site_status_disk_inodes": ("gauge", [{"probe": "disk", "mountpoint": "/"}]),
    "site_status_mount_status": ("gauge", [{"probe": "disk", "mountpoint": "/srv"}]),
    "site_status_http_duration_seconds": (
        "gauge",
        [{"probe": "healthz", "phase": p} for p in ("connect", "tls", "wait", "body")],
    ),
    "site_status_tls_cert_expiry_timestamp_seconds": ("gauge", [{"probe": "healthz"}]),
    "site_status_load_average": (
        "gauge",
        [{"probe": "load", "window": w} for w in ("1m", "5m", "15m")],
    ),
    "site_status_load_cpus": ("gauge", [{"probe": "load"}]),
    "site_status_reports_pushed": ("counter", [{}]),
    "site_status_reports_retried": ("counter", [{}]),
    "site_status_reports_dropped": ("counter", [{"reason": r} for r in ("full", "rejected")]),
    "site_status_reports_queued": ("gauge", [{}]),
}


#: Every this many sites, one exporter does not answer (``up`` 0): the fleet's down branch has
#: a few targets to show, as a fleet usually does.
DOWN_EVERY = 40


def is_down(i: int) -> bool:
    return i % DOWN_EVERY == 1


def site(i: int) -> str:
    return f"site-{i:03d}"


def identity(i: int) -> dict[str, str]:
    """The site labels of site ``i``'s info series."""
    return {"site": site(i), "environment": "prod", "tier": "t2", "profile": "x"}


def instance(i: int) -> str:
    return f"{site(i)}.example:9400"  # the dot must be escaped in $instance


def labels_text(labels: dict[str, str]) -> str:
    return ",".join(f'{k}="{v}"' for k, v in labels.items())


def openmetrics(
    sites: int, start: int, end: int, step: int, clusters: tuple[str, ...] = ()
) -> Iterator[str]:
    """The fleet's series; with ``clusters``, each site in each cluster with the same name and
    ``instance`` (as a shared store holds them), and the recorded series the dashboards read."""
    times = range(start, end + 1, step)
    targets = [
        {**({"cluster": c} if c else {}), "job": "site-status", "instance": instance(i)}
        for c in clusters or ("",)
        for i in range(sites)
    ]
    number = [i for _ in clusters or ("",) for i in range(sites)]
    yield "# TYPE site_status_site_info gauge\n"
    for i, target in zip(number, targets, strict=True):
        info = {**target, **identity(i)}
        yield from (f"site_status_site_info{{{labels_text(info)}}} 1 {t}\n" for t in times)
    if clusters:
        yield "# TYPE up gauge\n"
        for i, target in zip(number, targets, strict=True):
            up = 0 if is_down(i) else 1
            yield from (f"up{{{labels_text(target)}}} {up} {t}\n" for t in times)
        yield from recorded(targets, number, times)
    for name, (kind, label_sets) in FAMILIES.items():
        yield f"# TYPE {name} {kind}\n"
        sample = f"{name}_total" if kind == "counter" else name
        for i, target in zip(number, targets, strict=True):
            for n, extra in enumerate(label_sets):
                selector = labels_text({**target, **extra})
                for t in times:
                    # Counters rise steadily (a rate per site); gauges vary by site.
                    value = (t - start) * (i + n + 1) / 100 if kind == "counter" else i + n + 1
                    yield f"{sample}{{{selector}}} {value} {t}\n"
    yield "# EOF\n"


def recorded(targets: list[dict[str, str]], number: list[int], times: range) -> Iterator[str]:
    """What the recording rules write for these targets (mixin/recording.py), with the labels
    their ``by`` and joins keep: the rollup, the down targets, the probes' not-OK state and the
    availability windows."""
    yield "# TYPE site_status_site:status gauge\n"
    for i, target in zip(number, targets, strict=True):
        labels = labels_text({"cluster": target["cluster"], **identity(i)})
        value = 4 if is_down(i) else i % 3
        yield from (f"site_status_site:status{{{labels}}} {value} {t}\n" for t in times)
    yield "# TYPE site_status_exporter:down gauge\n"
    for i, target in zip(number, targets, strict=True):
        if is_down(i):
            labels = labels_text({**target, **identity(i)})
            yield from (f"site_status_exporter:down{{{labels}}} 1 {t}\n" for t in times)
    yield "# TYPE site_status_probe:not_ok gauge\n"
    for i, target in zip(number, targets, strict=True):
        for n, (probe, kind) in enumerate(PROBES):
            labels = labels_text({**target, "probe": probe, "kind": kind, **identity(i)})
            yield from (f"site_status_probe:not_ok{{{labels}}} {(i + n) % 2} {t}\n" for t in times)
    for kind in ("availability", "reliability"):
        for window in ("1d", "7d", "30d"):
            name = f"site_status_site:{kind}:ratio_{window}"
            yield f"# TYPE {name} gauge\n"
            for i, target in zip(number, targets, strict=True):
                per_site = {"cluster": target["cluster"], "site": site(i), "environment": "prod"}
                text = labels_text({**per_site, "tier": "t2", "profile": "x"})
                yield from (f"{name}{{{text}}} {1 - i / 10_000} {t}\n" for t in times)


@contextlib.contextmanager
def synthetic_fleet(
    workdir: Path, sites: int, start: int, end: int, step: int, clusters: tuple[str, ...] = ()
) -> Iterator[Prometheus]:
    """Prometheus (scraping nothing) on a TSDB of ``sites`` sites sampled every ``step`` s, in
    each of ``clusters`` if given (a shared store's view)."""
    source = workdir / "fleet.om"
    with source.open("w") as out:
        out.writelines(openmetrics(sites, start, end, step, clusters))
    command = ["promtool", "tsdb", "create-blocks-from", "openmetrics", str(source)]
    subprocess.run([*command, "prometheus-data"], cwd=workdir, check=True, capture_output=True)
    source.unlink()
    with running_prometheus(workdir, [], [], "127.0.0.1:9", "1h") as prometheus:
        yield prometheus
