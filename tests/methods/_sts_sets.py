"""Build test SampleSets from an STS batch (``methods.proposed.sts.STSStream.sample``): one camera per sample
with R = I, t = 0, no distortion, ids zeroed, ground-truth SMPL-X from the stream (imported by the method tests)."""

from __future__ import annotations

import numpy as np

from bench.samples import ID_FIELDS, SampleSet


def sts_sample_set(s: dict, *, name: str, skeleton: str, joints3d: np.ndarray, keypoints2d: np.ndarray,
                   K: np.ndarray) -> SampleSet:  # fmt: skip
    n = len(joints3d)
    ids = {k: np.zeros(n, dtype=int if k in ("frame", "person") else str) for k in ID_FIELDS}
    return SampleSet(
        name=name, skeleton=skeleton, keypoints2d=keypoints2d, image_size=s["image_size"].numpy(), K=K,
        R=np.tile(np.eye(3), (n, 1, 1)), t=np.zeros((n, 3)), dist=np.zeros((n, 5)), joints3d=joints3d,
        joints3d_valid=np.ones(joints3d.shape[:2], bool), ids=ids, smplx={k: v.numpy() for k, v in s["smplx"].items()},
    )  # fmt: skip
