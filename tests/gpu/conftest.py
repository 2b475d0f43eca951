"""Fixtures of the ``gpu``-marked tests (issue 14): small STS-generated training and test sets (no dataset
generation), built on the CPU as numpy-backed ``SampleSet``s like every loaded set; the tests move batches to the
GPU themselves. Every test module here is marked ``gpu`` and skips with a reason where CUDA is not available.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "methods"))  # _sts_sets, shared with the method tests
from _gpu import MISSING, NO_CUDA  # noqa: E402
from _sts_sets import sts_body_set as body_set
from _sts_sets import sts_hand_set as hand_set


@pytest.fixture(scope="session")
def gpu_sets(embedded_cache):
    """{'train': 64 bodies, 'val': 32 other bodies ('val_lifted': the same, scored on the lifter's joints), 'hands':
    32 left-hand close-ups}."""
    if MISSING:
        pytest.skip(NO_CUDA)
    from methods.proposed.method import body_models

    model = body_models(None, "cpu")[0]  # the methods' training model (keypoint path, hands relative to flat)
    from methods.lifter import LIFTED_JOINTS

    val = body_set(model, 32, seed=2)
    lifted = val.subset(np.arange(len(val)))  # scored on the joints a lifter predicts (as tests/methods/test_lifter)
    lifted.info = {"root_joints": ("pelvis",), "eval_joints": LIFTED_JOINTS}
    return {"train": body_set(model, 64, seed=1), "val": val, "val_lifted": lifted, "hands": hand_set(model, 32, 3)}
