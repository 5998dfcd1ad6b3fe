"""The mistakes a person makes in the first hour each get one line that points the right way
(seen on a fresh clone, issue 27): a scheme in --listen, an empty --listen, probes written as a
mapping, a tab in the YAML, a config with no probes."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporter.cli import main


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        code = main(list(args))
    except SystemExit as exit_:  # argparse's usage errors
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("listen", "says"),
    [
        (
            "http://127.0.0.1:19922",
            "invalid --listen: listen address 'http://127.0.0.1:19922' takes no scheme: "
            "write 127.0.0.1:19922",
        ),
        ("", "invalid --listen: listen address is empty: write HOST:PORT or :PORT (e.g. :9918)"),
    ],
)
def test_listen_mistakes(listen: str, says: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(capsys, "run", "--listen", listen) == (2, "", says + "\n")


def config_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "site.yaml"
    path.write_text(text)
    return str(path)


def test_probes_written_as_a_mapping(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = config_file(tmp_path, "site: {name: shop}\nprobes:\n  load: {kind: load}\n")
    assert run_cli(capsys, "validate", "--config", path) == (
        2,
        "",
        f"invalid config {path}: probes (line 3): must be a list: start each entry with '- ' "
        "(this is a mapping)\n",
    )


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("site: {name: shop}\nprobes:\n\t- {name: load, kind: load}\n", 3),
        ("probes:\n  - name: load\n    kind: load\n\tinterval: 5s\n", 4),
    ],
)
def test_a_tab_in_the_yaml_is_named(
    tmp_path: Path, text: str, line: int, capsys: pytest.CaptureFixture[str]
) -> None:
    path = config_file(tmp_path, text)
    assert run_cli(capsys, "validate", "--config", path) == (
        2,
        "",
        f"invalid config {path}: <config> (line {line}): invalid YAML: a tab at column 1: "
        "YAML indents with spaces, never tabs\n",
    )


def test_a_config_without_probes_is_no_ok(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = config_file(tmp_path, "")
    assert run_cli(capsys, "validate", "--config", path) == (
        2,
        "",
        f"invalid config {path}: no probes, nothing to check\n",
    )
    assert run_cli(capsys, "check", "--config", path) == (
        3,
        f"SITE-STATUS UNKNOWN - no probes: {path} has none, so nothing is checked "
        "(add a probes: list)\n",
        "",
    )


def test_validate_says_which_secret_files_are_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    present = tmp_path / "password"
    present.write_text("s3cret\n")
    missing = tmp_path / "token"
    path = config_file(
        tmp_path,
        "site: {name: shop}\n"
        "probes:\n"
        "  - name: api\n"
        "    kind: http\n"
        "    url: http://127.0.0.1:9/healthz\n"
        f"    bearer_token_file: {missing}\n"
        f"    basic_auth: {{username: ops, password_file: {present}}}\n",
    )
    assert run_cli(capsys, "validate", "--config", path) == (
        0,
        f"{path}: valid, 1 probe(s) for site shop\n",
        f"warning: secret file probes[0].bearer_token_file: {missing} is missing here "
        "(its probe is UNKNOWN wherever it is missing)\n",
    )
