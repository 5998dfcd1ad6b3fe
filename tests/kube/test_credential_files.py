"""Token, CA and kubeconfig files against the API server double: their contents never reach an
error, and files that are not regular, endless, deep or huge are one clear line, fast.

Findings 1 and 6 of issue 23. Each ``check`` runs as a pipeline runs it (a subprocess with a
time limit and, where main read without end, a memory limit).
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from exporter.kube_client.kubeconfig import KubeconfigError, cluster_config
from exporter.kube_settings import KubernetesSettings
from tests.kube.test_kubeconfig import b64, kubeconfig
from tests.support.exporter_process import command_env
from tests.support.kube_api import KubeApiDouble

#: What a root-only file looks like (the format of /etc/shadow; made up values).
SHADOW = (
    "root:$6$Gq1sV9x2$k3Jv8zXyQ0wUe5Rt7Lm2Np4Oq6Sr8Tu0Vw2Xy4Za6Bc8De0Fg2Hi4Jk6Lm8No0Pq2:19700:0:99999:7:::\n"
    "daemon:*:19700:0:99999:7:::\n"
    "backup:$6$Zz9yX8w7$V6u5T4s3R2q1P0o9N8m7L6k5J4i3H2g1F0e9D8c7B6a5Z4y3X2w1V0u9T8s7R6q5:19700:0:99999:7:::\n"
)
SECRET_PARTS = ["$6$Gq1sV9x2$k3Jv8zXyQ0wUe5Rt7Lm2", "Zz9yX8w7", "root:$6$", "daemon:*"]
CHECK_ARGS = ("--context", "laptop", "--format", "json", "--log-level", "info")
CONFIG = textwrap.dedent(
    """
    site: {name: shop}
    kubernetes:
      deployment: ""
      events: {enabled: false}
    probes: []
    """
)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[KubeApiDouble]:
    with KubeApiDouble(tmp_path / "api") as double:
        double.put("", "services", {"metadata": {"name": "web"}, "spec": {"ports": []}})
        yield double


def check(tmp_path: Path, path: Path, timeout: float = 60) -> tuple[int, str, float]:
    """``site-status check --context laptop`` through ``path``; exit code, all output, seconds."""
    config = tmp_path / "site.yaml"
    config.write_text(CONFIG)

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    env = {**command_env(), "KUBECONFIG": str(path), "HOME": str(tmp_path / "home")}
    env.pop("KUBERNETES_SERVICE_HOST", None)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "exporter.cli", "check", "--config", str(config), *CHECK_ARGS],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
        preexec_fn=limit_memory,
    )
    return done.returncode, done.stdout + done.stderr, time.monotonic() - started


def test_a_token_file_of_many_lines_never_reaches_any_output(
    tmp_path: Path, api: KubeApiDouble
) -> None:
    """Finding 1: httpx refused the header and quoted it, ``Illegal header value b'Bearer
    root:$6$...'``, into the discovery probe's summary (``/status``, reports, ``check``) and the
    log. Now the file is refused as a token, saying so without a byte of it."""
    shadow = tmp_path / "shadow"
    shadow.write_text(SHADOW)
    shadow.chmod(0o600)
    path = kubeconfig(tmp_path / "kubeconfig", api, {"tokenFile": str(shadow)})
    code, output, _ = check(tmp_path, path)
    assert code == 3, output
    assert not [part for part in SECRET_PARTS if part in output], output
    assert f"{shadow}: not a bearer token (it holds line breaks" in output


def test_an_inline_token_with_a_newline_is_refused_without_quoting_it(
    tmp_path: Path, api: KubeApiDouble
) -> None:
    path = kubeconfig(tmp_path / "kubeconfig", api, {"token": "abcd\n" + SHADOW})
    code, output, _ = check(tmp_path, path)
    assert code == 3, output
    assert not [part for part in SECRET_PARTS if part in output], output
    assert "user 'me': the token holds line breaks" in output


@pytest.mark.parametrize("kind", ["fifo", "/dev/zero"])
def test_a_token_file_that_is_no_regular_file_is_one_line_and_check_ends(
    tmp_path: Path, api: KubeApiDouble, kind: str
) -> None:
    """Finding 6: a FIFO blocked the event loop for good; /dev/zero read until MemoryError."""
    token = tmp_path / "token"
    if kind == "fifo":
        os.mkfifo(token)
    else:
        token = Path(kind)
    path = kubeconfig(tmp_path / "kubeconfig", api, {"tokenFile": str(token)})
    code, output, seconds = check(tmp_path, path)
    assert code == 3, output
    expected = "a FIFO" if kind == "fifo" else "a character device"
    assert f"cannot use the token: {token}: not a regular file ({expected})" in output
    assert "Traceback" not in output and "MemoryError" not in output
    assert seconds < 30


def test_a_kubeconfig_fifo_is_one_line_and_check_ends(tmp_path: Path) -> None:
    """Finding 6: the kubeconfig was opened before its regular-file check: ``check`` hung."""
    path = tmp_path / "kubeconfig"
    os.mkfifo(path)
    code, output, _ = check(tmp_path, path)
    assert code == 3, output
    assert f"cannot read the kubeconfig {path}: not a regular file (a FIFO)" in output


def settings_for(path: Path) -> KubernetesSettings:
    return KubernetesSettings(enabled=True, kubeconfig=str(path))


def test_a_deeply_nested_kubeconfig_is_one_line(tmp_path: Path) -> None:
    """Finding 6: deep nesting gave a RecursionError traceback."""
    path = tmp_path / "kubeconfig"
    path.write_text("clusters: " + "[" * 20_000 + "]" * 20_000 + "\n")
    with pytest.raises(KubeconfigError, match="nest") as raised:
        cluster_config(settings_for(path))
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize("clusters", [80_000, 12_000])
def test_a_kubeconfig_of_many_clusters_is_refused_fast(tmp_path: Path, clusters: int) -> None:
    """Finding 6: 80k clusters in 3.6 MB took 17.5 s and 530 MB. Now a file over 1 MiB is
    refused before parsing, and one under it with too many values after counting them."""
    # Written as yaml.safe_dump writes it, without its pure-Python cost (a minute at 80k).
    entries = (
        f"- cluster:\n    server: https://10.0.{i // 250}.{i % 250}\n  name: c{i}\n"
        for i in range(clusters)
    )
    path = tmp_path / "kubeconfig"
    path.write_text("clusters:\n" + "".join(entries))
    started = time.thread_time()  # CPU time: what a loaded machine does not lengthen
    with pytest.raises(KubeconfigError, match=r"larger than|more than 50000 values"):
        cluster_config(settings_for(path))
    assert time.thread_time() - started < 3


def test_aliases_are_refused_in_a_kubeconfig(tmp_path: Path) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text("a: &x [1, 2]\nclusters: *x\n")
    with pytest.raises(KubeconfigError, match="aliases in a kubeconfig"):
        cluster_config(settings_for(path))


def test_a_ca_file_that_is_a_fifo_is_one_line(tmp_path: Path, api: KubeApiDouble) -> None:
    """CA and certificate files go through the same reader (OpenSSL opened them itself)."""
    ca = tmp_path / "ca.crt"
    os.mkfifo(ca)
    cluster = {"server": api.url, "certificate-authority": str(ca)}
    path = kubeconfig(tmp_path / "kubeconfig", api, {"token": api.token}, cluster=cluster)
    code, output, _ = check(tmp_path, path)
    assert code == 3, output
    assert "Traceback" not in output
    assert str(ca) in output


def test_the_token_from_a_file_is_still_sent(tmp_path: Path, api: KubeApiDouble) -> None:
    (tmp_path / "token").write_text(api.token + "\n")
    path = kubeconfig(tmp_path / "kubeconfig", api, {"tokenFile": str(tmp_path / "token")})
    _, output, _ = check(tmp_path, path)
    assert "cannot use the token" not in output and "discovery/" not in output, output
    assert api.requests and all(r.token == api.token for r in api.requests)
    assert b64(api.token.encode()) not in output
