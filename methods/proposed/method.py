"""``proposed[projection=d2s|wpp|pp]``: the two-branch whole-body regressor of Sun et al. ("Synthetic Training
for Monocular Human Mesh Recovery"), trained with the synthetic training scheme (STS) and 2D/3D supervision.

Input: the batch's openpose_137 keypoints and image size only (uncalibrated: K, R, t are never read; the image
centre is the assumed principal point, ``networks`` module docstring). Output: SMPL-X parameters in the camera
frame (hands 45-D relative to the flat hand, from 6 PCA coefficients), joints3d = the body model's keypoint path
(smplx_144, face contour on), keypoints2d = the chosen projection of the openpose_137 points.

Training (Sec. III-C, III-D, IV-B): first the partial branch alone is pre-trained for ``pretrain_iterations`` on
hand-only and face-only data (STS close-ups of a left hand, a right hand and a face, ``sts.STSStream`` focus; each
iteration one batch of each, supervised by L_pm on that part's parameters and L_3D on its keypoints centred on
their mean, with the rest of the body at its ground truth). Then the whole network: Adam (betas 0.9, 0.999),
lr 1e-4, batch 16; every ``sts_period``-th iteration is an STS batch (supervised by L_pm and L_3D only), the
others draw from the training sets: samples with SMPL-X ground truth get L_pm + L_3D + L_2D, samples without get
L_2D alone (``use_3d`` / ``use_2d`` switch the two kinds off); every batch gets L_r. Without training sets every
iteration is STS.

The camera is the chosen projection's head (``cameras``: WPP regresses (s, t_u, t_v), D2S (s, t_u, t_v, d), PP
the mean focal and (T_x, T_y, d)). ``camera_supervision``: 'none' (default; the camera parameters learn from L_2D
alone, as the paper's Table I comparison trains them) or 'gt': ``w_cam`` times the head's camera loss
(``cameras.CameraHead.camera_loss``) on every sample whose true camera is known: STS batches (the stream's focal
when it reports one, the pelvis position) and training samples with SMPL-X ground truth in the camera frame
(pelvis = body model + transl; focal = the mean of K's f_x, f_y where finite and positive).

After training, ``fit`` runs the camera head over the training pool's 2D inputs plus one fixed STS batch and
returns ``camera`` (``cameras.camera_stats``: median focal / F0, median depth, share at a clamp) and
``collapsed`` (the rule of the ``cameras`` module docstring) in its summary.

``precision`` (fp32 default, or bf16) is a predict-time setting (``bench.method`` "predict-only settings"): the
network's hidden layers run under bf16 autocast, its output layers, the decoding, the body model and the projection
in float32 (``layers`` module docstring); it is not part of the training key or the model file's hash, so a bf16
run uses the fp32-trained model.

On a GPU (``--device cuda``): the training pool is moved to the device once; its batch indices are drawn on the host
in chunks of ``DRAW_CHUNK`` iterations (:class:`PoolDraws`, the same draws as one call per iteration) and moved
once per chunk, with the host-side flags of which loss terms a batch has; the loss terms are logged as device
tensors and read only at logging steps. The one synchronisation per training step left is the non-finite-loss guard
(``if torch.isfinite(loss)``); STS batches go through the host (``sts.STSStream``'s detector-noise model is numpy).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any

import torch

from bench.body.body_model import BodyModel, load_body_model
from bench.geometry.rotations import axis_angle_to_matrix
from bench.method import MethodContext, Prediction, config_hash, format_spec, training_config
from bench.registry import check_method_spec, register_method
from bench.samples import SampleBatch, SampleSet
from bench.settings import NonNegativeFloat, NonNegativeInt, OneOf, PositiveFloat, PositiveInt, UnitFloat
from datasets.noise import NOISE_KINDS
from methods.proposed.cameras import HEADS, camera_stats
from methods.proposed.layers import PART_SLICES, PRECISIONS, autocast, missing_part_input, normalize_all
from methods.proposed.losses import (
    LossWeights,
    angle_limit_loss,
    param_loss,
    pose_rotmats,
    to_openpose,
)
from methods.proposed.networks import NetConfig, ProposedNet
from methods.proposed.sts import STSConfig, STSStream, body_stream

__all__ = ["CAMERA_SUPERVISION", "DRAW_CHUNK", "PoolDraws", "ProposedConfig", "ProposedMethod", "body_models",
           "create_proposed"]  # fmt: skip

CAMERA_SUPERVISION = ("none", "gt")
MODEL_FORMAT = 2  # 2: one camera head per projection (cameras.py) with box features; files of format 1 do not load
CAMERA_CHECK_SEED = 20_250_611  # the fixed STS batch of the end-of-training camera check (same for every run)
CAMERA_CHECK_SIZE = 256
DRAW_CHUNK = 256  # training iterations whose pool indices are drawn (on the host) and moved to the device at once


@dataclass(frozen=True)
class ProposedConfig:
    projection: Annotated[str, OneOf(tuple(HEADS))] = "d2s"
    hidden: PositiveInt = 256
    rank: PositiveInt = 128
    gcn_hidden: PositiveInt = 32
    face_hidden: PositiveInt = 16
    gcn_layers: PositiveInt = 4
    conf_threshold: UnitFloat = 0.1
    focal_scale: PositiveFloat = 1.0  # assumed focal F0 = focal_scale * max(w, h) px (camera heads' reference)
    body_half_m: PositiveFloat = 0.9  # typical half body extent, m (the camera heads' initial scale)
    # none: the camera learnt from L_2D alone (Table I); gt: + w_cam x a camera loss
    camera_supervision: Annotated[str, OneOf(CAMERA_SUPERVISION)] = "none"
    w_cam: NonNegativeFloat = 1.0  # weight of the camera loss (camera_supervision=gt)
    w_pm: NonNegativeFloat = 20.0
    w_3d: NonNegativeFloat = 60.0
    w_2d: NonNegativeFloat = 6.0
    w_r: NonNegativeFloat = 0.5
    shape_prior: NonNegativeFloat = 0.1
    lr: PositiveFloat = 1e-4
    batch_size: PositiveInt = 16
    # the most iterations, not the paper's (it states no length): the runner stops earlier by validation
    # (bench.run.validation); 0: untrained
    iterations: NonNegativeInt = 20000
    sts: bool = True
    sts_period: PositiveInt = 5  # one STS batch every sts_period iterations (Sec. IV-B); 1 = STS only
    sts_noise_px: NonNegativeFloat = 0.0
    sts_pool: PositiveInt = 4096
    sts_noise: Annotated[str, OneOf(NOISE_KINDS)] = "detector"  # STS 2D: the test sets' detector model, or exact
    sts_tilt: bool = True  # STS camera pitch and roll (methods.proposed.sts.PITCH_DEG / ROLL_DEG); false: level
    pretrain_iterations: NonNegativeInt = 1000  # partial branch alone on hand / face close-ups first; 0 = none
    use_3d: bool = True
    use_2d: bool = True
    log_every: PositiveInt = 200
    precision: Annotated[str, OneOf(PRECISIONS)] = "fp32"  # predict-time: fp32, or bf16 autocast (module docstring)


class PoolDraws:
    """Batch indices into a training pool of ``n`` samples, ``batch`` per draw, from the host generator ``gen``:
    drawn ``chunk`` draws at a time (the same numbers as one ``torch.randint(0, n, (batch,), generator=gen)`` per
    draw) and moved to ``device`` once per chunk, so a training step neither creates a host tensor nor copies one.
    ``flags`` maps names to host (n,) bool tensors; :meth:`next` gives, per name, whether any drawn sample has it
    (e.g. whether the batch holds a sample with 3D ground truth), read on the host without a device round trip."""

    def __init__(self, n: int, batch: int, gen: torch.Generator, device: torch.device,
                 flags: Mapping[str, torch.Tensor] | None = None, chunk: int = DRAW_CHUNK) -> None:  # fmt: skip
        self.n, self.batch, self.gen, self.device, self.chunk = n, batch, gen, device, chunk
        self.flags = {k: torch.as_tensor(v, device="cpu").bool() for k, v in (flags or {}).items()}
        self._index: torch.Tensor | None = None
        self._any: dict[str, list[bool]] = {}
        self._next = 0

    def next(self) -> tuple[torch.Tensor, dict[str, bool]]:
        """(batch,) indices on the device and the flags of that batch."""
        if self._index is None or self._next == len(self._index):
            host = torch.randint(0, self.n, (self.chunk, self.batch), generator=self.gen)
            self._any = {k: v[host].any(1).tolist() for k, v in self.flags.items()}
            self._index, self._next = host.to(self.device), 0
        i = self._next
        self._next += 1
        return self._index[i], {k: v[i] for k, v in self._any.items()}


_MODELS: dict[tuple, Any] = {}


def body_models(model_path: str | None, device: str) -> tuple[BodyModel, BodyModel, dict[str, torch.Tensor]]:
    """(training model: 127 joints, prediction model: 144 joints with face contour, hand PCA basis), cached.

    Both are built with ``use_pca=False, flat_hand_mean=True`` (hands 45-D relative to the flat hand, as the
    ground truth); the basis (6 components and the stored mean per hand) comes from a PCA model of the same file.
    """
    key = (model_path, str(device))
    if key not in _MODELS:
        kw = {"use_pca": False, "flat_hand_mean": True, "device": device}
        train = load_body_model(model_path, use_face_contour=False, **kw)
        pred = load_body_model(model_path, use_face_contour=True, **kw)
        pca = load_body_model(model_path, use_pca=True, num_pca_comps=6, flat_hand_mean=False, device=device).layer
        basis = {
            "left_mean": pca.left_hand_mean,
            "right_mean": pca.right_hand_mean,
            "left_components": pca.left_hand_components,
            "right_components": pca.right_hand_components,
        }
        _MODELS[key] = (train, pred, {k: v.detach().clone() for k, v in basis.items()})
    return _MODELS[key]


def gt_rotmats(smplx: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """(B, 55, 3, 3) rotations of ground-truth SMPL-X parameters (axis-angle, hands relative to the flat hand)."""
    B = smplx["betas"].shape[0]
    aa = torch.cat([smplx["global_orient"], smplx["body_pose"], smplx["jaw_pose"], smplx["leye_pose"],
                    smplx["reye_pose"], smplx["left_hand_pose"], smplx["right_hand_pose"]], 1)  # fmt: skip
    return axis_angle_to_matrix(aa.reshape(B, 55, 3))


def _keypoints(model: BodyModel, R: torch.Tensor, betas: torch.Tensor, expression: torch.Tensor) -> torch.Tensor:
    """The body model's keypoint path for rotation matrices R (B, 55, 3, 3)."""
    return model.forward(pose_rotmats=R, betas=betas, expression=expression, vertices=False).joints


class ProposedMethod:
    """The method object (``bench.method.Method``); see the module docstring."""

    family = "proposed"
    predict_settings = {"precision": "fp32"}  # bench.method: not in the training key or the model file's hash

    def __init__(self, context: MethodContext, config: ProposedConfig) -> None:
        self.context = context
        self.cfg = config
        self.device = torch.device(context.device)
        self.config = asdict(config)
        self.name = format_spec(self.family, {"projection": config.projection})
        self.train_model, self.pred_model, basis = body_models(context.model_path, context.device)
        torch.manual_seed(context.seed)
        net_cfg = NetConfig(projection=config.projection, hidden=config.hidden, rank=config.rank,
                            gcn_hidden=config.gcn_hidden, face_hidden=config.face_hidden, gcn_layers=config.gcn_layers,
                            conf_threshold=config.conf_threshold)  # fmt: skip
        self.net = ProposedNet(net_cfg, basis, focal_scale=config.focal_scale, body_half_m=config.body_half_m)
        self.net.to(self.device).eval()
        self.weights = LossWeights(config.w_pm, config.w_3d, config.w_2d, config.w_r, config.shape_prior)

    # ----------------------------------------------------------------------------------------- contract
    def supports(self, samples: SampleSet) -> str | None:
        return missing_part_input(samples, "body", self.cfg.conf_threshold, "the global branch needs BODY_25 2D input")

    def _pose(self, out: dict[str, torch.Tensor], model: BodyModel, R: torch.Tensor | None = None) -> torch.Tensor:
        """Keypoint-path joints (B, 127|144, 3) of the decoded outputs; R: the (B, 55, 3, 3) rotations when
        already built."""
        if R is None:
            R = pose_rotmats(out["R_glob"], out["R_body"], out["jaw_pose"], out["left_hand_pose"],
                             out["right_hand_pose"])  # fmt: skip
        return _keypoints(model, R, out["betas"], out["expression"])

    @torch.inference_mode()
    def predict(self, batch: SampleBatch) -> Prediction:
        """Run under ``torch.inference_mode`` (~0.6 ms less than ``no_grad`` at batch 1): the returned tensors are
        inference tensors; ``.clone()`` them before using them in autograd (e.g. as a fitting initialisation).
        A caller's autocast does not reach it: only ``precision`` decides (module docstring)."""
        with autocast(self.device, "fp32"):
            return self._predict(batch)

    def _predict(self, batch: SampleBatch) -> Prediction:
        if self.net.training:  # walking the module tree costs ~0.4 ms per call at batch 1
            self.net.eval()
        kp = batch.keypoints2d.to(self.device, torch.float32)
        out = self.net(kp, batch.image_size.to(self.device), self.cfg.precision)  # decoded in float32 (networks)
        local = self._pose(out, self.pred_model)
        pelvis = local[:, :1]
        rel = local - pelvis
        joints = rel + out["centre3d"][:, None]
        op, _ = to_openpose(rel)
        uv = self.net.camera.project(op, out)
        B = kp.shape[0]
        zeros3 = torch.zeros(B, 3, device=self.device)
        params = {**self.net.axis_angle(out), "betas": out["betas"], "expression": out["expression"],
                  "jaw_pose": out["jaw_pose"], "leye_pose": zeros3, "reye_pose": zeros3.clone(),
                  "left_hand_pose": out["left_hand_pose"], "right_hand_pose": out["right_hand_pose"],
                  "transl": out["centre3d"] - pelvis[:, 0]}  # fmt: skip
        failed = ~(torch.isfinite(joints).flatten(1).all(1) & torch.isfinite(uv).flatten(1).all(1))
        camera = {"type": self.cfg.projection, "cam": out["cam"], "focal": out["focal"], "principal": out["principal"]}
        return Prediction(params=params, joints3d=joints, keypoints2d=uv, camera=camera, failed=failed)

    def save(self, path: Any) -> None:
        data = {"family": self.family, "format": MODEL_FORMAT, "config": training_config(self),
                "config_hash": config_hash(training_config(self)), "state_dict": self.net.state_dict()}  # fmt: skip
        torch.save(data, Path(path))

    def load(self, path: Any) -> None:
        data = torch.load(Path(path), map_location=self.device, weights_only=True)
        if data.get("format", 1) != MODEL_FORMAT:
            raise ValueError(f"{path}: a proposed model file of format {data.get('format', 1)}, written before the "
                             f"per-projection camera heads (format {MODEL_FORMAT}); its weights cannot be loaded: "
                             f"train the method again")  # fmt: skip
        mine = config_hash(training_config(self))  # predict-only settings (precision) apart: bench.method
        if data.get("config_hash") != mine:
            raise ValueError(f"{path}: config hash {data.get('config_hash')} (config {data.get('config')}) differs "
                             f"from this method's {mine} ({training_config(self)})")  # fmt: skip
        self.net.load_state_dict(data["state_dict"])

    # ----------------------------------------------------------------------------------------- training
    def losses(self, kp, image_size, smplx, w3d, w2d, gt_joints=None, camera=None, *, any3d: bool | None = None,
               any2d: bool | None = None, any_camera: bool | None = None) -> tuple[torch.Tensor, dict]:  # fmt: skip
        """Weighted loss of one batch (Sec. III-C): ``smplx`` GT dict or None; w3d/w2d (B,) per-sample weights of
        the 3D terms (L_pm, L_3D) and of the 2D term; ``gt_joints`` (B, 127, 3) GT keypoint-path joints in the
        camera frame when already known (STS), else computed from ``smplx`` (with its transl). ``camera``: the
        true camera for ``camera_supervision=gt``, dict 'focal' (B,) px (NaN: unknown), 'principal' (B, 2) px and
        'weight' (B,) (0: no true camera); the true pelvis comes from the ground-truth joints. ``any3d`` /
        ``any2d`` / ``any_camera``: whether any w3d / w2d / camera weight is non-zero, when the caller knows it on the
        host (the training loop: no device synchronisation); None reads it from the tensor. The logged terms are
        detached 0-d tensors (read them at logging steps only: reading one waits for the device)."""
        out = self.net(kp, image_size)
        R = pose_rotmats(out["R_glob"], out["R_body"], out["jaw_pose"], out["left_hand_pose"], out["right_hand_pose"])
        local = self._pose(out, self.train_model, R)
        rel = local - local[:, :1]
        W = self.weights
        total = torch.zeros((), device=self.device)
        logs: dict[str, torch.Tensor] = {}
        any3d = bool(w3d.any()) if any3d is None else any3d
        supervise_camera = (self.cfg.camera_supervision == "gt" and camera is not None and smplx is not None
                            and (bool(camera["weight"].any()) if any_camera is None else any_camera))  # fmt: skip
        if smplx is not None and (any3d or supervise_camera):
            with torch.no_grad():
                gR = gt_rotmats(smplx)
                g = gt_joints
                if g is None:
                    g = _keypoints(self.train_model, gR, smplx["betas"], smplx["expression"])
                    g = g + smplx["transl"][:, None]
                pelvis = g[:, 0]
                g = g - g[:, :1]
            if any3d:
                vec = torch.cat([out["betas"], out["expression"]], 1)
                gvec = torch.cat([smplx["betas"], smplx["expression"]], 1)
                l_pm = param_loss(R, gR, vec, gvec, w3d)
                l_3d = ((rel - g).square().sum(-1).mean(-1) * w3d).sum() / w3d.sum().clamp(min=1.0)
                total = total + W.pm * l_pm + W.j3d * l_3d
                logs.update(pm=l_pm.detach(), j3d=l_3d.detach())
            if supervise_camera:
                wc = camera["weight"]
                pelvis = torch.where(wc[:, None] > 0, pelvis, torch.nan)  # rows without a true camera: masked
                per = self.net.camera.camera_loss(out, camera["focal"], pelvis, camera["principal"])
                l_cam = (per * wc).sum() / wc.sum().clamp(min=1.0)
                total = total + self.cfg.w_cam * l_cam
                logs["cam"] = l_cam.detach()
        if bool(w2d.any()) if any2d is None else any2d:
            op, valid = to_openpose(rel)
            uv = self.net.camera.project(op, out)
            conf = torch.nan_to_num(kp[..., 2]).clamp(min=0) * valid * torch.isfinite(kp[..., :2]).all(-1)
            conf = conf * (conf > self.cfg.conf_threshold) * w2d[:, None]
            err = (uv - torch.nan_to_num(kp[..., :2])).abs().sum(-1) / out["body_half"][:, None]
            err = torch.where(conf > 0, err, torch.zeros_like(err))
            l_2d = (err * conf).sum() / conf.sum().clamp(min=1.0)
            total = total + W.j2d * l_2d
            logs["j2d"] = l_2d.detach()
        l_r = angle_limit_loss(out["R_body"]).mean() + W.shape_prior * out["betas"].square().mean()
        total = total + W.r * l_r
        logs["r"] = l_r.detach()
        logs["total"] = total.detach()
        return total, logs

    def _pool(self, train_sets: Mapping[str, SampleSet]) -> dict[str, Any] | None:
        sets = [s for s in train_sets.values() if len(s) and self.supports(s) is None]
        if not sets:
            return None
        dev = self.device
        kp = torch.cat([torch.as_tensor(s.keypoints2d) for s in sets]).to(dev)
        size = torch.cat([torch.as_tensor(s.image_size) for s in sets]).to(dev)
        has = torch.cat([torch.as_tensor(s.smplx_valid) for s in sets]).to(dev)
        smplx = {}
        for key, width in (("betas", 10), ("global_orient", 3), ("body_pose", 63), ("left_hand_pose", 45),
                           ("right_hand_pose", 45), ("jaw_pose", 3), ("leye_pose", 3), ("reye_pose", 3),
                           ("expression", 10), ("transl", 3)):  # fmt: skip
            smplx[key] = torch.cat([torch.as_tensor(s.smplx[key]) if s.smplx is not None
                                    else torch.zeros(len(s), width) for s in sets]).to(dev)  # fmt: skip
        K = torch.cat([torch.as_tensor(s.K) for s in sets]).to(dev)
        focal = (K[:, 0, 0] + K[:, 1, 1]) / 2
        focal = torch.where(torch.isfinite(focal) & (focal > 0), focal, torch.nan).float()
        principal = K[:, :2, 2]
        principal = torch.where(torch.isfinite(principal), principal, (size - 1) / 2).float()
        w3d = has.float() if self.cfg.use_3d else torch.zeros_like(has, dtype=torch.float32)
        w2d = torch.full_like(w3d, 1.0 if self.cfg.use_2d else 0.0)
        keep = (w3d > 0) | (w2d > 0)
        if not bool(keep.any()):
            return None
        idx = torch.nonzero(keep).flatten()
        host = {"w3d": w3d[idx] > 0, "w2d": w2d[idx] > 0, "camera": has[idx]}  # for PoolDraws (read once)
        return {"kp": kp[idx], "size": size[idx], "smplx": {k: v[idx] for k, v in smplx.items()},
                "w3d": w3d[idx], "w2d": w2d[idx], "host": {k: v.cpu() for k, v in host.items()},
                "camera": {"focal": focal[idx], "principal": principal[idx], "weight": has[idx].float()}}  # fmt: skip

    def partial_losses(self, s: Mapping[str, Any], focus: str) -> torch.Tensor:
        """Pre-training loss of one part of the partial branch on an STS close-up batch ``s`` (``focus``
        'left_hand', 'right_hand' or 'face'): w_pm L_pm on the part's parameters (rotations as matrices) + w_3D
        L_3D on its OpenPose keypoints centred on their mean; the other parameters are the ground truth."""
        kp, gt = s["keypoints2d"], s["smplx"]
        B = kp.shape[0]
        normed, mask, _, _ = normalize_all(kp, self.cfg.conf_threshold)
        x = torch.cat([normed, mask[..., None].to(normed.dtype)], -1)
        params = {k: v for k, v in gt.items() if k != "transl"}
        if focus == "face":
            psi = self.net.face.forward_nodes(x[3, : PART_SLICES["face"].stop - PART_SLICES["face"].start])
            expression, jaw = psi[:, :10], psi[:, 10:13]
            l_pm = (expression - gt["expression"]).square().mean() + (
                axis_angle_to_matrix(jaw) - axis_angle_to_matrix(gt["jaw_pose"])
            ).square().mean()
            params.update(expression=expression, jaw_pose=jaw)
        else:
            side = focus.split("_")[0]
            part = 1 if side == "left" else 2
            pose = self.net.hand_pose(getattr(self.net, focus).forward_nodes(x[part, :21]), side)
            key = f"{side}_hand_pose"
            l_pm = axis_angle_to_matrix(pose.reshape(B, 15, 3)) - axis_angle_to_matrix(gt[key].reshape(B, 15, 3))
            l_pm = l_pm.square().mean()
            params[key] = pose
        sl = PART_SLICES[focus]
        pred, valid = to_openpose(self.train_model.keypoints(**params))
        target, _ = to_openpose(s["joints"])
        keep = valid[sl].to(pred.dtype)[None, :, None]
        pred, target = pred[:, sl] * keep, target[:, sl] * keep
        n = keep.sum()
        centre = lambda p: p - p.sum(1, keepdim=True) / n  # noqa: E731  (mean over the part's valid points)
        l_3d = ((centre(pred) - centre(target)) * keep).square().sum(-1).sum(1).mean() / n
        return self.weights.pm * l_pm + self.weights.j3d * l_3d

    def pretrain_partial(self, iterations: int) -> dict[str, Any]:
        """Pre-train the partial branch (both hand GCNs and the face network) alone (module docstring)."""
        cfg = self.cfg
        focuses = ("left_hand", "right_hand", "face")
        streams = {f: STSStream(self.train_model, body_stream(cfg.sts_pool, 0.0, cfg.sts_noise, cfg.sts_tilt),
                                seed=self.context.seed + 101 + i, device=self.device, focus=f)
                   for i, f in enumerate(focuses)}  # fmt: skip
        params = [p for m in (self.net.left_hand, self.net.right_hand, self.net.face) for p in m.parameters()]
        opt = torch.optim.Adam(params, lr=cfg.lr, betas=(0.9, 0.999), fused=True)
        self.net.train()
        start, history = time.perf_counter(), []
        for it in range(iterations):
            loss = sum(self.partial_losses(streams[f].sample(cfg.batch_size), f) for f in focuses)
            opt.zero_grad(set_to_none=True)
            if torch.isfinite(loss):  # the step's one synchronisation: a non-finite loss must not reach the weights
                loss.backward()
                opt.step()
            if (it + 1) % cfg.log_every == 0 or it + 1 == iterations:
                value = float(loss.detach())
                elapsed = time.perf_counter() - start
                history.append({"iteration": it + 1, "total": value,
                                "samples_per_s": (it + 1) * cfg.batch_size * len(focuses) / max(elapsed, 1e-9)})
                if self.context.progress is not None:
                    eta = elapsed / (it + 1) * (iterations - it - 1)
                    self.context.progress(f"{self.name}: pre-training the partial branch: it {it + 1}/{iterations} "
                                          f"loss {value:.4f} ETA {eta:.0f} s")  # fmt: skip
        self.net.eval()
        return {"iterations": iterations, "seconds": time.perf_counter() - start, "history": history}

    def fit(self, train_sets: Mapping[str, SampleSet]) -> dict[str, Any]:
        cfg = self.cfg
        pretrain = self.pretrain_partial(cfg.pretrain_iterations) if cfg.pretrain_iterations > 0 else None
        pool = self._pool(train_sets)
        sts = STSStream(self.train_model, body_stream(cfg.sts_pool, cfg.sts_noise_px, cfg.sts_noise, cfg.sts_tilt),
                        seed=self.context.seed, device=self.device) if cfg.sts or pool is None else None  # fmt: skip
        gen = torch.Generator(device="cpu").manual_seed(self.context.seed + 7)
        draws = None if pool is None else PoolDraws(len(pool["kp"]), cfg.batch_size, gen, self.device, pool["host"])
        opt = torch.optim.Adam(self.net.parameters(), lr=cfg.lr, betas=(0.9, 0.999), fused=True)
        self.net.train()
        history, start, samples = [], time.perf_counter(), 0
        B = cfg.batch_size
        for it in range(cfg.iterations):
            use_sts = sts is not None and (pool is None or it % max(cfg.sts_period, 1) == 0)
            if use_sts:
                s = sts.sample(B)
                ones = torch.ones(B, device=self.device)
                loss, logs = self.losses(s["keypoints2d"], s["image_size"], s["smplx"], ones, torch.zeros_like(ones),
                                         s["joints"], camera=self._sts_camera(s), any3d=True, any2d=False,
                                         any_camera=True)  # fmt: skip
            else:
                i, has = draws.next()
                loss, logs = self.losses(pool["kp"][i], pool["size"][i], {k: v[i] for k, v in pool["smplx"].items()},
                                         pool["w3d"][i], pool["w2d"][i],
                                         camera={k: v[i] for k, v in pool["camera"].items()}, any3d=has["w3d"],
                                         any2d=has["w2d"], any_camera=has["camera"])  # fmt: skip
            opt.zero_grad(set_to_none=True)
            if torch.isfinite(loss):  # the step's one synchronisation: a non-finite loss must not reach the weights
                loss.backward()
                opt.step()
            samples += B
            if (it + 1) % cfg.log_every == 0 or it + 1 == cfg.iterations:
                elapsed = time.perf_counter() - start
                rate = samples / max(elapsed, 1e-9)
                eta = (cfg.iterations - it - 1) * B / max(rate, 1e-9)
                logs = {k: float(v) for k, v in logs.items()}  # a logging step: the loss terms read from the device
                history.append({"iteration": it + 1, **logs, "samples_per_s": rate})
                if self.context.progress is not None:
                    self.context.progress(f"{self.name}: it {it + 1}/{cfg.iterations} loss {logs['total']:.4f} "
                                          f"{rate:.0f} samples/s ETA {eta:.0f} s")  # fmt: skip
                if self.context.checkpoint is not None:
                    stop = self.context.checkpoint(it + 1)
                    self.net.train()
                    if stop:  # the caller's training-length rule (bench.run.validation)
                        break
        self.net.eval()
        seconds = time.perf_counter() - start
        camera = self.camera_check(pool)
        return {"iterations": cfg.iterations, "seconds": seconds, "samples_per_s": samples / max(seconds, 1e-9),
                "final_loss": history[-1]["total"] if history else math.nan, "history": history,
                "train_samples": 0 if pool is None else len(pool["kp"]), "pretrain": pretrain, "camera": camera,
                "collapsed": camera["collapsed"]}  # fmt: skip

    @staticmethod
    def _sts_camera(s: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The true camera of an STS batch for :meth:`losses`: its focal and principal point when the stream reports
        them (else NaN, and the image centre)."""
        size = s["image_size"]
        focal = s.get("focal")
        if focal is None:
            focal = torch.full_like(size[:, 0], torch.nan, dtype=torch.float32)
        principal = s.get("principal")
        if principal is None:
            principal = (size - 1) / 2
        return {"focal": focal, "principal": principal, "weight": torch.ones_like(size[:, 0], dtype=torch.float32)}

    @torch.no_grad()
    def camera_check(self, pool: Mapping[str, Any] | None, chunk: int = 4096) -> dict[str, Any]:
        """``cameras.camera_stats`` of the trained head over the pool's 2D inputs (None: none) plus one fixed STS
        batch (``CAMERA_CHECK_SEED``, the same in every run), with ``collapsed`` by the ``cameras`` rule."""
        self.net.eval()
        parts = []
        if pool is not None:
            for i in range(0, len(pool["kp"]), chunk):
                parts.append(self.net.forward_camera(pool["kp"][i : i + chunk], pool["size"][i : i + chunk]))
        s = STSStream(self.train_model, STSConfig(pool=CAMERA_CHECK_SIZE), seed=CAMERA_CHECK_SEED,
                      device=self.device).sample(CAMERA_CHECK_SIZE)  # fmt: skip
        parts.append(self.net.forward_camera(s["keypoints2d"], s["image_size"]))
        decoded = {k: torch.cat([p[k] for p in parts]) for k in ("focal", "focal0", "centre3d", "cam_raw")}
        return camera_stats(self.net.camera, decoded)

    @torch.no_grad()
    def root_relative_error(self, kp: torch.Tensor, image_size: torch.Tensor, joints: torch.Tensor) -> float:
        """Mean pelvis-aligned joint error (m) of the 127 keypoint-path joints against camera-frame ``joints``."""
        self.net.eval()
        out = self.net(kp, image_size)
        local = self._pose(out, self.train_model)
        rel = local - local[:, :1]
        g = joints - joints[:, :1]
        return float((rel - g).norm(dim=-1).mean())


@register_method(
    "proposed",
    description="Sun et al. two-branch regressor (global MLP + hand/face GCN), STS training",
    config=ProposedConfig,
)
def create_proposed(context: MethodContext | None = None, **params: Any) -> ProposedMethod:
    """Factory for ``proposed[k=v,...]``: ``params`` are :class:`ProposedConfig` fields."""
    cfg = ProposedConfig(**check_method_spec("proposed", **params)[1])  # types, choices and ranges declared above
    return ProposedMethod(context or MethodContext(), cfg)
