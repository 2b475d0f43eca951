"""The Claims section of the report: one row per claim of the paper, with our measured effect, its 95% interval,
what the interval is over, the paper's figure and a verdict.

The claims (:data:`reports.paper.CLAIMS`) and how each is measured:

1. D2S beats WPP and PP on Panoptic (Table I): D2S - other, MPJPE and PA-MPJPE, mm.
2. D2S's advantage grows at close range: (D2S - other on samples closer than :data:`CLOSE_M`) - (D2S - other on
   the rest), MPJPE, mm; inconclusive below :data:`MIN_CLOSE` close or far pairs per seed.
3. PP training is less stable than D2S: the share of PP runs whose camera collapsed minus D2S's (the rows'
   ``collapsed`` flag; Newcombe's score interval), and the ratio of the seed-to-seed SD of Panoptic MPJPE, PP / D2S
   (F-distribution interval; with 3 seeds it is wide, and the verdict says so).
4. STS improves FHGR (Table III): fhgr with STS - fhgr without, STB MPJPE, mm, one row per setting (experiment,
   test set, training set) where both were scored.
5. The regressor is more than :data:`reports.paper.SPEEDUP_CLAIMED` times faster than SMPLify-X (Table IV):
   SMPLify-X seconds per image / proposed seconds per image, at batch 1 and each at its largest batch.
6. The regressor beats SMPLify-X in PA-MPJPE on Human3.6M (Table II): proposed (D2S) - smplifyx, mm.

Errors are paired by sample identity within each training seed and data seed (:mod:`reports.paired`): two units
scored on different subsets (SMPLify-X on 256 samples, a ``--limit``) pair only the samples both scored; the units
of one variant are averaged per sample. With at least three training seeds (``reports.paired.MIN_SEEDS``, the paired
table's rule) the interval is the Student t interval over the per-seed effects (basis "seeds"); with fewer it is
the percentile bootstrap that resamples whole bodies (:func:`reports.stats.cluster_bootstrap`, basis "bodies", or
"samples" when each body has one view). Without
per-sample errors, claims 1, 4 and 6 fall back to the rows' per-seed means (not paired by sample; no interval with
one seed). Verdicts (:func:`verdict`): "supported" when the interval excludes the null
value (0 for a difference, 1 or the claimed factor for a ratio) in the claimed direction, "not supported" when it
excludes it in the other, "inconclusive" when it includes it or there is no interval or too little data (the
``why`` column says which), "not measured" when no rows feed the claim.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from reports import paper
from reports.labels import synthetic_parts
from reports.paired import MIN_SEEDS, compare, paired_errors, sample_errors
from reports.paper import PAPER_LABEL, PaperClaim
from reports.rows import RUNTIME_METRIC, UNIT_VALUE_KEYS, overall, per_seed
from reports.selection import full_over_quick, own_rows
from reports.stats import Interval, cluster_bootstrap, seed_interval
from reports.table import DASH, Table, caption_with_warning
from reports.variants import dataset_name, projection, split_spec, without_setting

__all__ = ["CLOSE_M", "MIN_CLOSE", "N_BOOT", "VERDICTS", "claims_table", "verdict"]

CLOSE_M = 2.0  # camera distance (m) under which a sample is a close shot (claim 2)
MIN_CLOSE = 30  # close (and far) pairs per seed below which claim 2 is inconclusive
N_BOOT = 2000  # bootstrap draws of the body-clustered interval (seed 0: same rows, same interval)
SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE, NOT_MEASURED = "supported", "not supported", "inconclusive", "not measured"
VERDICTS = (SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE, NOT_MEASURED)

_CLAIM = {c.key: c for c in paper.CLAIMS}
_METRIC_NAMES = {"mpjpe_mm": "MPJPE", "pa_mpjpe_mm": "PA-MPJPE"}
_TRUE, _FALSE = ("true", "1", "1.0", "yes"), ("false", "0", "0.0", "no")


@dataclass(frozen=True)
class _Line:
    """One row of the claims table. ``lower``: the claim says the effect is below ``null`` (an error difference)
    rather than above it (a ratio); ``interval`` None: not measured."""

    claim: PaperClaim
    measured_as: str
    metric: str
    paper_figure: str
    unit: str
    null: float
    lower: bool
    interval: Interval | None
    n_text: str
    verdict: str
    why: str
    synthetic: bool


def verdict(interval: Interval | None, *, lower: bool, null: float = 0.0) -> tuple[str, str]:
    """(verdict, why) of a measured effect against the claim that it lies below ``null`` (``lower``) or above it.

    "supported": the 95% interval excludes ``null`` in the claimed direction; "not supported": it excludes it in
    the other; "inconclusive": it includes ``null``, or there is no interval (one seed and one body); "not
    measured": no effect (None, or no finite mean).
    """
    if interval is None or interval.n == 0 or not np.isfinite(interval.mean):
        return NOT_MEASURED, "no paired result"
    if not interval.has_interval:
        return INCONCLUSIVE, f"no interval: only {_basis_text(interval)}"
    above, below = interval.low > null, interval.high < null
    if below or above:
        return (SUPPORTED if below == lower else NOT_SUPPORTED), f"the interval excludes {null:g}"
    return INCONCLUSIVE, f"the interval includes {null:g}"


def _basis_text(interval: Interval) -> str:
    """'3 seeds', '1 seed', '120 bodies', '1 body', '300 samples'."""
    if interval.n == 1:
        return "1 " + {"seeds": "seed", "bodies": "body", "samples": "sample"}[interval.basis]
    return f"{interval.n} {interval.basis}"


def _line(claim: str, measured_as: str, metric: str, figure: str, unit: str, interval: Interval | None,
          n_text: str, synthetic: bool, *, lower: bool = True, null: float = 0.0, why: str = "",
          force: str = "") -> _Line:  # fmt: skip
    """A table line; the verdict from the interval unless ``force`` gives it (too little data, point value);
    ``why`` replaces or (after '; ') extends the verdict's reason."""
    result, reason = verdict(interval, lower=lower, null=null)
    if force:
        result, reason = force, why
    elif why:
        reason = f"{reason}; {why}"
    return _Line(_CLAIM[claim], measured_as, metric, figure, unit, null, lower, interval, n_text, result, reason,
                 synthetic)  # fmt: skip


def _not_measured(claim: str, measured_as: str, metric: str, figure: str, why: str, *, lower: bool = True,
                  null: float = 0.0) -> _Line:  # fmt: skip
    return _Line(_CLAIM[claim], measured_as, metric, figure, "", null, lower, None, DASH, NOT_MEASURED, why, False)


# ---------------------------------------------------------------------------------------------------- pairing


def _count_text(counts: Sequence[int]) -> str:
    """'300 pairs' (one seed), '300 pairs per seed' or '290–300 pairs per seed'."""
    if not counts:
        return "0 pairs"
    low, high = min(counts), max(counts)
    text = str(low) if low == high else f"{low}–{high}"
    return f"{text} pairs" + (" per seed" if len(counts) > 1 else "")


def _mean_effects(samples: pd.DataFrame, dataset: str, a: str, b: str, metric: str) -> list[tuple[int, Interval, str]]:
    """(data seed, effect, pair count text) of ``a - b`` per data seed of ``dataset``, paired by sample identity
    (:func:`reports.paired.compare`): over training seeds with at least ``MIN_SEEDS`` (3, the paired table's rule),
    else over bodies."""
    mine = samples[samples["dataset"] == dataset]
    found = []
    for data_seed in sorted({int(s) for s in mine["data_seed"]}):
        c = compare(mine, a, b, metric=metric, dataset=dataset, data_seed=data_seed, min_seeds=MIN_SEEDS,
                    n_boot=N_BOOT, boot_seed=0)  # fmt: skip
        if c is not None:
            effect = c.seeds if c.seeds.n >= MIN_SEEDS else c.bodies
            found.append((data_seed, effect, _count_text([n for _, _, n in c.per_seed])))
    return found


def _distance_pairs(samples: pd.DataFrame, dataset: str, a: str, b: str, metric: str) -> pd.DataFrame:
    """Every paired difference ``a - b`` of ``dataset`` (:func:`reports.paired.paired_errors`, per data seed and
    training seed both have) with its camera distance. Columns: ``data_seed``, ``seed``, ``cluster`` (body),
    ``distance_m``, ``diff``."""
    mine = samples[samples["dataset"] == dataset]
    distance = mine.groupby("sample_id")["distance_m"].first()
    parts = []
    for data_seed in sorted({int(s) for s in mine["data_seed"]}):
        here = mine[mine["data_seed"] == data_seed]
        seeds = set(here.loc[here["variant"] == a, "seed"]) & set(here.loc[here["variant"] == b, "seed"])
        for seed in sorted(int(s) for s in seeds):
            errors = (sample_errors(here, v, seed, metric, dataset=dataset, data_seed=data_seed) for v in (a, b))
            joined, _ = paired_errors(*errors)
            parts.append(pd.DataFrame({"data_seed": data_seed, "seed": seed, "cluster": joined["body_id"].to_numpy(),
                                       "distance_m": distance.reindex(joined.index).to_numpy(),
                                       "diff": joined["diff"].to_numpy()}))  # fmt: skip
    columns = ["data_seed", "seed", "cluster", "distance_m", "diff"]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)


def _close_far_effect(pairs: pd.DataFrame) -> tuple[Interval, int, int]:
    """(mean difference on close samples) - (mean difference on the rest), with the fewest close and far pairs of
    any replicate (data seed and training seed). ``MIN_SEEDS`` or more replicates: Student t over them. Fewer: the body
    bootstrap of the linearised values ``N/n_c (d - m_c)`` (close) and ``-N/n_f (d - m_f)`` (far), plus
    ``m_c - m_f``, whose mean is the effect and whose bootstrap spread is the delta-method spread of the difference
    of the two subgroup means."""
    nan = float("nan")
    pairs = pairs[np.isfinite(pairs["distance_m"].astype(float))].assign(close=lambda f: f["distance_m"] < CLOSE_M)
    if pairs.empty:
        return Interval(nan, nan, nan, 0, "samples"), 0, 0
    grouped = pairs.groupby(["data_seed", "seed", "close"])["diff"].agg(["mean", "size"]).unstack("close")
    n_close = grouped[("size", True)].fillna(0) if ("size", True) in grouped else pd.Series(0, grouped.index)
    n_far = grouped[("size", False)].fillna(0) if ("size", False) in grouped else pd.Series(0, grouped.index)
    fewest = int(n_close.min()), int(n_far.min())
    if fewest[0] == 0 or fewest[1] == 0:
        return Interval(nan, nan, nan, 0, "samples"), *fewest
    effects = grouped[("mean", True)] - grouped[("mean", False)]
    if len(effects) >= MIN_SEEDS:
        return seed_interval(effects.to_numpy()), *fewest
    close, diff = pairs["close"].to_numpy(), pairs["diff"].to_numpy(dtype=float)
    m_c, m_f, total = diff[close].mean(), diff[~close].mean(), len(diff)
    values = np.where(close, total / close.sum() * (diff - m_c), -total / (~close).sum() * (diff - m_f)) + (m_c - m_f)
    return cluster_bootstrap(values, pairs["cluster"].to_numpy(), n_boot=N_BOOT, seed=0), *fewest


def _row_effect(rows: pd.DataFrame, a: str, b: str, dataset: str, metric: str) -> tuple[Interval, str]:
    """Without per-sample errors: the per-seed overall means of ``a`` minus ``b`` (seeds both have), Student t
    over seeds (no interval with one seed); with the seed count text."""
    sel = overall(rows)
    sel = sel[(sel["dataset"] == dataset) & (sel["metric"] == metric)]
    seeds_a = per_seed(sel[sel["variant"] == a], []).set_index("seed")["value"]
    seeds_b = per_seed(sel[sel["variant"] == b], []).set_index("seed")["value"]
    diffs = (seeds_a - seeds_b).dropna()
    return seed_interval(diffs.to_numpy()), f"{len(diffs)} seed mean(s)"


_ROWS_ONLY = "from the result rows' seed means (no per-sample errors with sample identity): not paired by sample"


def _synthetic(rows: pd.DataFrame, units: Sequence[str] | pd.Series, default: bool) -> bool:
    """Whether any row of ``units`` is synthetic (``default`` when none of them is in the rows)."""
    mine = rows[rows["unit"].isin(set(units))]
    return bool(mine["synthetic"].any()) if len(mine) else default


def _units(samples: pd.DataFrame, variants: Sequence[str]) -> pd.Series:
    return samples.loc[samples["variant"].isin(variants), "unit"]


# ---------------------------------------------------------------------------------------------------- claims


def _paper_table1(target: str, metric: str) -> str:
    rows = {r.match: r for r in paper.TABLE1 if r.match}
    a, b = (getattr(rows[p], metric) for p in ("d2s", target))
    return f"{a - b:+.1f} mm ({a:.1f} vs {b:.1f}, Table I)"


def _projection_pairs(rows: pd.DataFrame, target: str) -> list[tuple[str, str, str]]:
    """(dataset spec, D2S variant, ``target`` variant) of the ``proposed`` variants in ``rows`` whose parameters
    other than the projection are equal."""
    kinds = rows[["dataset", "variant", "method"]].drop_duplicates()
    kinds = kinds.assign(projection=[projection(v, m) for v, m in zip(kinds["variant"], kinds["method"], strict=True)],
                         others=[without_setting(v, "projection") for v in kinds["variant"]])  # fmt: skip
    found = []
    for dataset, part in kinds.groupby("dataset", sort=True):
        for ours in part[part["projection"] == "d2s"].itertuples():
            for other in part[(part["projection"] == target) & (part["others"] == ours.others)].itertuples():
                found.append((str(dataset), ours.variant, other.variant))
    return sorted(set(found))


def _effects(rows: pd.DataFrame, samples: pd.DataFrame | None, dataset: str, a: str, b: str, metric: str,
             synthetic: bool) -> list[tuple[str, Interval, str, str, bool]]:  # fmt: skip
    """(label suffix, effect, n text, extra why, synthetic) of ``a - b`` on ``dataset``: paired per sample (one per
    data seed) where the per-sample errors hold both, else from the rows' seed means."""
    if samples is not None:
        mine = samples[samples["dataset"] == dataset]
        if {a, b} <= set(mine["variant"]):
            found = _mean_effects(mine, dataset, a, b, metric)
            syn = _synthetic(rows, _units(mine, (a, b)), synthetic)
            several = len(found) > 1
            return [(f" (data seed {d})" if several else "", effect, n_text, "", syn) for d, effect, n_text in found]
    effect, n_text = _row_effect(rows, a, b, dataset, metric)
    syn = _synthetic(rows, rows.loc[rows["variant"].isin((a, b)), "unit"], synthetic)
    return [("", effect, n_text, _ROWS_ONLY, syn)]


def _projection_claim(rows: pd.DataFrame, samples: pd.DataFrame | None, synthetic: bool) -> list[_Line]:
    """Claim 1: D2S - WPP and D2S - PP on Panoptic, MPJPE and PA-MPJPE (Table I's experiment)."""
    sel = own_rows(rows, "table1")
    sel = overall(sel[sel["dataset"].map(dataset_name) == "panoptic"])
    mine = own_rows(samples, "table1") if samples is not None else None
    lines = []
    for target in ("wpp", "pp"):
        pairs = _projection_pairs(sel, target)
        for metric, name in _METRIC_NAMES.items():
            figure = _paper_table1(target, metric)
            if not pairs:
                lines.append(_not_measured("d2s_panoptic", f"D2S - {target.upper()} on Panoptic", name, figure,
                                           f"no Panoptic rows of a proposed D2S and {target.upper()} variant"))
                continue
            for dataset, ours, other in pairs:
                for suffix, effect, n_text, why, syn in _effects(sel, mine, dataset, ours, other, metric, synthetic):
                    lines.append(_line("d2s_panoptic", f"{ours} - {other} on {dataset}{suffix}", name, figure, "mm",
                                       effect, n_text, syn, why=why))  # fmt: skip
    return lines


def _close_range_claim(rows: pd.DataFrame, samples: pd.DataFrame | None, synthetic: bool) -> list[_Line]:
    """Claim 2: (D2S - other) close minus (D2S - other) far, MPJPE, per dataset spec with close samples (the
    distance study's experiment)."""
    figure = "no number (stated in words: Abstract, Sec. III-E, Fig. 5)"
    lines = []
    mine = own_rows(samples, "distance") if samples is not None else None
    for target in ("wpp", "pp"):
        what = f"(D2S - {target.upper()}) under {CLOSE_M:g} m minus at or over {CLOSE_M:g} m"
        pairs = _projection_pairs(mine, target) if mine is not None else []
        if not pairs:
            lines.append(_not_measured("close_range", what, "MPJPE", figure,
                                       f"no per-sample errors of a proposed D2S and {target.upper()} variant"))
            continue
        without_close, measured = [], 0
        for dataset, ours, other in pairs:
            part = mine[mine["dataset"] == dataset]
            paired = _distance_pairs(part, dataset, ours, other, "mpjpe_mm")
            if not (paired["distance_m"] < CLOSE_M).any():
                without_close.append(dataset)
                continue
            effect, n_close, n_far = _close_far_effect(paired)
            measured += 1
            replicates = len(paired[["data_seed", "seed"]].drop_duplicates())
            counts = f"{n_close} close / {n_far} far pairs" + (" (fewest per seed)" if replicates > 1 else "")
            syn = _synthetic(rows, _units(part, (ours, other)), synthetic)
            text = f"{ours} - {other} on {dataset}, under {CLOSE_M:g} m minus at or over {CLOSE_M:g} m"
            if min(n_close, n_far) < MIN_CLOSE:
                lines.append(_line("close_range", text, "MPJPE", figure, "mm", effect, counts, syn, force=INCONCLUSIVE,
                                   why=f"too few pairs: {min(n_close, n_far)} < {MIN_CLOSE} on one side of "
                                   f"{CLOSE_M:g} m"))  # fmt: skip
            else:
                lines.append(_line("close_range", text, "MPJPE", figure, "mm", effect, counts, syn))
        if measured and without_close:  # say which sets had no close shot to offer
            skipped = f"no sample under {CLOSE_M:g} m in {', '.join(sorted(set(without_close)))}"
            lines[-measured:] = [replace(line, why=f"{line.why}; {skipped}") for line in lines[-measured:]]
        if not measured:
            lines.append(_line("close_range", what, "MPJPE", figure, "mm", None, "0 close pairs", synthetic,
                               force=INCONCLUSIVE, why=f"no sample under {CLOSE_M:g} m in "
                               f"{', '.join(sorted(set(without_close)))} (at least {MIN_CLOSE} needed)"))  # fmt: skip
    return lines


def _flags(rows: pd.DataFrame) -> pd.Series:
    """The rows' ``collapsed`` flag (validated: 'true' / 'false' / '', :data:`reports.rows.COLLAPSED_VALUES`) as
    True / False, None where the method reports none."""
    if "collapsed" not in rows.columns:
        return pd.Series([None] * len(rows), index=rows.index, dtype=object)
    text = rows["collapsed"].astype(str).str.strip().str.lower()
    return text.map(lambda t: True if t in _TRUE else False if t in _FALSE else None)


def _wilson(k: int, n: int, z: float) -> tuple[float, float]:
    """Wilson score interval of a proportion k / n."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def _rate_difference(k1: int, n1: int, k2: int, n2: int) -> Interval:
    """p1 - p2 of two proportions with Newcombe's hybrid score interval (his method 10), valid for a handful of
    runs where the Wald interval is not."""
    z = float(stats.norm.ppf(0.975))
    p1, p2 = k1 / n1, k2 / n2
    (l1, u1), (l2, u2) = _wilson(k1, n1, z), _wilson(k2, n2, z)
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return Interval(d, low, high, min(n1, n2), "seeds")


def _sd_ratio(a: np.ndarray, b: np.ndarray) -> Interval:
    """SD(a) / SD(b) over seeds with the F-distribution 95% interval (normal per-seed values assumed)."""
    nan = float("nan")
    k1, k2 = len(a), len(b)
    if min(k1, k2) < 2:
        return Interval(nan, nan, nan, min(k1, k2), "seeds")
    sd_a, sd_b = float(np.std(a, ddof=1)), float(np.std(b, ddof=1))
    if sd_b == 0:
        return Interval(nan, nan, nan, min(k1, k2), "seeds")
    ratio = sd_a / sd_b
    low = ratio / math.sqrt(stats.f.ppf(0.975, k1 - 1, k2 - 1))
    high = ratio / math.sqrt(stats.f.ppf(0.025, k1 - 1, k2 - 1))
    return Interval(ratio, low, high, min(k1, k2), "seeds")


def _stability_claim(rows: pd.DataFrame, synthetic: bool) -> list[_Line]:
    """Claim 3: collapsed PP runs vs D2S runs, and the seed-to-seed SD of Panoptic MPJPE, PP / D2S (Table I's
    experiment)."""
    figure = "no number ('prone to collapse', Sec. IV-C)"
    sel = own_rows(rows, "table1")
    sel = overall(sel[(sel["dataset"].map(dataset_name) == "panoptic") & (sel["metric"] == "mpjpe_mm")])
    pairs = _projection_pairs(sel, "pp")
    if not pairs:
        why = "no Panoptic rows of a proposed D2S and PP variant"
        return [_not_measured("pp_stability", "collapsed runs, PP - D2S", "share of runs", figure, why, lower=False),
                _not_measured("pp_stability", "seed-to-seed SD of MPJPE, PP / D2S", "MPJPE", figure, why,
                              lower=False, null=1.0)]  # fmt: skip
    lines = []
    flags = _flags(sel)
    for dataset, ours, other in pairs:
        part = sel[sel["dataset"] == dataset]
        syn = _synthetic(rows, part.loc[part["variant"].isin((ours, other)), "unit"], synthetic)
        runs = {}  # variant -> per seed: did a unit of that seed collapse (seeds without a flag left out)
        for variant in (other, ours):
            known = flags.loc[part.index[part["variant"] == variant]].dropna().astype(bool)
            runs[variant] = known.groupby(part.loc[known.index, "seed"]).any()
        what = f"runs whose camera collapsed, {other} - {ours} on {dataset}"
        if runs[other].empty or runs[ours].empty:
            lines.append(_not_measured("pp_stability", what, "share of runs", figure,
                                       "the rows carry no 'collapsed' flag for both variants", lower=False))
        else:
            k1, n1, k2, n2 = int(runs[other].sum()), len(runs[other]), int(runs[ours].sum()), len(runs[ours])
            lines.append(_line("pp_stability", what, "share of runs", figure, "", _rate_difference(k1, n1, k2, n2),
                               f"PP {k1}/{n1}, D2S {k2}/{n2} collapsed", syn, lower=False,
                               why="Newcombe score interval over runs"))  # fmt: skip
        values = {v: per_seed(part[part["variant"] == v], [])["value"].dropna().to_numpy() for v in (other, ours)}
        ratio = _sd_ratio(values[other], values[ours])
        what = f"seed-to-seed SD of MPJPE, {other} / {ours} on {dataset}"
        n_text = f"PP {len(values[other])}, D2S {len(values[ours])} seeds"
        if min(len(values[other]), len(values[ours])) < 2:
            lines.append(_line("pp_stability", what, "MPJPE", figure, "×", ratio, n_text, syn, lower=False, null=1.0,
                               force=INCONCLUSIVE, why="an SD needs at least 2 seeds of each"))  # fmt: skip
        elif not np.isfinite(ratio.mean):
            lines.append(_line("pp_stability", what, "MPJPE", figure, "×", ratio, n_text, syn, lower=False, null=1.0,
                               force=INCONCLUSIVE, why="D2S's MPJPE is the same for every seed (SD 0)"))  # fmt: skip
        else:
            lines.append(_line("pp_stability", what, "MPJPE", figure, "×", ratio, n_text, syn, lower=False, null=1.0,
                               why="F-distribution interval of the SD ratio"))  # fmt: skip
    return lines


def _has_sts(variant: str) -> bool:
    return str(split_spec(variant)[1].get("sts", False)).lower() in _TRUE


def _sts_claim(rows: pd.DataFrame, samples: pd.DataFrame | None, synthetic: bool) -> list[_Line]:
    """Claim 4: fhgr with STS - the same fhgr without, STB MPJPE, per (experiment, test set, training set); every
    experiment with FHGR on STB (Table III and the STS-value study), full runs over their quick versions."""
    figure = f"Table III: {paper.TABLE3_UNAVAILABLE}"
    sel = overall(full_over_quick(rows))
    sel = sel[(sel["method"] == "fhgr") & (sel["dataset"].map(dataset_name) == "stb") & (sel["metric"] == "mpjpe_mm")]
    train = dict(zip(sel["unit"], sel["train"], strict=False))
    settings = sel[["experiment", "dataset", "train", "variant"]].drop_duplicates()
    lines = []
    for (experiment, dataset, trained), part in settings.groupby(["experiment", "dataset", "train"], sort=True):
        variants = set(part["variant"])
        for ours in sorted(v for v in variants if _has_sts(v)):
            for base in sorted(v for v in variants if not _has_sts(v) and
                               without_setting(v, "sts") == without_setting(ours, "sts")):  # fmt: skip
                rows_here = sel[(sel["experiment"] == experiment) & (sel["dataset"] == dataset)
                                & (sel["train"] == trained)]  # fmt: skip
                mine = None
                if samples is not None:
                    mine = samples[(samples["experiment"] == experiment)
                                   & (samples["unit"].map(train).fillna("") == trained)]  # fmt: skip
                text = f"{ours} - {base} on {dataset}, trained on {trained or DASH} ({experiment})"
                for suffix, effect, n_text, why, syn in _effects(rows_here, mine, dataset, ours, base, "mpjpe_mm",
                                                                 synthetic):  # fmt: skip
                    lines.append(_line("sts_fhgr", text + suffix, "MPJPE", figure, "mm", effect, n_text, syn, why=why))
    if not lines:
        lines.append(_not_measured("sts_fhgr", "FHGR with STS - FHGR without", "MPJPE", figure,
                                   "no STB rows of an fhgr variant with STS beside the same variant without"))
    return lines


def _paper_speedup() -> str:
    rows = {r.match: r for r in paper.TABLE4 if r.match}
    ours, fit = rows["proposed"], rows["smplifyx"]
    return (f"{fit.table_s / ours.table_s:.0f}× (Table IV: {fit.table_s:g} s / {ours.table_s:g} s); "
            f"{fit.text_s / ours.text_s:.0f}× (text: {fit.text_s:g} s / {ours.text_s:g} s)")  # fmt: skip


def _speed_claim(rows: pd.DataFrame, synthetic: bool) -> list[_Line]:
    """Claim 5: SMPLify-X seconds per image / proposed seconds per image, at batch 1 and each at its largest batch,
    per device (Table IV's experiment). Timings repeated over seeds and paired by seed give a t interval of the log
    ratio; a single median per method gives the point value only."""
    figure, claimed = _paper_speedup(), paper.SPEEDUP_CLAIMED
    sel = own_rows(rows, "table4")
    sel = sel[sel["metric"] == RUNTIME_METRIC].drop_duplicates(subset=list(UNIT_VALUE_KEYS))
    sel = sel[np.isfinite(sel["value"]) & (sel["value"] > 0)]
    lines = []
    for device, part in sel.groupby("device_name", sort=True):
        regressor = part[[projection(v, m) == "d2s" for v, m in zip(part["variant"], part["method"], strict=True)]]
        fitter = part[part["method"] == "smplifyx"]
        if regressor.empty or fitter.empty:
            continue
        for label, batch_of in (("batch 1", lambda f: 1), ("batched", lambda f: int(f["batch"].max()))):
            b_reg, b_fit = batch_of(regressor), batch_of(fitter)
            if label == "batched" and (b_reg <= 1 or b_fit <= 1):
                continue
            times = {name: frame[frame["batch"] == b].groupby("seed")["value"].median()
                     for name, frame, b in (("reg", regressor, b_reg), ("fit", fitter, b_fit))}  # fmt: skip
            if times["reg"].empty or times["fit"].empty:
                continue
            what = (f"{fitter['variant'].iloc[0]} (batch {b_fit}) / {regressor['variant'].iloc[0]} (batch {b_reg}), "
                    f"seconds per image on {device or 'unknown device'}")  # fmt: skip
            syn = _synthetic(rows, part["unit"], synthetic)
            logs = (np.log(times["fit"]) - np.log(times["reg"])).dropna()
            if len(logs) >= 2:
                t = seed_interval(logs.to_numpy())
                ratio = Interval(math.exp(t.mean), math.exp(t.low), math.exp(t.high), t.n, "seeds")
                lines.append(_line("speed", what, f"speed-up, {label}", figure, "×", ratio,
                                   f"{len(logs)} timed seeds", syn, lower=False, null=claimed,
                                   why="t interval of the log ratio over seeds"))  # fmt: skip
                continue
            point = float(times["fit"].median() / times["reg"].median())
            nan = float("nan")
            result = SUPPORTED if point > claimed else NOT_SUPPORTED
            lines.append(_line("speed", what, f"speed-up, {label}", figure, "×", Interval(point, nan, nan, 1, "seeds"),
                               "1 median per method", syn, lower=False, null=claimed, force=result,
                               why=f"single median per method, no interval: verdict on the point value against "
                               f"{claimed:g}×"))  # fmt: skip
    if not lines:
        lines.append(_not_measured("speed", "SMPLify-X / proposed, seconds per image", "speed-up", figure,
                                   "no runtime rows of both the proposed regressor and smplifyx on one device",
                                   lower=False, null=claimed))  # fmt: skip
    return lines


def _smplifyx_claim(rows: pd.DataFrame, samples: pd.DataFrame | None, synthetic: bool) -> list[_Line]:
    """Claim 6: proposed (D2S) - smplifyx PA-MPJPE per Human3.6M spec, on the samples both scored (Table II's
    experiment)."""
    paper_rows = {r.match: r for r in paper.TABLE2 if r.match}
    ours_p, fit_p = paper_rows["proposed"].pa_mpjpe_mm, paper_rows["smplifyx"].pa_mpjpe_mm
    figure = f"{ours_p - fit_p:+.1f} mm ({ours_p:.1f} vs {fit_p:.1f}, Table II)"
    sel = own_rows(rows, "table2")
    sel = overall(sel[(sel["dataset"].map(dataset_name) == "h36m") & (sel["metric"] == "pa_mpjpe_mm")])
    mine = own_rows(samples, "table2") if samples is not None else None
    lines = []
    for dataset, part in sel.groupby("dataset", sort=True):
        kinds = part[["variant", "method"]].drop_duplicates()
        regressors = sorted(v for v, m in kinds.itertuples(index=False) if projection(v, m) == "d2s")
        fitters = sorted(kinds.loc[kinds["method"] == "smplifyx", "variant"])
        for ours in regressors:
            for fit in fitters:
                for suffix, effect, n_text, why, syn in _effects(part, mine, dataset, ours, fit, "pa_mpjpe_mm",
                                                                 synthetic):  # fmt: skip
                    lines.append(_line("smplifyx_pa", f"{ours} - {fit} on {dataset}{suffix}", "PA-MPJPE", figure,
                                       "mm", effect, n_text, syn, why=why))  # fmt: skip
    if not lines:
        lines.append(_not_measured("smplifyx_pa", "proposed (D2S) - SMPLify-X on Human3.6M", "PA-MPJPE", figure,
                                   "no Human3.6M rows of both the proposed D2S regressor and smplifyx"))
    return lines


# ---------------------------------------------------------------------------------------------------- table


def _ratio_text(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _value_text(value: float, unit: str) -> str:
    if not np.isfinite(value):
        return DASH
    if unit == "×":
        return f"{_ratio_text(value)}×"
    if unit == "mm":
        return f"{value:+.2f} mm"
    return f"{value:+.2f}"


def _interval_text(interval: Interval | None, unit: str) -> str:
    if interval is None or not interval.has_interval:
        return DASH
    if unit == "×":
        return f"[{_ratio_text(interval.low)}, {_ratio_text(interval.high)}]"
    return f"[{interval.low:+.2f}, {interval.high:+.2f}]"


def _data_seed_note(rows: pd.DataFrame) -> str:
    """Which seed the intervals over seeds vary: the training seed, over one test set or several."""
    values = sorted({int(v) for v in rows["data_seed"]}) if "data_seed" in rows.columns else []
    if len(values) == 1:
        return f"Seeds: training seeds; the test data are the same for every seed (data seed {values[0]})."
    if not values:
        return "Seeds: training seeds."
    return (f"Seeds: training seeds; the rows hold data seeds {', '.join(map(str, values))}: errors pair only "
            "within one data seed, and an interval over seeds mixes test-set resampling with training randomness.")


def claims_table(rows: pd.DataFrame, per_sample: pd.DataFrame | None, *, synthetic: bool) -> Table | None:
    """The claims table from validated rows and per-sample errors (:mod:`reports.rows`; ``per_sample`` may be
    None): one line per claim and comparison (see the module docstring). ``synthetic``: label the table synthetic
    (it is also labelled when any row feeding a measured claim is). None when no claim could be measured."""
    samples, anonymous = None, 0
    if per_sample is not None and len(per_sample):
        blank = per_sample["sample_id"].astype(str) == ""  # written before samples had identities: not pairable
        anonymous = per_sample.loc[blank, "unit"].nunique()
        samples = per_sample[~blank] if (~blank).any() else None
    lines = [
        *_projection_claim(rows, samples, synthetic),
        *_close_range_claim(rows, samples, synthetic),
        *_stability_claim(rows, synthetic),
        *_sts_claim(rows, samples, synthetic),
        *_speed_claim(rows, synthetic),
        *_smplifyx_claim(rows, samples, synthetic),
    ]
    if all(line.verdict == NOT_MEASURED for line in lines):
        return None
    order = [c.key for c in paper.CLAIMS]
    display: list[dict[str, str]] = []
    data: list[dict[str, Any]] = []
    for line in lines:
        number = order.index(line.claim.key) + 1
        source = line.claim.source.split(";")[0]
        interval = line.interval
        measured = interval is not None and np.isfinite(interval.mean)
        display.append({
            "claim": f"{number}. {line.claim.statement} ({source})", "measured as": line.measured_as,
            "metric": line.metric, PAPER_LABEL: line.paper_figure,
            "ours": _value_text(interval.mean, line.unit) if measured else DASH,
            "95% interval": _interval_text(interval, line.unit) if measured else DASH,
            "interval over": _basis_text(interval) if measured else DASH, "n": line.n_text,
            "verdict": line.verdict, "why": line.why,
        })  # fmt: skip
        nan = float("nan")
        data.append({
            "claim": number, "claim_key": line.claim.key, "statement": line.claim.statement,
            "measured_as": line.measured_as, "metric": line.metric, "paper_figure": line.paper_figure,
            "effect": interval.mean if measured else nan, "ci_low": interval.low if measured else nan,
            "ci_high": interval.high if measured else nan, "unit": line.unit, "null": line.null,
            "claimed_direction": "below" if line.lower else "above", "basis": interval.basis if measured else "",
            "basis_n": interval.n if measured else 0, "n": line.n_text, "verdict": line.verdict, "why": line.why,
            "synthetic": line.synthetic,
        })  # fmt: skip
    labelled = synthetic or any(line.synthetic for line in lines)
    caption = ("Each claim of the paper with our measured effect, its 95% interval and a verdict; differences are "
               "ours minus the other (negative: lower error), ratios the other's seconds over ours.")  # fmt: skip
    notes = [
        "Verdict: supported when the 95% interval excludes the null value (0, or the claimed factor) in the claimed "
        "direction; not supported when it excludes it in the other direction; inconclusive when it includes it, "
        "or there is no interval or too little data; not measured when no rows feed the claim.",
        f"Interval: with at least {MIN_SEEDS} seeds, the Student t interval over the per-seed effects (errors paired "
        f"by sample identity within each seed); with fewer, a percentile bootstrap ({N_BOOT} draws, seed 0) that "
        "resamples whole bodies (the views of one body at one instant together), or samples when each body has one: "
        "how sure the difference is for that one trained model on this test set, not over training randomness.",
        "Speed-up (claim 5): each method at batch 1, and each at its largest timed batch; with several timed seeds, "
        "the t interval of the log ratio over seeds, else the ratio of the two medians with no interval.",
        _data_seed_note(rows),
        f"Close range (claim 2): camera distance under {CLOSE_M:g} m; at least {MIN_CLOSE} close and far pairs per "
        "seed, else inconclusive.",
        *([f"{anonymous} unit(s) whose per-sample errors carry no sample identity (written before it existed) "
           "were left out of the pairing; their claims use the rows' seed means."] if anonymous else []),
        *(f"Claim {i}. {c.statement}: {c.source}; the paper: '{c.wording}'." for i, c in enumerate(paper.CLAIMS, 1)),
    ]
    parts = synthetic_parts(rows)
    labelled = labelled or bool(parts)
    return Table("claims", "Claims of the paper: verdicts", caption_with_warning(caption, labelled, rows, seeds=False),
                 pd.DataFrame(display), pd.DataFrame(data), tuple(notes), labelled, parts)  # fmt: skip
