"""Timing of the metrics (pytest-benchmark); runs only with `--benchmark-only`.

Target (the issue's): PA-MPJPE over 10,000 samples of 17 joints within 50 ms on a 2-core CPU.
"""

from __future__ import annotations

import pytest
import torch

from bench.geometry.metrics import mpjpe, pa_mpjpe

N_SAMPLES, N_JOINTS = 10_000, 17
ROUNDS = 30  # a median over many rounds: shared CPUs give occasional slow rounds


@pytest.fixture
def poses() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    gt = 0.3 * torch.randn(N_SAMPLES, N_JOINTS, 3, generator=gen)
    pred = gt + 0.05 * torch.randn(N_SAMPLES, N_JOINTS, 3, generator=gen)
    mask = torch.rand(N_SAMPLES, N_JOINTS, generator=gen) > 0.1
    return pred, gt, mask


def test_pa_mpjpe_10k_x_17(benchmark, poses):
    pred, gt, _ = poses
    benchmark.extra_info.update(samples=N_SAMPLES, joints=N_JOINTS, threads=torch.get_num_threads())
    err = benchmark.pedantic(pa_mpjpe, args=(pred, gt), rounds=ROUNDS, warmup_rounds=2)
    assert err.shape == (N_SAMPLES,) and torch.isfinite(err).all()


def test_pa_mpjpe_10k_x_17_masked(benchmark, poses):
    pred, gt, mask = poses
    err = benchmark.pedantic(pa_mpjpe, args=(pred, gt, mask), rounds=ROUNDS, warmup_rounds=2)
    assert err.shape == (N_SAMPLES,)


def test_mpjpe_10k_x_17(benchmark, poses):
    pred, gt, mask = poses
    err = benchmark(mpjpe, pred, gt, mask)
    assert err.shape == (N_SAMPLES,)
