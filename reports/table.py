"""The one table type every report table is built as, and the cell texts they share.

A :class:`Table` carries two frames of the same rows: ``display`` (strings, what the markdown, LaTeX and HTML
print) and ``data`` (numbers, what the CSV holds, so the CSV can be re-analysed without parsing '52.0 ± 3.1').

Every table built from result rows says which seed its ± varies (:func:`seed_note`): the training seeds, over one
fixed test set (one data seed), or, when the rows mix data seeds, that the test data varies as well.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from reports.labels import SYNTHETIC_WARNING, quick_note, synthetic_parts, synthetic_warning

__all__ = ["DASH", "SYNTHETIC_WARNING", "Table", "caption_with_warning", "number_text", "seed_note"]

DASH = "–"  # no value: not reported by the paper, or no result of ours


@dataclass(frozen=True)
class Table:
    """A report table: ``name`` is the file stem (``table1``), ``title`` its short heading, ``caption`` the one
    line printed with it (it carries the synthetic warning when ``synthetic``, and says when the rows come from
    ``--quick`` settings), ``notes`` the lines printed under it (sources, protocols, discrepancies);
    ``synthetic_parts`` names what is synthetic (:func:`reports.labels.synthetic_parts`; empty: not known)."""

    name: str
    title: str
    caption: str
    display: pd.DataFrame
    data: pd.DataFrame
    notes: tuple[str, ...] = ()
    synthetic: bool = False
    synthetic_parts: tuple[str, ...] = ()

    @property
    def warning(self) -> str:
        """The synthetic warning line naming the synthetic parts ('' when the table is not synthetic)."""
        return synthetic_warning(self.synthetic_parts) if self.synthetic else ""


def _listed(values: list[int]) -> str:
    return ", ".join(str(v) for v in values)


def seed_note(rows: pd.DataFrame, *, interval: str = "95% t interval") -> str:
    """What the ± of a table built from ``rows`` varies, e.g. "± = 95% t interval over training seeds k=3 (0, 1,
    2); test data fixed (data seed 0)."

    ``rows``: the validated rows (``reports.rows.validate_rows``) that feed the table; k is the number of training
    seeds per (variant, dataset), given as a range when it differs. Rows of several data seeds: the note says the
    test data varies too. No rows: ''.
    """
    if len(rows) == 0:
        return ""
    data_seeds = sorted({int(s) for s in rows["data_seed"]})
    keys = [c for c in ("variant", "dataset") if c in rows.columns]
    counts = rows.groupby(keys)["seed"].nunique() if keys else pd.Series([rows["seed"].nunique()])
    low, high = int(counts.min()), int(counts.max())
    k = f"k={low}" if low == high else f"k={low}–{high}"
    seeds = _listed(sorted({int(s) for s in rows["seed"]}))
    if high == 1:
        head = f"One training seed ({seeds}): no ± interval"
    else:
        head = f"± = {interval} over training seeds {k} ({seeds})"
    if len(data_seeds) == 1:
        return f"{head}; test data fixed (data seed {data_seeds[0]})."
    return (f"{head}; test data varies too (data seeds {_listed(data_seeds)}): the spread mixes test-set resampling "
            "with training randomness.")  # fmt: skip


def caption_with_warning(caption: str, synthetic: bool, rows: pd.DataFrame | None = None, *,
                         seeds: bool = True) -> str:  # fmt: skip
    """``caption``, then which seed varies (:func:`seed_note`, when ``seeds`` and the ``rows`` that feed the table
    are given), then that the rows come from ``--quick`` settings (:func:`reports.labels.quick_note`), then the
    synthetic warning when ``synthetic`` or any of ``rows`` is synthetic, naming the synthetic parts of ``rows``."""
    parts = synthetic_parts(rows) if rows is not None else ()
    notes = [seed_note(rows) if rows is not None and seeds else "", quick_note(rows) if rows is not None else ""]
    text = " ".join([caption, *(n for n in notes if n)])
    return f"{text} {synthetic_warning(parts)}." if synthetic or parts else text


def number_text(value: float | None, digits: int = 1) -> str:
    """``value`` with ``digits`` decimals, or :data:`DASH` for None/NaN."""
    if value is None or pd.isna(value):
        return DASH
    return f"{value:.{digits}f}"
