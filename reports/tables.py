"""Tables I-IV of the paper, rebuilt from result rows, with the paper's reported numbers beside ours.

Each builder takes validated rows (:func:`reports.rows.validate_rows`) and returns a :class:`reports.table.Table`,
or None when no row feeds it (no Table IV without runtime rows). Ours is the mean over seeds with a 95% t
interval (:mod:`reports.stats`); per seed, a unit listed under several experiments counts once and the units of
one seed are averaged. Paper numbers come from :mod:`reports.paper` only and sit in columns named
"paper (reported)".

Mapping our variants to paper rows: Table I by projection (``proposed[projection=d2s|wpp|pp]``, d2s when not
given); Table II by method family (``proposed`` with D2S -> "Ours", ``smplifyx`` -> "SMPLify-X"); Table IV like
Table II. A paper row with no counterpart (MTC, HMR, GCMR) is printed with '–' for ours; a variant of ours with
no paper row gets '–' for the paper. Reference methods (``reports.variants.REFERENCES``: the ``lifter``) come last
in Tables I and II, labelled as references, with a note saying what they are.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from reports import paper
from reports.labels import synthetic_parts
from reports.paper import PAPER_LABEL, PaperAccuracy
from reports.rows import ERROR_METRICS, RUNTIME_METRIC, UNIT_VALUE_KEYS, overall, per_seed
from reports.stats import SeedSummary, format_summary, seed_summary
from reports.table import DASH, Table, caption_with_warning, number_text
from reports.variants import (
    DEFAULT_H36M_PROTOCOL,
    REFERENCES,
    dataset_name,
    dataset_setting,
    is_reference,
    method_label,
    projection,
    without_setting,
)

__all__ = ["experiment_table", "table1", "table2", "table3", "table4"]

_METRIC_NAMES = {"mpjpe_mm": "MPJPE", "pa_mpjpe_mm": "PA-MPJPE"}
_Entry = tuple[str, str, str]  # (variant, dataset, method family)


@dataclass(frozen=True)
class _Cell:
    """Our result for one (variant, dataset, metric): summary over seeds, samples per seed, failures, and why
    the method was skipped when it could not run at all."""

    summary: SeedSummary
    n_min: int
    n_max: int
    failed: int
    skip_reason: str

    @property
    def text(self) -> str:
        if self.summary.k == 0 and self.skip_reason:
            return f"skipped: {self.skip_reason}"
        return format_summary(self.summary)

    @property
    def n_text(self) -> str:
        if self.summary.k == 0:
            return DASH
        return str(self.n_min) if self.n_min == self.n_max else f"{self.n_min}–{self.n_max}"


_EMPTY = _Cell(SeedSummary(float("nan"), None, 0), 0, 0, 0, "")


def _cells(rows: pd.DataFrame, keys: list[str]) -> dict[tuple, _Cell]:
    """One :class:`_Cell` per (keys..., metric) of ``rows``."""
    unique = rows.drop_duplicates(subset=list(UNIT_VALUE_KEYS))
    cells: dict[tuple, _Cell] = {}
    for key, part in unique.groupby([*keys, "metric"], sort=False):
        seeds = per_seed(part, [])
        finite = seeds[np.isfinite(seeds["value"])]
        reasons = sorted({r for r in part["skip_reason"] if r})
        cells[key] = _Cell(
            seed_summary(finite["value"].to_numpy()),
            int(finite["n"].min()) if len(finite) else 0,
            int(finite["n"].max()) if len(finite) else 0,
            int(part["failed"].sum()),
            "; ".join(reasons),
        )
    return cells


def _entries(rows: pd.DataFrame, dataset_column: str = "dataset") -> list[_Entry]:
    """The distinct (variant, dataset, method) of ``rows``, sorted."""
    triples = rows[["variant", dataset_column, "method"]].drop_duplicates().itertuples(index=False, name=None)
    return sorted(triples)


def _protocol_notes(rows: pd.DataFrame) -> list[str]:
    """One note per (dataset spec, protocol description) in force."""
    pairs = rows[["dataset", "protocol"]].drop_duplicates().sort_values(["dataset", "protocol"])
    return [f"Protocol of {d}: {p}" for d, p in pairs.itertuples(index=False, name=None) if p]


def _errors_on(rows: pd.DataFrame, name: str) -> pd.DataFrame:
    """Overall error rows (MPJPE, PA-MPJPE) on datasets registered as ``name``."""
    sel = overall(rows)
    sel = sel[sel["metric"].isin(ERROR_METRICS)]
    return sel[sel["dataset"].map(dataset_name) == name]


def _paper_match(entry: _Entry, by: str) -> str | None:
    """The paper-row key of ``entry``: its projection (``by='projection'``) or its family (``by='family'``; the
    proposed family only with D2S, the variant the paper reports)."""
    variant, _, family = entry
    proj = projection(variant, family)
    if by == "projection":
        return proj
    if family == "proposed":
        return "proposed" if proj == "d2s" else None
    return family


def _ordered(entries: list[_Entry], paper_rows: Sequence[Any], match: Callable[[_Entry], str | None]):
    """(entry or None, paper row or None) pairs: each paper row with our matching entries (or alone), in the
    paper's order, then our entries that match no paper row."""
    used: set[_Entry] = set()
    pairs: list[tuple[_Entry | None, Any]] = []
    for prow in paper_rows:
        mine = [e for e in entries if prow.match is not None and match(e) == prow.match]
        if mine:
            pairs.extend((e, prow) for e in mine)
        else:
            pairs.append((None, prow))
        used.update(mine)
    rest = [e for e in entries if e not in used]
    pairs.extend((e, None) for e in sorted(rest, key=lambda e: is_reference(e[0], e[2])))  # references last
    return pairs


def _reference_notes(rows: pd.DataFrame) -> list[str]:
    """One note per reference family among ``rows`` (``reports.variants.REFERENCES``)."""
    return [f"{label}: {what}." for family, (label, what) in REFERENCES.items() if (rows["method"] == family).any()]


def _accuracy_table(
    sel: pd.DataFrame,
    *,
    name: str,
    title: str,
    caption: str,
    paper_rows: Sequence[PaperAccuracy] | None,
    match: Callable[[_Entry], str | None],
    paper_text: str | None = None,
    notes: Sequence[str] = (),
) -> Table:
    """Table I / III layout: one line per (variant, dataset) of ours and per paper row; ours as mean ± interval
    for MPJPE and PA-MPJPE, then the paper's numbers (or ``paper_text`` in their place when the paper's values
    are not available; neither, and no paper column, when ``paper_rows`` is None: a user's experiment)."""
    with_paper = paper_rows is not None or paper_text is not None
    cells = _cells(sel, ["variant", "dataset"])
    display: list[dict[str, str]] = []
    data: list[dict[str, Any]] = []
    for entry, prow in _ordered(_entries(sel), paper_rows or (), match):
        variant, dataset, family = entry if entry else (DASH, DASH, "")
        mine = {m: cells.get((variant, dataset, m), _EMPTY) for m in ERROR_METRICS}
        k = max(c.summary.k for c in mine.values())
        line = {"method": method_label(variant, family) if entry else prow.label, "variant": variant,
                "dataset": dataset}  # fmt: skip
        for metric, cell in mine.items():
            line[f"{_METRIC_NAMES[metric]}, ours (mm)"] = cell.text
        line |= {"seeds": str(k) if k else DASH, "n per seed": mine["mpjpe_mm"].n_text,
                 "failed": str(mine["mpjpe_mm"].failed) if entry else DASH}  # fmt: skip
        if paper_text is not None:
            line[f"MPJPE, {PAPER_LABEL}"] = paper_text
        elif with_paper:
            line[f"MPJPE, {PAPER_LABEL}"] = number_text(prow.mpjpe_mm if prow else None)
            line[f"PA-MPJPE, {PAPER_LABEL}"] = number_text(prow.pa_mpjpe_mm if prow else None)
        display.append(line)
        record: dict[str, Any] = {"method": line["method"], "variant": variant if entry else "",
                                  "dataset": dataset if entry else ""}
        if with_paper and paper_text is None:
            record["paper_row"] = prow.label if prow else ""
        for metric, cell in mine.items():
            record[f"{metric}_mean"] = cell.summary.mean
            record[f"{metric}_ci95"] = np.nan if cell.summary.half_width is None else cell.summary.half_width
        record |= {"seeds": k, "n_min": mine["mpjpe_mm"].n_min, "n_max": mine["mpjpe_mm"].n_max,
                   "failed": mine["mpjpe_mm"].failed, "skip_reason": mine["mpjpe_mm"].skip_reason}  # fmt: skip
        if with_paper and paper_text is None:
            record["paper_mpjpe_mm"] = np.nan if prow is None or prow.mpjpe_mm is None else prow.mpjpe_mm
            record["paper_pa_mpjpe_mm"] = np.nan if prow is None or prow.pa_mpjpe_mm is None else prow.pa_mpjpe_mm
        data.append(record)
    synthetic = bool(sel["synthetic"].any())
    return Table(name, title, caption_with_warning(caption, synthetic, rows=sel), pd.DataFrame(display),
                 pd.DataFrame(data).assign(synthetic=synthetic), tuple(notes) + tuple(_protocol_notes(sel)),
                 synthetic, synthetic_parts(sel))  # fmt: skip


_SEEDS_NOTE = ("Ours: mean over seeds ± the 95% Student t interval (t_{0.975,k-1} · sd / √k); with one seed the mean "
               "alone, marked '(1 seed)'. '–': no value.")  # fmt: skip


def table1(rows: pd.DataFrame) -> Table | None:
    """Table I (CMU Panoptic): each projection variant against the paper's D2S / WPP / PP rows and MTC."""
    sel = _errors_on(rows, "panoptic")
    if sel.empty:
        return None
    return _accuracy_table(
        sel,
        name="table1",
        title="Table I: 3D body pose on CMU Panoptic Studio",
        caption="MPJPE and PA-MPJPE (mm, lower is better) of each projection variant, ours beside the paper's.",
        paper_rows=paper.TABLE1,
        match=lambda e: _paper_match(e, "projection"),
        notes=(_SEEDS_NOTE, f"Paper numbers: {paper.TABLE1_SOURCE}.", *_reference_notes(sel)),
    )


_FHGR_ORDER = ("FHGR", "FHGR + STS (ours)", "FHGR + STS*")


def table3(rows: pd.DataFrame) -> Table | None:
    """Table III (STB): the hand regressor alone, with STS, and with STS on ground-truth 2D input. The paper's
    values were not transcribed into this suite, so its column says so (and where to read them) instead of printing a
    number."""
    sel = _errors_on(rows, "stb")
    if sel.empty:
        return None
    table = _accuracy_table(
        sel,
        name="table3",
        title="Table III: 3D hand pose on STB",
        caption="Hand MPJPE and PA-MPJPE (mm, lower is better) of FHGR alone, with STS, and with STS on "
        "ground-truth 2D input (*).",
        paper_rows=(),
        match=lambda e: None,
        paper_text=paper.TABLE3_UNAVAILABLE,
        notes=(_SEEDS_NOTE, "*: ground-truth 2D hand keypoints as input.",
               f"Paper: {paper.TABLE3_SOURCE}; its numbers were not transcribed into hmrbench (the table's caption "
               "was), so none is printed here: read them in the paper."),
    )  # fmt: skip
    rank = {label: i for i, label in enumerate(_FHGR_ORDER)}
    order = sorted(range(len(table.display)), key=lambda i: (rank.get(table.display["method"][i], len(rank)), i))
    return replace(table, display=table.display.iloc[order].reset_index(drop=True),
                   data=table.data.iloc[order].reset_index(drop=True))


def table2(rows: pd.DataFrame) -> Table | None:
    """Table II (Human3.6M): protocols 1 and 2 as columns (``protocol=p1|p2`` of the dataset spec, p1 when not
    given); the paper's single MPJPE / PA-MPJPE pair per method beside them."""
    sel = _errors_on(rows, "h36m").copy()
    if sel.empty:
        return None
    sel["h36m_protocol"] = [str(dataset_setting(d, "protocol", DEFAULT_H36M_PROTOCOL)).lower() for d in sel["dataset"]]
    sel["base"] = [without_setting(d, "protocol") for d in sel["dataset"]]
    protocols = sorted(sel["h36m_protocol"].unique())
    cells = _cells(sel, ["variant", "base", "h36m_protocol"])
    display: list[dict[str, str]] = []
    data: list[dict[str, Any]] = []
    for entry, prow in _ordered(_entries(sel, "base"), paper.TABLE2, lambda e: _paper_match(e, "family")):
        variant, base, family = entry if entry else (DASH, DASH, "")
        line = {"method": method_label(variant, family) if entry else prow.label, "variant": variant,
                "dataset": base}  # fmt: skip
        record: dict[str, Any] = {"method": line["method"], "variant": variant if entry else "",
                                  "dataset": base if entry else "", "paper_row": prow.label if prow else ""}
        seeds, ns, failed = [], [], 0
        for p in protocols:
            mine = {m: cells.get((variant, base, p, m), _EMPTY) for m in ERROR_METRICS}
            for metric, cell in mine.items():
                line[f"{p.upper()} {_METRIC_NAMES[metric]}, ours (mm)"] = cell.text
                record[f"{p}_{metric}_mean"] = cell.summary.mean
                record[f"{p}_{metric}_ci95"] = np.nan if cell.summary.half_width is None else cell.summary.half_width
            k = max(c.summary.k for c in mine.values())
            seeds.append(str(k) if k else DASH)
            ns.append(mine["mpjpe_mm"].n_text)
            failed += mine["mpjpe_mm"].failed
            record[f"{p}_seeds"], record[f"{p}_n_min"] = k, mine["mpjpe_mm"].n_min
        joined = " / ".join(p.upper() for p in protocols)
        line[f"seeds ({joined})"] = " / ".join(seeds)
        line[f"n per seed ({joined})"] = " / ".join(ns)
        line["failed"] = str(failed) if entry else DASH
        line[f"MPJPE, {PAPER_LABEL}"] = number_text(prow.mpjpe_mm if prow else None)
        line[f"PA-MPJPE, {PAPER_LABEL}"] = number_text(prow.pa_mpjpe_mm if prow else None)
        record["paper_mpjpe_mm"] = np.nan if prow is None or prow.mpjpe_mm is None else prow.mpjpe_mm
        record["paper_pa_mpjpe_mm"] = np.nan if prow is None or prow.pa_mpjpe_mm is None else prow.pa_mpjpe_mm
        display.append(line)
        data.append(record)
    synthetic = bool(sel["synthetic"].any())
    caption = ("MPJPE and PA-MPJPE (mm, lower is better) per protocol (P1: all cameras; P2: the frontal camera), "
               "ours beside the paper's one pair per method.")  # fmt: skip
    notes = (_SEEDS_NOTE, f"Paper numbers: {paper.TABLE2_SOURCE}; that pair is printed once per method, beside "
             "both of our protocols.", *_reference_notes(sel), *_protocol_notes(sel))  # fmt: skip
    return Table("table2", "Table II: 3D body pose on Human3.6M", caption_with_warning(caption, synthetic, rows=sel),
                 pd.DataFrame(display), pd.DataFrame(data).assign(synthetic=synthetic), notes, synthetic,
                 synthetic_parts(sel))  # fmt: skip


def _median(values: pd.Series) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.median()) if len(finite) else float("nan")


def _seconds_text(value: float) -> str:
    return DASH if pd.isna(value) else f"{value:.3g}"


_RUNTIME_NOTE = "Ours: median over seeds/runs of the timed predict step only (set-up and training untimed)."


def _runtime_lines(sel: pd.DataFrame, paper_rows: Sequence[paper.PaperRuntime] | None):
    """(display lines, data records) of the runtime layout: per (variant, device) the median seconds per image at
    batch 1 and at the largest batch; the paper's two values beside them unless ``paper_rows`` is None."""
    entries = sorted(sel[["variant", "device_name", "method"]].drop_duplicates().itertuples(index=False, name=None))
    display: list[dict[str, str]] = []
    data: list[dict[str, Any]] = []
    for entry, prow in _ordered(entries, paper_rows or (), lambda e: _paper_match(e, "family")):
        variant, device, family = entry if entry else (DASH, DASH, "")
        part = sel[(sel["variant"] == variant) & (sel["device_name"] == device)]
        single = _median(part.loc[part["batch"] == 1, "value"])
        largest = int(part["batch"].max()) if (part["batch"] > 1).any() else 0
        batched = _median(part.loc[part["batch"] == largest, "value"]) if largest else float("nan")
        line = {"method": method_label(variant, family) if entry else prow.label, "variant": variant,
                "device": device or DASH, "batch 1 (s/image)": _seconds_text(single),
                "batched (s/image)": _seconds_text(batched),
                "batch size": str(largest) if largest else DASH}  # fmt: skip
        record = {"method": line["method"], "variant": variant if entry else "", "device_name": device if entry
                  else "", "batch1_s_per_image": single, "batched_s_per_image": batched, "batch": largest,
                  "runs": len(part)}  # fmt: skip
        if paper_rows is not None:
            line |= {f"Table IV, {PAPER_LABEL} (s)": f"{prow.table_s:g}" if prow else DASH,
                     f"text Sec. IV-E, {PAPER_LABEL}": prow.text_wording if prow else DASH}  # fmt: skip
            record |= {"paper_table_s": prow.table_s if prow else np.nan,
                       "paper_text_s": prow.text_s if prow else np.nan}  # fmt: skip
        display.append(line)
        data.append(record)
    return display, data


def _runtime_rows(rows: pd.DataFrame) -> pd.DataFrame:
    return rows[rows["metric"] == RUNTIME_METRIC].drop_duplicates(subset=list(UNIT_VALUE_KEYS))


def _devices(sel: pd.DataFrame) -> str:
    return ", ".join(sorted({d for d in sel["device_name"] if d})) or "unknown device"


def table4(rows: pd.DataFrame) -> Table | None:
    """Table IV (runtime): seconds per image per variant at batch 1 and at the largest batch, median over runs,
    with the device; beside them the paper's Table IV values and the text's, which disagree (both printed)."""
    sel = _runtime_rows(rows)
    if sel.empty:
        return None
    display, data = _runtime_lines(sel, paper.TABLE4)
    synthetic = bool(sel["synthetic"].any())
    caption = "Seconds per image (lower is better) at batch 1 and batched, ours beside the paper's."
    notes = (
        paper.TABLE4_DISCREPANCY,
        f"Paper: {paper.TABLE4_SETUP} ({paper.TABLE4_SOURCE}). Ours: {_devices(sel)}; different hardware and code, "
        "so the paper's seconds are context, not a target.",
        _RUNTIME_NOTE,
    )
    return Table("table4", "Table IV: runtime", caption_with_warning(caption, synthetic, sel, seeds=False),
                 pd.DataFrame(display), pd.DataFrame(data).assign(synthetic=synthetic), notes, synthetic,
                 synthetic_parts(sel))  # fmt: skip


def experiment_table(rows: pd.DataFrame, *, name: str, title: str, experiment: str) -> Table | None:
    """The table of a user's own experiment (not one of the paper's): its rows' overall MPJPE / PA-MPJPE per
    (variant, dataset) as in Table I (mean ± 95% t interval over seeds, seeds, n, failed), or, for a runtime
    experiment, its seconds per image as in Table IV; no paper row and no paper number. ``name``: the file stem,
    ``title``: the experiment's own title, ``experiment``: its name. None when the rows hold neither."""
    note = (f"Experiment '{experiment}': not an experiment of the paper, so no paper row or number is printed "
            "beside it.")  # fmt: skip
    sel = overall(rows)
    sel = sel[sel["metric"].isin(ERROR_METRICS)]
    if len(sel):
        return _accuracy_table(
            sel, name=name, title=title, paper_rows=None, match=lambda e: None,
            caption="MPJPE and PA-MPJPE (mm, lower is better) of each variant on each dataset.",
            notes=(_SEEDS_NOTE, note, *_reference_notes(sel)),
        )  # fmt: skip
    sel = _runtime_rows(rows)
    if sel.empty:
        return None
    display, data = _runtime_lines(sel, None)
    synthetic = bool(sel["synthetic"].any())
    caption = f"Seconds per image (lower is better) at batch 1 and batched, on {_devices(sel)}."
    return Table(name, title, caption_with_warning(caption, synthetic, sel, seeds=False), pd.DataFrame(display),
                 pd.DataFrame(data).assign(synthetic=synthetic), (note, _RUNTIME_NOTE), synthetic,
                 synthetic_parts(sel))  # fmt: skip
