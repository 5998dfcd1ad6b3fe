"""docs/operations.md, run step by step in the order written, and every runbook's first commands.

Each command of a step's ``sh`` block goes to a handler for its program. What can run here runs
for real: ``k8s/new-site.py`` (on a copy of k8s/), ``site-status validate``, ``python -m mixin``,
``promtool``, ``amtool`` and ``curl`` against a real Prometheus (the shipped rules) and
Alertmanager (the shipped routing), scraping an exporter that runs the rendered site's config.
What needs a cluster is checked against the manifests kustomize renders: the namespace, the
Deployment and its ports, the config file's path in the pod, the maintenance annotation's name.
A command with no handler fails the test: a step nobody checks is a step that can drift.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from exporter.kube.deployment import MAINTENANCE_UNTIL
from mixin.config import MixinConfig
from tests.support.exporter_process import (
    RunningExporter,
    running_exporter,
    site_status,
    wait_until,
)
from tests.support.kustomize import documents
from tests.support.monitoring import Prometheus, running_alertmanager, running_prometheus

REPO = Path(__file__).resolve().parents[2]
OPERATIONS = REPO / "docs" / "operations.md"
RUNBOOKS = sorted((REPO / "docs" / "runbooks").glob("*.md"))
STEP = re.compile(r"^## (\d+)\. (.+)$", re.MULTILINE)
SH_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.MULTILINE | re.DOTALL)
#: kube-prometheus-stack's Services for the release "kube-prometheus-stack": name -> port.
STACK_SERVICES = {
    "kube-prometheus-stack-prometheus": 9090,
    "kube-prometheus-stack-alertmanager": 9093,
    "kube-prometheus-stack-grafana": 80,
}


def commands(block: str) -> list[str]:
    """The block's commands: continuation lines joined, comments and a trailing ``&`` gone."""
    joined = re.sub(r"\\\n\s*", " ", block)
    found = []
    for line in joined.splitlines():
        words = shlex.split(line, comments=True)
        if words and words[-1] == "&":
            words = words[:-1]
        if words:
            found.append(shlex.join(words))
    return found


def steps(text: str) -> list[tuple[int, str, list[str]]]:
    matches = list(STEP.finditer(text))
    found = []
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        body = text[match.end() : end]
        found.append(
            (
                int(match.group(1)),
                match.group(2),
                [c for b in SH_BLOCK.findall(body) for c in commands(b)],
            )
        )
    return found


class Lifecycle:
    """The state a reader builds up going through the steps, and a handler per program."""

    def __init__(self, root: Path, workdir: Path) -> None:
        self.root = root  # a copy of the checkout's k8s/, where the steps write overlays
        self.workdir = workdir
        self.env: dict[str, str] = {}
        self.manifests: dict[str, list[dict[str, Any]]] = {}  # namespace -> rendered objects
        self.forwards: dict[int, str] = {}  # local port -> the real service's host:port
        self.stack: contextlib.ExitStack | None = None
        self.prometheus: Prometheus | None = None
        self.exporter: RunningExporter | None = None
        self.alertmanager = ""
        self.image = ""
        self.starter_tenant = ""
        self.validated: set[str] = set()  # config texts `site-status validate` passed

    # --- dispatch ------------------------------------------------------------------------

    def run(self, command: str) -> None:
        words = [self.expand(word) for word in shlex.split(command)]
        if re.fullmatch(r"[A-Z_]+=.*", words[0]) and len(words) == 1:
            name, _, value = words[0].partition("=")
            self.env[name] = value
            return
        program = words[0]
        handler = {
            "helm": self.helm,
            "podman": self.podman,
            ".venv/bin/python": self.python,
            "python3": self.python,
            "kubectl": self.kubectl,
            "site-status": self.site_status,
            "curl": self.curl,
            "amtool": self.amtool,
            "cp": self.copy,
            "git": self.git,
        }.get(program)
        assert handler is not None, f"no handler for: {command}"
        handler(words[1:])

    def expand(self, word: str) -> str:
        word = re.sub(r"\$\{?([A-Z_]+)\}?", lambda m: self.env[m.group(1)], word)
        # "$(date ...)": a command substitution, run as the shell would.
        return re.sub(
            r"\$\((.*)\)",
            lambda m: subprocess.check_output(["bash", "-c", m.group(1)], text=True).strip(),
            word,
        )

    # --- handlers ------------------------------------------------------------------------

    def helm(self, args: list[str]) -> None:
        if args[:2] == ["repo", "add"]:
            assert args[3].startswith("https://"), args
            return
        assert args[:2] == ["upgrade", "--install"], args
        chart, namespace = args[3], args[args.index("-n") + 1]
        values = args[args.index("-f") + 1]
        policy = next(
            d
            for d in documents(REPO / "k8s" / "base")
            if d["kind"] == "NetworkPolicy" and d["metadata"]["name"] == "site-status"
        )
        if chart == "prometheus-community/kube-prometheus-stack":
            # The sites' NetworkPolicy lets this namespace scrape; the data source reads the
            # tenant every site pushes to.
            scraper = policy["spec"]["ingress"][0]["from"][0]["namespaceSelector"]
            assert scraper["matchLabels"]["kubernetes.io/metadata.name"] == namespace
            (loki,) = [
                d
                for d in yaml.safe_load((REPO / values).read_text())["grafana"][
                    "additionalDataSources"
                ]
                if d["type"] == "loki"
            ]
            assert loki["jsonData"]["httpHeaderName1"] == "X-Scope-OrgID"
            self.env["_TENANT"] = loki["secureJsonData"]["httpHeaderValue1"]
            assert (
                urlsplit(loki["url"]).hostname
                == f"loki-gateway.{self.loki_namespace()}.svc.cluster.local"
            )
        elif chart == "grafana/loki":
            assert namespace == self.loki_namespace()
            assert not (REPO / values).exists()  # the reader's own values, said so in the step
        else:
            raise AssertionError(f"unknown chart {chart}")

    def loki_namespace(self) -> str:
        policy = next(
            d
            for d in documents(REPO / "k8s" / "base")
            if d["kind"] == "NetworkPolicy" and d["metadata"]["name"] == "site-status"
        )
        for rule in policy["spec"]["egress"]:
            for peer in rule.get("to", []):
                selector = peer.get("podSelector", {}).get("matchLabels", {})
                if selector.get("app.kubernetes.io/name") == "loki":
                    labels: dict[str, str] = peer["namespaceSelector"]["matchLabels"]
                    return labels["kubernetes.io/metadata.name"]
        raise AssertionError("no Loki egress")

    def podman(self, args: list[str]) -> None:
        if args[0] == "build":
            assert (
                args[args.index("-f") + 1] == "Containerfile" and (REPO / "Containerfile").is_file()
            )
            self.image = args[args.index("-t") + 1]
        else:
            assert args == ["push", self.image], args

    def python(self, args: list[str]) -> None:
        if args[:2] == ["-m", "mixin"]:
            done = subprocess.run(
                [sys.executable, "-m", "mixin", *args[2:]],
                cwd=REPO,
                capture_output=True,
                text=True,
                check=False,
            )
            assert done.returncode == 0, done.stderr
        elif args[:2] == ["-m", "http.server"]:
            base = urlsplit(MixinConfig().runbook_url_base)
            assert base.port == int(args[2]) and (REPO / base.path.lstrip("/")).is_dir()
        else:
            assert args[0] == "k8s/new-site.py", args
            done = subprocess.run(
                [sys.executable, *args],
                cwd=self.root,
                capture_output=True,
                text=True,
                check=False,
                env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
            )
            assert done.returncode == 0, done.stderr
            config = yaml.safe_load(
                (self.root / "k8s/overlays" / args[1] / "site-status.yaml").read_text()
            )
            assert config["reports"]["loki"]["tenant"] == self.env["_TENANT"]

    def site_status(self, args: list[str]) -> None:
        assert args[:2] == ["validate", "--config"], args
        done = site_status("validate", "--config", str(self.root / args[2]))
        assert done.returncode == 0, done.stdout + done.stderr

    def kubectl(self, args: list[str]) -> None:
        namespace = None
        if args[0] == "-n":
            namespace, args = args[1], args[2:]
        verb = args[0]
        if verb in ("get", "describe", "top"):
            return  # a read-only question to the cluster
        if verb in ("apply", "delete"):
            directory = args[args.index("-k") + 1]
            objects = documents(
                REPO / directory if directory == "k8s/cluster" else self.root / directory
            )
            assert objects, directory
            if verb == "apply" and directory != "k8s/cluster":
                (site,) = {o["metadata"]["namespace"] for o in objects}
                self.manifests[site] = objects
            return
        assert namespace is not None, args
        if namespace == "monitoring":
            assert verb == "port-forward", args
            return self.forward_stack(args)
        deployment = self.deployment(namespace, args)
        if verb == "rollout":
            assert args[1] == "status"
        elif verb == "port-forward":
            local, remote = map(int, args[2].split(":"))
            ports = [
                p["containerPort"]
                for c in deployment["spec"]["template"]["spec"]["containers"]
                for p in c.get("ports", [])
            ]
            assert remote in ports
            self.start_stack(namespace)
            assert self.exporter is not None
            self.forwards[local] = urlsplit(self.exporter.url).netloc
        elif verb == "logs":
            assert "--previous" in args or "-p" in args
        elif verb == "exec":
            self.exec_in(namespace, deployment, args[args.index("--") + 1 :])
        elif verb == "annotate":
            changes = [a for a in args[args.index("deployment") + 2 :] if not a.startswith("--")]
            assert changes, args
            for item in changes:
                key, _, value = item.partition("=")
                assert key.rstrip("-") == MAINTENANCE_UNTIL, item
                if value:
                    datetime.fromisoformat(value)
        else:
            raise AssertionError(f"no handler for kubectl {verb}")

    def deployment(self, namespace: str, args: list[str]) -> dict[str, Any]:
        target = next(a for a in args[1:] if "/" in a or a == "deployment")
        name = (
            args[args.index("deployment") + 1] if target == "deployment" else target.split("/")[1]
        )
        objects = self.manifests[namespace]
        (found,) = [
            o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == name
        ]
        return found

    def exec_in(self, namespace: str, deployment: dict[str, Any], command: list[str]) -> None:
        assert command[:3] == ["site-status", "validate", "--config"], command
        path = Path(command[3])
        pod = deployment["spec"]["template"]["spec"]
        (mount,) = [
            m
            for c in pod["containers"]
            for m in c["volumeMounts"]
            if m["mountPath"] == str(path.parent)
        ]
        (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
        (config_map,) = [
            o
            for o in self.manifests[namespace]
            if o["kind"] == "ConfigMap" and o["metadata"]["name"] == volume["configMap"]["name"]
        ]
        text = config_map["data"][path.name]
        if text in self.validated:  # many runbooks ask first: the same answer, once
            return
        file = self.workdir / "in-pod.yaml"
        file.write_text(text)
        done = site_status("validate", "--config", str(file))
        assert done.returncode == 0, done.stdout + done.stderr
        self.validated.add(text)

    def forward_stack(self, args: list[str]) -> None:
        service = args[1].removeprefix("svc/")
        local, remote = map(int, args[2].split(":"))
        assert STACK_SERVICES[service] == remote, args
        if service.endswith("grafana"):
            assert urlsplit(MixinConfig().grafana_url).port == local
            return
        self.start_stack(next(iter(self.manifests)))
        assert self.prometheus is not None
        real = (
            self.prometheus.url if service.endswith("prometheus") else f"http://{self.alertmanager}"
        )
        self.forwards[local] = urlsplit(real).netloc

    def start_stack(self, namespace: str) -> None:
        """The site's exporter on its rendered config, Prometheus with the shipped rules
        scraping it as a ServiceMonitor would (job and namespace labels), Alertmanager."""
        if self.stack is not None:
            return
        self.stack = contextlib.ExitStack()
        (config_map,) = [o for o in self.manifests[namespace] if o["kind"] == "ConfigMap"]
        config = yaml.safe_load(config_map["data"]["site-status.yaml"])
        # Here there is no cluster, no Loki and no /var/lib/site-status: the rest is as rendered.
        config["kubernetes"] = {"enabled": False}
        config["reports"] = {"file": str(self.workdir / "reports.jsonl")}
        config["site"]["name"] = namespace
        for probe in config["probes"]:
            if probe.get("path") == "/var/lib/site-status":
                probe["path"] = str(self.workdir)
        path = self.workdir / "site.yaml"
        path.write_text(yaml.safe_dump(config))
        self.exporter = self.stack.enter_context(running_exporter(path, self.workdir))
        am_dir = self.workdir / "alertmanager"
        am_dir.mkdir()
        routing = yaml.safe_load((REPO / "alerts" / "alertmanager.yml").read_text())
        for template in routing.get("templates", []):
            shutil.copy(REPO / "alerts" / template, am_dir / template)
        self.alertmanager = self.stack.enter_context(running_alertmanager(am_dir, routing))
        prom_dir = self.workdir / "prometheus"
        prom_dir.mkdir()
        self.prometheus = self.stack.enter_context(
            running_prometheus(
                prom_dir,
                [urlsplit(self.exporter.url).netloc],
                sorted((REPO / "alerts").glob("*.rules.yml")),
                self.alertmanager,
                "1s",
                target_labels={"namespace": namespace},
            )
        )
        prometheus = self.prometheus

        def scraped() -> bool:
            return bool(prometheus.query(f'site_status_site_info{{site="{namespace}"}}'))

        wait_until(scraped, timeout=30, interval=0.2)

    def local(self, url: str) -> str:
        parts = urlsplit(url)
        assert parts.hostname == "localhost" and parts.port in self.forwards, url
        return url.replace(f"localhost:{parts.port}", self.forwards[parts.port], 1)

    def curl(self, args: list[str]) -> None:
        real = [self.local(a) if a.startswith("http://localhost") else a for a in args]
        done = subprocess.run(
            ["curl", "--fail-with-body", *real],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        answer = json.loads(done.stdout)
        if "/api/v1/" in " ".join(args):
            assert answer["status"] == "success", answer
            if "site_info" in " ".join(args) or "up{" in " ".join(args):
                assert answer["data"]["result"], (args, answer)

    def amtool(self, args: list[str]) -> None:
        real = [
            "--alertmanager.url=" + self.local(a.split("=", 1)[1])
            if a.startswith("--alertmanager.url=")
            else a
            for a in args
        ]
        done = subprocess.run(
            ["amtool", *real], cwd=REPO, capture_output=True, text=True, timeout=30, check=False
        )
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        if args[:3] == ["config", "routes", "test"]:
            assert done.stdout.strip() == "pager", done.stdout

    def copy(self, args: list[str]) -> None:
        shutil.copy(self.root / args[0], self.root / args[1])

    def git(self, args: list[str]) -> None:
        assert args[:2] == ["rm", "-r"], args
        target = self.root / args[2]
        assert target.is_dir()
        shutil.rmtree(target)

    def close(self) -> None:
        if self.stack is not None:
            self.stack.close()


@pytest.fixture
def lifecycle(tmp_path: Path) -> Iterator[Lifecycle]:
    root = tmp_path / "checkout"
    shutil.copytree(REPO / "k8s", root / "k8s", ignore=shutil.ignore_patterns("overlays"))
    (root / "k8s" / "overlays").mkdir()
    shutil.copy(REPO / "pyproject.toml", root)  # new-site.py reads the project's requirements
    (tmp_path / "work").mkdir()
    life = Lifecycle(root, tmp_path / "work")
    try:
        yield life
    finally:
        life.close()


def test_the_steps_are_numbered_in_order() -> None:
    numbers = [number for number, _, _ in steps(OPERATIONS.read_text())]
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= 10


@pytest.mark.slow
def test_every_step_runs_in_the_order_written(lifecycle: Lifecycle) -> None:
    for number, title, step_commands in steps(OPERATIONS.read_text()):
        assert step_commands, f"step {number} ({title}) has no commands"
        for command in step_commands:
            try:
                lifecycle.run(command)
            except AssertionError as error:
                raise AssertionError(f"step {number} ({title}): {command}: {error}") from None


def first_commands(runbook: Path) -> list[str]:
    section = runbook.read_text().split("## First commands\n", 1)[1].split("\n## ", 1)[0]
    (block,) = SH_BLOCK.findall(section)
    return commands(block)


@functools.cache
def alert_labels() -> dict[str, set[str]]:
    """The labels each alert carries, from the promtool tests' expectations; an alert those do
    not cover, from its rule: the ``by``/``on`` lists, and the labels its annotations use."""
    labels: dict[str, set[str]] = {}
    for path in (REPO / "tests" / "mixin" / "promtool").glob("*.yml"):
        for group in yaml.safe_load(path.read_text()).get("tests", []):
            for case in group.get("alert_rule_test", []):
                for alert in case.get("exp_alerts") or []:
                    labels.setdefault(case["alertname"], set()).update(alert["exp_labels"])
    for path in (REPO / "alerts").glob("*.rules.yml"):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if "alert" in rule and rule["alert"] not in labels:
                    kept = re.findall(r"\b(?:by|on)\s*\(([^)]*)\)", rule["expr"])
                    labels[rule["alert"]] = {
                        name.strip() for group_labels in kept for name in group_labels.split(",")
                    } | set(re.findall(r"\$labels\.([a-z_]+)", str(rule["annotations"])))
    return labels


@pytest.mark.parametrize("runbook", RUNBOOKS, ids=lambda p: p.stem)
def test_first_commands_are_filled_from_the_alerts_labels(runbook: Path) -> None:
    carried = alert_labels()[runbook.stem]
    block = runbook.read_text().split("## First commands\n", 1)[1].split("```sh\n", 1)[1]
    assignments = re.findall(r"^([A-Z_]+)=\S+\s+# the alert's ([a-z_]+) label$", block, re.M)
    assert assignments, "the block starts with the alert's labels"
    for _variable, label in assignments:
        assert label in carried, f"{runbook.stem} has no {label} label ({sorted(carried)})"
    assert len(first_commands(runbook)) >= 3


@pytest.mark.slow
def test_every_runbooks_first_commands_run(lifecycle: Lifecycle) -> None:
    lifecycle.manifests["shop"] = documents(REPO / "k8s" / "overlays" / "example")
    for runbook in RUNBOOKS:
        for command in first_commands(runbook):
            try:
                lifecycle.run(command)
            except AssertionError as error:
                raise AssertionError(f"{runbook.stem}: {command}: {error}") from None
