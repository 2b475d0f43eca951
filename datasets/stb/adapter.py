"""The 'stb' dataset: Stereo Hand Pose Tracking Benchmark, SK colour camera (PROTOCOLS.md, "STB hand dataset").

Reads ``labels/<seq>_SK.mat`` (``handPara``, mm, SK depth frame; ``datasets.stb.format``) and returns the left
hand in the SK colour camera's frame, metres: ``format.sk_depth_to_colour`` at the edge, K = the SK colour
intrinsics, 640 x 480, ``R = I``, ``t = 0``, no distortion.

Settings (each printed in ``info['protocol']``):

- ``split``: 'test' = B1Counting, B1Random (3,000 real frames); 'train' = the other 10 sequences (15,000);
  'all'.
- ``sequences``: which of the split's sequences (``select_sequences``): 'all' (default); an integer N, the first
  N in the split's order (train: B2Counting, B2Random, B3Counting, ...; for training-size studies); an action,
  'Counting' or 'Random' (for a domain shift: train on ``stb[split=train,sequences=Counting]``, test on
  ``stb[split=test,sequences=Random]``); or sequence names joined by '+' (``B2Counting+B4Random``). A value
  outside the split is a ConfigError listing the valid ones.
- ``camera``: 'SK' only. The Bumblebee labels are readable (``format.read_labels``) but the BB image size and
  2D side files are not wired up here.
- ``root``: the palm -> wrist convention (PROTOCOLS.md, "Palm -> wrist conventions differ"; ``format.palm_to_wrist``):
  'ring_mcp' (Ge et al., Zimmermann; default) and 'middle_mcp' (MonocularTotalCapture) replace the palm centre by
  the wrist extrapolated through that MCP; the joints are then returned in the 'openpose_hand21_left' skeleton,
  whose joint 0 is named 'left_wrist' (the same 21 points as 'stb_21', reordered by name, the extrapolated
  wrist in place of the palm). 'palm' (Zimmermann's evaluation) keeps STB's palm centre: skeleton 'stb_21',
  joint 0 'left_palm'. ``info['root_joints']`` is that joint 0.
- ``keypoints2d``: the 2D input. 'openpose' reads ``openpose/<seq>/SK_color_<frame>_keypoints.json``
  (``format.openpose_path``; OpenPose run on the real images, or the generator's detections); 'projection'
  projects the ground truth (wrist slot: the wrist of the ``root`` convention, ring-MCP for 'palm') into the
  'openpose_137' left-hand slots and applies the detector-noise model ``noise`` ('detector' or 'none' = exact;
  occlusion is not modelled here, there is no mesh; seeded per sequence, so loads repeat); 'auto' (default)
  reads the files for sequences that have an ``openpose/<seq>/`` folder and projects for the others (with
  ``noise=none`` it projects for all).
  From a file with several people the one with the largest summed left-hand confidence is taken, all of its
  parts kept.
- ``noise``: the rule (``keypoints2d``): 'detector' (default) reads OpenPose files as they are and applies the
  noise model only to projections; 'none' is exact 2D, the projection of the ground truth through the SK colour
  camera (K above, R = I, t = 0, no distortion) with confidence 1 for the points inside the image: with
  ``keypoints2d=auto`` every sequence is projected (its OpenPose files are not read) and ``keypoints2d=openpose``
  is refused (a ConfigError: those files are detections, used as they are). The labels and the camera are always
  there, so exact 2D can always be formed.

The fixed sets of values and the types are the ``load`` annotations (``bench.settings``), checked by the registry
before anything is read; ``sequences`` depends on the split and is checked here.

``info['keypoints2d']`` labels the 2D source for the result rows (``bench.run.results.data_labels``): 'detections'
when every sequence's 2D was read from OpenPose files, else the projection's label ('simulated' with the detector
noise model, 'exact' with ``noise=none``; ``datasets.noise.keypoints2d_label``): a set mixing files and projections
is labelled by its projected part. ``info['keypoints2d_source']`` says per sequence.

Ground-truth SMPL-X: from ``smplx_gt/<seq>_SK.npz`` when present (synthetic trees; world frame = the colour
camera frame, moved with ``datasets.synth.smplx_to_camera`` at R = I, t = 0), else ``smplx_valid`` False.

Errors and faults: a malformed label or side file (unreadable, missing ``handPara``, wrong shape, NaN/inf, labels
not in millimetres: ``format.check_label_units``) is a DataFileError naming file and field (a NaN in a label file
is an error, as the format layer decides: real labels have none). Per-sample faults, skipped and counted in
``SampleSet.faults``: a frame whose 2D file is missing from a sequence that has an OpenPose folder, a 2D file with
no person, a person with fewer than ``MIN_KEYPOINTS`` keypoints of positive confidence.

Ids: subject 'B1'..'B6', sequence 'B1Counting'.., action 'Counting'/'Random', frame = label column, view 'SK',
person 0.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Annotated

import numpy as np
import torch

from bench.body.skeletons import Skeleton, convert, get_skeleton, part_indices
from bench.errors import ConfigError, DataFileError
from bench.geometry.projections import project_camera
from bench.registry import register_dataset
from bench.samples import FaultLog, SampleSet, concat_sets
from bench.settings import Hint, OneOf
from datasets.noise import NOISE_KINDS, NoiseConfig, apply_noise, keypoints2d_label
from datasets.openpose import read_openpose
from datasets.stb import format as stb
from datasets.stb.synth import GENERATOR_VERSION, synthesize
from datasets.synth import GT_KEYS, read_smplx_gt, smplx_to_camera

__all__ = [
    "ACTIONS",
    "CAMERAS",
    "KEYPOINTS2D_SOURCES",
    "MIN_KEYPOINTS",
    "ROOTS",
    "SPLITS",
    "check",
    "load",
    "select_sequences",
    "split_sequences",
]

SPLITS = ("test", "train", "all")
ACTIONS = ("Counting", "Random")
KEYPOINTS2D_SOURCES = ("auto", "openpose", "projection")
CAMERAS = ("SK",)  # of format.CAMERAS, the ones this adapter reads
ROOTS = tuple(stb.PALM_CONVENTIONS)
MIN_KEYPOINTS = 3
_STB21 = get_skeleton("stb_21")
_HAND21 = get_skeleton("openpose_hand21_left")
# 'stb_21' with the palm replaced by the extrapolated wrist, only to reorder by name into 'openpose_hand21_left'.
_STB21_WRIST = Skeleton("stb_21_wrist", ("left_wrist", *_STB21.joints[1:]), _STB21.parents, _STB21.parts)
_LAYOUT = get_skeleton("openpose_137")
_LEFT_HAND_SLOTS = part_indices(_LAYOUT, "left_hand")


def split_sequences(split: str) -> tuple[str, ...]:
    """Sequences of a split (PROTOCOLS.md, "STB hand dataset"); ConfigError for an unknown split (for direct
    callers: ``load``'s split is checked by its annotation)."""
    if split not in SPLITS:
        raise ConfigError(f"dataset 'stb': unknown split {split!r}; valid splits: {', '.join(SPLITS)}")
    return {"test": stb.TEST_SEQUENCES, "train": stb.TRAIN_SEQUENCES, "all": stb.SEQUENCES}[split]


def select_sequences(split: str, sequences: str | int = "all") -> tuple[str, ...]:
    """The sequences of ``split`` chosen by the ``sequences`` setting (module docstring), in the split's order;
    ConfigError naming the value and listing the valid ones otherwise."""
    available = split_sequences(split)
    valid = (f"'all', an integer 1..{len(available)} (the first N), an action ({', '.join(ACTIONS)}) or "
             f"sequence names joined by '+' from {', '.join(available)}")  # fmt: skip
    if isinstance(sequences, bool) or not isinstance(sequences, (int, str)):
        raise ConfigError(f"dataset 'stb': sequences={sequences!r} is not valid for split {split!r}; valid: {valid}")
    if isinstance(sequences, int):
        if not 1 <= sequences <= len(available):
            raise ConfigError(f"dataset 'stb': sequences={sequences} is out of range for split {split!r} "
                              f"({len(available)} sequences); valid: {valid}")  # fmt: skip
        return available[:sequences]
    text = sequences.strip()
    if text == "all":
        return available
    if text in ACTIONS:
        return tuple(s for s in available if s.endswith(text))
    names = [n.strip() for n in text.split("+")]
    unknown = [n for n in names if n not in available]
    if unknown or len(set(names)) != len(names):
        what = f"unknown sequence(s) {', '.join(map(repr, unknown))}" if unknown else "a repeated sequence"
        raise ConfigError(f"dataset 'stb': sequences={sequences!r}: {what} for split {split!r}; valid: {valid}")
    return tuple(s for s in available if s in names)


def _hand21(joints: np.ndarray, root: str) -> np.ndarray:
    """(n, 21, 3) 'stb_21' colour-frame joints -> 'openpose_hand21_left' with the ``root`` convention's wrist."""
    converted, valid = convert(stb.palm_to_wrist(joints, root), _STB21_WRIST, _HAND21)
    assert valid.all()
    return converted


def _projected_2d(joints: np.ndarray, root: str, noise: str, sequence: str) -> np.ndarray:
    """(n, 137, 3) projections of the hand into the left-hand slots + the noise model (module docstring)."""
    n = len(joints)
    hand = _hand21(joints, "ring_mcp" if root == "palm" else root)
    K, R = (torch.as_tensor(np.tile(m, (n, 1, 1))) for m in (stb.SK_COLOUR_K, np.eye(3)))
    zeros = torch.zeros(n, 3, dtype=torch.float64)
    uv = project_camera(torch.as_tensor(hand), K, R, zeros, torch.zeros(n, 5, dtype=torch.float64)).numpy()
    points = np.zeros((n, len(_LAYOUT), 2))
    present = np.zeros((n, len(_LAYOUT)), dtype=bool)
    points[:, _LEFT_HAND_SLOTS] = uv
    present[:, _LEFT_HAND_SLOTS] = hand[..., 2] > 1e-3
    rng = np.random.default_rng(zlib.crc32(sequence.encode()))
    size = np.tile(stb.SK_COLOUR_SIZE, (n, 1))
    return apply_noise(points, present, np.zeros_like(present), size, NoiseConfig.from_kind(noise), rng)


def _openpose_2d(folder: Path, sequence: str, camera: str, n: int, faults: FaultLog) -> tuple[np.ndarray, np.ndarray]:
    """(n, 137, 3) keypoints read from the side files and (n,) bool usable (faults recorded for the others)."""
    keypoints = np.zeros((n, len(_LAYOUT), 3))
    ok = np.zeros(n, dtype=bool)
    for frame in range(n):
        path = stb.openpose_path(folder, sequence, camera, frame)
        if not path.exists():  # a folder in its place is read, and refused by name
            faults.skip("missing 2D keypoint file", str(path))
            continue
        people = read_openpose(path)
        if not people:
            faults.skip("no person in 2D keypoint file", str(path))
            continue
        best = max(range(len(people)), key=lambda i: people[i].keypoints[_LEFT_HAND_SLOTS, 2].sum())
        kp = people[best].keypoints
        if (kp[:, 2] > 0).sum() < MIN_KEYPOINTS:
            faults.skip(f"fewer than {MIN_KEYPOINTS} detected 2D keypoints", f"{path}: people[{best}]")
            continue
        keypoints[frame], ok[frame] = kp, True
    return keypoints, ok


def _smplx(folder: Path, sequence: str, camera: str, n: int) -> dict[str, np.ndarray] | None:
    path = stb.smplx_gt_path(folder, sequence, camera)
    if not path.exists():
        return None
    params, root_rest, ids, _ = read_smplx_gt(path)
    frames = ids.get("frame")
    if frames is None or not np.array_equal(frames, np.arange(n)):
        raise DataFileError(f"{path}: id_frame: expected frames 0..{n - 1} matching the {n} label columns")
    # The side file's world frame is the colour camera's frame (format docstring): identity extrinsics.
    return smplx_to_camera(params, root_rest, np.eye(3), np.zeros(3))


def _sequence_set(
    folder: Path, sequence: str, camera: str, root: str, keypoints2d: str, noise: str
) -> tuple[SampleSet, str]:
    joints = stb.sk_depth_to_colour(stb.read_labels(stb.label_path(folder, sequence, camera)))
    n = len(joints)
    faults = FaultLog()
    use_files = keypoints2d == "openpose" or (
        keypoints2d == "auto" and noise != "none" and (folder / "openpose" / sequence).is_dir()
    )  # noise=none: exact projections (module docstring, ``noise``)
    if use_files:
        kp2d, ok = _openpose_2d(folder, sequence, camera, n, faults)
        source = "openpose files"
    else:
        kp2d, ok = _projected_2d(joints, root, noise, sequence), np.ones(n, dtype=bool)
        source = f"projection+{noise} noise"
    gt = joints if root == "palm" else _hand21(joints, root)
    smplx = _smplx(folder, sequence, camera, n)
    if not ok.any():  # SampleSet cannot hold (0, k) SMPL-X arrays (samples.py reshapes them with -1)
        smplx = None
    width, height = stb.SK_COLOUR_SIZE
    subject, action = sequence[:2], sequence[2:]
    full = SampleSet(
        name="stb", skeleton="stb_21" if root == "palm" else _HAND21.name,
        keypoints2d=kp2d, image_size=np.tile([width, height], (n, 1)), K=np.tile(stb.SK_COLOUR_K, (n, 1, 1)),
        R=np.tile(np.eye(3), (n, 1, 1)), t=np.zeros((n, 3)), dist=np.zeros((n, 5)),
        joints3d=gt, joints3d_valid=np.ones(gt.shape[:2], dtype=bool),
        ids={"subject": np.full(n, subject), "sequence": np.full(n, sequence), "action": np.full(n, action),
             "frame": np.arange(n), "view": np.full(n, camera), "person": np.zeros(n, dtype=np.int64)},
        smplx=None if smplx is None else {k: smplx[k] for k in GT_KEYS}, faults=faults,
    )  # fmt: skip
    return full.subset(ok), source


def check(folder: Path) -> list[dict]:
    """Read every label file (and the GT and OpenPose side files present) of the tree; DataFileError on the first
    malformed one. Rows: sequence, split, camera, samples (label frames), keypoint_files (side files present)."""
    folder = Path(folder)
    rows = []
    for sequence in stb.SEQUENCES:
        for camera in stb.CAMERAS:
            path = stb.label_path(folder, sequence, camera)
            if not path.exists():
                continue
            n = len(stb.read_labels(path))
            files = 0
            if (folder / "openpose" / sequence).is_dir():
                for frame in range(n):
                    side = stb.openpose_path(folder, sequence, camera, frame)
                    if side.exists():
                        read_openpose(side)
                        files += 1
            _smplx(folder, sequence, camera, n)
            split = "test" if sequence in stb.TEST_SEQUENCES else "train"
            rows.append({"sequence": sequence, "split": split, "camera": camera, "samples": n,
                         "keypoint_files": files})  # fmt: skip
    if not rows:
        raise DataFileError(f"{folder / 'labels'}: no STB label files (<sequence>_SK.mat / _BB.mat)")
    return rows


@register_dataset(
    "stb",
    description="STB hand benchmark (left hand, SK colour camera, palm->wrist convention a setting)",
    check=check,
    synthesize=synthesize,
    generator_version=GENERATOR_VERSION,
)
def load(
    folder: Path,
    *,
    split: Annotated[str, OneOf(SPLITS)] = "test",
    sequences: Annotated[str | int, Hint("all|N|Counting|Random|names joined by '+'")] = "all",
    camera: Annotated[str, OneOf(CAMERAS)] = "SK",
    root: Annotated[str, OneOf(ROOTS)] = "ring_mcp",
    keypoints2d: Annotated[str, OneOf(KEYPOINTS2D_SOURCES)] = "auto",
    noise: Annotated[str, OneOf(NOISE_KINDS)] = "detector",
) -> SampleSet:
    """Load an STB split (module docstring for the settings, frames and conventions); ``noise=none`` gives exact
    2D (ConfigError with ``keypoints2d=openpose``)."""
    folder = Path(folder)
    if noise == "none" and keypoints2d == "openpose":
        raise ConfigError(
            "dataset 'stb': noise=none asks for exact 2D, but keypoints2d=openpose reads the OpenPose files' "
            "detections as they are; use keypoints2d=auto or keypoints2d=projection (exact 2D), or noise=detector"
        )
    chosen = sequences
    sequences = select_sequences(split, sequences)
    sets, sources = [], {}
    for sequence in sequences:
        samples, sources[sequence] = _sequence_set(folder, sequence, camera, root, keypoints2d, noise)
        sets.append(samples)
    skeleton = get_skeleton(sets[0].skeleton)
    joint0 = skeleton.joints[0]
    point = "STB palm centre" if root == "palm" else f"wrist = {stb.PALM_CONVENTIONS[root]} + 2 (palm - it)"
    source_text = "/".join(sorted(set(sources.values())))
    protocol = (
        f"stb[split={split}, sequences={chosen}, camera={camera}, root={root}, keypoints2d={keypoints2d}, "
        f"noise={noise}]: {len(sequences)} sequences ({', '.join(sequences)}); root joint {joint0} ({point}); "
        f"2D from {source_text}; "
        "labels SK depth -> colour frame (hand-graph-cnn); K = SK colour intrinsics, 640x480"
    )
    projected = any(source.startswith("projection") for source in sources.values())
    info = {"protocol": protocol, "root_joints": (joint0,), "eval_joints": skeleton.joints,
            "root_convention": root, "keypoints2d_source": sources,
            "keypoints2d": keypoints2d_label(noise) if projected else "detections"}  # fmt: skip
    return concat_sets(sets, info=info)
