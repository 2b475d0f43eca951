"""Fast SMPL-X keypoints from joint rotations for the regressor's training and prediction: the joints of
``bench.body_model.BodyModel.forward(pose_rotmats=..., vertices=False)`` (same buffers, same vertex subset) with
far fewer tensor operations, which dominate at the paper's batch 16 (forward and backward) and at batch 1.

- Kinematic chain by pointer jumping: the 55 local 4x4 transforms (plus an identity node above the root) are
  composed with their 2^k-th ancestor's for k = 0, 1, ... (ceil(log2(depth)) batched matmuls, 4 for SMPL-X)
  instead of one step per tree level (12).
- The 21 vertex joints and the 51 static landmarks are one (72, S) selection / barycentric matrix applied to
  the skinned keypoint vertices.
- Face contour (144 joints): the 17 dynamic landmarks are looked up from the neck's world rotation (smplx's
  ``find_dynamic_lmk_idx_and_bcoords`` with its chain product = the world rotation of joint 12).

Frames and units as ``bench.body_model``: metres, SMPL-X body frame (y up), no translation.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from bench.body_model import BodyModel

__all__ = ["FastKeypoints"]

_NECK = 12  # SMPL-X neck joint: smplx's neck_kin_chain is its path to the root


class FastKeypoints:
    """``FastKeypoints(model)(R, shape)`` -> (B, 127|144, 3) joints for rotations R (B, 55, 3, 3) and
    ``shape`` (B, 20) = [betas (10) | expression (10)]."""

    def __init__(self, model: BodyModel) -> None:
        kp = model.kp
        self.use_face_contour = model.use_face_contour
        dtype, device = model.J_template.dtype, model.J_template.device
        parents = np.asarray(model._parents)
        n = len(parents)
        self.J_template, self.J_dirs = model.J_template, model.J_dirs
        self.parent = torch.as_tensor(parents[1:], device=device)
        self.batch_last_from = 8  # batch size from which rigid_batch_last is faster (measured on 1 CPU thread)
        anc = np.append(np.where(parents < 0, n, parents), n)  # node n = identity, its own ancestor
        self.jumps = []
        while (anc[:n] != n).any():
            self.jumps.append(torch.as_tensor(anc, device=device))
            anc = anc[anc]
        self.bottom = torch.tensor([0.0, 0.0, 0.0, 1.0], dtype=dtype, device=device)
        self.eye = torch.eye(4, dtype=dtype, device=device)
        self.eye3 = torch.eye(3, dtype=dtype, device=device)
        self.kp = kp
        S = kp.weights.shape[0]
        nv, nl = len(model.vj_kp), len(model.lmk_faces_kp)
        sel = torch.zeros(nv + nl, S, dtype=dtype, device=device)
        sel[torch.arange(nv, device=device), model.vj_kp] = 1.0
        rows = torch.arange(nl, device=device)[:, None].expand(nl, 3)
        sel.index_put_((rows.flatten() + nv, model.lmk_faces_kp.flatten()), model.lmk_bary.flatten().to(dtype),
                       accumulate=True)  # fmt: skip
        self.select = sel
        if self.use_face_contour:
            self.dyn_faces = model.remap_kp[model.dyn_lmk_faces]  # (79, 17, 3) keypoint-vertex rows
            self.dyn_bary = model.dyn_lmk_bary  # (79, 17, 3)

    def rigid(self, R: torch.Tensor, J: torch.Tensor) -> torch.Tensor:
        """World transforms (B, 56, 4, 4) (last: identity) of the joints for local rotations R and joints J."""
        B, n = R.shape[:2]
        rel = torch.cat([J[:, :1], J[:, 1:] - J.index_select(1, self.parent)], 1)
        T = torch.cat([torch.cat([R, rel[..., None]], -1), self.bottom.expand(B, n, 1, 4)], -2)
        G = torch.cat([T, self.eye.expand(B, 1, 4, 4)], 1)
        for anc in self.jumps:
            G = G.index_select(1, anc) @ G
        return G

    def rigid_batch_last(self, R: torch.Tensor, J: torch.Tensor) -> torch.Tensor:
        """As :meth:`rigid` for large batches, batch last: (56, 3, 4, B) affine transforms composed elementwise
        (batched 4x4 matmuls cost ~90 ns per matrix; this is four vectorised multiply-adds per step)."""
        B, n = R.shape[:2]
        Jt = J.permute(1, 2, 0)  # (55, 3, B)
        rel = torch.cat([Jt[:1], Jt[1:] - Jt.index_select(0, self.parent)], 0)
        T = torch.cat([R.permute(1, 2, 3, 0), rel[:, :, None]], 2)  # (55, 3, 4, B)
        G = torch.cat([T, self.eye[:3, :, None].expand(1, 3, 4, B)], 0)
        for anc in self.jumps:
            P = G.index_select(0, anc)
            out = P[:, :, 0:1] * G[:, 0:1]  # accumulated in place: no further large temporaries
            out.addcmul_(P[:, :, 1:2], G[:, 1:2]).addcmul_(P[:, :, 2:3], G[:, 2:3])
            out[:, :, 3] += P[:, :, 3]
            G = out
        return G

    def __call__(self, R: torch.Tensor, shape: torch.Tensor) -> torch.Tensor:
        B, n = R.shape[:2]
        kp = self.kp
        R, shape = R.to(self.J_template.dtype), shape.to(self.J_template.dtype)
        J = self.J_template + (shape @ self.J_dirs).view(B, n, 3)
        if B >= self.batch_last_from:
            G = self.rigid_batch_last(R, J)[:n]  # (55, 3, 4, B)
            R_w, t_w = G[:, :, :3], G[:, :, 3]
            corr = (R_w * J.permute(1, 2, 0)[:, None]).sum(2)  # (55, 3, B)
            A = torch.cat([R_w, (t_w - corr)[:, :, None]], 2).view(n, 12 * B)
            R_neck = R_w[_NECK].permute(2, 0, 1)
            t_w = t_w.permute(2, 0, 1)
        else:
            G = self.rigid(R, J)[:, :n]
            R_w, t_w = G[..., :3, :3], G[..., :3, 3]
            A = G[..., :3, :] - torch.nn.functional.pad((R_w @ J[..., None]), (3, 0))  # x -> R_w (x - J) + t_w
            A = A.permute(1, 2, 3, 0).reshape(n, 12 * B)
            R_neck = R_w[:, _NECK]
        S = kp.weights.shape[0]
        v = kp.v_template + (kp.shapedirs @ shape.T).view(S, 3, B)  # (S, 3, B)
        if len(kp.pose_feat):
            feat = (R[:, 1:] - self.eye3).flatten(1)[:, kp.pose_feat]
            v = v.index_add(0, kp.pose_vert, (kp.posedirs @ feat.T).view(-1, 3, B))
        T = (kp.weights @ A).view(S, 3, 4, B)
        posed = T[:, :, 3] + (T[:, :, :3] * v[:, None]).sum(2)  # (S, 3, B)
        extra = (self.select @ posed.view(S, 3 * B)).view(-1, 3, B).permute(2, 0, 1)
        parts = [t_w, extra]
        if self.use_face_contour:
            parts.append(self._contour(R_neck, posed))
        return torch.cat(parts, 1)

    def _contour(self, R_neck: torch.Tensor, posed: torch.Tensor) -> torch.Tensor:
        """17 dynamic contour landmarks (B, 17, 3): smplx's yaw look-up (``find_dynamic_lmk_idx_and_bcoords``)."""
        sy = torch.sqrt(R_neck[:, 0, 0] ** 2 + R_neck[:, 1, 0] ** 2)
        yaw = torch.atan2(-R_neck[:, 2, 0], sy)
        y = torch.round(torch.clamp(-yaw * 180.0 / math.pi, max=39)).long()
        idx = torch.where(y < 0, torch.where(y < -39, 78, 39 - y), y)
        faces, bary = self.dyn_faces[idx], self.dyn_bary[idx]  # (B, 17, 3)
        pts = posed.permute(2, 0, 1)  # (B, S, 3)
        tri = torch.gather(pts, 1, faces.flatten(1)[..., None].expand(-1, -1, 3)).view(*faces.shape, 3)
        return (tri * bary[..., None]).sum(2)
