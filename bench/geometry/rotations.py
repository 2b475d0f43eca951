"""Rotation conversions: axis-angle, rotation matrix and 6D, as pure torch functions.

Conventions (declared once, here):

- Rotation matrices act on column vectors, ``x' = R x``; shape ``(..., 3, 3)``.
- Axis-angle (rotation vector) is ``angle * unit_axis``, radians, shape ``(..., 3)``; angles returned by
  :func:`matrix_to_axis_angle` lie in ``[0, pi]``.
- 6D layout (SPIN / HMR): the first two *columns* of ``R``, flattened row-major from the 3x2 matrix
  ``[c1 c2]``, i.e. ``(R00, R01, R10, R11, R20, R21)``; ``x.view(..., 3, 2)`` gives back ``[c1 c2]``.
  This is not pytorch3d's layout (first two rows).

Every function takes any leading batch dims, keeps the dtype and device of its input, is differentiable, and
raises ``ValueError`` naming the expected shape when the trailing dims are wrong.
"""

import torch
import torch.nn.functional as F

from bench.shapes import check_trailing as _check_trailing

__all__ = [
    "axis_angle_to_matrix",
    "matrix_to_axis_angle",
    "matrix_to_rot6d",
    "mirror_axis_angle",
    "rot6d_to_matrix",
]


def _small_angle_threshold(dtype: torch.dtype) -> float:
    # Below this squared angle a 3-term Taylor series is exact to round-off (error ~ theta^6 / 5040).
    return torch.finfo(dtype).eps ** 0.5


def _skew(v: torch.Tensor) -> torch.Tensor:
    """Cross-product matrix: ``v: (..., 3) -> (..., 3, 3)`` with ``_skew(v) @ w == v x w``."""
    x, y, z = v.unbind(-1)
    o = torch.zeros_like(x)
    return torch.stack([o, -z, y, z, o, -x, -y, x, o], dim=-1).unflatten(-1, (3, 3))


def axis_angle_to_matrix(aa: torch.Tensor) -> torch.Tensor:
    """Rodrigues' formula.

    aa: (..., 3), axis-angle, radians.
    Returns R: (..., 3, 3), rotation matrices.

    ``R = I + A K + B K^2`` with ``K = skew(aa)``, ``A = sin(t)/t``, ``B = (1 - cos t)/t^2``; ``B`` is
    computed as ``sinc(t/2)^2 / 2`` (no cancellation) and both use a Taylor series near ``t = 0``, so values
    and gradients are finite and accurate there.
    """
    _check_trailing("aa", aa, 3)
    theta2 = (aa * aa).sum(-1)
    small = theta2 < _small_angle_threshold(aa.dtype)
    # Evaluate both branches on safe inputs so that neither produces NaN gradients through torch.where.
    theta = torch.where(small, torch.ones_like(theta2), theta2).sqrt()
    half = 0.5 * theta
    a_big = torch.sin(theta) / theta
    b_big = 0.5 * (torch.sin(half) / half) ** 2
    t2 = torch.where(small, theta2, torch.zeros_like(theta2))
    a_small = 1.0 - t2 / 6.0 + t2 * t2 / 120.0
    b_small = 0.5 - t2 / 24.0 + t2 * t2 / 720.0
    a = torch.where(small, a_small, a_big)[..., None, None]
    b = torch.where(small, b_small, b_big)[..., None, None]
    k = _skew(aa)
    eye = torch.eye(3, dtype=aa.dtype, device=aa.device)
    return eye + a * k + b * (k @ k)


def _matrix_to_quaternion_wxyz(R: torch.Tensor) -> torch.Tensor:
    """Shepperd's method: ``R: (..., 3, 3) -> q: (..., 4)``, unit quaternion, WXYZ, ``w >= 0``."""
    r00, r01, r02 = R[..., 0, 0], R[..., 0, 1], R[..., 0, 2]
    r10, r11, r12 = R[..., 1, 0], R[..., 1, 1], R[..., 1, 2]
    r20, r21, r22 = R[..., 2, 0], R[..., 2, 1], R[..., 2, 2]
    # 4 q_k^2 for k = w, x, y, z; the largest is >= 1, so dividing by it is well conditioned.
    four_sq = torch.stack(
        [1 + r00 + r11 + r22, 1 + r00 - r11 - r22, 1 - r00 + r11 - r22, 1 - r00 - r11 + r22], dim=-1
    )
    s_x, s_y, s_z = r21 - r12, r02 - r20, r10 - r01  # antisymmetric parts: 4 w (x, y, z)
    p_xy, p_xz, p_yz = r01 + r10, r02 + r20, r12 + r21  # symmetric parts: 4 (xy, xz, yz)
    # Candidate k holds 4 q_k * q, computed from row k of the outer product 4 q q^T.
    cand = torch.stack(
        [
            torch.stack([four_sq[..., 0], s_x, s_y, s_z], -1),
            torch.stack([s_x, four_sq[..., 1], p_xy, p_xz], -1),
            torch.stack([s_y, p_xy, four_sq[..., 2], p_yz], -1),
            torch.stack([s_z, p_xz, p_yz, four_sq[..., 3]], -1),
        ],
        dim=-2,
    )
    # Clamp keeps the unused candidates finite (and their zero gradients NaN-free).
    denom = 2.0 * four_sq.clamp(min=0.1).sqrt()
    cand = cand / denom[..., None]
    # the largest candidate as a 0/1 mask (F.one_hot would check its input's range on the host: a device sync)
    best = (four_sq.argmax(-1, keepdim=True) == torch.arange(4, device=R.device)).to(R.dtype)
    q = (best[..., None] * cand).sum(-2)
    q = F.normalize(q, dim=-1)
    return torch.where(q[..., :1] < 0, -q, q)


def matrix_to_axis_angle(R: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`axis_angle_to_matrix`.

    R: (..., 3, 3), rotation matrices.
    Returns aa: (..., 3), axis-angle, radians, angle in [0, pi].

    Goes through a unit quaternion (Shepperd's method, stable near 0 and near pi) and
    ``angle = 2 atan2(|v|, w)``; at exactly pi the sign of the axis is arbitrary.
    """
    _check_trailing("R", R, 3, 3)
    q = _matrix_to_quaternion_wxyz(R)
    w, v = q[..., 0], q[..., 1:]
    n2 = (v * v).sum(-1)
    small = n2 < _small_angle_threshold(R.dtype)
    n = torch.where(small, torch.ones_like(n2), n2).sqrt()
    factor_big = 2.0 * torch.atan2(n, w) / n
    # atan2(n, w) / n = atan(u) / (u w) with u = n / w, and w ~ 1 when n is small.
    u2 = torch.where(small, n2, torch.zeros_like(n2)) / (w * w)
    factor_small = 2.0 / w * (1.0 - u2 / 3.0 + u2 * u2 / 5.0)
    return v * torch.where(small, factor_small, factor_big)[..., None]


def rot6d_to_matrix(x: torch.Tensor) -> torch.Tensor:
    """Gram-Schmidt on the two columns of the 6D layout (see module docstring).

    x: (..., 6), 6D rotation, layout (R00, R01, R10, R11, R20, R21); need not be orthonormal.
    Returns R: (..., 3, 3), rotation matrices (det +1) whose first column is ``x.view(..., 3, 2)[..., 0]``
    normalised.
    """
    _check_trailing("x", x, 6)
    cols = x.unflatten(-1, (3, 2))
    a1, a2 = cols[..., 0], cols[..., 1]
    b1 = F.normalize(a1, dim=-1)
    b2 = F.normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1, dim=-1)
    b3 = torch.linalg.cross(b1, b2, dim=-1)
    return torch.stack([b1, b2, b3], dim=-1)


def matrix_to_rot6d(R: torch.Tensor) -> torch.Tensor:
    """R: (..., 3, 3), rotation matrices. Returns x: (..., 6), layout (R00, R01, R10, R11, R20, R21)."""
    _check_trailing("R", R, 3, 3)
    return R[..., :, :2].flatten(-2)


def mirror_axis_angle(aa: torch.Tensor) -> torch.Tensor:
    """Left/right mirror of a rotation about the sagittal plane x = 0 of the SMPL-X body frame.

    aa: (..., 3), axis-angle, radians, SMPL-X body frame.
    Returns (..., 3): ``(ax, -ay, -az)``, the axis-angle of ``M R M`` with ``M = diag(-1, 1, 1)``.
    Swapping the left and right joints is the caller's job.
    """
    _check_trailing("aa", aa, 3)
    return aa * aa.new_tensor([1.0, -1.0, -1.0])
