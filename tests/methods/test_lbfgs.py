"""Batched L-BFGS (methods/lbfgs.py): every row is its own problem (own history, step and stop)."""

from __future__ import annotations

import math

import torch

from methods.lbfgs import minimize


def _rosenbrock(scale: torch.Tensor):
    """Row-wise scaled Rosenbrock in 4-D: sum_i s (x_{i+1} - x_i^2)^2 + (1 - x_i)^2, minimum at ones."""

    def fun(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        s = scale[idx]
        return (s[:, None] * (x[:, 1:] - x[:, :-1] ** 2) ** 2 + (1 - x[:, :-1]) ** 2).sum(1)

    return fun


def test_each_row_reaches_its_minimum():
    torch.manual_seed(0)
    scale = torch.tensor([1.0, 10.0, 100.0, 3.0], dtype=torch.float64)
    x0 = torch.randn(4, 4, dtype=torch.float64) * 0.5 - 1.0
    result = minimize(_rosenbrock(scale), x0, max_iter=500, gtol=1e-10, ftol=0.0)
    torch.testing.assert_close(result.x, torch.ones_like(x0), atol=1e-5, rtol=0)
    assert not result.failed.any() and (result.f < 1e-10).all()
    assert (result.evaluations >= result.iterations).all() and (result.iterations > 0).all()


def test_a_row_does_not_depend_on_its_batch_mates():
    torch.manual_seed(1)
    scale = torch.tensor([100.0, 1.0, 30.0], dtype=torch.float64)
    x0 = torch.randn(3, 4, dtype=torch.float64) - 1.0
    batch = minimize(_rosenbrock(scale), x0, max_iter=40, ftol=0.0)
    for i in range(3):
        alone = minimize(_rosenbrock(scale[i : i + 1]), x0[i : i + 1], max_iter=40, ftol=0.0)
        torch.testing.assert_close(batch.x[i], alone.x[0], atol=1e-9, rtol=0)
        assert batch.iterations[i] == alone.iterations[0] and batch.evaluations[i] == alone.evaluations[0]


def test_converged_rows_stop_early_and_drop_out():
    x0 = torch.tensor([[1.0, 1.0, 1.0, 1.0], [-1.2, 1.0, -1.2, 1.0]], dtype=torch.float64)  # row 0 at the minimum
    calls = []

    def fun(x, idx):
        calls.append(len(idx))
        return _rosenbrock(torch.tensor([100.0, 100.0], dtype=torch.float64))(x, idx)

    result = minimize(fun, x0, max_iter=200, gtol=1e-8)
    assert result.iterations[0] == 0 and result.iterations[1] > 20
    assert calls[0] == 2 and calls[-1] == 1  # row 0 left the evaluations


def test_non_finite_start_fails_that_row_only_and_frozen_rows_are_untouched():
    scale = torch.ones(3, dtype=torch.float64)
    x0 = torch.tensor([[0.0] * 4, [math.nan] * 4, [2.0] * 4], dtype=torch.float64)
    frozen = torch.tensor([False, False, True])
    result = minimize(_rosenbrock(scale), x0, max_iter=300, frozen=frozen)
    assert result.failed.tolist() == [False, True, False]
    assert torch.isnan(result.f[1]) and torch.isnan(result.x[1]).all()  # never moved
    torch.testing.assert_close(result.x[2], x0[2])
    assert result.evaluations[2] == 0 and result.iterations[2] == 0
    torch.testing.assert_close(result.x[0], torch.ones(4, dtype=torch.float64), atol=1e-4, rtol=0)


def test_line_search_backs_off_from_non_finite_trials():
    """log-barrier: f = x - log(x), minimum at 1, undefined for x <= 0; a long first step lands at x < 0."""

    def fun(x, idx):
        return (x - torch.log(x)).sum(1)

    x0 = torch.tensor([[0.05], [8.0]], dtype=torch.float64)
    result = minimize(fun, x0, max_iter=100, gtol=1e-9)
    assert not result.failed.any()
    torch.testing.assert_close(result.x, torch.ones_like(x0), atol=1e-5, rtol=0)
