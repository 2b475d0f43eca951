"""Tests of ``fhgr[sts=..., input=...]`` (methods/fhgr.py) on tiny networks and STS hand sets."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from _sts_sets import sts_sample_set

from bench.errors import ConfigError
from bench.method import MethodContext, Prediction
from bench.samples import SampleSet
from methods.fhgr import LH, create_fhgr
from methods.proposed.losses import to_openpose
from methods.proposed.sts import STSConfig, STSStream

TINY = {"gcn_hidden": 8, "sts_pool": 256}


def make(seed: int = 0, **kw):
    return create_fhgr(MethodContext(seed=seed), **{**TINY, **kw})


def hand_set(method, n: int, seed: int, *, body_only: bool = False) -> SampleSet:
    """STS close-ups (exact 2D) as an STB-like set: left-hand openpose keypoints, GT SMPL-X, joints3d in
    openpose_hand21_left (camera frame) and the true K (the stream's focal and principal point)."""
    stream = STSStream(method.train_model, STSConfig(pool=256, noise="none"), seed=seed, device="cpu",
                       focus="left_hand")  # fmt: skip
    s = stream.sample(n)
    kp = s["keypoints2d"].clone()
    op, _ = to_openpose(s["joints"])
    K = np.zeros((n, 3, 3))
    K[:, 0, 0] = K[:, 1, 1] = s["focal"].numpy()
    K[:, :2, 2] = s["principal"].numpy()
    K[:, 2, 2] = 1
    if body_only:
        kp[:, 25:] = 0
    else:
        kp[:, :25] = 0
        kp[:, 46:] = 0
    joints = op[:, LH].numpy() if not body_only else op[:, :25].numpy()
    skel = "openpose_hand21_left" if not body_only else "openpose_body25"
    return sts_sample_set(s, name="hands" if not body_only else "body", skeleton=skel, joints3d=joints,
                          keypoints2d=kp.numpy(), K=K)  # fmt: skip


@pytest.fixture(scope="module")
def method(embedded_cache):
    return make()


@pytest.fixture(scope="module")
def val(method):
    return hand_set(method, 32, seed=11)


def test_predict_contract(method, val):
    batch = next(val.batches(4))
    pred = method.predict(batch)
    assert isinstance(pred, Prediction)
    assert pred.joints3d.shape == (4, 144, 3) and not pred.failed.any()
    assert (pred.params["body_pose"] == 0).all() and (pred.params["right_hand_pose"] == 0).all()
    j = method.pred_model.keypoints(**pred.params)
    torch.testing.assert_close(j, pred.joints3d, atol=1e-4, rtol=0)
    assert method.name == "fhgr[input=detected,sts=false]"


def test_supports(method, val):
    assert method.supports(val) is None
    body = hand_set(method, 4, seed=2, body_only=True)
    assert "left-hand" in method.supports(body)
    gt = make(input="gt2d")
    assert gt.supports(val) is None
    body.keypoints2d[:, LH] = val.keypoints2d[:4, LH]
    assert "3D ground truth" in gt.supports(body)


def test_gt2d_input_is_the_projection_of_gt_joints(val):
    m = make(input="gt2d")
    batch = next(val.batches(6))
    kp = m._inputs(batch.keypoints2d, batch.K, batch.joints3d, "openpose_hand21_left")
    seen = batch.keypoints2d[:, LH, 2] > 0
    assert (kp[:, LH, :2] - batch.keypoints2d[:, LH, :2])[seen].abs().max() < 1e-2
    assert (kp[:, 46:] == 0).all()  # only the left hand (and BODY_25 left wrist, the same joint) is filled


@pytest.mark.parametrize("sts", [False, True])
def test_training_lowers_hand_error(method, val, sts):
    # the held-out hands are exact any-view close-ups: the STS stream set to the same (view=match: test_sts_stream)
    m = make(sts=sts, iterations=40, lr=3e-3, log_every=20, sts_view="any", sts_noise="none")
    kp = torch.as_tensor(val.keypoints2d)
    smplx = {k: torch.as_tensor(v) for k, v in val.smplx.items()}
    before = m.hand_error(kp, smplx)
    m.fit({"train": hand_set(method, 64, seed=5)})
    after = m.hand_error(kp, smplx)
    assert after < 0.9 * before, (before, after)


@pytest.mark.parametrize("sts", [False, True])
def test_without_training_sets_it_trains_on_stb_train_with_or_without_sts(embedded_cache, sts):
    from bench.registry import load_dataset

    stb = load_dataset("stb", split="train")
    summary = make(sts=sts, iterations=2).fit({})
    assert summary["train_samples"] == int(stb.smplx_valid.sum()) > 0  # STS comes on top of STB, never instead


def test_save_load_bit_exact(val, tmp_path):
    m = make(iterations=2)
    m.fit({"train": val})
    m.save(tmp_path / "f.pt")
    other = make(seed=4, iterations=2)
    other.load(tmp_path / "f.pt")
    batch = next(val.batches(5))
    assert torch.equal(m.predict(batch).joints3d, other.predict(batch).joints3d)
    with pytest.raises(ValueError, match="config hash"):
        make(sts=True).load(tmp_path / "f.pt")


def test_bad_input(embedded_cache):
    with pytest.raises(ConfigError, match=re.escape("input='depth': expected one of detected|gt2d")):
        make(input="depth")
