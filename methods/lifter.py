"""``lifter``: the 2D->3D lifting network of Martinez et al. 2017 ("A simple yet effective baseline for 3d human
pose estimation"), a competence anchor for ``proposed``: joints only, no mesh.

Written from the paper's description: the input 2D joints go through a linear layer to ``width`` (1024) units,
then ``blocks`` (2) residual blocks, each two times [linear ``width``, batch norm, ReLU, dropout 0.5] with the
block's input added to its output, then a linear layer to the root-relative 3D joints (the first layer also has
batch norm, ReLU and dropout, as in the paper's figure). Linear weights start from Kaiming initialisation; with
``max_norm`` (default on, as the paper) every linear layer's weight rows are renormalised to at most norm 1 after
each step. Adam (lr 1e-3) with exponential decay lr * ``lr_decay`` ** (step / ``lr_decay_steps``); the paper states
only "exponential decay", the default 0.96 per 100,000 steps is the authors' published setting. L2 loss on the
standardised 3D output (each coordinate minus its training mean over its training s.d., both kept with the
weights), as the paper standardises its targets.

Input (deviation: the paper's 16 H36M joints, z-scored): the BODY_25 part of the batch's openpose_137 keypoints,
scale-normalised by the same layer as ``proposed`` (``methods.proposed.layers.normalize_all``: valid points minus
their mean over half the larger side of their box), and the confidence mask (1 where the point is used), 75
numbers. Output: ``LIFTED_JOINTS``, the SMPL-X output joints the body skeletons of the benchmark are formed of
(BODY_25, H36M 17, Panoptic 19, LSP 14: ``bench.body.regressors``), relative to the pelvis, camera-frame axes.

Training data: as ``proposed`` (``methods.proposed.method``): the ``train_sets`` samples with SMPL-X ground truth,
whose targets are the body model's keypoint path of the ground-truth parameters (root-relative); 2D-only samples
cannot supervise a lifter and are skipped (counted in the fit summary as ``skipped_2d_only``). With ``sts`` every
``sts_period``-th batch is an STS batch (``methods.proposed.sts.STSStream``, body focus), as ``proposed``; without
training sets every batch is STS.

Prediction (``bench.method``, joints-only): ``params=None``, ``keypoints2d=None``; ``joints3d`` (B, 144, 3) holds
the lifted joints, NaN elsewhere. Depth (MPJPE is root-aligned; this only places the body): the assumed camera
(focal ``focal_scale`` * max(w, h) px, principal point the image centre, as ``proposed``) and a weak-perspective
estimate: depth = focal * (half the larger side of the x-y box of the predicted 3D body points that are detected)
/ (the same half-size of their 2D detections); the mean of those 3D points is put on the ray through the mean of
the 2D points at that depth (``default_depth_m`` when a sample has fewer than two body detections).

``precision`` (fp32 default, or bf16): a predict-time setting, as ``proposed``'s (``methods.proposed.layers``): the
hidden layers under bf16 autocast, the output layer, the de-standardisation and the depth rule in float32; not
part of the training key or the model file's hash. Training draws its pool batches as ``proposed`` does
(``methods.proposed.method.PoolDraws``); its one synchronisation per step is the non-finite-loss guard.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import torch
from torch import nn

from bench.body.regressors import formed_from, regressor_matrix
from bench.body.skeletons import get_skeleton
from bench.method import MethodContext, Prediction, config_hash, format_spec, training_config
from bench.registry import check_method_spec, register_method
from bench.samples import SampleBatch, SampleSet
from bench.settings import NonNegativeInt, OneOf, PositiveFloat, PositiveInt, Range, UnitFloat
from datasets.noise import NOISE_KINDS
from methods.proposed.layers import PART_SLICES, PRECISIONS, autocast, in_fp32, missing_part_input, normalize_all
from methods.proposed.method import PoolDraws, body_models, gt_rotmats
from methods.proposed.sts import STSStream, body_stream

__all__ = ["LIFTED_JOINTS", "LifterConfig", "LifterMethod", "LiftingMLP", "create_lifter"]

_BODY_SKELETONS = ("openpose_body25", "h36m_17", "panoptic_joints19", "lsp_14")  # what the lifted joints must form
_ROOT = "pelvis"
# the ground-truth SMPL-X fields the keypoint path needs
_GT_KEYS = ("betas", "global_orient", "body_pose", "left_hand_pose", "right_hand_pose", "jaw_pose", "leye_pose",
            "reye_pose", "expression")  # fmt: skip


def _lifted_joints() -> tuple[str, ...]:
    """The SMPL-X output joints every skeleton of ``_BODY_SKELETONS`` is formed of, pelvis first."""
    smplx = get_skeleton("smplx_127").joints
    names = [_ROOT]
    for skeleton in _BODY_SKELETONS:
        W, valid = regressor_matrix(skeleton, "smplx_127")
        for row in W[valid]:
            names += [smplx[i] for i in np.flatnonzero(row) if smplx[i] not in names]
    return tuple(names)


LIFTED_JOINTS = _lifted_joints()
_BODY25 = get_skeleton("openpose_body25").joints
_BODY = PART_SLICES["body"]


@dataclass(frozen=True)
class LifterConfig:
    width: PositiveInt = 1024
    blocks: NonNegativeInt = 2
    dropout: Annotated[float, Range(0, 1, open_max=True)] = 0.5
    max_norm: bool = True  # weight rows of every linear layer renormalised to <= 1 after each step (the paper's)
    lr: PositiveFloat = 1e-3
    lr_decay: Annotated[float, Range(0, 1, open_min=True)] = 0.96  # lr * lr_decay ** (step / lr_decay_steps)
    lr_decay_steps: PositiveInt = 100000
    batch_size: Annotated[int, Range(min=2)] = 64  # >= 2: batch norm
    # the most iterations (320,000 samples at batch 64: proposed's 20,000 x 16); the runner stops earlier by
    # validation (bench.run.validation); 0: untrained
    iterations: NonNegativeInt = 5000
    sts: bool = True
    sts_period: PositiveInt = 5  # one STS batch every sts_period iterations (as proposed); 1 = STS only
    sts_noise_px: Annotated[float, Range(min=0)] = 0.0
    sts_pool: PositiveInt = 4096
    sts_noise: Annotated[str, OneOf(NOISE_KINDS)] = "detector"  # STS 2D: the test sets' detector model, or exact
    sts_tilt: bool = True  # STS camera pitch and roll (methods.proposed.sts.PITCH_DEG / ROLL_DEG); false: level
    conf_threshold: UnitFloat = 0.1
    focal_scale: PositiveFloat = 1.0  # assumed focal = focal_scale * max(w, h) px (depth of the prediction only)
    default_depth_m: PositiveFloat = 4.0  # depth of a sample with fewer than two body detections
    log_every: PositiveInt = 200
    precision: Annotated[str, OneOf(PRECISIONS)] = "fp32"  # predict-time: fp32, or bf16 autocast (module docstring)


class _Block(nn.Module):
    """Two [linear, batch norm, ReLU, dropout] layers with the input added to their output."""

    def __init__(self, width: int, dropout: float) -> None:
        super().__init__()
        self.layers = nn.Sequential(*_layer(width, width, dropout), *_layer(width, width, dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.layers(x).to(x.dtype)  # the residual stream stays float32 under bf16 autocast


def _layer(n_in: int, n_out: int, dropout: float) -> list[nn.Module]:
    return [nn.Linear(n_in, n_out), nn.BatchNorm1d(n_out), nn.ReLU(), nn.Dropout(dropout)]


class LiftingMLP(nn.Module):
    """(B, n_in) -> (B, n_out) standardised output, then de-standardised by the stored training mean and s.d.

    ``out_mean`` / ``out_std`` (n_out,) are buffers (saved with the weights), set by :meth:`set_output_stats`.
    """

    def __init__(self, n_in: int, n_out: int, width: int, blocks: int, dropout: float) -> None:
        super().__init__()
        self.stem = nn.Sequential(*_layer(n_in, width, dropout))
        self.blocks = nn.Sequential(*(_Block(width, dropout) for _ in range(blocks)))
        self.head = nn.Linear(width, n_out)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)
        self.register_buffer("out_mean", torch.zeros(n_out))
        self.register_buffer("out_std", torch.ones(n_out))

    def set_output_stats(self, targets: torch.Tensor) -> None:
        """Mean and s.d. per output coordinate of ``targets`` (N, n_out); an s.d. under 1 mm counts as 1 mm."""
        self.out_mean.copy_(targets.mean(0))
        self.out_std.copy_(targets.std(0).clamp(min=1e-3) if len(targets) > 1 else torch.ones_like(self.out_std))

    def forward_standardised(self, x: torch.Tensor) -> torch.Tensor:
        return in_fp32(self.head, self.blocks(in_fp32(self.stem, x)))  # first and last layers in float32

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_standardised(x) * self.out_std + self.out_mean

    @torch.no_grad()
    def apply_max_norm(self, limit: float = 1.0) -> None:
        """Every linear layer's weight rows (one per output unit) renormalised to L2 norm <= ``limit``."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                m.weight.copy_(torch.renorm(m.weight, p=2, dim=0, maxnorm=limit))


class LifterMethod:
    """The method object (``bench.method.Method``); see the module docstring."""

    family = "lifter"
    predict_settings = {"precision": "fp32"}  # bench.method: not in the training key or the model file's hash

    def __init__(self, context: MethodContext, config: LifterConfig) -> None:
        self.context, self.cfg = context, config
        self.device = torch.device(context.device)
        self.config = asdict(config)
        self.name = format_spec(self.family, {})
        self.train_model, _, _ = body_models(context.model_path, context.device)
        idx127 = {n: i for i, n in reversed(list(enumerate(get_skeleton("smplx_127").joints)))}
        idx144 = {n: i for i, n in reversed(list(enumerate(get_skeleton("smplx_144").joints)))}
        self.target_index = torch.tensor([idx127[n] for n in LIFTED_JOINTS], device=self.device)
        self.output_index = torch.tensor([idx144[n] for n in LIFTED_JOINTS], device=self.device)
        self.body_index = torch.tensor([LIFTED_JOINTS.index(n) for n in _BODY25], device=self.device)
        self.n_out = 3 * (len(LIFTED_JOINTS) - 1)  # the root is the origin, not predicted
        torch.manual_seed(context.seed)
        n_in = 3 * (_BODY.stop - _BODY.start)
        self.net = LiftingMLP(n_in, self.n_out, config.width, config.blocks, config.dropout).to(self.device).eval()
        if config.max_norm:
            self.net.apply_max_norm()

    # ----------------------------------------------------------------------------------------- contract
    def _no_input(self, samples: SampleSet) -> str | None:
        return missing_part_input(samples, "body", self.cfg.conf_threshold, "the lifter's input is BODY_25 2D")

    def supports(self, samples: SampleSet) -> str | None:
        """None when the set has body 2D input and its root and scored joints can be formed from the lifted
        joints; else the reason."""
        if reason := self._no_input(samples):
            return reason
        skeleton = get_skeleton(samples.skeleton)
        lifted = np.zeros(len(get_skeleton("smplx_144").joints), dtype=bool)
        lifted[self.output_index.cpu().numpy()] = True
        formed = formed_from(skeleton, lifted)
        needed = [*samples.info.get("root_joints", ()), *samples.info.get("eval_joints", skeleton.joints)]
        missing = sorted({n for n in needed if not formed[skeleton.joints.index(n)]})
        if missing:
            return f"{samples.name}: the lifter predicts body joints only; cannot form {missing}"
        return None

    def _inputs(self, kp: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, 75) network input (normalised BODY_25 x, y and the mask), and the body part's (B, 25) mask,
        (B, 2) centre px and (B,) half-size px (``normalize_all``)."""
        normed, mask, centre, half = normalize_all(kp, self.cfg.conf_threshold)
        n = _BODY.stop - _BODY.start
        xy = normed[0, :n].transpose(0, 1)  # (B, 25, 2)
        m = mask[0, :n].transpose(0, 1)  # (B, 25)
        x = torch.cat([xy, m[..., None].to(xy.dtype)], -1).flatten(1)
        return x, m, centre[0], half[0]

    def _root_relative(self, x: torch.Tensor, precision: str = "fp32") -> torch.Tensor:
        """(B, len(LIFTED_JOINTS), 3) root-relative joints, m, from the network input (float32 whatever the
        ``precision``)."""
        with autocast(x.device, precision):
            out = self.net(x)
        out = out.view(x.shape[0], -1, 3)
        return torch.cat([torch.zeros_like(out[:, :1]), out], 1)

    @torch.inference_mode()
    def predict(self, batch: SampleBatch) -> Prediction:
        """A caller's autocast does not reach it: only ``precision`` decides (module docstring)."""
        with autocast(self.device, "fp32"):
            return self._predict(batch)

    def _predict(self, batch: SampleBatch) -> Prediction:
        if self.net.training:
            self.net.eval()
        kp = batch.keypoints2d.to(self.device, torch.float32)
        x, mask, centre2d, half2d = self._inputs(kp)
        rel = self._root_relative(x, self.cfg.precision)
        size = batch.image_size.to(self.device, torch.float32)
        c, f = (size - 1) / 2, self.cfg.focal_scale * size.amax(-1)
        body = rel[:, self.body_index]  # (B, 25, 3), BODY_25 order
        m = mask[..., None].to(body.dtype)
        count = m.sum(1).clamp(min=1.0)
        mean3d = (body * m).sum(1) / count
        big = torch.finfo(body.dtype).max
        hi = torch.where(mask[..., None], body[..., :2], -big).amax(1)
        lo = torch.where(mask[..., None], body[..., :2], big).amin(1)
        half3d = 0.5 * (hi - lo).amax(-1)
        ok = mask.sum(1) >= 2
        depth = torch.where(ok, f * half3d / half2d.clamp(min=1e-6), self.cfg.default_depth_m).clamp(0.3, 100.0)
        centre2d = torch.where(ok[:, None], centre2d, c)
        anchor = torch.cat([(centre2d - c) * (depth / f)[:, None], depth[:, None]], -1)
        lifted = rel - mean3d[:, None] + anchor[:, None]
        B = kp.shape[0]
        joints = torch.full((B, 144, 3), torch.nan, device=self.device)
        joints[:, self.output_index] = lifted
        failed = ~torch.isfinite(lifted).flatten(1).all(1)
        camera = {"type": "lifted", "focal": f, "principal": c, "depth": depth}
        return Prediction(params=None, joints3d=joints, keypoints2d=None, camera=camera, failed=failed)

    def save(self, path: Any) -> None:
        config = training_config(self)  # predict-only settings (precision) apart: bench.method
        torch.save({"family": self.family, "config": config, "config_hash": config_hash(config),
                    "state_dict": self.net.state_dict()}, Path(path))  # fmt: skip

    def load(self, path: Any) -> None:
        data = torch.load(Path(path), map_location=self.device, weights_only=True)
        mine = config_hash(training_config(self))
        if data.get("config_hash") != mine:
            raise ValueError(f"{path}: config hash {data.get('config_hash')} (config {data.get('config')}) differs "
                             f"from this method's {mine} ({training_config(self)})")  # fmt: skip
        self.net.load_state_dict(data["state_dict"])

    # ----------------------------------------------------------------------------------------- training
    @torch.no_grad()
    def targets(self, smplx: Mapping[str, torch.Tensor], chunk: int = 1024) -> torch.Tensor:
        """(N, n_out) root-relative lifted joints of ground-truth SMPL-X parameters (keypoint path), m."""
        out = []
        for start in range(0, len(smplx["betas"]), chunk):
            part = {k: v[start : start + chunk] for k, v in smplx.items()}
            joints = self.train_model.forward(pose_rotmats=gt_rotmats(part), betas=part["betas"],
                                              expression=part["expression"], vertices=False).joints  # fmt: skip
            out.append(self._flat_targets(joints))
        return torch.cat(out) if out else torch.zeros(0, self.n_out, device=self.device)

    def _flat_targets(self, joints: torch.Tensor) -> torch.Tensor:
        """(B, 127, 3) keypoint-path joints -> (B, n_out) lifted joints minus the root, root dropped."""
        lifted = joints[:, self.target_index]
        return (lifted[:, 1:] - lifted[:, :1]).flatten(1)

    def _pool(self, train_sets: Mapping[str, SampleSet]) -> tuple[dict[str, torch.Tensor] | None, int]:
        """The 3D-supervised training samples ({'x': (N, 75), 'y': (N, n_out)}, None without any) and how many
        2D-only samples were skipped."""
        sets = [s for s in train_sets.values() if len(s) and self._no_input(s) is None]
        skipped = sum(int((~np.asarray(s.smplx_valid)).sum()) if s.smplx is not None else len(s) for s in sets)
        sets = [s for s in sets if s.smplx is not None and np.asarray(s.smplx_valid).any()]
        if not sets:
            return None, skipped
        dev = self.device
        keep = [torch.as_tensor(np.asarray(s.smplx_valid)) for s in sets]
        kp = torch.cat([torch.as_tensor(s.keypoints2d)[k] for s, k in zip(sets, keep, strict=True)]).to(dev)
        smplx = {key: torch.cat([torch.as_tensor(s.smplx[key])[k] for s, k in zip(sets, keep, strict=True)])
                 .to(dev, torch.float32) for key in _GT_KEYS}  # fmt: skip
        return {"x": self._inputs(kp.to(torch.float32))[0], "y": self.targets(smplx)}, skipped

    def _sts_batch(self, sts: STSStream, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        s = sts.sample(n)
        return self._inputs(s["keypoints2d"])[0], self._flat_targets(s["joints"])

    def fit(self, train_sets: Mapping[str, SampleSet]) -> dict[str, Any]:
        cfg, say = self.cfg, self.context.progress or (lambda message: None)
        pool, skipped = self._pool(train_sets)
        if skipped:
            say(f"{self.name}: {skipped} training samples without SMPL-X ground truth skipped (2D-only samples "
                "cannot supervise a lifter)")  # fmt: skip
        sts = None
        if cfg.sts or pool is None:
            sts = STSStream(self.train_model, body_stream(cfg.sts_pool, cfg.sts_noise_px, cfg.sts_noise, cfg.sts_tilt),
                            seed=self.context.seed, device=self.device)  # fmt: skip
        torch.manual_seed(self.context.seed + 3)  # dropout draws: the same seed trains the same weights
        gen = torch.Generator(device="cpu").manual_seed(self.context.seed + 7)
        draws = None if pool is None else PoolDraws(len(pool["x"]), cfg.batch_size, gen, self.device)
        with torch.no_grad():  # output standardisation from the training targets (the pool and one STS draw)
            stats = [pool["y"]] if pool is not None else []
            if sts is not None:
                stats.append(self._sts_batch(sts, max(cfg.batch_size, 1024))[1])
            self.net.set_output_stats(torch.cat(stats))
        opt = torch.optim.Adam(self.net.parameters(), lr=cfg.lr)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: cfg.lr_decay ** (step / cfg.lr_decay_steps))
        self.net.train()
        history, start, B = [], time.perf_counter(), cfg.batch_size
        for it in range(cfg.iterations):
            if sts is not None and (pool is None or it % cfg.sts_period == 0):
                x, y = self._sts_batch(sts, B)
            else:
                i = draws.next()[0]
                x, y = pool["x"][i], pool["y"][i]
            loss = (self.net.forward_standardised(x) - (y - self.net.out_mean) / self.net.out_std).square().mean()
            opt.zero_grad(set_to_none=True)
            if torch.isfinite(loss):  # the step's one synchronisation: a non-finite loss must not reach the weights
                loss.backward()
                opt.step()
                if cfg.max_norm:
                    self.net.apply_max_norm()
            sched.step()
            if (it + 1) % cfg.log_every == 0 or it + 1 == cfg.iterations:
                elapsed = time.perf_counter() - start
                rate = (it + 1) * B / max(elapsed, 1e-9)
                value = float(loss.detach())
                history.append({"iteration": it + 1, "total": value, "lr": sched.get_last_lr()[0],
                                "samples_per_s": rate})  # fmt: skip
                say(f"{self.name}: it {it + 1}/{cfg.iterations} loss {value:.4f} {rate:.0f} samples/s "
                    f"ETA {(cfg.iterations - it - 1) * B / max(rate, 1e-9):.0f} s")  # fmt: skip
                if self.context.checkpoint is not None:
                    stop = self.context.checkpoint(it + 1)
                    self.net.train()
                    if stop:  # the caller's training-length rule (bench.run.validation)
                        break
        self.net.eval()
        seconds = time.perf_counter() - start
        done = it + 1 if cfg.iterations else 0  # iterations run (fewer than cfg.iterations when stopped)
        return {"iterations": cfg.iterations, "seconds": seconds,
                "samples_per_s": done * B / max(seconds, 1e-9),
                "final_loss": history[-1]["total"] if history else math.nan, "history": history,
                "train_samples": 0 if pool is None else len(pool["x"]), "skipped_2d_only": skipped,
                "sts": sts is not None}  # fmt: skip

    @torch.no_grad()
    def root_relative_error(self, keypoints2d: torch.Tensor, smplx: Mapping[str, torch.Tensor]) -> float:
        """Mean root-aligned error (m) of the lifted joints against those of ground-truth SMPL-X parameters."""
        self.net.eval()
        x = self._inputs(keypoints2d.to(self.device, torch.float32))[0]
        pred = self._root_relative(x)
        gt = self.targets({k: v.to(self.device, torch.float32) for k, v in smplx.items()}).view(len(x), -1, 3)
        return float((pred[:, 1:] - gt).norm(dim=-1).mean())


@register_method(
    "lifter",
    description="Martinez et al. 2017 2D->3D lifting MLP (joints only, no mesh), a reference for proposed",
    config=LifterConfig,
)
def create_lifter(context: MethodContext | None = None, **params: Any) -> LifterMethod:
    """Factory for ``lifter[k=v,...]``: ``params`` are :class:`LifterConfig` fields."""
    cfg = LifterConfig(**check_method_spec("lifter", **params)[1])  # types, choices and ranges declared above
    return LifterMethod(context or MethodContext(), cfg)
