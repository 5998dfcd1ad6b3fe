"""Text from outside shown, never obeyed: in ``check``, the JSONL reports, drush's text and the
error answers of the endpoints (finding 7 of issue 23; the gate's side: tests/gate)."""

from __future__ import annotations

import json
import textwrap
import urllib.error
import urllib.request
from pathlib import Path

from exporter.reports.schema import encode
from exporter.store import ResultStore
from probes.drupal.drush_requirements import plain_text
from tests.core.test_status_endpoint import served
from tests.support.exporter_process import site_status

#: A C1 CSI (a one-byte ESC [ on some terminals), a right-to-left override, a line separator.
HOSTILE = "\x9b2J\u202ecod.exe\u2028"
UNSAFE = ("\x9b", "\u202e", "\u2028")


def test_check_shows_controls_and_bidi_overrides_in_a_summary_as_escapes(tmp_path: Path) -> None:
    missing = tmp_path / f"release{HOSTILE}"
    config = tmp_path / "site.yaml"
    config.write_text(
        textwrap.dedent(
            f"""
            site: {{name: shop}}
            reports: {{file: {tmp_path / "reports.jsonl"}}}
            probes:
              - {{name: marker, kind: file, path: {json.dumps(str(missing))}}}
            """
        )
    )
    done = site_status("check", "--config", str(config))
    assert done.returncode == 2, done.stdout + done.stderr
    assert not [char for char in UNSAFE if char in done.stdout]
    assert "release\\x9b2J\\u202ecod.exe\\u2028 is missing" in done.stdout


def test_a_report_line_escapes_what_a_terminal_would_obey() -> None:
    report = {"report_type": "transition", "summary": f"down {HOSTILE}\x7f", "details": {}}
    line = encode(report)
    assert not [char for char in (*UNSAFE, "\x7f") if char in line]
    assert json.loads(line)["summary"] == f"down {HOSTILE}\x7f"


def test_drush_text_is_unescaped_before_its_tags_are_stripped() -> None:
    """``&lt;script&gt;`` became a literal ``<script>`` in summaries, labels and Events."""
    text = plain_text("&lt;script&gt;alert(1)&lt;/script&gt; &lt;b&gt;Cron&lt;/b&gt; ran", 200)
    assert text == "Cron ran"
    assert plain_text("&amp;lt;em&amp;gt;twice&amp;lt;/em&amp;gt;", 200) == "twice"
    assert plain_text(f"PHP {HOSTILE} 8.3", 200) == "PHP 2J cod.exe 8.3"


def test_an_error_answer_is_never_sniffed_into_html() -> None:
    with served_store() as site:
        try:
            urllib.request.urlopen(f"{site}/status?status=<script>alert(1)</script>", timeout=5)
        except urllib.error.HTTPError as error:
            assert error.code == 400
            assert error.headers["X-Content-Type-Options"] == "nosniff"
            assert error.headers["Content-Type"].startswith("text/plain")
        else:
            raise AssertionError("an unknown status was accepted")


def served_store():  # type: ignore[no-untyped-def]
    import contextlib

    return contextlib.contextmanager(served)(ResultStore())
