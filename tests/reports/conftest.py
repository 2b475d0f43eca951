"""Fixtures of the report tests: the hand-made rows of ``_report_rows``, a sweep, and one full report built once
per session. Figures are drawn with the Agg backend (no display)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import matplotlib
import pytest
from _report_rows import make_per_sample, make_rows

matplotlib.use("Agg")


@pytest.fixture
def sweep(tmp_path: Path) -> dict:
    """A sweep with a TOML config and one plot (a tiny PNG written by matplotlib)."""
    from matplotlib.figure import Figure

    folder = tmp_path / "sweep-src"
    folder.mkdir()
    config = folder / "best.toml"
    config.write_text('[params.proposed]\nlr = 0.0001\nprojection = "d2s"\n', encoding="utf-8")
    plot = folder / "history.png"
    figure = Figure(figsize=(2, 2))
    figure.subplots().plot([0, 1], [1, 0])
    figure.savefig(plot, format="png")
    return {"name": "lr sweep", "method": "proposed", "best_value": 51.25, "n_trials": 8, "best_config": config,
            "plots": [plot]}  # fmt: skip


@pytest.fixture(scope="session")
def full_report(tmp_path_factory) -> tuple[Path, dict[str, Path]]:
    """The report of the full fixture rows and per-sample errors, built once per session (no sweeps); read it,
    never write into it."""
    from reports import build_report

    out = tmp_path_factory.mktemp("report")
    settings = {"command": "hmrbench paper --quick", "device": "cpu", "body model": "embedded (synthetic)"}
    return out, build_report(make_rows(), out, per_sample=make_per_sample(), settings=settings)


@pytest.fixture
def md_row() -> Callable[[str, str], list[str]]:
    """``md_row(markdown, first_matching_text)`` -> the cells of the first table line containing that text."""

    def find(markdown: str, text: str) -> list[str]:
        for line in markdown.splitlines():
            if line.startswith("|") and text in line:
                return [c.strip() for c in line.strip().strip("|").split("|")]
        raise AssertionError(f"no table line contains {text!r}")

    return find
