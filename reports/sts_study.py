"""The STS-value study beside Table III: does adding STS hand data help FHGR where STB's own training data is
scarce or shifted? (``bench/run/experiments/sts_value.toml``.)

Rows: FHGR variants scored on STB, trained on a subset of STB's training split (``stb[split=train,sequences=N]``)
or on a domain-shifted one (``sequences=Counting``, scored on ``stb[split=test,sequences=Random]``), each with
and without STS (``sts=true``). One line per setting (training set, test set, the variant's settings other than
the STS ones, and the STS arm's stream settings ``sts_*``, so two STS streams get two lines against one no-STS
arm): MPJPE and PA-MPJPE without and with STS as the mean over training seeds with the 95% t interval, and the
difference STS - no STS computed per seed (the two arms of one seed share the training seed and the test data)
and summarised the same way (:func:`reports.stats.seed_summary`). A negative difference is a gain from STS; an
interval that includes zero says the seeds do not settle it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from bench.errors import ConfigError
from bench.method import format_spec
from reports.labels import synthetic_parts
from reports.rows import ERROR_METRICS, overall, per_seed
from reports.stats import SeedSummary, format_summary, seed_summary
from reports.table import DASH, Table, caption_with_warning
from reports.variants import dataset_name, split_spec

__all__ = ["sts_value_table", "training_label"]

_METRIC_NAMES = {"mpjpe_mm": "MPJPE", "pa_mpjpe_mm": "PA-MPJPE"}
_NOTES = (
    "Each arm: mean over training seeds ± the 95% Student t interval (t_{0.975,k-1} · sd / √k); '(1 seed)': one "
    "seed, no interval. The test data is the same for every seed (the data seed is fixed).",
    "STS − no STS: the difference per training seed (seeds present in both arms), then its mean ± 95% t interval "
    "over seeds; negative = STS helps.",
)


def training_label(train: str) -> str:
    """Words for a study's training set: 'STB train, first 3 sequences', 'STB train, Counting sequences', ..."""
    name, settings = split_spec(train) if train else ("", {})
    if name != "stb":
        return train or DASH
    split = str(settings.get("split", "test"))
    chosen = settings.get("sequences", "all")
    if isinstance(chosen, int) and not isinstance(chosen, bool):
        what = f"first {chosen} sequence" + ("s" if chosen != 1 else "")
    elif chosen == "all":
        what = "all sequences"
    elif "+" in str(chosen) or str(chosen).startswith("B"):
        what = f"sequences {str(chosen).replace('+', ', ')}"
    else:
        what = f"{chosen} sequences"
    return f"STB {split}, {what}"


def _subset_of_stb(train: str) -> bool:
    """Whether a row's training column is one STB spec with a ``sequences`` setting (several specs, joined by
    commas, are not a study setting)."""
    try:
        name, settings = split_spec(train)
    except ConfigError:
        return False
    return name == "stb" and "sequences" in settings


def _arm(variant: str) -> tuple[str, bool, str]:
    """(the variant without its STS settings, whether it trains with STS, its STS stream settings as text)."""
    name, params = split_spec(variant)
    sts = params.pop("sts", False) is True
    stream = {k: v for k, v in params.items() if k.startswith("sts_")}
    base = format_spec(name, {k: v for k, v in params.items() if k not in stream})
    return base, sts, format_spec("", stream).strip("[]") if sts else ""


def _summary(values: dict[int, float]) -> SeedSummary:
    return seed_summary(np.array(list(values.values()), dtype=float))


def sts_value_table(rows: pd.DataFrame) -> Table | None:
    """The STS-value table from validated result rows (:func:`reports.rows.validate_rows`): FHGR on STB trained on
    an STB training subset (a ``sequences`` setting in its training spec), with and without STS. One line per
    (variant, STS stream settings, training set, test set); the variant without ``sts=true`` of the same other
    settings is its no-STS arm. None when no such row exists."""
    sel = overall(rows)
    sel = sel[sel["metric"].isin(ERROR_METRICS) & (sel["method"] == "fhgr")]
    sel = sel[sel["dataset"].map(dataset_name) == "stb"]
    sel = sel[[_subset_of_stb(t) for t in sel["train"]]]
    if sel.empty:
        return None
    arms = [_arm(v) for v in sel["variant"]]
    sel = sel.assign(base=[a[0] for a in arms], sts=[a[1] for a in arms], stream=[a[2] for a in arms])
    keys = ["base", "stream", "train", "dataset", "sts", "metric"]
    seeds = per_seed(sel, keys)
    seeds = seeds[np.isfinite(seeds["value"])]
    values: dict[tuple, dict[int, float]] = {}
    for key, part in seeds.groupby(keys, sort=False):
        values[key] = dict(zip(part["seed"].astype(int), part["value"].astype(float), strict=True))
    lines = {(b, st, t, d) for b, st, t, d, sts, _ in values if sts}
    covered = {(b, t, d) for b, _, t, d in lines}
    lines |= {(b, "", t, d) for b, _, t, d, sts, _ in values if not sts and (b, t, d) not in covered}
    display: list[dict[str, str]] = []
    data: list[dict[str, Any]] = []
    for base, stream, train, dataset in sorted(lines, key=lambda k: (k[0], _order(k[2]), k[3], k[1])):
        line = {"method": base, "STS stream": stream or "defaults", "training set": training_label(train),
                "test set": dataset}  # fmt: skip
        record: dict[str, Any] = {"method": base, "sts_stream": stream, "train": train, "dataset": dataset}
        for metric in ERROR_METRICS:
            without = values.get((base, "", train, dataset, False, metric), {})
            with_sts = values.get((base, stream, train, dataset, True, metric), {})
            paired = sorted(set(without) & set(with_sts))
            diff = seed_summary(np.array([with_sts[s] - without[s] for s in paired], dtype=float))
            cells = {"no STS": ("no_sts", _summary(without)), "STS": ("sts", _summary(with_sts)),
                     "STS − no STS": ("diff", diff)}  # fmt: skip
            for arm, (key, summary) in cells.items():
                line[f"{_METRIC_NAMES[metric]}, {arm} (mm)"] = format_summary(summary)
                record[f"{metric}_{key}_mean"] = summary.mean
                record[f"{metric}_{key}_ci95"] = np.nan if summary.half_width is None else summary.half_width
                record[f"{metric}_{key}_seeds"] = summary.k
        line["seeds (no STS / STS / paired)"] = " / ".join(
            str(record[f"mpjpe_mm_{k}_seeds"]) for k in ("no_sts", "sts", "diff"))
        display.append(line)
        data.append(record)
    synthetic = bool(sel["synthetic"].any())
    caption = ("FHGR trained on few or domain-shifted STB sequences, without and with STS hand data: hand MPJPE and "
               "PA-MPJPE (mm, lower is better) and the difference STS − no STS.")  # fmt: skip
    protocols = sel[["dataset", "protocol"]].drop_duplicates().sort_values(["dataset", "protocol"])
    notes = _NOTES + tuple(f"Protocol of {d}: {p}" for d, p in protocols.itertuples(index=False, name=None) if p)
    return Table("sts_value", "STS value: FHGR with and without STS on scarce or shifted STB training data",
                 caption_with_warning(caption, synthetic, rows=sel), pd.DataFrame(display),
                 pd.DataFrame(data).assign(synthetic=synthetic), notes, synthetic, synthetic_parts(sel))  # fmt: skip


def _order(train: str) -> tuple[int, str]:
    """Training sets by size (the first N sequences, by N), then named ones (actions, lists) by name."""
    chosen = split_spec(train)[1].get("sequences", "all")
    if isinstance(chosen, int) and not isinstance(chosen, bool):
        return (0, f"{chosen:06d}")
    return (1, str(chosen))
