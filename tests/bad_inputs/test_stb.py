"""Bad STB inputs: every damaged or malformed label file (``labels/<seq>_SK.mat``, ``handPara``), evaluation-box file
and OpenPose side file is a DataFileError naming the file, and the field where there is one, through the public
entry points (``format.read_labels`` / ``read_bboxes``, the adapter's ``load`` and ``check``, ``hmrbench data
check``), with the reason in words.

Before issue 12: a folder in place of a label file and an unreadable one both said scipy's "Reader needs file name
or open file-like object" (neither the reason nor, for the user, which of the two); a file cut after its header
gave an IndexError traceback; labels in metres passed ``data check``.

The trees are written in tmp_path with ``format.write_labels`` from a hand-sized point set (no generator, no body
model: milliseconds).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from _corrupt import as_directory, assert_names, empty, garbage, truncate, unreadable

from bench.body.skeletons import get_skeleton, part_indices
from bench.cli import main
from bench.errors import DataFileError
from datasets.openpose import OpenPosePerson, write_openpose
from datasets.stb import format as stb
from datasets.stb.adapter import check, load

FRAMES = 4
_PARENTS = get_skeleton("stb_21").parents


def _hand(n: int = FRAMES) -> np.ndarray:
    """(n, 21, 3) metres: a left hand with 25-45 mm bones, 0.4 m in front of the camera."""
    rng = np.random.default_rng(0)
    joints = np.zeros((n, 21, 3))
    for i, parent in enumerate(_PARENTS[1:], start=1):
        finger = (i - 1) // 4
        step = np.array([np.sin(0.3 * (finger - 2)), -np.cos(0.3 * (finger - 2)), 0.1])
        joints[:, i] = joints[:, parent] + rng.uniform(0.025, 0.045, (n, 1)) * step
    return joints + [0.0, 0.0, 0.4]


def _tree(tmp_path: Path) -> Path:
    """A minimal test split: the two test sequences' SK labels, no side files."""
    root = tmp_path / "stb"
    for sequence in stb.TEST_SEQUENCES:
        stb.write_labels(stb.label_path(root, sequence, "SK"), _hand())
    return root


def _label(root: Path) -> Path:
    return stb.label_path(root, "B1Random", "SK")


def _para(path: Path) -> np.ndarray:
    return scipy.io.loadmat(path)["handPara"]


def _savemat(path: Path, **arrays: object) -> None:
    scipy.io.savemat(path, arrays)


# name -> (damage to the label file, the parts the message must hold besides the file's path)
LABEL_CASES: dict[str, tuple[Callable[[Path], object], tuple[str, ...]]] = {
    "truncated": (lambda p: truncate(p, 0.5), ("cannot read .mat file", "truncated or damaged")),
    "cut_in_header": (lambda p: p.write_bytes(p.read_bytes()[:100]), ("truncated or damaged",)),  # was IndexError
    "empty": (empty, ("empty file (0 bytes)",)),
    "garbage": (garbage, ("not a MAT file",)),
    "text": (lambda p: p.write_text("handPara = [1 2 3]\n"), ("not a MAT file",)),
    "directory": (as_directory, ("is a directory",)),
    "wrong_type_text": (lambda p: _savemat(p, handPara=np.array(["abc"])), ("handPara", "expected a numeric array")),
    "wrong_type_struct": (lambda p: _savemat(p, handPara={"x": np.zeros(3)}), ("handPara", "numeric array")),
    "nan": (lambda p: _savemat(p, handPara=np.where(np.arange(3 * 21 * FRAMES).reshape(3, 21, FRAMES) == 50,
                                                     np.nan, _para(p))), ("handPara", "NaN or inf", "frame 2")),
    "inf": (lambda p: _savemat(p, handPara=np.full((3, 21, FRAMES), np.inf)), ("handPara", "NaN or inf")),
    "missing_key": (lambda p: _savemat(p, labels=_para(p)), ("handPara: missing", "found ['labels']")),
    "wrong_shape": (lambda p: _savemat(p, handPara=_para(p)[:, :20]), ("handPara", "3 x 21 x N", f"(3, 20, {FRAMES})")),
    "transposed": (lambda p: _savemat(p, handPara=_para(p).transpose(2, 1, 0)), ("handPara", "3 x 21 x N")),
    "metres": (lambda p: _savemat(p, handPara=_para(p) / 1000.0), ("handPara", "median bone length 0.03",
                                                                    "expected millimetres", "looks like metres")),
    "centimetres": (lambda p: _savemat(p, handPara=_para(p) / 10.0), ("handPara", "median bone length 3.",
                                                                       "looks like centimetres")),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(LABEL_CASES))
def test_bad_label_file_is_named_by_every_entry_point(tmp_path, case):
    root = _tree(tmp_path)
    path = _label(root)
    damage, parts = LABEL_CASES[case]
    damage(path)
    for call in (lambda: stb.read_labels(path), lambda: load(root, split="test"), lambda: check(root)):
        with pytest.raises(DataFileError) as info:
            call()
        assert_names(info.value, path, *parts)


def test_unreadable_label_file(tmp_path, monkeypatch):
    root = _tree(tmp_path)
    path = unreadable(_label(root), monkeypatch)
    for call in (lambda: stb.read_labels(path), lambda: load(root, split="test"), lambda: check(root)):
        with pytest.raises(DataFileError) as info:
            call()
        assert_names(info.value, path, "cannot read .mat file: permission denied")
        assert "Reader needs file name" not in str(info.value)


def test_missing_label_file_and_empty_tree(tmp_path):
    root = _tree(tmp_path)
    _label(root).unlink()
    with pytest.raises(DataFileError) as info:
        load(root, split="test")
    assert_names(info.value, _label(root), "file not found")
    with pytest.raises(DataFileError) as info:
        check(tmp_path / "nothing")
    assert_names(info.value, tmp_path / "nothing" / "labels", "no STB label files")


@pytest.mark.parametrize("case", ["metres", "directory", "cut_in_header"])
def test_data_check_fails_with_one_line(tmp_path, capsys, case):
    """``hmrbench data check`` on a tree with a bad label file: exit 2, one line naming the file, no traceback."""
    root = _tree(tmp_path)
    LABEL_CASES[case][0](_label(root))
    assert main(["data", "check", str(root), "--dataset", "stb"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err
    assert_names(err, _label(root), *LABEL_CASES[case][1])


def test_good_tree_passes_data_check(tmp_path, capsys):
    root = _tree(tmp_path)
    assert main(["data", "check", str(root), "--dataset", "stb"]) == 0
    assert len(load(root, split="test")) == 2 * FRAMES


BBOX_CASES: dict[str, tuple[Callable[[Path], object], tuple[str, ...]]] = {
    "truncated": (lambda p: truncate(p, 0.5), ("truncated or damaged",)),
    "empty": (empty, ("empty file",)),
    "garbage": (garbage, ("not a MAT file",)),
    "directory": (as_directory, ("is a directory",)),
    "missing_key": (lambda p: _savemat(p, boxes=np.ones((4, 4))), ("bboxes: missing",)),
    "wrong_shape": (lambda p: _savemat(p, bboxes=np.ones((4, 3))), ("bboxes", "N x 4", "(4, 3)")),
    "nan": (lambda p: _savemat(p, bboxes=np.where(np.eye(4) > 0, np.nan, 1.0)), ("bboxes", "NaN or inf")),
    "wrong_type": (lambda p: _savemat(p, bboxes=np.array(["x"])), ("bboxes", "numeric array")),
}


@pytest.mark.parametrize("case", sorted(BBOX_CASES))
def test_bad_eval_boxes(tmp_path, case):
    path = tmp_path / "STB_eval_bboxes.mat"
    _savemat(path, bboxes=np.tile([10.0, 20.0, 100.0, 120.0], (4, 1)))
    damage, parts = BBOX_CASES[case]
    damage(path)
    with pytest.raises(DataFileError) as info:
        stb.read_bboxes(path)
    assert_names(info.value, path, *parts)


def _side_tree(tmp_path: Path) -> tuple[Path, Path]:
    """The minimal tree with OpenPose side files for B1Counting; returns (root, frame 0's file)."""
    root = _tree(tmp_path)
    for frame in range(FRAMES):
        keypoints = np.zeros((137, 3))
        keypoints[part_indices("openpose_137", "left_hand")] = [320.0, 240.0, 0.9]
        write_openpose(stb.openpose_path(root, "B1Counting", "SK", frame), [OpenPosePerson(keypoints)])
    return root, stb.openpose_path(root, "B1Counting", "SK", 0)


SIDE_CASES: dict[str, tuple[Callable[[Path], object], tuple[str, ...]]] = {
    "truncated": (lambda p: truncate(p, 0.5), ("malformed JSON",)),
    "empty": (empty, ("empty file",)),
    "garbage": (garbage, ("not UTF-8 text",)),
    "directory": (as_directory, ("Is a directory",)),
    "wrong_type": (lambda p: p.write_text("[1, 2]"), ()),
    "nan": (lambda p: p.write_text(p.read_text().replace("0.9", "NaN", 1)), ("hand_left_keypoints_2d",)),
}


@pytest.mark.parametrize("case", sorted(SIDE_CASES))
def test_bad_openpose_side_file(tmp_path, case):
    root, path = _side_tree(tmp_path)
    assert load(root, split="test").info["keypoints2d_source"]["B1Counting"] == "openpose files"
    damage, parts = SIDE_CASES[case]
    damage(path)
    for call in (lambda: load(root, split="test"), lambda: check(root)):
        with pytest.raises(DataFileError) as info:
            call()
        assert_names(info.value, path, *parts)


def test_unreadable_openpose_side_file(tmp_path, monkeypatch):
    root, path = _side_tree(tmp_path)
    unreadable(path, monkeypatch)
    with pytest.raises(DataFileError) as info:
        load(root, split="test")
    assert_names(info.value, path, "Permission denied")


def test_bad_smplx_side_file(tmp_path):
    """A folder or a damaged file in place of the ground-truth side file is named, never read as 'no SMPL-X'."""
    root = _tree(tmp_path)
    path = stb.smplx_gt_path(root, "B1Counting", "SK")
    as_directory(path)
    for call in (lambda: load(root, split="test"), lambda: check(root)):
        with pytest.raises(DataFileError) as info:
            call()
        assert_names(info.value, path)
    path.rmdir()
    garbage(path)
    with pytest.raises(DataFileError) as info:
        load(root, split="test")
    assert_names(info.value, path)
