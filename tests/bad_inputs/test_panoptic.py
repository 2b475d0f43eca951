"""Bad CMU Panoptic files (calibration, hdPose3d body frames, hdHand3d and hdFace3d frames): each is a DataFileError
naming the file and the field at fault, through the format's readers and the adapter's ``load`` and ``check`` (what
``hmrbench data check`` runs) - never a traceback, never a file silently read in the wrong unit or skipped.

The tree is written with the format's own writers (one sequence, one frame, one body seen by two HD cameras), so
every case starts from a file the readers accept; each case damages one file."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _corrupt import JSON_DAMAGE, as_directory, assert_names

from bench.errors import DataFileError
from datasets.openpose import write_openpose
from datasets.panoptic import adapter
from datasets.panoptic.format import (
    Body,
    BodyFrame,
    Camera,
    FaceFrame,
    FacePerson,
    HandFrame,
    HandPerson,
    Landmarks,
    body_frame_path,
    calibration_path,
    face_frame_path,
    hand_frame_path,
    read_body_frame,
    read_calibration,
    read_face_frame,
    read_hand_frame,
    write_body_frame,
    write_calibration,
    write_face_frame,
    write_hand_frame,
)
from datasets.panoptic.synth import occlusion_path, openpose_path, smplx_gt_path

SEQ, FRAME = "seq_a", 7
# A standing body in the dome's frame (y down, floor y = 0), metres, 'panoptic_joints19' order.
JOINTS = np.array([
    (0.0, -1.50, 0.0), (0.0, -1.62, -0.08), (0.0, -1.00, 0.0),                    # neck, nose, body centre
    (0.18, -1.45, 0.0), (0.45, -1.45, 0.0), (0.70, -1.45, 0.0),                  # left arm
    (0.10, -1.00, 0.0), (0.10, -0.50, 0.0), (0.10, -0.08, 0.0),                  # left leg
    (-0.18, -1.45, 0.0), (-0.45, -1.45, 0.0), (-0.70, -1.45, 0.0),               # right arm
    (-0.10, -1.00, 0.0), (-0.10, -0.50, 0.0), (-0.10, -0.08, 0.0),               # right leg
    (0.03, -1.66, -0.07), (0.07, -1.63, 0.0), (-0.03, -1.66, -0.07), (-0.07, -1.63, 0.0),  # eyes, ears
])  # fmt: skip
_RNG = np.random.default_rng(0)
LEFT_HAND = JOINTS[5] + _RNG.uniform(-0.08, 0.08, (21, 3))
RIGHT_HAND = JOINTS[11] + _RNG.uniform(-0.08, 0.08, (21, 3))
FACE = JOINTS[1] + _RNG.uniform(-0.08, 0.08, (70, 3))


def _camera(node: int, distance: float) -> Camera:
    K = np.array([[1400.0, 0.0, 960.0], [0.0, 1400.0, 540.0], [0.0, 0.0, 1.0]])
    return Camera(name=f"00_{node:02d}", type="hd", resolution=(1920, 1080), K=K, dist=np.zeros(5), R=np.eye(3),
                  t=np.array([0.0, 0.9, distance]), panel=0, node=node)  # fmt: skip


@pytest.fixture
def tree(tmp_path) -> Path:
    root = tmp_path / "panoptic"
    write_calibration(calibration_path(root, SEQ), [_camera(0, 3.0), _camera(1, 3.5)])
    write_body_frame(body_frame_path(root, SEQ, FRAME), BodyFrame([Body(0, JOINTS, np.full(19, 0.9))], 1.0))
    write_hand_frame(
        hand_frame_path(root, SEQ, FRAME),
        HandFrame([HandPerson(0, Landmarks(LEFT_HAND), Landmarks(RIGHT_HAND, np.full(21, 0.5)))]),
    )
    write_face_frame(face_frame_path(root, SEQ, FRAME), FaceFrame([FacePerson(0, Landmarks(FACE))]))  # fmt: skip
    return root


FILES: dict[str, tuple[Callable[[Path], Path], Callable[[Path], Any]]] = {
    "calibration": (lambda root: calibration_path(root, SEQ), read_calibration),
    "body": (lambda root: body_frame_path(root, SEQ, FRAME), read_body_frame),
    "hand": (lambda root: hand_frame_path(root, SEQ, FRAME), read_hand_frame),
    "face": (lambda root: face_frame_path(root, SEQ, FRAME), read_face_frame),
}


def _edit(path: Path, change: Callable[..., None], key: str = "") -> None:
    data = json.loads(path.read_text())
    change(data, key)
    path.write_text(json.dumps(data))


def _walk(data: Any, where: tuple, key: str) -> tuple[Any, Any]:
    """(container, last index) of the field ``where`` ('{key}' in a name stands for ``key``)."""
    *head, last = (w.format(key=key) if isinstance(w, str) else w for w in where)
    for w in head:
        data = data[w]
    return data, last


def _set(*where: Any, value: Any) -> Callable[..., None]:
    """Set the field ``where`` to ``value`` (or to ``value(old)`` when it is callable)."""

    def change(data: Any, key: str = "") -> None:
        box, last = _walk(data, where, key)
        box[last] = value(box[last]) if callable(value) else value

    return change


def _drop(*where: Any) -> Callable[..., None]:
    def change(data: Any, key: str = "") -> None:
        box, last = _walk(data, where, key)
        del box[last]

    return change


def _twice(*where: Any) -> Callable[..., None]:
    """The list ``where`` with its first entry repeated (a duplicate id)."""

    def change(data: Any, key: str = "") -> None:
        box, last = _walk(data, where, key)
        box[last].append(dict(box[last][0]))

    return change


def _refused(root: Path, kind: str, *parts: str) -> None:
    """The reader, the adapter's load and its check each refuse the tree with a message naming the file and
    ``parts``."""
    path_of, reader = FILES[kind]
    path = path_of(root)
    for run in (lambda: reader(path), lambda: adapter.load(root, sequences=(SEQ,)), lambda: adapter.check(root)):
        with pytest.raises(DataFileError) as caught:
            run()
        assert_names(caught.value, path, *parts)


def test_the_good_tree_is_read(tree):
    samples = adapter.load(tree, sequences=(SEQ,))
    assert len(samples) == 2 and set(samples.ids["view"]) == {"00_00", "00_01"}
    assert samples.info["keypoints2d"] == "simulated"  # no OpenPose JSON: projection + detector noise
    assert 2.5 < np.median(samples.joints3d[:, 2, 2]) < 4.0  # metres, from files in centimetres
    assert [r["samples"] for r in adapter.check(tree)] == [1, 1]
    for kind, (path_of, reader) in FILES.items():
        assert reader(path_of(tree)), kind


# --- damaged files: every kind -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", FILES)
@pytest.mark.parametrize(("damage", "parts"), JSON_DAMAGE)
def test_a_damaged_file_is_named(tree, kind, damage, parts, monkeypatch):
    damage(FILES[kind][0](tree), monkeypatch)
    _refused(tree, kind, *parts)


# --- calibration ---------------------------------------------------------------------------------------------


NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(
    ("change", "parts"),
    [
        (_drop("cameras"), ("cameras: missing key",)),
        (_set("cameras", value={}), ("cameras: expected a list, got dict",)),
        (_set("cameras", 0, value=[]), ("cameras[0]: expected an object, got list",)),
        (_set("cameras", 0, "K", value="1400"), ("cameras[0].K: expected 3x3",)),
        (_drop("cameras", 0, "R"), ("cameras[0].R: missing key",)),
        (_drop("cameras", 0, "distCoef"), ("cameras[0].distCoef: missing key",)),
        (_set("cameras", 0, "K", 0, 0, value=NAN), ("cameras[0].K: non-finite",)),
        (_set("cameras", 0, "t", 1, value=[INF]), ("cameras[0].t: non-finite",)),
        (_set("cameras", 0, "R", value=[[1, 0], [0, 1], [0, 0]]), ("cameras[0].R: expected 3x3, got 3x2",)),
        (_set("cameras", 0, "t", value=[0.0, 90.0]), ("cameras[0].t: expected 3 values, got 2 values",)),
        (_set("cameras", 0, "distCoef", value=[0.0] * 4), ("cameras[0].distCoef: expected 5 values, got 4",)),
        (_set("cameras", 0, "R", value=[[1, 0, 0], [0, 1, 0], [0, 0, -1]]), ("cameras[0].R: not a rotation",)),
        (_set("cameras", 0, "R", value=[[2, 0, 0], [0, 2, 0], [0, 0, 2]]), ("cameras[0].R: not a rotation",)),
        (_set("cameras", 0, "K", 2, value=[0, 1, 1]), ("cameras[0].K: not an intrinsic matrix",)),
        (_set("cameras", 0, "K", 0, 0, value=-1400), ("cameras[0].K: not an intrinsic matrix",)),
        (_set("cameras", 0, "resolution", value=[0, 1080]), ("cameras[0].resolution: expected a positive",)),
        (_set("cameras", 0, "resolution", value=[1920.5, 1080]), ("cameras[0].resolution[0]: expected an integer",)),
        (_set("cameras", 0, "name", value=16), ("cameras[0].name: expected a string",)),
        (_set("cameras", 0, "name", value="00_01"), ("cameras[1].name: duplicate camera name '00_01'",)),
        (_set("cameras", 0, "panel", value="0"), ("cameras[0].panel: expected an integer",)),
    ],
)
def test_a_bad_calibration_names_the_field(tree, change, parts):
    _edit(calibration_path(tree, SEQ), change)
    _refused(tree, "calibration", *parts)


@pytest.mark.parametrize("kind", FILES)
def test_a_list_where_the_top_level_object_belongs(tree, kind):
    path = FILES[kind][0](tree)
    path.write_text(json.dumps([json.loads(path.read_text())]))
    _refused(tree, kind, "top level: expected an object, got list")


def test_a_calibration_in_metres_is_refused_naming_the_unit(tree):
    """The files hold centimetres; t in metres puts every camera a few centimetres from the dome's origin."""

    def to_metres(data, key):
        for cam in data["cameras"]:
            cam["t"] = (np.asarray(cam["t"]) / 100).tolist()

    _edit(calibration_path(tree, SEQ), to_metres)
    _refused(tree, "calibration", "cameras[].t", "median camera distance 3.37", "centimetres", "looks like metres")


def test_a_view_the_calibration_lacks_is_named(tree):
    with pytest.raises(DataFileError) as caught:
        adapter.load(tree, sequences=(SEQ,), views=("00_16",))
    assert_names(caught.value, calibration_path(tree, SEQ), "no camera named '00_16'", "hd (2): 00_00, 00_01")


# --- body frames ---------------------------------------------------------------------------------------------


def _joints19(change: Callable[[np.ndarray], np.ndarray]) -> Callable[..., None]:
    """joints19 of the first body, as a (19, 4) array, changed by ``change``."""
    return _set("bodies", 0, "joints19", value=lambda flat: change(np.reshape(flat, (19, 4))).ravel().tolist())


def _scaled(factor: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda j: np.concatenate([j[:, :3] * factor, j[:, 3:]], axis=1)


@pytest.mark.parametrize(
    ("change", "parts"),
    [
        (_drop("bodies"), ("bodies: missing key",)),
        (_drop("univTime"), ("univTime: missing key",)),
        (_set("univTime", value="noon"), ("univTime: expected a finite number",)),
        (_set("bodies", value={"0": {}}), ("bodies: expected a list, got dict",)),
        (_set("bodies", 0, value=[1, 2]), ("bodies[0]: expected an object, got list",)),
        (_drop("bodies", 0, "joints19"), ("bodies[0].joints19: missing key",)),
        (_drop("bodies", 0, "id"), ("bodies[0].id: missing key",)),
        (_set("bodies", 0, "id", value=1.5), ("bodies[0].id: expected an integer",)),
        (_set("bodies", 0, "joints19", value="0 0 0 1"), ("bodies[0].joints19: expected a numeric array",)),
        (
            _set("bodies", 0, "joints19", value=[[0, 0, 0, 1]] * 19),
            ("bodies[0].joints19: expected 76 values, got 19x4",),
        ),
        (_joints19(lambda j: j[:18]), ("bodies[0].joints19: expected 76 values, got 72 values",)),
        (_set("bodies", 0, "joints19", 5, value=NAN), ("bodies[0].joints19: non-finite",)),
        (_set("bodies", 0, "joints19", 0, value=INF), ("bodies[0].joints19: non-finite",)),
        (_twice("bodies"), ("bodies[].id: duplicate body ids",)),
    ],
)
def test_a_bad_body_frame_names_the_field(tree, change, parts):
    path = body_frame_path(tree, SEQ, FRAME)
    _edit(path, change)
    if "duplicate" in parts[0]:  # a valid file; the adapter refuses it (ids are how hands, faces and GT match)
        with pytest.raises(DataFileError) as caught:
            adapter.load(tree, sequences=(SEQ,))
        assert_names(caught.value, path, *parts)
        return
    _refused(tree, "body", *parts)


@pytest.mark.parametrize(
    ("factor", "unit", "measured"),
    [(0.01, "looks like metres", "median body size 2.1"), (10.0, "looks like millimetres", "median body size 21")],
)
def test_joints19_in_another_unit_are_refused_naming_it(tree, factor, unit, measured):
    """Issue 12: joints in metres passed ``data check`` (every body 1.8 cm tall); now the units rule refuses."""
    _edit(body_frame_path(tree, SEQ, FRAME), _joints19(_scaled(factor)))
    _refused(tree, "body", "bodies[].joints19", measured, "centimetres", unit)


def test_a_body_with_few_valid_joints_is_not_measured(tree):
    """The units rule measures bodies, not heads: a body with fewer than UNIT_MIN_POINTS valid joints is left out
    of it (the adapter skips a body with fewer than 3 as a counted per-sample fault)."""
    invalid = np.arange(19) >= 4  # neck, nose, body centre, left shoulder stay valid

    def head_only(j: np.ndarray) -> np.ndarray:
        j = _scaled(10.0)(j)  # millimetres, but unmeasurable on 4 joints
        j[invalid] = (0.0, 0.0, 0.0, -1.0)
        return j

    path = body_frame_path(tree, SEQ, FRAME)
    _edit(path, _joints19(head_only))
    assert read_body_frame(path).bodies[0].valid.sum() == 4


# --- hands and faces ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["hand", "face"])
@pytest.mark.parametrize(
    ("change", "parts"),
    [
        (_drop("people"), ("people: missing key",)),
        (_set("people", value={}), ("people: expected a list, got dict",)),
        (_set("people", 0, value=3), ("people[0]: expected an object, got int",)),
        (_drop("people", 0, "id"), ("people[0].id: missing key",)),
        (_set("people", 0, "{key}", value=[]), ("people[0].{key}: expected an object, got list",)),
        (_drop("people", 0, "{key}", "landmarks"), ("people[0].{key}.landmarks: missing key",)),
        (_set("people", 0, "{key}", "landmarks", value=lambda v: v[:-3]), ("people[0].{key}.landmarks: expected",)),
        (_set("people", 0, "{key}", "landmarks", 4, value=NAN), ("people[0].{key}.landmarks: non-finite",)),
        (_set("people", 0, "{key}", "landmarks", 0, value=-INF), ("people[0].{key}.landmarks: non-finite",)),
        (_set("people", 0, "{key}", "averageScore", value=[0.5, 0.5]), ("people[0].{key}.averageScore: expected",)),
        (_twice("people"), ("people[1].id: duplicate id 0",)),
    ],
)
def test_bad_hands_and_faces_name_the_field(tree, kind, change, parts):
    key = "right_hand" if kind == "hand" else "face70"
    path = FILES[kind][0](tree)
    _edit(path, change, key)
    parts = tuple(p.format(key=key) for p in parts)
    if "duplicate" in parts[0]:  # a valid file; the adapter refuses it
        with pytest.raises(DataFileError) as caught:
            adapter.load(tree, sequences=(SEQ,))
        assert_names(caught.value, path, *parts)
        return
    _refused(tree, kind, *parts)


@pytest.mark.parametrize(("kind", "key"), [("hand", "left_hand"), ("hand", "right_hand"), ("face", "face70")])
def test_hands_and_faces_in_metres_are_refused_naming_the_unit(tree, kind, key):
    path = FILES[kind][0](tree)

    def to_metres(data, key):
        part = data["people"][0][key]
        part["landmarks"] = (np.asarray(part["landmarks"]) / 100).tolist()

    _edit(path, to_metres, key)
    _refused(tree, kind, f"people[].{key}.landmarks", f"median {kind} size 0.", "centimetres", "looks like metres")


# --- side files: a folder in a file's place is refused, not taken for an absent file -------------------------


@pytest.mark.parametrize(
    "path_of",
    [
        lambda root: occlusion_path(root, SEQ),
        lambda root: smplx_gt_path(root, SEQ),
        lambda root: openpose_path(root, SEQ, "00_01", FRAME),
    ],
    ids=["occlusion", "smplx-gt", "openpose-json"],
)
def test_a_folder_in_a_side_files_place_is_named(tree, path_of):
    if "openpose" in path_of(tree).parts:  # the sequence has OpenPose 2D: one file per view, one a folder
        write_openpose(openpose_path(tree, SEQ, "00_00", FRAME), [])
    as_directory(path_of(tree))
    with pytest.raises(DataFileError) as caught:
        adapter.load(tree, sequences=(SEQ,))
    assert_names(caught.value, path_of(tree), "Is a directory")
