"""Losses of Sun et al. Sec. III-C (weights of Sec. IV-B: w_pm 20, w_3D 60, w_2D 6, w_r 0.5), on the body model's
keypoint path (``bench.body.body_model.BodyModel.keypoints``).

All 3D quantities are metres in the camera frame; 3D joints are compared pelvis-centred (root-aligned), so the
3D loss does not depend on the (unobservable) absolute depth. 2D errors are pixels divided by the half size of
the body's 2D box (scale-normalisation layer), so the 2D loss does not depend on the image resolution.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from bench.body.regressors import regressor_matrix
from bench.geometry.rotations import axis_angle_to_matrix
from datasets.bank import ANGLE_AXES, ANGLE_LIMITS
from methods.proposed.cameras import HEADS

__all__ = ["LossWeights", "angle_limit_loss", "param_loss", "pose_rotmats", "project", "to_openpose"]


@dataclass(frozen=True)
class LossWeights:
    pm: float = 20.0  # w_pm, Sec. IV-B
    j3d: float = 60.0  # w_3D
    j2d: float = 6.0  # w_2D
    r: float = 0.5  # w_r
    shape_prior: float = 0.1  # share of the shape prior inside L_r (relative to the joint-angle term)


def pose_rotmats(R_glob, R_body, jaw_pose, left_hand_pose, right_hand_pose) -> torch.Tensor:
    """(B, 55, 3, 3) SMPL-X joint rotations (global | body 21 | jaw | eyes | hands 15+15) for a model built with
    ``flat_hand_mean=True, use_pca=False`` (its pose mean is zero, so these are the absolute rotations)."""
    B = R_glob.shape[0]
    eye = torch.eye(3, dtype=R_glob.dtype, device=R_glob.device).expand(B, 2, 3, 3)
    aa = torch.cat([jaw_pose[:, None], left_hand_pose.reshape(B, 15, 3), right_hand_pose.reshape(B, 15, 3)], 1)
    R = axis_angle_to_matrix(aa)  # one Rodrigues call for jaw and both hands
    return torch.cat([R_glob[:, None], R_body, R[:, :1], eye, R[:, 1:]], 1)


_OP_CACHE: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}


def to_openpose(joints: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, 127|144, 3) SMPL-X output joints -> (B, 137, 3) openpose_137 points and (137,) validity, through
    ``bench.body.regressors`` (the same definition the synthetic sets are written with)."""
    key = (joints.shape[1], joints.dtype, joints.device)
    if key not in _OP_CACHE:
        W, valid = regressor_matrix("openpose_137", f"smplx_{joints.shape[1]}")
        _OP_CACHE[key] = (torch.as_tensor(W, dtype=joints.dtype, device=joints.device),
                          torch.as_tensor(valid, device=joints.device))  # fmt: skip
    W, valid = _OP_CACHE[key]
    return torch.einsum("kj,bjc->bkc", W, joints), valid


def project(projection: str, points: torch.Tensor, out: dict[str, torch.Tensor]) -> torch.Tensor:
    """Pelvis-centred camera-frame points (B, J, 3) m -> pixels (B, J, 2) by the camera head of ``projection``
    (``cameras.HEADS[projection].project``; ``out`` holds that head's decoded camera)."""
    return HEADS[projection].project(points, out)


def param_loss(pred_R: torch.Tensor, gt_R: torch.Tensor, pred_vec: torch.Tensor, gt_vec: torch.Tensor,
               weight: torch.Tensor) -> torch.Tensor:  # fmt: skip
    """L_pm: squared error of rotation matrices (Rodrigues, as HMR/SPIN) plus of betas/expression, per-sample
    weighted mean. pred_R/gt_R (B, N, 3, 3); pred_vec/gt_vec (B, D); weight (B,)."""
    per = (pred_R - gt_R).square().flatten(1).mean(1) + (pred_vec - gt_vec).square().mean(1)
    return (per * weight).sum() / weight.sum().clamp(min=1.0)


_LIMITS: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}


def angle_limit_loss(R_body: torch.Tensor) -> torch.Tensor:
    """Joint-angle part of L_r: squared excess of each body joint's anatomical angles (``datasets.bank``
    ANGLE_AXES / ANGLE_LIMITS, the bank's own decomposition) beyond its limits, (B,) radians^2."""
    key = (R_body.dtype, R_body.device)
    if key not in _LIMITS:
        _LIMITS[key] = (torch.as_tensor(ANGLE_AXES, dtype=R_body.dtype, device=R_body.device),
                        torch.as_tensor(ANGLE_LIMITS, dtype=R_body.dtype, device=R_body.device))  # fmt: skip
    A, lim = _LIMITS[key]
    L = A @ R_body @ A.transpose(-1, -2)
    t1 = torch.atan2(-L[..., 1, 2], L[..., 2, 2])
    t2 = torch.asin(L[..., 0, 2].clamp(-1 + 1e-6, 1 - 1e-6))
    t3 = torch.atan2(-L[..., 0, 1], L[..., 0, 0])
    t = torch.stack([t1, t2, t3], -1)
    excess = torch.relu(lim[..., 0] - t) + torch.relu(t - lim[..., 1])
    return excess.square().flatten(1).sum(1)
