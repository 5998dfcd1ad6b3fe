"""k8s/new-site.py, the site factory's one step: an overlay per namespace, refused when wrong."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter.config import parse_config
from exporter.registry import default_registry
from tests.k8s.netpol import Port, ingress_allowed, pod
from tests.k8s.test_manifests import spool_volume
from tests.support.kustomize import K8S, documents

SCRIPT = K8S / "new-site.py"
COMMON = [
    "--environment",
    "prod",
    "--profile",
    "os2web",
    "--apiserver",
    "10.0.0.5/32",
    "--image",
    "registry.example.org/site-status:0.2.0",
]


def new_site(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, check=False
    )


def written_by(overlay: Path) -> list[str]:
    """The command in the header of an overlay's kustomization.yaml."""
    first = (overlay / "kustomization.yaml").read_text().splitlines()[0]
    command = first.removeprefix("# Written by: ")
    return shlex.split(command)[2:]  # after "python3 k8s/new-site.py"


def without_paths(document: dict[str, Any]) -> dict[str, Any]:
    """The overlay with its relative paths to k8s/ reduced to what they point at."""
    out = dict(document)
    for key in ("resources", "components"):
        if key in out:
            out[key] = [
                path.rsplit("/", 2)[-2:] if "components" in path else path.rsplit("/", 1)[-1]
                for path in out[key]
            ]
    return out


@pytest.mark.parametrize(
    ("example", "config"), [("example", "site-status.yaml"), ("example-drupal", "site-status.yaml")]
)
def test_the_example_overlays_are_what_the_script_writes(
    example: str, config: str, tmp_path: Path
) -> None:
    committed = K8S / "overlays" / example
    args = written_by(committed)
    done = new_site(*args, "--config", str(committed / config), "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    fresh = tmp_path / args[0]
    for name in ("kustomization.yaml", "apiserver.yaml", "site-status.yaml"):
        ours, theirs = (fresh / name).read_text(), (committed / name).read_text()
        if name == "kustomization.yaml":
            assert without_paths(yaml.safe_load(ours)) == without_paths(yaml.safe_load(theirs))
        else:
            assert ours == theirs, name


def test_a_new_site_renders_with_its_namespace_labels_and_api_server(tmp_path: Path) -> None:
    done = new_site("library", "--tier", "flexprod", *COMMON, "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    docs = documents(tmp_path / "library")
    assert {d["metadata"]["namespace"] for d in docs} == {"library"}
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert labels["site-status.io/tier"] == "flexprod"
    assert labels["site-status.io/environment"] == "prod"
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == (
        "registry.example.org/site-status:0.2.0"
    )
    # Selectors carry only the app's own labels, never the site's.
    assert deployment["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "site-status",
        "app.kubernetes.io/component": "exporter",
    }
    (apiserver,) = [d for d in docs if d["metadata"]["name"] == "site-status-apiserver"]
    assert apiserver["spec"]["egress"][0]["to"] == [{"ipBlock": {"cidr": "10.0.0.5/32"}}]
    (config_map,) = [d for d in docs if d["kind"] == "ConfigMap"]
    config = parse_config(config_map["data"]["site-status.yaml"], default_registry())
    assert not config.kubernetes.discovery.ingresses
    assert not [d for d in docs if d["metadata"]["name"] == "site-status-drupal-exec"]


def test_probe_ingresses_turns_on_ingress_discovery_with_its_policy(tmp_path: Path) -> None:
    done = new_site(
        "shop", "--tier", "priprod", *COMMON, "--probe-ingresses", "--out", str(tmp_path)
    )
    assert done.returncode == 0, done.stderr
    docs = documents(tmp_path / "shop")
    names = {d["metadata"]["name"] for d in docs if d["kind"] == "NetworkPolicy"}
    assert "site-status-ingress-controller" in names
    (config_map,) = [d for d in docs if d["kind"] == "ConfigMap"]
    config = parse_config(config_map["data"]["site-status.yaml"], default_registry())
    assert config.kubernetes.discovery.ingresses


def test_ephemeral_spool_puts_the_spool_on_an_empty_dir(tmp_path: Path) -> None:
    done = new_site(
        "shop", "--tier", "priprod", *COMMON, "--ephemeral-spool", "--out", str(tmp_path)
    )
    assert done.returncode == 0, done.stderr
    assert "--ephemeral-spool" in written_by(tmp_path / "shop")
    docs = documents(tmp_path / "shop")
    assert "PersistentVolumeClaim" not in {doc["kind"] for doc in docs}
    (deployment,) = [doc for doc in docs if doc["kind"] == "Deployment"]
    # Exactly the base's volume as it was before the claim (validated strictly then).
    assert spool_volume(docs) == {"name": "spool", "emptyDir": {"sizeLimit": "256Mi"}}
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}


def drupal_config(tmp_path: Path, runner: str) -> Path:
    path = tmp_path / "site.yaml"
    probe: dict[str, Any] = {"name": "drupal", "kind": "drupal"}
    if runner == "kubernetes":
        probe["runner"] = {"type": "kubernetes", "selector": "app=drupal"}
    path.write_text(yaml.safe_dump({"site": {"tier": "priprod"}, "probes": [probe]}))
    return path


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--drupal-exec"], "no drupal probe with runner: {type: kubernetes}"),
        (["--config", "LOCAL", "--drupal-exec"], "no drupal probe with runner: {type: kubernetes}"),
        (["--config", "EXEC"], "run drush through pods/exec: add --drupal-exec"),
        (["--apiserver", "10.0.0.300/32"], "--apiserver"),
        (
            ["--config", "TYPO"],
            "not a valid site-status config: 1 error(s), the first: probes[0].colour",
        ),
        (["--environment", "prod env"], "not a valid label value"),
    ],
)
def test_refuses_with_one_line(tmp_path: Path, extra: list[str], message: str) -> None:
    typo = tmp_path / "typo.yaml"
    typo.write_text("probes:\n  - {name: d, kind: disk, path: /, colour: red}\n")
    files = {"TYPO": str(typo)}
    extra = [
        str(drupal_config(tmp_path, "local" if a == "LOCAL" else "kubernetes"))
        if a in ("LOCAL", "EXEC")
        else files.get(a, a)
        for a in extra
    ]
    done = new_site("shop", "--tier", "priprod", *COMMON, *extra, "--out", str(tmp_path))
    assert done.returncode == 2
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not (tmp_path / "shop").exists()


def test_refuses_a_bad_namespace_and_an_existing_overlay(tmp_path: Path) -> None:
    done = new_site("Shop_1", "--tier", "priprod", *COMMON, "--out", str(tmp_path))
    assert done.returncode == 2 and "not a DNS label" in done.stderr
    assert new_site("shop", "--tier", "priprod", *COMMON, "--out", str(tmp_path)).returncode == 0
    again = new_site("shop", "--tier", "priprod", *COMMON, "--out", str(tmp_path))
    assert again.returncode == 2 and "exists" in again.stderr
    forced = new_site("shop", "--tier", "priprod", *COMMON, "--out", str(tmp_path), "--force")
    assert forced.returncode == 0


def test_exec_with_a_drupal_probe_gets_the_component(tmp_path: Path) -> None:
    config = drupal_config(tmp_path, "kubernetes")
    args = ["shop", "--tier", "priprod", *COMMON, "--config", str(config), "--drupal-exec"]
    done = new_site(*args, "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    docs = documents(tmp_path / "shop")
    assert [d for d in docs if d["metadata"]["name"] == "site-status-drupal-exec"]


def test_monitoring_namespace_lets_that_prometheus_scrape_and_no_other(tmp_path: Path) -> None:
    # A kube-prometheus-stack in "observability" (docs/k8s-cluster-overlay): without the option
    # the sites' NetworkPolicy lets in only "monitoring", and nothing is scraped.
    done = new_site(
        "shop",
        "--tier",
        "priprod",
        *COMMON,
        "--monitoring-namespace",
        "observability",
        "--out",
        str(tmp_path),
    )
    assert done.returncode == 0, done.stderr
    assert "--monitoring-namespace" in written_by(tmp_path / "shop")
    docs = documents(tmp_path / "shop")
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    template = deployment["spec"]["template"]
    ports = tuple(
        Port(p["containerPort"], p.get("protocol", "TCP"), p.get("name"))
        for p in template["spec"]["containers"][0]["ports"]
    )
    exporter = pod("shop", template["metadata"]["labels"], "10.244.1.20", ports)
    scraper = {"app.kubernetes.io/name": "prometheus"}
    metrics = Port(9918)
    assert ingress_allowed(docs, pod("observability", scraper, "10.244.2.9"), exporter, metrics)
    assert not ingress_allowed(docs, pod("monitoring", scraper, "10.244.2.8"), exporter, metrics)


def test_retire_removes_the_overlay_and_names_the_command_the_rules_recognise(
    tmp_path: Path,
) -> None:
    made = new_site("shop", "--tier", "priprod", *COMMON, "--out", str(tmp_path))
    assert made.returncode == 0, made.stderr
    retired = new_site("--retire", "shop", "--out", str(tmp_path))
    assert retired.returncode == 0, retired.stderr
    assert not (tmp_path / "shop").exists()
    # Deleted: kube_namespace_created goes away (site_status_namespace:retired, docs/alerts.md).
    assert retired.stdout.splitlines()[-1] == "then, in the cluster: kubectl delete namespace shop"
    kept = new_site("--retire", "shop", "--scale-to-zero", "--out", str(tmp_path))
    assert kept.returncode == 0
    assert "nothing to remove" in kept.stdout
    assert kept.stdout.splitlines()[-1] == (
        "then, in the cluster: kubectl -n shop scale deployment,statefulset --all --replicas=0"
    )
    bad = new_site("--retire", "Not_A_Namespace", "--out", str(tmp_path))
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1


#: Debian's own interpreter: PyYAML (python3-yaml) but none of the exporter's other libraries.
SYSTEM_PYTHON = Path("/usr/bin/python3")


def checkout_copy(tmp_path: Path, venv: bool) -> Path:
    """The script and pyproject.toml as in a fresh clone, with or without the .venv the README
    installs (here: the venv running the tests)."""
    root = tmp_path / "clone"
    (root / "k8s").mkdir(parents=True)
    (root / "k8s" / "new-site.py").write_bytes(SCRIPT.read_bytes())
    (root / "pyproject.toml").write_bytes((K8S.parent / "pyproject.toml").read_bytes())
    if venv:
        (root / ".venv").symlink_to(Path(sys.prefix))
    return root


def new_site_with(python: Path, root: Path, out: Path) -> subprocess.CompletedProcess[str]:
    args = ["shop", "--tier", "priprod", *COMMON, "--out", str(out)]
    return subprocess.run(
        [str(python), str(root / "k8s" / "new-site.py"), *args],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(K8S.parent)},
    )


@pytest.mark.skipif(not SYSTEM_PYTHON.exists(), reason="no Debian python3")
def test_under_another_python_it_runs_the_projects_own(tmp_path: Path) -> None:
    root = checkout_copy(tmp_path, venv=True)
    done = new_site_with(SYSTEM_PYTHON, root, tmp_path / "out")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert (tmp_path / "out" / "shop" / "site-status.yaml").exists()


@pytest.mark.skipif(not SYSTEM_PYTHON.exists(), reason="no Debian python3")
def test_without_the_projects_python_it_says_what_it_needs(tmp_path: Path) -> None:
    root = checkout_copy(tmp_path, venv=False)
    done = new_site_with(SYSTEM_PYTHON, root, tmp_path / "out")
    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert line.startswith(f"new-site: {SYSTEM_PYTHON} lacks ")
    assert "pydantic" in line and "anyio" in line
    assert line.endswith(
        "install the project (python3 -m venv .venv && .venv/bin/pip install .) and run it "
        "with .venv/bin/python k8s/new-site.py"
    )
    assert not (tmp_path / "out").exists()
