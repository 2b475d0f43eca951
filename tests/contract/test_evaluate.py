"""Scoring (bench/evaluate.py) on tiny synthetic Panoptic / H36M / STB trees: a method that returns the ground-truth
SMPL-X scores 0 mm on every dataset (the prediction -> dataset-skeleton mapping and the roots agree with how the
ground truth is written), errors of a known size are measured as that size, failures and unsupported sets are
counted, and every registered method gives finite scores or a reason."""

from __future__ import annotations

import numpy as np
import pytest
from _oracle import Oracle

from bench.evaluate import evaluate
from bench.method import MethodContext
from bench.registry import create_method, method_names

DATASETS = ("panoptic", "h36m", "stb")  # the trees of the tiny_sets fixture (conftest.py)


@pytest.mark.parametrize("name", DATASETS)
def test_ground_truth_parameters_score_zero(tiny_sets, name):
    s = tiny_sets[name]
    s = s.subset(np.flatnonzero(s.smplx_valid))
    result = evaluate(Oracle(shift=0.3), s, batch_size=7)
    summary = result.summary()
    assert summary["n"] == len(s) > 0 and summary["failed"] == 0 and summary["skipped"] is None
    assert summary["mpjpe_mm"] < 0.01 and summary["pa_mpjpe_mm"] < 0.01, summary


def test_a_known_error_is_measured_and_failures_are_counted(tiny_sets):
    from bench.skeletons import get_skeleton

    s = tiny_sets["h36m"]
    s = s.subset(np.flatnonzero(s.smplx_valid))
    smplx_joints = get_skeleton("smplx_144").joints
    # move the right wrist 17 mm along x; it is 1 of the 17 scored H36M joints (pelvis root unaffected)
    result = evaluate(Oracle(offset=0.017, joint=smplx_joints.index("right_wrist"), fail=(0, 2)), s)
    ok = result.scored
    assert result.failed.tolist()[:3] == [True, False, True] and not ok[[0, 2]].any() and ok[1:2].all()
    np.testing.assert_allclose(result.mpjpe[ok], 0.017 / 17, atol=1e-6)  # GT stored as float32
    # least-squares alignment spreads the one displaced joint over all: > 0, below the displacement itself
    assert (result.pa_mpjpe[ok] > 0).all() and (result.pa_mpjpe[ok] < 0.017).all()
    summary = result.summary()
    assert summary["failed"] == 2 and summary["n"] == len(s) - 2
    assert summary["mpjpe_mm"] == pytest.approx(1000 * 0.017 / 17, abs=1e-3)


def test_an_unsupported_set_is_skipped_with_the_reason(tiny_sets):
    s = tiny_sets["stb"]
    s = s.subset(np.arange(len(s)))
    s.smplx = None
    result = evaluate(Oracle(), s)
    assert result.skipped == "no ground-truth SMPL-X" and result.summary()["n"] == 0


@pytest.mark.parametrize("method_name", method_names())
def test_every_registered_method_scores_or_gives_a_reason(tiny_sets, method_name):
    from test_method_contract import QUICK

    method = create_method(method_name, MethodContext(seed=0), **QUICK.get(method_name, {}))
    method.fit(tiny_sets)
    for name in DATASETS:
        s = tiny_sets[name].subset(np.arange(min(4, len(tiny_sets[name]))))
        result = evaluate(method, s)
        if result.skipped is not None:
            assert isinstance(result.skipped, str) and result.skipped
            continue
        ok = ~result.failed
        assert np.isfinite(result.mpjpe[ok]).all() and np.isfinite(result.pa_mpjpe[ok]).all(), (name, result)
        assert (result.mpjpe[ok] > 0).all() and (result.pa_mpjpe[ok] > 0).all()
