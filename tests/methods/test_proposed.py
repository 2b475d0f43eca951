"""Tests of ``proposed[projection=...]`` (methods/proposed): contract and shapes, scale normalisation, short
training runs per projection, save/load (and the refusal of files from before the camera heads), NaN inputs,
supports(). The camera heads have their own tests (test_camera_heads.py).

Everything runs on tiny networks and STS-generated sample sets (no dataset generation), < 30 s on 2 cores.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _sts_sets import sts_sample_set

from bench.errors import ConfigError
from bench.method import MethodContext, Prediction
from bench.samples import SampleSet
from methods.proposed import create_proposed
from methods.proposed.layers import (
    PART_SLICES,
    SemGraphConv,
    hand_adjacency,
    normalize_all,
    normalize_parts,
    scale_normalize,
)
from methods.proposed.sts import STSConfig, STSStream

TINY = {"hidden": 48, "rank": 16, "gcn_hidden": 8, "sts_pool": 256, "pretrain_iterations": 0}


def make(projection: str = "d2s", seed: int = 0, **kw):
    return create_proposed(MethodContext(seed=seed), projection=projection, **{**TINY, **kw})


def sts_set(method, n: int, seed: int, *, focus: str = "body", name: str = "sts") -> SampleSet:
    """A SampleSet of STS samples (GT SMPL-X, joints3d in smplx_127, camera frame)."""
    s = STSStream(method.train_model, STSConfig(pool=256), seed=seed, device="cpu", focus=focus).sample(n)
    K = np.zeros((n, 3, 3))
    K[:, 2, 2] = 1.0
    return sts_sample_set(s, name=name, skeleton="smplx_127", joints3d=s["joints"].numpy(),
                          keypoints2d=s["keypoints2d"].numpy(), K=K)  # fmt: skip


@pytest.fixture(scope="module")
def method(embedded_cache):
    return make()


@pytest.fixture(scope="module")
def val(method):
    return sts_set(method, 48, seed=123)


def test_predict_shapes_and_contract(method, val):
    batch = next(val.batches(5))
    pred = method.predict(batch)
    assert isinstance(pred, Prediction)
    assert pred.joints3d.shape == (5, 144, 3) and pred.keypoints2d.shape == (5, 137, 2)
    assert not pred.failed.any()
    assert pred.params["left_hand_pose"].shape == (5, 45)
    assert pred.camera["type"] == "d2s" and pred.camera["cam"].shape == (5, 4)
    # the params reproduce joints3d through the body model (transl puts the body in the camera frame)
    p = {k: v for k, v in pred.params.items()}
    j = method.pred_model.keypoints(**p)
    torch.testing.assert_close(j, pred.joints3d, atol=1e-4, rtol=0)
    assert method.name == "proposed[projection=d2s]"


def test_scale_normalisation_invariant_to_translation_and_scale():
    gen = torch.Generator().manual_seed(0)
    kp = torch.rand(3, 21, 3, generator=gen) * 100
    kp[..., 2] = 1.0
    kp[0, 4, 2] = 0.0  # a masked point
    moved = kp.clone()
    moved[..., :2] = kp[..., :2] * 3.7 + torch.tensor([120.0, -40.0])
    a, ma, ca, ha = scale_normalize(kp)
    b, mb, cb, hb = scale_normalize(moved)
    torch.testing.assert_close(a, b, atol=1e-5, rtol=0)
    assert torch.equal(ma, mb) and not ma[0, 4] and (a[0, 4] == 0).all()
    torch.testing.assert_close(hb, 3.7 * ha)
    assert a.abs().amax() <= 2.0 + 1e-6  # centred on the mean, divided by half the larger box side
    parts = normalize_parts(torch.cat([kp[:, :1].expand(3, 137, 3)], 1))
    assert set(parts) == {"body", "left_hand", "right_hand", "face"}


def test_normalize_all_equals_per_part(val):
    kp = torch.as_tensor(val.keypoints2d[:7]).clone()
    kp[0, 3:9] = float("nan")
    kp[1, PART_SLICES["left_hand"], 2] = 0.0
    kp[2, 30:32] = float("inf")
    normed, mask, centre, half = normalize_all(kp)
    for p, part in enumerate(("body", "left_hand", "right_hand", "face")):
        sl = PART_SLICES[part]
        n, m, c, h = scale_normalize(kp[:, sl])
        k = sl.stop - sl.start
        torch.testing.assert_close(normed[p, :k].transpose(0, 1), n, atol=1e-6, rtol=0)
        assert torch.equal(mask[p, :k].transpose(0, 1), m) and not mask[p, k:].any()
        torch.testing.assert_close(centre[p], c, atol=1e-4, rtol=0)
        torch.testing.assert_close(half[p], h)


def test_sem_graph_conv_node_major_equals_dense():
    torch.manual_seed(0)
    conv = SemGraphConv(3, 5, hand_adjacency())
    with torch.no_grad():
        conv.e.normal_()
    x = torch.randn(4, 21, 3)
    h = x @ conv.W
    d, A = conv.weights(x.dtype)
    ref = d[:, None] * h[..., :5] + A @ h[..., 5:] + conv.bias
    torch.testing.assert_close(conv(x), ref, atol=1e-5, rtol=0)


def test_network_outputs_invariant_to_2d_translation(method, val):
    batch = next(val.batches(4))
    kp = batch.keypoints2d.clone()
    moved = kp.clone()
    moved[..., :2] += torch.tensor([30.0, 15.0]) * (kp[..., 2:] > 0)
    a, b = method.predict(batch), None
    batch.keypoints2d = moved
    b = method.predict(batch)
    for key in ("betas", "body_pose", "global_orient", "left_hand_pose", "expression"):
        torch.testing.assert_close(a.params[key], b.params[key], atol=1e-4, rtol=0)


@pytest.mark.parametrize("projection", ["d2s", "wpp", "pp"])
def test_short_training_lowers_validation_error(projection, method, val):
    m = make(projection, iterations=40, lr=2e-3, sts_period=2, log_every=20)
    kp = torch.as_tensor(val.keypoints2d)
    size = torch.as_tensor(val.image_size)
    joints = torch.as_tensor(val.joints3d, dtype=torch.float32)
    before = m.root_relative_error(kp, size, joints)
    train = sts_set(method, 64, seed=7, name="train")
    train.smplx_valid[::2] = False  # half the set 2D-only: the projection loss takes part
    messages = []
    m.context.progress = messages.append
    summary = m.fit({"train": train})
    after = m.root_relative_error(kp, size, joints)
    assert after < 0.9 * before, (before, after)
    assert summary["iterations"] == 40 and np.isfinite(summary["final_loss"])
    assert messages and "samples/s" in messages[-1] and "ETA" in messages[-1]


def test_partial_pretraining_lowers_the_part_losses_and_leaves_the_global_branch(embedded_cache):
    m = make(lr=5e-3, log_every=40)
    focuses = ("left_hand", "right_hand", "face")
    held_out = {f: STSStream(m.train_model, STSConfig(pool=256, noise="none"), seed=50 + i, device="cpu",
                             focus=f).sample(32) for i, f in enumerate(focuses)}  # fmt: skip
    seen = held_out["left_hand"]["keypoints2d"][:, PART_SLICES["left_hand"], 2] > 0
    assert seen.float().mean() > 0.9  # a close-up: the hand is in the image

    def losses():
        with torch.no_grad():
            return {f: float(m.partial_losses(held_out[f], f)) for f in focuses}

    before, body = losses(), {k: v.clone() for k, v in m.net.global_branch.state_dict().items()}
    messages = []
    m.context.progress = messages.append
    summary = m.pretrain_partial(120)
    after = losses()
    # close-ups carry detector 2D since the STS default changed: the losses fall less in 120 iterations (-9%)
    assert all(after[f] < 0.97 * before[f] for f in focuses), (before, after)
    assert all(torch.equal(v, m.net.global_branch.state_dict()[k]) for k, v in body.items())
    assert summary["iterations"] == 120 and "pre-training the partial branch" in messages[-1]
    with pytest.raises(ValueError, match="focus"):
        STSStream(m.train_model, STSConfig(pool=16), seed=0, device="cpu", focus="foot")


def test_fit_pretrains_first_when_asked(embedded_cache):
    summary = make(pretrain_iterations=2, iterations=2).fit({})
    assert summary["pretrain"]["iterations"] == 2 and summary["iterations"] == 2
    assert make(iterations=1).fit({})["pretrain"] is None


def test_save_load_bit_exact(method, val, tmp_path):
    m = make(iterations=3)
    m.fit({})
    m.save(tmp_path / "w.pt")
    other = make(seed=9, iterations=3)
    batch = next(val.batches(6))
    assert not torch.equal(other.predict(batch).joints3d, m.predict(batch).joints3d)
    other.load(tmp_path / "w.pt")
    a, b = m.predict(batch), other.predict(batch)
    assert torch.equal(a.joints3d, b.joints3d) and torch.equal(a.keypoints2d, b.keypoints2d)
    for key in a.params:
        assert torch.equal(a.params[key], b.params[key])
    with pytest.raises(ValueError, match="config hash"):
        make("wpp").load(tmp_path / "w.pt")
    old = torch.load(tmp_path / "w.pt", weights_only=True)
    del old["format"]  # a file written before the camera heads (format 1)
    torch.save(old, tmp_path / "old.pt")
    with pytest.raises(ValueError, match="format 1.*train the method again"):
        make(iterations=3).load(tmp_path / "old.pt")


def test_nan_keypoints_are_masked_never_nan(method, val):
    batch = next(val.batches(4))
    batch.keypoints2d = batch.keypoints2d.clone()
    batch.keypoints2d[0, 3:9] = float("nan")
    batch.keypoints2d[1, PART_SLICES["left_hand"]] = float("nan")
    batch.keypoints2d[2] = float("nan")  # nothing at all
    pred = method.predict(batch)
    assert not pred.failed.any()
    assert torch.isfinite(pred.joints3d).all() and torch.isfinite(pred.keypoints2d).all()
    for v in pred.params.values():
        assert torch.isfinite(v).all()


def test_supports(method, val):
    assert method.supports(val) is None
    hands = sts_set(method, 4, seed=3, focus="left_hand", name="hands")
    hands.keypoints2d[:, PART_SLICES["body"]] = 0.0
    reason = method.supports(hands)
    assert isinstance(reason, str) and "body keypoints" in reason


def test_unknown_projection(embedded_cache):
    with pytest.raises(ConfigError, match="projection='orthographic': expected one of"):
        make("orthographic")


@pytest.mark.parametrize("contour", [False, True])
def test_keypoint_path_equals_the_full_mesh_forward(method, contour):
    """The body model's keypoint path (the one the regressor trains and predicts with) against its full-mesh
    forward, on both of its chain compositions."""
    from bench.geometry.rotations import axis_angle_to_matrix

    model = method.pred_model if contour else method.train_model
    gen = torch.Generator().manual_seed(4)
    R = axis_angle_to_matrix(torch.randn(20, 55, 3, generator=gen) * 0.4)
    shape = torch.randn(20, 20, generator=gen)
    kw = dict(betas=shape[:, :10], expression=shape[:, 10:], pose_rotmats=R)
    ref = model.forward(**kw, vertices=True).joints
    path = model._keypoint_path()
    for threshold in (1, 10**9):  # batch-last elementwise chain and batched 4x4 matmuls
        path.batch_last_from = threshold
        torch.testing.assert_close(model.forward(**kw, vertices=False).joints, ref, atol=1e-5, rtol=0)
    path.batch_last_from = 8
