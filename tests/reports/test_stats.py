"""The intervals the claims and paired tables rest on: Student t over seeds, bootstrap over bodies."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.run.results import sample_ids
from reports.stats import Interval, cluster_bootstrap, format_interval, seed_interval


def test_seed_interval_is_the_t_interval_over_seeds():
    values = [1.0, 2.0, 4.0]
    interval = seed_interval(values)
    half = 4.302652729911275 * np.std(values, ddof=1) / math.sqrt(3)  # t_{0.975, 2}
    assert interval.basis == "seeds" and interval.n == 3
    assert math.isclose(interval.low, 7 / 3 - half) and math.isclose(interval.high, 7 / 3 + half)
    one = seed_interval([5.0, float("nan")])
    assert one.n == 1 and one.mean == 5.0 and math.isnan(one.low) and math.isnan(one.high)
    assert not one.has_interval and not one.excludes_zero
    assert format_interval(one) == "5.00 (1 seed, no interval)"


def test_cluster_bootstrap_resamples_bodies_not_views():
    """31 views of each of 8 bodies: the body effect is shared by its views, so an interval over samples is
    far too narrow; the one over bodies is about as wide as the spread of the 8 body means says."""
    rng = np.random.default_rng(3)
    bodies = np.repeat(np.arange(8), 31)
    values = rng.normal(0.0, 5.0, 8)[bodies] + rng.normal(0.0, 0.1, len(bodies))
    by_body = cluster_bootstrap(values, bodies)
    by_sample = cluster_bootstrap(values, np.arange(len(values)))
    assert by_body.basis == "bodies" and by_body.n == 8
    assert by_sample.basis == "samples" and by_sample.n == len(values)
    assert math.isclose(by_body.mean, values.mean()) and math.isclose(by_sample.mean, values.mean())
    width_body, width_sample = by_body.high - by_body.low, by_sample.high - by_sample.low
    assert width_body > 3 * width_sample
    body_means = values.reshape(8, 31).mean(1)
    t_width = 2 * 2.3646 * body_means.std(ddof=1) / math.sqrt(8)  # t_{0.975, 7}
    assert 0.5 * t_width < width_body < 1.5 * t_width


def test_cluster_bootstrap_is_deterministic_drops_nan_and_needs_two_clusters():
    values = np.array([1.0, 2.0, np.nan, 4.0, 8.0, 3.0])
    clusters = np.array(["a", "a", "b", "b", "c", "c"])
    first = cluster_bootstrap(values, clusters, seed=7)
    noise = np.random.default_rng(0).normal(size=200)
    many = np.arange(200) // 4
    assert cluster_bootstrap(noise, many, seed=7) == cluster_bootstrap(noise, many, seed=7)
    assert cluster_bootstrap(noise, many, seed=7) != cluster_bootstrap(noise, many, seed=8)
    assert first.mean == pytest.approx(18 / 5) and first.n == 3 and first.low <= first.mean <= first.high
    single = cluster_bootstrap([1.0, 3.0], ["x", "x"])
    assert single.mean == 2.0 and single.n == 1 and not single.has_interval
    empty = cluster_bootstrap([np.nan], ["x"])
    assert empty.n == 0 and format_interval(empty) == "–"
    with pytest.raises(ValueError, match="clusters"):
        cluster_bootstrap([1.0, 2.0], ["a"])


def test_interval_rejects_an_unknown_basis_and_says_when_zero_is_out():
    with pytest.raises(ValueError, match="basis"):
        Interval(0.0, -1.0, 1.0, 3, "views")
    assert Interval(-2.0, -3.0, -1.0, 3, "seeds").excludes_zero
    assert not Interval(-2.0, -3.0, 0.5, 3, "seeds").excludes_zero


def test_sample_ids_name_the_sample_and_its_body():
    ids = {"subject": np.array(["S9", "S9"]), "sequence": np.array(["Walk 1", "Walk 1"]),
           "action": np.array(["Walk", "Walk"]), "frame": np.array([5, 5]), "view": np.array(["54138969", "55011271"]),
           "person": np.array([0, 0])}  # fmt: skip
    sample, body = sample_ids(ids)
    assert list(sample) == ["S9|Walk 1|Walk|5|54138969|0", "S9|Walk 1|Walk|5|55011271|0"]
    assert list(body) == ["S9|Walk 1|Walk|5|0"] * 2
    with pytest.raises(ValueError, match="'sequence'"):
        sample_ids({**ids, "sequence": np.array(["a|b", "c"])})
