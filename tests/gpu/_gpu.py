"""What the ``gpu``-marked tests share (imported by conftest.py and the test modules here): the skip reason without
CUDA and the device they run on (``HMRBENCH_GPU_TESTS_DEVICE``, default cuda; cpu checks the tests' own code)."""

from __future__ import annotations

import os

import torch

NO_CUDA = f"needs a CUDA device: torch.cuda.is_available() is False (torch {torch.__version__})"
DEVICE = os.environ.get("HMRBENCH_GPU_TESTS_DEVICE", "cuda")
MISSING = torch.device(DEVICE).type == "cuda" and not torch.cuda.is_available()  # skip: cuda asked for, none here
