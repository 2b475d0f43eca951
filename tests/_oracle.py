"""A method that poses the ground-truth SMPL-X (with errors of a known size), for the scoring tests."""

from __future__ import annotations

import torch

from bench.method import PARAM_WIDTHS, Prediction


class Oracle:
    """Poses the generators' body model with the batch's ground-truth SMPL-X; optional per-joint-index offset
    (m, added to one SMPL-X output joint) and a set of sample indices reported failed."""

    name = "oracle"

    def __init__(self, offset: float = 0.0, joint: int = 0, fail: tuple[int, ...] = (), shift: float = 0.0):
        from datasets.synth import generator_model

        self.model, self.offset, self.joint, self.fail, self.shift = generator_model(), offset, joint, fail, shift

    def supports(self, samples):
        return None if samples.smplx is not None else "no ground-truth SMPL-X"

    def predict(self, batch):
        params = {k: batch.smplx[k].float().reshape(len(batch.index), -1) for k in PARAM_WIDTHS}
        with torch.no_grad():
            joints = self.model.keypoints(**params)
        joints[:, self.joint, 0] += self.offset
        joints = joints + self.shift  # a global translation: invisible to root-aligned and PA errors
        failed = torch.isin(batch.index, torch.tensor(self.fail, dtype=torch.long))
        return Prediction(params=params, joints3d=joints, keypoints2d=torch.zeros(len(joints), 137, 2), failed=failed)
