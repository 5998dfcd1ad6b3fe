"""The docs say what the code does: queries parse against the real grammars and name only series
that exist, counts and figures come from the rule files and the mixin's config.

PromQL is parsed by promtool (Debian's prometheus package), LogQL by Grafana's own grammar
(tools/js). A snippet is a fenced ``promql``/``logql`` block, or an inline code span that reads as
a query: it names a ``site_status_`` series (PromQL) or starts with a stream selector (LogQL).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import unquote_plus

import pytest
import yaml

from exporter.reports.loki.streams import structured_metadata
from mixin.config import MixinConfig
from tests.docs.snippets import fenced_blocks
from tests.support.node_tools import logql_syntax_errors

REPO = Path(__file__).resolve().parents[2]
DOCUMENTS = sorted([REPO / "README.md", *(REPO / "docs").rglob("*.md")])
RUNBOOKS = sorted((REPO / "docs" / "runbooks").glob("*.md"))
FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
SPAN = re.compile(r"`([^`\n]+)`")
SERIES_NAME = re.compile(r"\b(site_status_[a-z0-9_:]+|site_status:[a-z0-9_:]+)")
#: ``site_status_report_push_failing{cause}``: the docs' notation for a series and its labels.
NOTATION = re.compile(r"^[a-z_:]+\{[a-z_, ]*\}( = 1)?$")
SUFFIXES = ("_bucket", "_sum", "_count", "_total", "_created")
#: ``site_status_site:{up,known}:sum_month``: the docs' shorthand for several names.
ALTERNATIVES = re.compile(r"\{([a-z0-9_]+(?:,[a-z0-9_]+)+)\}")


def expanded(text: str) -> str:
    """The text with each ``a{b,c}d`` written out as ``abd acd``."""
    while match := re.search(
        r"([A-Za-z0-9_:]*)\{([a-z0-9_]+(?:,[a-z0-9_]+)+)\}([A-Za-z0-9_:]*)", text
    ):
        head, options, tail = match.groups()
        names = " ".join(head + option + tail for option in options.split(","))
        text = text[: match.start()] + names + text[match.end() :]
    return text


def inline_spans(document: Path) -> list[str]:
    return SPAN.findall(FENCE.sub("", document.read_text()))


def promql_snippets() -> list[tuple[str, str]]:
    """(document, expression) of every PromQL snippet."""
    found = []
    for document in DOCUMENTS:
        name = str(document.relative_to(REPO))
        for block in fenced_blocks(document, "promql"):
            found += [(name, e) for e in re.split(r"\n\s*\n", block.strip()) if e.strip()]
        for span in inline_spans(document):
            if (
                SERIES_NAME.search(span)
                and not span.lstrip().startswith("{")
                and not NOTATION.match(span)
                and not ALTERNATIVES.search(span)
                # Grafana's variable queries and shell commands are not PromQL.
                and not span.startswith(("_", "label_values(", "python", "kubectl", "curl"))
            ):
                found.append((name, span))
    return found


def logql_snippets() -> list[tuple[str, str]]:
    found = []
    for document in DOCUMENTS:
        name = str(document.relative_to(REPO))
        for block in fenced_blocks(document, "logql"):
            found += [(name, line) for line in block.splitlines() if line.strip()]
        for span in inline_spans(document):
            if span.startswith("{") and re.match(r'^\{\s*[a-z_]+\s*(=|=~|!=|!~)\s*"', span):
                found.append((name, span))
    # Grafana's interval variables stand for a duration; label values are in strings already.
    return [(name, re.sub(r"\$__(auto_)?interval|\$__range", "5m", e)) for name, e in found]


def promtool(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    assert binary, "promtool is missing: scripts/test installs Debian's prometheus package"
    return subprocess.run(
        [binary, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def promql_errors(expressions: list[str], tmp_path: Path) -> list[str]:
    """promtool's parse error for each expression that does not parse."""
    rules = [{"record": f"doc_snippet_{i}", "expr": e} for i, e in enumerate(expressions)]
    path = tmp_path / "snippets.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "docs", "rules": rules}]}))
    result = promtool("check", "rules", str(path))
    errors = []
    for line in (result.stdout + result.stderr).splitlines():
        match = re.search(r'rule (\d+), "doc_snippet_\d+": (.*)', line)
        if match:
            errors.append(f"{expressions[int(match.group(1)) - 1]!r}: {match.group(2)}")
    assert errors or result.returncode == 0, result.stdout + result.stderr
    return errors


def exported_names() -> set[str]:
    """Series names the code can export (string literals in exporter/ and probes/), the
    recording rules, Prometheus' own, and those of the docs' example plug-in kind."""
    names = {"up", "ALERTS", "ALERTS_FOR_STATE"}
    for block in fenced_blocks(REPO / "docs" / "writing-a-probe-kind.md", "python"):
        names |= set(re.findall(r"MetricFamily\(\"(site_status_[a-z0-9_]+)\"", block))
    for source in [*(REPO / "exporter").rglob("*.py"), *(REPO / "probes").rglob("*.py")]:
        names |= set(re.findall(r"[\"'](site_status_[a-z0-9_]+)[\"']", source.read_text()))
    for rules in (REPO / "alerts").glob("*.rules.yml"):
        for group in yaml.safe_load(rules.read_text())["groups"]:
            names |= {rule["record"] for rule in group["rules"] if "record" in rule}
    return names


def is_exported(name: str, names: set[str]) -> bool:
    return name in names or any(
        name.endswith(suffix) and name.removesuffix(suffix) in names for suffix in SUFFIXES
    )


def test_every_promql_snippet_parses(tmp_path: Path) -> None:
    snippets = promql_snippets()
    assert len(snippets) > 30
    assert promql_errors([expression for _, expression in snippets], tmp_path) == []


def test_the_promql_check_finds_a_broken_query(tmp_path: Path) -> None:
    errors = promql_errors(["up == 1", "site_status_site_status{job=} == 2"], tmp_path)
    assert len(errors) == 1 and "site_status_site_status{job=}" in errors[0]


def test_every_series_the_docs_name_is_exported() -> None:
    names = exported_names()
    unknown = sorted(
        f"{document}: {name}"
        for document in DOCUMENTS
        # A generatorURL in an example notification holds its query URL-encoded.
        for name in SERIES_NAME.findall(expanded(unquote_plus(document.read_text())))
        if not is_exported(name.rstrip("_:"), names)
    )
    assert unknown == []


def test_every_logql_snippet_parses() -> None:
    snippets = logql_snippets()
    assert len(snippets) > 5
    assert logql_syntax_errors([expression for _, expression in snippets]) == {}


def rule_counts() -> list[int]:
    counts = []
    for name in ("site-status-alerts.rules.yml", "site-status-recording.rules.yml"):
        result = promtool("check", "rules", f"alerts/{name}")
        counts.append(int(re.search(r"(\d+) rules found", result.stdout).group(1)))  # type: ignore[union-attr]
    return counts


def test_rule_counts_are_promtools() -> None:
    alerts, recording = rule_counts()
    text = (REPO / "docs" / "alerts.md").read_text()
    assert f"(`{alerts} rules found`, `{recording} rules found`)" in text
    for document in DOCUMENTS:
        for count in re.findall(r"(\d+) recording rules", document.read_text()):
            assert int(count) == recording, document
    groups = [
        group["name"]
        for path in sorted((REPO / "alerts").glob("*.rules.yml"))
        for group in yaml.safe_load(path.read_text())["groups"]
    ]
    listed = text.split("*Status → Rules* page shows the groups", 1)[1].split(".", 1)[0]
    assert re.findall(r"`([a-z-]+)`", listed) == groups


def panel_titles() -> set[str]:
    titles: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "type" in node and isinstance(node.get("title"), str):
                titles.add(node["title"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for dashboard in (REPO / "dashboards").glob("*.json"):
        walk(json.loads(dashboard.read_text()))
    return titles


@pytest.mark.parametrize("runbook", RUNBOOKS, ids=lambda p: p.stem)
def test_the_panels_a_runbook_names_exist(runbook: Path) -> None:
    titles = panel_titles()
    named = [
        title
        for line in runbook.read_text().splitlines()
        if "dashboard" in line
        for title in re.findall(r"(?<![*\w])\*([^*\n]+)\*(?![*\w])", line)
    ]
    assert [title for title in named if title not in titles] == []


def test_structured_metadata_is_documented_as_sent() -> None:
    report = {
        "schema_version": 1,
        "status": "CRITICAL",
        "site": {"profile": "os2web"},
        "report_type": "transition",
        "probe": {"kind": "http", "name": "frontpage"},
        "previous_status": "OK",
        "cause": "result",
    }
    sent = set(structured_metadata(report))
    for document, marker in (
        ("configuration.md", "| `structured_metadata` |"),
        ("reports.md", "- **Structured metadata**"),
    ):
        text = (REPO / "docs" / document).read_text()
        passage = text.split(marker, 1)[1]
        passage = passage.split("\n", 1)[0] if marker.startswith("|") else passage
        passage = passage.split("Off by default", 1)[0]
        spans = set(SPAN.findall(passage))
        assert sent <= spans, document
        # Nothing listed that is not sent: every other span there is a setting, not a field.
        assert {s for s in spans - sent if re.fullmatch(r"[a-z_]+", s)} <= {
            "structured_metadata",
            "allow_structured_metadata",
            "false",
        }, document


def minutes(duration: str) -> str:
    """``15m`` -> ``15 minutes``, as the runbooks write a Prometheus duration."""
    value, unit = re.fullmatch(r"(\d+)([smhd])", duration).groups()  # type: ignore[union-attr]
    return f"{value} " + {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[unit]


def runbook_figures() -> dict[str, list[str]]:
    """What each runbook must say, written from the mixin's config: change a threshold or a
    duration there, and the runbook that still quotes the old one fails."""
    config = MixinConfig()
    t, wait = config.thresholds, config.for_
    window = t.filesystem_prediction_window.removesuffix("h")
    return {
        "SiteStatusCertificateExpiring": [
            f"less than {t.certificate_warning_days:g} days (warning) or "
            f"{t.certificate_critical_days:g} days (critical)"
        ],
        "SiteStatusFilesystemSpaceFillingUp": [
            f"less than {t.filesystem_warning_available_percent:g} % (warning) or "
            f"{t.filesystem_critical_available_percent:g} % (critical) space left",
            f"the rate of the last {window} h it is full within "
            f"{t.filesystem_warning_hours:g} h (warning) or {t.filesystem_critical_hours:g} h",
        ],
        "SiteStatusFilesystemInodesFillingUp": [
            f"less than {t.filesystem_warning_available_percent:g} % / "
            f"{t.filesystem_critical_available_percent:g} % of its inodes free",
            f"the rate of the last {window} h, runs out within {t.filesystem_warning_hours:g} h / "
            f"{t.filesystem_critical_hours:g} h",
        ],
        "SiteStatusLoadHigh": [
            f"has been above {t.load_per_cpu:g} for {minutes(wait.load_high)}",
            f"The {t.load_window.removesuffix('m')}-minute load average",
        ],
        "SiteStatusReportDeliveryFailing": [
            f"none was pushed to Loki for {t.report_delivery_seconds / 60:g} minutes"
        ],
        "SiteStatusReportsDropped": [f"grew in the last {minutes(t.reports_dropped_window)}"],
        "SiteStatusFleetCritical": [
            f"At least {config.fleet_min_sites} sites of the tier",
            f"The condition held for {wait.fleet_critical}.",
        ],
        "SiteStatusExporterDown": [
            f"(within `identity_lookback`, {config.identity_lookback[:-1]} d)"
        ],
    }


@pytest.mark.parametrize("runbook", sorted(runbook_figures()))
def test_runbook_figures_are_the_mixins(runbook: str) -> None:
    text = " ".join((REPO / "docs" / "runbooks" / f"{runbook}.md").read_text().split())
    assert [figure for figure in runbook_figures()[runbook] if figure not in text] == []
