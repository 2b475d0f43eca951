"""Dataset-skeleton joints from the body model's output joints: the one definition used both to write ground
truth (synthetic sets) and to score predictions (methods), so the two always agree.

Joints whose name exists in the SMPL-X output ('smplx_127' / 'smplx_144' of ``bench.body.skeletons``) are taken by
name. The few dataset points SMPL-X has no joint for are fixed affine combinations of output joints that move
rigidly with the body part they belong to (hmrbench's convention, written here once):

- 'thorax' (H36M thorax, LSP neck) = SMPL-X 'neck';
- 'h36m_spine' = SMPL-X 'spine2';
- 'h36m_head' = midpoint of SMPL-X 'head' and 'nose';
- 'head_top' = ears midpoint + 1.4 x (ears midpoint - 'head'): the head joint, the ears and therefore this point
  move rigidly with the head; on the embedded model at rest it lies 3 cm from the highest skull vertex;
- 'left_palm' (STB palm centre) = midpoint of 'left_wrist' and 'left_ring1', the exact inverse of the
  ring-MCP palm->wrist convention of Ge et al. / Zimmermann (``datasets.stb.format.palm_to_wrist``);
- 'left_pupil' / 'right_pupil' (OpenPose face 68/69) = SMPL-X's eye vertex joints.

On real Human3.6M these are approximations of the marker-based joints (the usual H36M regressor is fitted to
SMPL, not SMPL-X, and is licensed); on the synthetic sets they are exact by construction.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import torch

from bench.body.skeletons import Skeleton, get_skeleton

__all__ = ["DERIVED", "formed_from", "regressor_matrix", "skeleton_from_smplx"]

DERIVED: dict[str, tuple[tuple[str, float], ...]] = {
    "thorax": (("neck", 1.0),),
    "h36m_spine": (("spine2", 1.0),),
    "h36m_head": (("head", 0.5), ("nose", 0.5)),
    "head_top": (("left_ear", 0.5 * 2.4), ("right_ear", 0.5 * 2.4), ("head", -1.4)),
    "left_palm": (("left_wrist", 0.5), ("left_ring1", 0.5)),
    "left_pupil": (("left_eye", 1.0),),
    "right_pupil": (("right_eye", 1.0),),
}


@cache
def _matrix(src: Skeleton, dst: Skeleton) -> tuple[np.ndarray, np.ndarray]:
    first: dict[str, int] = {}
    for i, name in enumerate(src.joints):
        first.setdefault(name, i)
    W = np.zeros((len(dst), len(src)))
    valid = np.zeros(len(dst), dtype=bool)
    for j, name in enumerate(dst.joints):
        if name in first:
            W[j, first[name]] = 1.0
            valid[j] = True
        elif name in DERIVED and all(n in first for n, _ in DERIVED[name]):
            for n, w in DERIVED[name]:
                W[j, first[n]] += w
            valid[j] = True
    W.setflags(write=False)
    valid.setflags(write=False)
    return W, valid


def regressor_matrix(dst: str | Skeleton, src: str | Skeleton = "smplx_127") -> tuple[np.ndarray, np.ndarray]:
    """(J_dst, J_src) float64 weights and (J_dst,) validity: ``dst = W @ src`` per sample (module docstring)."""
    src = src if isinstance(src, Skeleton) else get_skeleton(src)
    dst = dst if isinstance(dst, Skeleton) else get_skeleton(dst)
    W, valid = _matrix(src, dst)
    return W.copy(), valid.copy()


def formed_from(dst: str | Skeleton, predicted: np.ndarray, src: str | Skeleton = "smplx_144") -> np.ndarray:
    """(J_dst,) bool: the joints of ``dst`` that can be formed from ``src`` when only the ``src`` joints marked in
    ``predicted`` ((J_src,) bool) are known (a joints-only method): valid, and every source joint they weigh is
    known."""
    W, valid = regressor_matrix(dst, src)
    return valid & ~((W != 0) & ~np.asarray(predicted, dtype=bool)).any(1)


def skeleton_from_smplx(joints: Any, dst: str | Skeleton, src: str | Skeleton | None = None) -> tuple[Any, Any]:
    """Joints of skeleton ``dst`` from SMPL-X output joints.

    joints: (..., 127 or 144, 3) numpy array or torch tensor ('smplx_127' / 'smplx_144' told by the length
        unless ``src`` is given). Returns (..., J_dst, 3) of the same type, dtype and device, with zeros where a
        joint cannot be formed, and the (J_dst,) bool validity (numpy or torch like the input).
    """
    if src is None:
        src = {127: "smplx_127", 144: "smplx_144"}.get(int(joints.shape[-2]))
        if src is None:
            raise ValueError(f"joints: expected (..., 127 or 144, 3) SMPL-X output joints, got {tuple(joints.shape)}")
    src_s = src if isinstance(src, Skeleton) else get_skeleton(src)
    if joints.shape[-2] != len(src_s):
        raise ValueError(f"joints for {src_s.name!r}: expected (..., {len(src_s)}, 3), got {tuple(joints.shape)}")
    W, valid = _matrix(src_s, dst if isinstance(dst, Skeleton) else get_skeleton(dst))
    if isinstance(joints, torch.Tensor):
        Wt = torch.tensor(W, dtype=joints.dtype, device=joints.device)
        return torch.matmul(Wt, joints), torch.tensor(valid, device=joints.device)
    joints = np.asarray(joints)
    return np.matmul(W.astype(joints.dtype, copy=False), joints), valid.copy()
