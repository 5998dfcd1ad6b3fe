"""The drupal probe with ``runner: kubernetes``: drush (the stand-in) run in a pod over
pods/exec through the API server double, graded like a local run."""

from __future__ import annotations

from pathlib import Path

from exporter.context import ProbeRuntime
from exporter.kube_client import permissions
from exporter.kube_client.client import CLIENT_KEY, KubeClient
from exporter.kube_client.permissions import Permission
from exporter.status import Status
from probes.drupal.probe import DrupalProbe, run
from tests.kube.conftest import client_for
from tests.support.context import make_context
from tests.support.kube_api import BASE_ROLE, KubeApiDouble

SUPPORT = Path(__file__).resolve().parents[1] / "support"
FIXTURES = Path(__file__).resolve().parents[1] / "probes" / "fixtures" / "drush"


def drupal_probe(tmp_path: Path) -> DrupalProbe:
    return DrupalProbe.model_validate(
        {
            "name": "site",
            "kind": "drupal",
            "drush": str(SUPPORT / "drush"),
            "root": str(tmp_path),
            "runner": {"type": "kubernetes", "selector": "app=drupal", "container": "php"},
            "env": {
                "DRUSH_STANDIN_REQUIREMENTS": str(FIXTURES / "drush13-requirements.json"),
                "DRUSH_STANDIN_STATUS": str(FIXTURES / "status.json"),
            },
        }
    )


def runtime_with(client: KubeClient) -> ProbeRuntime:
    runtime = ProbeRuntime()
    runtime.shared(CLIENT_KEY, lambda: client)
    return runtime


async def test_drush_runs_in_the_pod_and_is_graded(
    api: KubeApiDouble, client: KubeClient, tmp_path: Path
) -> None:
    api.add_pod("drupal-0", {"app": "drupal"})
    result = await run(drupal_probe(tmp_path), make_context(20, runtime=runtime_with(client)))
    assert result.status is Status.CRITICAL
    assert result.details["requirements"] == 20
    execs = [r for r in api.requests if r.path.endswith("/pods/drupal-0/exec")]
    assert execs and all(r.code == 101 for r in execs)
    assert str(SUPPORT / "drush") in execs[0].query["command"]
    # Everything the drupal-exec Role grants is used, and nothing else was needed.
    used = {Permission(*p) for p in api.permissions_used()}
    assert used == permissions.EXEC


async def test_without_the_exec_role_the_probe_is_unknown_with_the_reason(
    tmp_path: Path,
) -> None:
    with KubeApiDouble(tmp_path / "api", roles=(BASE_ROLE,)) as api:
        api.add_pod("drupal-0", {"app": "drupal"})
        kube = client_for(api)
        try:
            result = await run(drupal_probe(tmp_path), make_context(20, runtime=runtime_with(kube)))
        finally:
            await kube.aclose()
    assert result.status is Status.UNKNOWN
    assert "403 Forbidden" in result.summary
    assert "drupal-exec" in result.summary
