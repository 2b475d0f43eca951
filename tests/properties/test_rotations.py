"""Property tests for bench.geometry.rotations against scipy's float64 Rotation as the slow reference."""

import math

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from bench.geometry.rotations import (
    axis_angle_to_matrix,
    matrix_to_axis_angle,
    matrix_to_rot6d,
    mirror_axis_angle,
    rot6d_to_matrix,
)

DTYPES = [torch.float32, torch.float64]
TOL = {torch.float32: dict(rtol=1e-5, atol=2e-5), torch.float64: dict(rtol=1e-12, atol=1e-12)}


def random_axis_angle(n: int, seed: int, lo: float = 1e-3, hi: float = math.pi - 1e-3) -> np.ndarray:
    """(n, 3) float64 rotation vectors with uniform random axes and angles in [lo, hi]."""
    rng = np.random.default_rng(seed)
    axis = rng.normal(size=(n, 3))
    axis /= np.linalg.norm(axis, axis=1, keepdims=True)
    return axis * rng.uniform(lo, hi, size=(n, 1))


def assert_rotation(R: torch.Tensor, tol: float) -> None:
    eye = torch.eye(3, dtype=R.dtype).expand_as(R)
    torch.testing.assert_close(R @ R.transpose(-1, -2), eye, rtol=0, atol=tol)
    dets = torch.linalg.det(R)
    torch.testing.assert_close(dets, torch.ones_like(dets), rtol=0, atol=tol)


@pytest.mark.parametrize("dtype", DTYPES)
def test_axis_angle_to_matrix_matches_scipy(dtype):
    aa = random_axis_angle(500, seed=0)
    expected = torch.from_numpy(Rotation.from_rotvec(aa).as_matrix()).to(dtype)
    R = axis_angle_to_matrix(torch.from_numpy(aa).to(dtype))
    assert R.dtype == dtype
    torch.testing.assert_close(R, expected, **TOL[dtype])
    assert_rotation(R, tol=10 * torch.finfo(dtype).eps)


@pytest.mark.parametrize("dtype", DTYPES)
def test_matrix_to_axis_angle_matches_scipy(dtype):
    R = Rotation.random(500, random_state=1)
    expected = torch.from_numpy(R.as_rotvec()).to(dtype)
    aa = matrix_to_axis_angle(torch.from_numpy(R.as_matrix()).to(dtype))
    assert aa.dtype == dtype
    torch.testing.assert_close(aa, expected, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_axis_angle_round_trip(dtype):
    aa = torch.from_numpy(random_axis_angle(1000, seed=2)).to(dtype)
    back = matrix_to_axis_angle(axis_angle_to_matrix(aa))
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == torch.float32 else TOL[dtype]
    torch.testing.assert_close(back, aa, **tol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("angle", [0.0, 1e-12, 1e-8, 1e-5, 1e-3, math.pi - 1e-2, math.pi - 1e-5])
def test_axis_angle_round_trip_near_zero_and_pi(dtype, angle):
    axis = np.array([[0.48, -0.6, 0.64]])  # unit norm
    aa64 = axis * angle
    R = axis_angle_to_matrix(torch.from_numpy(aa64).to(dtype))
    expected = torch.from_numpy(Rotation.from_rotvec(aa64).as_matrix()).to(dtype)
    torch.testing.assert_close(R, expected, **TOL[dtype])
    back = matrix_to_axis_angle(R)
    assert torch.isfinite(back).all()
    # Near pi the angle is ill-conditioned in float32 (cos(theta/2) ~ 1e-5 against eps 1e-7).
    tol = dict(rtol=1e-3, atol=1e-3) if dtype == torch.float32 else dict(rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(back.double(), torch.from_numpy(aa64), **tol)


def test_matrix_to_axis_angle_at_pi_gives_angle_pi():
    for axis in np.eye(3):
        R = torch.from_numpy(Rotation.from_rotvec(axis * math.pi).as_matrix())
        aa = matrix_to_axis_angle(R)
        assert abs(aa.norm().item() - math.pi) < 1e-12
        torch.testing.assert_close(axis_angle_to_matrix(aa), R, rtol=0, atol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_rot6d_round_trip(dtype):
    R = torch.from_numpy(Rotation.random(500, random_state=3).as_matrix()).to(dtype)
    x = matrix_to_rot6d(R)
    assert x.shape == (500, 6)
    torch.testing.assert_close(rot6d_to_matrix(x), R, **TOL[dtype])


def test_rot6d_layout_is_first_two_columns_row_major():
    R = torch.arange(9, dtype=torch.float64).reshape(3, 3)
    # (R00, R01, R10, R11, R20, R21)
    assert matrix_to_rot6d(R).tolist() == [0.0, 1.0, 3.0, 4.0, 6.0, 7.0]
    torch.testing.assert_close(matrix_to_rot6d(R).view(3, 2), R[:, :2])


@pytest.mark.parametrize("dtype", DTYPES)
def test_rot6d_to_matrix_orthonormalises_arbitrary_input(dtype):
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(200, 6, generator=gen, dtype=torch.float64).to(dtype)
    R = rot6d_to_matrix(x)
    # Nearly parallel columns cost Gram-Schmidt a few bits.
    assert_rotation(R, tol=100 * torch.finfo(dtype).eps)
    # Gram-Schmidt keeps the direction of the first column.
    first = x.view(-1, 3, 2)[..., 0]
    torch.testing.assert_close(R[..., 0], first / first.norm(dim=-1, keepdim=True), **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_outputs_are_rotations(dtype):
    aa = torch.from_numpy(random_axis_angle(300, seed=5, lo=0.0, hi=3 * math.pi)).to(dtype)
    assert_rotation(axis_angle_to_matrix(aa), tol=20 * torch.finfo(dtype).eps)


def test_finite_gradients_at_zero_angle():
    aa = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    jac = torch.autograd.functional.jacobian(axis_angle_to_matrix, aa)
    assert torch.isfinite(jac).all()
    # dR/d(aa_k) at 0 is the generator skew(e_k).
    generators = torch.tensor(
        [
            [[0, 0, 0], [0, 0, -1], [0, 1, 0]],
            [[0, 0, 1], [0, 0, 0], [-1, 0, 0]],
            [[0, -1, 0], [1, 0, 0], [0, 0, 0]],
        ],
        dtype=torch.float64,
    )
    torch.testing.assert_close(jac.permute(2, 0, 1), generators)

    R = torch.eye(3, dtype=torch.float64, requires_grad=True)
    matrix_to_axis_angle(R).sum().backward()
    assert torch.isfinite(R.grad).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_finite_gradients_float32_and_float64(dtype):
    aa = torch.tensor([[0.0, 0.0, 0.0], [1e-9, 0.0, 0.0], [0.3, -0.2, 0.1]], dtype=dtype, requires_grad=True)
    R = axis_angle_to_matrix(aa)
    back = matrix_to_axis_angle(R)
    (R.sum() + back.sum() + rot6d_to_matrix(matrix_to_rot6d(R)).sum()).backward()
    assert torch.isfinite(aa.grad).all()


def test_gradcheck_float64():
    gen = torch.Generator().manual_seed(6)
    aa = torch.randn(4, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(axis_angle_to_matrix, (aa,))
    tiny = (1e-6 * torch.randn(4, 3, generator=gen, dtype=torch.float64)).requires_grad_()
    assert torch.autograd.gradcheck(axis_angle_to_matrix, (tiny,))
    R = axis_angle_to_matrix(aa.detach()).requires_grad_()
    # Perturbations leave SO(3), so compare through the orthonormalising 6D map.
    assert torch.autograd.gradcheck(lambda m: matrix_to_axis_angle(rot6d_to_matrix(matrix_to_rot6d(m))), (R,))
    x = torch.randn(4, 6, generator=gen, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(rot6d_to_matrix, (x,))


def test_mirror_axis_angle_is_reflection_conjugate():
    aa = torch.from_numpy(random_axis_angle(100, seed=7))
    M = torch.diag(torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64))
    torch.testing.assert_close(axis_angle_to_matrix(mirror_axis_angle(aa)), M @ axis_angle_to_matrix(aa) @ M)
    torch.testing.assert_close(mirror_axis_angle(mirror_axis_angle(aa)), aa)


def test_leading_batch_dims():
    aa = torch.from_numpy(random_axis_angle(24, seed=8)).reshape(2, 3, 4, 3)
    R = axis_angle_to_matrix(aa)
    assert R.shape == (2, 3, 4, 3, 3)
    torch.testing.assert_close(R.reshape(-1, 3, 3), axis_angle_to_matrix(aa.reshape(-1, 3)))
    assert matrix_to_axis_angle(R).shape == (2, 3, 4, 3)
    assert matrix_to_rot6d(R).shape == (2, 3, 4, 6)
    assert rot6d_to_matrix(matrix_to_rot6d(R)).shape == (2, 3, 4, 3, 3)
    assert axis_angle_to_matrix(aa[0, 0, 0]).shape == (3, 3)


@pytest.mark.parametrize(
    "fn, shape, message",
    [
        (axis_angle_to_matrix, (4, 2), "aa: expected (..., 3), got (4, 2)"),
        (axis_angle_to_matrix, (), "aa: expected (..., 3), got ()"),
        (matrix_to_axis_angle, (4, 3, 2), "R: expected (..., 3, 3), got (4, 3, 2)"),
        (matrix_to_axis_angle, (3,), "R: expected (..., 3, 3), got (3,)"),
        (rot6d_to_matrix, (4, 9), "x: expected (..., 6), got (4, 9)"),
        (matrix_to_rot6d, (4, 9), "R: expected (..., 3, 3), got (4, 9)"),
        (mirror_axis_angle, (4, 4), "aa: expected (..., 3), got (4, 4)"),
    ],
)
def test_bad_shapes_raise(fn, shape, message):
    with pytest.raises(ValueError) as err:
        fn(torch.zeros(shape))
    assert str(err.value) == message
