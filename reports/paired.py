"""The paired test of the projection ablation: D2S against WPP and PP on the very same samples.

Seed means hide how consistent a difference is; pairing the per-sample errors of two variants scored on one
dataset spec with one seed (same sample indices) removes the between-sample spread. For each dataset spec and
seed, each ``proposed`` D2S variant is compared with every WPP / PP variant whose other parameters are equal,
for MPJPE and PA-MPJPE: mean of (D2S - other) in mm with its 95% t interval (negative: D2S has the lower error),
the paired t-test p and the Wilcoxon signed-rank p (:func:`reports.stats.paired_test`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from reports.rows import ERROR_METRICS
from reports.stats import paired_test
from reports.table import DASH, Table, caption_with_warning, number_text
from reports.variants import projection, split_spec

__all__ = ["paired_table"]

_METRIC_NAMES = {"mpjpe_mm": "MPJPE", "pa_mpjpe_mm": "PA-MPJPE"}


def _p_text(p: float) -> str:
    return DASH if np.isnan(p) else f"{p:.3g}"


def _others_key(variant: str) -> tuple:
    """A variant's parameters other than the projection: two variants pair only when these are equal."""
    params = split_spec(variant)[1]
    params.pop("projection", None)
    return tuple(sorted((k, str(v)) for k, v in params.items()))


def paired_table(per_sample: pd.DataFrame, *, synthetic: bool = False) -> Table | None:
    """Paired tests from validated per-sample errors (:func:`reports.rows.validate_per_sample`); None when no
    D2S variant shares a dataset spec and seed with a WPP or PP variant. A sample listed twice by one unit counts
    once; per sample index, the units of one variant are averaged."""
    frame = per_sample.drop_duplicates(subset=["unit", "variant", "dataset", "seed", "index"]).copy()
    if frame.empty:
        return None
    frame["projection"] = [projection(v, m) for v, m in zip(frame["variant"], frame["method"], strict=True)]
    frame = frame[frame["projection"].notna()]
    display: list[dict[str, str]] = []
    data: list[dict[str, Any]] = []
    for (dataset, seed), part in frame.groupby(["dataset", "seed"], sort=True):
        means = part.groupby(["variant", "index"])[list(ERROR_METRICS)].mean()
        kinds = part[["variant", "projection"]].drop_duplicates()
        d2s = sorted(kinds.loc[kinds["projection"] == "d2s", "variant"])
        others = sorted(kinds.loc[kinds["projection"].isin(("wpp", "pp")), "variant"])
        for ours in d2s:
            for other in (o for o in others if _others_key(o) == _others_key(ours)):
                joined = pd.merge(means.loc[ours], means.loc[other], left_index=True, right_index=True,
                                  suffixes=("_a", "_b"))
                for metric in ERROR_METRICS:
                    result = paired_test(joined[f"{metric}_a"].to_numpy(), joined[f"{metric}_b"].to_numpy())
                    display.append({
                        "dataset": dataset, "seed": str(seed), "D2S variant": ours, "compared with": other,
                        "metric": _METRIC_NAMES[metric], "pairs": str(result.n),
                        "mean D2S − other (mm)": number_text(result.mean_diff, 2),
                        "95% interval (mm)": DASH if np.isnan(result.ci_low)
                        else f"[{result.ci_low:.2f}, {result.ci_high:.2f}]",
                        "paired t p": _p_text(result.t_p), "Wilcoxon p": _p_text(result.wilcoxon_p),
                    })  # fmt: skip
                    data.append({
                        "dataset": dataset, "seed": int(seed), "d2s_variant": ours, "other_variant": other,
                        "metric": metric, "n_pairs": result.n, "dropped_pairs": result.dropped,
                        "mean_diff_mm": result.mean_diff, "ci_low_mm": result.ci_low, "ci_high_mm": result.ci_high,
                        "t_test_p": result.t_p, "wilcoxon_p": result.wilcoxon_p,
                    })  # fmt: skip
    if not data:
        return None
    dropped = sum(r["dropped_pairs"] for r in data)
    caption = ("Per-sample paired comparison of the D2S projection with WPP / PP on the same samples "
               "(same dataset spec and seed); negative differences: D2S has the lower error.")  # fmt: skip
    notes = ["Interval: 95% Student t interval of the mean per-sample difference; p: two-sided paired t-test "
             "(scipy.stats.ttest_rel) and Wilcoxon signed-rank test (scipy.stats.wilcoxon); '–': undefined "
             "(fewer than 2 pairs, or all differences zero)."]  # fmt: skip
    if dropped:
        notes.append(f"{dropped} pair(s) with a non-finite error (failed samples) were left out.")
    frame_data = pd.DataFrame(data).assign(synthetic=synthetic)
    return Table("paired", "Paired tests: D2S against WPP / PP", caption_with_warning(caption, synthetic),
                 pd.DataFrame(display), frame_data, tuple(notes), synthetic)  # fmt: skip
