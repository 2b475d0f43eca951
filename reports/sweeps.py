"""Sweeps in the report: each sweep's best config (TOML text) and plots are copied into ``sweeps/<name>/`` of the
report folder so the page shows them by relative link and the folder stays self-contained.

A sweep is a mapping ``{"name", "method", "best_value", "n_trials", "best_config": Path, "plots": [Path, ...]}``;
a missing key is a ConfigError naming it (checked before anything is written); a config or plot file that does
not exist is not an error: the page says it is missing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from bench.errors import ConfigError
from reports.files import copy_file
from reports.html import SweepView

__all__ = ["SWEEP_KEYS", "check_sweeps", "copy_sweeps"]

SWEEP_KEYS = ("name", "method", "best_value", "n_trials", "best_config", "plots")


def check_sweeps(sweeps: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The sweeps as a list, after checking each holds every key of :data:`SWEEP_KEYS` with usable types."""
    checked = []
    for i, sweep in enumerate(sweeps):
        if not isinstance(sweep, Mapping):
            raise ConfigError(f"sweep {i}: expected a mapping with keys {', '.join(SWEEP_KEYS)}")
        missing = [k for k in SWEEP_KEYS if k not in sweep]
        if missing:
            raise ConfigError(f"sweep {sweep.get('name', i)!r}: missing key(s) {', '.join(missing)}")
        try:
            float(sweep["best_value"]), int(sweep["n_trials"])
        except (TypeError, ValueError):
            raise ConfigError(f"sweep {sweep['name']!r}: best_value and n_trials must be numbers") from None
        if isinstance(sweep["plots"], str | Path):
            raise ConfigError(f"sweep {sweep['name']!r}: plots must be a list of paths, got one path")
        checked.append(sweep)
    return checked


def _folder_name(name: str, taken: set[str]) -> str:
    """A file-system-safe folder name for a sweep, unique among ``taken``."""
    base = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(name)).strip("._") or "sweep"
    folder, i = base, 2
    while folder in taken:
        folder, i = f"{base}-{i}", i + 1
    taken.add(folder)
    return folder


def copy_sweeps(sweeps: Iterable[Mapping[str, Any]], out_dir: Path) -> tuple[list[SweepView], dict[str, Path]]:
    """Copy each checked sweep's config and plots into ``out_dir/sweeps/<name>/``; returns what the page shows
    and the files written (relative name -> path)."""
    views: list[SweepView] = []
    written: dict[str, Path] = {}
    taken: set[str] = set()
    for sweep in sweeps:
        folder = f"sweeps/{_folder_name(sweep['name'], taken)}"
        problems: list[str] = []
        config_file, config_text = "", ""
        config = Path(sweep["best_config"])
        if config.is_file():
            config_text = config.read_text(encoding="utf-8", errors="replace")
            config_file = f"{folder}/{config.name}"
            written[config_file] = copy_file(config, out_dir / config_file)
        else:
            problems.append(f"best config file not found: {config}")
        plots: list[str] = []
        for j, plot in enumerate(Path(p) for p in sweep["plots"]):
            if not plot.is_file():
                problems.append(f"plot file not found: {plot}")
                continue
            name = f"{folder}/{plot.name}"
            if name in written:  # two plots of one name from different folders
                name = f"{folder}/{j}-{plot.name}"
            written[name] = copy_file(plot, out_dir / name)
            plots.append(name)
        views.append(SweepView(
            str(sweep["name"]), str(sweep["method"]), float(sweep["best_value"]), int(sweep["n_trials"]),
            config_file, config_text, tuple(plots), tuple(problems),
        ))  # fmt: skip
    return views, written
