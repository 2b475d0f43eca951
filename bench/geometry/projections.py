"""Camera models of the paper (Sun et al., Sec. III-B and III-E) and of real calibrated cameras.

Conventions (declared once, here):

- Camera frame = OpenCV: x right, y down, z forward. 3D points and translations share one length unit
  (metres inside hmrbench); the formulas are unit-agnostic as long as they agree.
- Image coordinates are pixels, origin at the top-left pixel's centre, u right, v down.
- Body-centred models (WPP, PP, D2S) take points relative to the body centre, whose camera-frame position is
  ``(t_x, t_y, d)``; ``z_i`` is the point's depth offset from the centre.
- Camera vectors: WPP ``cam = [s, t_u, t_v]`` (s in pixels per unit length, t in pixels); D2S
  ``cam = [s, t_u, t_v, d]`` (d in length units).
- Points at or behind the camera (``d + z_i <= 0``, or camera-frame ``z <= 0``) are NOT clamped or masked:
  the same formula is applied, giving mirrored pixels for negative depth and inf/nan at zero depth. Callers
  that may see such points mask them (e.g. ``transl[..., None, 2] + points[..., 2] > 0``).

All functions take any leading batch dims (broadcast between arguments), keep the dtype and device of their
inputs, are differentiable, and raise ``ValueError`` naming the expected shape when trailing dims are wrong.
"""

import torch

from bench.shapes import check_trailing as _check_trailing

__all__ = [
    "d2s_scales",
    "distort_normalized",
    "pp_to_d2s",
    "project_camera",
    "project_d2s",
    "project_pp",
    "project_wpp",
    "undistort_normalized",
    "world_to_camera",
    "wpp_from_d2s",
]


def _add_center(uv: torch.Tensor, center: torch.Tensor | None) -> torch.Tensor:
    if center is None:
        return uv
    _check_trailing("center", center, 2)
    return uv + center[..., None, :]


def _focal_xy(focal: torch.Tensor, transl: torch.Tensor, *, allow_xy: bool) -> torch.Tensor:
    """Focal as (..., 1) or (..., 2); the form is told apart by comparing its rank with ``transl``'s."""
    if not isinstance(focal, torch.Tensor):
        raise TypeError(f"focal: expected a torch.Tensor, got {type(focal).__name__}")
    if focal.dim() == 0 or focal.dim() == transl.dim() - 1:
        return focal[..., None]
    sizes = (1, 2) if allow_xy else (1,)
    if focal.dim() == transl.dim() and focal.shape[-1] in sizes:
        return focal
    forms = "(...,), (..., 1) or (..., 2)" if allow_xy else "(...,) or (..., 1)"
    raise ValueError(
        f"focal: expected {forms} with the leading dims of transl {tuple(transl.shape)}, "
        f"got {tuple(focal.shape)}"
    )


def project_wpp(
    points: torch.Tensor, cam: torch.Tensor, *, center: torch.Tensor | None = None
) -> torch.Tensor:
    """Weak-perspective projection, Eq. 6-7: ``u = s x + t_u (+ c_x)``, ``v = s y + t_v (+ c_y)``.

    points: (..., J, 3), body-centred camera frame, metres.
    cam: (..., 3), ``[s, t_u, t_v]``, s in pixels per metre, t in pixels.
    center: (..., 2) or None, pixels, added last (e.g. the principal point or the crop centre).
    Returns (..., J, 2), pixels.
    """
    _check_trailing("points", points, "J", 3)
    _check_trailing("cam", cam, 3)
    cam = cam[..., None, :]
    uv = cam[..., :1] * points[..., :2] + cam[..., 1:]
    return _add_center(uv, center)


def project_pp(
    points: torch.Tensor, focal: torch.Tensor, transl: torch.Tensor, principal: torch.Tensor
) -> torch.Tensor:
    """Perspective projection of a body-centred point set, Eq. 3-4: ``u = f_x (x + t_x) / (d + z) + c_x``.

    points: (..., J, 3), body-centred camera frame, metres.
    focal: (...,), (..., 1) or (..., 2) ``[f_x, f_y]``, pixels; the (...,) form is recognised by having one
        dim fewer than ``transl`` (a 0-d tensor is one focal shared by the batch).
    transl: (..., 3), ``[t_x, t_y, d]``, camera-frame position of the body centre, metres.
    principal: (..., 2), ``[c_x, c_y]``, pixels.
    Returns (..., J, 2), pixels. ``d + z <= 0`` is not clamped (see module docstring).
    """
    _check_trailing("points", points, "J", 3)
    _check_trailing("transl", transl, 3)
    _check_trailing("principal", principal, 2)
    f = _focal_xy(focal, transl, allow_xy=True)[..., None, :]
    t = transl[..., None, :]
    depth = t[..., 2:] + points[..., 2:]
    return f * (points[..., :2] + t[..., :2]) / depth + principal[..., None, :]


def d2s_scales(z: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """Per-joint D2S scale factors, Eq. 13: ``s_i = d / (d + z_i)``.

    z: (..., J), depth offsets from the body centre, metres.
    d: (...,), distance of the body centre from the camera, metres; fewer dims than z (broadcasts).
    Returns (..., J), unitless. ``d + z <= 0`` is not clamped (see module docstring).
    """
    _check_trailing("z", z, "J")
    if not isinstance(d, torch.Tensor):
        raise TypeError(f"d: expected a torch.Tensor, got {type(d).__name__}")
    if d.dim() >= z.dim():
        raise ValueError(f"d: expected (...,) with fewer dims than z {tuple(z.shape)}, got {tuple(d.shape)}")
    d = d[..., None]
    return d / (d + z)


def project_d2s(
    points: torch.Tensor, cam: torch.Tensor, *, center: torch.Tensor | None = None
) -> torch.Tensor:
    """Depth-to-scale projection, Eq. 12-13: ``u_i = s_i (s x_i + t_u) (+ c_x)``, ``s_i = d / (d + z_i)``.

    points: (..., J, 3), body-centred camera frame, metres.
    cam: (..., 4), ``[s, t_u, t_v, d]``, s in pixels per metre, t in pixels, d in metres.
    center: (..., 2) or None, pixels, added after the per-joint scaling (the principal point makes this
        equal to :func:`project_pp` for ``cam = pp_to_d2s(focal, transl)``).
    Returns (..., J, 2), pixels. Tends to :func:`project_wpp` with ``cam[..., :3]`` as d grows.
    """
    _check_trailing("points", points, "J", 3)
    _check_trailing("cam", cam, 4)
    scales = d2s_scales(points[..., 2], cam[..., 3])
    c = cam[..., None, :]
    uv = scales[..., None] * (c[..., :1] * points[..., :2] + c[..., 1:3])
    return _add_center(uv, center)


def pp_to_d2s(focal: torch.Tensor, transl: torch.Tensor) -> torch.Tensor:
    """D2S camera equal to a perspective one (Eq. 8-9): ``s = f/d``, ``t_u = f t_x/d``, ``t_v = f t_y/d``.

    focal: (...,) or (..., 1), pixels, told apart as in :func:`project_pp`; D2S has one scale, so an
        anisotropic ``[f_x, f_y]`` has no exact D2S equivalent and is refused.
    transl: (..., 3), ``[t_x, t_y, d]``, metres.
    Returns cam: (..., 4), ``[s, t_u, t_v, d]``; use the principal point as ``center``.
    """
    _check_trailing("transl", transl, 3)
    f = _focal_xy(focal, transl, allow_xy=False)
    d = transl[..., 2:]
    s = f / d
    return torch.cat([s, s * transl[..., :2], d], dim=-1)


def wpp_from_d2s(cam: torch.Tensor) -> torch.Tensor:
    """Drop d: the d -> inf limit of D2S.

    cam: (..., 4), D2S ``[s, t_u, t_v, d]``. Returns (..., 3), WPP ``[s, t_u, t_v]``.
    """
    _check_trailing("cam", cam, 4)
    return cam[..., :3]


def world_to_camera(points: torch.Tensor, R: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Rigid transform ``x = R X + t``.

    points: (..., J, 3), world frame, any length unit.
    R: (..., 3, 3), world -> camera rotation.
    t: (..., 3), world -> camera translation, same unit as points.
    Returns (..., J, 3), camera frame, same unit.
    """
    _check_trailing("points", points, "J", 3)
    _check_trailing("R", R, 3, 3)
    _check_trailing("t", t, 3)
    return points @ R.transpose(-1, -2) + t[..., None, :]


def distort_normalized(xy: torch.Tensor, dist: torch.Tensor) -> torch.Tensor:
    """OpenCV lens distortion of normalised image coordinates (``x/z``, ``y/z``).

    xy: (..., 2), undistorted normalised coordinates, unitless.
    dist: (..., 5), ``[k1, k2, p1, p2, k3]``; its leading dims broadcast against xy's, so pass
        ``dist[..., None, :]`` for per-camera coefficients on (..., J, 2) points.
    Returns (..., 2), distorted normalised coordinates::

        r2 = x^2 + y^2,  radial = 1 + k1 r2 + k2 r2^2 + k3 r2^3
        x' = x radial + 2 p1 x y + p2 (r2 + 2 x^2)
        y' = y radial + p1 (r2 + 2 y^2) + 2 p2 x y

    The tangential terms use the undistorted x, y (OpenCV; Panoptic's ``panutils`` differs in y).
    """
    _check_trailing("xy", xy, 2)
    _check_trailing("dist", dist, 5)
    x, y = xy[..., 0], xy[..., 1]
    k1, k2, p1, p2, k3 = dist.unbind(-1)
    r2 = x * x + y * y
    radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
    xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    return torch.stack([xd, yd], dim=-1)


def undistort_normalized(xy: torch.Tensor, dist: torch.Tensor, *, iters: int = 20) -> torch.Tensor:
    """Inverse of :func:`distort_normalized` by fixed-point iteration (as OpenCV's ``undistortPoints``).

    xy: (..., 2), distorted normalised coordinates, unitless.
    dist: (..., 5), ``[k1, k2, p1, p2, k3]``, broadcast as in :func:`distort_normalized`.
    iters: number of iterations; each solves ``x = (x_d - tangential(x)) / radial(x)`` once. Converges for
        the mild distortion of real lenses inside the image; strong distortion far off-axis may need more.
    Returns (..., 2), undistorted normalised coordinates.
    """
    _check_trailing("xy", xy, 2)
    _check_trailing("dist", dist, 5)
    if iters < 0:
        raise ValueError(f"iters: expected >= 0, got {iters}")
    k1, k2, p1, p2, k3 = dist.unbind(-1)
    xd, yd = xy[..., 0], xy[..., 1]
    x, y = xd, yd
    for _ in range(iters):
        r2 = x * x + y * y
        radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
        dx = 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
        dy = p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
        x, y = (xd - dx) / radial, (yd - dy) / radial
    return torch.stack([x, y], dim=-1)


def project_camera(
    points_world: torch.Tensor,
    K: torch.Tensor,
    R: torch.Tensor,
    t: torch.Tensor,
    dist: torch.Tensor | None = None,
) -> torch.Tensor:
    """Projection through a real calibrated camera: ``x = R X + t``, divide by z, distort (OpenCV), apply K.

    points_world: (..., J, 3), world frame, same length unit as t.
    K: (..., 3, 3), intrinsics in pixels; its last row is taken to be (0, 0, 1) (skew K01 is honoured).
    R: (..., 3, 3), world -> camera rotation.
    t: (..., 3), world -> camera translation.
    dist: (..., 5) ``[k1, k2, p1, p2, k3]`` or None for no distortion.
    Returns (..., J, 2), pixels. Camera-frame ``z <= 0`` is not clamped (see module docstring).
    """
    _check_trailing("K", K, 3, 3)
    x = world_to_camera(points_world, R, t)
    xy = x[..., :2] / x[..., 2:]
    if dist is not None:
        _check_trailing("dist", dist, 5)
        xy = distort_normalized(xy, dist[..., None, :])
    return xy @ K[..., :2, :2].transpose(-1, -2) + K[..., None, :2, 2]
