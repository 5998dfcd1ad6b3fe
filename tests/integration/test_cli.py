"""The ``site-status`` command as operators and Nagios/Icinga run it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from exporter import __version__
from tests.support.exporter_process import command_env, site_status


def test_version() -> None:
    done = site_status("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"site-status {__version__}"


def test_check_exits_critical_and_says_why_in_one_line(tmp_path: Path) -> None:
    old = tmp_path / "forecast.nc"
    old.write_bytes(b"x" * 100)
    seven_hours_ago = time.time() - 7 * 3600
    os.utime(old, (seven_hours_ago, seven_hours_ago))
    config = tmp_path / "site.yaml"
    config.write_text(
        textwrap.dedent(f"""
        site: {{name: example-site, tier: priprod}}
        probes:
          - {{name: forecast-file, kind: file, path: {old}, max_age: {{warning: 2h, critical: 6h}}}}
          - {{name: load, kind: load, load5: {{warning: 1000, critical: 2000}}}}
    """)
    )
    done = site_status("check", "--config", str(config))
    assert done.returncode == 2, done.stderr
    first, *table = done.stdout.splitlines()
    assert first == f"SITE-STATUS CRITICAL - forecast-file: {old} is 7h old (max 6h)"
    assert table[0].split() == ["PROBE", "KIND", "STATUS", "SUMMARY"]
    assert any(row.split()[:3] == ["load", "load", "OK"] for row in table[1:])


def test_check_json_and_ok_exit(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh"
    fresh.write_text("x")
    config = tmp_path / "site.yaml"
    config.write_text(f"probes:\n  - {{name: f, kind: file, path: {fresh}, max_age: 1h}}\n")
    done = site_status("check", "--config", str(config), "--format", "json")
    assert done.returncode == 0
    document = json.loads(done.stdout)
    assert document["status"] == "OK"
    assert document["probes"][0]["details"]["matched"] == str(fresh)


def test_check_with_invalid_config_is_unknown(tmp_path: Path) -> None:
    config = tmp_path / "site.yaml"
    config.write_text("probes: [{name: f, kind: file}]\n")
    done = site_status("check", "--config", str(config))
    assert done.returncode == 3
    assert done.stdout.startswith("SITE-STATUS UNKNOWN - invalid config")
    assert "probes[0].path (line 1): Field required" in done.stderr


def test_validate_names_all_three_mistakes(tmp_path: Path) -> None:
    config = tmp_path / "site.yaml"
    config.write_text(
        textwrap.dedent("""
        site: {name: example, tier: platinum}
        defaults: {interval: 60s, timeout: 10s}
        probes:
          - {name: disk, kind: disk, path: /, used_percent: {warning: lots}}
          - {name: forecast, kind: file, path: /data/f.nc, max_age: {warning: 2h}, colour: red}
    """)
    )
    done = site_status("validate", "--config", str(config))
    assert done.returncode == 2
    errors = [line.strip() for line in done.stderr.splitlines()[1:]]
    assert len(errors) == 3, done.stderr
    assert errors[0].startswith("site.tier (line 2): Input should be 'priprod'")
    assert errors[1] == (
        "probes[0].used_percent.warning (line 5): expected a number or a Nagios range, got 'lots'"
    )
    assert errors[2] == "probes[1].colour (line 6): unknown key"


def test_validate_accepts_the_embedded_default() -> None:
    done = site_status("validate")
    assert done.returncode == 0
    assert done.stdout.startswith("embedded default config: valid, 3 probe(s)")


def test_check_runs_the_embedded_default_on_this_machine() -> None:
    done = site_status("check", "--format", "json")
    document = json.loads(done.stdout)
    assert {p["name"] for p in document["probes"]} == {"filesystems", "load", "network-mounts"}
    assert done.returncode == document["code"]
    filesystems = next(p for p in document["probes"] if p["name"] == "filesystems")
    assert filesystems["status"] != "UNKNOWN", filesystems


# --- a wrong config, address or port: one line and exit 2, never a traceback ----------------

#: 9 levels of 9 aliases (the YAML "billion laughs"), 1.3 KB as the issue found it.
ALIAS_BOMB = "\n".join(
    [
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        *(
            f"{this}: &{this} [{', '.join(['*' + previous] * 9)}]"
            for previous, this in zip("abcdefgh", "bcdefghi", strict=True)
        ),
    ]
)


def run_command(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "exporter.cli", *args],
        capture_output=True,
        text=True,
        env={**command_env(), **(env or {})},
        timeout=60,
        check=False,
    )


def assert_one_line_exit_2(done: subprocess.CompletedProcess[str], expected: str) -> None:
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert expected in done.stderr, done.stderr


@pytest.mark.parametrize(
    ("listen", "expected"),
    [
        (
            "9919",
            "invalid --listen: listen address '9919' must be HOST:PORT or :PORT "
            "(did you mean :9919?)",
        ),
        (
            ":99999",
            "invalid --listen: listen address ':99999': the port must be a number from 0 to 65535",
        ),
        ("nosuch.invalid:9918", "cannot listen on nosuch.invalid:9918: "),
    ],
)
def test_run_with_a_wrong_listen_address(listen: str, expected: str) -> None:
    assert_one_line_exit_2(run_command("run", "--listen", listen), expected)


def test_run_on_a_busy_port() -> None:
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        done = run_command("run", "--listen", f"127.0.0.1:{port}")
    assert_one_line_exit_2(done, f"cannot listen on 127.0.0.1:{port}: Address already in use")


def test_validate_checks_the_listen_variable() -> None:
    done = run_command("validate", env={"SITE_STATUS_LISTEN": "9919"})
    assert_one_line_exit_2(done, "invalid SITE_STATUS_LISTEN: listen address '9919' must be")
    assert run_command("validate", env={"SITE_STATUS_LISTEN": "127.0.0.1:9919"}).returncode == 0


@pytest.mark.parametrize("command", ["validate", "run"])
def test_unusable_config_files(command: str, tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(ALIAS_BOMB)
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes("site: {name: Tromsø}\n".encode("latin-1"))
    cases = [
        (fifo, "not a regular file (a FIFO)"),
        (Path("/dev/zero"), "not a regular file (a character device)"),
        (bomb, "aliases expand to more than 200000 values"),
        (latin1, "(line 1): not UTF-8 text: invalid byte at column 19"),
    ]
    for path, reason in cases:
        started = time.monotonic()
        done = run_command(command, "--config", str(path))
        assert time.monotonic() - started < 20
        assert_one_line_exit_2(done, f"invalid config {path}: <config>")
        assert reason in done.stderr


def test_validate_never_echoes_a_password_file(tmp_path: Path) -> None:
    shadow = tmp_path / "shadow"
    # shadow(5) lines: name, hash, last change, min, max, warn
    shadow.write_text(
        "root:$6$Zy0pLp6dWmQ2s1uB$1bDk0eFz7Rx7Q3tI0v1Xc0u7r5p3X8yLrR5fS9lDqZbqW9:19700:0:99999:7:::\n"
        "sshd: !$y$j9T$Fq0aB1cD2eF3gH4iJ5kL6.$Mn7Op8Qr9St0Uv1Wx2Yz3Ab4Cd5Ef6Gh7Ij8:19700::::::\n"
    )
    done = run_command("validate", "--config", str(shadow))
    assert done.returncode == 2
    assert "Zy0pLp6dWmQ2s1uB" not in done.stderr and "Fq0aB1cD2eF3gH4iJ5kL6" not in done.stderr
    assert "Traceback" not in done.stderr
