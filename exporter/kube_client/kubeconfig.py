"""A kubeconfig, read as kubectl reads it, turned into a ``ClusterConfig``.

Which files: ``kubernetes.kubeconfig``, else ``$KUBECONFIG``, else ``~/.kube/config``; a list is
``:``-separated, empty entries and missing files skipped. Merged as kubectl does
(kubernetes.io/docs/concepts/configuration/organize-cluster-access-kubeconfig/#merging-kubeconfig-files):
the first file to set a value or a map key wins, and a named cluster, user or context is taken
whole from the first file that has it. File references (``certificate-authority``,
``client-certificate``, ``client-key``, ``tokenFile``, a relative exec ``command`` with a
``/``) are relative to the file that holds them.

Which context: ``kubernetes.context`` (``--context``) or ``current-context``; its namespace
unless ``kubernetes.namespace`` is set; ``default`` when neither. Auth: ``token``, ``tokenFile``,
``client-certificate(-data)`` with ``client-key(-data)``, and an ``exec`` credential plugin
(client.authentication.k8s.io/v1 or v1beta1). Refused with a clear error: ``auth-provider``,
``username``/``password`` and impersonation (``UNSUPPORTED`` says why).
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from exporter.config_yaml import Loader as YamlLoader
from exporter.config_yaml import YamlLimitExceeded, check_events
from exporter.kube_client.cluster import ClusterConfig
from exporter.kube_client.credentials import EXEC_API_VERSIONS, ExecPlugin
from exporter.kube_settings import KubernetesSettings
from exporter.outbound import TlsSettings
from exporter.secret_files import SecretFileError, read_secret_bytes_or_missing

#: A kubeconfig with embedded certificates is a few KiB per cluster; this is far beyond any
#: real one (and parses in well under a second).
MAX_BYTES = 1024 * 1024
#: Values in one kubeconfig: about 15 per context (cluster, user, context), so 3,000 contexts.
MAX_NODES = 50_000
DEFAULT_PATH = Path("~/.kube/config")
#: User fields we do not take, and why.
UNSUPPORTED = {
    "auth-provider": "removed from kubectl in 1.26: use the provider's exec plugin",
    "username": "basic auth was removed from Kubernetes in 1.19: use a token or a certificate",
    "as": "impersonation: give the exporter its own credentials",
    "as-groups": "impersonation: give the exporter its own credentials",
    "as-uid": "impersonation: give the exporter its own credentials",
}


class KubeconfigError(Exception):
    """No usable kubeconfig; the message says which file, context or field and why."""


@dataclass(frozen=True)
class NamedItem:
    """A named cluster, user or context, and the directory its relative paths start from."""

    fields: Mapping[str, Any]
    directory: Path
    source: Path


@dataclass
class Merged:
    clusters: dict[str, NamedItem]
    users: dict[str, NamedItem]
    contexts: dict[str, NamedItem]
    current_context: str
    files: list[Path]


def kubeconfig_paths(setting: str | None, environ: Mapping[str, str] | None = None) -> list[Path]:
    environ = os.environ if environ is None else environ
    listed = setting or environ.get("KUBECONFIG") or ""
    if listed:
        return [Path(part).expanduser() for part in listed.split(os.pathsep) if part.strip()]
    return [DEFAULT_PATH.expanduser()]


def load(paths: Sequence[Path]) -> Merged:
    merged = Merged({}, {}, {}, "", [])
    for path in paths:
        document = _read(path)
        if document is None:
            continue
        merged.files.append(path)
        directory = path.parent.resolve()
        for key, target in (
            ("clusters", merged.clusters),
            ("users", merged.users),
            ("contexts", merged.contexts),
        ):
            single = key.removesuffix("s")
            for item in _list(document.get(key), f"{path}: {key}"):
                name = item.get("name")
                if not isinstance(name, str) or not name:
                    raise KubeconfigError(f"{path}: an entry of {key} has no name")
                if name not in target:  # the first file to name it wins, whole
                    fields = item.get(single) or {}
                    if not isinstance(fields, dict):
                        raise KubeconfigError(f"{path}: {key} {name!r}: {single} is not a mapping")
                    target[name] = NamedItem(fields, directory, path)
        current = document.get("current-context")
        if not merged.current_context and isinstance(current, str):
            merged.current_context = current
    if not merged.files:
        raise KubeconfigError(
            "not in a pod (KUBERNETES_SERVICE_HOST is not set), no kubernetes.api_url, and no "
            f"kubeconfig at {os.pathsep.join(str(p) for p in paths)}"
        )
    return merged


def cluster_config(settings: KubernetesSettings) -> ClusterConfig:
    """The ``ClusterConfig`` of the chosen context."""
    paths = kubeconfig_paths(settings.kubeconfig)
    merged = load(paths)
    where = os.pathsep.join(str(p) for p in merged.files)
    name = settings.context or merged.current_context
    if not name:
        raise KubeconfigError(f"{where}: no current-context: pass --context or set one")
    context = merged.contexts.get(name)
    if context is None:
        known = ", ".join(sorted(merged.contexts)[:10]) or "none"
        raise KubeconfigError(f"{where}: no context {name!r} (contexts: {known})")
    cluster_name, user_name = context.fields.get("cluster"), context.fields.get("user")
    cluster = merged.clusters.get(str(cluster_name)) if cluster_name else None
    if cluster is None:
        raise KubeconfigError(f"{where}: context {name!r}: no cluster {cluster_name!r}")
    user = merged.users.get(str(user_name)) if user_name else None
    if user_name and user is None:
        raise KubeconfigError(f"{where}: context {name!r}: no user {user_name!r}")
    server = cluster.fields.get("server")
    if not isinstance(server, str) or not server.startswith(("https://", "http://")):
        raise KubeconfigError(f"{cluster.source}: cluster {cluster_name!r}: server must be a URL")
    namespace = settings.namespace or _string(context, "namespace", name) or "default"
    user_fields = user.fields if user is not None else {}
    for unsupported, why in UNSUPPORTED.items():
        if user_fields.get(unsupported):
            raise KubeconfigError(
                f"{user.source if user else where}: user {user_name!r}: {unsupported} is not "
                f"supported ({why})"
            )
    tls = _tls(cluster, user, str(cluster_name), str(user_name))
    token = _string(user, "token", str(user_name)) if user else ""
    if token and not (token.isascii() and token.isprintable()):
        # Never quoted: httpx's error for such a header value would quote it whole.
        raise KubeconfigError(
            f"{user.source if user else where}: user {user_name!r}: the token holds line "
            "breaks, controls or non-ASCII characters"
        )
    token_file = _path(user, "tokenFile") if user else None
    return ClusterConfig(
        base_url=server.rstrip("/"),
        namespace=namespace,
        tls=tls,
        token_file=token_file,
        token=token or None,
        exec_plugin=_exec(user, server, cluster) if user and user.fields.get("exec") else None,
        source=f"kubeconfig {where}, context {name}",
    )


def _read(path: Path) -> dict[str, Any] | None:
    """The document of one kubeconfig file, read as the config is (``secret_files``)."""
    try:
        data = read_secret_bytes_or_missing(path, MAX_BYTES)
    except SecretFileError as error:
        raise KubeconfigError(f"cannot read the kubeconfig {error}") from None
    if data is None:
        return None  # as kubectl: a listed file that is not there is skipped
    try:
        text = data.decode("utf-8")
        check_events(text, MAX_NODES, max_aliases=0, what="a kubeconfig")
        document = yaml.load(text, Loader=YamlLoader)
    except UnicodeDecodeError as error:
        raise KubeconfigError(f"{path}: not UTF-8 (byte {error.start})") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or "invalid YAML"
        raise KubeconfigError(f"{path}: {problem}{at}") from None
    except YamlLimitExceeded as error:
        raise KubeconfigError(f"{path}: {error}") from None
    except RecursionError:
        raise KubeconfigError(f"{path}: nested too deep") from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise KubeconfigError(f"{path}: a kubeconfig is a mapping (kind: Config)")
    return document


def _list(value: object, where: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise KubeconfigError(f"{where} must be a list of mappings")
    return value


def _string(entry: NamedItem, key: str, name: str) -> str:
    value = entry.fields.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise KubeconfigError(f"{entry.source}: {name!r}: {key} must be a string")
    return value


def _path(entry: NamedItem | None, key: str) -> Path | None:
    if entry is None:
        return None
    value = entry.fields.get(key)
    if not value:
        return None
    if not isinstance(value, str):
        raise KubeconfigError(f"{entry.source}: {key} must be a path")
    path = Path(value).expanduser()
    return path if path.is_absolute() else entry.directory / path


def _data(entry: NamedItem | None, key: str) -> bytes | None:
    if entry is None:
        return None
    value = entry.fields.get(key)
    if not value:
        return None
    if not isinstance(value, str):
        raise KubeconfigError(f"{entry.source}: {key} must be base64 text")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise KubeconfigError(f"{entry.source}: {key} is not valid base64") from None


def _tls(
    cluster: NamedItem, user: NamedItem | None, cluster_name: str, user_name: str
) -> TlsSettings:
    insecure = cluster.fields.get("insecure-skip-tls-verify", False)
    if not isinstance(insecure, bool):
        raise KubeconfigError(
            f"{cluster.source}: cluster {cluster_name!r}: insecure-skip-tls-verify is true or false"
        )
    ca_data = _data(cluster, "certificate-authority-data")
    ca_file = None if ca_data else _path(cluster, "certificate-authority")
    cert_data, key_data = _data(user, "client-certificate-data"), _data(user, "client-key-data")
    cert_file, key_file = _path(user, "client-certificate"), _path(user, "client-key")
    has_cert, has_key = bool(cert_data or cert_file), bool(key_data or key_file)
    if has_cert != has_key:
        raise KubeconfigError(
            f"{user.source if user else cluster.source}: user {user_name!r}: a client "
            "certificate needs its key, and a key its certificate"
        )
    for path in (ca_file, cert_file, key_file):
        if path is not None and not path.is_file():
            raise KubeconfigError(f"{cluster.source}: context {cluster_name!r}: no file {path}")
    return TlsSettings(
        ca_file=ca_file,
        ca_data=ca_data,
        insecure=insecure,
        client_cert_file=None if cert_data else cert_file,
        client_key_file=None if key_data else key_file,
        client_cert_data=cert_data if cert_data and key_data else None,
        client_key_data=key_data if cert_data and key_data else None,
    )


def _exec(user: NamedItem, server: str, cluster: NamedItem) -> ExecPlugin:
    spec = user.fields.get("exec")
    where = f"{user.source}: exec"
    if not isinstance(spec, dict):
        raise KubeconfigError(f"{where} must be a mapping")
    command = spec.get("command")
    if not isinstance(command, str) or not command:
        raise KubeconfigError(f"{where}: command is required")
    if "/" in command and not Path(command).is_absolute():
        command = str(user.directory / command)
    api_version = spec.get("apiVersion") or ""
    if api_version not in EXEC_API_VERSIONS:
        raise KubeconfigError(
            f"{where}: apiVersion {str(api_version)[:60]!r} is not one of "
            + ", ".join(EXEC_API_VERSIONS)
        )
    args = spec.get("args") or []
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise KubeconfigError(f"{where}: args must be a list of strings")
    env_items = spec.get("env") or []
    if not isinstance(env_items, list) or not all(
        isinstance(e, dict) and isinstance(e.get("name"), str) and isinstance(e.get("value"), str)
        for e in env_items
    ):
        raise KubeconfigError(f"{where}: env must be a list of {{name, value}} strings")
    mode = spec.get("interactiveMode") or "IfAvailable"
    if mode not in ("Never", "IfAvailable", "Always"):
        raise KubeconfigError(f"{where}: interactiveMode must be Never, IfAvailable or Always")
    cluster_info: dict[str, Any] | None = None
    if spec.get("provideClusterInfo") is True:
        cluster_info = {"server": server}
        ca = cluster.fields.get("certificate-authority-data")
        if isinstance(ca, str):
            cluster_info["certificate-authority-data"] = ca
        if cluster.fields.get("insecure-skip-tls-verify") is True:
            cluster_info["insecure-skip-tls-verify"] = True
    return ExecPlugin(
        command=command,
        args=tuple(args),
        env=tuple((e["name"], e["value"]) for e in env_items),
        api_version=str(api_version),
        interactive_mode=str(mode),
        cluster=cluster_info,
    )
