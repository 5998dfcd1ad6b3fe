"""From a laptop: a kubeconfig, read and merged as kubectl does, against the API server double
over TLS (trustme certificates), with each way of authenticating it offers; and ``site-status
check --context`` discovering and probing through it."""

from __future__ import annotations

import base64
import json
import os
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporter.kube_client.client import SERVICES, KubeClient
from exporter.kube_client.cluster import ClusterConfig, NotInCluster
from exporter.kube_client.credentials import (
    CredentialError,
    ExecCredentials,
    ExecPlugin,
    parse_exec_credential,
)
from exporter.kube_client.kubeconfig import KubeconfigError, cluster_config
from exporter.kube_client.locate import find_cluster
from exporter.kube_settings import KubernetesSettings
from tests.support.exporter_process import running_exporter, site_status, wait_until
from tests.support.http_server import MisbehavingServer, misbehaving_server
from tests.support.kube_api import KubeApiDouble


@pytest.fixture(autouse=True)
def laptop(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Not in a pod, and no kubeconfig of the machine's own."""
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def kubeconfig(
    path: Path,
    api: KubeApiDouble,
    user: dict[str, Any],
    *,
    context: str = "laptop",
    namespace: str | None = "site",
    current: str | None = "laptop",
    cluster: dict[str, Any] | None = None,
) -> Path:
    document: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "double",
                "cluster": cluster
                or {"server": api.url, "certificate-authority-data": b64(api.ca_pem)},
            }
        ],
        "users": [{"name": "me", "user": user}],
        "contexts": [
            {
                "name": context,
                "context": {
                    "cluster": "double",
                    "user": "me",
                    **({"namespace": namespace} if namespace else {}),
                },
            }
        ],
    }
    if current:
        document["current-context"] = current
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document))
    return path


def settings_for(path: Path | str | None = None, **extra: Any) -> KubernetesSettings:
    return KubernetesSettings(enabled=True, kubeconfig=str(path) if path else None, **extra)


async def list_names(config: ClusterConfig) -> list[str]:
    client = KubeClient(config)
    try:
        listing = await client.list(SERVICES)
    finally:
        await client.aclose()
    return [item["metadata"]["name"] for item in listing["items"]]


@pytest.fixture
def api(tmp_path: Path) -> Iterator[KubeApiDouble]:
    with KubeApiDouble(tmp_path / "api") as double:
        double.put("", "services", {"metadata": {"name": "web"}, "spec": {"ports": []}})
        yield double


# --- authentication -------------------------------------------------------------------------


async def test_a_client_certificate_in_the_kubeconfig_authenticates(
    tmp_path: Path, api: KubeApiDouble
) -> None:
    leaf = api.issue_client_cert("laptop-user")
    user = {
        "client-certificate-data": b64(leaf.cert_chain_pems[0].bytes()),
        "client-key-data": b64(leaf.private_key_pem.bytes()),
    }
    path = kubeconfig(tmp_path / "kubeconfig", api, user)
    assert await list_names(find_cluster(settings_for(path))) == ["web"]
    last = api.requests[-1]
    assert (last.code, last.user, last.token) == (200, "laptop-user", "")  # checked by the double


async def test_certificate_files_are_relative_to_the_kubeconfig(
    tmp_path: Path, api: KubeApiDouble
) -> None:
    directory = tmp_path / "dot-kube"
    (directory / "pki").mkdir(parents=True)
    leaf = api.issue_client_cert("file-user")
    leaf.cert_chain_pems[0].write_to_path(str(directory / "pki" / "me.crt"))
    leaf.private_key_pem.write_to_path(str(directory / "pki" / "me.key"))
    (directory / "pki" / "ca.crt").write_bytes(api.ca_pem)
    user = {"client-certificate": "pki/me.crt", "client-key": "pki/me.key"}
    cluster = {"server": api.url, "certificate-authority": "pki/ca.crt"}
    path = kubeconfig(directory / "config", api, user, cluster=cluster)
    assert await list_names(find_cluster(settings_for(path))) == ["web"]
    assert api.requests[-1].user == "file-user"


async def test_a_token_and_a_token_file(tmp_path: Path, api: KubeApiDouble) -> None:
    path = kubeconfig(tmp_path / "a", api, {"token": api.token})
    assert await list_names(find_cluster(settings_for(path))) == ["web"]
    (tmp_path / "token").write_text(api.token + "\n")
    path = kubeconfig(tmp_path / "b", api, {"tokenFile": "token"})
    assert await list_names(find_cluster(settings_for(path))) == ["web"]
    assert [r.token for r in api.requests[-2:]] == [api.token, api.token]


async def test_a_wrong_certificate_authority_is_refused_and_insecure_skips_it(
    tmp_path: Path, api: KubeApiDouble
) -> None:
    import trustme

    other = trustme.CA().cert_pem.bytes()
    cluster = {"server": api.url, "certificate-authority-data": b64(other)}
    path = kubeconfig(tmp_path / "a", api, {"token": api.token}, cluster=cluster)
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        await list_names(find_cluster(settings_for(path)))
    insecure = {"server": api.url, "insecure-skip-tls-verify": True}
    path = kubeconfig(tmp_path / "b", api, {"token": api.token}, cluster=insecure)
    assert await list_names(find_cluster(settings_for(path))) == ["web"]


PLUGIN = """#!{python}
import json, os, pathlib, sys
here = pathlib.Path(sys.argv[1])
with (here / "calls").open("a") as calls:
    calls.write(os.environ["KUBERNETES_EXEC_INFO"] + "\\n")
print(json.dumps({{
    "apiVersion": "client.authentication.k8s.io/v1",
    "kind": "ExecCredential",
    "status": {{
        "token": (here / "token").read_text().strip(),
        "expirationTimestamp": "2999-01-01T00:00:00Z",
    }},
}}))
"""


async def test_an_exec_credential_plugin_is_run_once_and_again_after_a_401(
    tmp_path: Path, api: KubeApiDouble
) -> None:
    plugin = tmp_path / "bin" / "get-token"
    plugin.parent.mkdir()
    plugin.write_text(PLUGIN.format(python=sys.executable))
    plugin.chmod(0o755)
    (tmp_path / "token").write_text(api.token)
    user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": "bin/get-token",  # relative to the kubeconfig
            "args": [str(tmp_path)],
            "interactiveMode": "Never",
            "provideClusterInfo": True,
        }
    }
    path = kubeconfig(tmp_path / "kubeconfig", api, user)
    client = KubeClient(find_cluster(settings_for(path)))
    try:
        for _ in range(3):
            await client.list(SERVICES)
        credentials = client.credentials
        assert isinstance(credentials, ExecCredentials)
        assert credentials.runs == 1  # cached until it expires
        api.rotate_token("token-2")
        (tmp_path / "token").write_text("token-2")
        await client.list(SERVICES)  # 401, the plugin again, then 200
    finally:
        await client.aclose()
    assert credentials.runs == 2
    assert [r.code for r in api.requests[-2:]] == [401, 200]
    info = json.loads((tmp_path / "calls").read_text().splitlines()[0])
    assert info["kind"] == "ExecCredential" and info["spec"]["interactive"] is False
    assert info["spec"]["cluster"]["server"] == api.url


async def test_an_exec_plugin_may_hand_out_a_client_certificate(
    tmp_path: Path, api: KubeApiDouble
) -> None:
    leaf = api.issue_client_cert("exec-user")
    credential = {
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "kind": "ExecCredential",
        "status": {
            "clientCertificateData": leaf.cert_chain_pems[0].bytes().decode(),
            "clientKeyData": leaf.private_key_pem.bytes().decode(),
        },
    }
    (tmp_path / "credential.json").write_text(json.dumps(credential))
    user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "cat",
            "args": [str(tmp_path / "credential.json")],
        }
    }
    path = kubeconfig(tmp_path / "kubeconfig", api, user)
    assert await list_names(find_cluster(settings_for(path))) == ["web"]
    assert (api.requests[-1].user, api.requests[-1].token) == ("exec-user", "")


async def test_a_failing_exec_plugin_is_a_clear_error(tmp_path: Path, api: KubeApiDouble) -> None:
    user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": "sh",
            "args": ["-c", "echo 'error: you must be logged in' >&2; exit 1"],
        }
    }
    path = kubeconfig(tmp_path / "kubeconfig", api, user)
    with pytest.raises(OSError, match="exited with 1: error: you must be logged in"):
        await list_names(find_cluster(settings_for(path)))


# --- which file, which context, which namespace ----------------------------------------------


async def test_kubeconfig_list_is_merged_first_wins(
    tmp_path: Path, api: KubeApiDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = kubeconfig(tmp_path / "first", api, {"token": api.token}, context="laptop")
    second_doc = yaml.safe_load(
        kubeconfig(tmp_path / "second", api, {"token": "stale"}).read_text()
    )
    second_doc["current-context"] = "other"
    second_doc["contexts"].append({"name": "other", "context": {"cluster": "x", "user": "y"}})
    (tmp_path / "second").write_text(yaml.safe_dump(second_doc))
    missing = tmp_path / "not-there"
    monkeypatch.setenv(
        "KUBECONFIG", os.pathsep.join([str(missing), str(first), "", str(tmp_path / "second")])
    )
    config = find_cluster(KubernetesSettings(enabled=True))
    # current-context from the first file that sets it; user "me" whole from the first file.
    assert config.token == api.token
    assert config.namespace == "site"
    assert "context laptop" in config.source
    assert await list_names(config) == ["web"]


def test_a_named_context_and_its_namespace(tmp_path: Path, api: KubeApiDouble) -> None:
    path = kubeconfig(
        tmp_path / "k", api, {"token": "t"}, context="prod", namespace="shop", current=None
    )
    with pytest.raises(NotInCluster, match="no current-context: pass --context"):
        find_cluster(settings_for(path))
    assert find_cluster(settings_for(path, context="prod")).namespace == "shop"
    overridden = find_cluster(settings_for(path, context="prod", namespace="x"))
    assert overridden.namespace == "x"
    with pytest.raises(NotInCluster, match=r"no context 'staging' \(contexts: prod\)"):
        find_cluster(settings_for(path, context="staging"))
    plain = kubeconfig(tmp_path / "n", api, {"token": "t"}, namespace=None)
    assert find_cluster(settings_for(plain)).namespace == "default"


def test_home_kube_config_is_the_default(tmp_path: Path, api: KubeApiDouble) -> None:
    kubeconfig(tmp_path / "home" / ".kube" / "config", api, {"token": "t"})
    config = find_cluster(KubernetesSettings(enabled=True))
    assert config.base_url == api.url and config.token == "t"


def test_in_a_pod_the_service_account_stays_the_default(
    tmp_path: Path, api: KubeApiDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig(tmp_path / "k", api, {"token": "t"})))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    settings = KubernetesSettings(enabled=True, service_account_dir=str(api.account_dir))
    config = find_cluster(settings)
    assert config.base_url == "https://10.96.0.1:443"
    assert config.token_file == api.account_dir / "token"
    # Asking for a context says: the kubeconfig, even in a pod.
    assert find_cluster(settings.model_copy(update={"context": "laptop"})).token == "t"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: &x [1]\nb: *x\n", "aliases in a kubeconfig"),
        ("- just a list\n", "a kubeconfig is a mapping"),
        ("clusters: {a: 1}\n", "clusters must be a list of mappings"),
        ("users:\n- user: {token: t}\n", "an entry of users has no name"),
        (
            "contexts:\n- {name: c, context: {cluster: k, user: u}}\ncurrent-context: c\n",
            "context 'c': no cluster 'k'",
        ),
        (
            "clusters:\n- {name: k, cluster: {server: 'https://x',"
            " certificate-authority-data: '%%'}}\n"
            "contexts:\n- {name: c, context: {cluster: k}}\ncurrent-context: c\n",
            "certificate-authority-data is not valid base64",
        ),
        (
            "clusters:\n- {name: k, cluster: {server: 'https://x'}}\n"
            "users:\n- {name: u, user: {auth-provider: {name: gcp}}}\n"
            "contexts:\n- {name: c, context: {cluster: k, user: u}}\ncurrent-context: c\n",
            "auth-provider is not supported",
        ),
        ("\xff\xfe", "not UTF-8"),
    ],
)
def test_a_bad_kubeconfig_is_one_clear_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "kubeconfig"
    path.write_bytes(text.encode("latin-1") if text.startswith("\xff") else text.encode())
    with pytest.raises(KubeconfigError, match=message) as raised:
        cluster_config(settings_for(path))
    assert "\n" not in str(raised.value) and str(path) in str(raised.value)


def test_no_kubeconfig_at_all_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(NotInCluster, match=r"no kubeconfig at .*home/\.kube/config"):
        find_cluster(KubernetesSettings(enabled=True))


SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20))
FIELDS = st.sampled_from(
    [
        "server",
        "certificate-authority-data",
        "certificate-authority",
        "insecure-skip-tls-verify",
        "token",
        "tokenFile",
        "client-certificate-data",
        "client-key-data",
        "exec",
        "namespace",
        "cluster",
        "user",
        "command",
        "apiVersion",
        "args",
        "env",
    ]
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(FIELDS, inner, max_size=4),
    max_leaves=12,
)
ENTRY = st.fixed_dictionaries(
    {"name": st.sampled_from(["a", "b", 1, None])},
    optional={"cluster": VALUES, "user": VALUES, "context": VALUES},
)
DOCUMENTS = st.one_of(
    VALUES,
    st.fixed_dictionaries(
        {},
        optional={
            "clusters": st.one_of(VALUES, st.lists(ENTRY, max_size=3)),
            "users": st.one_of(VALUES, st.lists(ENTRY, max_size=3)),
            "contexts": st.one_of(VALUES, st.lists(ENTRY, max_size=3)),
            "current-context": st.one_of(SCALARS, st.sampled_from(["a", "b"])),
        },
    ),
)


@settings(
    max_examples=150,
    deadline=2000,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(document=DOCUMENTS, context=st.sampled_from([None, "a", "b"]))
def test_any_kubeconfig_gives_a_config_or_a_clear_error(
    tmp_path: Path, document: object, context: str | None
) -> None:
    path = tmp_path / "fuzzed"
    path.write_text(yaml.safe_dump(document))
    try:
        config = cluster_config(settings_for(path, context=context))
    except KubeconfigError as error:
        assert str(error) and "\n" not in str(error)
    else:
        assert config.base_url.startswith(("https://", "http://"))


# --- site-status check --context, end to end ---------------------------------------------------


@pytest.fixture
def backend() -> Iterator[MisbehavingServer]:
    with misbehaving_server() as server:
        server.route("/healthz", body="ok")
        yield server


def test_check_with_a_context_discovers_and_probes_from_a_laptop(
    tmp_path: Path, api: KubeApiDouble, backend: MisbehavingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    leaf = api.issue_client_cert("laptop-user")
    user = {
        "client-certificate-data": b64(leaf.cert_chain_pems[0].bytes()),
        "client-key-data": b64(leaf.private_key_pem.bytes()),
    }
    path = kubeconfig(tmp_path / "kubeconfig", api, user, context="prod", current="other")
    monkeypatch.setenv("KUBECONFIG", str(path))
    api.put(
        "networking.k8s.io",
        "ingresses",
        {
            "metadata": {
                "name": "shop",
                "annotations": {
                    "site-status.io/probe": "true",
                    "site-status.io/port": str(backend.port),
                    "site-status.io/path": "/healthz",
                },
            },
            "spec": {"rules": [{"host": "localhost"}]},
        },
    )
    config = tmp_path / "site.yaml"
    config.write_text(
        textwrap.dedent(
            """
            site: {name: shop}
            kubernetes:
              deployment: ""
              events: {enabled: false}
              discovery: {allowed_hosts: [localhost]}   # the test's backend is on loopback
            probes: []
            """
        )
    )
    done = site_status("check", "--config", str(config), "--context", "prod", "--format", "json")
    document = json.loads(done.stdout)
    probes = {p["name"]: p for p in document["probes"]}
    assert probes["ingress/shop"]["status"] == "OK", done.stdout + done.stderr
    assert list(probes) == ["ingress/shop"]  # the service "web" is not annotated
    assert (done.returncode, document["status"]) == (0, "OK")
    assert {r.user for r in api.requests} == {"laptop-user"}
    assert {r.path for r in api.requests} == {
        "/api/v1/namespaces/site/services",
        "/apis/networking.k8s.io/v1/namespaces/site/ingresses",
    }


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "apiVersion",
                    "kind",
                    "status",
                    "token",
                    "clientCertificateData",
                    "clientKeyData",
                    "expirationTimestamp",
                ]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=10,
)


@settings(max_examples=200, deadline=1000, database=None)
@given(st.one_of(JSON.map(lambda doc: json.dumps(doc).encode()), st.binary(max_size=200)))
def test_any_plugin_output_is_a_credential_or_a_clear_error(output: bytes) -> None:
    plugin = ExecPlugin(command="get-token")
    try:
        status = parse_exec_credential(output, plugin)
    except CredentialError as error:
        assert str(error).startswith("the exec plugin get-token")
    else:
        assert status.token or status.certificate


def test_a_plugin_credential_with_its_expiry() -> None:
    output = json.dumps(
        {
            "apiVersion": "client.authentication.k8s.io/v1",
            "kind": "ExecCredential",
            "status": {"token": "t", "expirationTimestamp": "2030-01-01T00:00:00Z"},
        }
    ).encode()
    status = parse_exec_credential(output, ExecPlugin(command="x"))
    assert (status.token, status.expires) == ("t", 1893456000.0)


def test_run_with_a_kubeconfig_context_watches_and_probes(
    tmp_path: Path, api: KubeApiDouble, backend: MisbehavingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "KUBECONFIG", str(kubeconfig(tmp_path / "kubeconfig", api, {"token": api.token}))
    )
    config = tmp_path / "site.yaml"
    config.write_text(
        textwrap.dedent(
            f"""
            site: {{name: shop}}
            reports: {{file: {tmp_path}/reports.jsonl}}
            defaults: {{interval: 5s, timeout: 5s}}  # a timeout is capped by the interval
            kubernetes:
              enabled: true
              context: laptop
              deployment: ""
              events: {{enabled: false}}
              discovery: {{allowed_hosts: [localhost]}}   # the test's backend is on loopback
            probes: []
            """
        )
    )
    with running_exporter(config, tmp_path) as exporter:
        api.put(
            "networking.k8s.io",
            "ingresses",
            {
                "metadata": {
                    "name": "shop",
                    "annotations": {
                        "site-status.io/probe": "true",
                        "site-status.io/port": str(backend.port),
                        "site-status.io/path": "/healthz",
                    },
                },
                "spec": {"rules": [{"host": "localhost"}]},
            },
        )
        wait_until(
            lambda: any(
                (p["name"], p["status"]) == ("ingress/shop", "OK")
                for p in exporter.status()["probes"]
            ),
            timeout=15,
        )
    assert any(r.query.get("watch") for r in api.requests)


@pytest.mark.parametrize(
    ("cluster_extra", "user"),
    [
        ({"certificate-authority-data": b64(b"not a certificate")}, {"token": "t"}),
        ({}, {"client-certificate-data": b64(b"junk"), "client-key-data": b64(b"junk")}),
    ],
)
def test_certificates_that_do_not_load_are_one_clear_line(
    tmp_path: Path, api: KubeApiDouble, cluster_extra: dict[str, Any], user: dict[str, Any]
) -> None:
    from exporter.kube.integration import connect

    cluster = {"server": api.url, "certificate-authority-data": b64(api.ca_pem), **cluster_extra}
    path = kubeconfig(tmp_path / "kubeconfig", api, user, cluster=cluster)
    reason = connect(settings_for(path))
    assert isinstance(reason, str)
    assert "cannot load its TLS files" in reason and "\n" not in reason
