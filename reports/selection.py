"""Which experiment's rows feed a table, a figure or a claim: one rule for the whole report.

The paper's tables, figures, paired tests and claims hold the **shipped** experiments only (the files of
``bench/experiments``, :func:`bench.run.experiments.shipped_experiments`, and their ``NAME-quick`` versions): any other
experiment (a user's own file, an ad-hoc ``hmrbench run``) is a **user experiment** and gets its own table under its
own title, never a paper row or a paper number beside it (:func:`split_experiments`).

Among the shipped experiments, a full experiment (``table1``) and its quick version (``table1-quick``) are never
mixed (quick and full numbers are not averaged together), and a table takes only its own experiment's rows when
they exist (Table II is not mixed with the distance study's Human3.6M rows). The rules work on any frame with an
``experiment`` column: result rows and per-sample errors alike.
"""

from __future__ import annotations

from functools import cache

import pandas as pd

from bench.run.experiments import shipped_experiments

__all__ = ["QUICK_SUFFIX", "full_over_quick", "is_quick", "is_shipped", "own_rows", "quick_experiments",
           "split_experiments"]  # fmt: skip

QUICK_SUFFIX = "-quick"  # bench.run.pipeline names a quick experiment NAME-quick


@cache
def _shipped() -> frozenset[str]:
    return frozenset(shipped_experiments())


def is_shipped(experiment: str) -> bool:
    """Whether ``experiment`` names a shipped experiment (``table1``) or its quick version (``table1-quick``)."""
    return experiment in _shipped() or (experiment.endswith(QUICK_SUFFIX)
                                        and experiment.removesuffix(QUICK_SUFFIX) in _shipped())  # fmt: skip


def is_quick(experiment: str) -> bool:
    """Whether ``experiment`` was run with its ``[quick]`` settings (named ``NAME-quick``)."""
    return experiment.endswith(QUICK_SUFFIX)


def quick_experiments(rows: pd.DataFrame) -> list[str]:
    """The sorted names of the quick experiments among ``rows`` (empty when none, or no ``experiment`` column)."""
    if "experiment" not in rows.columns:
        return []
    return sorted({str(e) for e in rows["experiment"] if is_quick(str(e))})


def split_experiments(rows: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """(the rows of shipped experiments, {user experiment name: its rows}) of ``rows``; names sorted."""
    names = rows["experiment"].astype(str)
    shipped = names.map(is_shipped).astype(bool)
    user = {str(name): part for name, part in rows[~shipped].groupby(names[~shipped], sort=True)}
    return rows[shipped], user


def own_rows(rows: pd.DataFrame, experiment: str | None) -> pd.DataFrame:
    """The rows of ``experiment`` when there are any, else those of ``experiment-quick`` (never both), else all
    ``rows`` (``None``: all rows). The report passes the shipped experiments' rows only (:func:`split_experiments`),
    so the fallback is another shipped experiment's rows, never a user's."""
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
