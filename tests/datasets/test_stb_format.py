"""STB file formats: the real evaluation boxes, label round trips, camera transforms, palm -> wrist, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io
from _shared_fixtures import FIXTURES

from bench.body.skeletons import get_skeleton
from bench.errors import DataFileError
from datasets.stb import format as stb
from datasets.stb.format import (
    palm_to_wrist,
    read_bboxes,
    read_labels,
    sk_colour_to_depth,
    sk_depth_to_colour,
    write_labels,
)

STB21 = get_skeleton("stb_21")


def _fixtures_dir() -> Path:
    return FIXTURES


def _hand(rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, 21, 3) metres: a hand-sized cloud 0.3-0.6 m in front of the camera."""
    return rng.normal(0, 0.04, (n, 21, 3)) + [0.0, 0.0, rng.uniform(0.3, 0.6)]


@pytest.mark.fixtures
def test_fixture_eval_bboxes():
    path = _fixtures_dir() / "stb" / "STB_eval_bboxes.mat"
    if not path.is_file():
        pytest.skip(f"real STB sample file absent: {path}")
    boxes = read_bboxes(path)
    assert boxes.shape == (len(stb.TEST_SEQUENCES) * stb.FRAMES_PER_SEQUENCE, 4) == (3000, 4)
    assert boxes.dtype == np.float64
    width, height = stb.SK_COLOUR_SIZE
    assert np.all(boxes[:, 2:] > 0)
    assert np.all((boxes[:, 0] >= 0) & (boxes[:, 0] < width) & (boxes[:, 1] >= 0) & (boxes[:, 1] < height))


def test_splits():
    assert len(stb.SEQUENCES) == 12 and len(set(stb.SEQUENCES)) == 12
    assert stb.TEST_SEQUENCES == ("B1Counting", "B1Random")
    assert len(stb.TRAIN_SEQUENCES) == 10 and not set(stb.TRAIN_SEQUENCES) & set(stb.TEST_SEQUENCES)
    assert stb.label_path("/data/stb", "B3Random", "SK") == Path("/data/stb/labels/B3Random_SK.mat")
    with pytest.raises(ValueError, match="valid sequences: B1Counting"):
        stb.label_path("/data/stb", "B7Random", "SK")
    with pytest.raises(ValueError, match="valid cameras: BB, SK"):
        stb.label_path("/data/stb", "B1Random", "RS")


@pytest.mark.parametrize("n", [1, 7])
def test_labels_round_trip(tmp_path, n):
    joints = _hand(np.random.default_rng(n), n)
    path = tmp_path / "B1Counting_SK.mat"
    write_labels(path, joints)
    np.testing.assert_allclose(read_labels(path), joints, rtol=0, atol=1e-9)
    para = scipy.io.loadmat(path)["handPara"]
    assert para.shape == (3, 21, n)  # the source's layout, millimetres
    np.testing.assert_allclose(para[:, :, 0].T, joints[0] * 1000.0)


def test_labels_same_bytes_and_side_file_paths(tmp_path):
    joints = _hand(np.random.default_rng(3), 4)
    write_labels(tmp_path / "a" / "x.mat", joints)  # creates the folder
    write_labels(tmp_path / "b" / "x.mat", joints)
    assert (tmp_path / "a" / "x.mat").read_bytes() == (tmp_path / "b" / "x.mat").read_bytes()
    assert stb.openpose_path("/d", "B2Random", "SK", 7) == Path("/d/openpose/B2Random/SK_color_7_keypoints.json")
    assert stb.smplx_gt_path("/d", "B2Random", "SK") == Path("/d/smplx_gt/B2Random_SK.npz")
    with pytest.raises(ValueError, match="valid sequences"):
        stb.openpose_path("/d", "B9Random", "SK", 0)


def test_read_labels_converts_millimetres(tmp_path):
    para = _hand(np.random.default_rng(2), 2).transpose(2, 1, 0) * 1000.0  # 3 x 21 x N, mm
    scipy.io.savemat(tmp_path / "B2Random_BB.mat", {"handPara": para})
    joints = read_labels(tmp_path / "B2Random_BB.mat")
    assert joints.shape == (2, 21, 3)
    np.testing.assert_allclose(joints[1, 4], para[:, 4, 1] / 1000.0)


def _scaled_hand(bone_mm: float) -> np.ndarray:
    """(1, 21, 3) a straight-fingered 'stb_21' hand whose every bone is ``bone_mm`` long (numbers as written)."""
    joints = np.zeros((1, 21, 3))
    for i, parent in enumerate(STB21.parents[1:], start=1):
        finger = (i - 1) // 4
        step = np.array([np.sin(0.3 * (finger - 2)), -np.cos(0.3 * (finger - 2)), 0.0])
        joints[0, i] = joints[0, parent] + bone_mm * step
    return joints + [0.0, 0.0, 400.0]


@pytest.mark.parametrize(("bone", "ok", "looks_like"), [
    (30.0, True, ""), (12.0, True, ""), (150.0, True, ""),  # millimetres: passes
    (0.03, False, "metres"), (3.0, False, "centimetres"), (30_000.0, False, "micrometres"), (0.0, False, ""),
])  # fmt: skip
def test_label_units_are_checked_from_the_bone_lengths(tmp_path, bone, ok, looks_like):
    path = tmp_path / "B1Counting_SK.mat"
    scipy.io.savemat(path, {"handPara": _scaled_hand(bone).transpose(2, 1, 0)})
    assert stb.check_label_units(_scaled_hand(30.0), "x") == pytest.approx(30.0)
    if ok:
        assert read_labels(path).shape == (1, 21, 3)
        return
    with pytest.raises(DataFileError, match=r"B1Counting_SK\.mat: handPara: median bone length") as info:
        read_labels(path)
    assert f"{bone:.4g} in the file's units, expected millimetres" in str(info.value)
    assert (f"it looks like {looks_like}" in str(info.value)) if looks_like else "looks like" not in str(info.value)


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"labels": np.zeros((3, 21, 2))}, r"handPara: missing"),
        ({"handPara": np.zeros((3, 20, 2))}, r"handPara: expected 3 x 21 x N"),
        ({"handPara": np.zeros((21, 3, 2))}, r"handPara: expected 3 x 21 x N"),
        ({"handPara": np.zeros((3, 21))}, r"handPara: expected 3 x 21 x N"),
        ({"handPara": np.where(np.arange(126).reshape(3, 21, 2) == 125, np.nan, 1.0)}, r"handPara: .*NaN.*frame 1"),
        ({"handPara": np.array(["abc"])}, r"handPara: expected a numeric array"),
    ],
)
def test_bad_labels(tmp_path, arrays, message):
    path = tmp_path / "B1Random_SK.mat"
    scipy.io.savemat(path, arrays)
    with pytest.raises(DataFileError, match=r"B1Random_SK\.mat: " + message):
        read_labels(path)


def test_bad_label_and_bbox_files(tmp_path):
    path = tmp_path / "B1Random_SK.mat"
    for garbage in (b"not a mat file", bytes(range(256)) * 4):  # truncated header; unknown version
        path.write_bytes(garbage)
        with pytest.raises(DataFileError, match=r"B1Random_SK\.mat: cannot read .mat file: not a MAT file"):
            read_labels(path)
    with pytest.raises(DataFileError, match=r"absent\.mat: cannot read .mat file: file not found"):
        read_labels(tmp_path / "absent.mat")
    scipy.io.savemat(tmp_path / "boxes.mat", {"bboxes": np.ones((5, 3))})
    with pytest.raises(DataFileError, match=r"boxes\.mat: bboxes: expected N x 4"):
        read_bboxes(tmp_path / "boxes.mat")
    scipy.io.savemat(tmp_path / "boxes.mat", {"bboxes": np.full((5, 4), np.inf)})
    with pytest.raises(DataFileError, match=r"boxes\.mat: bboxes: contains NaN or inf"):
        read_bboxes(tmp_path / "boxes.mat")


def test_write_labels_rejects_bad_arrays(tmp_path):
    with pytest.raises(ValueError, match=r"expected \(N, 21, 3\)"):
        write_labels(tmp_path / "x.mat", np.zeros((2, 20, 3)))
    with pytest.raises(ValueError, match="NaN"):
        write_labels(tmp_path / "x.mat", np.full((2, 21, 3), np.nan))


def _rodrigues(rotvec: np.ndarray) -> np.ndarray:
    theta = np.linalg.norm(rotvec)
    kx, ky, kz = rotvec / theta
    skew = np.array([[0, -kz, ky], [kz, 0, -kx], [-ky, kx, 0]])
    return np.eye(3) + np.sin(theta) * skew + (1 - np.cos(theta)) * skew @ skew


def test_sk_depth_to_colour_matches_hand_computation():
    points = _hand(np.random.default_rng(0), 3)
    R = _rodrigues(stb.SK_DEPTH_TO_COLOUR_ROTVEC)
    t = np.array([-24.0381, -0.4563, -1.2326]) / 1000.0
    expected = np.einsum("ij,nkj->nki", R.T, points - t)  # colour = R^T (x - t)
    np.testing.assert_allclose(sk_depth_to_colour(points), expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(sk_colour_to_depth(sk_depth_to_colour(points)), points, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        sk_depth_to_colour(points[..., :2])


def test_camera_constants():
    np.testing.assert_allclose(np.diag(stb.SK_COLOUR_K), [607.92271, 607.88192, 1.0])
    np.testing.assert_allclose(stb.SK_COLOUR_K[:2, 2], [314.78337, 236.42484])
    np.testing.assert_allclose(np.diag(stb.BB_K), [822.79041, 822.79041, 1.0])
    np.testing.assert_allclose(stb.BB_K[:2, 2], [318.47345, 250.31296])
    assert stb.BB_BASELINE_M == pytest.approx(0.120054)


@pytest.mark.parametrize(("convention", "mcp"), [("ring_mcp", "left_ring1"), ("middle_mcp", "left_middle1")])
def test_palm_to_wrist_by_hand(convention, mcp):
    joints = _hand(np.random.default_rng(5), 4)
    original = joints.copy()
    palm, mcp_index = STB21.index("left_palm"), STB21.index(mcp)
    out = palm_to_wrist(joints, convention)
    for n in range(4):
        expected = joints[n, mcp_index] + 2.0 * (joints[n, palm] - joints[n, mcp_index])
        np.testing.assert_allclose(out[n, palm], expected, rtol=0, atol=1e-15)
    others = [i for i in range(21) if i != palm]
    np.testing.assert_array_equal(out[:, others], joints[:, others])
    np.testing.assert_array_equal(joints, original)  # input untouched


def test_palm_to_wrist_palm_and_errors():
    joints = _hand(np.random.default_rng(6), 2)
    np.testing.assert_array_equal(palm_to_wrist(joints, "palm"), joints)
    with pytest.raises(ValueError, match="valid conventions: ring_mcp, middle_mcp, palm"):
        palm_to_wrist(joints, "wrist")
    with pytest.raises(ValueError, match=r"expected \(\.\.\., 21, 3\)"):
        palm_to_wrist(joints[:, :20], "ring_mcp")
