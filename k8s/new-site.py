#!/usr/bin/env python3
"""Stamp out one site: write the kustomize overlay for a site namespace.

    python3 k8s/new-site.py shop --tier priprod --environment prod --profile os2web \\
        --apiserver 172.18.0.2/32 --image registry.example.org/site-status:0.1.0 \\
        [--config shop.yaml] [--drupal-exec] [--probe-ingresses] [--ephemeral-spool]
        [--out k8s/overlays]

writes ``<out>/<namespace>/``: ``kustomization.yaml`` (namespace, image, site labels,
components), ``apiserver.yaml`` (the NetworkPolicy's API server address) and ``site-status.yaml``
(the config: ``--config``, or a starter with a disk probe). Then ``kubectl apply -k`` it. A site
factory runs this once per site (from a list, in CI) and commits the overlays.

``--drupal-exec`` (pods/exec rights) goes only with a config that has a drupal probe with
``runner: {type: kubernetes}``, and such a config needs it: the script refuses either alone.
``--ephemeral-spool`` puts the Loki spool on an emptyDir instead of the site's
PersistentVolumeClaim (docs/kubernetes.md, "The spool volume").

    python3 k8s/new-site.py --retire shop [--scale-to-zero] [--out k8s/overlays]

retires a site: removes its overlay (so nothing applies it again) and prints the one command
that retires it in the cluster the way the alert rules recognise (docs/alerts.md, lifecycle):
``kubectl delete namespace``, or with ``--scale-to-zero`` (keep the namespace and its data)
every Deployment and StatefulSet scaled to zero. Either way, with kube-state-metrics scraped,
the site pages nobody and does not count towards the fleet alert.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

K8S = Path(__file__).resolve().parent
#: The interpreter the README installs (python3 -m venv .venv && .venv/bin/pip install .).
PROJECT_PYTHON = K8S.parent / ".venv" / "bin" / "python"
#: Set when this script has started itself again under PROJECT_PYTHON (never twice).
RESTARTED = "SITE_STATUS_NEW_SITE_RESTARTED"


def missing_requirements() -> list[str]:
    """The exporter's dependencies (pyproject.toml) this interpreter lacks: without them it
    cannot validate a config as the exporter does."""
    import tomllib
    from importlib.metadata import PackageNotFoundError, version

    project = tomllib.loads((K8S.parent / "pyproject.toml").read_text(encoding="utf-8"))
    missing = []
    for requirement in project["project"]["dependencies"]:
        name = re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0]
        try:
            version(name)
        except PackageNotFoundError:
            missing.append(name)
    return missing


def with_project_interpreter(argv: Sequence[str]) -> str | None:
    """Go on under an interpreter that has what validation needs: this one, or the project's
    (started in this one's place); else the one line saying what is needed."""
    missing = missing_requirements()
    if not missing:
        return None
    if PROJECT_PYTHON.exists() and not os.environ.get(RESTARTED):
        os.environ[RESTARTED] = "1"
        os.execv(PROJECT_PYTHON, [str(PROJECT_PYTHON), __file__, *argv])
    return (
        f"new-site: {sys.executable} lacks {', '.join(missing)}, needed to validate the config: "
        f"install the project (python3 -m venv .venv && .venv/bin/pip install .) and run "
        f"it with .venv/bin/python k8s/new-site.py"
    )


TIERS = ("priprod", "flexprod", "besteffort")
#: Where Prometheus runs by default: k8s/base/networkpolicy.yaml lets only this namespace in.
DEFAULT_MONITORING = "monitoring"
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")

STARTER_CONFIG = """\
# The config of site {namespace}. Services and ingresses of the namespace annotated
# site-status.io/probe: "true" are probed too (docs/kubernetes.md).
site:
  tier: {tier}
reports:
  loki:
    url: http://loki-gateway.loki.svc.cluster.local
    tenant: site-status         # one tenant for the fleet: the dashboards read across sites
    spool: {{directory: /var/lib/site-status/loki-spool}}
kubernetes:
  enabled: true
  deployment: site-status
  discovery: {{services: true, ingresses: {ingresses}}}
probes:
  - name: spool-disk
    kind: disk
    path: /var/lib/site-status
    used_percent: {{warning: 80, critical: 95}}
"""


class SiteError(Exception):
    pass


def exec_probes(config: Any) -> list[str]:
    """Names of the drupal probes that run drush through pods/exec."""
    probes = config.get("probes") if isinstance(config, dict) else None
    return [
        str(probe.get("name"))
        for probe in probes or []
        if isinstance(probe, dict)
        and probe.get("kind") == "drupal"
        and isinstance(probe.get("runner"), dict)
        and probe["runner"].get("type") == "kubernetes"
    ]


def config_problem(text: str) -> str | None:
    """The exporter's own verdict on the config (``site-status validate``); None if valid."""
    if str(K8S.parent) not in sys.path:
        sys.path.append(str(K8S.parent))
    from exporter.config import parse_config
    from exporter.config_errors import ConfigInvalid
    from exporter.registry import default_registry

    try:
        parse_config(text, default_registry(), source="--config")
    except ConfigInvalid as error:
        first = error.errors[0] if error.errors else "invalid"
        return f"{error.count} error(s), the first: {first}"
    return None


def check(args: argparse.Namespace, config_text: str) -> None:
    import yaml  # here: main() first makes sure this interpreter has it

    if not DNS_LABEL.match(args.namespace):
        raise SiteError(f"namespace {args.namespace!r} is not a DNS label (a-z, 0-9, -)")
    for name in ("environment", "profile"):
        value = getattr(args, name)
        if not LABEL_VALUE.match(value):
            raise SiteError(f"--{name} {value!r} is not a valid label value")
    try:
        ipaddress.ip_network(args.apiserver)
    except ValueError as error:
        raise SiteError(f"--apiserver: {error}") from None
    try:
        config = yaml.safe_load(config_text)
    except yaml.YAMLError as error:
        raise SiteError(f"--config is not YAML: {error}") from None
    problem = config_problem(config_text)
    if problem is not None:
        raise SiteError(f"--config is not a valid site-status config: {problem}")
    runs_exec = exec_probes(config)
    if args.drupal_exec and not runs_exec:
        raise SiteError(
            "--drupal-exec grants pods/exec, but the config has no drupal probe with "
            "runner: {type: kubernetes}"
        )
    if runs_exec and not args.drupal_exec:
        raise SiteError(
            f"drupal probe(s) {', '.join(runs_exec)} run drush through pods/exec: add --drupal-exec"
        )


def split_image(image: str) -> tuple[str, str]:
    """``registry/name:tag`` -> (``registry/name``, ``tag``); a port is not a tag."""
    name, colon, tag = image.rpartition(":")
    if not colon or "/" in tag:
        return image, ""
    return name, tag


def kustomization(args: argparse.Namespace, relative: str) -> dict[str, Any]:
    import yaml  # here: main() first makes sure this interpreter has it

    name, tag = split_image(args.image)
    components = []
    if args.drupal_exec:
        components.append(f"{relative}/components/drupal-exec")
    if args.probe_ingresses:
        components.append(f"{relative}/components/probe-ingresses")
    if args.ephemeral_spool:
        components.append(f"{relative}/components/ephemeral-spool")
    document: dict[str, Any] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": args.namespace,
        "resources": [f"{relative}/base"],
    }
    if components:
        document["components"] = components
    image: dict[str, str] = {"name": "site-status", "newName": name}
    if tag:
        image["newTag"] = tag
    document["images"] = [image]
    document["labels"] = [
        {
            "pairs": {
                "site-status.io/environment": args.environment,
                "site-status.io/tier": args.tier,
                "site-status.io/profile": args.profile,
            },
            "includeSelectors": False,
            "includeTemplates": True,
        }
    ]
    document["configMapGenerator"] = [
        {"name": "site-status-config", "behavior": "replace", "files": ["site-status.yaml"]}
    ]
    document["patches"] = [{"path": "apiserver.yaml"}]
    if args.monitoring_namespace != DEFAULT_MONITORING:
        document["patches"].append(
            {
                "target": {"kind": "NetworkPolicy", "name": "site-status"},
                "patch": yaml.safe_dump(scraper_patch(args.monitoring_namespace), sort_keys=False),
            }
        )
    return document


def scraper_patch(namespace: str) -> list[dict[str, Any]]:
    """Let Prometheus in from ``namespace`` instead (k8s/base/networkpolicy.yaml)."""
    path = "/spec/ingress/0/from/0/namespaceSelector/matchLabels/kubernetes.io~1metadata.name"
    return [
        {"op": "test", "path": path, "value": DEFAULT_MONITORING},
        {"op": "replace", "path": path, "value": namespace},
    ]


def apiserver_patch(cidr: str) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "site-status-apiserver"},
        "spec": {
            "egress": [
                {
                    "to": [{"ipBlock": {"cidr": str(ipaddress.ip_network(cidr))}}],
                    "ports": [
                        {"port": 6443, "protocol": "TCP"},
                        {"port": 443, "protocol": "TCP"},
                    ],
                }
            ]
        },
    }


def header(args: argparse.Namespace) -> str:
    """The command that writes this overlay again (a test runs it and compares)."""
    argv = [args.namespace, "--tier", args.tier, "--environment", args.environment]
    argv += ["--profile", args.profile, "--apiserver", args.apiserver, "--image", args.image]
    if args.drupal_exec:
        argv.append("--drupal-exec")
    if args.probe_ingresses:
        argv.append("--probe-ingresses")
    if args.ephemeral_spool:
        argv.append("--ephemeral-spool")
    if args.monitoring_namespace != DEFAULT_MONITORING:
        argv += ["--monitoring-namespace", args.monitoring_namespace]
    return f"# Written by: python3 k8s/new-site.py {shlex.join(argv)}\n"


def site_files(args: argparse.Namespace, config_text: str, overlay: Path) -> dict[str, str]:
    import yaml  # here: main() first makes sure this interpreter has it

    relative = Path(os.path.relpath(K8S, overlay.resolve())).as_posix()

    def dump(document: dict[str, Any]) -> str:
        return header(args) + yaml.safe_dump(document, sort_keys=False)

    return {
        "kustomization.yaml": dump(kustomization(args, relative)),
        "apiserver.yaml": (
            "# The API server's address in this cluster (k8s/base/networkpolicy-apiserver.yaml).\n"
            + dump(apiserver_patch(args.apiserver))
        ),
        "site-status.yaml": config_text,
    }


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="k8s/new-site.py", description=__doc__.split("\n")[0])
    p.add_argument("namespace", help="the site's namespace (its name: the site)")
    p.add_argument("--tier", required=True, choices=TIERS)
    p.add_argument("--environment", required=True)
    p.add_argument("--profile", default="")
    p.add_argument("--apiserver", required=True, help="the API server endpoint(s), as a CIDR")
    p.add_argument("--image", required=True, help="the exporter's image, name:tag")
    p.add_argument("--config", type=Path, help="the site's config (default: a starter)")
    p.add_argument("--drupal-exec", action="store_true", help="pods/exec for a drupal probe")
    p.add_argument(
        "--probe-ingresses", action="store_true", help="allow egress to the ingress controller"
    )
    p.add_argument(
        "--ephemeral-spool",
        action="store_true",
        help="the Loki spool on an emptyDir, not a PersistentVolumeClaim (lost with the pod)",
    )
    p.add_argument(
        "--monitoring-namespace",
        default=DEFAULT_MONITORING,
        help="the namespace Prometheus scrapes from (the NetworkPolicy lets only it in)",
    )
    p.add_argument("--out", type=Path, default=K8S / "overlays", help="where overlays live")
    p.add_argument("--force", action="store_true", help="overwrite an existing overlay")
    return p


def retire_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="k8s/new-site.py --retire", description="Retire a site.")
    p.add_argument("--retire", metavar="NAMESPACE", required=True, help="the site to retire")
    p.add_argument(
        "--scale-to-zero",
        action="store_true",
        help="keep the namespace: scale every Deployment and StatefulSet to zero",
    )
    p.add_argument("--out", type=Path, default=K8S / "overlays", help="where overlays live")
    return p


def retire(argv: Sequence[str]) -> int:
    args = retire_parser().parse_args(argv)
    namespace = args.retire
    if not DNS_LABEL.match(namespace):
        print(f"new-site: {namespace!r} is not a namespace name", file=sys.stderr)
        return 2
    overlay = args.out / namespace
    if overlay.is_dir():
        for path in sorted(overlay.rglob("*"), reverse=True):
            path.rmdir() if path.is_dir() else path.unlink()
        overlay.rmdir()
        print(f"removed {overlay}")
    else:
        print(f"no overlay at {overlay}: nothing to remove")
    quoted = shlex.quote(namespace)
    if args.scale_to_zero:
        command = f"kubectl -n {quoted} scale deployment,statefulset --all --replicas=0"
    else:
        command = f"kubectl delete namespace {quoted}"
    print(f"then, in the cluster: {command}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if any(word == "--retire" or word.startswith("--retire=") for word in argv):
        return retire(argv)  # removes files only: needs no validation
    needed = with_project_interpreter(argv)
    if needed:
        print(needed, file=sys.stderr)
        return 2
    args = parser().parse_args(argv)
    if args.config is not None:
        try:
            config_text = args.config.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            print(f"new-site: cannot read --config: {error}", file=sys.stderr)
            return 2
    else:
        config_text = STARTER_CONFIG.format(
            namespace=args.namespace,
            tier=args.tier,
            ingresses="true" if args.probe_ingresses else "false",
        )
    overlay = args.out / args.namespace
    try:
        check(args, config_text)
        if overlay.exists() and not args.force:
            raise SiteError(f"{overlay} exists (use --force to overwrite)")
    except SiteError as error:
        print(f"new-site: {error}", file=sys.stderr)
        return 2
    overlay.mkdir(parents=True, exist_ok=True)
    for name, text in site_files(args, config_text, overlay).items():
        (overlay / name).write_text(text, encoding="utf-8")
    print(f"wrote {overlay}: kubectl apply -k {overlay}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
