"""Every alert's links open: the runbooks from a checkout served as docs/operations.md says, the
dashboards on Grafana's port; a config left at an example host fails the generation."""

from __future__ import annotations

import functools
import json
import threading
import urllib.request
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from mixin.config import MixinConfig
from mixin.generate import REPO, main

RULE_FILES = sorted((REPO / "alerts").glob("*.rules.yml"))


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def served_checkout() -> Iterator[str]:
    """The checkout as ``python3 -m http.server`` serves it (the same handler), on any port."""
    handler = functools.partial(QuietHandler, directory=str(REPO))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def alert_annotations() -> list[tuple[str, dict[str, str]]]:
    return [
        (rule["alert"], rule["annotations"])
        for path in RULE_FILES
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]


def test_every_runbook_link_opens_from_a_served_checkout(served_checkout: str) -> None:
    default = MixinConfig().runbook_url_base
    assert urlsplit(default).netloc == "localhost:8000"  # python3 -m http.server's port
    alerts = alert_annotations()
    assert len(alerts) > 15
    for name, links in alerts:
        url = links["runbook_url"]
        assert url == f"{default}/{name}.md"
        here = served_checkout + urlsplit(url).path
        with urllib.request.urlopen(here, timeout=10) as answer:
            assert answer.status == 200
            assert answer.read().decode().startswith(f"# {name}\n"), url


def test_every_dashboard_link_names_a_shipped_dashboard() -> None:
    uids = {json.loads(path.read_text())["uid"] for path in (REPO / "dashboards").glob("*.json")}
    for name, links in alert_annotations():
        parts = urlsplit(links["dashboard_url"])
        assert f"{parts.scheme}://{parts.netloc}" == MixinConfig().grafana_url, name
        assert parts.path.split("/")[1] == "d" and parts.path.split("/")[2] in uids, name


@pytest.mark.parametrize(
    "line",
    [
        "grafana_url: https://grafana.example",
        "runbook_url_base: https://docs.example.org/runbooks",
        "grafana_url: grafana.ops.internal",
    ],
)
def test_a_link_left_at_an_example_host_fails_the_generation(
    line: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "mixin.yaml"
    config.write_text(line + "\n")
    assert main(["--config", str(config), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and line.split(":", 1)[0] in err
    assert not (tmp_path / "out").exists()


def test_a_real_host_generates(tmp_path: Path) -> None:
    config = tmp_path / "mixin.yaml"
    config.write_text("grafana_url: https://grafana.ops.internal/\n")
    assert main(["--config", str(config), "--out", str(tmp_path / "out")]) == 0
    rules = (tmp_path / "out" / "alerts" / "site-status-alerts.rules.yml").read_text()
    assert "https://grafana.ops.internal/d/" in rules
