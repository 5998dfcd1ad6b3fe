"""PNG plots of a run: the fleet's status over the day, notifications over time, cost per site."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt
from matplotlib.axes import Axes

STATUS_COLOURS = {
    "OK": "#56a64b",
    "WARNING": "#f2cc0c",
    "CRITICAL": "#e02f44",
    "UNKNOWN": "#8f8f8f",
    "exporter down": "#3274d9",
}


def _scenes(axes: Axes, figures: dict[str, Any]) -> None:
    for n, scene in enumerate(figures["day"]["scenes"]):
        axes.axvspan(scene["start"], scene["end"], color="#000000", alpha=0.04 + 0.04 * (n % 2))
        axes.text(
            scene["start"] + 2,
            1.0,
            f"{scene['clock']} {scene['name']}",
            transform=axes.get_xaxis_transform(),
            fontsize=7,
            va="top",
        )


def status_over_day(figures: dict[str, Any], path: Path) -> None:
    t0 = figures["run"]["started_at"]
    timeline = figures["timeline"]
    figure, axes = plt.subplots(figsize=(11, 4.2))
    times = [t - t0 for t, _ in timeline["OK"]]
    stacks = [[v for _, v in timeline[name]] for name in STATUS_COLOURS]
    axes.stackplot(
        times, *stacks, labels=list(STATUS_COLOURS), colors=list(STATUS_COLOURS.values())
    )
    maintenance = [v for _, v in timeline["in maintenance"]]
    axes.plot(times, maintenance, color="black", linestyle=":", label="in maintenance")
    _scenes(axes, figures)
    axes.set_xlabel(f"seconds into the scripted day (x{figures['timing']['compression']:g})")
    axes.set_ylabel("sites")
    axes.set_title(f"Fleet status over the scripted day ({figures['run']['sites']} sites)")
    axes.legend(loc="lower left", fontsize=7, ncol=6)
    axes.set_xlim(0, figures["run"]["day_seconds"])
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def notifications_over_time(figures: dict[str, Any], path: Path) -> None:
    figure, axes = plt.subplots(figsize=(11, 3.4))
    rows = {
        ("pager", "firing"): (3, "#e02f44", "page"),
        ("pager", "resolved"): (2, "#56a64b", "page resolved"),
        ("team-chat", "firing"): (1, "#ff9830", "team chat"),
        ("team-chat", "resolved"): (0, "#8ab8ff", "team chat resolved"),
    }
    for (receiver, status), (y, colour, label) in rows.items():
        points = [
            (n["offset"], n["alerts"])
            for n in figures["notifications"]
            if n["receiver"] == receiver and n["status"] == status
        ]
        axes.scatter(
            [p[0] for p in points],
            [y] * len(points),
            s=[12 + 4 * min(p[1], 40) for p in points],
            color=colour,
            label=f"{label} ({len(points)})",
            alpha=0.8,
        )
    _scenes(axes, figures)
    axes.set_yticks([0, 1, 2, 3], ["chat resolved", "chat", "page resolved", "page"])
    axes.set_ylim(-0.7, 3.9)
    axes.set_xlim(0, figures["run"]["day_seconds"] + 30)
    axes.set_xlabel("seconds into the scripted day (marker size: alerts in the notification)")
    axes.set_title("Notifications over time")
    axes.legend(loc="center left", fontsize=7, bbox_to_anchor=(1.0, 0.5))
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def cost_per_site(figures: dict[str, Any], path: Path) -> None:
    cost = figures["cost"]
    compression = figures["timing"]["compression"]
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.0))
    # (label, exporter's own CPU, drush's CPU, colour)
    bars: list[tuple[str, float, float, str]] = []
    for profile, rows in cost["per_profile"].items():
        total = rows["cpu_s_per_hour"]["median"]
        drush = rows["drush_cpu_s_per_hour"]["median"]
        bars.append((f"{profile}\nx{compression:g}", total - drush, drush, "#3274d9"))
    blackbox = cost["comparison"]["blackbox_cpu_s_per_site_hour"]
    bars.append((f"blackbox\nHTTP only\nx{compression:g}", blackbox, 0.0, "#8f8f8f"))
    for row in cost["calibration"].values():
        total, drush = row["cpu_s_per_hour"], row["drush_cpu_s_per_hour"]
        bars.append((f"{row['profile']}\nproduction", total - drush, drush, "#56a64b"))
    blackbox = cost["comparison"]["blackbox_production_cpu_s_per_site_hour"]
    bars.append(("blackbox\nHTTP only\nproduction", blackbox, 0.0, "#bdbdbd"))
    positions = list(range(len(bars)))
    left.bar(positions, [b[1] for b in bars], color=[b[3] for b in bars], label="exporter")
    left.bar(
        positions,
        [b[2] for b in bars],
        bottom=[b[1] for b in bars],
        color=[b[3] for b in bars],
        hatch="//",
        alpha=0.5,
        label="drush (hatched)",
    )
    left.set_xticks(positions, [b[0] for b in bars], fontsize=7)
    for x, (_, own, drush, _) in zip(positions, bars, strict=True):
        left.text(x, own + drush, f"{own + drush:.1f}", ha="center", va="bottom", fontsize=7)
    left.legend(fontsize=7)
    left.set_ylabel("CPU seconds per site-hour (median)")
    left.set_title("CPU", fontsize=9)
    values = [row["pss_mib"] for row in cost["per_site"].values()]
    low, high = min([*values, 31.0]), max([*values, 33.0])
    bins = [low + (high - low) * k / 40 for k in range(41)]
    for profile in sorted({figures_site_profile(figures, name) for name in cost["per_site"]}):
        right.hist(
            [
                row["pss_mib"]
                for name, row in cost["per_site"].items()
                if figures_site_profile(figures, name) == profile
            ],
            bins=bins,
            alpha=0.6,
            label=profile,
        )
    right.axvline(32, color="#e02f44", linestyle="--", label="target 32 MiB")
    right.set_xlabel("PSS per exporter at the end (MiB)")
    right.set_ylabel("sites")
    right.set_title("Memory", fontsize=9)
    right.legend(fontsize=7)
    figure.suptitle(f"Cost per site ({figures['run']['sites']} sites)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def figures_site_profile(figures: dict[str, Any], name: str) -> str:
    return "drupal" if name.startswith("web-") else "service"


def write_all(figures: dict[str, Any], directory: Path, prefix: str = "fleet") -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = [
        directory / f"{prefix}-status.png",
        directory / f"{prefix}-notifications.png",
        directory / f"{prefix}-cost.png",
    ]
    status_over_day(figures, paths[0])
    notifications_over_time(figures, paths[1])
    cost_per_site(figures, paths[2])
    return paths
