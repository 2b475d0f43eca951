"""Paired comparisons of the projection ablation: D2S against WPP and PP on the very same samples, tested over
training seeds, beside a built-in null check.

Pairing. Two units' per-sample errors are joined on ``sample_id`` (``bench.run.results.sample_ids``: subject,
sequence, action, frame, view, person), within one dataset spec and data seed, on the samples both scored with a
finite error; never by position, so two units scored with different ``--limit``s pair only the samples they share.
The units of one variant and training seed (the same variant listed under two experiments) are averaged per
sample. Units written before samples carried their identity (no ``sample_id``) are left out, and the table says so.
The samples left out of the pairs are counted by why (:class:`LeftOut`): scored by one unit only, failed by a
method (what the tables count as failed), or not scored although nothing failed (no error can be computed: the
sample's ground truth has no valid root joint, or no valid joint the method predicts; the rows count these as
skipped, not failed).

For each dataset spec, data seed and metric, each ``proposed`` D2S variant is compared with every WPP / PP variant
whose other parameters are equal (a difference ``D2S - other`` in mm; negative: D2S has the lower error):

- per training seed s, the mean paired difference d_s over the samples both units of seed s scored;
- **over seeds** (the verdict): the mean of the d_s with the 95% Student t interval over seeds
  (:func:`reports.stats.seed_interval`), given with at least :data:`MIN_SEEDS` seeds. A method difference has to
  hold over training randomness; one trained model against another on one test set says nothing about that;
- **over bodies**: the mean of every paired difference (all seeds) with a 95% bootstrap interval that resamples
  whole bodies (:func:`reports.stats.cluster_bootstrap` over ``body_id``: a body's views, and its pairs in every
  seed, go together). It says how sure the difference is for these trained models on this test set.

Null check: each D2S variant against itself with another training seed. Its seeds, sorted, are paired disjointly
(s0 with s1, s2 with s3, ...) so the differences are independent, and the seed-level interval needs at least
:data:`NULL_MIN_PAIRS` pairs. The models differ by training randomness only, so the interval must include zero; the
table says so when it does not (then the seed-level test is not to be trusted for that set).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from bench.errors import ConfigError
from reports.labels import synthetic_parts
from reports.rows import ERROR_METRICS
from reports.stats import Interval, cluster_bootstrap, seed_interval
from reports.table import DASH, Table, caption_with_warning, number_text
from reports.variants import projection, split_spec

__all__ = ["MIN_SEEDS", "NULL_MIN_PAIRS", "Comparison", "LeftOut", "compare", "left_out_note", "null_check",
           "paired_errors", "paired_table", "sample_errors"]  # fmt: skip

MIN_SEEDS = 3  # training seeds a seed-level interval needs
NULL_MIN_PAIRS = 2  # disjoint seed pairs the null check's interval needs (so 4 seeds)
_METRIC_NAMES = {"mpjpe_mm": "MPJPE", "pa_mpjpe_mm": "PA-MPJPE"}


@dataclass(frozen=True)
class LeftOut:
    """Samples of two units left out of their pairs, by why: ``one_side``: scored by one unit only (the other never
    had it: another ``--limit`` or set); ``failed``: the method failed on it in either unit (``failed`` of the
    per-sample errors: what the tables count as failed); ``not_scored``: in both units, failed in neither, but
    without a finite error in one of them (no valid ground-truth root joint, or no valid joint the method
    predicts: the rows count these as skipped, not failed)."""

    one_side: int = 0
    failed: int = 0
    not_scored: int = 0

    @property
    def total(self) -> int:
        return self.one_side + self.failed + self.not_scored

    def __add__(self, other: LeftOut) -> LeftOut:
        return LeftOut(self.one_side + other.one_side, self.failed + other.failed, self.not_scored + other.not_scored)


@dataclass(frozen=True)
class Comparison:
    """``a - b`` on one dataset spec and data seed for one metric (mm).

    ``per_seed``: (seed label, mean paired difference, pairs) per training seed (null check: per seed pair,
    labelled ``"0 vs 1"``); ``seeds``: over those (basis "seeds", NaN bounds below the minimum); ``bodies``: over
    every paired difference, bootstrapped by body; ``left_out``: the samples left out of the pairs, by why, summed
    over seeds (``unpaired``: their number).
    """

    dataset: str
    data_seed: int
    a: str
    b: str
    metric: str
    per_seed: tuple[tuple[str, float, int], ...]
    seeds: Interval
    bodies: Interval
    left_out: LeftOut
    null: bool = False

    @property
    def pairs(self) -> int:
        return sum(n for _, _, n in self.per_seed)

    @property
    def unpaired(self) -> int:
        return self.left_out.total


def _errors_by_seed(per_sample: pd.DataFrame, variant: str, metric: str, dataset: str,
                    data_seed: int) -> dict[int, pd.DataFrame]:  # fmt: skip
    """:func:`sample_errors` for every training seed of ``variant`` at once: seed -> frame (samples without an
    identity left out)."""
    if metric not in ERROR_METRICS:
        raise ConfigError(f"paired: unknown metric {metric!r}; valid: {', '.join(ERROR_METRICS)}")
    part = per_sample[(per_sample["variant"] == variant) & (per_sample["dataset"] == dataset)
                      & (per_sample["data_seed"] == data_seed) & (per_sample["sample_id"] != "")]  # fmt: skip
    part = part.drop_duplicates(subset=["unit", "sample_id"])
    if "failed" not in part.columns:  # errors without the method's failure flag: a NaN error is "not scored"
        part = part.assign(failed=False)
    grouped = part.groupby(["seed", "sample_id"], sort=True).agg(error=(metric, "mean"), body_id=("body_id", "first"),
                                                                  failed=("failed", "any"))
    return {int(seed): frame.droplevel("seed") for seed, frame in grouped.groupby(level="seed", sort=True)}


def sample_errors(per_sample: pd.DataFrame, variant: str, seed: int, metric: str, *, dataset: str,
                  data_seed: int = 0) -> pd.DataFrame:  # fmt: skip
    """One variant's errors for one training seed, indexed by ``sample_id``: columns ``error`` (mean over the
    variant's units of that seed; NaN where it failed or was not scored), ``body_id`` and ``failed`` (the method
    failed on it in any of those units); empty when it has none. ``per_sample``: validated
    (``reports.rows.validate_per_sample``)."""
    found = _errors_by_seed(per_sample, variant, metric, dataset, data_seed)
    empty = {"error": pd.Series([], dtype=float), "body_id": pd.Series([], dtype=object),
             "failed": pd.Series([], dtype=bool)}  # fmt: skip
    return found.get(seed, pd.DataFrame(empty, index=pd.Index([], name="sample_id")))


def paired_errors(a: pd.DataFrame, b: pd.DataFrame) -> tuple[pd.DataFrame, LeftOut]:
    """The samples both ``a`` and ``b`` (frames of :func:`sample_errors`) scored with a finite error, joined on
    ``sample_id``: columns ``a``, ``b``, ``diff`` (a - b), ``body_id``; and the samples of either side left out,
    by why (:class:`LeftOut`)."""
    both = a[["error", "body_id", "failed"]].rename(columns={"error": "error_a", "failed": "failed_a"}).join(
        b[["error", "failed"]].rename(columns={"error": "error_b", "failed": "failed_b"}), how="inner")
    finite = np.isfinite(both["error_a"].astype(float)) & np.isfinite(both["error_b"].astype(float))
    failed = (both["failed_a"].astype(bool) | both["failed_b"].astype(bool)) & ~finite
    joined = both[finite]
    frame = pd.DataFrame({"a": joined["error_a"], "b": joined["error_b"],
                          "diff": joined["error_a"] - joined["error_b"], "body_id": joined["body_id"]})  # fmt: skip
    left = LeftOut(one_side=len(a.index.union(b.index)) - len(both), failed=int(failed.sum()),
                   not_scored=int((~finite & ~failed).sum()))  # fmt: skip
    return frame, left


def left_out_note(left: LeftOut, what: str) -> str:
    """One sentence on the samples ``left`` out of the pairs of ``what`` (e.g. 'the MPJPE comparisons, summed over
    seeds'), by why; '' when none was."""
    if not left.total:
        return ""
    parts = []
    if left.not_scored:
        parts.append(f"{left.not_scored} not scored although no method failed on them (no valid ground-truth root "
                     "joint, or no valid joint the method predicts: no error can be computed, so the tables count "
                     "them in neither 'n' nor 'failed')")  # fmt: skip
    if left.failed:
        parts.append(f"{left.failed} failed by a method (counted in the tables' 'failed')")
    if left.one_side:
        parts.append(f"{left.one_side} scored by one unit only (another --limit or set)")
    return f"Left out of the pairs of {what}: {left.total} sample(s): " + "; ".join(parts) + "."


def _seed_level(values: list[float], minimum: int) -> Interval:
    """The t interval over per-seed (or per-pair) values, bounds NaN below ``minimum`` values."""
    interval = seed_interval(values)
    if interval.n >= minimum:
        return interval
    return Interval(interval.mean, float("nan"), float("nan"), interval.n, "seeds")


def _compare(per_sample: pd.DataFrame, a: str, b: str, pairs: list[tuple[int, int]], metric: str, dataset: str,
             data_seed: int, minimum: int, n_boot: int, boot_seed: int, null: bool) -> Comparison | None:  # fmt: skip
    per_seed, diffs, bodies, unpaired = [], [], [], LeftOut()
    errors_a = _errors_by_seed(per_sample, a, metric, dataset, data_seed)
    errors_b = errors_a if b == a else _errors_by_seed(per_sample, b, metric, dataset, data_seed)
    for seed_a, seed_b in pairs:
        joined, left = paired_errors(errors_a[seed_a], errors_b[seed_b])
        unpaired += left
        if joined.empty:
            continue
        label = f"{seed_a} vs {seed_b}" if null else str(seed_a)
        per_seed.append((label, float(joined["diff"].mean()), len(joined)))
        diffs.append(joined["diff"].to_numpy())
        bodies.append(joined["body_id"].to_numpy())
    if not per_seed:
        return None
    seeds = _seed_level([d for _, d, _ in per_seed], minimum)
    clustered = cluster_bootstrap(np.concatenate(diffs), np.concatenate(bodies), n_boot=n_boot, seed=boot_seed)
    return Comparison(dataset, data_seed, a, b, metric, tuple(per_seed), seeds, clustered, unpaired, null)


def _seeds_of(per_sample: pd.DataFrame, variant: str, dataset: str, data_seed: int) -> list[int]:
    part = per_sample[(per_sample["variant"] == variant) & (per_sample["dataset"] == dataset)
                      & (per_sample["data_seed"] == data_seed) & (per_sample["sample_id"] != "")]  # fmt: skip
    return sorted(int(s) for s in part["seed"].unique())


def compare(per_sample: pd.DataFrame, a: str, b: str, *, metric: str, dataset: str, data_seed: int = 0,
            min_seeds: int = MIN_SEEDS, n_boot: int = 2000, boot_seed: int = 0) -> Comparison | None:  # fmt: skip
    """Variant ``a`` against ``b`` (module docstring), paired per training seed both have; None when no seed has
    a sample both scored."""
    seeds = sorted(set(_seeds_of(per_sample, a, dataset, data_seed)) & set(_seeds_of(per_sample, b, dataset,
                                                                                      data_seed)))  # fmt: skip
    return _compare(per_sample, a, b, [(s, s) for s in seeds], metric, dataset, data_seed, min_seeds, n_boot,
                    boot_seed, null=False)  # fmt: skip


def null_check(per_sample: pd.DataFrame, variant: str, *, metric: str, dataset: str, data_seed: int = 0,
               min_pairs: int = NULL_MIN_PAIRS, n_boot: int = 2000,
               boot_seed: int = 0) -> Comparison | None:  # fmt: skip
    """``variant`` against itself with another training seed, over disjoint seed pairs (module docstring); None
    with fewer than 2 seeds."""
    seeds = _seeds_of(per_sample, variant, dataset, data_seed)
    pairs = list(zip(seeds[0::2], seeds[1::2], strict=False))
    if not pairs:
        return None
    return _compare(per_sample, variant, variant, pairs, metric, dataset, data_seed, min_pairs, n_boot, boot_seed,
                    null=True)  # fmt: skip


def _others_key(variant: str) -> tuple:
    """A variant's parameters other than the projection: two variants pair only when these are equal."""
    params = split_spec(variant)[1]
    params.pop("projection", None)
    return tuple(sorted((k, str(v)) for k, v in params.items()))


def _interval_text(interval: Interval) -> str:
    if not interval.has_interval:
        return DASH
    return f"[{interval.low:.2f}, {interval.high:.2f}]"


def _verdict(c: Comparison, minimum: int) -> str:
    need = f"needs ≥ {minimum} seed pairs" if c.null else f"needs ≥ {minimum} seeds"
    unit = "seed pair(s)" if c.null else "seed(s)"
    if not c.seeds.has_interval:
        return f"no interval ({c.seeds.n} {unit}; {need})"
    if c.null:
        return "FAILS: interval excludes 0" if c.seeds.excludes_zero else "passes: interval includes 0"
    if not c.seeds.excludes_zero:
        return "no difference shown (interval includes 0)"
    return "D2S lower" if c.seeds.high < 0 else "D2S higher"


def _lines(c: Comparison, minimum: int) -> tuple[dict[str, str], dict[str, Any]]:
    other = f"{c.a}, another training seed (null check)" if c.null else c.b
    counts = [n for _, _, n in c.per_seed]
    display = {
        "dataset": c.dataset, "data seed": str(c.data_seed), "D2S variant": c.a, "compared with": other,
        "metric": _METRIC_NAMES[c.metric], "seeds": f"{c.seeds.n} pairs" if c.null else str(c.seeds.n),
        "pairs per seed": str(counts[0]) if min(counts) == max(counts) else f"{min(counts)}–{max(counts)}",
        "mean D2S − other (mm)": number_text(c.seeds.mean, 2),
        "95% interval over seeds (mm)": _interval_text(c.seeds),
        "95% interval over bodies (mm)": f"{_interval_text(c.bodies)} ({c.bodies.n} {c.bodies.basis})",
        "per seed (mm)": ", ".join(f"{label}: {d:+.2f}" for label, d, _ in c.per_seed),
        "verdict (over seeds)": _verdict(c, minimum),
    }  # fmt: skip
    data = {
        "dataset": c.dataset, "data_seed": c.data_seed, "comparison": "null" if c.null else "projection",
        "d2s_variant": c.a, "other_variant": c.b, "metric": c.metric, "n_seeds": c.seeds.n,
        "seeds": ";".join(label for label, _, _ in c.per_seed), "n_pairs": c.pairs, "unpaired": c.unpaired,
        "unpaired_one_side": c.left_out.one_side, "unpaired_failed": c.left_out.failed,
        "unpaired_not_scored": c.left_out.not_scored,
        "mean_diff_mm": c.seeds.mean, "seed_low_mm": c.seeds.low, "seed_high_mm": c.seeds.high,
        "significant_over_seeds": c.seeds.excludes_zero, "body_mean_mm": c.bodies.mean,
        "body_low_mm": c.bodies.low, "body_high_mm": c.bodies.high, "n_clusters": c.bodies.n,
        "cluster_basis": c.bodies.basis,
        "per_seed_mm": ";".join(f"{label}:{d:.6g}" for label, d, _ in c.per_seed),
    }  # fmt: skip
    return display, data


def paired_table(per_sample: pd.DataFrame, *, synthetic: bool = False, rows: pd.DataFrame | None = None,
                 min_seeds: int = MIN_SEEDS, n_boot: int = 2000) -> Table | None:  # fmt: skip
    """The paired comparisons and null checks (module docstring) from validated per-sample errors
    (:func:`reports.rows.validate_per_sample`); None when no D2S variant shares a dataset spec and data seed with
    a WPP or PP variant. ``rows``: the validated result rows of the paired units, for the labels (which parts are
    synthetic, quick settings); ``synthetic``: label the table synthetic even without them."""
    frame = per_sample.copy()
    anonymous = sorted(set(frame.loc[frame["sample_id"] == "", "unit"]))  # written before samples had identities
    frame = frame[frame["sample_id"] != ""]
    if frame.empty:
        return None
    frame["projection"] = [projection(v, m) for v, m in zip(frame["variant"], frame["method"], strict=True)]
    frame = frame[frame["projection"].notna()]
    display: list[dict[str, str]] = []
    data: list[dict[str, Any]] = []
    null_failed = []
    left = LeftOut()
    for (dataset, data_seed), part in frame.groupby(["dataset", "data_seed"], sort=True):
        kinds = part[["variant", "projection"]].drop_duplicates()
        d2s = sorted(kinds.loc[kinds["projection"] == "d2s", "variant"])
        others = sorted(kinds.loc[kinds["projection"].isin(("wpp", "pp")), "variant"])
        for ours in d2s:
            matching = [o for o in others if _others_key(o) == _others_key(ours)]
            found = [c for metric in ERROR_METRICS for o in matching
                     if (c := compare(part, ours, o, metric=metric, dataset=dataset, data_seed=int(data_seed),
                                      min_seeds=min_seeds, n_boot=n_boot)) is not None]  # fmt: skip
            if not found:
                continue
            found += [c for metric in ERROR_METRICS
                      if (c := null_check(part, ours, metric=metric, dataset=dataset, data_seed=int(data_seed),
                                          n_boot=n_boot)) is not None]  # fmt: skip
            for c in found:
                if not c.null and c.metric == "mpjpe_mm":
                    left += c.left_out
                line, record = _lines(c, NULL_MIN_PAIRS if c.null else min_seeds)
                display.append(line)
                data.append(record)
                if c.null and c.seeds.excludes_zero:
                    null_failed.append(f"{c.a} on {c.dataset} ({_METRIC_NAMES[c.metric]})")
    if not data:
        return None
    caption = ("D2S against WPP / PP on the same samples (paired by sample identity, within one dataset spec and "
               "data seed), tested over training seeds; negative differences: D2S has the lower error.")  # fmt: skip
    notes = [
        f"Over seeds: per training seed the mean paired difference, then the 95% Student t interval over seeds "
        f"(at least {min_seeds} seeds); the verdict rests on it.",
        "Over bodies: every paired difference, 95% percentile bootstrap resampling whole bodies (a body's views "
        "and its pairs in every seed together): how sure the difference is for these trained models on this test "
        "set, not for the method.",
        f"Null check: the same D2S variant against itself with another training seed, seeds paired disjointly "
        f"(0 vs 1, 2 vs 3, ...); its interval over seed pairs (at least {NULL_MIN_PAIRS}) must include 0.",
    ]  # fmt: skip
    if left.total:
        notes.append(left_out_note(left, "the MPJPE comparisons (summed over comparisons and seeds)"))
    if anonymous:
        notes.append(f"{len(anonymous)} unit(s) whose per-sample errors were written before samples carried their "
                     "identity were left out (they cannot be paired by sample; rerun them).")  # fmt: skip
    if null_failed:
        notes.append("NULL CHECK FAILED for " + "; ".join(null_failed) + ": two trainings of one variant differ "
                     "'significantly' over seeds, so the seed-level verdicts on that set are not to be trusted.")
    labels = rows if rows is not None else pd.DataFrame()
    parts = synthetic_parts(labels)
    synthetic = synthetic or bool(parts)
    frame_data = pd.DataFrame(data).assign(synthetic=synthetic)
    return Table("paired", "Paired tests: D2S against WPP / PP", caption_with_warning(caption, synthetic, labels,
                 seeds=False), pd.DataFrame(display), frame_data, tuple(notes), synthetic, parts)  # fmt: skip
