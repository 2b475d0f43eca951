"""Alignment of predicted joints to ground truth: similarity (Umeyama / Procrustes) and root alignment.

Pure torch functions over any leading batch dims; dtype and device come from the inputs. Every length is in
the units of the input (the project works in metres). Shapes follow the project's dialect:
`joints: (..., J, 3)`, `mask: (..., J) bool` (True = valid joint).

Conventions (see shared PROTOCOLS.md, Metrics):
- The similarity maps the *prediction* onto the *ground truth*: aligned = scale * (R @ p) + t for every
  predicted joint p (a column vector), so the aligned prediction lies in the ground truth's frame and scale.
- It is fitted per sample (never pooled over the batch) and on the valid joints only: invisible joints have no
  influence at all, whatever their values (even NaN); `similarity_align` then moves all joints.
- Reflections are excluded (Umeyama's fix, Z = diag(1, 1, sign(det(U V^T)))): a mirrored pose keeps a large
  error instead of aligning to 0.
- A sample whose transform is undefined gives NaN outputs, never a silent number: fewer than 3 valid joints,
  a degenerate prediction (all valid joints coincident) or a non-finite value on a valid joint.
"""

from __future__ import annotations

import torch
from torch import Tensor

from bench.body.skeletons import Skeleton, get_skeleton
from bench.shapes import check_trailing

ROOT_MODES = ("pelvis", "mid_hip")
"""`root_position` modes: 'pelvis' = the joint named 'pelvis'; 'mid_hip' = mean of 'left_hip', 'right_hip'."""

MIN_VALID_JOINTS = 3
"""Fewer valid joints than this leave the similarity undefined (NaN outputs)."""


def _check_points(name: str, x: Tensor, n: str = "J") -> None:
    """Raise ValueError unless `x` is a floating tensor of shape (..., n, 3) (TypeError for a non-tensor)."""
    check_trailing(name, x, n, 3)
    if not x.is_floating_point():
        raise ValueError(f"{name}: expected a floating-point tensor of shape (..., {n}, 3), got {x.dtype}")


def _check_pair(pred: Tensor, gt: Tensor, names: tuple[str, str] = ("pred", "gt"), n: str = "J") -> None:
    """Check both point sets and that their shapes are equal."""
    _check_points(names[0], pred, n)
    _check_points(names[1], gt, n)
    if pred.shape != gt.shape:
        raise ValueError(
            f"{names[0]} and {names[1]} must have the same shape (..., {n}, 3), "
            f"got {names[0]} {tuple(pred.shape)} and {names[1]} {tuple(gt.shape)}"
        )


def _valid_mask(mask: Tensor | None, points: Tensor) -> Tensor:
    """The (..., J) bool validity of `points` (..., J, 3): `mask` broadcast to it, or all True when None."""
    shape = points.shape[:-1]
    if mask is None:
        return torch.ones(shape, dtype=torch.bool, device=points.device)
    if not isinstance(mask, Tensor) or mask.dtype != torch.bool:
        got = mask.dtype if isinstance(mask, Tensor) else type(mask).__name__
        raise ValueError(f"mask: expected a bool tensor of shape (..., J) = {tuple(shape)}, got {got}")
    try:
        if torch.broadcast_shapes(mask.shape, shape) != shape:
            raise RuntimeError
    except RuntimeError:
        raise ValueError(f"mask: expected (..., J) = {tuple(shape)}, got {tuple(mask.shape)}") from None
    return mask.expand(shape)


def similarity_transform(pred: Tensor, gt: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """Least-squares similarity (Umeyama, with scale, no reflection) taking `pred` onto `gt`, per sample.

    Args:
        pred: (..., J, 3) predicted joints, any length unit.
        gt: (..., J, 3) ground-truth joints, same unit and same shape.
        mask: (..., J) bool, True = valid joint (broadcastable, e.g. (J,)); None = all valid. Only valid
            joints enter the weighted means and cross-covariance; invalid ones can hold any value (NaN too).
    Returns:
        scale: (...,) dimensionless; R: (..., 3, 3) proper rotation; t: (..., 3) in the input's unit;
        such that gt ~ scale * (R @ p) + t for each predicted joint p. With the centred valid joints as
        columns, X1 (pred) and X2 (gt): K = X1 X2^T = U S V^T, R = V Z U^T with
        Z = diag(1, 1, sign(det(U V^T))), scale = tr(R K) / ||X1||^2, t = mean(gt) - scale R mean(pred).
        All three are NaN for a sample with fewer than 3 valid joints, with all valid predicted joints
        coincident, or with a non-finite value on a valid joint.
    Raises:
        ValueError: a shape is not (..., J, 3), the shapes differ, or the mask is not bool (..., J).
    """
    _check_pair(pred, gt)
    valid = None if mask is None else _valid_mask(mask, pred)
    dtype = torch.promote_types(pred.dtype, gt.dtype)
    lead, n_joints = pred.shape[:-2], pred.shape[-2]
    p = pred.to(dtype).reshape(-1, n_joints, 3)
    g = gt.to(dtype).reshape(-1, n_joints, 3)

    if valid is None:
        count = torch.full(p.shape[:1], n_joints, dtype=dtype, device=p.device)
        mu_p = p.mean(dim=-2, keepdim=True)
        mu_g = g.mean(dim=-2, keepdim=True)
        x1 = p - mu_p
    else:
        # torch.where, not a product with the mask: an invalid joint holding NaN or inf must not leak in.
        v = valid.reshape(-1, n_joints, 1)
        p = torch.where(v, p, 0.0)
        g = torch.where(v, g, 0.0)
        count = v.sum(dim=(-1, -2)).to(dtype)
        denom = count.clamp_min(1)[:, None, None]
        mu_p = p.sum(dim=-2, keepdim=True) / denom
        mu_g = g.sum(dim=-2, keepdim=True) / denom
        x1 = torch.where(v, p - mu_p, 0.0)  # zero on invalid joints, so x2 needs no masking
    x2 = g - mu_g
    k = x1.transpose(-1, -2) @ x2  # (B, 3, 3) = sum_j x1_j x2_j^T, X1 X2^T with points as columns
    var1 = x1.square().sum(dim=(-1, -2))

    # Degenerate prediction: a spread at the rounding noise of the centring, relative to the magnitudes
    # (sum_j |p_j|^2 = var1 + n |mean|^2, so no second pass over the joints).
    eps = torch.finfo(dtype).eps
    noise = (64 * eps) ** 2 * (var1 + count * mu_p.square().sum(dim=(-1, -2)))
    bad = (count < MIN_VALID_JOINTS) | ~(var1 > noise) | ~torch.isfinite(k).all(dim=-1).all(dim=-1)
    eye = torch.eye(3, dtype=dtype, device=p.device)
    k = torch.where(bad[:, None, None], eye, k)  # keep the SVD away from NaN; the sample is NaN-ed below

    u, s, vh = torch.linalg.svd(k)
    d = torch.sign(_det3(u) * _det3(vh))  # sign(det(U V^T)), +-1 for orthogonal factors
    z = torch.stack([torch.ones_like(d), torch.ones_like(d), d], dim=-1)
    r = (vh.transpose(-1, -2) * z.unsqueeze(-2)) @ u.transpose(-1, -2)  # V Z U^T
    scale = (s * z).sum(dim=-1) / torch.where(bad, 1.0, var1)  # tr(R K) = tr(Z S)
    t = mu_g.squeeze(-2) - scale.unsqueeze(-1) * (mu_p @ r.transpose(-1, -2)).squeeze(-2)

    nan = torch.tensor(float("nan"), dtype=dtype, device=p.device)
    scale = torch.where(bad, nan, scale)
    r = torch.where(bad[:, None, None], nan, r)
    t = torch.where(bad[:, None], nan, t)
    return scale.reshape(lead), r.reshape(*lead, 3, 3), t.reshape(*lead, 3)


def _det3(a: Tensor) -> Tensor:
    """Determinant of (..., 3, 3) matrices in closed form (a batched LU is slower for 3 x 3)."""
    return (torch.linalg.cross(a[..., 0, :], a[..., 1, :]) * a[..., 2, :]).sum(dim=-1)


def similarity_align(pred: Tensor, gt: Tensor, mask: Tensor | None = None) -> Tensor:
    """`pred` moved onto `gt` by the per-sample similarity fitted on valid joints (`similarity_transform`).

    Args:
        pred, gt: (..., J, 3), same shape and length unit. mask: (..., J) bool or None, as in
            `similarity_transform`.
    Returns:
        (..., J, 3) aligned prediction, in gt's frame and unit. The transform is applied to ALL joints (also
        the invalid ones); a sample whose transform is undefined (see `similarity_transform`) is all NaN.
    """
    scale, r, t = similarity_transform(pred, gt, mask)
    m = (scale[..., None, None] * r.transpose(-1, -2)).reshape(-1, 3, 3)  # rows: p^T (s R)^T
    rows = pred.to(m.dtype).reshape(-1, pred.shape[-2], 3)
    return torch.baddbmm(t.reshape(-1, 1, 3), rows, m).reshape(pred.shape)


def root_align(joints: Tensor, root: Tensor) -> Tensor:
    """Joints relative to a root: joints - root.

    Args:
        joints: (..., J, 3), any length unit. root: (..., 3), same unit and leading dims.
    Returns:
        (..., J, 3) root-relative joints, same unit.
    """
    _check_points("joints", joints)
    if not isinstance(root, Tensor) or root.shape != joints.shape[:-2] + (3,):
        got = tuple(root.shape) if isinstance(root, Tensor) else type(root).__name__
        raise ValueError(f"root: expected (..., 3) = {tuple(joints.shape[:-2]) + (3,)}, got {got}")
    return joints - root.unsqueeze(-2)


def root_position(joints: Tensor, skeleton: str | Skeleton, mode: str) -> Tensor:
    """The root of each sample, found by joint name.

    Args:
        joints: (..., J, 3) in the order of `skeleton`, any length unit.
        skeleton: a `bench.body.skeletons` name (e.g. 'h36m_17') or a Skeleton; joint indices come from names.
        mode: 'pelvis' (the joint named 'pelvis') or 'mid_hip' (mean of 'left_hip' and 'right_hip').
    Returns:
        (..., 3) root position, same unit as `joints`.
    Raises:
        ValueError: unknown mode (the valid ones are listed), a skeleton without the joints the mode needs, or
            joints not of shape (..., len(skeleton.joints), 3).
    """
    if mode not in ROOT_MODES:
        raise ValueError(f"unknown root mode {mode!r}; valid modes: {', '.join(ROOT_MODES)}")
    if isinstance(skeleton, str):
        skeleton = get_skeleton(skeleton)
    n = len(skeleton.joints)
    _check_points("joints", joints, str(n))
    if joints.shape[-2] != n:
        raise ValueError(f"joints: expected (..., {n}, 3) for this skeleton, got {tuple(joints.shape)}")
    names = ("pelvis",) if mode == "pelvis" else ("left_hip", "right_hip")
    missing = [name for name in names if name not in skeleton.joints]
    if missing:
        raise ValueError(f"root mode {mode!r} needs joint(s) {missing}, not in skeleton {skeleton.name!r}")
    idx = torch.tensor([skeleton.index(name) for name in names], device=joints.device)
    return joints.index_select(-2, idx).mean(dim=-2)
