"""Scoring a method on a dataset: predictions in the dataset's own skeleton, MPJPE and PA-MPJPE per sample.

The method's ``joints3d`` (SMPL-X output joints) are mapped to the dataset's skeleton by
``bench.body.regressors.skeleton_from_smplx``, the same definition the synthetic ground truth is written with. Scored
joints: ``info['eval_joints']`` that are valid in the ground truth and can be formed from SMPL-X.

- MPJPE: both skeletons root-aligned on the mean of ``info['root_joints']`` (pelvis for H36M, the chosen root for
  Panoptic, the palm/wrist for STB); a sample whose ground-truth root joint is invalid is not scored.
- PA-MPJPE: the prediction aligned onto the ground truth by a similarity (``bench.geometry.metrics.pa_mpjpe``).

A set without samples (all left out by its protocol or split) is not scored: the evaluation is skipped with a
reason naming the set's protocol (``empty_reason``), and its rows say so; so is a set without any valid 3D joint
(a 2D-only set such as ``cocowb`` or ``openpose`` given as a test set).

A sample the method reports failed (``Prediction.failed``) or whose prediction is not finite gets NaN errors and
is counted in ``failed``; the means run over the scored samples and say how many they are (``n``).

Joints-only predictions (``Prediction.params`` None, ``bench.method``): NaN joints are joints the method does not
predict; a dataset joint is formed (and scored) only when every SMPL-X joint it is made of is predicted, so a
lifter is scored on the joints it predicts, mapped as for every other method. Its joint set is the one its
non-failed samples share; a sample that leaves out a joint of that set, or a set without the dataset's root
joints, counts as failed. For a mesh method any non-finite joint is a failure, as before.

The predictions in the dataset's skeleton (``predictions``, camera frame, metres; NaN where not formed) are kept.
Per joint, both errors are kept (``joint_mpjpe``, ``joint_pa_mpjpe``: the PA alignment is fitted on all scored
joints, then read per joint), with each sample's camera distance (``distance``: the norm of the ground-truth root
in the camera frame, metres), so that ``bench.run.results`` can slice by view, joint group and distance.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from bench.body.regressors import formed_from, skeleton_from_smplx
from bench.body.skeletons import get_skeleton
from bench.geometry.alignment import root_align, similarity_align
from bench.geometry.metrics import joint_errors
from bench.samples import SampleSet

__all__ = ["Evaluation", "empty_reason", "evaluate"]


@dataclass
class Evaluation:
    """Per-sample errors (metres, NaN where not scored) and their summary; ``skipped`` is the reason no
    prediction was made: the method does not support the set, or the set is empty."""

    dataset: str
    method: str
    n_samples: int
    mpjpe: np.ndarray = field(default_factory=lambda: np.zeros(0))
    pa_mpjpe: np.ndarray = field(default_factory=lambda: np.zeros(0))
    failed: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    joint_mpjpe: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # (N, J) m, NaN where not scored
    joint_pa_mpjpe: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    distance: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (N,) m, NaN where the root is invalid
    predictions: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 3), np.float32))  # (N, J, 3) m, camera
    seconds: float = 0.0
    skipped: str | None = None

    @property
    def scored(self) -> np.ndarray:
        return np.isfinite(self.mpjpe) & np.isfinite(self.pa_mpjpe)

    def summary(self) -> dict[str, Any]:
        """Means in millimetres over the scored samples, with the counts."""
        ok = self.scored
        mean = (lambda a: float(1000.0 * a[ok].mean()) if ok.any() else float("nan"))  # noqa: E731
        return {
            "method": self.method, "dataset": self.dataset, "mpjpe_mm": mean(self.mpjpe),
            "pa_mpjpe_mm": mean(self.pa_mpjpe), "n": int(ok.sum()), "samples": self.n_samples,
            "failed": int(self.failed.sum()), "seconds": self.seconds, "skipped": self.skipped,
        }  # fmt: skip


def empty_reason(samples: SampleSet) -> str:
    """The skip reason of a set without samples, naming what was selected (its protocol) and where from."""
    what = samples.info.get("protocol") or samples.name
    source = samples.info.get("source")
    return f"empty set: no samples to score ({what}" + (f"; from {source})" if source else ")")


def _indices(skeleton, names) -> list[int]:
    missing = [n for n in names if n not in skeleton.joints]
    if missing:
        raise ValueError(f"skeleton {skeleton.name!r} has no joints {missing}")
    return [skeleton.joints.index(n) for n in names]


def evaluate(
    method: Any,
    samples: SampleSet,
    *,
    batch_size: int = 256,
    device: str | torch.device = "cpu",
    progress: Callable[[str], None] | None = None,
) -> Evaluation:
    """Predict every sample of ``samples`` with ``method`` (already trained) and score it (module docstring)."""
    name = getattr(method, "name", type(method).__name__)
    if len(samples) == 0:  # nothing to score is a skipped set with its reason, never a NaN mean over nothing
        return Evaluation(dataset=samples.name, method=name, n_samples=0, skipped=empty_reason(samples))
    if not samples.joints3d_valid.any():  # a 2D-only set (cocowb, openpose): nothing to compare with
        reason = f"no 3D ground truth to score ({samples.info.get('protocol') or samples.name}): a 2D-only set " \
                 "is for training (--train), not a test set"  # fmt: skip
        return Evaluation(dataset=samples.name, method=name, n_samples=len(samples), skipped=reason)
    reason = method.supports(samples)
    if reason is not None:
        return Evaluation(dataset=samples.name, method=name, n_samples=len(samples), skipped=reason)
    skeleton = get_skeleton(samples.skeleton)
    root = _indices(skeleton, samples.info.get("root_joints", ()))
    if not root:
        raise ValueError(f"{samples.name}: info['root_joints'] is empty; cannot root-align")
    scored = torch.zeros(len(skeleton.joints), dtype=torch.bool)
    scored[_indices(skeleton, samples.info.get("eval_joints", skeleton.joints))] = True
    n, J = len(samples), len(skeleton.joints)
    errs, pa_errs = np.full(n, np.nan), np.full(n, np.nan)
    joint_errs, joint_pa = np.full((n, J), np.nan), np.full((n, J), np.nan)
    distance = np.full(n, np.nan)
    predictions = np.full((n, J, 3), np.nan, np.float32)
    failed = np.zeros(n, bool)
    start = time.perf_counter()
    done = 0
    for batch in samples.batches(batch_size, device=device):
        pred = method.predict(batch)
        joints, formed, bad = _dataset_joints(pred, skeleton)
        if not bool(formed[root].all()):  # the prediction cannot be root-aligned
            bad = torch.ones_like(bad)
        gt = batch.joints3d.to("cpu", torch.float64)
        mask = batch.joints3d_valid.cpu() & formed & scored
        root_ok = batch.joints3d_valid.cpu()[:, root].all(1)
        p = root_align(joints, joints[:, root].mean(1))
        g = root_align(gt, gt[:, root].mean(1))
        keep = mask & ~(bad | ~root_ok)[:, None]
        je = torch.where(keep, joint_errors(p, g), torch.nan)
        aligned = similarity_align(torch.nan_to_num(joints), gt, mask)
        jpa = torch.where(mask & ~bad[:, None], joint_errors(aligned, gt), torch.nan)
        idx = batch.index.numpy()
        errs[idx], pa_errs[idx], failed[idx] = _row_mean(je), _row_mean(jpa), bad.numpy()
        joint_errs[idx], joint_pa[idx] = je.numpy(), jpa.numpy()
        predictions[idx] = torch.where(formed[:, None], joints, torch.nan).numpy().astype(np.float32)
        distance[idx] = torch.where(root_ok, gt[:, root].mean(1).norm(dim=-1), torch.nan).numpy()
        done += len(idx)
        if progress is not None:
            progress(f"{name} on {samples.name}: {done}/{n} samples")
    return Evaluation(dataset=samples.name, method=name, n_samples=n, mpjpe=errs, pa_mpjpe=pa_errs, failed=failed,
                      joint_mpjpe=joint_errs, joint_pa_mpjpe=joint_pa, distance=distance, predictions=predictions,
                      seconds=time.perf_counter() - start)  # fmt: skip


def _dataset_joints(pred: Any, skeleton: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A prediction's joints in ``skeleton`` (module docstring): ``(joints (B, J, 3) float64 on the CPU, zero where
    not formed, formed (J,) bool, bad (B,) bool)``."""
    src = pred.joints3d.detach().to("cpu", torch.float64)
    finite = torch.isfinite(src).all(-1)  # (B, 144)
    failed = pred.failed.cpu()
    if pred.params is None:  # joints-only: NaN marks a joint not predicted; the set its good samples share
        predicted = finite[~failed].any(0) if bool((~failed).any()) else torch.zeros(finite.shape[1], dtype=torch.bool)
    else:
        predicted = torch.ones(finite.shape[1], dtype=torch.bool)
    bad = failed | (predicted & ~finite).any(1)
    formed = torch.as_tensor(formed_from(skeleton, predicted.numpy()))
    joints, _ = skeleton_from_smplx(torch.where(predicted[:, None], torch.nan_to_num(src), 0.0), skeleton)
    return joints, formed, bad


def _row_mean(errors: torch.Tensor) -> np.ndarray:
    """Mean over the finite entries of each row; NaN for a row with none (a sample not scored)."""
    ok = torch.isfinite(errors)
    count = ok.sum(1)
    total = torch.where(ok, errors, 0.0).sum(1)
    return torch.where(count > 0, total / count.clamp_min(1), torch.nan).numpy()
