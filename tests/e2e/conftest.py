"""A tiny synthetic data root shared by the end-to-end tests (read only): h36m, stb and panoptic, one frame per
sequence, and cocowb (the 2D-only training set of Table I's regime), 24 images; seed 0."""

from __future__ import annotations

import pytest

from bench.cli import main


@pytest.fixture(scope="session")
def root(tmp_path_factory, embedded_cache):
    root = tmp_path_factory.mktemp("tiny-root")
    for name, frames in (("h36m", 1), ("stb", 1), ("panoptic", 1), ("cocowb", 24)):
        assert main(["data", "synth", name, "--out", str(root / name), "--frames", str(frames), "--seed", "0"]) == 0
    return root
