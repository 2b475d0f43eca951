"""Detector-noise model: turns exact 2D projections into OpenPose-like detections.

Real 2D inputs are detections, not projections. The model, applied per person in the 'openpose_137' layout:

1. **Jitter** scaled by part size: Gaussian noise of s.d. ``jitter x size`` (at least ``min_jitter_px``), where
   ``size`` is the diagonal of the 2D box of the part (body, left hand, right hand, face) in that image.
2. **Confidence**: a base per part (``base_confidence``), times ``clip(size / small_part_px, 0.2, 1)`` for
   small parts, times ``occluded_confidence`` for occluded points, plus N(0, ``confidence_noise``), clipped to
   [0.05, 1].
3. **Dropouts** to (0, 0, 0): a whole part smaller than ``small_part_px`` with probability
   ``small_dropout x (1 - size / small_part_px)``; an occluded point with probability ``occluded_dropout``; any
   point with probability ``point_dropout``.
4. **Left/right swaps**: with probability ``swap_prob`` per person and limb (arms, legs), the detector labels the
   left limb as the right one and vice versa (their 2D points trade places).
5. Points outside the image are dropped, as a detector cannot report them.

``kind='none'`` gives exact projections: confidence 1 for every point that exists and lies inside the image,
nothing else changed (occlusion ignored). The settings are part of a dataset's config and are written into the
synthetic tree's marker file.

A set whose 2D comes from this model says so in ``info['keypoints2d']`` (:func:`keypoints2d_label`): 'simulated'
for the detector model, 'exact' for ``kind='none'`` (2D read from a detector's files is 'detections'; the row
labels of ``bench.run.results.data_labels``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from bench.body.skeletons import PARTS, get_skeleton, part_indices

__all__ = ["NOISE_KINDS", "NoiseConfig", "apply_noise", "keypoints2d_label", "part_sizes"]

LAYOUT = "openpose_137"
NOISE_KINDS = ("detector", "none")
_LABELS = {"detector": "simulated", "none": "exact"}  # info['keypoints2d'] of 2D made by this model
_SKELETON = get_skeleton(LAYOUT)
_PART_SLOTS = {part: part_indices(LAYOUT, part) for part in PARTS}
_LIMBS = {
    "arm": ("shoulder", "elbow", "wrist"),
    "leg": ("hip", "knee", "ankle", "big_toe", "small_toe", "heel"),
}


def _limb_pairs(words: tuple[str, ...]) -> np.ndarray:
    pairs = []
    for word in words:
        left, right = f"left_{word}", f"right_{word}"
        pairs.append((_SKELETON.index(left), _SKELETON.index(right)))
    return np.array(pairs, dtype=np.int64)


_LIMB_PAIRS = {limb: _limb_pairs(words) for limb, words in _LIMBS.items()}


@dataclass(frozen=True)
class NoiseConfig:
    """Settings of the detector-noise model (module docstring); ``kind='none'`` = exact projections."""

    kind: str = "detector"
    jitter: float = 0.015
    min_jitter_px: float = 0.7
    base_confidence: dict[str, float] = field(
        default_factory=lambda: {"body": 0.85, "left_hand": 0.6, "right_hand": 0.6, "face": 0.75}
    )
    confidence_noise: float = 0.07
    small_part_px: float = 40.0
    small_dropout: float = 0.8
    occluded_confidence: float = 0.4
    occluded_dropout: float = 0.5
    point_dropout: float = 0.01
    swap_prob: float = 0.02

    def __post_init__(self) -> None:
        if self.kind not in NOISE_KINDS:
            raise ValueError(f"noise kind {self.kind!r}: valid kinds are {', '.join(NOISE_KINDS)}")
        for name in ("small_dropout", "occluded_dropout", "point_dropout", "swap_prob", "occluded_confidence"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"noise setting {name} must be in [0, 1], got {value}")
        for name in ("jitter", "min_jitter_px", "confidence_noise", "small_part_px"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"noise setting {name} must be >= 0, got {getattr(self, name)}")

    @classmethod
    def from_kind(cls, kind: str) -> NoiseConfig:
        return cls(kind=kind)

    def as_dict(self) -> dict:
        return asdict(self)


def keypoints2d_label(kind: str | NoiseConfig) -> str:
    """``info['keypoints2d']`` of a set whose 2D is ground truth projected and passed through this model with
    ``kind`` (a NOISE_KINDS value or a NoiseConfig): 'simulated' ('detector') or 'exact' ('none')."""
    kind = kind.kind if isinstance(kind, NoiseConfig) else kind
    if kind not in _LABELS:
        raise ValueError(f"noise kind {kind!r}: valid kinds are {', '.join(NOISE_KINDS)}")
    return _LABELS[kind]


def part_sizes(points: np.ndarray, present: np.ndarray) -> dict[str, np.ndarray]:
    """Per part, (N,) diagonal in pixels of the 2D box of its present points (0 when fewer than 2)."""
    sizes = {}
    for part, slots in _PART_SLOTS.items():
        p, ok = points[:, slots], present[:, slots]
        big = np.where(ok[..., None], p, np.inf)
        small = np.where(ok[..., None], p, -np.inf)
        lo, hi = big.min(axis=1), small.max(axis=1)
        diag = np.linalg.norm(hi - lo, axis=-1)
        sizes[part] = np.where(ok.sum(axis=1) >= 2, diag, 0.0)
    return sizes


def _inside(points: np.ndarray, image_size: np.ndarray) -> np.ndarray:
    w, h = image_size[:, None, 0], image_size[:, None, 1]
    x, y = points[..., 0], points[..., 1]
    return np.isfinite(x) & np.isfinite(y) & (x >= 0) & (y >= 0) & (x <= w - 1) & (y <= h - 1)


def apply_noise(
    points: np.ndarray,
    present: np.ndarray,
    occluded: np.ndarray,
    image_size: np.ndarray,
    config: NoiseConfig,
    rng: np.random.Generator,
) -> np.ndarray:
    """Detections (N, 137, 3) float64 ``[x, y, confidence]`` from exact projections.

    points: (N, 137, 2) exact pixel projections in the 'openpose_137' layout.
    present: (N, 137) bool, the point exists (in front of the camera and defined by the model).
    occluded: (N, 137) bool, hidden behind the body in this view (ignored by ``kind='none'``).
    image_size: (N, 2) ``(width, height)``.
    """
    points = np.asarray(points, dtype=np.float64)
    n = len(points)
    if points.shape != (n, len(_SKELETON), 2) or present.shape != (n, len(_SKELETON)):
        raise ValueError(
            f"points/present: expected (N, {len(_SKELETON)}, 2) / (N, {len(_SKELETON)}), "
            f"got {points.shape} / {present.shape}"
        )
    present = present & np.isfinite(points).all(axis=-1)
    out = np.zeros((n, len(_SKELETON), 3))
    if config.kind == "none":
        keep = present & _inside(points, image_size)
        out[..., :2] = np.where(keep[..., None], points, 0.0)
        out[..., 2] = keep
        return out
    sizes = part_sizes(points, present)
    xy = points.copy()
    conf = np.zeros((n, len(_SKELETON)))
    keep = present.copy()
    for part, slots in _PART_SLOTS.items():
        size = sizes[part]
        sigma = np.maximum(config.jitter * size, config.min_jitter_px)
        xy[:, slots] += rng.normal(size=(n, len(slots), 2)) * sigma[:, None, None]
        small = np.clip(size / max(config.small_part_px, 1e-9), 0.2, 1.0)
        conf[:, slots] = config.base_confidence.get(part, 0.8) * small[:, None]
        p_drop = config.small_dropout * np.clip(1.0 - size / max(config.small_part_px, 1e-9), 0.0, 1.0)
        drop_part = rng.random(n) < p_drop
        keep[:, slots] &= ~drop_part[:, None]
    conf = np.where(occluded, conf * config.occluded_confidence, conf)
    conf += rng.normal(scale=config.confidence_noise, size=conf.shape)
    keep &= ~(occluded & (rng.random(keep.shape) < config.occluded_dropout))
    keep &= rng.random(keep.shape) >= config.point_dropout
    for pairs in _LIMB_PAIRS.values():
        swap = rng.random(n) < config.swap_prob
        if swap.any():
            rows = np.flatnonzero(swap)
            left, right = pairs[:, 0], pairs[:, 1]
            for arr in (xy, conf, keep):
                a, b = arr[rows[:, None], left].copy(), arr[rows[:, None], right].copy()
                arr[rows[:, None], left], arr[rows[:, None], right] = b, a
    keep &= _inside(xy, image_size)
    out[..., :2] = np.where(keep[..., None], xy, 0.0)
    out[..., 2] = np.where(keep, np.clip(conf, 0.05, 1.0), 0.0)
    return out
