"""A tiny synthetic data root shared by the end-to-end tests (read only): h36m, stb and panoptic, one frame per
sequence, seed 0."""

from __future__ import annotations

import pytest

from bench.cli import main


@pytest.fixture(scope="session")
def root(tmp_path_factory, embedded_cache):
    root = tmp_path_factory.mktemp("tiny-root")
    for name in ("h36m", "stb", "panoptic"):
        assert main(["data", "synth", name, "--out", str(root / name), "--frames", "1", "--seed", "0"]) == 0
    return root
