"""Pose and mesh error metrics, named after the protocols that use them.

Pure torch functions over any leading batch dims; dtype and device come from the inputs. Errors are in the
units of the input (the project works in metres; reports convert to millimetres). Per-sample metrics return
one value per sample, shape = the leading dims; reduction over samples happens in reports. The exceptions,
which reduce over samples by necessity, are the PCK curve and its AUC.

Conventions (see shared PROTOCOLS.md, Metrics and STB):
- `mask: (..., J) bool` (or broadcastable to it, e.g. (J,)), True = valid joint. Means and medians run over
  the valid joints of each sample; a sample with no valid joint gives NaN, never 0. A non-finite error on a
  valid joint gives NaN too.
- No alignment happens inside `mpjpe`: compose `bench.geometry.alignment.root_align` / `root_position` yourself.
  `pa_mpjpe` aligns the prediction onto the ground truth per sample on the valid joints (see
  `bench.geometry.alignment.similarity_transform`).
- STB hand protocol (lmb-freiburg/hand3d, utils/general.py EvalUtil and eval_full.py): thresholds
  linspace(0, 50 mm, 20); a joint counts as correct when error <= threshold; AUC = trapezoid area / threshold
  range. Its "AUC 20-50 mm" keeps thresholds[8:], i.e. 21.05..50 mm (12 points), not exactly 20..50 mm (and
  the script's docstring says "30mm to 50mm"): `stb_pck_thresholds` offers both ranges, named. hand3d averages
  per-keypoint PCK curves and per-keypoint EPE medians over the dataset; here the PCK pools all valid
  (sample, joint) errors (identical when every joint is valid) and `epe_median` is the median over the joints
  of each sample.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from bench.geometry.alignment import _check_pair, _valid_mask, similarity_align

STB_THRESHOLD_VARIANTS = ("hand3d_0_50", "hand3d_20_50", "mm_20_50")
"""`stb_pck_thresholds` variants (all in millimetres before unit conversion):
'hand3d_0_50' = linspace(0, 50, 20), hand3d's full curve; 'hand3d_20_50' = its [8:] (21.05..50, 12 points),
the thresholds behind the "AUC 20-50 mm" that hand3d's eval_full.py prints; 'mm_20_50' = linspace(20, 50, 31), the
nominal range on a 1 mm grid."""

_MM_PER_UNIT = {"m": 1000.0, "mm": 1.0}


def _masked_mean(err: Tensor, valid: Tensor) -> Tensor:
    """Mean of `err` (..., J) over valid joints; NaN with no valid joint."""
    total = torch.where(valid, err, err.new_zeros(())).sum(dim=-1)
    count = valid.sum(dim=-1)
    return torch.where(count > 0, total / count.clamp_min(1), err.new_tensor(float("nan")))


def joint_errors(pred: Tensor, gt: Tensor) -> Tensor:
    """Euclidean distance per joint.

    Args:
        pred, gt: (..., J, 3), same shape and length unit.
    Returns:
        (..., J) distances, in the input's unit.
    """
    _check_pair(pred, gt)
    return torch.linalg.vector_norm(pred - gt, dim=-1)


def mpjpe(pred: Tensor, gt: Tensor, mask: Tensor | None = None) -> Tensor:
    """Mean per-joint position error, per sample, without any alignment.

    Args:
        pred, gt: (..., J, 3), same shape and length unit. mask: (..., J) bool (True = valid) or None (all).
    Returns:
        (...) mean over the valid joints of the Euclidean distance, in the input's unit; NaN for a sample with
        no valid joint.
    """
    err = joint_errors(pred, gt)
    return _masked_mean(err, _valid_mask(mask, pred))


def pa_mpjpe(pred: Tensor, gt: Tensor, mask: Tensor | None = None) -> Tensor:
    """Procrustes-aligned MPJPE (Protocol 2), per sample.

    `pred` is aligned onto `gt` (order matters) by the similarity (rotation, scale, translation, no
    reflection) fitted per sample on the valid joints, then the error is averaged over the valid joints.

    Args:
        pred, gt: (..., J, 3), same shape and length unit. mask: (..., J) bool (True = valid) or None (all).
    Returns:
        (...) error in gt's unit; NaN for a sample with fewer than 3 valid joints, a degenerate prediction
        (all valid joints coincident) or a non-finite valid joint.
    """
    aligned = similarity_align(pred, gt, mask)
    return mpjpe(aligned, gt.to(aligned.dtype), mask)


def pve(pred_verts: Tensor, gt_verts: Tensor) -> Tensor:
    """Mean per-vertex error (PVE / MPVPE), per sample, without any alignment.

    Args:
        pred_verts, gt_verts: (..., V, 3), same shape and length unit, same mesh topology.
    Returns:
        (...) mean Euclidean vertex distance, in the input's unit.
    """
    _check_pair(pred_verts, gt_verts, names=("pred_verts", "gt_verts"), n="V")
    return torch.linalg.vector_norm(pred_verts - gt_verts, dim=-1).mean(dim=-1)


def epe_mean(pred: Tensor, gt: Tensor, mask: Tensor | None = None) -> Tensor:
    """Mean end-point error per sample: the hand literature's name for `mpjpe` (same value, same unit)."""
    return mpjpe(pred, gt, mask)


def epe_median(pred: Tensor, gt: Tensor, mask: Tensor | None = None) -> Tensor:
    """Median end-point error over the valid joints of each sample.

    Args:
        pred, gt: (..., J, 3), same shape and length unit. mask: (..., J) bool (True = valid) or None (all).
    Returns:
        (...) median distance in the input's unit; with an even count, the mean of the two middle values (as
        numpy.median). NaN for a sample with no valid joint or a non-finite error on a valid joint.
    """
    err = joint_errors(pred, gt)
    valid = _valid_mask(mask, pred)
    if err.shape[-1] == 0:
        return err.new_full(err.shape[:-1], float("nan"))
    ordered = torch.where(valid, err, err.new_tensor(float("inf"))).sort(dim=-1).values
    count = valid.sum(dim=-1, keepdim=True)
    lo = ((count - 1).clamp_min(0) // 2).clamp_max(err.shape[-1] - 1)
    hi = (count // 2).clamp_max(err.shape[-1] - 1)
    median = 0.5 * (ordered.gather(-1, lo) + ordered.gather(-1, hi)).squeeze(-1)
    broken = (count.squeeze(-1) == 0) | (valid & ~torch.isfinite(err)).any(dim=-1)
    return torch.where(broken, err.new_tensor(float("nan")), median)


def pck_curve(errors: Tensor, thresholds: Tensor, mask: Tensor | None = None) -> Tensor:
    """Percentage of correct keypoints at each threshold, pooled over all valid (sample, joint) errors.

    This reduces over samples by necessity (a curve of the whole set).

    Args:
        errors: (N, J) or (N,) joint errors (any shape is accepted), e.g. from `joint_errors`.
        thresholds: (T,) in the SAME unit as `errors` (see `stb_pck_thresholds`).
        mask: bool, same shape as `errors` (True = valid) or None (all valid).
    Returns:
        (T,) fraction in [0, 1] of valid errors <= each threshold (hand3d's inclusive test). All NaN when no
        error is valid or a valid error is not finite.
    """
    if not isinstance(errors, Tensor) or not errors.is_floating_point():
        raise ValueError("errors: expected a floating-point tensor of shape (N, J) or (N,)")
    if not isinstance(thresholds, Tensor) or thresholds.ndim != 1:
        got = tuple(thresholds.shape) if isinstance(thresholds, Tensor) else type(thresholds).__name__
        raise ValueError(f"thresholds: expected (T,), got {got}")
    if mask is None:
        valid_err = errors.reshape(-1)
    else:
        if not isinstance(mask, Tensor) or mask.dtype != torch.bool or mask.shape != errors.shape:
            got = (mask.dtype, tuple(mask.shape)) if isinstance(mask, Tensor) else type(mask).__name__
            raise ValueError(f"mask: expected bool {tuple(errors.shape)} like errors, got {got}")
        valid_err = errors[mask]
    thr = thresholds.to(dtype=errors.dtype, device=errors.device)
    if valid_err.numel() == 0 or not torch.isfinite(valid_err).all():
        return torch.full_like(thr, float("nan"))
    # searchsorted(right=True) counts the errors <= each threshold without a (T, N*J) comparison table.
    counts = torch.searchsorted(valid_err.sort().values, thr, right=True)
    return counts.to(errors.dtype) / valid_err.numel()


def auc(thresholds: Tensor, pck: Tensor) -> float:
    """Normalised area under a PCK curve: trapezoid integral / (thresholds[-1] - thresholds[0]), in [0, 1].

    Args:
        thresholds: (T,) strictly increasing, T >= 2, any unit (it cancels). pck: (T,) values in [0, 1].
    Returns:
        The area as a float (1.0 for a perfect prediction); NaN if `pck` holds NaN.
    """
    if not isinstance(thresholds, Tensor) or thresholds.ndim != 1 or thresholds.shape[0] < 2:
        got = tuple(thresholds.shape) if isinstance(thresholds, Tensor) else type(thresholds).__name__
        raise ValueError(f"thresholds: expected (T,) with T >= 2, got {got}")
    if not isinstance(pck, Tensor) or pck.shape != thresholds.shape:
        got = tuple(pck.shape) if isinstance(pck, Tensor) else type(pck).__name__
        raise ValueError(f"pck: expected (T,) = {tuple(thresholds.shape)} like thresholds, got {got}")
    x = thresholds.to(torch.float64)
    if not (x.diff() > 0).all():
        raise ValueError("thresholds: expected strictly increasing values")
    return float(torch.trapezoid(pck.to(torch.float64).cpu(), x.cpu()) / (x[-1] - x[0]).cpu())


def stb_pck_thresholds(
    variant: str = "hand3d_20_50",
    *,
    units: Literal["m", "mm"] = "m",
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """PCK thresholds of the STB hand protocol (lmb-freiburg/hand3d eval_full.py), in `units`.

    Args:
        variant: one of STB_THRESHOLD_VARIANTS ('hand3d_0_50', 'hand3d_20_50' (default), 'mm_20_50').
        units: unit of the errors they will be compared with: 'm' (the project's) or 'mm'.
        dtype, device: of the result (torch defaults when None; CPU unless told).
    Returns:
        (T,) increasing thresholds in `units`.
    """
    if units not in _MM_PER_UNIT:
        raise ValueError(f"unknown units {units!r}; valid: {', '.join(_MM_PER_UNIT)}")
    if variant == "hand3d_0_50":
        mm = torch.linspace(0.0, 50.0, 20, dtype=torch.float64)
    elif variant == "hand3d_20_50":
        mm = torch.linspace(0.0, 50.0, 20, dtype=torch.float64)[8:]
    elif variant == "mm_20_50":
        mm = torch.linspace(20.0, 50.0, 31, dtype=torch.float64)
    else:
        valid = ", ".join(STB_THRESHOLD_VARIANTS)
        raise ValueError(f"unknown STB threshold variant {variant!r}; valid: {valid}")
    return (mm / _MM_PER_UNIT[units]).to(dtype=dtype or torch.get_default_dtype(), device=device)


def stb_auc(
    errors: Tensor,
    mask: Tensor | None = None,
    *,
    units: Literal["m", "mm"] = "m",
    variant: str = "hand3d_20_50",
) -> float:
    """AUC of the PCK curve over the STB thresholds of `variant` (default hand3d's '20-50 mm' = 21.05..50 mm).

    Args:
        errors: (N, J) or (N,) joint errors in `units` ('m', the project's, or 'mm'). mask: as in `pck_curve`.
    Returns:
        Normalised area in [0, 1] (NaN when no error is valid). Reduces over samples.
    """
    if not isinstance(errors, Tensor):
        raise ValueError(f"errors: expected a tensor of shape (N, J) or (N,), got {type(errors).__name__}")
    thr = stb_pck_thresholds(variant, units=units, dtype=errors.dtype, device=errors.device)
    return auc(thr, pck_curve(errors, thr, mask))
