"""A third-party probe kind, found through the ``site_status.probes`` entry point group."""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from exporter.config import ConfigInvalid, parse_config
from exporter.probe_api import ProbeKind
from exporter.registry import BUILTIN_KIND_MODULES, KindRegistry, default_registry
from tests.support.context import make_context
from tests.support.exporter_process import command_env, site_status

PLUGIN = """
from __future__ import annotations
from typing import Literal
from exporter.probe_api import MetricFamily, ProbeConfig, ProbeKind, Result, Sample, Status

WIDGETS = MetricFamily("site_status_widget_count", "Widgets counted by the widget probe.")

class WidgetProbe(ProbeConfig):
    kind: Literal["widget"]
    widgets: int
    max_widgets: int = 3

async def run(config, context):
    status = Status.CRITICAL if config.widgets > config.max_widgets else Status.OK
    return Result(status, f"{config.widgets} widgets", {"widgets": config.widgets},
                  (Sample(WIDGETS.name, config.widgets),))

KIND = ProbeKind(config=WidgetProbe, run=run, metrics=(WIDGETS,))
"""


def install_plugin(directory: Path, body: str = PLUGIN) -> None:
    """An installed distribution, as pip leaves it: a module plus its dist-info."""
    (directory / "widget_probe.py").write_text(body)
    dist_info = directory / "widget_probe-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: widget-probe\nVersion: 1.0\n")
    (dist_info / "entry_points.txt").write_text(
        "[site_status.probes]\nwidget = widget_probe:KIND\n"
    )


@pytest.fixture
def plugin_path(tmp_path: Path) -> Iterator[Path]:
    install_plugin(tmp_path)
    sys.path.insert(0, str(tmp_path))
    importlib.invalidate_caches()
    yield tmp_path
    sys.path.remove(str(tmp_path))
    sys.modules.pop("widget_probe", None)


async def test_entry_point_kind_runs_through_the_config_loader(plugin_path: Path) -> None:
    registry = default_registry()
    assert "widget" in registry.names()
    config = parse_config(
        "probes:\n  - {name: w, kind: widget, widgets: 5}\n  - {name: l, kind: load}\n", registry
    )
    probe = config.probe("w")
    result = await registry.get("widget").run(probe, make_context())
    assert result.summary == "5 widgets"
    assert result.status.name == "CRITICAL"
    with pytest.raises(ConfigInvalid) as caught:
        parse_config("probes:\n  - {name: w, kind: widget, widgets: many}\n", registry)
    assert str(caught.value.errors[0]).startswith("probes[0].widgets (line 2)")


def test_plugin_kind_in_the_real_command(plugin_path: Path, tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("probes:\n  - {name: w, kind: widget, widgets: 2}\n")
    done = site_status(
        "check", "--config", str(config), "--format", "json", extra_path=[str(plugin_path)]
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["probes"][0]["summary"] == "2 widgets"


def test_a_broken_plugin_is_reported_not_fatal(tmp_path: Path) -> None:
    install_plugin(tmp_path, "raise ImportError('needs libwidget')\n")
    sys.path.insert(0, str(tmp_path))
    importlib.invalidate_caches()
    try:
        registry = default_registry()
        with pytest.raises(ConfigInvalid, match="plug-in 'widget' failed to load"):
            parse_config("probes:\n  - {name: w, kind: widget}\n", registry)
        assert "needs libwidget" in registry.load_errors["widget"]
        assert "widget" not in registry.names()
        # The other kinds still work.
        parse_config("probes:\n  - {name: l, kind: load}\n", registry)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("widget_probe", None)


def test_registry_rejects_bad_kinds() -> None:
    from probes.load import KIND as LOAD

    registry = KindRegistry([LOAD])
    with pytest.raises(TypeError):
        registry.register("not a kind")  # type: ignore[arg-type]
    from exporter.probe_api import MetricFamily

    unprefixed = ProbeKind(LOAD.config, LOAD.run, (MetricFamily("widgets", "Widgets."),))
    with pytest.raises(ValueError, match="must start with site_status_"):
        KindRegistry().register(unprefixed)


async def test_the_documented_example_kind_works(tmp_path: Path) -> None:
    guide = (Path(__file__).parents[2] / "docs" / "writing-a-probe-kind.md").read_text()
    source = guide.split("```python\n", 1)[1].split("```", 1)[0]
    module = type(sys)("readme_queue_probe")
    sys.modules[module.__name__] = module  # as an import would: pydantic resolves names there
    try:
        exec(compile(source, "writing-a-probe-kind.md", "exec"), module.__dict__)
    finally:
        del sys.modules[module.__name__]
    registry = KindRegistry([module.KIND])
    for i in range(3):
        (tmp_path / f"job-{i}").write_text("x")
    config = parse_config(f"probes: [{{name: q, kind: queue, path: {tmp_path}}}]\n", registry)
    result = await module.KIND.run(config.probe("q"), make_context())
    assert (result.status.name, result.summary) == ("OK", "3 jobs waiting")


def test_kinds_load_only_when_a_config_uses_them() -> None:
    # In a fresh interpreter: importing the runtime and loading a file-only config must not
    # import the network kinds (memory: each kind's models and libraries cost).
    code = (
        "import sys\n"
        "from exporter.registry import default_registry\n"
        "from exporter.config import parse_config\n"
        "parse_config('probes: [{name: f, kind: file, path: /etc/hostname}]', "
        "default_registry())\n"
        "print(sorted(m for m in sys.modules if m.startswith('probes.') or m == 'httpx'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=command_env(), check=True
    )
    loaded = set(ast.literal_eval(done.stdout.strip()))
    # Only the file kind, and the small helpers every kind shares (probes.deadline).
    kinds = set(BUILTIN_KIND_MODULES.values())
    assert loaded & kinds == {"probes.file"}
    assert "httpx" not in loaded
    assert loaded - kinds <= {"probes.deadline"}
