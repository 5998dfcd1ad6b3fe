"""The gate's usage as people write it: a URL without a scheme is a usage mistake (2), not an
unreachable source (3); the exporter's base URL and its /status both work; right after a deploy
the one-shot gate waits for the probes' first results; every option has help text, and
docs/gate.md's option table lists exactly the options the gate has."""

from __future__ import annotations

import contextlib
import http.server
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from exporter.cli import main
from tests.gate.conftest import gate, running_site
from tests.support.exporter_process import REPO, command_env, running_exporter


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("127.0.0.1:9918", "'127.0.0.1:9918' has no scheme: write http://127.0.0.1:9918"),
        ("site-status:9918", "'site-status:9918' has no scheme: write http://site-status:9918"),
        ("ftp://site-status", "'ftp://site-status': the scheme must be http or https"),
        ("http://site-status:99x", "'http://site-status:99x': the port is not a number"),
        ("", "empty: give a URL, e.g. http://127.0.0.1:9918"),
    ],
)
def test_a_malformed_url_is_a_usage_mistake(
    url: str, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["gate", "--url", url])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"site-status gate: error: argument --url: {says}"
    )


def test_a_prometheus_url_without_scheme_is_a_usage_mistake(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["gate", "--prometheus", "prometheus:9090"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.endswith(
        "argument --prometheus: 'prometheus:9090' has no scheme: write http://prometheus:9090\n"
    )


def test_base_url_and_status_url_both_work(tmp_path: Path) -> None:
    with running_site(tmp_path, "shop") as shop:
        for url in (shop.exporter.url, f"{shop.exporter.url}/status", f"{shop.exporter.url}/"):
            done = gate("--url", url)
            assert done.returncode == 0, (url, done.stdout, done.stderr)
            assert done.stdout.splitlines() == ["GATE OK - 1 site(s) at most OK"]


@contextlib.contextmanager
def held_healthz() -> Iterator[tuple[str, threading.Event]]:
    """A healthz endpoint that answers 200 only once the test lets it: until then, a probe of it
    has no result yet."""
    release = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            release.wait(30)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/healthz", release
    finally:
        release.set()
        server.shutdown()
        server.server_close()


def test_right_after_a_deploy_the_gate_waits_for_first_results(tmp_path: Path) -> None:
    with held_healthz() as (url, release):
        config = tmp_path / "site.yaml"
        document = {
            "site": {"name": "shop"},
            "reports": {"file": str(tmp_path / "reports.jsonl")},
            "defaults": {"interval": "20s", "timeout": "15s"},
            "probes": [{"name": "frontpage", "kind": "http", "url": url}],
        }
        config.write_text(yaml.safe_dump(document))
        with running_exporter(config, tmp_path) as exporter:
            waiting = subprocess.Popen(
                [sys.executable, "-m", "exporter", "gate", "--url", exporter.url],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=command_env(),
            )
            assert waiting.stderr is not None
            said = waiting.stderr.readline()
            assert said == "waiting up to 40s for first results: shop (1 probe(s))\n"
            at_once = gate("--url", exporter.url, "--wait-first-result", "0")
            assert at_once.returncode == 1
            assert at_once.stdout.splitlines() == [
                "GATE FAIL - 1 of 1 site(s) above OK: shop",
                "shop UNKNOWN - frontpage: no result yet",
            ]
            release.set()
            out, err = waiting.communicate(timeout=60)
    assert waiting.returncode == 0, out + err
    assert out.splitlines() == ["GATE OK - 1 site(s) at most OK"]


def help_of(capsys: pytest.CaptureFixture[str], *command: str) -> str:
    with pytest.raises(SystemExit):
        main([*command, "--help"])
    return capsys.readouterr().out


def options_and_help(text: str) -> dict[str, str]:
    """Each long option of a --help text and its help (empty when it has none)."""
    entries: dict[str, str] = {}
    name = ""
    for line in text.split("options:", 1)[1].splitlines():
        if line.startswith("  -"):
            head, _, help_text = line.strip().partition("  ")
            name = re.findall(r"--[a-z-]+", head)[-1]
            entries[name] = help_text.strip()
        elif name and line.startswith("   "):
            entries[name] += line.strip()
    return entries


def test_every_option_of_every_command_has_help_text(capsys: pytest.CaptureFixture[str]) -> None:
    listed = help_of(capsys).split("COMMAND\n", 1)[1].split("options:", 1)[0]
    commands = re.findall(r"^    (\w+) ", listed, re.MULTILINE)
    assert {"run", "check", "validate", "gate"} <= set(commands)
    missing = [
        f"{command} {option}"
        for command in commands
        for option, text in options_and_help(help_of(capsys, command)).items()
        if not text
    ]
    assert missing == []


def test_the_option_table_of_docs_gate_md_lists_every_option(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = (REPO / "docs" / "gate.md").read_text()
    documented = set(re.findall(r"^\| `(--[a-z-]+)", text, re.MULTILINE))
    options = set(options_and_help(help_of(capsys, "gate"))) - {"--help"}
    assert documented == options - {"--url", "--prometheus"}
