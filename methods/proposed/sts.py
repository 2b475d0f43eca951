"""Synthetic training scheme (STS, Sun et al. Sec. III-D, Fig. 4): complete SMPL-X parameter vectors drawn from
the parameter bank (``datasets.bank.ParameterBank``; body, hands, face and shape sampled independently, as the
paper combines unpaired sources) pose the body model (keypoint path, (a)); the joints are projected with random
perspective cameras (random distance and focal, (b)), giving whole-body 2D keypoints paired with complete 3D
annotations (parameters and joints) for supervision by L_pm and L_3D only ((e)).

Frames: the bank's bodies are y-up; they are turned to the OpenCV camera frame (y down) by a 180 deg rotation
about x composed with a random heading, then placed at a random depth with the pelvis inside the image.

Close-ups (``focus``): 'left_hand' / 'right_hand' put that wrist 0.3-0.8 m from the camera (STB-like hand
images), 'face' puts the head 0.3-0.6 m away with the face turned at most 60 deg from the camera; the rest of the
body mostly falls outside the image and gets confidence 0. They feed the partial branch's pre-training and FHGR.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from bench.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from datasets.bank import BankConfig, ParameterBank
from methods.proposed.losses import to_openpose

__all__ = ["STSConfig", "STSStream"]


@dataclass(frozen=True)
class STSConfig:
    pool: int = 4096  # parameter sets drawn from the bank once, resampled per batch
    depth: tuple[float, float] = (1.5, 8.0)  # m, pelvis distance
    focal: tuple[float, float] = (0.6, 1.6)  # x max(w, h), px
    image_sizes: tuple[tuple[int, int], ...] = ((1920, 1080), (1000, 1000), (640, 480))
    noise_px: float = 0.0  # s.d. of Gaussian 2D noise relative to 100 px of body half size (0 = none)
    centre_spread: float = 0.25  # pelvis within +- this fraction of the image size around its centre


class STSStream:
    """Batches of synthetic samples: dict with 'keypoints2d' (B, 137, 3) px (conf 1 on points inside the image
    with a valid SMPL-X source), 'image_size' (B, 2), 'focal' (B,) px (the focal length of the pinhole camera that
    projected the sample, principal point at the image centre (size - 1) / 2), the GT SMPL-X parameters (camera
    frame, hands 45-D relative to the flat hand) and 'joints' (B, J, 3) camera-frame GT joints of ``model``'s
    keypoint path."""

    FOCUS = {"body": (0, None), "left_hand": (20, (0.3, 0.8)), "right_hand": (21, (0.3, 0.8)), "face": (15, (0.3, 0.6))}

    def __init__(self, model, cfg: STSConfig, *, seed: int, device: torch.device | str, focus: str = "body"):
        if focus not in self.FOCUS:
            raise ValueError(f"STS focus must be one of {sorted(self.FOCUS)}, got {focus!r}")
        self.model, self.cfg, self.device = model, cfg, torch.device(device)
        self.focus = focus
        params = ParameterBank(BankConfig()).sample(cfg.pool, seed=seed)
        self.params = {k: torch.as_tensor(v, device=self.device).reshape(cfg.pool, -1)
                       for k, v in params.items() if k != "family"}  # fmt: skip
        self.gen = torch.Generator(device="cpu").manual_seed(seed + 1)
        self.flip = torch.tensor([[1.0, 0, 0], [0, -1.0, 0], [0, 0, -1.0]], device=self.device)

    def _u(self, n: int, lo: float, hi: float) -> torch.Tensor:
        return (lo + (hi - lo) * torch.rand(n, generator=self.gen)).to(self.device)

    def sample(self, n: int) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        idx = torch.randint(0, cfg.pool, (n,), generator=self.gen).to(self.device)
        p = {k: v[idx] for k, v in self.params.items()}
        # independent draws per part (unpaired sources combined, Fig. 4 (a))
        for key in ("left_hand_pose", "right_hand_pose", "expression", "jaw_pose", "betas"):
            p[key] = self.params[key][torch.randint(0, cfg.pool, (n,), generator=self.gen).to(self.device)]
        heading = torch.zeros(n, 3, device=self.device)
        turn = np.pi / 3 if self.focus == "face" else np.pi
        heading[:, 1] = self._u(n, -turn, turn)
        R = self.flip @ axis_angle_to_matrix(heading) @ axis_angle_to_matrix(p["global_orient"])
        p["global_orient"] = matrix_to_axis_angle(R)
        sizes = torch.tensor(cfg.image_sizes, dtype=torch.float32)
        size = sizes[torch.randint(0, len(sizes), (n,), generator=self.gen)].to(self.device)
        f = self._u(n, *cfg.focal) * size.amax(-1)
        d = self._u(n, *cfg.depth)
        local = self.model.keypoints(**{k: v for k, v in p.items() if k != "transl"})
        pelvis = local[:, 0]
        uv0 = (torch.rand(n, 2, generator=self.gen).to(self.device) * 2 - 1) * cfg.centre_spread * size
        centre3d = torch.cat([uv0 * d[:, None] / f[:, None], d[:, None]], -1)
        joint, depth = self.FOCUS[self.focus]
        if depth is not None:  # a close-up: that joint (wrist, head) at the chosen point, close to the camera
            z = self._u(n, *depth)
            centre3d = torch.cat([uv0 * z[:, None] / f[:, None], z[:, None]], -1)
            pelvis = local[:, joint]
        p["transl"] = centre3d - pelvis
        joints = local + p["transl"][:, None]
        op, valid = to_openpose(joints)
        c = (size - 1) / 2
        uv = f[:, None, None] * op[..., :2] / op[..., 2:].clamp(min=1e-3) + c[:, None]
        inside = (uv >= 0).all(-1) & (uv <= size[:, None] - 1).all(-1) & (op[..., 2] > 0.05) & valid
        if cfg.noise_px > 0:
            half = 0.5 * (uv[:, :25].amax(1) - uv[:, :25].amin(1)).amax(-1)
            noise = torch.randn(uv.shape, generator=self.gen).to(self.device)
            uv = uv + noise * cfg.noise_px * half[:, None, None] / 100
        kp = torch.cat([uv, inside[..., None].to(uv.dtype)], -1) * inside[..., None]
        return {"keypoints2d": kp, "image_size": size, "focal": f, "joints": joints, "smplx": p}
