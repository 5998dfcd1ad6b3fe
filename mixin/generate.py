"""Write (or check) every generated file.

``python -m mixin [--check] [--config FILE] [--out DIR]``
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import yaml
from pydantic import ValidationError

from mixin.alertmanager import alertmanager_config
from mixin.config import MixinConfig, load_config
from mixin.dashboards.fleet import fleet_dashboard
from mixin.dashboards.site import site_dashboard
from mixin.kubernetes import cluster_files
from mixin.notifications import TEMPLATE, TEMPLATE_FILE
from mixin.render import GENERATED, to_json, to_yaml
from mixin.rules import rule_files

REPO = Path(__file__).resolve().parents[1]


def default_out() -> Path:
    """The checkout when run from one (its committed files), else the current directory."""
    return REPO if (REPO / "pyproject.toml").is_file() else Path.cwd()


def generated_files(config: MixinConfig) -> dict[str, str]:
    """Path relative to the repository -> content."""
    files = {
        f"alerts/{name}": to_yaml(document, GENERATED)
        for name, document in rule_files(config).items()
    }
    files["alerts/alertmanager.yml"] = to_yaml(alertmanager_config(), GENERATED)
    files[f"alerts/{TEMPLATE_FILE}"] = TEMPLATE
    dashboards = {
        "site-status-fleet": fleet_dashboard(config),
        "site-status-site": site_dashboard(config),
    }
    for name, document in dashboards.items():
        files[f"dashboards/{name}.json"] = to_json(document)
    files.update(cluster_files(config, dashboards))
    return files


def stale_files(files: dict[str, str], root: Path) -> list[str]:
    """Generated files whose committed content differs from the generator's output."""
    stale = []
    for name, text in files.items():
        path = root / name
        if not path.exists() or path.read_text() != text:
            stale.append(name)
    return stale


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mixin", description=__doc__)
    parser.add_argument("--config", type=Path, help="YAML overriding mixin/config.py defaults")
    parser.add_argument(
        "--out",
        type=Path,
        default=default_out(),
        help="root to write into (default: the checkout, or the current directory)",
    )
    parser.add_argument("--check", action="store_true", help="only report stale files")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
    except (OSError, yaml.YAMLError) as error:
        print(f"python -m mixin: cannot read {args.config}: {error}", file=sys.stderr)
        return 2
    except ValidationError as error:
        for problem in error.errors():
            where = ".".join(str(part) for part in problem["loc"]) or "(top)"
            message = problem["msg"].removeprefix("Value error, ")
            print(f"python -m mixin: {args.config}: {where}: {message}", file=sys.stderr)
        return 2
    files = generated_files(config)
    if args.check:
        stale = stale_files(files, args.out)
        for name in stale:
            print(f"stale: {name} (run python -m mixin)", file=sys.stderr)
        return 1 if stale else 0
    for name, text in files.items():
        path = args.out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return 0
