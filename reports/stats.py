"""The statistics of the reports: mean and 95% interval over seeds, and paired tests over samples.

Over seeds: the Student t interval ``mean +- t_{0.975, k-1} * sd / sqrt(k)`` (sd with ``ddof=1``) of the k
per-seed values. With one seed there is no interval (``half_width`` None), and it is printed as such: one seed
says nothing about the spread, so an interval is never made up.

Paired (two methods on the same samples): the difference ``a - b`` per sample, its mean with the same t
interval, the paired t-test (``scipy.stats.ttest_rel``) and the Wilcoxon signed-rank test
(``scipy.stats.wilcoxon``, two-sided, scipy's default zero handling). Pairs where either value is not finite
are dropped and counted.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["PairedResult", "SeedSummary", "format_summary", "paired_test", "seed_summary", "t_half_width"]


@dataclass(frozen=True)
class SeedSummary:
    """Mean of the finite per-seed values, the 95% interval half width (None below 2 values) and their count."""

    mean: float
    half_width: float | None
    k: int


@dataclass(frozen=True)
class PairedResult:
    """Paired comparison of ``a`` and ``b`` on ``n`` samples: mean of ``a - b`` with its 95% interval, p-values
    (NaN when undefined: fewer than 2 pairs, or all differences zero); ``dropped``: pairs with a non-finite value."""

    n: int
    mean_diff: float
    ci_low: float
    ci_high: float
    t_p: float
    wilcoxon_p: float
    dropped: int


def t_half_width(values: np.ndarray) -> float | None:
    """``t_{0.975, k-1} * sd / sqrt(k)`` of the k values (sd with ddof=1); None when k < 2."""
    k = len(values)
    if k < 2:
        return None
    return float(stats.t.ppf(0.975, k - 1) * np.std(values, ddof=1) / math.sqrt(k))


def seed_summary(values: Sequence[float] | np.ndarray) -> SeedSummary:
    """Mean and 95% t interval of per-seed values (one value per seed); non-finite values are left out."""
    array = np.asarray(values, dtype=float)
    array = array[np.isfinite(array)]
    if len(array) == 0:
        return SeedSummary(float("nan"), None, 0)
    return SeedSummary(float(array.mean()), t_half_width(array), len(array))


def format_summary(summary: SeedSummary, digits: int = 1) -> str:
    """'52.0 ± 12.7' (k >= 2), '52.0 (1 seed)' (k == 1), '–' (no value)."""
    if summary.k == 0:
        return "–"
    mean = f"{summary.mean:.{digits}f}"
    if summary.half_width is None:
        return f"{mean} (1 seed)"
    return f"{mean} ± {summary.half_width:.{digits}f}"


def paired_test(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> PairedResult:
    """Compare ``a`` and ``b``, equal-length arrays of one error per sample in the same sample order."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired_test: expected two 1-D arrays of one shape, got {a.shape} and {b.shape}")
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    diff = a - b
    n = len(diff)
    nan = float("nan")
    if n == 0:
        return PairedResult(0, nan, nan, nan, nan, nan, int((~ok).sum()))
    mean = float(diff.mean())
    half = t_half_width(diff)
    t_p = w_p = nan
    if n >= 2 and np.any(diff != 0):
        with warnings.catch_warnings():  # scipy warns on tiny samples (normal approximation); the p-value stands
            warnings.simplefilter("ignore")
            t_p = float(stats.ttest_rel(a, b).pvalue)
            w_p = float(stats.wilcoxon(a, b).pvalue)
    low, high = (nan, nan) if half is None else (mean - half, mean + half)
    return PairedResult(n, mean, low, high, t_p, w_p, int((~ok).sum()))
