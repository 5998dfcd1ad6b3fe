"""The deploy-gate components (k8s/components/argocd-gate, argo-rollouts-analysis) render onto a
site, validate, and run the gate the CLI accepts against the site's own exporter."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter.cli import build_parser
from tests.gate.conftest import gate, running_site
from tests.k8s.test_manifests import kubernetes_validate
from tests.mixin.test_rules import promtool
from tests.support.analysis_template import analysis_query
from tests.support.kustomize import K8S, build, documents
from tests.support.node_tools import run_node_tool

COMPONENTS = ["argocd-gate", "argo-rollouts-analysis"]


def site_with(
    tmp_path: Path, components: list[str], patches: list[dict[str, Any]] | None = None
) -> Path:
    """A site overlay (as a site factory would write one) with ``components``."""
    overlay = tmp_path / "site"
    overlay.mkdir()
    relative = os.path.relpath(K8S, overlay)
    kustomization: dict[str, Any] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": "shop",
        "resources": [f"{relative}/base"],
        "components": [f"{relative}/components/{name}" for name in components],
        "images": [{"name": "site-status", "newName": "registry.example.org/site-status"}],
    }
    if patches:
        kustomization["patches"] = patches
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    return overlay


def window_patch(spec: str) -> dict[str, Any]:
    """The overlay patch docs/gate.md shows: a deploy window on the PreSync gate."""
    return {
        "target": {"kind": "Job", "name": "site-status-gate-before"},
        "patch": yaml.safe_dump(
            [
                {
                    "op": "add",
                    "path": "/spec/template/spec/containers/0/args/-",
                    "value": "--window",
                },
                {"op": "add", "path": "/spec/template/spec/containers/0/args/-", "value": spec},
            ]
        ),
    }


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    return documents(site_with(tmp_path_factory.mktemp("gate"), COMPONENTS))


def named(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (found,) = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def test_builtin_kinds_validate_strictly(tmp_path: Path) -> None:
    path = tmp_path / "rendered.yaml"
    path.write_text(build(site_with(tmp_path, COMPONENTS)))
    done = kubernetes_validate(path, "1.30.0")
    assert done.returncode == 0, done.stdout + done.stderr


def test_analysis_templates_match_the_argo_rollouts_crd(rendered: list[dict[str, Any]]) -> None:
    templates = [d for d in rendered if d["kind"] == "AnalysisTemplate"]
    assert len(templates) == 2
    assert run_node_tool("validate-analysistemplate.mjs", templates) == []
    broken = yaml.safe_load(yaml.safe_dump(named(rendered, "AnalysisTemplate", "site-status-web")))
    broken["spec"]["metrics"][0]["provider"]["web"]["url"] = 9918
    assert run_node_tool("validate-analysistemplate.mjs", [broken]) != []


def test_the_postsync_hook_runs_a_gate_the_cli_accepts(rendered: list[dict[str, Any]]) -> None:
    job = named(rendered, "Job", "site-status-gate")
    annotations = job["metadata"]["annotations"]
    assert annotations["argocd.argoproj.io/hook"] == "PostSync"
    assert annotations["argocd.argoproj.io/hook-delete-policy"] == "BeforeHookCreation"
    assert job["spec"]["backoffLimit"] == 0
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    deployment = named(rendered, "Deployment", "site-status")
    assert container["image"] == deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    args = build_parser().parse_args(container["args"])
    assert args.command == "gate"
    service = named(rendered, "Service", "site-status")
    assert args.url == [
        f"http://{service['metadata']['name']}:{service['spec']['ports'][0]['port']}"
    ]
    # The Job outlives its watch: a deadline that cut it short would fail every sync.
    assert job["spec"]["activeDeadlineSeconds"] > args.watch + 60
    # Its own identity, for the freeze after a failed watch and the Events (test_rbac.py).
    assert pod["serviceAccountName"] == "site-status-gate"
    assert pod["automountServiceAccountToken"] is True
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector["matchLabels"].items())


def test_network_policies_open_exactly_the_gate_and_rollouts_paths(
    rendered: list[dict[str, Any]],
) -> None:
    exporter_labels = named(rendered, "Deployment", "site-status")["spec"]["template"]["metadata"][
        "labels"
    ]
    gate_labels = named(rendered, "Job", "site-status-gate")["spec"]["template"]["metadata"][
        "labels"
    ]
    gate_out = named(rendered, "NetworkPolicy", "site-status-gate")
    assert selects(gate_out["spec"]["podSelector"], gate_labels)
    assert not selects(gate_out["spec"]["podSelector"], exporter_labels)
    to_exporter = gate_out["spec"]["egress"][0]
    assert selects(to_exporter["to"][0]["podSelector"], exporter_labels)
    assert to_exporter["ports"] == [{"port": 9918, "protocol": "TCP"}]
    exporter_in = named(rendered, "NetworkPolicy", "site-status-from-gate")
    assert selects(exporter_in["spec"]["podSelector"], exporter_labels)
    assert selects(exporter_in["spec"]["ingress"][0]["from"][0]["podSelector"], gate_labels)
    rollouts_in = named(rendered, "NetworkPolicy", "site-status-from-argo-rollouts")
    peer = rollouts_in["spec"]["ingress"][0]["from"][0]
    assert peer == {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "argo-rollouts"}}
    }


def test_the_web_analysis_reads_the_rollup_code_from_status(
    rendered: list[dict[str, Any]],
) -> None:
    (metric,) = named(rendered, "AnalysisTemplate", "site-status-web")["spec"]["metrics"]
    web = metric["provider"]["web"]
    assert web["url"] == "{{args.exporter-url}}/status"
    assert web["jsonPath"] == "{$.code}"
    # The expressions are evaluated by Argo (expr); these simple comparisons read the same in
    # Python, so the codes /status gives decide as documented.
    verdicts = {
        code: (
            eval(metric["successCondition"], {"result": code}),
            eval(metric["failureCondition"], {"result": code}),
        )
        for code in range(4)
    }
    assert verdicts == {0: (True, False), 1: (False, False), 2: (False, True), 3: (False, False)}


def test_the_prometheus_analysis_judges_the_site_of_its_cluster_only(
    rendered: list[dict[str, Any]], tmp_path: Path
) -> None:
    """The rendered template's query, evaluated by Prometheus' engine (promtool): ``shop`` in
    two clusters with the same instance (pod IPs repeat), CRITICAL in test, OK in prod. Asked
    with a cluster, each cluster's own; with the default (no cluster), nothing on such a store,
    and the site on a Prometheus whose series carry no cluster (one Prometheus, or a cluster's
    own)."""
    template = named(rendered, "AnalysisTemplate", "site-status-prometheus")
    assert {"name": "cluster", "value": ""} in template["spec"]["args"]

    def shop(cluster: str, status: int) -> list[dict[str, str]]:
        target = f'{cluster}job="site-status", instance="10.42.0.7:9918"'
        return [
            {"series": f'site_status_site_info{{{target}, site="shop"}}', "values": "1x5"},
            {"series": f"site_status_site_status{{{target}}}", "values": f"{status}x5"},
        ]

    def expect(cluster: str | None, value: int | None) -> dict[str, Any]:
        args = {"site": "shop"} if cluster is None else {"site": "shop", "cluster": cluster}
        samples = [] if value is None else [{"labels": "{}", "value": value}]
        return {"expr": analysis_query(template, **args), "eval_time": "4m", "exp_samples": samples}

    store = [*shop('cluster="test", ', 2), *shop('cluster="prod", ', 0)]
    tests = [
        {
            "interval": "1m",
            "input_series": store,
            "promql_expr_test": [expect("test", 2), expect("prod", 0), expect(None, None)],
        },
        {"interval": "1m", "input_series": shop("", 2), "promql_expr_test": [expect(None, 2)]},
    ]
    document = {"rule_files": [], "evaluation_interval": "1m", "tests": tests}
    (tmp_path / "analysis.test.yml").write_text(yaml.safe_dump(document, sort_keys=False))
    result = promtool("test", "rules", "analysis.test.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_presync_hook_judges_before_anything_is_applied(rendered: list[dict[str, Any]]) -> None:
    job = named(rendered, "Job", "site-status-gate-before")
    annotations = job["metadata"]["annotations"]
    # Argo CD runs PreSync hooks before it applies the manifests; a failed one fails the sync.
    assert annotations["argocd.argoproj.io/hook"] == "PreSync"
    assert annotations["argocd.argoproj.io/hook-delete-policy"] == "BeforeHookCreation"
    assert job["spec"]["backoffLimit"] == 0
    (container,) = job["spec"]["template"]["spec"]["containers"]
    args = build_parser().parse_args(container["args"])
    assert args.command == "gate"
    assert args.watch is None  # the watch is the PostSync Job's
    assert args.allow_missing  # the first sync has no exporter yet
    postsync = named(rendered, "Job", "site-status-gate")
    assert (
        postsync["spec"]["template"]["metadata"]["labels"]
        == (job["spec"]["template"]["metadata"]["labels"])
    )  # the same NetworkPolicies let both reach the exporter


def presync_gate(tmp_path: Path, window: str, url: str) -> subprocess.CompletedProcess[str]:
    """The PreSync Job's gate, as rendered with ``window`` patched in, run against ``url``."""
    tmp_path.mkdir()
    docs = documents(site_with(tmp_path, COMPONENTS, [window_patch(window)]))
    (container,) = named(docs, "Job", "site-status-gate-before")["spec"]["template"]["spec"][
        "containers"
    ]
    args = [url if arg == "http://site-status:9918" else arg for arg in container["args"]]
    assert args[-2:] == ["--window", window]
    return gate(*args[1:])


def test_the_presync_hook_refuses_a_sync_outside_the_window(tmp_path: Path) -> None:
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    with running_site(tmp_path, "shop") as shop:
        outside = presync_gate(tmp_path / "a", f"{tomorrow} 10:00-11:00 UTC", shop.exporter.url)
        inside = presync_gate(tmp_path / "b", "daily", shop.exporter.url)
    assert outside.returncode == 1, outside.stdout + outside.stderr
    assert outside.stdout.startswith(
        f"GATE FAIL - outside deploy window (next: {datetime.fromisoformat(tomorrow):%a} 10:00 UTC)"
    )
    assert inside.returncode == 0, inside.stdout + inside.stderr
    assert inside.stdout.startswith("GATE OK - 1 site(s) at most OK")
