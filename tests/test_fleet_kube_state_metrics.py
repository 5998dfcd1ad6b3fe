"""The fleet's kube-state-metrics stand-in (tools/fleet/kube_state_metrics.py).

Its exposition passes ``promtool check metrics``, and the shipped retirement rule, fed exactly
the series it serves (with the job and instance a scrape adds), finds the namespaces a platform
retired: deleted, Terminating, scaled to zero; not the one left as it was.
"""

from __future__ import annotations

from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from mixin.causes import RETIRED
from tests.mixin.test_fleet_rules import group, write_tests
from tests.mixin.test_rules import promtool
from tools.fleet.kube_state_metrics import Cluster, exposition, read_state

SCRAPE = {"job": "kube-state-metrics", "instance": "10.0.0.7:8080"}
NAMESPACES = ("kept", "deleted", "terminating", "scaled")


def cluster(tmp_path: Path) -> Cluster:
    """Four site namespaces, each with the exporter's Deployment and the site's own workloads;
    then three retired, each its own way."""
    state = Cluster(tmp_path / "cluster.json")
    for name in NAMESPACES:
        workloads = {"deployments": {"drupal": 2}, "statefulsets": {"cache": 1}}
        state.add(name, 1_764_000_000, workloads)
    state.delete("deleted")
    state.terminate("terminating")
    state.scale_to_zero("scaled")
    state.write()
    return state


def series_lines(text: str) -> list[str]:
    """Each sample as a promtool series selector, with the labels the scrape adds."""
    out = []
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = {**sample.labels, **SCRAPE}
            body = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
            out.append((f"{sample.name}{{{body}}}", sample.value))
    return [f"{name} {value:g}" for name, value in out]


def test_the_exposition_passes_promtool_check_metrics(tmp_path: Path) -> None:
    text = exposition(read_state(cluster(tmp_path).path))
    assert 'kube_namespace_status_phase{namespace="terminating",phase="Terminating"} 1' in text
    assert 'kube_deployment_spec_replicas{deployment="drupal",namespace="scaled"} 0' in text
    assert 'namespace="deleted"' not in text
    import subprocess

    checked = subprocess.run(
        ["promtool", "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_retirement_rule_finds_what_the_stand_in_serves(tmp_path: Path) -> None:
    text = exposition(read_state(cluster(tmp_path).path))
    input_series = [
        {"series": line.rsplit(" ", 1)[0], "values": f"{line.rsplit(' ', 1)[1]}x10"}
        for line in series_lines(text)
    ]
    input_series.append({"series": 'up{job="kube-state-metrics"}', "values": "1x10"})
    for name in NAMESPACES:  # every site was scraped once: the rule remembers its namespace
        target = f'job="site-status", instance="{name}:9918", namespace="{name}"'
        info = f'site="{name}", environment="prod", tier="priprod", profile="drupal"'
        input_series.append(
            {"series": f"site_status_site_info{{{target}, {info}}}", "values": "1x10"}
        )
    retired = [
        {"labels": f'{RETIRED}{{namespace="{name}"}}', "value": 1}
        for name in ("deleted", "scaled", "terminating")
    ]
    test = group(
        "the stand-in's series",
        [input_series],
        promql_expr_test=[{"expr": RETIRED, "eval_time": "5m", "exp_samples": retired}],
    )
    result = promtool("test", "rules", write_tests(tmp_path, [test]).name, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
