"""The statistics of the reports: mean and 95% interval over seeds, and paired tests over samples.

Over seeds: the Student t interval ``mean +- t_{0.975, k-1} * sd / sqrt(k)`` (sd with ``ddof=1``) of the k
per-seed values. With one seed there is no interval (``half_width`` None), and it is printed as such: one seed
says nothing about the spread, so an interval is never made up.

Paired (two methods on the same samples): the difference ``a - b`` per sample, its mean with the same t
interval, the paired t-test (``scipy.stats.ttest_rel``) and the Wilcoxon signed-rank test
(``scipy.stats.wilcoxon``, two-sided, scipy's default zero handling). Pairs where either value is not finite
are dropped and counted.

Which samples are independent: the views of one body at one instant are not (31 Panoptic views of one pose share
its error), and per-sample tests that treat them as independent report p-values far too small. :class:`Interval`
is a mean with a 95% interval that says what it was computed over (``basis``): ``"seeds"`` (Student t over
per-seed values, :func:`seed_interval`), ``"bodies"`` (percentile bootstrap that resamples whole bodies,
:func:`cluster_bootstrap`) or ``"samples"`` (the same bootstrap when every body has one sample).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["Interval", "PairedResult", "SeedSummary", "cluster_bootstrap", "format_interval", "format_summary",
           "paired_test", "seed_interval", "seed_summary", "t_half_width"]

BASES = ("seeds", "bodies", "samples")


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


@dataclass(frozen=True)
class Interval:
    """A mean with its 95% interval (``low``/``high`` NaN when there is none: fewer than 2 seeds or clusters).

    ``n`` counts what the interval is over, named by ``basis``: seeds (``"seeds"``), bodies (``"bodies"``: the
    clusters of a cluster bootstrap) or samples (``"samples"``: a bootstrap whose clusters all have one member).
    """

    mean: float
    low: float
    high: float
    n: int
    basis: str

    def __post_init__(self) -> None:
        if self.basis not in BASES:
            raise ValueError(f"Interval.basis: expected one of {', '.join(BASES)}, got {self.basis!r}")

    @property
    def has_interval(self) -> bool:
        return bool(np.isfinite(self.low) and np.isfinite(self.high))

    @property
    def excludes_zero(self) -> bool:
        """True when there is an interval and 0 lies outside it (the difference is significant at 5%)."""
        return self.has_interval and (self.low > 0 or self.high < 0)


def seed_interval(values: Sequence[float] | np.ndarray) -> Interval:
    """Mean and 95% Student t interval of per-seed values (one value per training seed); non-finite values are
    left out; ``low``/``high`` NaN when fewer than 2 values remain."""
    summary = seed_summary(values)
    nan = float("nan")
    if summary.half_width is None:
        return Interval(summary.mean, nan, nan, summary.k, "seeds")
    return Interval(summary.mean, summary.mean - summary.half_width, summary.mean + summary.half_width, summary.k,
                    "seeds")  # fmt: skip


_BOOT_CHUNK = 4_000_000  # resampled cluster indices held at once (memory bound of the bootstrap)


def cluster_bootstrap(
    values: Sequence[float] | np.ndarray, clusters: Sequence[object] | np.ndarray, *, n_boot: int = 2000, seed: int = 0
) -> Interval:
    """Mean of per-sample ``values`` (e.g. paired differences) with a 95% percentile bootstrap interval that
    resamples whole clusters (e.g. bodies: the views of one body at one instant form one cluster).

    Each replicate draws as many clusters as there are, with replacement, and takes the mean over all samples of
    the drawn clusters (a cluster's samples come in together). ``clusters``: one label per value, any type. Pairs
    with a non-finite value are dropped. Basis ``"bodies"``, or ``"samples"`` when every cluster has one member;
    ``n`` is the number of clusters; ``low``/``high`` NaN below 2 clusters. Same inputs and ``seed``, same
    interval.
    """
    array = np.asarray(values, dtype=float)
    labels = np.asarray(clusters)
    if array.ndim != 1 or labels.shape != array.shape:
        raise ValueError(f"cluster_bootstrap: expected values (N,) and clusters (N,), got {array.shape} and "
                         f"{labels.shape}")  # fmt: skip
    if n_boot < 1:
        raise ValueError(f"cluster_bootstrap: n_boot must be >= 1, got {n_boot}")
    ok = np.isfinite(array)
    array, labels = array[ok], labels[ok]
    nan = float("nan")
    if len(array) == 0:
        return Interval(nan, nan, nan, 0, "samples")
    _, inverse = np.unique(labels.astype(str), return_inverse=True)
    sums = np.bincount(inverse, weights=array)
    counts = np.bincount(inverse).astype(float)
    g = len(sums)
    basis = "samples" if np.all(counts == 1) else "bodies"
    mean = float(array.mean())
    if g < 2:
        return Interval(mean, nan, nan, g, basis)
    rng = np.random.default_rng(seed)
    rows = max(1, _BOOT_CHUNK // g)
    means = []
    for start in range(0, n_boot, rows):
        draw = rng.integers(0, g, size=(min(rows, n_boot - start), g))
        means.append(sums[draw].sum(1) / counts[draw].sum(1))
    low, high = np.percentile(np.concatenate(means), [2.5, 97.5])
    return Interval(mean, float(low), float(high), g, basis)


def format_interval(interval: Interval, digits: int = 2) -> str:
    """'-1.52 [-2.10, -0.90] (12 bodies)'; without an interval '-1.52 (1 seed, no interval)'; '–' for no value."""
    if interval.n == 0 or not np.isfinite(interval.mean):
        return "–"
    unit = interval.basis if interval.n != 1 else interval.basis.removesuffix("s").replace("bodie", "body")
    mean = f"{interval.mean:.{digits}f}"
    if not interval.has_interval:
        return f"{mean} ({interval.n} {unit}, no interval)"
    return f"{mean} [{interval.low:.{digits}f}, {interval.high:.{digits}f}] ({interval.n} {unit})"
