"""The two-branch regressor of Sun et al. (Fig. 3, Sec. III-C) on whole-body 2D keypoints, and the decoding of
its outputs into SMPL-X parameters and a camera (Sec. III-B, III-E).

Global branch: scale-normalised body keypoints (BODY_25) -> bilinear transform -> MLP -> betas (10), body pose
(21 joints, 6D), global rotation (6D) and the camera of the chosen projection. Partial branch: one four-layer
semantic GCN per hand on the OpenPose hand-21 graph -> 6 hand-PCA coefficients per hand; a four-layer semantic
GCN plus an MLP on the face-70 landmarks -> 10 expression + 3 jaw parameters (the paper's 13-D psi_f).

The camera: one head per projection (``methods.proposed.cameras``: what the network regresses for each of WPP,
D2S and PP, its decoding, projection and initialisation). The branch's camera layer is one linear layer over its
last hidden features and the five box features of ``cameras.box_features`` (where and how large the body's 2D
box is: the scale-normalised keypoints alone cannot tell); the pose outputs do not see the box features, so the
body pose stays invariant to the body's 2D position and size.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from bench.geometry.rotations import matrix_to_axis_angle, matrix_to_rot6d, rot6d_to_matrix
from methods.proposed.cameras import HEADS, NUM_BOX_FEATURES, BoxFrame, CameraHead, box_features, make_head
from methods.proposed.layers import (
    PART_SLICES,
    BilinearTransform,
    SemGraphConv,
    autocast,
    face_adjacency,
    hand_adjacency,
    in_fp32,
    normalize_all,
)

__all__ = ["FaceGCN", "GlobalBranch", "HandGCN", "NetConfig", "ProposedNet"]

NUM_BODY_JOINTS = 21
NUM_POSE_OUTPUTS = 10 + 6 * NUM_BODY_JOINTS + 6  # betas, body joints (6D), global rotation (6D)
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


def _mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class GlobalBranch(nn.Module):
    """Body keypoints (B, 25, 2) normalised + mask (B, 25) and box features (B, 5) -> pose outputs (B, 142: betas,
    21 body joints and the global rotation in 6D) and the camera head's raw outputs (B, ``camera.raw_dim``)."""

    def __init__(self, cfg: NetConfig, camera: CameraHead) -> None:
        super().__init__()
        n = PART_SLICES["body"].stop - PART_SLICES["body"].start
        self.pose_embed = _mlp([3 * n, cfg.hidden, cfg.hidden])
        self.shape_embed = _mlp([3 * n, cfg.hidden // 2])
        self.bilinear = BilinearTransform(cfg.hidden, cfg.hidden // 2, cfg.rank, cfg.hidden)
        self.trunk = nn.Linear(cfg.hidden, cfg.hidden)
        self.pose_out = nn.Linear(cfg.hidden, NUM_POSE_OUTPUTS)
        self.camera_out = nn.Linear(cfg.hidden + NUM_BOX_FEATURES, camera.raw_dim)
        with torch.no_grad():  # start at the mean: zero shape, identity joints, upright body, the head's camera
            self.pose_out.weight.mul_(0.01)
            bias = torch.zeros(NUM_POSE_OUTPUTS)
            bias[10 : 10 + 126] = matrix_to_rot6d(torch.eye(3)).repeat(NUM_BODY_JOINTS)
            bias[136:142] = matrix_to_rot6d(_UPRIGHT)
            self.pose_out.bias.copy_(bias)
            self.camera_out.weight[:, : cfg.hidden].mul_(0.01)
            self.camera_out.weight[:, cfg.hidden :] = camera.initial_box_weight()
            self.camera_out.bias.copy_(camera.initial_bias())

    def forward(self, normed: torch.Tensor, mask: torch.Tensor, box: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.forward_flat(torch.cat([normed, mask[..., None].to(normed.dtype)], -1).flatten(1), box)

    def forward_flat(self, x: torch.Tensor, box: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: (B, 75) per keypoint ``[x, y, mask]`` (normalised), box (B, 5) -> (pose outputs, camera raw)."""
        h = torch.relu(self.trunk(torch.relu(self.bilinear(self.pose_embed(x), self.shape_embed(x)))))
        return in_fp32(self.pose_out, h), in_fp32(self.camera_out, torch.cat([h.to(box.dtype), box], -1))


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
        h = x.transpose(0, 1).reshape(x.shape[1], -1)
        for layer in self.head[:-1]:
            h = layer(h)
        return in_fp32(self.head[-1], h)  # the output layer in float32 under autocast (layers.in_fp32)


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
        if cfg.projection not in HEADS:
            raise ValueError(f"projection must be one of {sorted(HEADS)}, got {cfg.projection!r}")
        self.cfg = cfg
        self.focal_scale = float(focal_scale)
        self.camera = make_head(cfg.projection, body_half_m=body_half_m)
        self.global_branch = GlobalBranch(cfg, self.camera)
        self.left_hand = HandGCN(cfg)
        self.right_hand = HandGCN(cfg)
        self.face = FaceGCN(cfg)
        for key, value in hand_basis.items():
            self.register_buffer(f"hand_{key}", value.detach().clone().to(torch.float32))

    def hand_pose(self, coeffs: torch.Tensor, side: str) -> torch.Tensor:
        """(B, 6) PCA coefficients -> (B, 45) axis-angle relative to the flat hand."""
        return getattr(self, f"hand_{side}_mean") + coeffs @ getattr(self, f"hand_{side}_components")

    def _global(self, x: torch.Tensor, centre: torch.Tensor, half: torch.Tensor, image_size: torch.Tensor):
        """The global branch on ``normalize_all``'s body rows -> (pose outputs, camera raw, box frame)."""
        box = box_features(centre[0], half[0], image_size, self.focal_scale)
        nb = _size("body")
        g, cam_raw = self.global_branch.forward_flat(x[0, :nb].transpose(0, 1).reshape(x.shape[2], 3 * nb),
                                                     box.features)  # fmt: skip
        return g, cam_raw, box

    def forward(self, keypoints: torch.Tensor, image_size: torch.Tensor,
                precision: str = "fp32") -> dict[str, torch.Tensor]:  # fmt: skip
        """keypoints (B, 137, 3) px; image_size (B, 2) (w, h). Returns decoded outputs (see :meth:`decode`).
        ``precision`` 'bf16': the hidden layers under bf16 autocast, the output layers, the scale normalisation
        and the decoding in float32 (``layers`` module docstring)."""
        normed, mask, centre, half = normalize_all(keypoints, self.cfg.conf_threshold)
        x = torch.cat([normed, mask[..., None].to(normed.dtype)], -1)  # (4 parts, 70 nodes, B, 3)
        with autocast(keypoints.device, precision):
            g, cam_raw, box = self._global(x, centre, half, image_size)
            nh = _size("left_hand")
            lh, rh = self.left_hand.forward_nodes(x[1, :nh]), self.right_hand.forward_nodes(x[2, :nh])
            psi = self.face.forward_nodes(x[3, : _size("face")])
        return self.decode(g, cam_raw, lh, rh, psi, box)

    def forward_camera(self, keypoints: torch.Tensor, image_size: torch.Tensor) -> dict[str, torch.Tensor]:
        """The camera alone (global branch only): the head's ``decode`` output for (B, 137, 3) keypoints."""
        normed, mask, centre, half = normalize_all(keypoints, self.cfg.conf_threshold)
        x = torch.cat([normed, mask[..., None].to(normed.dtype)], -1)
        _, cam_raw, box = self._global(x, centre, half, image_size)
        return self.camera.decode(cam_raw, box)

    def decode(self, g, cam_raw, lh, rh, psi, box: BoxFrame) -> dict[str, torch.Tensor]:
        """Raw branch outputs -> rotation matrices, SMPL-X parameters (axis-angle) and the camera head's decoding
        ('cam', 'focal', 'centre3d', 'principal', ...: ``cameras.CameraHead``); 'body_half' (B,) px."""
        B = g.shape[0]
        R = rot6d_to_matrix(g[:, 10:142].reshape(B, NUM_BODY_JOINTS + 1, 6))  # body joints, then global: one call
        return {
            "R_body": R[:, :NUM_BODY_JOINTS], "R_glob": R[:, NUM_BODY_JOINTS], "betas": g[:, :10],
            "expression": psi[:, :10], "jaw_pose": psi[:, 10:13], "left_hand_pose": self.hand_pose(lh, "left"),
            "right_hand_pose": self.hand_pose(rh, "right"), "hand_coeffs_left": lh, "hand_coeffs_right": rh,
            "body_half": box.half, **self.camera.decode(cam_raw, box),
        }  # fmt: skip

    @staticmethod
    def axis_angle(out: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """global_orient (B, 3) and body_pose (B, 63) axis-angle from the decoded rotation matrices."""
        B = out["R_glob"].shape[0]
        aa = matrix_to_axis_angle(torch.cat([out["R_glob"][:, None], out["R_body"]], 1))  # one call for all 22
        return {"global_orient": aa[:, 0], "body_pose": aa[:, 1:].reshape(B, 63)}
