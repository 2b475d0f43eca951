"""The 'openpose' dataset: a folder of OpenPose JSON files as 2D-only input (no 3D ground truth).

A researcher who has run OpenPose on their own images points hmrbench at the ``--write_json`` folder and gets a
:class:`bench.samples.SampleSet` that methods can fit; nothing can be scored, as there is no ground truth.

Files (PROTOCOLS.md, "2D keypoint inputs"; the reader is :func:`datasets.openpose.read_openpose`):

- ``<folder>/*_keypoints.json`` (OpenPose's own naming); when the folder has none, every ``*.json`` in it except
  the synthetic-data marker. Not recursive; files are taken in sorted name order.
- ``_2d`` files and legacy 1.0 files (``pose_keypoints``, COCO-18 mapped to BODY_25 by name) alike.
- Several people per file: one sample per person, ``person`` = its index in ``people``.

Per-sample faults (skipped and counted in ``SampleSet.faults``): a file with no people, a person with no
keypoint of positive confidence. A malformed file is an error (DataFileError naming file and field), and so are a
folder or a broken link named like a keypoint file and a file in normalised coordinates (the reader's units rule).
A detected point well outside the image the settings describe is a ConfigError naming the settings and the point
(``OUTSIDE_MARGIN``): OpenPose reports points inside its image, so the size given is not that image's.

Camera (assumptions, printed in ``info['protocol']``): OpenPose JSON stores neither the image size nor the
camera, so ``image_width``/``image_height`` are required settings (a guessed size would silently move the
principal point and the focal length; a ConfigError names them instead). ``K`` has ``fx = fy = focal``, default
``max(width, height)`` pixels (a ~53 deg field of view across the longer side, a common uncalibrated guess),
and the principal point at the image centre ``(width / 2, height / 2)``; no distortion; ``R = I``, ``t = 0``.

Ids: ``sequence`` = the folder's name, ``frame`` = the last number in the file's stem when every file has one and
they are distinct (``run_000000000012_keypoints.json`` -> 12, ``im1010_openpose.json`` -> 1010), else the
file's index in sorted order; ``subject``, ``action``, ``view`` = ''.

2D source: ``info['keypoints2d']`` = 'detections' (read from the detector's files; the row label of
``bench.run.results.data_labels``).

Ground truth: ``joints3d`` is (N, 25, 3) zeros in the 'openpose_body25' skeleton with every joint invalid;
``smplx`` is None.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from bench.body.skeletons import get_skeleton
from bench.errors import ConfigError, DataFileError
from bench.registry import SYNTHETIC_MARKER, register_dataset
from bench.samples import ID_FIELDS, NUM_KEYPOINTS, FaultLog, SampleSet
from bench.settings import PositiveFloat, PositiveInt
from datasets.openpose import read_openpose

__all__ = ["SKELETON", "check", "keypoint_files", "load"]

SKELETON = "openpose_body25"
_NUM_JOINTS = len(get_skeleton(SKELETON))
_LAYOUT = get_skeleton("openpose_137")
OUTSIDE_MARGIN = 0.05  # of the image size: how far outside the image a detected point may lie
_NUMBER = re.compile(r"(\d+)(?!.*\d)")


def keypoint_files(folder: Path) -> list[Path]:
    """The OpenPose JSON files of ``folder`` in sorted order (module docstring); DataFileError when none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataFileError(f"{folder}: not a folder of OpenPose JSON files")
    # every match is read, so a folder or a broken link named like a keypoint file is refused, not skipped
    files = sorted(folder.glob("*_keypoints.json"))
    if not files:
        files = sorted(p for p in folder.glob("*.json") if p.name != SYNTHETIC_MARKER)
    if not files:
        raise DataFileError(f"{folder}: no OpenPose JSON files (*_keypoints.json or *.json)")
    return files


def _frame_numbers(files: list[Path]) -> np.ndarray:
    """Last number in each stem if all have one and they are distinct, else the sorted index."""
    numbers = []
    for path in files:
        match = _NUMBER.search(path.stem.removesuffix("_keypoints"))
        if match is None:
            return np.arange(len(files), dtype=np.int64)
        numbers.append(int(match.group(1)))
    if len(set(numbers)) != len(numbers):
        return np.arange(len(files), dtype=np.int64)
    return np.asarray(numbers, dtype=np.int64)


def _required(name: str, value: int | None) -> int:
    """A setting without a usable default: its ranges are declared on ``load``; its absence is refused here."""
    if value is None:
        raise ConfigError(
            f"dataset 'openpose': setting {name} is required (OpenPose JSON does not store the image size); "
            "give image_width=<pixels> and image_height=<pixels>"
        )
    return value


def _check_inside(path: Path, people: list, width: int, height: int) -> None:
    """OpenPose reports points inside the image it ran on: a detected point well outside ``width`` x ``height``
    (by more than ``OUTSIDE_MARGIN`` of the size) means the settings are not that image's size (a portrait image
    given as landscape, a resized copy): ConfigError naming the settings, the file, the person and the point."""
    low, high = -OUTSIDE_MARGIN * np.array([width, height]), (1 + OUTSIDE_MARGIN) * np.array([width, height])
    for index, person in enumerate(people):
        kp = person.keypoints
        outside = (kp[:, 2] > 0) & ((kp[:, :2] < low) | (kp[:, :2] > high)).any(axis=1)
        if outside.any():
            j = int(np.flatnonzero(outside)[0])
            raise ConfigError(
                f"dataset 'openpose': image_width={width}, image_height={height}: {path}: people[{index}]: "
                f"keypoint {j} ({_LAYOUT.joints[j]}) at ({kp[j, 0]:.1f}, {kp[j, 1]:.1f}) px lies outside a "
                f"{width} x {height} image; give the size of the images OpenPose ran on"
            )


def check(folder: Path) -> list[dict]:
    """Read every file (DataFileError names the first bad one); one row: sequence, files, samples (people)."""
    files = keypoint_files(folder)
    people = sum(len(read_openpose(path)) for path in files)
    return [{"sequence": Path(folder).name, "files": len(files), "samples": people}]


@register_dataset(
    "openpose",
    description="Folder of OpenPose JSON files (2D-only input, no 3D ground truth); image size required",
    check=check,
    synthesize=None,
)
def load(
    folder: Path,
    *,
    image_width: PositiveInt | None = None,
    image_height: PositiveInt | None = None,
    focal: PositiveFloat | None = None,
) -> SampleSet:
    """Read a folder of OpenPose JSON files (module docstring) into a SampleSet, one sample per person.

    image_width, image_height: pixels of the images OpenPose ran on (required; integers >= 1). focal: pixels
    (a finite number > 0), default ``max(image_width, image_height)`` (an assumption, stated in the protocol
    string). The ranges are the annotations' (``bench.settings``, checked by the registry before this runs).
    """
    folder = Path(folder)
    width, height = _required("image_width", image_width), _required("image_height", image_height)
    if focal is None:
        f, focal_text = float(max(width, height)), f"focal {max(width, height)} px (assumed: max(width, height))"
    else:
        f, focal_text = float(focal), f"focal {float(focal):g} px (setting)"
    files = keypoint_files(folder)
    frames = _frame_numbers(files)
    faults = FaultLog()
    keypoints, frame_ids, person_ids = [], [], []
    for path, frame in zip(files, frames, strict=True):
        people = read_openpose(path)
        _check_inside(path, people, width, height)
        if not people:
            faults.skip("file with no people", str(path))
        for index, person in enumerate(people):
            if not (person.keypoints[:, 2] > 0).any():
                faults.skip("person with no keypoints", f"{path}: people[{index}]")
                continue
            keypoints.append(person.keypoints)
            frame_ids.append(frame)
            person_ids.append(index)
    n = len(keypoints)
    K = np.array([[f, 0.0, width / 2.0], [0.0, f, height / 2.0], [0.0, 0.0, 1.0]])
    empty = np.full(n, "", dtype=object)
    ids = {key: empty for key in ID_FIELDS}
    ids.update(sequence=np.full(n, folder.name, dtype=object), frame=np.asarray(frame_ids, dtype=np.int64),
               person=np.asarray(person_ids, dtype=np.int64))  # fmt: skip
    protocol = (
        f"openpose: no 3D ground truth; 2D-only input; {len(files)} files; image {width}x{height} px (setting); "
        f"{focal_text}; principal point at the image centre; no distortion"
    )
    return SampleSet(
        name="openpose",
        skeleton=SKELETON,
        keypoints2d=np.asarray(keypoints, dtype=np.float32) if n else np.zeros((0, NUM_KEYPOINTS, 3)),
        image_size=np.tile([width, height], (n, 1)),
        K=np.tile(K, (n, 1, 1)),
        R=np.tile(np.eye(3), (n, 1, 1)),
        t=np.zeros((n, 3)),
        dist=np.zeros((n, 5)),
        joints3d=np.zeros((n, _NUM_JOINTS, 3)),
        joints3d_valid=np.zeros((n, _NUM_JOINTS), dtype=bool),
        ids=ids,
        smplx=None,
        info={"protocol": protocol, "root_joints": ("pelvis",), "eval_joints": (), "ground_truth": False,
              "files": len(files), "focal_assumed": focal is None, "keypoints2d": "detections"},
        faults=faults,
    )  # fmt: skip
