"""Property tests for bench.geometry.alignment and bench.geometry.metrics, float64 against slow numpy references."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from bench.body.skeletons import get_skeleton
from bench.geometry.alignment import root_align, root_position, similarity_align, similarity_transform
from bench.geometry.metrics import (
    auc,
    epe_mean,
    epe_median,
    joint_errors,
    mpjpe,
    pa_mpjpe,
    pck_curve,
    pve,
    stb_auc,
    stb_pck_thresholds,
)

J = 17


def random_rotations(rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, 3, 3) proper rotations, uniform over SO(3)."""
    return Rotation.random(n, random_state=rng).as_matrix()


def random_similarity(rng: np.random.Generator, x: np.ndarray) -> np.ndarray:
    """x (B, J, 3) under an independent random similarity per sample: scale in [0.5, 2], any rotation."""
    b = x.shape[0]
    r = random_rotations(rng, b)
    s = rng.uniform(0.5, 2.0, size=(b, 1, 1))
    t = rng.normal(scale=3.0, size=(b, 1, 3))
    return s * np.einsum("bij,bkj->bki", r, x) + t


def reference_umeyama(pred: np.ndarray, gt: np.ndarray, *, reflection_fix: bool = True):
    """Slow float64 Umeyama on one sample, points as columns (3, N): gt ~ s R pred + t."""
    x1, x2 = pred.T, gt.T
    mu1, mu2 = x1.mean(axis=1, keepdims=True), x2.mean(axis=1, keepdims=True)
    c1, c2 = x1 - mu1, x2 - mu2
    var1 = np.sum(c1**2)
    u, _, vt = np.linalg.svd(c1 @ c2.T)
    z = np.eye(3)
    if reflection_fix:
        z[2, 2] = np.sign(np.linalg.det(u @ vt))
    r = vt.T @ z @ u.T
    s = np.trace(r @ c1 @ c2.T) / var1
    t = mu2 - s * r @ mu1
    return s, r, t[:, 0]


def reference_pa_mpjpe(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray | None = None, **kw) -> np.ndarray:
    """Per-sample loop: fit on the valid joints, error over the valid joints."""
    out = []
    for i in range(pred.shape[0]):
        m = np.ones(pred.shape[1], bool) if mask is None else mask[i]
        s, r, t = reference_umeyama(pred[i, m], gt[i, m], **kw)
        aligned = s * pred[i, m] @ r.T + t
        out.append(np.linalg.norm(aligned - gt[i, m], axis=-1).mean())
    return np.array(out)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def poses(rng: np.random.Generator, b: int, j: int = J) -> np.ndarray:
    """Random non-symmetric 'poses' of metre scale, (b, j, 3)."""
    return rng.normal(scale=0.3, size=(b, j, 3)) + np.array([0.0, 0.0, 4.0])


def t64(x: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(x, dtype=torch.float64)


# ---------------------------------------------------------------- PA-MPJPE / similarity alignment


def test_pa_mpjpe_is_zero_for_gt_a_similarity_of_pred(rng):
    pred = poses(rng, 64)
    gt = random_similarity(rng, pred)
    err = pa_mpjpe(t64(pred), t64(gt))
    assert err.shape == (64,)
    assert err.abs().max() < 1e-6


def test_similarity_transform_recovers_the_transform(rng):
    pred = poses(rng, 16)
    r = random_rotations(rng, 16)
    s = rng.uniform(0.5, 2.0, size=16)
    t = rng.normal(size=(16, 3))
    gt = s[:, None, None] * np.einsum("bij,bkj->bki", r, pred) + t[:, None, :]
    scale, rot, trans = similarity_transform(t64(pred), t64(gt))
    np.testing.assert_allclose(scale.numpy(), s, atol=1e-9)
    np.testing.assert_allclose(rot.numpy(), r, atol=1e-9)
    np.testing.assert_allclose(trans.numpy(), t, atol=1e-9)
    assert torch.allclose(torch.linalg.det(rot), torch.ones(16, dtype=torch.float64))


def test_pa_mpjpe_invariant_to_a_similarity_of_pred(rng):
    gt = poses(rng, 32)
    pred = gt + rng.normal(scale=0.05, size=gt.shape)
    moved = random_similarity(rng, pred)
    torch.testing.assert_close(pa_mpjpe(t64(moved), t64(gt)), pa_mpjpe(t64(pred), t64(gt)), atol=1e-9, rtol=0)


def test_pa_mpjpe_argument_order_matters_and_result_is_on_gt_scale(rng):
    gt = poses(rng, 8)
    pred = 5.0 * (gt + rng.normal(scale=0.05, size=gt.shape))  # pred on a 5x larger scale
    forward = pa_mpjpe(t64(pred), t64(gt))
    backward = pa_mpjpe(t64(gt), t64(pred))
    assert (backward > 3.0 * forward).all()  # the error is in the target's units
    aligned = similarity_align(t64(pred), t64(gt))
    spread = (aligned - aligned.mean(-2, keepdim=True)).norm(dim=-1).mean(-1)
    gt_spread = (t64(gt) - t64(gt).mean(-2, keepdim=True)).norm(dim=-1).mean(-1)
    torch.testing.assert_close(spread, gt_spread, rtol=0.05, atol=0)


def test_mirrored_pose_does_not_align(rng):
    gt = poses(rng, 16)
    mirrored = gt * np.array([-1.0, 1.0, 1.0])
    err = pa_mpjpe(t64(mirrored), t64(gt))
    size = np.linalg.norm(gt - gt.mean(1, keepdims=True), axis=-1).mean(-1)
    assert (err.numpy() > 0.1 * size).all()
    # the reflection fix is what makes the difference: without it the mirror aligns exactly
    assert reference_pa_mpjpe(mirrored, gt, reflection_fix=False).max() < 1e-9
    np.testing.assert_allclose(err.numpy(), reference_pa_mpjpe(mirrored, gt), atol=1e-9)


def test_pa_mpjpe_matches_numpy_reference_on_random_data(rng):
    pred = poses(rng, 50)
    gt = rng.normal(scale=0.3, size=pred.shape)  # unrelated: big rotations, reflections, odd scales
    mask = rng.random((50, J)) > 0.3
    mask[:, :3] = True
    np.testing.assert_allclose(pa_mpjpe(t64(pred), t64(gt)).numpy(), reference_pa_mpjpe(pred, gt), atol=1e-9)
    masked = pa_mpjpe(t64(pred), t64(gt), torch.as_tensor(mask)).numpy()
    np.testing.assert_allclose(masked, reference_pa_mpjpe(pred, gt, mask), atol=1e-9)
    scale, rot, trans = similarity_transform(t64(pred), t64(gt), torch.as_tensor(mask))
    for i in range(50):
        s, r, t = reference_umeyama(pred[i, mask[i]], gt[i, mask[i]])
        np.testing.assert_allclose(scale[i].item(), s, atol=1e-9)
        np.testing.assert_allclose(rot[i].numpy(), r, atol=1e-9)
        np.testing.assert_allclose(trans[i].numpy(), t, atol=1e-9)


def test_rotation_matches_scipy_kabsch(rng):
    # Independent check: the optimal rotation of a similarity does not depend on the scale (Kabsch).
    pred = poses(rng, 10)
    gt = random_similarity(rng, pred + rng.normal(scale=0.1, size=pred.shape))
    _, rot, _ = similarity_transform(t64(pred), t64(gt))
    for i in range(10):
        a = gt[i] - gt[i].mean(0)
        b = pred[i] - pred[i].mean(0)
        kabsch, _ = Rotation.align_vectors(a, b)
        np.testing.assert_allclose(rot[i].numpy(), kabsch.as_matrix(), atol=1e-8)


@pytest.mark.parametrize("junk", [1e6, float("nan"), float("inf")])
def test_masked_joints_have_no_influence(rng, junk):
    pred = poses(rng, 12)
    gt = pred + rng.normal(scale=0.05, size=pred.shape)
    mask = rng.random((12, J)) > 0.4
    mask[:, :4] = True
    base = [f(t64(pred), t64(gt), torch.as_tensor(mask)) for f in (pa_mpjpe, mpjpe, epe_median)]
    base_st = similarity_transform(t64(pred), t64(gt), torch.as_tensor(mask))
    pred2, gt2 = pred.copy(), gt.copy()
    pred2[~mask] = junk
    gt2[~mask] = -junk if not math.isnan(junk) else junk
    for f, b in zip((pa_mpjpe, mpjpe, epe_median), base, strict=True):
        out = f(t64(pred2), t64(gt2), torch.as_tensor(mask))
        assert torch.isfinite(out).all()
        torch.testing.assert_close(out, b, atol=1e-12, rtol=0)
    moved_st = similarity_transform(t64(pred2), t64(gt2), torch.as_tensor(mask))
    for out, b in zip(moved_st, base_st, strict=True):
        torch.testing.assert_close(out, b, atol=1e-12, rtol=0)


def test_alignment_is_per_sample_not_pooled(rng):
    pred = poses(rng, 2 * 3)
    gt = random_similarity(rng, pred + rng.normal(scale=0.05, size=pred.shape))
    mask = rng.random((6, J)) > 0.3
    mask[:, :3] = True
    batch = pa_mpjpe(t64(pred), t64(gt), torch.as_tensor(mask))
    loop = torch.stack([pa_mpjpe(t64(pred[i]), t64(gt[i]), torch.as_tensor(mask[i])) for i in range(6)])
    torch.testing.assert_close(batch, loop, atol=1e-12, rtol=0)
    nested = pa_mpjpe(
        t64(pred).reshape(2, 3, J, 3), t64(gt).reshape(2, 3, J, 3), torch.as_tensor(mask).reshape(2, 3, J)
    )
    assert nested.shape == (2, 3)
    torch.testing.assert_close(nested.reshape(6), batch, atol=1e-12, rtol=0)


def test_fewer_than_three_valid_joints_gives_nan(rng):
    pred = poses(rng, 4)
    gt = pred + 0.01
    mask = np.ones((4, J), bool)
    mask[0, 2:] = False  # 2 valid joints
    mask[1, 1:] = False  # 1 valid joint
    mask[2, :] = False  # none
    err = pa_mpjpe(t64(pred), t64(gt), torch.as_tensor(mask))
    assert torch.isnan(err[:3]).all() and torch.isfinite(err[3])
    scale, rot, trans = similarity_transform(t64(pred), t64(gt), torch.as_tensor(mask))
    assert torch.isnan(scale[:3]).all() and torch.isnan(rot[:3]).all() and torch.isnan(trans[:3]).all()
    # two joints in total (SPIN's transposition pitfall): undefined, so NaN
    assert torch.isnan(pa_mpjpe(t64(pred[:, :2]), t64(gt[:, :2]))).all()


def test_degenerate_prediction_gives_nan(rng):
    gt = poses(rng, 3)
    pred = np.repeat(gt[:, :1], J, axis=1)  # all joints at one point
    assert torch.isnan(pa_mpjpe(t64(pred), t64(gt))).all()
    assert torch.isnan(pa_mpjpe(torch.zeros(2, J, 3), torch.ones(2, J, 3))).all()


def test_float32_keeps_dtype_and_accuracy(rng):
    pred = poses(rng, 8)
    gt = random_similarity(rng, pred)
    p32, g32 = torch.as_tensor(pred, dtype=torch.float32), torch.as_tensor(gt, dtype=torch.float32)
    err = pa_mpjpe(p32, g32)
    assert err.dtype == torch.float32 and err.device == p32.device
    assert err.abs().max() < 1e-4  # metres: 0.1 mm at float32 precision
    assert similarity_align(p32, g32).dtype == torch.float32


# ---------------------------------------------------------------- MPJPE, PVE, EPE


def test_mpjpe_by_hand():
    gt = torch.zeros(1, 3, 3, dtype=torch.float64)
    pred = torch.tensor([[[3.0, 4.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]]], dtype=torch.float64)
    assert mpjpe(pred, gt).item() == pytest.approx(2.0)  # (5 + 1 + 0) / 3
    assert epe_mean(pred, gt).item() == pytest.approx(2.0)
    assert mpjpe(pred, gt, torch.tensor([[False, True, True]])).item() == pytest.approx(0.5)
    assert mpjpe(pred, gt, torch.tensor([False, True, True])).item() == pytest.approx(0.5)  # broadcast mask
    torch.testing.assert_close(joint_errors(pred, gt), torch.tensor([[5.0, 1.0, 0.0]], dtype=torch.float64))
    assert torch.isnan(mpjpe(pred, gt, torch.zeros(1, 3, dtype=torch.bool))).all()


def test_mpjpe_has_no_alignment_inside():
    gt = torch.zeros(2, 4, 3)
    assert mpjpe(gt + torch.tensor([1.0, 0.0, 0.0]), gt).tolist() == [1.0, 1.0]


def test_pve_by_hand():
    gt = torch.zeros(2, 5, 3)
    pred = gt.clone()
    pred[0, 0] = torch.tensor([0.0, 3.0, 4.0])
    torch.testing.assert_close(pve(pred, gt), torch.tensor([1.0, 0.0]))


def test_epe_median_matches_numpy(rng):
    pred, gt = rng.normal(size=(40, 21, 3)), rng.normal(size=(40, 21, 3))
    mask = rng.random((40, 21)) > 0.5
    mask[0] = True  # odd count
    mask[1] = np.arange(21) < 10  # even count
    mask[2] = False
    got = epe_median(t64(pred), t64(gt), torch.as_tensor(mask)).numpy()
    dist = np.linalg.norm(pred - gt, axis=-1)
    want = np.array([np.median(d[m]) if m.any() else np.nan for d, m in zip(dist, mask, strict=True)])
    np.testing.assert_allclose(got, want, atol=1e-12)
    assert np.isnan(got[2])


# ---------------------------------------------------------------- root alignment


@pytest.mark.parametrize("name", ["h36m_17", "panoptic_joints19"])
def test_root_position_modes_by_hand(name):
    sk = get_skeleton(name)
    joints = torch.zeros(2, len(sk), 3, dtype=torch.float64)
    joints[:, sk.index("pelvis")] = torch.tensor([5.0, 5.0, 5.0], dtype=torch.float64)
    joints[:, sk.index("left_hip")] = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)
    joints[:, sk.index("right_hip")] = torch.tensor([-1.0, 2.0, 0.0], dtype=torch.float64)
    joints[1] += 10.0
    want_pelvis = torch.tensor([[5.0, 5.0, 5.0], [15.0, 15.0, 15.0]], dtype=torch.float64)
    want_mid_hip = torch.tensor([[0.0, 1.0, 0.0], [10.0, 11.0, 10.0]], dtype=torch.float64)
    torch.testing.assert_close(root_position(joints, name, "pelvis"), want_pelvis)
    torch.testing.assert_close(root_position(joints, sk, "mid_hip"), want_mid_hip)
    rel = root_align(joints, root_position(joints, name, "pelvis"))
    assert rel.shape == joints.shape and rel[:, sk.index("pelvis")].abs().max() == 0


def test_root_aligned_mpjpe_ignores_a_global_shift(rng):
    sk = get_skeleton("h36m_17")
    gt = t64(rng.normal(size=(3, 2, len(sk), 3)))
    pred = gt + t64(rng.normal(scale=0.02, size=gt.shape))
    shifted = pred + t64(rng.normal(size=(3, 2, 1, 3)))
    for mode in ("pelvis", "mid_hip"):
        gt_rel = root_align(gt, root_position(gt, sk, mode))
        a = mpjpe(root_align(pred, root_position(pred, sk, mode)), gt_rel)
        b = mpjpe(root_align(shifted, root_position(shifted, sk, mode)), gt_rel)
        assert a.shape == (3, 2)
        torch.testing.assert_close(a, b)


def test_root_mode_errors():
    with pytest.raises(ValueError, match="pelvis, mid_hip"):
        root_position(torch.zeros(17, 3), "h36m_17", "spine")
    with pytest.raises(ValueError, match=r"joints: expected \(\.\.\., 17, 3\)"):
        root_position(torch.zeros(16, 3), "h36m_17", "pelvis")
    with pytest.raises(ValueError, match="pelvis"):  # LSP has hips but no pelvis
        root_position(torch.zeros(14, 3), "lsp_14", "pelvis")
    assert root_position(torch.ones(14, 3), "lsp_14", "mid_hip").tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(ValueError, match=r"root: expected"):
        root_align(torch.zeros(2, 5, 3), torch.zeros(3))


# ---------------------------------------------------------------- PCK and AUC


def test_pck_curve_shape_properties(rng):
    errors = t64(rng.uniform(0.01, 0.04, size=(100, 21)))
    thr = torch.linspace(0.0, 0.05, 51, dtype=torch.float64)
    curve = pck_curve(errors, thr)
    assert curve.shape == (51,)
    assert (curve.diff() >= 0).all()
    assert (curve[thr < errors.min()] == 0).all()
    assert (curve[thr >= errors.max()] == 1).all()
    # pooled over samples and joints: (N,) of the flattened errors gives the same
    torch.testing.assert_close(pck_curve(errors.reshape(-1), thr), curve)


def test_pck_curve_is_inclusive_and_masked():
    errors = torch.tensor([[1.0, 2.0, 3.0, 100.0]])
    thr = torch.tensor([0.5, 1.0, 2.0, 3.0])
    torch.testing.assert_close(pck_curve(errors, thr), torch.tensor([0.0, 0.25, 0.5, 0.75]))
    mask = torch.tensor([[True, True, True, False]])
    torch.testing.assert_close(pck_curve(errors, thr, mask), torch.tensor([0.0, 1 / 3, 2 / 3, 1.0]))
    assert torch.isnan(pck_curve(errors, thr, torch.zeros_like(mask))).all()


def test_auc_perfect_prediction_is_one():
    errors = torch.zeros(10, 21)
    thr = stb_pck_thresholds("hand3d_0_50")
    assert auc(thr, pck_curve(errors, thr)) == pytest.approx(1.0)
    assert stb_auc(errors) == pytest.approx(1.0)


def test_auc_of_a_step_by_hand():
    thr = torch.tensor([0.0, 1.0, 2.0, 3.0, 4.0, 5.0])
    pck = pck_curve(torch.full((7, 3), 2.5), thr)
    torch.testing.assert_close(pck, torch.tensor([0.0, 0.0, 0.0, 1.0, 1.0, 1.0]))
    # trapezoids: 0 + 0 + 0.5 + 1 + 1 over a range of 5
    assert auc(thr, pck) == pytest.approx(0.5)


def test_stb_thresholds_follow_hand3d():
    full = stb_pck_thresholds("hand3d_0_50", units="mm", dtype=torch.float64)
    assert full.shape == (20,) and full[0] == 0 and full[-1] == 50
    sub = stb_pck_thresholds("hand3d_20_50", units="mm", dtype=torch.float64)
    assert sub.shape == (12,) and sub[0].item() == pytest.approx(8 * 50 / 19) and sub[-1] == 50
    metres = stb_pck_thresholds("mm_20_50", units="m", dtype=torch.float64)
    assert metres.shape == (31,) and metres[0].item() == pytest.approx(0.02) and metres[-1].item() == 0.05
    # errors of 30 mm everywhere, in metres and in millimetres: same AUC
    assert stb_auc(torch.full((5, 21), 0.03, dtype=torch.float64), variant="mm_20_50") == pytest.approx(
        stb_auc(torch.full((5, 21), 30.0, dtype=torch.float64), units="mm", variant="mm_20_50")
    )
    # 35.5 mm: PCK steps from 0 at 35 mm to 1 at 36 mm, so the area is (0.5 + 14) / 30
    errors = torch.full((5, 21), 35.5, dtype=torch.float64)
    assert stb_auc(errors, units="mm", variant="mm_20_50") == pytest.approx(14.5 / 30)
    with pytest.raises(ValueError, match="hand3d_0_50"):
        stb_pck_thresholds("20-50")


# ---------------------------------------------------------------- shape checks


@pytest.mark.parametrize(
    "fn", [mpjpe, pa_mpjpe, epe_mean, epe_median, joint_errors, similarity_align, similarity_transform]
)
def test_bad_shapes_raise_value_error(fn):
    with pytest.raises(ValueError, match=r"pred: expected \(\.\.\., J, 3\), got \(8, 17, 2\)"):
        fn(torch.zeros(8, 17, 2), torch.zeros(8, 17, 2))
    with pytest.raises(ValueError, match=r"gt: expected \(\.\.\., J, 3\), got \(3,\)"):
        fn(torch.zeros(8, 17, 3), torch.zeros(3))
    with pytest.raises(ValueError, match=r"pred \(8, 17, 3\) and gt \(8, 16, 3\)"):
        fn(torch.zeros(8, 17, 3), torch.zeros(8, 16, 3))


@pytest.mark.parametrize("fn", [mpjpe, pa_mpjpe, epe_median, similarity_transform])
def test_bad_masks_raise_value_error(fn):
    x = torch.zeros(8, 17, 3)
    with pytest.raises(ValueError, match=r"mask: expected \(\.\.\., J\) = \(8, 17\), got \(8, 16\)"):
        fn(x, x, torch.ones(8, 16, dtype=torch.bool))
    with pytest.raises(ValueError, match="mask: expected a bool tensor"):
        fn(x, x, torch.ones(8, 17))


def test_bad_shapes_other_functions():
    with pytest.raises(ValueError, match=r"pred_verts: expected \(\.\.\., V, 3\), got \(2, 10\)"):
        pve(torch.zeros(2, 10), torch.zeros(2, 10))
    with pytest.raises(ValueError, match=r"pred_verts \(2, 10, 3\) and gt_verts \(2, 9, 3\)"):
        pve(torch.zeros(2, 10, 3), torch.zeros(2, 9, 3))
    with pytest.raises(ValueError, match=r"thresholds: expected \(T,\)"):
        pck_curve(torch.zeros(4, 21), torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"pck: expected \(T,\)"):
        auc(torch.linspace(0, 1, 5), torch.zeros(4))
    with pytest.raises(ValueError, match="strictly increasing"):
        auc(torch.tensor([0.0, 2.0, 1.0]), torch.zeros(3))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_inputs_stay_on_cuda_and_match_cpu(rng):
    pred = poses(rng, 64)
    gt = pred + rng.normal(scale=0.05, size=pred.shape)
    mask = torch.as_tensor(rng.random((64, J)) > 0.2)
    cpu = pa_mpjpe(t64(pred), t64(gt), mask)
    gpu = pa_mpjpe(t64(pred).cuda(), t64(gt).cuda(), mask.cuda())
    assert gpu.device.type == "cuda"
    torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-9, rtol=0)
    errors = joint_errors(t64(pred).cuda(), t64(gt).cuda())
    assert stb_auc(errors, mask.cuda()) == pytest.approx(stb_auc(errors.cpu(), mask))
