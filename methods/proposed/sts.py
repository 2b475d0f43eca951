"""Synthetic training scheme (STS, Sun et al. Sec. III-D, Fig. 4): complete SMPL-X parameter vectors drawn from
the parameter bank (``datasets.bank.ParameterBank``; body, hands, face and shape sampled independently, as the
paper combines unpaired sources) pose the body model (keypoint path, (a)); the joints are projected with random
perspective cameras (random distance and focal, (b)), giving whole-body 2D keypoints paired with complete 3D
annotations (parameters and joints) for supervision by L_pm and L_3D only ((e)).

Frames: the bank's bodies are y-up; they are turned to the OpenCV camera frame (y down) by a 180 deg rotation
about x composed with a random heading, then seen by a camera pitched and rolled (``pitch``, ``roll``), and placed
at a random depth with the pelvis inside the image. A batch's 'rotation' is that turn (the bank's world to the
camera; ``camera_angles`` reads the pitch and roll back from it).

Camera pitch and roll: the camera's elevation (pitch, + = above the body, looking down) is drawn uniformly from
``PITCH_DEG`` = (-15, 35) deg and its roll about the optical axis from ``ROLL_DEG`` = (-6, 6) deg. The ranges cover
the test rigs with a margin of 6-8 deg of pitch (for the body off the optical axis and its own lean): the
synthetic Panoptic HD cameras (``datasets.panoptic.synth.make_cameras``: 0.5-2.8 m high on a 4.7 m dome, aimed
1 m above its centre, roll N(0, 1.5) deg) pitch -7.3 to 29.2 deg and roll -4.7 to 5.1 deg over 20 domes; the
synthetic H36M cameras (1.45-1.65 m high, 4-5.4 m away, aimed ~1 m above the floor) pitch 3.9 to 9.4 deg, roll
+-1.1 deg (``test_sts_stream`` checks the rigs against the ranges). The in-the-wild 2D set (``datasets.cocowb``,
-50 to 80 deg) is a 2D training set, not a 3D test rig, and is not covered. ``pitch=(0, 0), roll=(0, 0)`` gives
the former stream: bodies turned about the vertical axis only.

Close-ups (``focus``): 'left_hand' / 'right_hand' put that wrist 0.3-0.8 m from the camera, 'face' puts the head
0.3-0.6 m away with the face turned at most 60 deg from the camera (then the camera's pitch and roll); the rest of
the body mostly falls outside the image and gets confidence 0. They feed the partial branch's pre-training and
FHGR.

Settings of the stream (``STSConfig``):

- ``view``: the hand close-ups' viewpoints. 'any' (the default): the random heading, image size and focal above,
  so the camera sees the hand from any side. 'match': drawn like a target set's views (``HandViews``, from the
  target's ground-truth 3D hands): per sample one target view is drawn, and the bank hand is turned so that its
  palm frame (``datasets.stb.synth.palm_frame``) has that view's orientation in the camera and placed at that
  view's palm centre, seen with that view's intrinsics and image size. Measured (``hand_view_stats``, 1,000
  left-hand close-ups with detector 2D per stream seed, seeds 0-2, mean and range; views from the synthetic STB
  training split, 1,000 samples, data seed 0; the stream's defaults, with pitch and roll): palm within 60 deg of
  facing the camera / fingers up / all 21 points detected: STB 100 / 99.9 / 10.7%, 'match' 100 / 99.8 (99.7-99.9)
  / 9.6 (8.0-11.7)%, 'any' 25.8 (24.6-27.4) / 30.1 (29.6-30.4) / 1.0 (0.7-1.2)%.
- ``noise``: the 2D input model. 'detector' (the default, for bodies and close-ups): the exact projections of
  the points inside the image go through ``datasets.noise``'s detector-noise model (jitter scaled by the visible
  part's size, confidences, dropouts, swaps), so training and test 2D come from one model, as the synthetic H36M,
  Panoptic and STB sets make their input. 'none': exact projections, confidence 1 inside the image (a caller
  that wants exact 2D, such as a ground-truth-2D oracle, says so). ``noise_px`` adds isotropic Gaussian noise
  on top (relative to the body's 2D size; 0 = off).
- ``occlusion`` (with 'detector'): which samples get the model's occlusion rules (lower confidence, dropouts),
  with points hidden behind the mesh found by ``datasets.synth.occlusion`` as the synthetic sets do: 'all' (the
  default: bodies and faces hidden by the whole mesh, as the synthetic H36M and Panoptic, thinned to every
  ``VERTEX_STRIDE``-th vertex as the synthetic COCO-WholeBody, ~97% the same flags; hand close-ups by the hand's
  own mesh, as the synthetic STB), 'hands' (hand close-ups only) or 'none'. It needs a mesh forward per batch:
  measured on one thread, 0.19 s per 64 bodies (0.37 s with every vertex, 0.01 s without occlusion), 58 ms per
  16 hand close-ups (9 ms without).
- ``pitch``, ``roll``: the camera's ranges, degrees (above).

Measured effect on ``lifter`` (one seed, synthetic data, ``--limit 300``; MPJPE / PA-MPJPE mm, H36M P1 and
Panoptic), trained on STS alone for 600 iterations: former stream (exact 2D, no pitch or roll) 170.3 / 130.1 and
204.9 / 127.0; detector 2D only 130.6 / 94.4 and 182.2 / 95.3; pitch and roll only 178.6 / 128.4 and 194.8 /
125.4; both (the defaults) 129.4 / 95.1 and 167.2 / 95.8. Trained on H36M train + STS (one batch in five, 1,500
iterations): 108.4 / 80.4 and 162.6 / 85.5 -> 106.6 / 81.4 and 156.2 / 84.8.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from bench.body.skeletons import convert
from bench.errors import ConfigError
from bench.geometry.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from bench.samples import SampleSet
from datasets.bank import BankConfig, ParameterBank
from datasets.cocowb.synth import OCCLUSION_CELL_M, VERTEX_STRIDE
from datasets.noise import NOISE_KINDS, NoiseConfig, apply_noise
from datasets.stb.synth import hand_vertex_ids, palm_frame
from datasets.synth import occlusion
from methods.proposed.layers import PART_SLICES
from methods.proposed.losses import to_openpose

__all__ = ["OCCLUSION", "PITCH_DEG", "ROLL_DEG", "VIEWS", "HandViews", "STSConfig", "STSStream", "body_stream",
           "camera_angles", "hand_view_stats", "hand_views", "left_hands"]  # fmt: skip

VIEWS = ("any", "match")
OCCLUSION = ("hands", "all", "none")
_LH = PART_SLICES["left_hand"]
_PALM = (0, 5, 9, 13, 17)  # wrist and the four finger MCPs in the hand-21 order: the palm centre's points
PITCH_DEG = (-15.0, 35.0)  # camera elevation range (module docstring: covers the H36M and Panoptic rigs)
ROLL_DEG = (-6.0, 6.0)  # camera roll range (module docstring)


@dataclass(frozen=True)
class STSConfig:
    pool: int = 4096  # parameter sets drawn from the bank once, resampled per batch
    depth: tuple[float, float] = (1.5, 8.0)  # m, pelvis distance
    focal: tuple[float, float] = (0.6, 1.6)  # x max(w, h), px
    image_sizes: tuple[tuple[int, int], ...] = ((1920, 1080), (1000, 1000), (640, 480))
    noise_px: float = 0.0  # s.d. of Gaussian 2D noise relative to 100 px of body half size (0 = none)
    centre_spread: float = 0.25  # pelvis within +- this fraction of the image size around its centre
    view: str = "any"  # hand close-up viewpoints: 'any' or 'match' (a target set's views; module docstring)
    noise: str = "detector"  # 2D model: 'detector' (datasets.noise) or 'none' (exact projections; module docstring)
    occlusion: str = "all"  # with noise='detector', mesh occlusion for: 'all', 'hands' (hand close-ups only), 'none'
    pitch: tuple[float, float] = PITCH_DEG  # deg, camera elevation drawn uniformly (+ = above, looking down)
    roll: tuple[float, float] = ROLL_DEG  # deg, camera roll about its optical axis, drawn uniformly

    def __post_init__(self) -> None:
        for name, bound in (("pitch", 90.0), ("roll", 180.0)):
            lo, hi = (float(v) for v in getattr(self, name))
            if not (np.isfinite([lo, hi]).all() and -bound <= lo <= hi <= bound):
                raise ValueError(f"STS {name} must be a range (low, high) in degrees with -{bound:g} <= low <= high "
                                 f"<= {bound:g}, got {getattr(self, name)!r}")  # fmt: skip
        if self.view not in VIEWS:
            raise ValueError(f"STS view must be one of {', '.join(VIEWS)}, got {self.view!r}")
        if self.occlusion not in OCCLUSION:
            raise ValueError(f"STS occlusion must be one of {', '.join(OCCLUSION)}, got {self.occlusion!r}")
        if self.noise not in NOISE_KINDS:
            raise ValueError(f"STS noise must be one of {', '.join(NOISE_KINDS)}, got {self.noise!r}")


def body_stream(pool: int, noise_px: float = 0.0, noise: str = "detector", tilt: bool = True) -> STSConfig:
    """The body stream of ``proposed`` and ``lifter`` from their method settings: ``sts_noise`` ('detector', the
    default, or 'none': exact 2D) and ``sts_tilt`` (true, the default: camera pitch and roll drawn from
    ``PITCH_DEG`` / ``ROLL_DEG``; false: the former stream, bodies turned about the vertical axis only)."""
    level = {} if tilt else {"pitch": (0.0, 0.0), "roll": (0.0, 0.0)}
    return STSConfig(pool=pool, noise_px=noise_px, noise=noise, **level)


def left_hands(samples: SampleSet) -> dict[str, np.ndarray]:
    """The left hands of a set with 3D ground truth, for viewpoint statistics and matching: 'hand' (n, 21, 3)
    camera-frame joints in 'openpose_hand21_left' order (metres), 'keypoints2d' (n, 21, 3) the set's 2D input of
    that hand, 'K' (n, 3, 3), 'image_size' (n, 2). Samples whose wrist, MCPs or 3D are missing are left out;
    ConfigError when the set has no such hand (e.g. STB with ``root=palm``: no wrist)."""
    op, valid = convert(samples.joints3d, samples.skeleton, "openpose_137")
    need = np.array([_LH.start + j for j in _PALM])
    if not valid[need].all():
        raise ConfigError(f"set {samples.name!r} (skeleton {samples.skeleton}): no left wrist and finger MCPs in 3D; "
                          "matching STS views needs them")  # fmt: skip
    hand = np.asarray(op[:, _LH], dtype=np.float64)  # joints3d are camera-frame (bench.samples)
    ok = np.isfinite(hand[:, list(_PALM)]).all((1, 2)) & (hand[:, list(_PALM), 2] > 1e-3).all(1)
    flags, _ = convert(samples.joints3d_valid[..., None].astype(float), samples.skeleton, "openpose_137")
    ok &= (flags[:, need, 0] > 0.5).all(1)
    if not ok.any():
        raise ConfigError(f"set {samples.name!r}: no sample with a valid left hand in front of the camera")
    return {"hand": hand[ok], "keypoints2d": samples.keypoints2d[ok][:, _LH], "K": samples.K[ok],
            "image_size": samples.image_size[ok]}  # fmt: skip


@dataclass(frozen=True)
class HandViews:
    """Target views of left hands, one per target sample: 'frame' (n, 3, 3) the palm frame in the camera
    (``palm_frame``), 'centre' (n, 3) the palm centre (mean of the wrist and the four MCPs) in the camera, metres,
    'focal' (n,) px (mean of f_x, f_y), 'principal' (n, 2) px, 'image_size' (n, 2); ``source`` names the sets."""

    frame: np.ndarray
    centre: np.ndarray
    focal: np.ndarray
    principal: np.ndarray
    image_size: np.ndarray
    source: str

    def __len__(self) -> int:
        return len(self.frame)


def hand_views(sets: SampleSet | Sequence[SampleSet]) -> HandViews:
    """The left-hand views of one or more target sets (``left_hands``), for ``STSConfig(view='match')``."""
    sets = [sets] if isinstance(sets, SampleSet) else list(sets)
    if not sets:
        raise ConfigError("STS view=match: no target set to take the views from")
    parts = [left_hands(s) for s in sets]
    hand = np.concatenate([p["hand"] for p in parts])
    K = np.concatenate([p["K"] for p in parts])
    return HandViews(frame=palm_frame(hand), centre=hand[:, list(_PALM)].mean(1), focal=(K[:, 0, 0] + K[:, 1, 1]) / 2,
                     principal=K[:, :2, 2].copy(), image_size=np.concatenate([p["image_size"] for p in parts]),
                     source="+".join(sorted({s.name for s in sets})))  # fmt: skip


def hand_view_stats(hand: np.ndarray, keypoints2d: np.ndarray, *, facing_deg: float = 60.0) -> dict[str, float]:
    """Shares of left-hand views (``left_hands``' 'hand' (n, 21, 3) camera frame and 'keypoints2d' (n, 21, 3)):
    'palm_facing' (the palm normal within ``facing_deg`` of the direction from the palm centre to the camera),
    'fingers_up' (wrist -> middle MCP points up in the image, y decreasing), 'fully_visible' (all 21 points in
    the 2D input with confidence > 0), and 'n'."""
    hand = np.asarray(hand, dtype=np.float64)
    normal = palm_frame(hand)[..., 2]
    centre = hand[:, list(_PALM)].mean(1)
    to_camera = -centre / np.linalg.norm(centre, axis=-1, keepdims=True)
    facing = np.sum(normal * to_camera, axis=-1) > np.cos(np.deg2rad(facing_deg))
    wrist, middle = hand[:, 0], hand[:, 9]
    up = middle[:, 1] / middle[:, 2] < wrist[:, 1] / wrist[:, 2]
    visible = (np.asarray(keypoints2d)[..., 2] > 0).all(1)
    return {"palm_facing": float(facing.mean()), "fingers_up": float(up.mean()), "fully_visible": float(visible.mean()),
            "n": len(hand)}  # fmt: skip


class STSStream:
    """Batches of synthetic samples: dict with 'keypoints2d' (B, 137, 3) px (the 2D input: the detector model's
    output, or exact projections with confidence 1 inside the image, ``STSConfig.noise``), 'image_size' (B, 2),
    'focal' (B,) px and 'principal' (B, 2) px (the pinhole camera that projected the sample: u = focal x / z +
    principal; the principal point is the image centre (size - 1) / 2 except for matched views, which take the
    target's), the GT SMPL-X parameters (camera frame, hands 45-D relative to the flat hand) and 'joints'
    (B, J, 3) camera-frame GT joints of ``model``'s keypoint path, and 'rotation' (B, 3, 3) the turn from the bank's
    y-up world to the camera (heading, pitch and roll; for matched views also the turn to the target view), so the
    GT global orientation is 'rotation' times the bank's.

    ``views``: the target views for ``STSConfig(view='match')`` (``hand_views``), needed then and only with
    focus 'left_hand' (the views are of left hands)."""

    FOCUS = {"body": (0, None), "left_hand": (20, (0.3, 0.8)), "right_hand": (21, (0.3, 0.8)), "face": (15, (0.3, 0.6))}

    def __init__(self, model, cfg: STSConfig, *, seed: int, device: torch.device | str, focus: str = "body",
                 views: HandViews | None = None):  # fmt: skip
        if focus not in self.FOCUS:
            raise ValueError(f"STS focus must be one of {sorted(self.FOCUS)}, got {focus!r}")
        if cfg.view == "match":
            if focus != "left_hand":
                raise ValueError(f"STS view='match' takes left-hand target views; focus {focus!r} has none")
            if views is None or len(views) == 0:
                raise ValueError("STS view='match' needs target views (methods.proposed.sts.hand_views)")
        self.model, self.cfg, self.device = model, cfg, torch.device(device)
        self.focus, self.views = focus, views
        params = ParameterBank(BankConfig()).sample(cfg.pool, seed=seed)
        self.params = {k: torch.as_tensor(v, device=self.device).reshape(cfg.pool, -1)
                       for k, v in params.items() if k != "family"}  # fmt: skip
        self.gen = torch.Generator(device="cpu").manual_seed(seed + 1)
        self.rng = np.random.default_rng([seed, 2])  # the detector-noise model's draws
        self.noise = NoiseConfig.from_kind(cfg.noise)
        self.flip = torch.tensor([[1.0, 0, 0], [0, -1.0, 0], [0, 0, -1.0]], device=self.device)
        hand = focus in ("left_hand", "right_hand")
        self.occlude = cfg.noise == "detector" and (cfg.occlusion == "all" or (cfg.occlusion == "hands" and hand))
        self.occluders: torch.Tensor | None = None  # vertex ids that can hide a point (None: the whole mesh)
        if hand:
            self.occluders = torch.as_tensor(hand_vertex_ids(model, focus.split("_")[0]), device=self.device)

    def _u(self, n: int, lo: float, hi: float) -> torch.Tensor:
        return (lo + (hi - lo) * torch.rand(n, generator=self.gen)).to(self.device)

    def _match(self, p: dict[str, torch.Tensor], local: torch.Tensor, n: int):
        """Turn and place each hand at a drawn target view: (global_orient, local joints, palm centre target,
        focal, principal, image size)."""
        v = self.views
        j = torch.randint(0, len(v), (n,), generator=self.gen).numpy()
        op, _ = to_openpose(local)
        hand = op[:, _LH].detach().cpu().double().numpy()
        R = torch.as_tensor(v.frame[j] @ palm_frame(hand).transpose(0, 2, 1), dtype=local.dtype, device=self.device)
        orient = R @ axis_angle_to_matrix(p["global_orient"])
        root = local[:, :1]  # the root joint: SMPL-X turns the body about it
        local = (local - root) @ R.transpose(-1, -2) + root
        palm = to_openpose(local)[0][:, [_LH.start + i for i in _PALM]].mean(1)
        as_t = lambda a: torch.as_tensor(a, dtype=local.dtype, device=self.device)  # noqa: E731
        return (matrix_to_axis_angle(orient), local, palm, as_t(v.centre[j]), as_t(v.focal[j]), as_t(v.principal[j]),
                as_t(v.image_size[j]))  # fmt: skip

    def _hidden(self, p: dict[str, torch.Tensor], op: torch.Tensor, f: torch.Tensor, c: torch.Tensor,
                size: torch.Tensor) -> np.ndarray:  # fmt: skip
        """(B, 137) bool: points hidden behind the mesh (the hand's own for hand close-ups, as the synthetic STB)."""
        verts = self.model.forward(vertices=True, **p).vertices
        cell = 0.01  # datasets.synth.occlusion's default, as the synthetic STB's hands
        if self.occluders is not None:
            verts = verts[:, self.occluders]
        else:  # the whole mesh thinned as the synthetic COCO-WholeBody does (4x faster, ~97% the same flags)
            verts, cell = verts[:, ::VERTEX_STRIDE], OCCLUSION_CELL_M
        K = torch.zeros(len(f), 3, 3, dtype=op.dtype)
        K[:, 0, 0] = K[:, 1, 1] = f.cpu()
        K[:, :2, 2], K[:, 2, 2] = c.cpu(), 1.0
        return occlusion(op.detach().cpu().numpy(), verts.detach().cpu().numpy(), K.numpy(), size.cpu().numpy(),
                         cell_m=cell)  # fmt: skip

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
        tilt = torch.zeros(n, 3, device=self.device)  # the camera's pitch (about its x) and roll (about its z)
        tilt[:, 0] = self._u(n, *np.deg2rad(cfg.pitch))
        roll = torch.zeros(n, 3, device=self.device)
        roll[:, 2] = self._u(n, *np.deg2rad(cfg.roll))
        camera = axis_angle_to_matrix(roll) @ axis_angle_to_matrix(tilt) @ self.flip @ axis_angle_to_matrix(heading)
        bank_orient = axis_angle_to_matrix(p["global_orient"])
        p["global_orient"] = matrix_to_axis_angle(camera @ bank_orient)
        sizes = torch.tensor(cfg.image_sizes, dtype=torch.float32)
        size = sizes[torch.randint(0, len(sizes), (n,), generator=self.gen)].to(self.device)
        f = self._u(n, *cfg.focal) * size.amax(-1)
        d = self._u(n, *cfg.depth)
        local = self.model.keypoints(**{k: v for k, v in p.items() if k != "transl"})
        pelvis = local[:, 0]
        uv0 = (torch.rand(n, 2, generator=self.gen).to(self.device) * 2 - 1) * cfg.centre_spread * size
        centre3d = torch.cat([uv0 * d[:, None] / f[:, None], d[:, None]], -1)
        c = (size - 1) / 2
        joint, depth = self.FOCUS[self.focus]
        if cfg.view == "match":  # a target view: its orientation of the palm, palm centre, intrinsics, image size
            p["global_orient"], local, pelvis, centre3d, f, c, size = self._match(p, local, n)
        elif depth is not None:  # a close-up: that joint (wrist, head) at the chosen point, close to the camera
            z = self._u(n, *depth)
            centre3d = torch.cat([uv0 * z[:, None] / f[:, None], z[:, None]], -1)
            pelvis = local[:, joint]
        p["transl"] = centre3d - pelvis
        joints = local + p["transl"][:, None]
        op, valid = to_openpose(joints)
        uv = f[:, None, None] * op[..., :2] / op[..., 2:].clamp(min=1e-3) + c[:, None]
        inside = (uv >= 0).all(-1) & (uv <= size[:, None] - 1).all(-1) & (op[..., 2] > 0.05) & valid
        rotation = axis_angle_to_matrix(p["global_orient"]) @ bank_orient.transpose(-1, -2)
        if cfg.noise_px > 0:
            half = 0.5 * (uv[:, :25].amax(1) - uv[:, :25].amin(1)).amax(-1)
            noise = torch.randn(uv.shape, generator=self.gen).to(self.device)
            uv = uv + noise * cfg.noise_px * half[:, None, None] / 100
        if cfg.noise == "none":
            kp = torch.cat([uv, inside[..., None].to(uv.dtype)], -1) * inside[..., None]
        else:  # the detector model on the points inside the image (a detector sees only the image: part sizes, so
            # the jitter's scale, from the visible points, as the synthetic Panoptic and COCO-WholeBody sets do)
            present = inside.cpu().numpy()
            hidden = np.zeros_like(present)
            if self.occlude:
                with torch.no_grad():
                    hidden = self._hidden(p, op, f, c, size)
            det = apply_noise(uv.detach().cpu().double().numpy(), present, hidden, size.cpu().numpy(), self.noise,
                              self.rng)  # fmt: skip
            kp = torch.as_tensor(det, dtype=uv.dtype, device=self.device)
        return {"keypoints2d": kp, "image_size": size, "focal": f, "principal": c, "joints": joints, "smplx": p,
                "rotation": rotation}  # fmt: skip


def camera_angles(rotation: torch.Tensor | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(pitch, roll) in degrees of STS cameras from a batch's 'rotation' (B, 3, 3) (the bank's y-up world to the
    camera): pitch = elevation of the camera (+ = above the body, looking down), roll = turn about the optical
    axis (+ = the world's up leans towards the image's +x), both from where the world's up lands in the camera."""
    up = np.asarray(rotation, dtype=np.float64)[..., :, 1]  # the world's +y in the camera frame
    pitch = np.degrees(np.arcsin(np.clip(-up[..., 2], -1.0, 1.0)))
    roll = np.degrees(np.arctan2(up[..., 0], -up[..., 1]))
    return pitch, roll
