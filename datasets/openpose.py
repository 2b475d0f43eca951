"""OpenPose JSON keypoint files (one file per image, several people per file).

Every person becomes one (137, 3) array in the 'openpose_137' layout of ``bench.body.skeletons`` (BODY_25, left
hand 21, right hand 21, face 70), rows ``[x, y, confidence]`` in pixels of the source image; a missing
keypoint is (0, 0, 0), OpenPose's own convention.

Formats read:

- ``_2d`` files (OpenPose >= 1.2): ``people[].pose_keypoints_2d``, ``hand_left_keypoints_2d``,
  ``hand_right_keypoints_2d``, ``face_keypoints_2d``, each a flat ``[x, y, c] * N`` list.
- legacy files (OpenPose 1.0/1.1): ``pose_keypoints``, ``hand_left_keypoints``, ``hand_right_keypoints``,
  ``face_keypoints``.

The body layout is told by its length: 25 points are BODY_25, 18 points are COCO-18 (the legacy files' model,
also what later versions write under ``--model_pose COCO``), converted to BODY_25 by joint name; BODY_25's
MidHip and feet have no COCO-18 counterpart and stay (0, 0, 0). A missing, null or empty part gives zeros.
Every reader error raises :class:`bench.errors.DataFileError` naming the file, the person and the field.

Units: hmrbench reads pixels (OpenPose's default ``--keypoint_scale 0``). Scales 3 and 4 write coordinates
normalised to [0, 1] or [-1, 1], which would pass as points in the image's top-left pixel. The rule
(:func:`check_pixels`): a file with at least ``NORMALISED_MIN_POINTS`` detected points (confidence > 0), all of
them within [-1, 1], is normalised, and refused naming the file and its fields.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.body.skeletons import PARTS, Skeleton, convert, get_skeleton, part_indices
from bench.errors import DataFileError
from datasets.jsonio import dump_json, load_json

LAYOUT = "openpose_137"
BODY25 = "openpose_body25"
NUM_KEYPOINTS = len(get_skeleton(LAYOUT))

# COCO-18, OpenPose's pose model before BODY_25 (legacy 1.0 files): nose, neck, R shoulder/elbow/wrist,
# L shoulder/elbow/wrist, R hip/knee/ankle, L hip/knee/ankle, R eye, L eye, R ear, L ear. Kept here rather
# than in bench.body.skeletons because only the legacy reader needs it; the mapping to BODY_25 is by name.
COCO18 = Skeleton(
    "openpose_coco18",
    ("nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
     "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
     "right_eye", "left_eye", "right_ear", "left_ear"),
    parents=None,
)  # fmt: skip

# (part, key in _2d files, key in legacy files), in the order of the parts of 'openpose_137'.
_PART_KEYS = (
    ("body", "pose_keypoints_2d", "pose_keypoints"),
    ("left_hand", "hand_left_keypoints_2d", "hand_left_keypoints"),
    ("right_hand", "hand_right_keypoints_2d", "hand_right_keypoints"),
    ("face", "face_keypoints_2d", "face_keypoints"),
)
_SLOTS = {part: part_indices(LAYOUT, part) for part in PARTS}
_BODY_SOURCES = {len(s): s for s in (get_skeleton(BODY25), COCO18)}  # body point count -> its layout
NORMALISED_MIN_POINTS = 3


@dataclass(eq=False)
class OpenPosePerson:
    """One detected person.

    Attributes:
        keypoints: (137, 3) float64 'openpose_137' layout, ``[x, y, confidence]``, pixels; missing = 0, 0, 0.
        parts_present: part ('body', 'left_hand', 'right_hand', 'face') -> True when at least one of its
            keypoints has confidence > 0. Computed from ``keypoints`` when not given.
    """

    keypoints: np.ndarray
    parts_present: dict[str, bool] | None = None

    def __post_init__(self) -> None:
        self.keypoints = np.asarray(self.keypoints, dtype=np.float64)
        if self.keypoints.shape != (NUM_KEYPOINTS, 3):
            raise ValueError(
                f"keypoints: expected ({NUM_KEYPOINTS}, 3) in the {LAYOUT!r} layout, got {self.keypoints.shape}"
            )
        if self.parts_present is None:
            self.parts_present = {p: bool((self.keypoints[_SLOTS[p], 2] > 0).any()) for p in PARTS}


def _read_part(value: Any, counts: tuple[int, ...], path: Path, where: str) -> np.ndarray | None:
    """(N, 3) float64 with N in ``counts``, None for an absent (null or empty) part; DataFileError otherwise."""
    if value is None:
        return None
    try:
        flat = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataFileError(f"{path}: {where}: expected a flat list of numbers") from None
    if flat.ndim != 1:
        raise DataFileError(f"{path}: {where}: expected a flat list of numbers, got shape {flat.shape}")
    if flat.size == 0:
        return None
    expected = " or ".join(f"{3 * n} ({n} x 3)" for n in counts)
    if flat.size % 3 or flat.size // 3 not in counts:
        raise DataFileError(f"{path}: {where}: expected {expected} values, got {flat.size}")
    bad = np.flatnonzero(~np.isfinite(flat))
    if bad.size:
        raise DataFileError(f"{path}: {where}: non-finite value (NaN/inf) at keypoint {int(bad[0]) // 3}")
    return flat.reshape(-1, 3)


def read_openpose(path: str | Path) -> list[OpenPosePerson]:
    """Read an OpenPose JSON file (``_2d`` or legacy layout) into one :class:`OpenPosePerson` per person.

    A person with both ``_2d`` and legacy keys for a part is read from the ``_2d`` key.
    """
    path = Path(path)
    data = load_json(path)
    if not isinstance(data, dict):
        raise DataFileError(f"{path}: top level: expected an object, got {type(data).__name__}")
    if "people" not in data:
        raise DataFileError(f"{path}: people: missing key")
    if not isinstance(data["people"], list):
        raise DataFileError(f"{path}: people: expected a list, got {type(data['people']).__name__}")
    people, keys = [], {}
    for i, entry in enumerate(data["people"]):
        if not isinstance(entry, dict):
            raise DataFileError(f"{path}: people[{i}]: expected an object, got {type(entry).__name__}")
        keypoints = np.zeros((NUM_KEYPOINTS, 3))
        for part, key, legacy_key in _PART_KEYS:
            key = key if key in entry else legacy_key
            if key in entry:
                keys[key] = None  # the fields a units error names
            counts = tuple(_BODY_SOURCES) if part == "body" else (len(_SLOTS[part]),)
            values = _read_part(entry.get(key), counts, path, f"people[{i}].{key}")
            if values is None:
                continue
            if part == "body":
                values, _ = convert(values, _BODY_SOURCES[len(values)], BODY25)
            keypoints[_SLOTS[part]] = values
        people.append(OpenPosePerson(keypoints))
    check_pixels(path, [p.keypoints for p in people], tuple(keys))
    return people


def check_pixels(path: Path, keypoints: list[np.ndarray], fields: tuple[str, ...] = ()) -> None:
    """The units rule (module docstring): DataFileError when the file's detected points look normalised."""
    points = np.concatenate([k[k[:, 2] > 0, :2] for k in keypoints]) if keypoints else np.zeros((0, 2))
    if len(points) < NORMALISED_MIN_POINTS:
        return
    largest = float(np.abs(points).max())
    if largest <= 1.0:
        where = ", ".join(f"people[].{f}" for f in fields) or "people[]"
        raise DataFileError(f"{path}: {where}: every detected keypoint lies within [-1, 1] (largest |x|, |y| "
                            f"{largest:.3g}): coordinates normalised by OpenPose's --keypoint_scale 3 or 4; hmrbench "
                            f"reads pixels (--keypoint_scale 0, OpenPose's default)")  # fmt: skip


def write_openpose(path: str | Path, people: Iterable[OpenPosePerson], version: float = 1.3) -> None:
    """Write people in the ``_2d`` layout (BODY_25, hands 21, face 70; ``_3d`` keys empty) readable by
    :func:`read_openpose`. Keypoints are written as they are, so a part of zeros stays a part of zeros."""
    entries = []
    for i, person in enumerate(people):
        kp = np.asarray(person.keypoints, dtype=np.float64)
        if kp.shape != (NUM_KEYPOINTS, 3) or not np.isfinite(kp).all():
            raise ValueError(f"people[{i}].keypoints: expected finite ({NUM_KEYPOINTS}, 3), got {kp.shape}")
        entry: dict[str, Any] = {"person_id": [-1]} if version >= 1.3 else {}
        for part, key, _ in _PART_KEYS:
            entry[key] = kp[_SLOTS[part]].ravel().tolist()
        for _, key, _ in _PART_KEYS:
            entry[key.replace("_2d", "_3d")] = []
        entries.append(entry)
    dump_json(Path(path), {"version": version, "people": entries})
