"""Timing of iteration over a loaded sample set (pytest-benchmark); runs only with `--benchmark-only`.

Target (issue 3): at least 10,000 samples/s from a loaded set, i.e. a 100,000-sample pass within 10 s; measured
as one full pass in batches of 64 (a small batch is the slow case: more Python per sample).
"""

from __future__ import annotations

import numpy as np
import pytest

from bench.samples import NUM_KEYPOINTS, SMPLX_FIELDS, SampleSet

N = 100_000


@pytest.fixture(scope="module")
def big_set() -> SampleSet:
    rng = np.random.default_rng(0)
    return SampleSet(
        name="bench", skeleton="panoptic_joints19",
        keypoints2d=rng.uniform(0, 1000, (N, NUM_KEYPOINTS, 3)).astype(np.float32),
        image_size=np.tile([1920, 1080], (N, 1)), K=np.tile(np.eye(3), (N, 1, 1)), R=np.tile(np.eye(3), (N, 1, 1)),
        t=np.zeros((N, 3)), dist=np.zeros((N, 5)), joints3d=rng.normal(size=(N, 19, 3)),
        joints3d_valid=np.ones((N, 19), bool),
        ids={"subject": np.full(N, "s"), "sequence": np.full(N, "q"), "action": np.full(N, "a"),
             "frame": np.arange(N), "view": np.full(N, "00_00"), "person": np.zeros(N, int)},
        smplx={k: np.zeros((N, w), np.float32) for k, w in SMPLX_FIELDS.items()},
    )  # fmt: skip


@pytest.mark.parametrize("batch_size", [64, 1024])
def test_iterate_100k_samples(benchmark, big_set, batch_size):
    def one_pass() -> int:
        total = 0
        for batch in big_set.batches(batch_size):
            total += batch.keypoints2d.shape[0]
        return total

    total = benchmark.pedantic(one_pass, rounds=5, warmup_rounds=1)
    assert total == N
    seconds = benchmark.stats.stats.median
    benchmark.extra_info["samples_per_s"] = N / seconds
    assert N / seconds >= 10_000, f"{N / seconds:.0f} samples/s < 10,000"
