"""bench.body.regressors: dataset joints from SMPL-X output joints (one definition for ground truth and predictions)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.body.regressors import DERIVED, regressor_matrix, skeleton_from_smplx
from bench.body.skeletons import get_skeleton
from datasets.stb.format import palm_to_wrist

SRC = get_skeleton("smplx_127")


def test_named_joints_are_copied_and_derived_ones_are_affine():
    for dst in ("h36m_17", "lsp_14", "stb_21", "panoptic_joints19", "openpose_body25"):
        W, valid = regressor_matrix(dst)
        assert valid.all(), dst
        np.testing.assert_allclose(W.sum(axis=1), 1.0, atol=1e-12)  # affine: translation-equivariant
    W, valid = regressor_matrix("openpose_137", "smplx_127")
    assert not valid.all()  # face contour needs 'smplx_144'
    assert regressor_matrix("openpose_137", "smplx_144")[1].all()
    for name, terms in DERIVED.items():
        assert all(n in SRC.joints for n, _ in terms), name


def test_numpy_and_torch_agree_and_shapes_are_checked():
    x = np.random.default_rng(0).normal(size=(4, 127, 3))
    a, va = skeleton_from_smplx(x, "h36m_17")
    b, vb = skeleton_from_smplx(torch.from_numpy(x), "h36m_17")
    np.testing.assert_allclose(a, b.numpy(), atol=1e-12)
    assert va.tolist() == vb.tolist()
    with pytest.raises(ValueError, match="127 or 144"):
        skeleton_from_smplx(np.zeros((2, 55, 3)), "h36m_17")


def test_head_top_moves_rigidly_with_the_head(flat_body_model):
    h36m = get_skeleton("h36m_17")
    top, head = h36m.index("head_top"), h36m.index("h36m_head")
    rest = flat_body_model.keypoints(betas=torch.zeros(1, 10))
    body_pose = torch.zeros(1, 21, 3)
    body_pose[0, 14, 0] = 0.6  # head (joint 15 = body_pose index 14) nods forward
    nod = flat_body_model.keypoints(betas=torch.zeros(1, 10), body_pose=body_pose.reshape(1, -1))
    a, _ = skeleton_from_smplx(rest, "h36m_17")
    b, _ = skeleton_from_smplx(nod, "h36m_17")
    d_rest = torch.linalg.norm(a[0, top] - a[0, head])
    d_nod = torch.linalg.norm(b[0, top] - b[0, head])
    assert torch.isclose(d_rest, d_nod, atol=2e-3)
    assert torch.linalg.norm(b[0, top] - a[0, top]) > 0.03  # it moved with the head
    assert a[0, top, 1] > a[0, head, 1] + 0.1  # above the head centre (SMPL-X y up)


def test_palm_is_the_inverse_of_the_ring_mcp_wrist_convention():
    x = np.random.default_rng(1).normal(size=(3, 127, 3))
    stb, _ = skeleton_from_smplx(x, "stb_21")
    wrist = palm_to_wrist(stb, "ring_mcp")[..., 0, :]
    np.testing.assert_allclose(wrist, x[:, SRC.index("left_wrist")], atol=1e-12)
