"""Scoring (bench/run/evaluate.py) on tiny synthetic Panoptic / H36M / STB trees: a method that returns the ground-truth
SMPL-X scores 0 mm on every dataset (the prediction -> dataset-skeleton mapping and the roots agree with how the
ground truth is written), errors of a known size are measured as that size, failures and unsupported sets are
counted, and every registered method gives finite scores or a reason. A joints-only prediction (params None, NaN
where a joint is not predicted) is scored on the dataset joints its predicted joints form."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _oracle import Oracle

from bench.body.skeletons import get_skeleton
from bench.method import MethodContext, Prediction
from bench.registry import create_method, method_names
from bench.run.evaluate import evaluate

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


class JointsOnlyOracle(Oracle):
    """The oracle's joints as a joints-only prediction: NaN except the SMPL-X output joints named in ``keep``."""

    def __init__(self, keep, **kw):
        super().__init__(**kw)
        names = get_skeleton("smplx_144").joints
        self.keep = [names.index(n) for n in keep]

    def predict(self, batch):
        full = super().predict(batch)
        joints = torch.full_like(full.joints3d, float("nan"))
        joints[:, self.keep] = full.joints3d[:, self.keep]
        return Prediction(params=None, joints3d=joints, keypoints2d=None, failed=full.failed)


def _lifted(drop: tuple[str, ...] = ()) -> list[str]:
    """The SMPL-X joints the lifter predicts (what every body skeleton is formed of), minus ``drop``."""
    from methods.lifter import LIFTED_JOINTS

    return [n for n in LIFTED_JOINTS if n not in drop]


@pytest.mark.parametrize("name", ["h36m", "panoptic"])
def test_a_joints_only_prediction_scores_on_the_joints_it_forms(tiny_sets, name):
    s = tiny_sets[name]
    s = s.subset(np.flatnonzero(s.smplx_valid))
    wrist = get_skeleton("smplx_144").joints.index("right_wrist")
    result = evaluate(JointsOnlyOracle(_lifted(), offset=0.017, joint=wrist), s)
    summary = result.summary()
    assert summary["n"] == len(s) > 0 and summary["failed"] == 0 and summary["skipped"] is None
    mesh = evaluate(Oracle(offset=0.017, joint=wrist), s)  # every eval joint formed: scored as the full mesh
    np.testing.assert_allclose(result.mpjpe, mesh.mpjpe, rtol=0, atol=1e-9)
    np.testing.assert_allclose(result.pa_mpjpe, mesh.pa_mpjpe, rtol=0, atol=1e-9)
    assert (result.mpjpe > 0).all()
    assert np.isfinite(result.predictions).all()


def test_a_dataset_joint_is_scored_only_when_its_joints_are_predicted(tiny_sets):
    s = tiny_sets["h36m"]
    s = s.subset(np.flatnonzero(s.smplx_valid))
    head = get_skeleton("smplx_144").joints.index("head")  # h36m_head and head_top are formed with it
    result = evaluate(JointsOnlyOracle(_lifted(drop=("head",)), offset=0.017, joint=head), s)
    h36m = get_skeleton("h36m_17").joints
    unformed = [h36m.index("h36m_head"), h36m.index("head_top")]
    assert np.isnan(result.joint_mpjpe[:, unformed]).all() and np.isnan(result.predictions[:, unformed]).all()
    assert np.isfinite(np.delete(result.joint_mpjpe, unformed, axis=1)).all()
    np.testing.assert_allclose(result.mpjpe, 0.0, atol=1e-6)  # the displaced head forms nothing scored
    # without the root the prediction cannot be root-aligned: every sample failed, none crashes
    rootless = evaluate(JointsOnlyOracle(_lifted(drop=("pelvis",))), s)
    assert rootless.failed.all() and rootless.summary()["n"] == 0


def test_a_sample_leaving_out_a_joint_of_the_set_fails(tiny_sets):
    s = tiny_sets["panoptic"]
    s = s.subset(np.flatnonzero(s.smplx_valid)[:4])

    class Partial(JointsOnlyOracle):
        def predict(self, batch):  # bypasses Prediction's check to reach scoring with a partial sample
            pred = super().predict(batch)
            joints = pred.joints3d.clone()
            joints[batch.index == 1, get_skeleton("smplx_144").joints.index("nose")] = float("nan")
            pred.joints3d = joints
            return pred

    result = evaluate(Partial(_lifted()), s)
    assert result.failed.tolist() == [False, True, False, False] and result.summary()["n"] == 3


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


def test_an_empty_set_is_skipped_with_its_protocol_not_scored_as_nan(tiny_sets):
    """An H36M tree holding only training subjects, scored with split=test, loads as a set of 0 samples: a skipped
    evaluation whose reason names the set's protocol, without asking the method anything."""

    class Untouchable(Oracle):
        def supports(self, samples):
            raise AssertionError("supports() called on an empty set")

    s = tiny_sets["h36m"].subset(np.zeros(0, dtype=int))
    result = evaluate(Untouchable(), s)
    assert result.skipped is not None and result.skipped.startswith("empty set: no samples to score")
    assert s.info["protocol"] in result.skipped and result.n_samples == 0 and result.summary()["n"] == 0


def test_a_set_without_3d_truth_is_skipped_not_scored_as_nan(tiny_sets):
    """A 2D-only set (cocowb, openpose) given as a test set: every 3D joint invalid, so nothing can be compared; a
    skipped evaluation saying so, not a row of NaN over 0 samples with exit 0."""

    class Untouchable(Oracle):
        def predict(self, batch):
            raise AssertionError("predict() called on a set with no 3D truth")

    s = tiny_sets["h36m"].subset(np.arange(4))
    s.joints3d_valid[:] = False
    result = evaluate(Untouchable(), s)
    assert result.skipped is not None and result.skipped.startswith("no 3D ground truth to score")
    assert "--train" in result.skipped and result.n_samples == 4
