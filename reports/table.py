"""The one table type every report table is built as, and the cell texts they share.

A :class:`Table` carries two frames of the same rows: ``display`` (strings, what the markdown, LaTeX and HTML
print) and ``data`` (numbers, what the CSV holds, so the CSV can be re-analysed without parsing '52.0 ± 3.1').
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

__all__ = ["DASH", "SYNTHETIC_WARNING", "Table", "caption_with_warning", "number_text"]

DASH = "–"  # no value: not reported by the paper, or no result of ours
SYNTHETIC_WARNING = "SYNTHETIC data: not comparable with the paper's numbers"


@dataclass(frozen=True)
class Table:
    """A report table: ``name`` is the file stem (``table1``), ``title`` its short heading, ``caption`` the one
    line printed with it (it carries :data:`SYNTHETIC_WARNING` when ``synthetic``), ``notes`` the lines printed
    under it (sources, protocols, discrepancies)."""

    name: str
    title: str
    caption: str
    display: pd.DataFrame
    data: pd.DataFrame
    notes: tuple[str, ...] = ()
    synthetic: bool = False


def caption_with_warning(caption: str, synthetic: bool) -> str:
    """``caption``, followed by the synthetic warning when any contributing row is synthetic."""
    return f"{caption} {SYNTHETIC_WARNING}." if synthetic else caption


def number_text(value: float | None, digits: int = 1) -> str:
    """``value`` with ``digits`` decimals, or :data:`DASH` for None/NaN."""
    if value is None or pd.isna(value):
        return DASH
    return f"{value:.{digits}f}"
