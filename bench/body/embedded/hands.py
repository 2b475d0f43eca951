"""A finger flexion/spread model of hand poses, and the hand PCA derived from it.

Poses are SMPL-X/MANO hand poses: 15 joints (index1-3, middle1-3, pinky1-3, ring1-3, thumb1-3), axis-angle
in the rest-pose body frame (rotations of SMPL-family joints are expressed in world-aligned rest frames),
radians. The left hand is modelled; the right hand is its mirror image about the sagittal plane
(axis-angle (ax, ay, az) -> (ax, -ay, -az)), which is how MANO's two hands relate.

Model: each finger has a flexion amount f (0 open, 1 fully curled) shared by its three joints with the
coupling MCP 1.45 f, PIP 1.75 f, DIP 1.10 f rad (DIP about two thirds of PIP: Rijpkema & Girard, 1991,
"Computer animation of knowledge-based human grasping", SIGGRAPH); a spread s rotates the MCPs about the
palm normal (index towards the thumb, pinky away); the thumb has flexion and opposition (palmar
abduction of its base). Families: open, relaxed, fist, point, pinch, grasp and counting 1-5.
"""

from __future__ import annotations

import numpy as np

from bench.body.embedded.anatomy import FINGERS, Proportions, body_joints

PALM_NORMAL_LEFT = np.array([0.0, -1.0, 0.0])  # T-pose, palms down
FLEX_COUPLING = (1.45, 1.75, 1.10)  # MCP, PIP, DIP radians at f = 1
THUMB_COUPLING = (0.55, 0.80, 1.10)
SPREAD_GAIN = {"index": 0.20, "middle": 0.02, "ring": -0.12, "pinky": -0.28}
FAMILIES = ("open", "relaxed", "fist", "point", "pinch", "grasp", "counting")
COUNTING_ORDER = ("index", "middle", "ring", "pinky", "thumb")


def _finger_axes(side: str = "left") -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per finger: (flexion axis, spread axis) in the rest frame, from the embedded hand layout."""
    j = body_joints(Proportions())
    axes = {}
    for finger in FINGERS:
        base = j[f"{side}_{finger}1"] if finger != "thumb" else j[f"{side}_thumb2"]
        direction = j[f"{side}_{finger}"] - base
        direction /= np.linalg.norm(direction)
        flex = np.cross(direction, PALM_NORMAL_LEFT)
        flex /= np.linalg.norm(flex)
        axes[finger] = (flex, PALM_NORMAL_LEFT.copy())
    return axes


def _pose_from_controls(flex: np.ndarray, spread: np.ndarray, opposition: np.ndarray) -> np.ndarray:
    """flex (N, 5) per finger in FINGERS order, spread (N,), opposition (N,) -> left-hand pose (N, 15, 3)."""
    axes = _finger_axes("left")
    n = flex.shape[0]
    pose = np.zeros((n, 15, 3))
    for k, finger in enumerate(FINGERS):
        flex_axis, spread_axis = axes[finger]
        coupling = THUMB_COUPLING if finger == "thumb" else FLEX_COUPLING
        for joint in range(3):
            pose[:, 3 * k + joint] = (coupling[joint] * flex[:, k])[:, None] * flex_axis
        if finger == "thumb":
            # palmar abduction: rotate the thumb base about the finger axis (+x) towards the palm
            pose[:, 3 * k] += (0.9 * opposition)[:, None] * np.array([1.0, 0.0, 0.0])
        else:
            pose[:, 3 * k] += (SPREAD_GAIN[finger] * spread)[:, None] * spread_axis
    return pose


def sample_hand_poses(n: int, rng: np.random.Generator, family: str | None = None) -> np.ndarray:
    """Sample `n` left-hand poses (n, 15, 3) from the families (all of them mixed when family is None)."""
    if family is not None and family not in FAMILIES:
        raise ValueError(f"unknown hand pose family {family!r}; valid: {', '.join(FAMILIES)}")
    fams = rng.choice(FAMILIES, size=n) if family is None else np.full(n, family)
    flex = np.zeros((n, 5))
    spread = rng.uniform(-0.2, 0.4, n)
    opposition = rng.uniform(0.0, 0.3, n)
    idx = {f: FINGERS.index(f) for f in FINGERS}
    for i, fam in enumerate(fams):
        if fam == "open":
            flex[i] = rng.uniform(-0.05, 0.12, 5)
            spread[i] = rng.uniform(0.2, 1.0)
        elif fam == "relaxed":
            flex[i] = rng.normal(0.30, 0.08, 5)
        elif fam == "fist":
            flex[i] = rng.normal(0.95, 0.04, 5)
            flex[i, idx["thumb"]] = rng.normal(0.7, 0.1)
            opposition[i] = rng.uniform(0.4, 0.8)
            spread[i] = rng.uniform(-0.2, 0.0)
        elif fam == "point":
            flex[i] = rng.normal(0.9, 0.05, 5)
            flex[i, idx["index"]] = rng.uniform(-0.05, 0.1)
            flex[i, idx["thumb"]] = rng.normal(0.6, 0.1)
            opposition[i] = rng.uniform(0.3, 0.7)
        elif fam == "pinch":
            flex[i] = rng.uniform(0.15, 0.6, 5)
            flex[i, idx["index"]] = rng.normal(0.45, 0.06)
            flex[i, idx["thumb"]] = rng.normal(0.5, 0.08)
            opposition[i] = rng.uniform(0.7, 1.0)
        elif fam == "grasp":
            flex[i] = rng.normal(0.55, 0.08, 5)
            flex[i, idx["thumb"]] = rng.normal(0.45, 0.08)
            opposition[i] = rng.uniform(0.5, 0.9)
        else:  # counting: the first k fingers of COUNTING_ORDER extended, the others curled
            k = int(rng.integers(1, 6))
            flex[i] = rng.normal(0.92, 0.05, 5)
            opposition[i] = rng.uniform(0.4, 0.8)
            for finger in COUNTING_ORDER[:k]:
                flex[i, idx[finger]] = rng.uniform(-0.05, 0.1)
                if finger == "thumb":
                    opposition[i] = rng.uniform(0.0, 0.2)
    flex = np.clip(flex, -0.1, 1.05)
    return _pose_from_controls(flex, spread, opposition)


def mirror_hand_pose(pose: np.ndarray) -> np.ndarray:
    """Left-hand axis-angle poses (..., 15, 3) -> right-hand ones (mirror about the sagittal plane)."""
    return pose * np.array([1.0, -1.0, -1.0])


def hand_pca(seed: int = 0, n_samples: int = 6000, noise: float = 0.02) -> tuple[np.ndarray, np.ndarray]:
    """PCA of the flexion/spread model: (components (45, 45) orthonormal rows by decreasing variance, mean (45,)).

    Small isotropic noise (radians) makes the covariance full rank so all 45 components exist.
    """
    rng = np.random.default_rng(seed)
    samples = sample_hand_poses(n_samples, rng).reshape(n_samples, 45)
    samples = samples + rng.normal(0.0, noise, samples.shape)
    mean = samples.mean(axis=0)
    cov = np.cov(samples - mean, rowvar=False)
    eigval, eigvec = np.linalg.eigh(cov)
    order = np.argsort(eigval)[::-1]
    components = eigvec[:, order].T
    # deterministic signs: the largest-magnitude entry of each component is positive, except the first
    # (the grasp synergy), which points along the flexed mean so that a positive coefficient curls the hand
    signs = np.sign(components[np.arange(45), np.abs(components).argmax(axis=1)])
    signs[0] = np.sign(components[0] @ mean)
    return components * signs[:, None], mean
