"""Bad OpenPose JSON files, alone and in a folder read by the 'openpose' dataset: each is an error naming the file and
the field at fault, through the reader (``read_openpose``) and the adapter's ``load`` and ``check`` (what ``hmrbench
data check`` runs) - never a traceback, never a file skipped or read in normalised coordinates as pixels.

Files are written with the format's own writer (two people in a 640 x 480 image); each case damages one file."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _corrupt import JSON_DAMAGE, assert_names

from bench.body.skeletons import get_skeleton, part_indices
from bench.errors import ConfigError, DataFileError
from datasets.openpose import OpenPosePerson, read_openpose, write_openpose
from datasets.openpose_adapter import check, load

LAYOUT = get_skeleton("openpose_137")
WIDTH, HEIGHT = 640, 480
NAN, INF = float("nan"), float("inf")


def _person(rng: np.random.Generator, left: float) -> OpenPosePerson:
    kp = np.zeros((len(LAYOUT), 3))
    for part, size in (("body", 200.0), ("left_hand", 30.0), ("right_hand", 30.0), ("face", 40.0)):
        slots = part_indices("openpose_137", part)
        kp[slots, :2] = (left, 100.0) + rng.uniform(0, size, (len(slots), 2))
        kp[slots, 2] = rng.uniform(0.3, 1.0, len(slots))
    return OpenPosePerson(kp)


@pytest.fixture
def folder(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    out = tmp_path / "clip"
    for frame in range(2):
        write_openpose(out / f"clip_{frame:012d}_keypoints.json", [_person(rng, 50.0), _person(rng, 350.0)])
    return out


def _file(folder: Path) -> Path:
    return folder / "clip_000000000001_keypoints.json"


def _refused(folder: Path, path: Path, *parts: str) -> None:
    """The reader, the adapter's load and its check each refuse with a message naming ``path`` and ``parts``."""
    runs = (lambda: read_openpose(path), lambda: load(folder, image_width=WIDTH, image_height=HEIGHT),
            lambda: check(folder))  # fmt: skip
    for run in runs:
        with pytest.raises(DataFileError) as caught:
            run()
        assert_names(caught.value, path, *parts)


def test_the_good_folder_is_read(folder):
    samples = load(folder, image_width=WIDTH, image_height=HEIGHT)
    assert len(samples) == 4 and samples.info["keypoints2d"] == "detections"
    assert check(folder) == [{"sequence": "clip", "files": 2, "samples": 4}]


@pytest.mark.parametrize(("damage", "parts"), JSON_DAMAGE)
def test_a_damaged_file_is_named(folder, damage, parts, monkeypatch):
    """A folder named like a keypoint file was skipped without a word; it is refused like any unreadable file."""
    damage(_file(folder), monkeypatch)
    _refused(folder, _file(folder), *parts)


def _set(*where: Any, value: Any) -> Callable[[Any], Any]:
    """Set the field ``where`` of the file's data to ``value`` (``value(old)`` when callable); () = the whole."""

    def change(data: Any) -> Any:
        if not where:
            return value(data)
        box = data
        for w in where[:-1]:
            box = box[w]
        box[where[-1]] = value(box[where[-1]]) if callable(value) else value
        return data

    return change


def _drop(key: str) -> Callable[[Any], Any]:
    return lambda data: {k: v for k, v in data.items() if k != key}


BODY, LEFT = "pose_keypoints_2d", "hand_left_keypoints_2d"


@pytest.mark.parametrize(
    ("change", "parts"),
    [
        (_set(value=lambda d: [d]), ("top level: expected an object, got list",)),
        (_drop("people"), ("people: missing key",)),
        (_set("people", value={"0": {}}), ("people: expected a list, got dict",)),
        (_set("people", 0, value=[1.0, 2.0]), ("people[0]: expected an object, got list",)),
        (_set("people", 0, BODY, value="12 30 0.9"), (f"people[0].{BODY}: expected a flat list of numbers",)),
        (_set("people", 0, BODY, value={"x": 1}), (f"people[0].{BODY}: expected a flat list of numbers",)),
        (_set("people", 1, BODY, value=lambda v: np.reshape(v, (25, 3)).tolist()),
         (f"people[1].{BODY}: expected a flat list of numbers, got shape (25, 3)",)),
        (_set("people", 0, BODY, value=lambda v: v[:-3]), (f"people[0].{BODY}: expected 75 (25 x 3) or 54", "got 72")),
        (_set("people", 0, LEFT, value=lambda v: v[:-3]), (f"people[0].{LEFT}: expected 63 (21 x 3) values, got 60",)),
        (_set("people", 0, "face_keypoints_2d", value=lambda v: v + [1.0]), ("people[0].face_keypoints_2d: expected",)),
        (_set("people", 0, BODY, 7, value=NAN), (f"people[0].{BODY}: non-finite value (NaN/inf) at keypoint 2",)),
        (_set("people", 1, LEFT, 0, value=INF), (f"people[1].{LEFT}: non-finite value (NaN/inf) at keypoint 0",)),
    ],
)  # fmt: skip
def test_a_bad_field_is_named(folder, change, parts):
    path = _file(folder)
    path.write_text(json.dumps(change(json.loads(path.read_text()))))
    _refused(folder, path, *parts)


@pytest.mark.parametrize(("scale", "offset"), [(1.0 / WIDTH, 0.0), (2.0 / WIDTH, -1.0)], ids=["[0,1]", "[-1,1]"])
def test_normalised_coordinates_are_refused_naming_the_unit(folder, scale, offset):
    """OpenPose's --keypoint_scale 3 / 4 write [0, 1] / [-1, 1]: read as pixels, every body would sit in one pixel."""
    path = _file(folder)
    people = read_openpose(path)
    for person in people:
        person.keypoints[:, :2] = np.where(person.keypoints[:, 2:] > 0, person.keypoints[:, :2] * scale + offset, 0)
    write_openpose(path, people)
    _refused(folder, path, f"people[].{BODY}", "people[].face_keypoints_2d", "normalised", "--keypoint_scale",
             "pixels")  # fmt: skip


def test_a_file_with_few_points_near_zero_is_not_called_normalised(tmp_path):
    """The units rule needs a few detected points: one point at (0.5, 0.5) is a pixel, not a scale."""
    kp = np.zeros((len(LAYOUT), 3))
    kp[0] = (0.5, 0.5, 0.9)
    write_openpose(tmp_path / "a_keypoints.json", [OpenPosePerson(kp)])
    assert len(read_openpose(tmp_path / "a_keypoints.json")) == 1


def test_an_image_size_that_is_not_the_images_is_refused(folder):
    """Points up to 600 px across given a 480 x 640 (portrait) size: the settings are named, with the point."""
    with pytest.raises(ConfigError) as caught:
        load(folder, image_width=HEIGHT, image_height=WIDTH)
    assert_names(caught.value, "image_width=480, image_height=640", "clip_000000000000_keypoints.json",
                 "people[1]: keypoint", "lies outside a 480 x 640 image")  # fmt: skip
    assert len(load(folder, image_width=WIDTH, image_height=HEIGHT)) == 4


def test_a_broken_link_named_like_a_keypoint_file_is_named(folder):
    link = folder / "clip_000000000002_keypoints.json"
    link.symlink_to(folder / "gone.json")
    for run in (lambda: load(folder, image_width=WIDTH, image_height=HEIGHT), lambda: check(folder)):
        with pytest.raises(DataFileError) as caught:
            run()
        assert_names(caught.value, link, "file not found")


def test_a_folder_that_is_none(folder, tmp_path):
    for run in (lambda f: load(f, image_width=WIDTH, image_height=HEIGHT), check):
        with pytest.raises(DataFileError) as caught:
            run(_file(folder))
        assert_names(caught.value, _file(folder), "not a folder of OpenPose JSON files")
        with pytest.raises(DataFileError) as caught:
            run(tmp_path / "absent")
        assert_names(caught.value, tmp_path / "absent", "not a folder")
        (tmp_path / "bare").mkdir(exist_ok=True)
        with pytest.raises(DataFileError) as caught:
            run(tmp_path / "bare")
        assert_names(caught.value, tmp_path / "bare", "no OpenPose JSON files")
