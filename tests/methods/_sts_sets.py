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


def sts_body_set(model, n: int, seed: int) -> SampleSet:
    """``n`` STS bodies of ``model`` (detector 2D, GT SMPL-X, joints3d in smplx_127, camera frame), K unknown."""
    from methods.proposed.sts import STSConfig, STSStream

    s = STSStream(model, STSConfig(pool=256), seed=seed, device="cpu").sample(n)
    K = np.zeros((n, 3, 3))
    K[:, 2, 2] = 1.0
    return sts_sample_set(s, name="sts", skeleton="smplx_127", joints3d=s["joints"].numpy(),
                          keypoints2d=s["keypoints2d"].numpy(), K=K)  # fmt: skip


def sts_hand_set(model, n: int, seed: int) -> SampleSet:
    """``n`` STS left-hand close-ups of ``model`` as an STB-like set (openpose_hand21_left, exact 2D of the left
    hand only, the true K)."""
    from methods.fhgr import LH
    from methods.proposed.losses import to_openpose
    from methods.proposed.sts import STSConfig, STSStream

    s = STSStream(model, STSConfig(pool=256, noise="none"), seed=seed, device="cpu", focus="left_hand").sample(n)
    kp = s["keypoints2d"].clone()
    kp[:, :25] = 0
    kp[:, 46:] = 0
    op, _ = to_openpose(s["joints"])
    K = np.zeros((n, 3, 3))
    K[:, 0, 0] = K[:, 1, 1] = s["focal"].numpy()
    K[:, :2, 2] = s["principal"].numpy()
    K[:, 2, 2] = 1
    return sts_sample_set(s, name="stb", skeleton="openpose_hand21_left", joints3d=op[:, LH].numpy(),
                          keypoints2d=kp.numpy(), K=K)  # fmt: skip
