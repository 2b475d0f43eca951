"""The method contract: what every registered method implements and returns.

A method is built from its registered factory with keyword parameters (its variant, printed ``name[k=v,...]``)
and a :class:`MethodContext` (body model, device, seed, progress). Then:

- ``supports(samples) -> str | None``: None when it can run on that set, else the reason it cannot (the hand
  regressor on a body-only set); the runner turns a reason into a skipped row, never a crash.
- ``fit(train_sets) -> dict``: set-up and training (untimed); ``train_sets`` maps dataset names to loaded
  ``SampleSet``s (possibly empty for methods that need no data). Returns a summary (losses, seconds, ...).
- ``predict(batch) -> Prediction``: the timed step, on ``batch`` (a ``bench.samples.SampleBatch`` on the
  method's device).
- ``save(path)`` / ``load(path)``: weights with the resolved config and its hash (:func:`config_hash`); a load
  whose config hash differs from the method's is an error naming both.

Frames: predictions are in the **camera frame** of the sample (OpenCV axes, metres) as far as the method can
tell; uncalibrated methods whose depth is unknown put the body at their own estimate of it. Metrics align roots
(or Procrustes) before comparing, as the protocol says.

Joints-only methods: a method that predicts 3D joints but no mesh (a 2D->3D lifter) returns ``params=None`` and
may return ``keypoints2d=None``; its ``joints3d`` keep the (B, 144, 3) SMPL-X output layout, with NaN in every
joint it does not predict (the same joints NaN in every sample it did not fail on). Scoring
(``bench.run.evaluate``) forms a dataset joint only from predicted joints; anything that needs the SMPL-X parameters
or the mesh asks :meth:`Prediction.missing` and skips such a method with the reason it returns, never crashes.

Predict-only settings: a method whose config holds settings that change ``predict`` but not the trained weights
(``precision=fp32|bf16`` of ``proposed`` and ``lifter``) names them, with the value that leaves its predictions as
before, in a class attribute ``predict_settings = {'precision': 'fp32'}``. :func:`training_config` leaves them out
(the training key, ``bench.run.units.training_key``, and the hash a model file is saved with: a bf16 run loads the
fp32-trained model) and :func:`predict_config` gives those that differ from that value (what a unit's key adds, so
fp32 keys stay as they were before the setting existed).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch

from bench.samples import SampleBatch, SampleSet
from bench.settings import guess_value

__all__ = ["PARAM_WIDTHS", "MethodContext", "Method", "Prediction", "config_hash", "format_spec", "parse_spec",
           "predict_config", "training_config"]  # fmt: skip

# SMPL-X parameters a prediction returns, (B, width) each; hand poses are full 45-D axis-angle relative to the
# flat hand (as the ground truth in bench.samples), whatever the method uses internally (PCA or not).
PARAM_WIDTHS = {
    "betas": 10, "global_orient": 3, "body_pose": 63, "left_hand_pose": 45, "right_hand_pose": 45,
    "jaw_pose": 3, "leye_pose": 3, "reye_pose": 3, "expression": 10, "transl": 3,
}  # fmt: skip


@dataclass(eq=False)
class Prediction:
    """What ``predict`` returns for a batch of B samples (tensors on the method's device).

    params: SMPL-X parameters (``PARAM_WIDTHS``), camera frame; None for a joints-only method (no mesh).
    joints3d: (B, 144, 3) SMPL-X output joints ('smplx_144' of bench.body.skeletons), camera frame, metres; dataset
        joints come from ``bench.body.regressors.skeleton_from_smplx``. A joints-only method puts NaN in the joints it
        does not predict (module docstring).
    keypoints2d: (B, 137, 2) the method's 2D reprojection in the 'openpose_137' layout, pixels; may be None for
        a joints-only method.
    camera: the method's camera, e.g. {'type': 'd2s', 'cam': (B, 4)}; free-form per method.
    failed: (B,) bool, samples the method could not produce (diverged, NaN); their other fields are undefined.
    info: per-sample extras, e.g. {'loss_evals': (B,), 'final_loss': (B,), 'seconds': (B,)}.
    """

    params: dict[str, torch.Tensor] | None
    joints3d: torch.Tensor
    keypoints2d: torch.Tensor | None
    camera: dict[str, Any] = field(default_factory=dict)
    failed: torch.Tensor | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        b = self.joints3d.shape[0]
        if self.failed is None:
            self.failed = torch.zeros(b, dtype=torch.bool, device=self.joints3d.device)
        if tuple(self.joints3d.shape) != (b, 144, 3):
            raise ValueError(f"Prediction.joints3d: expected ({b}, 144, 3), got {tuple(self.joints3d.shape)}")
        if tuple(self.failed.shape) != (b,) or self.failed.dtype != torch.bool:
            raise ValueError(f"Prediction.failed: expected ({b},) bool, got {tuple(self.failed.shape)} "
                             f"{self.failed.dtype}")  # fmt: skip
        if self.params is None:
            self._check_joint_set()
        elif not isinstance(self.params, Mapping):
            raise ValueError(f"Prediction.params: expected a dict of tensors or None, got {type(self.params).__name__}")
        for key, width in PARAM_WIDTHS.items() if self.params is not None else ():
            if key not in self.params:
                raise ValueError(f"Prediction.params: missing {key!r}")
            if tuple(self.params[key].shape) != (b, width):
                raise ValueError(
                    f"Prediction.params[{key!r}]: expected ({b}, {width}), got {tuple(self.params[key].shape)}"
                )
        if self.keypoints2d is not None and tuple(self.keypoints2d.shape) != (b, 137, 2):
            raise ValueError(f"Prediction.keypoints2d: expected ({b}, 137, 2), got {tuple(self.keypoints2d.shape)}")

    def _check_joint_set(self) -> None:
        """A joints-only prediction predicts one fixed set of joints: the finite joints are the same in every
        sample not marked failed, and there is at least one (else a sample's hard joints could be left out)."""
        ok = ~self.failed.to(self.joints3d.device)
        finite = torch.isfinite(self.joints3d).all(-1)  # (B, 144)
        first = finite.index_select(0, ok.to(torch.uint8).argmax().reshape(1))[0]  # the first sample not failed
        same = ((finite == first) | ~ok[:, None]).all()
        # one host read for the three tests (on a GPU each read waits for the device)
        any_ok, predicts, consistent = torch.stack([ok.any(), first.any(), same]).tolist()
        if not any_ok:
            return
        if not predicts:
            raise ValueError("Prediction.joints3d: a joints-only prediction (params None) predicts no joint")
        if not consistent:
            raise ValueError("Prediction.joints3d: a joints-only prediction must predict the same joints in every "
                             "sample not marked failed (NaN only where it never predicts a joint)")  # fmt: skip

    @property
    def joints_only(self) -> bool:
        """True for a prediction without SMPL-X parameters (no mesh): joints3d alone."""
        return self.params is None

    def missing(self, *needed: str) -> str | None:
        """None when the fields ``needed`` ('params', 'mesh', 'keypoints2d') are present, else the reason a consumer
        skips this prediction with (the mesh needs the parameters)."""
        known = {"params", "mesh", "keypoints2d"}
        if unknown := sorted(set(needed) - known):
            raise ValueError(f"Prediction.missing: unknown field(s) {unknown}; known: {sorted(known)}")
        if self.params is None and {"params", "mesh"} & set(needed):
            return "joints-only prediction: no SMPL-X parameters, so no mesh"
        if self.keypoints2d is None and "keypoints2d" in needed:
            return "the method returns no 2D reprojection"
        return None


@dataclass
class MethodContext:
    """What a method is built with: the device (chosen by the caller, never defaulted to a GPU), the seed, the
    body-model path (None = $SMPLX_MODEL_PATH or the embedded model), a progress callback
    ``progress(message: str)`` for long work (training, fitting), and ``checkpoint(iteration: int)``, which a
    trained method calls during ``fit`` at every logging step, its last iteration included (the caller may score the
    method there, e.g. a sweep's intermediate validation or the runner's training-length rule,
    ``bench.run.validation``, and may load other weights into it; the method restores its training mode after it).
    A true return value stops training there: the method ends its loop and finishes ``fit`` as after its last
    iteration (its summary keeps ``iterations``, the maximum); the caller may also raise to abandon training."""

    device: str = "cpu"
    seed: int = 0
    model_path: str | None = None
    progress: Callable[[str], None] | None = None
    checkpoint: Callable[[int], bool | None] | None = None


class Method(Protocol):
    name: str
    config: Mapping[str, Any]

    def supports(self, samples: SampleSet) -> str | None: ...

    def fit(self, train_sets: Mapping[str, SampleSet]) -> dict[str, Any]: ...

    def predict(self, batch: SampleBatch) -> Prediction: ...

    def save(self, path: Any) -> None: ...

    def load(self, path: Any) -> None: ...


def config_hash(config: Mapping[str, Any]) -> str:
    """sha256 (first 16 hex digits) of a config's canonical JSON (sorted keys)."""
    text = json.dumps(config, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def training_config(method: Any) -> dict[str, Any]:
    """``method.config`` without its predict-only settings (module docstring): what its trained weights depend on."""
    skip = getattr(method, "predict_settings", {})
    return {k: v for k, v in dict(method.config).items() if k not in skip}


def predict_config(method: Any) -> dict[str, Any]:
    """The predict-only settings of ``method`` (module docstring) whose value differs from the one that leaves its
    predictions as before (``{}`` for a method at those defaults, or without such settings)."""
    config = dict(method.config)
    return {k: config[k] for k, default in getattr(method, "predict_settings", {}).items() if config.get(k) != default}


def parse_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``'proposed[projection=wpp,sts=true]'`` -> ('proposed', {'projection': 'wpp', 'sts': True}).

    Values are read as written (``bench.settings.guess_value``: true/false, plain integers and numbers, else the
    text, so ``00_16`` stays ``'00_16'``); the registry then types each by the setting's declaration.
    """
    spec = spec.strip()
    if "[" not in spec:
        return spec, {}
    if not spec.endswith("]") or spec.count("[") != 1:
        raise ValueError(f"method spec {spec!r}: expected 'name' or 'name[key=value,...]'")
    name, body = spec[:-1].split("[", 1)
    params: dict[str, Any] = {}
    for item in filter(None, (p.strip() for p in body.split(","))):
        if "=" not in item:
            raise ValueError(f"method spec {spec!r}: {item!r} is not key=value")
        key, value = (x.strip() for x in item.split("=", 1))
        params[key] = guess_value(value)
    return name.strip(), params


def format_spec(name: str, params: Mapping[str, Any]) -> str:
    """Inverse of :func:`parse_spec` (keys sorted): ``name[k=v,...]``, or ``name`` without parameters."""
    if not params:
        return name
    body = ",".join(f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in sorted(params.items()))
    return f"{name}[{body}]"
