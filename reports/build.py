"""``build_report``: the whole report folder from result rows alone (plus, optionally, per-sample errors, sweeps,
run settings and the experiments' titles).

The paper's tables, figures, paired tests and claims hold the experiments shipped with hmrbench only (and their
``-quick`` versions); every other experiment (a user's own file, an ad-hoc ``hmrbench run``) gets its own table
(``experiment_NAME.md|.tex|.csv``) and figures (``experiment_NAME_groups.png`` / ``_distance.png`` where it has
such rows) under its own title, with no paper number beside it (``reports.selection``). Every table and figure says
which of its parts are synthetic and whether it comes from ``--quick`` settings (``reports.labels``).

It writes only what the rows can feed: a table or figure without rows is left out and the page says why (no
Table IV without runtime rows). Every file is written atomically (:mod:`reports.files`). Report files of the
names this function writes (``table1.md`` ... ``runtime.png``, ``experiment_*``) that a previous build left in the
folder but this build did not produce are removed, so the folder never mixes two builds; nothing else is touched.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from reports.claims import claims_table
from reports.files import save_figure, write_text
from reports.html import ExperimentView, FigureView, Page, render_page
from reports.labels import quick_note, synthetic_parts, synthetic_warning
from reports.paired import paired_table
from reports.plots import distance_figure, fig6_per_view, groups_figure, runtime_figure
from reports.render import table_csv, table_latex, table_markdown
from reports.rows import validate_per_sample, validate_rows
from reports.selection import own_rows, split_experiments
from reports.sts_study import sts_value_table
from reports.sweeps import check_sweeps, copy_sweeps
from reports.table import Table
from reports.tables import experiment_table, table1, table2, table3, table4

__all__ = ["AD_HOC_TITLE", "build_report"]

# each table / figure with the shipped experiment that feeds it: when rows of that experiment (or its -quick
# version) are there, only they are used (Table II is not mixed with the distance study's H36M rows); otherwise
# the rows of every shipped experiment qualify (never a user's: ``reports.selection``)
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
# a user experiment's figures: file suffix, drawing, heading, caption
_EXPERIMENT_FIGURES: tuple[tuple[str, Callable[..., Figure | None], str, str], ...] = (
    ("groups", groups_figure, "error per joint group", "MPJPE per joint group, per variant and dataset."),
    ("distance", distance_figure, "error against camera distance",
     "MPJPE and PA-MPJPE per camera-distance bin (midpoint, m); bars: samples per bin."),
)  # fmt: skip
AD_HOC_TITLE = "hmrbench run (methods and datasets given on the command line)"  # the title of experiment 'run'


_TABLE_EXTENSIONS = (".md", ".tex", ".csv")
_OWNED = {f"{t}{ext}" for t in ("table1", "table2", "table3", "sts_value", "table4", "paired", "claims")
          for ext in _TABLE_EXTENSIONS}  # fmt: skip
_OWNED |= {name for name, *_ in _FIGURES} | {"index.html"}
_EXPERIMENT_PREFIX = "experiment_"  # the files of a user experiment: experiment_NAME.md, experiment_NAME_groups.png
_OWNED_PATTERNS = tuple(f"{_EXPERIMENT_PREFIX}*{ext}" for ext in (*_TABLE_EXTENSIONS, ".png"))


_NO_CLAIMS = ("No claim could be measured: the rows hold none of Table I's projection variants, the distance study's "
              "per-sample errors, FHGR with and without STS, runtime rows of both methods, or Table II's two methods.")


def _paired(rows: pd.DataFrame, per_sample: pd.DataFrame | None) -> tuple[Table | None, str]:
    """The paired table, or None with the sentence the page prints instead."""
    if per_sample is None or per_sample.empty:
        return None, "No per-sample errors were given, so no paired test was run."
    units = rows[rows["unit"].isin(set(per_sample["unit"]))]
    labels = units if len(units) else rows
    table = paired_table(per_sample, synthetic=bool(labels["synthetic"].any()), rows=labels)
    if table is None:
        return None, ("The per-sample errors hold no D2S variant scored on the same dataset spec and seed as a "
                      "WPP or PP variant, so no paired test was run.")  # fmt: skip
    return table, ""


def _file_stem(experiment: str) -> str:
    """``experiment_NAME`` with every character other than letters, digits, '-', '_' and '.' replaced by '_'."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", experiment).strip("._")
    return _EXPERIMENT_PREFIX + (slug or "_")


def _experiment_title(experiment: str, titles: Mapping[str, str]) -> str:
    """The experiment's own title (``titles``; the ad-hoc ``run`` gets :data:`AD_HOC_TITLE`), else its name."""
    title = str(titles.get(experiment, "") or "").strip()
    if title:
        return title
    return AD_HOC_TITLE if experiment == "run" else f"Experiment {experiment}"


def _figure_caption(caption: str, rows: pd.DataFrame) -> str:
    """``caption`` with the quick-settings sentence and the synthetic warning of the ``rows`` that feed it."""
    parts = synthetic_parts(rows)
    extra = [quick_note(rows), f"{synthetic_warning(parts)}." if rows["synthetic"].any() else ""]
    return " ".join([caption, *(e for e in extra if e)])


def _settings(rows: pd.DataFrame, given: Mapping[str, Any] | None) -> dict[str, str]:
    """The run settings shown on the page: ``given`` (the caller's), then the devices and what is synthetic, from
    the rows."""
    settings = {str(k): str(v) for k, v in (given or {}).items()}
    devices = sorted({d for d in rows["device_name"] if d})
    settings.setdefault("devices", ", ".join(devices) or "-")
    parts = synthetic_parts(rows)
    if rows["synthetic"].any():
        settings["synthetic"] = "; ".join(parts) or "yes (not recorded part by part)"
    elif len(rows):
        settings["synthetic"] = "nothing (real data, the SMPL-X model, 2D detections)"
    return settings


def build_report(
    rows: pd.DataFrame,
    out_dir: str | os.PathLike,
    *,
    per_sample: pd.DataFrame | None = None,
    sweeps: Iterable[Mapping[str, Any]] = (),
    settings: Mapping[str, str] | None = None,
    titles: Mapping[str, str] | None = None,
) -> dict[str, Path]:
    """Write the report of ``rows`` (tidy result rows, :data:`reports.rows.ROW_COLUMNS`) into ``out_dir``.

    From the rows of the shipped experiments: Tables I-IV and the STS-value table (``NAME.md|.tex|.csv``), the
    verdict per claim of the paper (``claims.md|.tex|.csv``, :func:`reports.claims.claims_table`, from the rows and
    ``per_sample``) and the paired tests (``paired.md|.csv``, from ``per_sample``,
    :data:`reports.rows.PER_SAMPLE_COLUMNS`) where rows exist for them, the figures (``fig6_per_view.png``,
    ``distance.png``, ``runtime.png``, ``groups.png``) likewise. From the rows of any other experiment: its own
    table (``experiment_NAME.md|.tex|.csv``, :func:`reports.tables.experiment_table`) and figures
    (``experiment_NAME_groups.png``, ``experiment_NAME_distance.png``) under its title (``titles``: experiment
    name -> title; default: its name). Then the sweeps' configs and plots under ``sweeps/`` and ``index.html``.
    Returns file name (relative to ``out_dir``) -> path of everything written.
    Raises ConfigError, before writing anything, for rows or per-sample errors missing a column and for a sweep
    missing a key.
    """
    rows = validate_rows(rows)
    samples = validate_per_sample(per_sample) if per_sample is not None else None
    sweep_list = check_sweeps(sweeps)
    titles = dict(titles or {})
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    paper_rows, user_rows = split_experiments(rows)
    paper_samples = split_experiments(samples)[0] if samples is not None else None

    def put(name: str, text: str) -> None:
        written[name] = write_text(out / name, text)

    table_files: dict[str, list[str]] = {}

    def put_table(table: Table, extensions: Iterable[str] = _TABLE_EXTENSIONS) -> None:
        writers = {".md": table_markdown, ".tex": table_latex, ".csv": table_csv}
        for ext in extensions:
            put(table.name + ext, writers[ext](table))
        table_files[table.name] = [table.name + ext for ext in extensions]

    tables: list[Table] = []
    absent: list[str] = []
    for builder, experiment, why_not in _TABLES:
        table = builder(own_rows(paper_rows, experiment))
        if table is None:
            absent.append(why_not)
            continue
        tables.append(table)
        put_table(table)
    if user_rows and absent:
        absent.append("The paper's tables hold the experiments shipped with hmrbench only; "
                      f"{', '.join(user_rows)} {'is' if len(user_rows) == 1 else 'are'} under 'Your experiments'.")

    claims = claims_table(paper_rows, paper_samples, synthetic=bool(paper_rows["synthetic"].any()))
    claims_message = "" if claims is not None else _NO_CLAIMS
    if claims is not None:
        put_table(claims)

    paired, paired_message = _paired(paper_rows, paper_samples)
    if paired is not None:
        put_table(paired, (".md", ".csv"))

    figures: list[FigureView] = []
    for name, draw, title, caption, experiment in _FIGURES:
        mine = own_rows(paper_rows, experiment)
        figure = draw(mine)
        if figure is not None:
            written[name] = save_figure(figure, out / name)
            figures.append(FigureView(name, title, _figure_caption(caption, mine)))

    experiments: list[ExperimentView] = []
    for experiment, mine in user_rows.items():
        title, stem = _experiment_title(experiment, titles), _file_stem(experiment)
        table = experiment_table(mine, name=stem, title=title, experiment=experiment)
        if table is not None:
            put_table(table)
        views = []
        for suffix, draw, heading, caption in _EXPERIMENT_FIGURES:
            figure = draw(mine, title=title)
            if figure is not None:
                file = f"{stem}_{suffix}.png"
                written[file] = save_figure(figure, out / file)
                views.append(FigureView(file, f"{title}: {heading}", _figure_caption(caption, mine)))
        experiments.append(ExperimentView(experiment, title, table, tuple(views)))

    sweep_views, sweep_files = copy_sweeps(sweep_list, out)
    written |= sweep_files

    page = Page(
        synthetic=bool(rows["synthetic"].any()),
        synthetic_rows=int(rows["synthetic"].sum()),
        row_count=len(rows),
        settings=_settings(rows, settings),
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
        synthetic_parts=synthetic_parts(rows),
        quick=quick_note(rows),
        experiments=experiments,
    )
    put("index.html", render_page(page))
    stale = (_OWNED | {p.name for pattern in _OWNED_PATTERNS for p in out.glob(pattern)}) - set(written)
    for name in sorted(stale):
        (out / name).unlink(missing_ok=True)
    return written
