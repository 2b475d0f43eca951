"""Property tests for bench.geometry.projections: D2S vs perspective vs weak perspective, and calibrated cameras."""

import numpy as np
import pytest
import torch

from bench.geometry.projections import (
    d2s_scales,
    distort_normalized,
    pp_to_d2s,
    project_camera,
    project_d2s,
    project_pp,
    project_wpp,
    undistort_normalized,
    world_to_camera,
    wpp_from_d2s,
)
from bench.geometry.rotations import axis_angle_to_matrix

F64 = torch.float64


def random_scene(batch: int, joints: int, seed: int, dtype=F64):
    """Body-centred points (B, J, 3) within 0.9 m, focal (B,), transl (B, 3), d in [2, 10] m, principal."""
    gen = torch.Generator().manual_seed(seed)

    def rand(*shape, lo=0.0, hi=1.0):
        return lo + (hi - lo) * torch.rand(*shape, generator=gen, dtype=F64)

    points = rand(batch, joints, 3, lo=-0.9, hi=0.9)
    focal = rand(batch, lo=500.0, hi=5000.0)
    transl = torch.cat([rand(batch, 2, lo=-1.0, hi=1.0), rand(batch, 1, lo=2.0, hi=10.0)], dim=-1)
    principal = rand(batch, 2, lo=100.0, hi=1000.0)
    return points.to(dtype), focal.to(dtype), transl.to(dtype), principal.to(dtype)


def max_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a - b).norm(dim=-1).max().item()


# --- the paper's three camera models ---------------------------------------------------------------


def test_d2s_from_perspective_equals_perspective_exactly():
    points, focal, transl, principal = random_scene(256, 67, seed=0)
    pp = project_pp(points, focal, transl, principal)
    d2s = project_d2s(points, pp_to_d2s(focal, transl), center=principal)
    # Pixels reach ~1e4, so float64 round-off is ~1e-12 px.
    torch.testing.assert_close(d2s, pp, rtol=1e-14, atol=1e-10)


def test_pp_to_d2s_values():
    focal = torch.tensor([1000.0], dtype=F64)
    transl = torch.tensor([[0.2, -0.4, 4.0]], dtype=F64)
    expected = torch.tensor([[250.0, 50.0, -100.0, 4.0]], dtype=F64)
    torch.testing.assert_close(pp_to_d2s(focal, transl), expected)
    torch.testing.assert_close(pp_to_d2s(focal[:, None], transl), pp_to_d2s(focal, transl))


def test_project_pp_formula_and_anisotropic_focal():
    points = torch.tensor([[[0.1, -0.2, 0.5], [0.0, 0.0, 0.0]]], dtype=F64)
    focal = torch.tensor([[800.0, 900.0]], dtype=F64)
    transl = torch.tensor([[0.3, 0.4, 2.5]], dtype=F64)
    principal = torch.tensor([[320.0, 240.0]], dtype=F64)
    expected = torch.tensor(
        [[[800 * 0.4 / 3.0 + 320, 900 * 0.2 / 3.0 + 240], [800 * 0.3 / 2.5 + 320, 900 * 0.4 / 2.5 + 240]]],
        dtype=F64,
    )
    torch.testing.assert_close(project_pp(points, focal, transl, principal), expected)
    # A 0-d focal is shared by the batch.
    shared = project_pp(points, torch.tensor(800.0, dtype=F64), transl, principal)
    torch.testing.assert_close(shared, project_pp(points, focal[:, :1], transl, principal))


def test_d2s_tends_to_wpp_as_distance_grows():
    points, focal, transl, principal = random_scene(1, 67, seed=1)
    s_t = pp_to_d2s(focal, transl)[..., :3]
    wpp = project_wpp(points, s_t)
    distances = torch.logspace(0.5, 9, 30, dtype=F64)  # from 3.2 m; body depth offsets are below 0.9 m
    errors = [max_error(project_d2s(points, torch.cat([s_t, d.view(1, 1)], -1)), wpp) for d in distances]
    assert all(b < a for a, b in zip(errors, errors[1:], strict=False)), errors
    assert errors[-1] < 1e-5
    torch.testing.assert_close(wpp_from_d2s(torch.cat([s_t, distances[:1].view(1, 1)], -1)), s_t)


def _wpp_vs_pp_error(points, focal, transl, principal) -> float:
    """WPP with s = f/d, t = f t_xy/d (the paper's Eq. 8-9) against the exact perspective projection."""
    wpp = project_wpp(points, wpp_from_d2s(pp_to_d2s(focal, transl)), center=principal)
    return max_error(wpp, project_pp(points, focal, transl, principal))


def test_wpp_error_grows_with_depth_spread_over_distance():
    points, focal, transl, principal = random_scene(1, 67, seed=2)
    unit_depth = points[..., 2:] / points[..., 2].abs().max()  # depth offsets in [-1, 1]

    def with_spread(spread: float) -> torch.Tensor:
        return torch.cat([points[..., :2], spread * unit_depth], dim=-1)

    def at_distance(d: float) -> torch.Tensor:
        return torch.cat([transl[..., :2], torch.full_like(transl[..., 2:], d)], dim=-1)

    # Fixed spread (0.5 m), growing distance: spread/distance shrinks, so the error must shrink.
    distances = np.linspace(1.0, 30.0, 30)
    by_distance = [_wpp_vs_pp_error(with_spread(0.5), focal, at_distance(d), principal) for d in distances]
    assert all(b < a for a, b in zip(by_distance, by_distance[1:], strict=False)), by_distance
    # Fixed distance (3 m), growing spread: the error must grow, from exactly 0 for a flat body.
    spreads = np.linspace(0.0, 1.5, 16)
    by_spread = [_wpp_vs_pp_error(with_spread(s), focal, at_distance(3.0), principal) for s in spreads]
    assert by_spread[0] < 1e-9
    assert all(b > a for a, b in zip(by_spread, by_spread[1:], strict=False)), by_spread


def test_d2s_scales():
    z = torch.tensor([[-1.0, 0.0, 2.0]], dtype=F64)
    d = torch.tensor([4.0], dtype=F64)
    torch.testing.assert_close(d2s_scales(z, d), torch.tensor([[4 / 3, 1.0, 4 / 6]], dtype=F64))


def test_points_behind_camera_are_not_clamped():
    # d + z = -1: the formula is applied as is (mirrored through the principal point); callers mask.
    points = torch.tensor([[[0.5, 0.25, -3.0]]], dtype=F64)
    focal, transl = torch.tensor([100.0], dtype=F64), torch.tensor([[0.0, 0.0, 2.0]], dtype=F64)
    principal = torch.tensor([[10.0, 20.0]], dtype=F64)
    expected = torch.tensor([[[10.0 - 50.0, 20.0 - 25.0]]], dtype=F64)
    torch.testing.assert_close(project_pp(points, focal, transl, principal), expected)
    torch.testing.assert_close(project_d2s(points, pp_to_d2s(focal, transl), center=principal), expected)


# --- calibrated cameras and distortion -------------------------------------------------------------

PANOPTIC_LIKE_DIST = [-0.28, 0.11, 4e-4, -6e-4, -0.02]


def opencv_distort_reference(x: float, y: float, k1, k2, p1, p2, k3) -> tuple[float, float]:
    """OpenCV's documented model (calib3d, 'Detailed Description'), written out in Python floats."""
    r2 = x**2 + y**2
    radial = 1.0 + k1 * r2 + k2 * r2**2 + k3 * r2**3
    return (
        x * radial + 2.0 * p1 * x * y + p2 * (r2 + 2.0 * x**2),
        y * radial + p1 * (r2 + 2.0 * y**2) + 2.0 * p2 * x * y,
    )


def random_normalized_xy(n: int, seed: int, radius: float = 0.6) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return radius * (2 * torch.rand(n, 2, generator=gen, dtype=F64) - 1)


def test_zero_distortion_is_identity():
    xy = random_normalized_xy(100, seed=3)
    zeros = torch.zeros(5, dtype=F64)
    assert torch.equal(distort_normalized(xy, zeros), xy)
    assert torch.equal(undistort_normalized(xy, zeros), xy)


def test_distortion_matches_opencv_formula():
    xy = random_normalized_xy(200, seed=4)
    dist = torch.tensor(PANOPTIC_LIKE_DIST, dtype=F64)
    got = distort_normalized(xy, dist)
    expected = [opencv_distort_reference(x, y, *PANOPTIC_LIKE_DIST) for x, y in xy.tolist()]
    torch.testing.assert_close(got, torch.tensor(expected, dtype=F64), rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-6), (F64, 1e-13)])
def test_distort_undistort_round_trip(dtype, tol):
    xy = random_normalized_xy(500, seed=5).to(dtype)
    dist = torch.tensor(PANOPTIC_LIKE_DIST, dtype=dtype)
    back = undistort_normalized(distort_normalized(xy, dist), dist, iters=30)
    torch.testing.assert_close(back, xy, rtol=0, atol=tol)


def random_camera(seed: int):
    gen = torch.Generator().manual_seed(seed)
    R = axis_angle_to_matrix(0.5 * torch.randn(3, generator=gen, dtype=F64))
    t = torch.tensor([0.1, -0.2, 4.0], dtype=F64)
    K = torch.tensor([[1400.0, 0.5, 960.0], [0.0, 1390.0, 540.0], [0.0, 0.0, 1.0]], dtype=F64)
    points = R.T @ (torch.randn(3, 25, generator=gen, dtype=F64) * 0.5)  # world points near the origin
    return points.T.contiguous(), K, R, t


@pytest.mark.parametrize("with_dist", [False, True])
def test_project_camera_matches_manual_float64(with_dist):
    points, K, R, t = random_camera(seed=6)
    dist = torch.tensor(PANOPTIC_LIKE_DIST, dtype=F64) if with_dist else None
    got = project_camera(points, K, R, t, dist)
    Kn, Rn, tn = K.numpy(), R.numpy(), t.numpy()
    expected = []
    for X in points.numpy():
        cam = Rn @ X + tn
        x, y = cam[0] / cam[2], cam[1] / cam[2]
        if with_dist:
            x, y = opencv_distort_reference(x, y, *PANOPTIC_LIKE_DIST)
        expected.append((Kn @ np.array([x, y, 1.0]))[:2])
    torch.testing.assert_close(got, torch.from_numpy(np.array(expected)), rtol=1e-13, atol=1e-9)


def test_world_to_camera():
    points, _, R, t = random_camera(seed=7)
    torch.testing.assert_close(world_to_camera(points, R, t), (R @ points.T).T + t)


# --- gradients, batching, shapes -------------------------------------------------------------------


def test_gradients_finite_and_correct():
    points, focal, transl, principal = random_scene(2, 5, seed=8)
    cam4 = pp_to_d2s(focal, transl)
    args = [x.clone().requires_grad_() for x in (points, focal, transl, principal, cam4)]
    p, f, tr, c, c4 = args
    assert torch.autograd.gradcheck(lambda p, c4, c: project_wpp(p, c4[..., :3], center=c), (p, c4, c))
    assert torch.autograd.gradcheck(project_pp, (p, f, tr, c))
    assert torch.autograd.gradcheck(lambda p, c4, c: project_d2s(p, c4, center=c), (p, c4, c))
    X, K, R, t = (x.clone().requires_grad_() for x in random_camera(seed=9))
    dist = torch.tensor(PANOPTIC_LIKE_DIST, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(project_camera, (X[:4], K, R, t, dist))

    for dtype in (torch.float32, F64):
        p, f, tr, c = (x.to(dtype).requires_grad_() for x in random_scene(3, 7, seed=10))
        c4 = pp_to_d2s(f, tr)
        total = project_wpp(p, c4[..., :3]).sum() + project_pp(p, f, tr, c).sum() + project_d2s(p, c4).sum()
        total.backward()
        for x in (p, f, tr, c):
            assert x.grad is not None and torch.isfinite(x.grad).all()


def test_leading_batch_dims_match_a_loop():
    points, focal, transl, principal = random_scene(6, 11, seed=11)
    shape = (2, 3)
    P, Fo, T, C = (x.reshape(*shape, *x.shape[1:]) for x in (points, focal, transl, principal))
    cam4 = pp_to_d2s(Fo, T)
    batched = {
        "wpp": project_wpp(P, cam4[..., :3], center=C),
        "pp": project_pp(P, Fo, T, C),
        "d2s": project_d2s(P, cam4, center=C),
    }
    for i in range(shape[0]):
        for j in range(shape[1]):
            one = pp_to_d2s(Fo[i, j], T[i, j])
            torch.testing.assert_close(batched["wpp"][i, j], project_wpp(P[i, j], one[:3], center=C[i, j]))
            torch.testing.assert_close(batched["pp"][i, j], project_pp(P[i, j], Fo[i, j], T[i, j], C[i, j]))
            torch.testing.assert_close(batched["d2s"][i, j], project_d2s(P[i, j], one, center=C[i, j]))

    cams = [random_camera(seed=20 + k) for k in range(4)]
    X, K, R, t = (torch.stack(parts).reshape(2, 2, *parts[0].shape) for parts in zip(*cams, strict=True))
    dist = torch.tensor(PANOPTIC_LIKE_DIST, dtype=F64) * torch.linspace(0.5, 1.0, 4, dtype=F64)[:, None]
    dist = dist.reshape(2, 2, 5)
    batched_cam = project_camera(X, K, R, t, dist)
    for i in range(2):
        for j in range(2):
            one = project_camera(X[i, j], K[i, j], R[i, j], t[i, j], dist[i, j])
            torch.testing.assert_close(batched_cam[i, j], one)


def test_dtype_is_kept():
    points, focal, transl, principal = (x.float() for x in random_scene(2, 3, seed=12))
    assert project_pp(points, focal, transl, principal).dtype == torch.float32
    assert project_d2s(points, pp_to_d2s(focal, transl)).dtype == torch.float32


PTS, MAT = (4, 17, 3), (4, 3, 3)


def _project_wpp_with_center(points, cam, center):
    return project_wpp(points, cam, center=center)


@pytest.mark.parametrize(
    "fn, shapes, message",
    [
        (project_wpp, [(4, 17, 2), (4, 3)], "points: expected (..., J, 3), got (4, 17, 2)"),
        (project_wpp, [(4, 17, 3), (4, 4)], "cam: expected (..., 3), got (4, 4)"),
        (_project_wpp_with_center, [(4, 17, 3), (4, 3), (4, 3)], "center: expected (..., 2), got (4, 3)"),
        (project_d2s, [(4, 17, 3), (4, 3)], "cam: expected (..., 4), got (4, 3)"),
        (project_pp, [(4, 17, 3), (4,), (4, 4), (4, 2)], "transl: expected (..., 3), got (4, 4)"),
        (project_pp, [(4, 17, 3), (4, 3), (4, 3), (4, 2)], "focal: expected (...,), (..., 1) or (..., 2)"),
        (project_pp, [(4, 17, 3), (4,), (4, 3), (4, 3)], "principal: expected (..., 2), got (4, 3)"),
        (pp_to_d2s, [(4, 2), (4, 3)], "focal: expected (...,) or (..., 1)"),
        (wpp_from_d2s, [(4, 3)], "cam: expected (..., 4), got (4, 3)"),
        (d2s_scales, [(4, 4), (4, 4)], "d: expected (...,) with fewer dims than z (4, 4), got (4, 4)"),
        (world_to_camera, [(4, 17, 3), (4, 3), (4, 3)], "R: expected (..., 3, 3), got (4, 3)"),
        (world_to_camera, [(4, 17, 3), (4, 3, 3), (4, 2)], "t: expected (..., 3), got (4, 2)"),
        (distort_normalized, [(4, 17, 3), (4, 5)], "xy: expected (..., 2), got (4, 17, 3)"),
        (distort_normalized, [(4, 2), (4, 4)], "dist: expected (..., 5), got (4, 4)"),
        (undistort_normalized, [(4, 2), (4, 4)], "dist: expected (..., 5), got (4, 4)"),
        (project_camera, [PTS, (4, 2, 3), MAT, (4, 3)], "K: expected (..., 3, 3), got (4, 2, 3)"),
        (project_camera, [PTS, MAT, MAT, (4, 3), (4, 4)], "dist: expected (..., 5), got (4, 4)"),
    ],
)
def test_bad_shapes_raise(fn, shapes, message):
    with pytest.raises(ValueError) as err:
        fn(*(torch.ones(shape) for shape in shapes))
    assert str(err.value).startswith(message), str(err.value)
