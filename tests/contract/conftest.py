"""Fixtures shared by the method-level contract tests."""

from __future__ import annotations

import pytest

from bench.registry import get_dataset, load_dataset

DATASETS = ("panoptic", "h36m", "stb")


@pytest.fixture(scope="session")
def tiny_sets(tmp_path_factory, embedded_cache):
    """One-frame synthetic Panoptic / H36M / STB trees (detector noise), loaded: {name: SampleSet}."""
    root = tmp_path_factory.mktemp("tiny-sets")
    sets = {}
    for name in DATASETS:
        get_dataset(name).synthesize(root / name, frames=1, seed=0, noise="detector")
        sets[name] = load_dataset(name, data_root=root)
    return sets
