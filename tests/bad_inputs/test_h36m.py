"""Bad Human3.6M inputs: every damaged or malformed file of an H36M tree (mmpose's annotation npz, SPIN's 24-joint
npz, mmpose's 2D detection npy, cameras.pkl, metadata.xml) is a DataFileError naming the file and the field at
fault, through the adapter's public entry points (``load`` and ``check``, the code behind ``hmrbench data check``);
``hmrbench data check`` on it exits 2 with one line.

Each case damages one file of a tiny tree written in tmp_path with the format's own writers (one subject, two
cameras, two frames; milliseconds): truncated, empty, garbage, wrong type, NaN/inf, missing key, wrong shape,
wrong units, a directory instead of the file, unreadable.
"""

from __future__ import annotations

import pickle
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from _corrupt import as_directory, assert_names, empty, garbage, truncate, unreadable

from bench.body.skeletons import convert
from bench.cli import main
from bench.errors import DataFileError
from datasets.h36m import format as h36m
from datasets.h36m.adapter import check, load

SUBJECT = "S9"
CAMERAS = (h36m.CAMERA_IDS[0], h36m.CAMERA_IDS[3])
FRAMES = (0, 5)
# A standing body in the 'h36m_17' order, camera frame, metres (bones 0.1-0.45 m), 5 m in front of the camera.
BODY = np.array([
    [0, 0, 0], [0.13, 0, 0], [0.13, 0.45, 0], [0.13, 0.9, 0], [-0.13, 0, 0], [-0.13, 0.45, 0], [-0.13, 0.9, 0],
    [0, -0.25, 0], [0, -0.5, 0], [0, -0.6, -0.05], [0, -0.75, 0], [0.18, -0.48, 0], [0.2, -0.2, 0], [0.22, 0.05, 0],
    [-0.18, -0.48, 0], [-0.2, -0.2, 0], [-0.22, 0.05, 0],
]) + [0.0, 0.0, 5.0]  # fmt: skip
SPIN_GLOBAL_IDX = [14, 3, 4, 5, 2, 1, 0, 16, 12, 17, 18, 9, 10, 11, 8, 7, 6]  # nkolot/SPIN preprocess/h36m.py

ANNOTATIONS = f"{h36m.ANNOTATIONS_DIR}/h36m_test.npz"
DETECTIONS = f"{h36m.ANNOTATIONS_DIR}/h36m_test{h36m.DETECTION_SUFFIX}"
SPIN_FILE = f"{h36m.ANNOTATIONS_DIR}/h36m_valid_protocol1.npz"
SPIN_DETECTIONS = f"{h36m.ANNOTATIONS_DIR}/h36m_valid_protocol1{h36m.DETECTION_SUFFIX}"


def _camera(camera_id: str) -> h36m.H36MCamera:
    K = np.array([[1145.0, 0.0, 512.0], [0.0, 1144.0, 515.0], [0.0, 0.0, 1.0]])
    return h36m.H36MCamera(camera_id, np.eye(3), np.array([0.0, 0.0, 4.0]), K, np.array([-0.2, 0.24, -0.003]),
                           np.array([-0.0014, -0.001]), 1000, 1002, "camera")  # fmt: skip


def _rows() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(imgname (N,), 3D (N, 17, 3) metres, 2D (N, 17, 2) pixels) of the tiny tree, 'h36m_17' order."""
    names, joints = [], []
    for i, (camera, frame) in enumerate((c, f) for c in CAMERAS for f in FRAMES):
        names.append(f"{SUBJECT}/{SUBJECT}_Walking_1.{camera}/{SUBJECT}_Walking_1.{camera}_{frame + 1:06d}.jpg")
        joints.append(BODY + [0.02 * i, 0.0, 0.1 * i])
    joints = np.array(joints)
    part = np.stack([h36m.project_h36m(j, _camera(CAMERAS[0])) for j in joints])
    return np.array(names), joints, part


def _tree(root: Path, *, spin: bool = False) -> Path:
    """A tiny H36M tree: mmpose's annotation npz and its detections, or (``spin``) SPIN's 24-joint validation npz
    (no 2D) and detections; cameras.pkl and metadata.xml beside them."""
    tree = root / "h36m"
    (tree / h36m.ANNOTATIONS_DIR).mkdir(parents=True)
    names, joints, part = _rows()
    n = len(names)
    detections = np.concatenate([part + 1.5, np.full((n, 17, 1), 0.9)], axis=-1)
    if spin:
        S = np.zeros((n, 24, 4))
        S[:, SPIN_GLOBAL_IDX, :3] = joints - joints[:, :1]
        S[:, SPIN_GLOBAL_IDX, 3] = 1.0
        np.savez(tree / SPIN_FILE, imgname=np.array([f"images/{s.rsplit('/', 1)[1]}" for s in names]),
                 center=np.full((n, 2), 500.0), scale=np.ones(n), S=S)  # fmt: skip
        np.save(tree / SPIN_DETECTIONS, detections)  # 17 joints, 'h36m_17' order read with joint_order='spin'
    else:
        ones = np.ones((n, 17), bool)
        ann = h36m.H36MAnnotations(
            imgname=names,
            joints_3d=joints,
            valid_3d=ones,
            joints_2d=part,
            valid_2d=ones,
            center=np.full((n, 2), 500.0),
            scale=np.ones(n),
            ids=h36m.parse_imgnames(names),
        )
        h36m.write_annotations(tree / ANNOTATIONS, ann)  # mmpose's order
        mmpose, _ = convert(detections, "h36m_17", h36m.JOINT_ORDERS["mmpose"])
        np.save(tree / DETECTIONS, mmpose)
    h36m.write_cameras(tree / h36m.CAMERAS_FILE, {(SUBJECT, c): _camera(c) for c in CAMERAS})
    h36m.write_sequences(tree / h36m.METADATA_FILE, {(SUBJECT, "Walking 1"): ("Walking", 1)},
                         ("Miscellaneous", "Walking"))  # fmt: skip
    return tree


def _load(tree: Path) -> object:
    return load(tree, joint_order="spin") if (tree / SPIN_FILE).exists() else load(tree)


def test_the_tiny_trees_are_good(tmp_path):
    mmpose, spin = _load(_tree(tmp_path / "a")), _load(_tree(tmp_path / "b", spin=True))
    assert len(mmpose) == len(spin) == 4 and not mmpose.faults.total and not spin.faults.total
    assert mmpose.info["keypoints2d"] == spin.info["keypoints2d"] == "detections"
    np.testing.assert_allclose(spin.joints3d, mmpose.joints3d - mmpose.joints3d[:, :1], rtol=0, atol=1e-12)
    np.testing.assert_allclose(spin.keypoints2d, mmpose.keypoints2d, rtol=0, atol=1e-12)
    assert check(_tree(tmp_path / "c"))[-1]["read_as"] == "camera source: cameras.pkl, 2 cameras"


# --- npz / npy / pickle content changes ----------------------------------------------------------------------


def _npz(change: Callable[[dict], None]) -> Callable[[Path], None]:
    def corrupt(path: Path) -> None:
        with np.load(path) as npz:
            data = {k: npz[k] for k in npz.files}
        change(data)
        np.savez(path, **data)

    return corrupt


def _npy(change: Callable[[np.ndarray], np.ndarray]) -> Callable[[Path], None]:
    return lambda path: np.save(path, change(np.load(path)))


def _pickle(change: Callable[[dict], object]) -> Callable[[Path], None]:
    def corrupt(path: Path) -> None:
        data = pickle.loads(path.read_bytes())
        path.write_bytes(pickle.dumps(change(data)))

    return corrupt


def _set(key: str, make: Callable[[np.ndarray], np.ndarray]) -> Callable[[dict], None]:
    def change(data: dict) -> None:
        data[key] = make(data[key])

    return change


def _drop(key: str) -> Callable[[dict], None]:
    return lambda data: data.pop(key)


def _poison(value: float, index: tuple) -> Callable[[np.ndarray], np.ndarray]:
    def make(a: np.ndarray) -> np.ndarray:
        out = a.astype(np.float64).copy()
        out[index] = value
        return out

    return make


def _camera_field(field: str, make: Callable[[object], object]) -> Callable[[dict], dict]:
    def change(data: dict) -> dict:
        key = (SUBJECT, CAMERAS[0])
        entry = dict(data[key])
        if make is None:
            del entry[field]
        else:
            entry[field] = make(entry[field])
        return {**data, key: entry}

    return change


def _xml(text: str) -> Callable[[Path], None]:
    return lambda path: path.write_text(text)


_GOOD_XML_HEAD = "<a><mapping><tr><td>Action</td><td>subaction</td><td>S9</td></tr>"
_ACTIONS = "<actionnames><item>Miscellaneous</item><item>Walking</item></actionnames>"

# name -> (file, corruption, parts the message must hold besides the file's path, the tree is SPIN's)
CASES: dict[str, tuple[str, Callable[[Path], None], tuple[str, ...], bool]] = {
    # mmpose's annotation npz
    "npz_truncated": (ANNOTATIONS, truncate, ("cannot read H36M annotation npz",), False),
    "npz_empty": (ANNOTATIONS, empty, ("cannot read H36M annotation npz",), False),
    "npz_garbage": (ANNOTATIONS, garbage, ("cannot read H36M annotation npz",), False),
    "npz_directory": (ANNOTATIONS, as_directory, ("cannot read H36M annotation npz",), False),
    "npz_text_S": (ANNOTATIONS, _npz(_set("S", lambda a: a.astype(str))), ("S: expected", "numbers"), False),
    "npz_numeric_imgname": (ANNOTATIONS, _npz(_set("imgname", lambda a: np.arange(len(a)))),
                            ("imgname: expected (N,) strings",), False),
    "npz_nan_S": (ANNOTATIONS, _npz(_set("S", _poison(np.nan, (2, 5, 1)))), ("S: contains NaN or inf (sample 2)",),
                  False),
    "npz_inf_part": (ANNOTATIONS, _npz(_set("part", _poison(np.inf, (1, 0, 0)))), ("part: contains NaN or inf",),
                     False),
    "npz_missing_S": (ANNOTATIONS, _npz(_drop("S")), ("S: missing",), False),
    "npz_missing_imgname": (ANNOTATIONS, _npz(_drop("imgname")), ("imgname: missing",), False),
    "npz_wrong_shape_S": (ANNOTATIONS, _npz(_set("S", lambda a: a[:, :16])), ("S: expected (N, 17 or 24",
                                                                                "(4, 16, 4)"), False),
    "npz_wrong_rows_part": (ANNOTATIONS, _npz(_set("part", lambda a: a[:3])), ("part: expected", "N = 4"), False),
    "npz_S_in_millimetres": (ANNOTATIONS, _npz(_set("S", lambda a: np.concatenate([a[..., :3] * 1000, a[..., 3:]],
                                                                                    axis=-1))),
                             ("S: median bone length 2", "expected metres", "millimetres"), False),
    "npz_part_normalised": (ANNOTATIONS, _npz(_set("part", lambda a: np.concatenate([a[..., :2] / 1000, a[..., 2:]],
                                                                                      axis=-1))),
                            ("part: median 2D bone length 0.0", "expected pixels"), False),
    "npz_bad_imgname": (ANNOTATIONS, _npz(_set("imgname", lambda a: np.array(["frame_0001.png"] * len(a)))),
                        ("imgname[0] 'frame_0001.png': expected",), False),
    # SPIN's 24-joint npz
    "spin_truncated": (SPIN_FILE, truncate, ("cannot read H36M annotation npz",), True),
    "spin_garbage": (SPIN_FILE, garbage, ("cannot read H36M annotation npz",), True),
    "spin_wrong_shape_S": (SPIN_FILE, _npz(_set("S", lambda a: a[..., :2])), ("S: expected (N, 17 or 24, 3 or 4)",
                                                                              "(4, 24, 2)"), True),
    "spin_nan_S": (SPIN_FILE, _npz(_set("S", _poison(np.nan, (0, 14, 2)))), ("S: contains NaN or inf (sample 0)",),
                   True),
    "spin_S_in_millimetres": (SPIN_FILE, _npz(_set("S", lambda a: np.concatenate([a[..., :3] * 1000, a[..., 3:]],
                                                                                  axis=-1))),
                              ("S: median bone length", "expected metres", "millimetres"), True),
    "spin_S_in_centimetres": (SPIN_FILE, _npz(_set("S", lambda a: np.concatenate([a[..., :3] * 100, a[..., 3:]],
                                                                                  axis=-1))),
                              ("S: median bone length", "centimetres"), True),
    "spin_missing_S": (SPIN_FILE, _npz(_drop("S")), ("S: missing",), True),
    "spin_without_2d": (SPIN_DETECTIONS, lambda p: p.unlink(), ("part: missing (no 2D", DETECTIONS.split("/")[1]
                                                                 .replace("h36m_test", "h36m_valid_protocol1")), True),
    "spin_directory": (SPIN_FILE, as_directory, ("cannot read H36M annotation npz",), True),
    # mmpose's 2D detections
    "det_truncated": (DETECTIONS, truncate, ("cannot read mmpose 2D detection .npy",), False),
    "det_empty": (DETECTIONS, empty, ("cannot read mmpose 2D detection .npy",), False),
    "det_garbage": (DETECTIONS, garbage, ("cannot read mmpose 2D detection .npy",), False),
    "det_directory": (DETECTIONS, as_directory, ("cannot read mmpose 2D detection .npy",), False),
    "det_text": (DETECTIONS, _npy(lambda a: a.astype(str)), ("keypoints (x, y, score): expected", "numbers"), False),
    "det_nan": (DETECTIONS, _npy(_poison(np.nan, (3, 2, 0))), ("keypoints (x, y, score): contains NaN or inf",),
                False),
    "det_wrong_rows": (DETECTIONS, _npy(lambda a: a[:2]), ("keypoints (x, y, score): expected", "N = 4"), False),
    "det_wrong_joints": (DETECTIONS, _npy(lambda a: a[:, :15]), ("keypoints (x, y, score): expected (N, 17 or 24",),
                         False),
    "det_normalised": (DETECTIONS, _npy(lambda a: np.concatenate([a[..., :2] / 1000, a[..., 2:]], axis=-1)),
                       ("keypoints (x, y, score): median 2D bone length", "expected pixels"), False),
    "det_an_npz": (DETECTIONS, lambda p: p.write_bytes((p.parent / "h36m_test.npz").read_bytes()),
                   ("expected one .npy array", ".npz archive"), False),
    "spin_det_wrong_rows": (SPIN_DETECTIONS, _npy(lambda a: a[:1]), ("keypoints (x, y, score): expected", "N = 4"),
                            True),
    # cameras.pkl
    "cameras_truncated": (h36m.CAMERAS_FILE, truncate, ("cannot read camera pickle",), False),
    "cameras_empty": (h36m.CAMERAS_FILE, empty, ("cannot read camera pickle",), False),
    "cameras_garbage": (h36m.CAMERAS_FILE, garbage, ("cannot read camera pickle",), False),
    "cameras_directory": (h36m.CAMERAS_FILE, as_directory, ("cannot read camera pickle",), False),
    "cameras_a_list": (h36m.CAMERAS_FILE, _pickle(lambda d: list(d.values())),
                       ("expected a dict keyed by (subject, camera id), got list",), False),
    "cameras_entry_a_list": (h36m.CAMERAS_FILE, _pickle(lambda d: {k: [1, 2] for k in d}),
                             ("expected a dict of camera parameters, got list",), False),
    "cameras_text_f": (h36m.CAMERAS_FILE, _pickle(_camera_field("f", lambda v: "1145")),
                       ("('S9', '54138969').f: expected",), False),
    "cameras_nan_R": (h36m.CAMERAS_FILE, _pickle(_camera_field("R", _poison(np.nan, (0, 1)))),
                      ("('S9', '54138969').R: contains NaN or inf",), False),
    "cameras_inf_k": (h36m.CAMERAS_FILE, _pickle(_camera_field("k", _poison(np.inf, (0, 0)))),
                      ("('S9', '54138969').k: contains NaN or inf",), False),
    "cameras_missing_T": (h36m.CAMERAS_FILE, _pickle(_camera_field("T", None)), ("('S9', '54138969').T: missing",),
                          False),
    "cameras_missing_camera": (h36m.CAMERAS_FILE, _pickle(lambda d: {k: v for k, v in d.items() if k[1] != CAMERAS[1]}),
                               ("camera ('S9', '60457274') missing", "h36m_test.npz"), False),
    "cameras_wrong_shape_T": (h36m.CAMERAS_FILE, _pickle(_camera_field("T", lambda v: np.ones(4))),
                              ("('S9', '54138969').T: expected 3x1", "(4,)"), False),
    "cameras_T_in_millimetres": (h36m.CAMERAS_FILE, _pickle(_camera_field("T", lambda v: v * 1000)),
                                 ("('S9', '54138969').T: camera centre 4000", "expected metres", "millimetres"), False),
    "cameras_not_a_rotation": (h36m.CAMERAS_FILE, _pickle(_camera_field("R", lambda v: v * 2)),
                               ("('S9', '54138969').R: not a rotation",), False),
    # metadata.xml
    "metadata_truncated": (h36m.METADATA_FILE, lambda p: truncate(p, 0.6), ("cannot read metadata XML",), False),
    "metadata_empty": (h36m.METADATA_FILE, empty, ("cannot read metadata XML",), False),
    "metadata_garbage": (h36m.METADATA_FILE, garbage, ("cannot read metadata XML",), False),
    "metadata_directory": (h36m.METADATA_FILE, as_directory, ("cannot read metadata XML",), False),
    "metadata_wrong_type": (h36m.METADATA_FILE, _xml('{"mapping": []}'), ("cannot read metadata XML",), False),
    "metadata_missing_mapping": (h36m.METADATA_FILE, _xml(f"<a>{_ACTIONS}</a>"), ("mapping: missing",), False),
    "metadata_missing_actionnames": (h36m.METADATA_FILE, _xml(f"{_GOOD_XML_HEAD}</mapping></a>"),
                                     ("actionnames: missing",), False),
    "metadata_wrong_shape_row": (h36m.METADATA_FILE,
                                 _xml(f"{_GOOD_XML_HEAD}<tr><td>2</td><td>1</td></tr></mapping>{_ACTIONS}</a>"),
                                 ("mapping: row ['2', '1']: action id or column count out of range",), False),
    "metadata_action_out_of_range": (h36m.METADATA_FILE, _xml(f"{_GOOD_XML_HEAD}<tr><td>9</td><td>1</td>"
                                                              f"<td>Walking 1</td></tr></mapping>{_ACTIONS}</a>"),
                                     ("mapping: row ['9', '1']",), False),
    "metadata_without_the_sequence": (h36m.METADATA_FILE, _xml(f"{_GOOD_XML_HEAD}<tr><td>2</td><td>1</td>"
                                                               f"<td>Walking</td></tr></mapping>{_ACTIONS}</a>"),
                                      ("imgname[0]", "('S9', 'Walking 1') not in metadata", "h36m_test.npz"), False),
}  # fmt: skip
# the file a message must name where it is not the damaged one
NAMED = {"spin_without_2d": SPIN_FILE, "metadata_without_the_sequence": ANNOTATIONS}
LOAD_ONLY = {"spin_without_2d"}  # the files are sound: data check says what load will need (test below)


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_file_is_named_with_its_field(tmp_path, case):
    relative, corrupt, parts, spin = CASES[case]
    tree = _tree(tmp_path, spin=spin)
    corrupt(tree / relative)
    for entry in (_load,) if case in LOAD_ONLY else (_load, check):
        with pytest.raises(DataFileError) as caught:
            entry(tree)
        assert_names(caught.value, tree / NAMED.get(case, relative), *parts)


def test_data_check_says_when_a_file_has_no_2d(tmp_path):
    tree = _tree(tmp_path, spin=True)
    (tree / SPIN_DETECTIONS).unlink()
    notes = {r["file"]: r["read_as"] for r in check(tree) if "file" in r}
    expected = "no 2D: load needs h36m_valid_protocol1_2d_detection.npy beside it"
    assert notes[SPIN_FILE] == f"annotations: SPIN 24-joint, 3D root-relative, {expected}"


@pytest.mark.parametrize(
    ("relative", "what", "spin"),
    [
        (ANNOTATIONS, "cannot read H36M annotation npz", False),
        (SPIN_FILE, "cannot read H36M annotation npz", True),
        (DETECTIONS, "cannot read mmpose 2D detection .npy", False),
        (h36m.CAMERAS_FILE, "cannot read camera pickle", False),
        (h36m.METADATA_FILE, "cannot read metadata XML", False),
    ],
)
def test_unreadable_file_is_named(tmp_path, monkeypatch, relative, what, spin):
    tree = _tree(tmp_path, spin=spin)
    unreadable(tree / relative, monkeypatch)
    for entry in (_load, check):
        with pytest.raises(DataFileError) as caught:
            entry(tree)
        assert_names(caught.value, tree / relative, what, "Permission denied")


@pytest.mark.parametrize("case", ["npz_S_in_millimetres", "cameras_directory", "det_garbage", "metadata_garbage"])
def test_data_check_exits_2_with_one_line(tmp_path, capsys, case):
    relative, corrupt, parts, _ = CASES[case]
    tree = _tree(tmp_path)
    corrupt(tree / relative)
    assert main(["data", "check", str(tree)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hmrbench: error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert_names(err, tree / relative, *parts)


def test_a_missing_cameras_pkl_is_the_named_default(tmp_path, capsys):
    """Absent (SPIN's files come without one) is the documented default, said everywhere; never silent."""
    tree = _tree(tmp_path)
    (tree / h36m.CAMERAS_FILE).unlink()
    samples = load(tree)
    assert samples.info["cameras"] == "default K, R = I (no cameras.pkl)"
    assert "cameras=default K, R = I (no cameras.pkl)" in samples.info["protocol"]
    assert main(["data", "check", str(tree)]) == 0
    assert "camera source: default K, R = I (no cameras.pkl)" in capsys.readouterr().out
    shutil.rmtree(tree / h36m.ANNOTATIONS_DIR)
    with pytest.raises(DataFileError) as caught:
        load(tree)
    assert_names(caught.value, tree / h36m.ANNOTATIONS_DIR, "no annotation .npz files")
