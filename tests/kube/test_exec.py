"""The ``kubernetes`` command runner: pods/exec over the websocket protocol, through the double.

The double runs the command for real on this machine, so the wrapper (cd, env, timeout) and
the output caps are exercised end to end.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from exporter.command_runners import CommandOutput, CommandSpec, CommandUnavailable
from exporter.command_runners.pod_exec import kubernetes_runner, wrapped_argv
from exporter.context import ProbeRuntime
from exporter.kube_client.client import CLIENT_KEY, KubeClient
from exporter.kube_client.exec import ExecFailed, exit_code_of, pod_exec
from tests.kube.conftest import client_for
from tests.support.context import make_context
from tests.support.kube_api import BASE_ROLE, KubeApiDouble
from tests.support.timing import LOADED, wait_for

DRUPAL = {"app": "drupal"}


def runtime_with(client: KubeClient) -> ProbeRuntime:
    runtime = ProbeRuntime()
    runtime.shared(CLIENT_KEY, lambda: client)
    return runtime


async def run(
    client: KubeClient, spec: CommandSpec, selector: str = "app=drupal", container: str = "php"
) -> CommandOutput:
    context = make_context(timeout=spec.timeout + 5, runtime=runtime_with(client))
    return await kubernetes_runner(selector, container, context).run(spec)


async def test_runs_the_command_in_the_ready_pod(api: KubeApiDouble, client: KubeClient) -> None:
    api.add_pod("drupal-0", DRUPAL, ready=False)
    api.add_pod("drupal-1", DRUPAL)
    api.add_pod("other", {"app": "solr"})
    spec = CommandSpec(argv=("sh", "-c", "echo out; echo err >&2"), timeout=10)
    output = await run(client, spec)
    assert output.exit_code == 0
    assert output.stdout == b"out\n"
    assert output.stderr == b"err\n"
    exec_requests = [r for r in api.requests if r.path.endswith("/exec")]
    assert [r.path.split("/")[-2] for r in exec_requests] == ["drupal-1"]
    assert exec_requests[0].query["container"] == ["php"]
    assert exec_requests[0].code == 101


async def test_working_directory_and_environment(api: KubeApiDouble, client: KubeClient) -> None:
    api.add_pod("drupal-0", DRUPAL)
    spec = CommandSpec(
        argv=("sh", "-c", 'pwd; echo "$DRUSH_OPTIONS_URI"'),
        timeout=10,
        cwd="/tmp",
        env={"DRUSH_OPTIONS_URI": "https://shop.example"},
    )
    output = await run(client, spec)
    assert output.stdout == b"/tmp\nhttps://shop.example\n"


async def test_a_non_zero_exit_status_comes_from_the_status_channel(
    api: KubeApiDouble, client: KubeClient
) -> None:
    api.add_pod("drupal-0", DRUPAL)
    output = await run(
        client, CommandSpec(argv=("sh", "-c", "echo boot failed >&2; exit 3"), timeout=10)
    )
    assert output.exit_code == 3
    assert output.stderr == b"boot failed\n"


@pytest.mark.parametrize(
    ("offered", "expected"),
    [
        (("v5.channel.k8s.io", "v4.channel.k8s.io"), "v5.channel.k8s.io"),
        (("v4.channel.k8s.io",), "v4.channel.k8s.io"),  # a server from before 1.30
    ],
)
async def test_v5_is_preferred_and_v4_accepted(
    tmp_path: Path, offered: tuple[str, ...], expected: str
) -> None:
    from tests.support.kube_api import EXEC_ROLE

    with KubeApiDouble(tmp_path, roles=(BASE_ROLE, EXEC_ROLE), subprotocols=offered) as api:
        api.add_pod("drupal-0", DRUPAL)
        kube = client_for(api)
        try:
            result = await pod_exec(kube, "drupal-0", ["sh", "-c", "exit 4"], "php", 10, 1024)
        finally:
            await kube.aclose()
    assert result.subprotocol == expected
    assert result.exit_code == 4


async def test_output_is_capped_while_reading(api: KubeApiDouble, client: KubeClient) -> None:
    api.add_pod("drupal-0", DRUPAL)
    spec = CommandSpec(
        argv=("sh", "-c", "head -c 10000000 /dev/zero; echo done >&2"),
        timeout=20,
        max_output_bytes=1024 * 1024,
    )
    output = await run(client, spec)
    assert output.exit_code == 0
    assert len(output.stdout) == 1024 * 1024
    assert output.stdout_truncated
    assert output.stderr == b"done\n"
    assert not output.stderr_truncated


async def test_the_deadline_ends_the_run_and_the_remote_command(
    api: KubeApiDouble, client: KubeClient
) -> None:
    api.add_pod("drupal-0", DRUPAL)
    marker = f"59.{os.getpid()}"  # a sleep to find by its command line, child of a shell
    # 3 s: "started" comes in time on a loaded machine too, "after" never does.
    spec = CommandSpec(argv=("sh", "-c", f"echo started; sleep {marker}; echo after"), timeout=3)
    started = time.monotonic()
    output = await run(client, spec)
    assert time.monotonic() - started < 3 + LOADED
    assert output.timed_out
    assert output.exit_code is None
    assert output.stdout == b"started\n"

    # In the pod, timeout -s KILL ends the command a second after the deadline.
    def still_running() -> bool:
        found = subprocess.run(["pgrep", "-f", f"sleep {marker}"], capture_output=True, check=False)
        return found.returncode == 0

    await wait_for(lambda: not still_running())


async def test_no_matching_pod_is_unavailable(api: KubeApiDouble, client: KubeClient) -> None:
    api.add_pod("solr-0", {"app": "solr"})
    with pytest.raises(CommandUnavailable, match="no pod matches 'app=drupal' in namespace site"):
        await run(client, CommandSpec(argv=("true",), timeout=5))


async def test_no_ready_pod_is_unavailable_with_the_states(
    api: KubeApiDouble, client: KubeClient
) -> None:
    api.add_pod("drupal-0", DRUPAL, phase="Pending", ready=False)
    api.add_pod("drupal-1", DRUPAL, ready=False)
    with pytest.raises(CommandUnavailable, match=r"drupal-0: Pending, drupal-1: not ready"):
        await run(client, CommandSpec(argv=("true",), timeout=5))


async def test_a_missing_container_is_unavailable(api: KubeApiDouble, client: KubeClient) -> None:
    api.add_pod("drupal-0", DRUPAL, containers=("nginx",))
    with pytest.raises(CommandUnavailable, match="has a container 'php'"):
        await run(client, CommandSpec(argv=("true",), timeout=5))


async def test_a_pod_gone_before_the_exec_is_not_found(client: KubeClient) -> None:
    with pytest.raises(ExecFailed, match=r'404 NotFound: pods "drupal-9" not found') as raised:
        await pod_exec(client, "drupal-9", ["true"], "php", 5, 1024)
    assert raised.value.code == 404


async def test_exec_forbidden_without_the_drupal_exec_component(tmp_path: Path) -> None:
    with KubeApiDouble(tmp_path) as api:  # the base Role only
        api.add_pod("drupal-0", DRUPAL)
        kube = client_for(api)
        try:
            with pytest.raises(CommandUnavailable) as raised:
                await run(kube, CommandSpec(argv=("true",), timeout=5))
            with pytest.raises(ExecFailed, match="403 Forbidden") as direct:
                await pod_exec(kube, "drupal-0", ["true"], "php", 5, 1024)
        finally:
            await kube.aclose()
    assert "403 Forbidden" in str(raised.value)
    assert "drupal-exec" in str(raised.value)
    assert "pods/exec" in str(direct.value)


async def test_an_executable_that_does_not_exist_did_not_start(
    api: KubeApiDouble, client: KubeClient
) -> None:
    api.add_pod("drupal-0", DRUPAL)
    with pytest.raises(ExecFailed, match='exec: "/no/such/drush"'):
        await pod_exec(client, "drupal-0", ["/no/such/drush"], "php", 5, 1024)


def test_status_messages() -> None:
    assert exit_code_of(b'{"metadata":{},"status":"Success"}') == 0
    failure = (
        b'{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit '
        b'code: error executing command [drush rq], exit code 137","reason":"NonZeroExitCode",'
        b'"details":{"causes":[{"reason":"ExitCode","message":"137"}]}}'
    )
    assert exit_code_of(failure) == 137


def test_the_wrapper_passes_arguments_untouched(tmp_path: Path) -> None:
    """What the pod runs: cd, env, timeout, then the argv exactly (spaces, quotes, $)."""
    spec = CommandSpec(
        argv=("printf", "%s|", "a b", "'q'", "$HOME"), timeout=5, cwd=str(tmp_path), env={"X": "1"}
    )
    done = subprocess.run(wrapped_argv(spec), capture_output=True, check=True, env=os.environ)
    assert done.stdout == b"a b|'q'|$HOME|"
