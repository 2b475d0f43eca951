"""Timing of the geometry hot paths (run with `pytest tests/benchmarks --benchmark-only`); CPU, float32."""

import torch

from bench.geometry.projections import project_d2s
from bench.geometry.rotations import axis_angle_to_matrix

BATCH = 1024
JOINTS = 127  # SMPL-X joints incl. face landmarks
POSE_JOINTS = 55  # SMPL-X rotations per body


def test_project_d2s(benchmark):
    gen = torch.Generator().manual_seed(0)
    points = torch.randn(BATCH, JOINTS, 3, generator=gen) * 0.3
    cam = torch.tensor([500.0, 10.0, -5.0, 5.0]).expand(BATCH, 4)
    uv = benchmark.pedantic(project_d2s, args=(points, cam), rounds=20, warmup_rounds=2)
    assert uv.shape == (BATCH, JOINTS, 2)


def test_axis_angle_to_matrix(benchmark):
    gen = torch.Generator().manual_seed(0)
    aa = torch.randn(BATCH * POSE_JOINTS, 3, generator=gen)
    R = benchmark.pedantic(axis_angle_to_matrix, args=(aa,), rounds=20, warmup_rounds=2)
    assert R.shape == (BATCH * POSE_JOINTS, 3, 3)
