"""``build_report``: the whole report folder from result rows alone (plus, optionally, per-sample errors, sweeps
and run settings).

It writes only what the rows can feed: a table or figure without rows is left out and the page says why (no
Table IV without runtime rows). Every file is written atomically (:mod:`reports.files`). Report files of the
fixed names this function writes (``table1.md`` ... ``runtime.png``) that a previous build left in the folder
but this build did not produce are removed, so the folder never mixes two builds; nothing else is touched.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from reports.claims import claims_table
from reports.files import save_figure, write_text
from reports.html import FigureView, Page, render_page
from reports.paired import paired_table
from reports.plots import distance_figure, fig6_per_view, groups_figure, runtime_figure
from reports.render import table_csv, table_latex, table_markdown
from reports.rows import validate_per_sample, validate_rows
from reports.selection import own_rows
from reports.sts_study import sts_value_table
from reports.sweeps import check_sweeps, copy_sweeps
from reports.table import Table
from reports.tables import table1, table2, table3, table4

__all__ = ["build_report"]

# each table / figure with the shipped experiment that feeds it: when rows of that experiment (or its -quick
# version) are there, only they are used (Table II is not mixed with the distance study's H36M rows); otherwise
# every row qualifies (a user's own experiment names)
_TABLES: tuple[tuple[Callable[[pd.DataFrame], Table | None], str, str], ...] = (
    (table1, "table1", "Table I not built: no overall MPJPE / PA-MPJPE rows on a 'panoptic' dataset."),
    (table2, "table2", "Table II not built: no overall MPJPE / PA-MPJPE rows on an 'h36m' dataset."),
    (table3, "table3", "Table III not built: no overall MPJPE / PA-MPJPE rows on an 'stb' dataset."),
    (sts_value_table, "sts_value", "STS-value study not built: no rows of FHGR with and without STS on the same "
     "training set."),
    (table4, "table4", "Table IV not built: no 'seconds_per_image' (runtime) rows."),
)
_FIGURES: tuple[tuple[str, Callable[[pd.DataFrame], Figure | None], str, str, str | None], ...] = (
    ("fig6_per_view.png", fig6_per_view, "Fig. 6: error per view on CMU Panoptic",
     "The paper's Fig. 6 rebuilt: MPJPE and PA-MPJPE per Panoptic HD view for each projection variant.", "fig6"),
    ("distance.png", distance_figure, "Error against camera distance",
     "MPJPE and PA-MPJPE per camera-distance bin (midpoint, m); grey bars: samples per bin.", "distance"),
    ("runtime.png", runtime_figure, "Runtime per image",
     "Seconds per image on a log scale, ours per batch size beside the paper's Table IV and text values.", "table4"),
    ("groups.png", groups_figure, "Error per joint group", "MPJPE per joint group, per variant and dataset.", None),
)  # fmt: skip


_TABLE_EXTENSIONS = (".md", ".tex", ".csv")
_OWNED = {f"{t}{ext}" for t in ("table1", "table2", "table3", "sts_value", "table4", "paired", "claims")
          for ext in _TABLE_EXTENSIONS}  # fmt: skip
_OWNED |= {name for name, *_ in _FIGURES} | {"index.html"}


_NO_CLAIMS = ("No claim could be measured: the rows hold none of Table I's projection variants, the distance study's "
              "per-sample errors, FHGR with and without STS, runtime rows of both methods, or Table II's two methods.")


def _paired(rows: pd.DataFrame, per_sample: pd.DataFrame | None) -> tuple[Table | None, str]:
    """The paired table, or None with the sentence the page prints instead."""
    if per_sample is None or per_sample.empty:
        return None, "No per-sample errors were given, so no paired test was run."
    units = rows[rows["unit"].isin(set(per_sample["unit"]))]
    synthetic = bool((units if len(units) else rows)["synthetic"].any())
    table = paired_table(per_sample, synthetic=synthetic)
    if table is None:
        return None, ("The per-sample errors hold no D2S variant scored on the same dataset spec and seed as a "
                      "WPP or PP variant, so no paired test was run.")  # fmt: skip
    return table, ""


def build_report(
    rows: pd.DataFrame,
    out_dir: str | os.PathLike,
    *,
    per_sample: pd.DataFrame | None = None,
    sweeps: Iterable[Mapping[str, Any]] = (),
    settings: Mapping[str, str] | None = None,
) -> dict[str, Path]:
    """Write the report of ``rows`` (tidy result rows, :data:`reports.rows.ROW_COLUMNS`) into ``out_dir``.

    Writes Tables I-IV (``tableN.md|.tex|.csv``), the verdict per claim of the paper (``claims.md|.tex|.csv``,
    :func:`reports.claims.claims_table`, from the rows and ``per_sample``) and the paired tests (``paired.md|.csv``,
    from ``per_sample``, :data:`reports.rows.PER_SAMPLE_COLUMNS`) where rows exist for them, the figures
    (``fig6_per_view.png``,
    ``distance.png``, ``runtime.png``, ``groups.png``) likewise, the sweeps' configs and plots under ``sweeps/``
    and ``index.html``. Returns file name (relative to ``out_dir``) -> path of everything written.
    Raises ConfigError, before writing anything, for rows or per-sample errors missing a column and for a sweep
    missing a key.
    """
    rows = validate_rows(rows)
    samples = validate_per_sample(per_sample) if per_sample is not None else None
    sweep_list = check_sweeps(sweeps)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}

    def put(name: str, text: str) -> None:
        written[name] = write_text(out / name, text)

    tables: list[Table] = []
    absent: list[str] = []
    table_files: dict[str, list[str]] = {}
    for builder, experiment, why_not in _TABLES:
        table = builder(own_rows(rows, experiment))
        if table is None:
            absent.append(why_not)
            continue
        tables.append(table)
        for ext, text in ((".md", table_markdown(table)), (".tex", table_latex(table)), (".csv", table_csv(table))):
            put(table.name + ext, text)
        table_files[table.name] = [table.name + ext for ext in _TABLE_EXTENSIONS]

    claims = claims_table(rows, samples, synthetic=bool(rows["synthetic"].any()))
    claims_message = "" if claims is not None else _NO_CLAIMS
    if claims is not None:
        for ext, text in ((".md", table_markdown(claims)), (".tex", table_latex(claims)), (".csv", table_csv(claims))):
            put(claims.name + ext, text)
        table_files[claims.name] = [claims.name + ext for ext in _TABLE_EXTENSIONS]

    paired, paired_message = _paired(rows, samples)
    if paired is not None:
        put("paired.md", table_markdown(paired))
        put("paired.csv", table_csv(paired))
        table_files["paired"] = ["paired.md", "paired.csv"]

    figures: list[FigureView] = []
    for name, draw, title, caption, experiment in _FIGURES:
        figure = draw(own_rows(rows, experiment))
        if figure is not None:
            written[name] = save_figure(figure, out / name)
            figures.append(FigureView(name, title, caption))

    sweep_views, sweep_files = copy_sweeps(sweep_list, out)
    written |= sweep_files

    page = Page(
        synthetic=bool(rows["synthetic"].any()),
        synthetic_rows=int(rows["synthetic"].sum()),
        row_count=len(rows),
        settings={str(k): str(v) for k, v in (settings or {}).items()},
        claims=claims,
        claims_message=claims_message,
        tables=tables,
        table_files=table_files,
        paired=paired,
        paired_message=paired_message,
        figures=figures,
        sweeps=sweep_views,
        absent=absent,
        files=sorted(written),
    )
    put("index.html", render_page(page))
    for stale in sorted(_OWNED - set(written)):
        (out / stale).unlink(missing_ok=True)
    return written
