"""The two-branch regressor of Sun et al. (Fig. 3, Sec. III-C) on whole-body 2D keypoints, and the decoding of
its outputs into SMPL-X parameters and a camera (Sec. III-B, III-E).

Global branch: scale-normalised body keypoints (BODY_25) -> bilinear transform -> MLP -> betas (10), body pose
(21 joints, 6D), global rotation (6D) and the camera of the chosen projection. Partial branch: one four-layer
semantic GCN per hand on the OpenPose hand-21 graph -> 6 hand-PCA coefficients per hand; a four-layer semantic
GCN plus an MLP on the face-70 landmarks -> 10 expression + 3 jaw parameters (the paper's 13-D psi_f).

Camera decoding (all pixel quantities relative to the image centre ``c = ((w-1)/2, (h-1)/2)``, the principal
point an uncalibrated method assumes; the image origin is the top-left pixel's centre, bench.projections):
with ``m`` the mean and ``h`` the half box size (px) of the valid body keypoints (scale normalisation),
``F0 = focal_scale * max(w, h)`` the assumed focal (px) and ``L = body_half_m`` a typical half body extent (m):

- ``wpp``: raw (a, du, dv) -> ``s = exp(a) h / L`` (px per m), ``t = m - c + (du, dv) h`` (px); Eq. 6-7.
  Depth is not observable: the body is put at ``d = F0 / s`` (the assumed focal) in the camera frame.
- ``d2s``: raw (a, du, dv, b) -> s, t as WPP and ``d = exp(b) F0 / s`` (m); Eq. 12-13.
- ``pp``: raw (a, du, dv, b) -> mean focal ``f = exp(b) F0`` (px) and translation ``T = (t/s', d)`` with
  ``s' = exp(a) h / L`` and ``d = f / s'``; Eq. 3-4 (the paper's PP ablation estimates (f_x+f_y)/2 and t^c).

For d2s and pp the body centre (pelvis) sits at ``(t_u / s, t_v / s, d)`` in the camera frame (Eq. 8-9
inverted, ``bench.projections.pp_to_d2s``); for wpp at ``(t_u / s, t_v / s, F0 / s)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from bench.rotations import matrix_to_axis_angle, matrix_to_rot6d, rot6d_to_matrix
from methods.proposed.layers import (
    PART_SLICES,
    BilinearTransform,
    SemGraphConv,
    face_adjacency,
    hand_adjacency,
    normalize_all,
)

__all__ = ["CAMERA_DIMS", "FaceGCN", "GlobalBranch", "HandGCN", "NetConfig", "ProposedNet", "image_centre"]

CAMERA_DIMS = {"d2s": 4, "wpp": 3, "pp": 4}
NUM_BODY_JOINTS = 21
# y-down camera frame: an upright SMPL-X body (y up) is rotated 180 deg about x; the network's rest output
_UPRIGHT = torch.tensor([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]])


@dataclass(frozen=True)
class NetConfig:
    projection: str = "d2s"
    hidden: int = 256  # global-branch width
    rank: int = 128  # bilinear rank
    gcn_hidden: int = 32  # hand GCN feature width per node
    face_hidden: int = 16  # face GCN feature width per node (70 nodes: the widest graph, kept narrow for speed)
    gcn_layers: int = 4  # four semantic graph convolution layers (Sec. III-C)
    conf_threshold: float = 0.1


def _size(part: str) -> int:
    return PART_SLICES[part].stop - PART_SLICES[part].start


def image_centre(image_size: torch.Tensor) -> torch.Tensor:
    """(B, 2) ``((w-1)/2, (h-1)/2)`` px: the principal point assumed for an uncalibrated image."""
    return (image_size.to(torch.float32) - 1.0) / 2.0


def _mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class GlobalBranch(nn.Module):
    """Body keypoints (B, 25, 2) normalised + mask (B, 25) -> (B, 10 + 126 + 6 + camera) raw outputs."""

    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        n = PART_SLICES["body"].stop - PART_SLICES["body"].start
        self.pose_embed = _mlp([3 * n, cfg.hidden, cfg.hidden])
        self.shape_embed = _mlp([3 * n, cfg.hidden // 2])
        self.bilinear = BilinearTransform(cfg.hidden, cfg.hidden // 2, cfg.rank, cfg.hidden)
        self.out_dim = 10 + 6 * NUM_BODY_JOINTS + 6 + CAMERA_DIMS[cfg.projection]
        self.head = _mlp([cfg.hidden, cfg.hidden, self.out_dim])
        with torch.no_grad():  # start at the mean: zero shape, identity joints, upright body, default camera
            self.head[-1].weight.mul_(0.01)
            bias = torch.zeros(self.out_dim)
            bias[10 : 10 + 126] = matrix_to_rot6d(torch.eye(3)).repeat(NUM_BODY_JOINTS)
            bias[136:142] = matrix_to_rot6d(_UPRIGHT)
            self.head[-1].bias.copy_(bias)

    def forward(self, normed: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.forward_flat(torch.cat([normed, mask[..., None].to(normed.dtype)], -1).flatten(1))

    def forward_flat(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, 75) per keypoint ``[x, y, mask]`` (normalised) -> raw outputs."""
        return self.head(torch.relu(self.bilinear(self.pose_embed(x), self.shape_embed(x))))


class _GCN(nn.Module):
    def __init__(self, adjacency, cfg: NetConfig, out: int, mlp_hidden: int | None, width: int | None = None) -> None:
        super().__init__()
        k = len(adjacency)
        width = cfg.gcn_hidden if width is None else width
        sizes = [3] + [width] * cfg.gcn_layers
        self.convs = nn.ModuleList(SemGraphConv(a, b, adjacency) for a, b in zip(sizes[:-1], sizes[1:], strict=True))
        self.head = _mlp([k * width, out] if mlp_hidden is None else [k * width, mlp_hidden, out])
        with torch.no_grad():
            self.head[-1].weight.mul_(0.01)
            self.head[-1].bias.zero_()

    def forward(self, normed: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.forward_nodes(torch.cat([normed, mask[..., None].to(normed.dtype)], -1).transpose(0, 1))

    def forward_nodes(self, x: torch.Tensor) -> torch.Tensor:
        """x: (K, B, 3) node-major ``[x, y, mask]`` -> (B, out); the head reads the (B, K * C) node features."""
        for conv in self.convs:
            x = torch.relu(conv.forward_nodes(x))
        return self.head(x.transpose(0, 1).reshape(x.shape[1], -1))


class HandGCN(_GCN):
    """Hand regressor of the partial branch: (B, 21, 2) normalised + mask -> (B, 6) hand-PCA coefficients."""

    def __init__(self, cfg: NetConfig, num_pca: int = 6) -> None:
        super().__init__(hand_adjacency(), cfg, num_pca, None)


class FaceGCN(_GCN):
    """Face regressor: four semantic GCN layers plus an MLP -> (B, 13) = 10 expression + 3 jaw (psi_f)."""

    def __init__(self, cfg: NetConfig) -> None:
        super().__init__(face_adjacency(), cfg, 13, 4 * cfg.face_hidden, cfg.face_hidden)


class ProposedNet(nn.Module):
    """The full regressor; :meth:`forward` returns raw outputs, :meth:`decode` SMPL-X parameters and camera.

    hand_basis: dict with 'left_mean', 'right_mean' (45,) and 'left_components', 'right_components' (6, 45)
    from the body model file (``hands_meanl``, ``hands_componentsl``, ...): a hand pose relative to the flat
    hand is ``mean + coeffs @ components`` (the smplx PCA convention with the stored mean, Sec. III-B).
    """

    def __init__(self, cfg: NetConfig, hand_basis: dict[str, torch.Tensor], *, focal_scale: float = 1.0,
                 body_half_m: float = 0.9) -> None:  # fmt: skip
        super().__init__()
        if cfg.projection not in CAMERA_DIMS:
            raise ValueError(f"projection must be one of {sorted(CAMERA_DIMS)}, got {cfg.projection!r}")
        self.cfg = cfg
        self.focal_scale = float(focal_scale)
        self.body_half_m = float(body_half_m)
        self.global_branch = GlobalBranch(cfg)
        self.left_hand = HandGCN(cfg)
        self.right_hand = HandGCN(cfg)
        self.face = FaceGCN(cfg)
        for key, value in hand_basis.items():
            self.register_buffer(f"hand_{key}", value.detach().clone().to(torch.float32))

    def hand_pose(self, coeffs: torch.Tensor, side: str) -> torch.Tensor:
        """(B, 6) PCA coefficients -> (B, 45) axis-angle relative to the flat hand."""
        return getattr(self, f"hand_{side}_mean") + coeffs @ getattr(self, f"hand_{side}_components")

    def forward(self, keypoints: torch.Tensor, image_size: torch.Tensor) -> dict[str, torch.Tensor]:
        """keypoints (B, 137, 3) px; image_size (B, 2) (w, h). Returns decoded outputs (see :meth:`decode`)."""
        normed, mask, centre, half = normalize_all(keypoints, self.cfg.conf_threshold)
        x = torch.cat([normed, mask[..., None].to(normed.dtype)], -1)  # (4 parts, 70 nodes, B, 3)
        nb, nh = _size("body"), _size("left_hand")
        g = self.global_branch.forward_flat(x[0, :nb].transpose(0, 1).reshape(x.shape[2], 3 * nb))
        lh, rh = self.left_hand.forward_nodes(x[1, :nh]), self.right_hand.forward_nodes(x[2, :nh])
        psi = self.face.forward_nodes(x[3, : _size("face")])
        return self.decode(g, lh, rh, psi, centre[0], half[0], image_size)

    def decode(self, g, lh, rh, psi, centre, half, image_size) -> dict[str, torch.Tensor]:
        """Raw branch outputs -> rotation matrices, SMPL-X parameters (axis-angle) and camera (module docs)."""
        B = g.shape[0]
        R = rot6d_to_matrix(g[:, 10:142].reshape(B, NUM_BODY_JOINTS + 1, 6))  # body joints, then global: one call
        R_body, R_glob = R[:, :NUM_BODY_JOINTS], R[:, NUM_BODY_JOINTS]
        cam_raw = g[:, 142:]
        size = image_size.to(g.dtype)
        c = (size - 1.0) / 2.0
        F0 = self.focal_scale * size.amax(-1)
        s = torch.exp(cam_raw[:, 0].clamp(-10, 10)) * half / self.body_half_m
        t = centre - c + cam_raw[:, 1:3] * half[:, None]
        proj = self.cfg.projection
        if proj == "wpp":
            d = F0 / s
            cam = torch.cat([s[:, None], t], -1)
            focal = F0
        else:
            f = torch.exp(cam_raw[:, 3].clamp(-10, 10)) * F0
            d = f / s
            focal = f
            if proj == "d2s":
                cam = torch.cat([s[:, None], t, d[:, None]], -1)
            else:  # pp: [f, T_x, T_y, d]
                cam = torch.cat([f[:, None], t / s[:, None], d[:, None]], -1)
        centre3d = torch.cat([t / s[:, None], d[:, None]], -1)  # camera-frame pelvis, metres
        left = self.hand_pose(lh, "left")
        right = self.hand_pose(rh, "right")
        return {
            "R_body": R_body, "R_glob": R_glob, "betas": g[:, :10], "expression": psi[:, :10],
            "jaw_pose": psi[:, 10:13], "left_hand_pose": left, "right_hand_pose": right, "cam": cam,
            "centre3d": centre3d, "focal": focal, "principal": c, "hand_coeffs_left": lh, "hand_coeffs_right": rh,
            "body_half": half,
        }  # fmt: skip

    @staticmethod
    def axis_angle(out: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """global_orient (B, 3) and body_pose (B, 63) axis-angle from the decoded rotation matrices."""
        B = out["R_glob"].shape[0]
        aa = matrix_to_axis_angle(torch.cat([out["R_glob"][:, None], out["R_body"]], 1))  # one call for all 22
        return {"global_orient": aa[:, 0], "body_pose": aa[:, 1:].reshape(B, 63)}
