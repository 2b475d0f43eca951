"""Tests of ``lifter`` (methods/lifter.py, the Martinez et al. 2017 lifting MLP): the lifted joints form every body
skeleton, joints-only predictions and their depth rule, training lowers the error, 2D-only samples are skipped and
counted, the same seed trains the same weights, settings are checked.

Tiny networks on STS-generated sample sets (no dataset generation); a few seconds on 2 cores.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _sts_sets import sts_sample_set

from bench.body.regressors import regressor_matrix
from bench.body.skeletons import get_skeleton
from bench.errors import ConfigError
from bench.method import MethodContext, Prediction
from bench.samples import SampleSet
from methods.lifter import LIFTED_JOINTS, create_lifter
from methods.proposed.layers import PART_SLICES
from methods.proposed.sts import STSConfig, STSStream

TINY = {"width": 96, "sts_pool": 256, "log_every": 1000}


def make(seed: int = 0, progress=None, **kw):
    return create_lifter(MethodContext(seed=seed, progress=progress), **{**TINY, **kw})


def sts_set(method, n: int, seed: int) -> SampleSet:
    """STS samples as a SampleSet in 'smplx_127' (GT SMPL-X, camera frame), scored on the H36M joints."""
    s = STSStream(method.train_model, STSConfig(pool=256), seed=seed, device="cpu").sample(n)
    K = np.zeros((n, 3, 3))
    K[:, 2, 2] = 1.0
    out = sts_sample_set(s, name="sts", skeleton="smplx_127", joints3d=s["joints"].numpy(),
                         keypoints2d=s["keypoints2d"].numpy(), K=K)  # fmt: skip
    out.info = {"root_joints": ("pelvis",), "eval_joints": get_skeleton("h36m_17").joints[:1] + LIFTED_JOINTS[1:]}
    return out


@pytest.fixture(scope="module")
def train(embedded_cache):
    return sts_set(make(), 256, seed=11)


def _formable(skeleton: str) -> np.ndarray:
    """Which joints of ``skeleton`` the lifted SMPL-X joints alone form."""
    W, valid = regressor_matrix(skeleton, "smplx_144")
    names = get_skeleton("smplx_144").joints
    lifted = np.array([n in LIFTED_JOINTS for n in names])
    lifted[len(get_skeleton("smplx_127")) :] = False  # the face contour is never lifted
    return valid & ~((W != 0) & ~lifted).any(1)


@pytest.mark.parametrize("skeleton", ["h36m_17", "panoptic_joints19", "lsp_14", "openpose_body25"])
def test_the_lifted_joints_form_every_body_skeleton(skeleton):
    assert _formable(skeleton).all()
    assert LIFTED_JOINTS[0] == "pelvis" and len(set(LIFTED_JOINTS)) == len(LIFTED_JOINTS)
    assert not _formable("stb_21").any()  # hands are not lifted


def test_prediction_is_joints_only_with_the_lifted_joints(train):
    method = make(iterations=0)
    batch = next(train.batches(6))
    pred = method.predict(batch)
    assert isinstance(pred, Prediction) and pred.joints_only and pred.keypoints2d is None
    assert not pred.failed.any() and "no mesh" in pred.missing("mesh")
    names = get_skeleton("smplx_144").joints
    lifted = torch.tensor([n in LIFTED_JOINTS for n in names])
    lifted[len(get_skeleton("smplx_127")) :] = False
    assert torch.isfinite(pred.joints3d[:, lifted]).all() and torch.isnan(pred.joints3d[:, ~lifted]).all()


def test_depth_rule_puts_the_detected_body_on_its_rays(train):
    method = make(iterations=0)
    batch = next(train.batches(6))
    pred = method.predict(batch)
    body25 = get_skeleton("openpose_body25").joints
    names = get_skeleton("smplx_144").joints
    joints = pred.joints3d[:, [names.index(n) for n in body25]]
    kp = batch.keypoints2d[:, PART_SLICES["body"]]
    mask = kp[..., 2] > method.cfg.conf_threshold
    f, c = pred.camera["focal"], pred.camera["principal"]
    mean3d = (joints * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
    centre2d = (kp[..., :2] * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
    uv = f[:, None] * mean3d[:, :2] / mean3d[:, 2:] + c
    torch.testing.assert_close(uv, centre2d, atol=1e-2, rtol=0)  # the 3D mean on the ray of the 2D mean
    half3d = 0.5 * (joints[..., :2].where(mask[..., None], -1e9).amax(1) - joints[..., :2].where(
        mask[..., None], 1e9).amin(1)).amax(-1)  # fmt: skip
    half2d = 0.5 * (kp[..., :2].where(mask[..., None], -1e9).amax(1) - kp[..., :2].where(
        mask[..., None], 1e9).amin(1)).amax(-1)  # fmt: skip
    torch.testing.assert_close(pred.camera["depth"], f * half3d / half2d, rtol=1e-4, atol=0)
    torch.testing.assert_close(mean3d[:, 2], pred.camera["depth"], rtol=1e-5, atol=0)


def test_short_training_lowers_the_error_on_the_training_data(train):
    kp, smplx = torch.as_tensor(train.keypoints2d), {k: torch.as_tensor(v) for k, v in train.smplx.items()}
    untrained = make(iterations=0)
    untrained.fit({"train": train})  # output standardisation only: the mean pose
    before = untrained.root_relative_error(kp, smplx)
    method = make(iterations=150, sts=False)
    summary = method.fit({"train": train})
    after = method.root_relative_error(kp, smplx)
    assert summary["train_samples"] == len(train) and summary["skipped_2d_only"] == 0 and not summary["sts"]
    assert after < 0.8 * before, (before, after)
    assert summary["history"][-1]["lr"] < method.cfg.lr  # exponential decay


def test_2d_only_samples_are_skipped_and_counted(train):
    part = train.subset(np.arange(64))
    part.smplx_valid = np.arange(64) % 4 != 0  # 16 samples without SMPL-X ground truth
    said = []
    summary = make(iterations=2, progress=said.append).fit({"part": part})
    assert summary["skipped_2d_only"] == 16 and summary["train_samples"] == 48
    assert any("16 training samples without SMPL-X ground truth skipped" in m for m in said)


def test_the_same_seed_trains_the_same_weights(train):
    batch = next(train.batches(8))
    runs = []
    for seed in (0, 0, 1):
        method = make(seed=seed, iterations=12)
        method.fit({"train": train})
        runs.append(method.predict(batch).joints3d)
    torch.testing.assert_close(runs[0], runs[1], rtol=0, atol=0, equal_nan=True)  # NaN: joints not lifted
    assert not torch.allclose(runs[0], runs[2], equal_nan=True)


def test_without_training_sets_every_batch_is_sts():
    summary = make(iterations=3, sts=False).fit({})
    assert summary["sts"] and summary["train_samples"] == 0


def test_supports_names_what_it_cannot_do(train):
    method = make(iterations=0)
    assert method.supports(train) is None
    hands = train.subset(np.arange(4))
    hands.info = {"root_joints": ("pelvis",), "eval_joints": ("pelvis", "left_thumb1")}
    assert "cannot form ['left_thumb1']" in method.supports(hands)
    blind = train.subset(np.arange(4))
    blind.keypoints2d = blind.keypoints2d.copy()
    blind.keypoints2d[:, PART_SLICES["body"], 2] = 0
    assert "no body keypoints" in method.supports(blind)


@pytest.mark.parametrize(("field", "value"), [("batch_size", 1), ("dropout", 1.0), ("lr_decay", 0.0),
                                              ("sts_period", 0), ("width", 0)])  # fmt: skip
def test_bad_settings_are_config_errors_naming_the_field(field, value):
    with pytest.raises(ConfigError, match=f"lifter'?: {field}={value!r}: expected"):
        make(**{field: value})
