"""Shared fixtures: the embedded body model, built once per test session into a temporary cache.

Tests never touch the user's cache (~/.cache/hmrbench) and never pick up a real model from $SMPLX_MODEL_PATH:
`embedded_cache` points $HMRBENCH_CACHE at a session temporary folder and clears $SMPLX_MODEL_PATH for as long as
the session runs. Request it (directly or through `body_model`) in any test that resolves the default model.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from bench.body.body_model import BodyModel, load_body_model


@pytest.fixture(scope="session")
def embedded_cache(tmp_path_factory) -> Iterator[Path]:
    """Temporary $HMRBENCH_CACHE for the whole session (restored afterwards); $SMPLX_MODEL_PATH unset."""
    cache = tmp_path_factory.mktemp("hmrbench-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HMRBENCH_CACHE", str(cache))
        mp.delenv("SMPLX_MODEL_PATH", raising=False)
        yield cache


@pytest.fixture(scope="session")
def body_model(embedded_cache) -> BodyModel:
    """The embedded model with the library defaults (6 hand PCA components, stored hand mean), float32.

    Building it fills the session cache (~1.5 s); later loads read the cached file.
    """
    return load_body_model()


@pytest.fixture(scope="session")
def flat_body_model(body_model) -> BodyModel:
    """The embedded model with ``flat_hand_mean=True``, so zero parameters give the rest (template) pose."""
    return load_body_model(flat_hand_mean=True)


@pytest.fixture(scope="session")
def embedded_npz(body_model) -> Path:
    """Path of the cached embedded `.npz` (`<cache>/embedded-smplx-v*/smplx/SMPLX_NEUTRAL.npz`)."""
    return body_model.source.path


@pytest.fixture(scope="session")
def embedded_arrays(embedded_npz) -> dict[str, np.ndarray]:
    """All arrays of the cached embedded `.npz`, read with numpy only (read-only: do not modify in place)."""
    with np.load(embedded_npz, allow_pickle=False) as npz:
        arrays = {key: npz[key] for key in npz.files}
    for value in arrays.values():
        value.flags.writeable = False
    return arrays
