"""The common sample structure every dataset adapter returns and every method consumes.

A :class:`SampleSet` is columnar: one array per field over all N samples (numpy, loaded once), so that iterating
in batches is slicing, not per-sample Python. :meth:`SampleSet.batches` yields :class:`SampleBatch` objects
whose fields are torch tensors sharing memory with the arrays.

Fields (PROTOCOLS.md, "Units and frames"):

- ``keypoints2d`` (N, 137, 3) float32: the 2D input, whole body in the 'openpose_137' layout of
  ``bench.body.skeletons`` (BODY_25, left hand 21, right hand 21, face 70), rows ``[x, y, confidence]`` in pixels of
  the source image; a missing keypoint is (0, 0, 0).
- ``image_size`` (N, 2) int64: ``(width, height)`` in pixels.
- ``K`` (N, 3, 3), ``R`` (N, 3, 3), ``t`` (N, 3) metres, ``dist`` (N, 5) OpenCV ``k1, k2, p1, p2, k3``; float64.
  ``R, t`` map the dataset's world frame into the camera frame (identity/zero where the dataset has only
  camera-frame annotations). Methods that are "uncalibrated" must not read them; they are there for the
  evaluation, the calibrated baselines and the plots.
- ``joints3d`` (N, J, 3) float64: ground truth in the dataset's own skeleton ``skeleton`` (a name in
  ``bench.body.skeletons``), metres, camera frame (OpenCV axes); ``joints3d_valid`` (N, J) bool.
- ``ids``: per-sample (N,) arrays ``subject``, ``sequence``, ``action`` (str), ``frame`` (int64), ``view`` (str),
  ``person`` (int64).
- ``smplx``: ground-truth SMPL-X parameters in the camera frame when known, else None: (N, k) float32 arrays
  'betas' (10), 'global_orient' (3), 'body_pose' (63), 'left_hand_pose' / 'right_hand_pose' (45, full, not PCA),
  'jaw_pose', 'leye_pose', 'reye_pose' (3), 'expression' (10), 'transl' (3); ``smplx_valid`` (N,) bool says
  which rows hold them.

``extra``: optional per-sample arrays an adapter wants to keep (e.g. H36M's image names), (N, ...) each; sliced
with the set.

``info`` carries what a result must be printed with: ``synthetic`` (bool), ``source`` (the root read),
``protocol`` (a one-line description of every protocol setting in force), ``root_joints`` (joint names whose
mean is the root for root-aligned metrics), ``eval_joints`` (joint names scored), and ``faults``: the samples
skipped for a per-sample fault, by reason (:class:`FaultLog`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np
import torch

from bench.body.skeletons import get_skeleton

__all__ = [
    "ID_FIELDS",
    "KEYPOINT_LAYOUT",
    "NUM_KEYPOINTS",
    "SMPLX_FIELDS",
    "FaultLog",
    "SampleBatch",
    "SampleSet",
    "concat_sets",
]

KEYPOINT_LAYOUT = "openpose_137"
NUM_KEYPOINTS = len(get_skeleton(KEYPOINT_LAYOUT))
ID_FIELDS = ("subject", "sequence", "action", "frame", "view", "person")
_INT_IDS = ("frame", "person")
SMPLX_FIELDS = {
    "betas": 10, "global_orient": 3, "body_pose": 63, "left_hand_pose": 45, "right_hand_pose": 45,
    "jaw_pose": 3, "leye_pose": 3, "reye_pose": 3, "expression": 10, "transl": 3,
}  # fmt: skip


class FaultLog:
    """Counts of samples skipped for a per-sample fault, by reason, with the first few places for each.

    A fault is something wrong with one sample of an otherwise valid set (a frame file with NaN joints, a
    body with too few valid joints); the adapter skips the sample and records it here, and the count travels
    with the set into the run's results. A malformed *file* is an error, not a fault.
    """

    MAX_EXAMPLES = 5

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.examples: dict[str, list[str]] = {}

    def skip(self, reason: str, where: str, count: int = 1) -> None:
        """Record ``count`` skipped samples for ``reason`` at ``where`` (a file and field, or an id)."""
        if count <= 0:
            return
        self.counts[reason] = self.counts.get(reason, 0) + count
        examples = self.examples.setdefault(reason, [])
        if len(examples) < self.MAX_EXAMPLES:
            examples.append(where)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def merge(self, other: FaultLog) -> None:
        for reason, count in other.counts.items():
            self.counts[reason] = self.counts.get(reason, 0) + count
            examples = self.examples.setdefault(reason, [])
            examples.extend(other.examples.get(reason, [])[: max(self.MAX_EXAMPLES - len(examples), 0)])

    def as_dict(self) -> dict[str, int]:
        return dict(sorted(self.counts.items()))

    def summary(self) -> str:
        if not self.counts:
            return "no samples skipped"
        parts = [f"{count} {reason} (e.g. {self.examples[reason][0]})" for reason, count in sorted(self.counts.items())]
        return f"{self.total} samples skipped: " + "; ".join(parts)

    def __repr__(self) -> str:
        return f"FaultLog({self.as_dict()})"


@dataclass(eq=False)
class SampleBatch:
    """A slice of a :class:`SampleSet` as torch tensors (same fields; ids stay numpy arrays)."""

    keypoints2d: torch.Tensor
    image_size: torch.Tensor
    K: torch.Tensor
    R: torch.Tensor
    t: torch.Tensor
    dist: torch.Tensor
    joints3d: torch.Tensor
    joints3d_valid: torch.Tensor
    ids: dict[str, np.ndarray]
    smplx: dict[str, torch.Tensor] | None
    smplx_valid: torch.Tensor
    index: torch.Tensor  # positions of these samples in the set

    def __len__(self) -> int:
        return self.keypoints2d.shape[0]


def _take(x: torch.Tensor, sl: slice, device: torch.device) -> torch.Tensor:
    return x[sl] if device.type == "cpu" else x[sl].to(device, non_blocking=True)


def _check(name: str, arr: np.ndarray, shape: tuple[int | None, ...], kinds: str) -> None:
    ok = arr.ndim == len(shape) and all(s is None or s == a for s, a in zip(shape, arr.shape, strict=True))
    if not ok or arr.dtype.kind not in kinds:
        text = ", ".join("N" if i == 0 and s is None else ("*" if s is None else str(s)) for i, s in enumerate(shape))
        raise ValueError(f"SampleSet.{name}: expected ({text}) of kind {kinds!r}, got {arr.shape} {arr.dtype}")


@dataclass(eq=False)
class SampleSet:
    """All samples of one dataset split, columnar (module docstring for the fields)."""

    name: str
    skeleton: str
    keypoints2d: np.ndarray
    image_size: np.ndarray
    K: np.ndarray
    R: np.ndarray
    t: np.ndarray
    dist: np.ndarray
    joints3d: np.ndarray
    joints3d_valid: np.ndarray
    ids: dict[str, np.ndarray]
    smplx: dict[str, np.ndarray] | None = None
    smplx_valid: np.ndarray | None = None
    info: dict[str, Any] = field(default_factory=dict)
    faults: FaultLog = field(default_factory=FaultLog)
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.keypoints2d)
        self.extra = {k: np.asarray(v) for k, v in self.extra.items()}
        for key, value in self.extra.items():
            if value.ndim == 0 or len(value) != n:
                raise ValueError(f"SampleSet.extra[{key!r}]: expected ({n}, ...), got {value.shape}")
        joints = len(get_skeleton(self.skeleton))
        self.keypoints2d = np.ascontiguousarray(self.keypoints2d, dtype=np.float32)
        self.image_size = np.ascontiguousarray(self.image_size, dtype=np.int64)
        for key in ("K", "R", "t", "dist", "joints3d"):
            setattr(self, key, np.ascontiguousarray(getattr(self, key), dtype=np.float64))
        self.joints3d_valid = np.ascontiguousarray(self.joints3d_valid, dtype=bool)
        for key, shape in (
            ("keypoints2d", (n, NUM_KEYPOINTS, 3)), ("image_size", (n, 2)), ("K", (n, 3, 3)), ("R", (n, 3, 3)),
            ("t", (n, 3)), ("dist", (n, 5)), ("joints3d", (n, joints, 3)), ("joints3d_valid", (n, joints)),
        ):  # fmt: skip
            _check(key, getattr(self, key), shape, "fib")
        missing = [k for k in ID_FIELDS if k not in self.ids]
        if missing:
            raise ValueError(f"SampleSet.ids: missing {missing}; expected {ID_FIELDS}")
        ids = {}
        for key in ID_FIELDS:
            arr = np.asarray(self.ids[key])
            arr = arr.astype(np.int64) if key in _INT_IDS else arr.astype(str)
            if arr.shape != (n,):
                raise ValueError(f"SampleSet.ids[{key!r}]: expected ({n},), got {arr.shape}")
            ids[key] = arr
        self.ids = ids
        if self.smplx is not None:
            out = {}
            for key, width in SMPLX_FIELDS.items():
                if key not in self.smplx:
                    raise ValueError(f"SampleSet.smplx: missing {key!r}")
                arr = np.ascontiguousarray(self.smplx[key], dtype=np.float32).reshape(n, width)
                _check(f"smplx[{key!r}]", arr, (n, width), "f")
                out[key] = arr
            self.smplx = out
        valid = np.ones(n, dtype=bool) if self.smplx_valid is None else self.smplx_valid
        self.smplx_valid = np.ascontiguousarray(valid, dtype=bool) if self.smplx is not None else np.zeros(n, bool)
        _check("smplx_valid", self.smplx_valid, (n,), "b")
        for key in ("keypoints2d", "K", "R", "t", "dist"):
            if not np.isfinite(getattr(self, key)).all():
                raise ValueError(f"SampleSet.{key}: NaN or inf (adapters must skip such samples as faults)")
        if not np.isfinite(self.joints3d[self.joints3d_valid]).all():
            raise ValueError("SampleSet.joints3d: NaN or inf on a joint marked valid")
        self._tensors: dict[str, Any] | None = None

    def __len__(self) -> int:
        return len(self.keypoints2d)

    @property
    def synthetic(self) -> bool:
        return bool(self.info.get("synthetic", False))

    def subset(self, mask_or_index: np.ndarray) -> SampleSet:
        """The samples selected by a boolean mask or an index array (same info and faults)."""
        sel = np.asarray(mask_or_index)
        arrays = {f.name: getattr(self, f.name)[sel] for f in fields(self)
                  if isinstance(getattr(self, f.name), np.ndarray) and f.name != "smplx_valid"}  # fmt: skip
        return replace(
            self, **arrays, ids={k: v[sel] for k, v in self.ids.items()},
            smplx=None if self.smplx is None else {k: v[sel] for k, v in self.smplx.items()},
            smplx_valid=self.smplx_valid[sel], info=dict(self.info), faults=self.faults,
            extra={k: v[sel] for k, v in self.extra.items()},
        )  # fmt: skip

    def _as_tensors(self) -> dict[str, Any]:
        if self._tensors is None:
            names = ("keypoints2d", "image_size", "K", "R", "t", "dist", "joints3d", "joints3d_valid", "smplx_valid")
            self._tensors = {k: torch.from_numpy(getattr(self, k)) for k in names}
            self._tensors["smplx"] = (
                None if self.smplx is None else {k: torch.from_numpy(v) for k, v in self.smplx.items()}
            )
        return self._tensors

    def batches(self, batch_size: int, *, device: str | torch.device = "cpu") -> Iterator[SampleBatch]:
        """Consecutive batches of at most ``batch_size`` samples, in order."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        tensors = self._as_tensors()
        device = torch.device(device)
        smplx = tensors["smplx"]
        for start in range(0, len(self), batch_size):
            stop = min(start + batch_size, len(self))
            sl = slice(start, stop)
            yield SampleBatch(
                **{k: _take(v, sl, device) for k, v in tensors.items() if k != "smplx"},
                ids={k: v[sl] for k, v in self.ids.items()},
                smplx=None if smplx is None else {k: _take(v, sl, device) for k, v in smplx.items()},
                index=torch.arange(start, stop),
            )

    def counts(self, *keys: str) -> dict[tuple, int]:
        """Number of samples per combination of id fields, e.g. ``counts('sequence', 'view')``."""
        if not keys:
            return {(): len(self)}
        for key in keys:
            if key not in self.ids:
                raise ValueError(f"unknown id field {key!r}; valid: {', '.join(ID_FIELDS)}")
        combos = np.stack([self.ids[k].astype(str) for k in keys], axis=1) if len(self) else np.zeros((0, len(keys)))
        uniq, counts = np.unique(combos, axis=0, return_counts=True) if len(self) else (combos, np.zeros(0, int))
        return {tuple(u): int(c) for u, c in zip(uniq, counts, strict=True)}


def concat_sets(sets: list[SampleSet], *, info: Mapping[str, Any] | None = None) -> SampleSet:
    """Concatenate sets of one dataset and skeleton (faults merged; ``info`` from the first unless given)."""
    if not sets:
        raise ValueError("concat_sets: no sets")
    first = sets[0]
    if any(s.skeleton != first.skeleton for s in sets):
        raise ValueError(f"concat_sets: skeletons differ: {sorted({s.skeleton for s in sets})}")
    has_smplx = [s.smplx is not None for s in sets]
    faults = FaultLog()
    for s in sets:
        faults.merge(s.faults)

    def cat(key: str) -> np.ndarray:
        return np.concatenate([getattr(s, key) for s in sets])

    smplx = None
    if any(has_smplx):
        smplx = {}
        for key, width in SMPLX_FIELDS.items():
            smplx[key] = np.concatenate(
                [s.smplx[key] if s.smplx is not None else np.zeros((len(s), width), np.float32) for s in sets]
            )
    return SampleSet(
        name=first.name, skeleton=first.skeleton,
        **{k: cat(k) for k in ("keypoints2d", "image_size", "K", "R", "t", "dist", "joints3d", "joints3d_valid")},
        ids={k: np.concatenate([s.ids[k] for s in sets]) for k in ID_FIELDS},
        smplx=smplx, smplx_valid=cat("smplx_valid") if smplx is not None else None,
        info=dict(info if info is not None else first.info), faults=faults,
        extra={k: np.concatenate([s.extra[k] for s in sets]) for k in first.extra if all(k in s.extra for s in sets)},
    )  # fmt: skip
