"""Floors and ceilings beside the body tables: ``gtsub`` (``proposed`` with parts of its prediction replaced by the
ground truth) and ``meanpose`` (one constant body for every sample). Reference rows, not methods of the paper: they
say where ``proposed``'s error lives and what a prediction that ignores its input scores.

``gtsub[parts=global_orient+body_pose,zero=betas,<proposed's parameters>]``: the ``proposed`` regressor with the
same parameters (so the same training key: the runner trains or loads the wrapped model, ``trained``, exactly as it
does a plain ``proposed`` of that config and seed, and nothing is trained twice). At predict time the named
``parts`` (``bench.method.PARAM_WIDTHS`` keys, ``all``, or ``none``) of its predicted SMPL-X parameters are replaced
by the sample's ground truth (camera frame, ``SampleBatch.smplx``) and the ``zero`` parts by zeros (``zero=betas``:
the mean shape of the body model), then the body model is posed again (the keypoint path, 144 joints, as
``proposed``).
The pelvis stays where ``proposed`` put it unless ``transl`` is replaced (then it is the truth's). ``parts=all``
scores 0.0 mm wherever the ground truth comes from the same body model (the machinery check). A sample without
ground-truth SMPL-X (``smplx_valid`` False) is marked failed, never scored as the plain prediction; a set without
any is skipped with the reason. No 2D reprojection is returned (``keypoints2d`` None).

``meanpose[shape=zero|mean,max_samples=0]``: fitted on the training sets' ground-truth SMPL-X (camera frame, every
row with ``smplx_valid``; ``max_samples`` > 0 keeps that many, evenly spaced over the pooled rows); predicts for
every sample the same body: each joint's rotation (global orientation, body, jaw, eyes, hands) is the chordal mean
of the training rotations of that joint (:func:`mean_rotation`: the mean rotation matrix projected onto SO(3)),
``betas`` zero (``shape=zero``, default) or their training mean, ``expression`` the training mean, and the pelvis at
the training pelvises' mean position in the camera frame. Its input is never read. Scores: MPJPE aligns the roots
only (so the mean global orientation counts), PA-MPJPE also the rotation and scale (``bench.run.evaluate``).
Without a training set holding SMPL-X ground truth (real Human3.6M has none), there is no mean pose: ``fit`` says
so and every set is a skipped row with that reason (``supports``), never a failed unit or a made-up body.
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import torch

from bench.errors import DataFileError
from bench.geometry.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from bench.method import PARAM_WIDTHS, MethodContext, Prediction, config_hash, format_spec
from bench.registry import check_method_spec, register_method
from bench.samples import SampleBatch, SampleSet
from bench.settings import NonNegativeInt, OneOf
from methods.proposed.method import ProposedConfig, ProposedMethod, body_models

__all__ = ["PARTS", "MeanPoseConfig", "MeanPoseMethod", "SubstitutionConfig", "SubstitutionMethod",
           "create_meanpose", "create_substitution", "mean_rotation"]  # fmt: skip

ALL, NONE = "all", "none"
PARTS = (*PARAM_WIDTHS, ALL, NONE)  # what gtsub's ``parts`` may name (none: only ``zero`` acts)
ZERO_PARTS = tuple(k for k in PARAM_WIDTHS if k != "transl")  # what ``zero`` may name (a zero position is no floor)
POSE_PARTS = ("global_orient", "body_pose", "jaw_pose", "leye_pose", "reye_pose", "left_hand_pose", "right_hand_pose")
SHAPES = ("zero", "mean")
MEANPOSE_FORMAT = 1


@dataclass(frozen=True)
class SubstitutionConfig(ProposedConfig):
    """``proposed``'s parameters (the wrapped model's; its training key) and what is substituted."""

    parts: tuple[Annotated[str, OneOf(PARTS)], ...] = ("global_orient",)  # replaced by the ground truth
    zero: tuple[Annotated[str, OneOf(ZERO_PARTS)], ...] = ()  # replaced by zeros


def _expand(parts: tuple[str, ...]) -> tuple[str, ...]:
    """``parts`` in ``PARAM_WIDTHS`` order, ``all`` expanded, ``none`` dropped, each once."""
    if NONE in parts and len(parts) > 1:
        raise ValueError(f"gtsub: {'+'.join(parts)}: 'none' cannot be combined with other parts")
    chosen = set(PARAM_WIDTHS) if ALL in parts else set(parts)
    return tuple(k for k in PARAM_WIDTHS if k in chosen)


class SubstitutionMethod:
    """``gtsub``: the method object (``bench.method.Method``); see the module docstring."""

    family = "gtsub"

    def __init__(self, context: MethodContext, config: SubstitutionConfig) -> None:
        self.parts, self.zero = _expand(config.parts), _expand(config.zero)
        if both := sorted(set(self.parts) & set(self.zero)):
            raise ValueError(f"gtsub: {both} named in both parts and zero; a part is either the truth or zero")
        if not self.parts and not self.zero:
            raise ValueError("gtsub: nothing to substitute (parts=none without zero=...)")
        self.context, self.cfg = context, config
        self.device = torch.device(context.device)
        self.config = asdict(config)
        inner = ProposedConfig(**{f.name: getattr(config, f.name) for f in fields(ProposedConfig)})
        self.trained = ProposedMethod(context, inner)  # the runner trains / loads this one (same key as proposed)
        self.model = self.trained.pred_model
        shown = ALL if ALL in config.parts else "+".join(self.parts) or NONE
        spec = {"parts": shown, "projection": config.projection}
        self.name = format_spec(self.family, {**spec, **({"zero": "+".join(self.zero)} if self.zero else {})})

    def supports(self, samples: SampleSet) -> str | None:
        if reason := self.trained.supports(samples):
            return reason
        if self.parts and (samples.smplx is None or not np.asarray(samples.smplx_valid).any()):
            return f"{samples.name}: no ground-truth SMPL-X to substitute ({'+'.join(self.parts)})"
        return None

    def fit(self, train_sets: Mapping[str, SampleSet]) -> dict[str, Any]:
        return self.trained.fit(train_sets)

    def save(self, path: Any) -> None:
        self.trained.save(path)

    def load(self, path: Any) -> None:
        self.trained.load(path)

    @torch.inference_mode()
    def predict(self, batch: SampleBatch) -> Prediction:
        pred = self.trained.predict(batch)
        B = len(batch)
        params = {k: v.clone() for k, v in pred.params.items()}
        failed = pred.failed.clone()
        if self.parts:
            if batch.smplx is None:
                raise ValueError(f"gtsub: the batch has no ground-truth SMPL-X to substitute {list(self.parts)}")
            valid = batch.smplx_valid.to(self.device, torch.bool)
            failed |= ~valid  # no truth: not scored, never scored as the plain prediction
            for key in self.parts:
                truth = batch.smplx[key].to(self.device, torch.float32).reshape(B, -1)
                params[key] = torch.where(valid[:, None], torch.nan_to_num(truth), 0.0)
        for key in self.zero:
            params[key] = torch.zeros_like(params[key])
        local = self.model.keypoints(**{k: v for k, v in params.items() if k != "transl"})
        if "transl" not in self.parts:  # the pelvis stays where the method put it
            params["transl"] = pred.joints3d[:, 0] - local[:, 0]
        joints = local + params["transl"][:, None]
        failed |= ~torch.isfinite(joints).flatten(1).all(1)
        return Prediction(params=params, joints3d=joints, keypoints2d=None, camera=pred.camera, failed=failed)


@register_method(
    "gtsub",
    description="proposed with parts of its predicted SMPL-X replaced by the ground truth (parts=...) or zero "
    "(zero=...): a reference row saying where the error lives; trained / loaded as the plain proposed",
    config=SubstitutionConfig,
)
def create_substitution(context: MethodContext | None = None, **params: Any) -> SubstitutionMethod:
    """Factory for ``gtsub[parts=...,zero=...,<proposed's parameters>]`` (:class:`SubstitutionConfig`)."""
    cfg = SubstitutionConfig(**check_method_spec("gtsub", **params)[1])
    return SubstitutionMethod(context or MethodContext(), cfg)


# --- meanpose --------------------------------------------------------------------------------------------------


def mean_rotation(R: torch.Tensor) -> torch.Tensor:
    """Chordal L2 mean of rotations ``R`` (N, ..., 3, 3) over the first axis: the mean matrix projected onto SO(3)
    (``U diag(1, 1, det(U V^T)) V^T`` of its SVD), (..., 3, 3)."""
    M = R.to(torch.float64).mean(0)
    U, _, Vh = torch.linalg.svd(M)
    d = torch.det(U @ Vh)
    D = torch.diag_embed(torch.stack([torch.ones_like(d), torch.ones_like(d), d], -1))
    return U @ D @ Vh


@dataclass(frozen=True)
class MeanPoseConfig:
    shape: Annotated[str, OneOf(SHAPES)] = "zero"  # betas: zero (the model's mean shape) or the training mean
    max_samples: NonNegativeInt = 0  # training rows the means run over, evenly spaced; 0 = all


class MeanPoseMethod:
    """``meanpose``: the method object (``bench.method.Method``); see the module docstring."""

    family = "meanpose"

    def __init__(self, context: MethodContext, config: MeanPoseConfig) -> None:
        self.context, self.cfg = context, config
        self.device = torch.device(context.device)
        self.config = asdict(config)
        self.name = format_spec(self.family, {"shape": config.shape})
        _, self.model, _ = body_models(context.model_path, context.device)
        self.params: dict[str, torch.Tensor] | None = None  # (1, width) each, after fit / load
        self.reason: str | None = None  # why there is no mean pose (no training ground truth), after fit / load

    def supports(self, samples: SampleSet) -> str | None:
        return self.reason  # else a whole body whatever the set: every skeleton can be formed

    def mean_params(self, smplx: Mapping[str, np.ndarray]) -> dict[str, torch.Tensor]:
        """The constant prediction (module docstring) from ground-truth SMPL-X rows (N, width) each: (1, width)."""
        t = {k: torch.as_tensor(np.asarray(smplx[k]), dtype=torch.float64).reshape(len(smplx["betas"]), -1)
             for k in PARAM_WIDTHS}  # fmt: skip
        out = {}
        for key in POSE_PARTS:
            R = axis_angle_to_matrix(t[key].reshape(len(t[key]), -1, 3))
            out[key] = matrix_to_axis_angle(mean_rotation(R)).reshape(1, -1)
        out["betas"] = t["betas"].mean(0, keepdim=True) if self.cfg.shape == "mean" else torch.zeros(1, 10)
        out["expression"] = t["expression"].mean(0, keepdim=True)
        # the pelvis of SMPL-X is linear in betas and expression and does not move with the pose: the mean pelvis
        # is the rest pelvis of the mean shape plus the mean transl
        rest = self.model.keypoints(betas=t["betas"].mean(0, keepdim=True).float().to(self.device),
                                    expression=out["expression"].float().to(self.device))[:, 0]  # fmt: skip
        pelvis = rest.double().cpu() + t["transl"].mean(0, keepdim=True)
        params = {k: v.to(self.device, torch.float32) for k, v in out.items()}
        local = self.model.keypoints(**params)
        params["transl"] = pelvis.to(self.device, torch.float32) - local[:, 0]
        return params

    def fit(self, train_sets: Mapping[str, SampleSet]) -> dict[str, Any]:
        pooled = [s for s in train_sets.values() if s.smplx is not None and np.asarray(s.smplx_valid).any()]
        if not pooled:
            given = ", ".join(train_sets) or "none"
            self.params = None
            self.reason = (f"meanpose: no training set holds ground-truth SMPL-X (training sets: {given}), so there "
                           "is no mean pose")  # fmt: skip
            (self.context.progress or (lambda message: None))(self.reason)
            return {"samples": 0, "pooled_rows": 0, "train": sorted(train_sets), "shape": self.cfg.shape,
                    "iterations": 0, "reason": self.reason}  # fmt: skip
        self.reason = None
        rows = {k: np.concatenate([np.asarray(s.smplx[k])[np.asarray(s.smplx_valid)] for s in pooled])
                for k in PARAM_WIDTHS}  # fmt: skip
        n = len(rows["betas"])
        if 0 < self.cfg.max_samples < n:
            keep = np.linspace(0, n - 1, self.cfg.max_samples).round().astype(int)
            rows = {k: v[keep] for k, v in rows.items()}
        self.params = self.mean_params(rows)
        return {"samples": len(rows["betas"]), "pooled_rows": n, "train": sorted(train_sets), "shape": self.cfg.shape,
                "iterations": 0}  # fmt: skip

    @torch.no_grad()
    def predict(self, batch: SampleBatch) -> Prediction:
        if self.params is None:
            raise ValueError(self.reason or "meanpose: predict before fit or load (the mean pose comes from the "
                             "training sets)")  # fmt: skip
        B = len(batch)
        params = {k: v.expand(B, -1).clone() for k, v in self.params.items()}
        joints = self.model.keypoints(**params)
        failed = torch.zeros(B, dtype=torch.bool, device=self.device)
        return Prediction(params=params, joints3d=joints, keypoints2d=None, camera={"type": "none"}, failed=failed)

    def save(self, path: Any) -> None:
        if self.params is None and self.reason is None:
            raise ValueError("meanpose: nothing to save before fit")
        params = None if self.params is None else {k: v.cpu() for k, v in self.params.items()}
        torch.save({"family": self.family, "format": MEANPOSE_FORMAT, "config": self.config,
                    "config_hash": config_hash(self.config), "params": params, "reason": self.reason},
                   Path(path))  # fmt: skip

    def load(self, path: Any) -> None:
        """The mean pose saved by :meth:`save`; a file that cannot be read or holds no such thing is a
        DataFileError naming the file (and the field), a file of another config a ValueError naming both hashes."""
        try:
            data = torch.load(Path(path), map_location=self.device, weights_only=True)
        except (OSError, RuntimeError, EOFError, pickle.UnpicklingError) as exc:
            raise DataFileError(f"{path}: cannot read the meanpose model file ({type(exc).__name__}: {exc})") from None
        if not isinstance(data, dict):
            raise DataFileError(f"{path}: not a meanpose model file (holds a {type(data).__name__}, not a dict)")
        mine = config_hash(self.config)
        if data.get("family") != self.family or data.get("config_hash") != mine:
            raise ValueError(f"{path}: config hash {data.get('config_hash')} ({data.get('family')}, config "
                             f"{data.get('config')}) differs from this method's {mine} ({self.config})")  # fmt: skip
        params = data.get("params")
        if params is None and isinstance(data.get("reason"), str):  # fitted without training ground truth
            self.params, self.reason = None, data["reason"]
            return
        if (
            not isinstance(params, dict)
            or set(params) != set(PARAM_WIDTHS)
            or any(tuple(params[k].shape) != (1, w) for k, w in PARAM_WIDTHS.items())
        ):
            raise DataFileError(f"{path}: field 'params': not the (1, width) SMPL-X parameters of a meanpose file")
        if bad := sorted(k for k, v in params.items() if not math.isfinite(float(v.abs().sum()))):
            raise DataFileError(f"{path}: field 'params': non-finite values in {bad}")
        self.params, self.reason = {k: v.to(self.device, torch.float32) for k, v in params.items()}, None


@register_method(
    "meanpose",
    description="one constant body for every sample: the training sets' mean pose (chordal mean per joint) with "
    "zero or mean shape, input ignored; a reference row (floor) beside the body tables",
    config=MeanPoseConfig,
)
def create_meanpose(context: MethodContext | None = None, **params: Any) -> MeanPoseMethod:
    """Factory for ``meanpose[shape=zero|mean,max_samples=N]`` (:class:`MeanPoseConfig`)."""
    cfg = MeanPoseConfig(**check_method_spec("meanpose", **params)[1])
    return MeanPoseMethod(context or MethodContext(), cfg)
