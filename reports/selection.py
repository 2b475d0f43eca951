"""Which experiment's rows feed a table, a figure or a claim: one rule for the whole report.

A shipped experiment (``table1`` ...) and its quick version (``table1-quick``) are never mixed (quick and full
numbers are not averaged together), and a table takes only its own experiment's rows when they exist (Table II is
not mixed with the distance study's Human3.6M rows). The rule works on any frame with an ``experiment`` column:
result rows and per-sample errors alike.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["QUICK_SUFFIX", "full_over_quick", "own_rows"]

QUICK_SUFFIX = "-quick"  # bench.pipeline names a quick experiment NAME-quick


def own_rows(rows: pd.DataFrame, experiment: str | None) -> pd.DataFrame:
    """The rows of ``experiment`` when there are any, else those of ``experiment-quick`` (never both), else all
    rows (a user's own experiment names)."""
    if experiment is None:
        return rows
    for name in (experiment, f"{experiment}{QUICK_SUFFIX}"):
        mine = rows[rows["experiment"].astype(str) == name]
        if len(mine):
            return mine
    return rows


def full_over_quick(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` without those of any ``NAME-quick`` experiment whose full ``NAME`` is also there."""
    names = set(rows["experiment"].astype(str))
    shadowed = {n for n in names if n.endswith(QUICK_SUFFIX) and n.removesuffix(QUICK_SUFFIX) in names}
    return rows[~rows["experiment"].astype(str).isin(shadowed)]
