"""STB generator and adapter: round trips against the generator's truth and a re-render of the GT side file, the
palm -> wrist settings, splits, 2D sources and noise, determinism, faults and every bad-input case."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from bench.body.skeletons import get_skeleton, part_indices
from bench.errors import ConfigError, DataFileError
from bench.registry import get_dataset, load_dataset
from datasets.noise import NoiseConfig
from datasets.openpose import OpenPosePerson, write_openpose
from datasets.stb import format as stb
from datasets.stb import synth
from datasets.stb.adapter import check, load
from datasets.synth import generator_model, render_bodies

FRAMES = 4
LAYOUT = get_skeleton("openpose_137")
LEFT_HAND = part_indices(LAYOUT, "left_hand")
HAND21 = get_skeleton("openpose_hand21_left")
STB21 = get_skeleton("stb_21")


@pytest.fixture(scope="module")
def model(embedded_cache):
    return generator_model()


@pytest.fixture(scope="module")
def exact_tree(tmp_path_factory, embedded_cache) -> Path:
    out = tmp_path_factory.mktemp("stb") / "stb"
    summary = synth.synthesize(out, frames=FRAMES, seed=3, noise="none")
    assert summary["samples"] == 12 * FRAMES
    return out


@pytest.fixture(scope="module")
def noisy_tree(tmp_path_factory, embedded_cache) -> Path:
    out = tmp_path_factory.mktemp("stb_noisy") / "stb"
    synth.synthesize(out, frames=6, seed=3, noise="detector", sequences=stb.TEST_SEQUENCES)
    return out


def _copy(tree: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(tree, tmp_path / "stb"))


def _rerender(model, samples) -> dict[str, np.ndarray]:
    """Re-pose SMPL-X from the set's camera-frame GT parameters (independent of the label files)."""
    assert samples.smplx is not None and samples.smplx_valid.all()
    return render_bodies(model, samples.smplx, skeletons=("stb_21", "openpose_hand21_left"))


def _project(points: np.ndarray) -> np.ndarray:
    uv = points[..., :2] / points[..., 2:]
    return uv @ stb.SK_COLOUR_K[:2, :2].T + stb.SK_COLOUR_K[:2, 2]


def test_round_trip_3d_against_generator_truth(exact_tree, model):
    samples = load(exact_tree, split="all", root="palm")
    assert len(samples) == 12 * FRAMES and samples.skeleton == "stb_21" and not samples.faults.total
    for sequence in stb.SEQUENCES:
        truth = synth.render_sequence(model, sequence, FRAMES, seed=3, noise=NoiseConfig("none"))
        rows = samples.ids["sequence"] == sequence
        np.testing.assert_allclose(samples.joints3d[rows], truth["joints"], rtol=0, atol=1e-6)
    assert samples.joints3d_valid.all()


def test_gt_smplx_rerendered_equals_joints_and_2d_is_exact(exact_tree, model):
    samples = load(exact_tree, split="test", root="palm")
    posed = _rerender(model, samples)
    np.testing.assert_allclose(posed["stb_21"], samples.joints3d, rtol=0, atol=1e-6)
    exact = _project(posed["openpose_hand21_left"])
    kp = samples.keypoints2d[:, LEFT_HAND]
    inside = kp[..., 2] > 0
    assert inside.mean() > 0.95  # the hand is placed inside the image
    np.testing.assert_allclose(kp[..., :2][inside], exact[inside], atol=1e-3)
    assert np.all(kp[..., 2][inside] == 1.0)
    others = np.setdiff1d(np.arange(len(LAYOUT)), LEFT_HAND)
    assert not samples.keypoints2d[:, others].any()  # body, right hand, face slots empty
    np.testing.assert_array_equal(samples.K[0], stb.SK_COLOUR_K)
    np.testing.assert_array_equal(samples.R[0], np.eye(3))
    assert not samples.t.any() and not samples.dist.any() and samples.image_size.tolist()[0] == [640, 480]


def test_labels_are_in_the_depth_frame_in_millimetres(exact_tree):
    para = scipy.io.loadmat(stb.label_path(exact_tree, "B1Counting", "SK"))["handPara"]
    assert para.shape == (3, 21, FRAMES)
    samples = load(exact_tree, split="test", root="palm")
    colour = samples.joints3d[samples.ids["sequence"] == "B1Counting"]
    np.testing.assert_allclose(para.transpose(2, 1, 0) / 1000.0, stb.sk_colour_to_depth(colour), atol=1e-9)
    assert np.abs(para.transpose(2, 1, 0) / 1000.0 - colour).max() > 0.02  # the 24 mm baseline is applied


def test_scene_hand_faces_camera_at_range(exact_tree):
    samples = load(exact_tree, split="all", root="ring_mcp")
    hand = samples.joints3d
    wrist, index, pinky = (hand[:, HAND21.index(n)] for n in ("left_wrist", "left_index1", "left_pinky1"))
    palm_normal = np.cross(pinky - wrist, index - wrist)
    to_camera = -hand.mean(axis=1)
    assert np.all(np.sum(palm_normal * to_camera, axis=1) > 0)  # palm side towards the camera
    depth = hand.mean(axis=1)[:, 2]
    assert np.all((depth > 0.24) & (depth < 0.61))
    uv = _project(hand)
    assert np.all((uv >= 0) & (uv <= [639, 479]))
    extent = (uv.max(axis=1) - uv.min(axis=1)).max(axis=1)
    assert np.median(extent) > 100  # a close-up: the hand spans a good part of the image


@pytest.mark.parametrize(("root", "mcp"), [("ring_mcp", "left_ring1"), ("middle_mcp", "left_middle1")])
def test_root_conventions(exact_tree, model, root, mcp):
    palm = load(exact_tree, split="test", root="palm")
    samples = load(exact_tree, split="test", root=root)
    assert samples.skeleton == "openpose_hand21_left" and samples.info["root_joints"] == ("left_wrist",)
    assert samples.info["eval_joints"] == HAND21.joints and f"root={root}" in samples.info["protocol"]
    for name in STB21.joints[1:]:  # the other 20 points are the same, reordered by name
        np.testing.assert_array_equal(samples.joints3d[:, HAND21.index(name)], palm.joints3d[:, STB21.index(name)])
    p, m = palm.joints3d[:, 0], palm.joints3d[:, STB21.index(mcp)]
    np.testing.assert_allclose(samples.joints3d[:, 0], m + 2 * (p - m), atol=1e-12)
    if root == "ring_mcp":  # the synthetic palm is the wrist/ring-MCP midpoint: this recovers SMPL-X's wrist
        wrist = _rerender(model, samples)["openpose_hand21_left"][:, 0]
        np.testing.assert_allclose(samples.joints3d[:, 0], wrist, atol=1e-6)
    assert palm.info["root_joints"] == ("left_palm",) and palm.info["eval_joints"] == STB21.joints


def test_splits(exact_tree):
    counts = {split: load(exact_tree, split=split).counts("sequence") for split in ("test", "train", "all")}
    assert set(k[0] for k in counts["test"]) == set(stb.TEST_SEQUENCES)
    assert set(k[0] for k in counts["train"]) == set(stb.TRAIN_SEQUENCES)
    assert sum(counts["all"].values()) == 12 * FRAMES
    samples = load(exact_tree, split="test")
    row = samples.ids
    first = tuple(row[k][0] for k in ("subject", "sequence", "action", "view"))
    assert first == ("B1", "B1Counting", "Counting", "SK")
    assert row["frame"].tolist() == [0, 1, 2, 3] * 2 and not row["person"].any()


@pytest.mark.parametrize(("split", "sequences", "expected"), [
    ("train", 1, ("B2Counting",)),
    ("train", 3, ("B2Counting", "B2Random", "B3Counting")),
    ("train", 10, stb.TRAIN_SEQUENCES),
    ("train", "all", stb.TRAIN_SEQUENCES),
    ("train", "Counting", ("B2Counting", "B3Counting", "B4Counting", "B5Counting", "B6Counting")),
    ("test", "Random", ("B1Random",)),
    ("train", "B4Random+B2Counting", ("B2Counting", "B4Random")),
])  # fmt: skip
def test_sequences_setting_selects_them(exact_tree, split, sequences, expected):
    samples = load(exact_tree, split=split, sequences=sequences)
    assert tuple(dict.fromkeys(samples.ids["sequence"])) == expected
    assert len(samples) == FRAMES * len(expected)
    assert f"sequences={sequences}" in samples.info["protocol"] and ", ".join(expected) in samples.info["protocol"]
    whole = load(exact_tree, split=split)
    rows = np.isin(whole.ids["sequence"], expected)
    np.testing.assert_array_equal(samples.joints3d, whole.joints3d[rows])  # the same samples, not re-drawn


@pytest.mark.parametrize(("split", "sequences", "match"), [
    ("train", "B7Counting", r"unknown sequence\(s\) 'B7Counting' for split 'train'; valid: .*B2Counting, B2Random"),
    ("train", "B1Random", "unknown sequence.*'B1Random'"),  # a test sequence is not a training one
    ("test", "B2Counting+B1Random", "unknown sequence.*'B2Counting'.*B1Counting, B1Random"),
    ("train", "B2Counting+B2Counting", "repeated"),
    ("train", 0, "out of range for split 'train' \\(10 sequences\\)"),
    ("test", 3, "out of range"),
    ("train", True, "not valid"),
    ("train", "counting", "unknown sequence"),
])  # fmt: skip
def test_sequences_setting_rejects_bad_values(exact_tree, split, sequences, match):
    with pytest.raises(ConfigError, match=match):
        load(exact_tree, split=split, sequences=sequences)


def test_projection_source_matches_files_without_noise(exact_tree):
    files = load(exact_tree, split="test", keypoints2d="openpose")
    projected = load(exact_tree, split="test", keypoints2d="projection", noise="none")
    assert "2D from projection+none noise" in projected.info["protocol"]
    assert "2D from openpose files" in files.info["protocol"]
    np.testing.assert_allclose(projected.keypoints2d, files.keypoints2d, atol=1e-3)


def test_detector_noise_close_to_exact_and_deterministic(noisy_tree, exact_tree):
    noisy = load(noisy_tree, split="test")
    exact = _project(load(noisy_tree, split="test", keypoints2d="projection", noise="none").joints3d)
    kp = noisy.keypoints2d[:, LEFT_HAND]
    found = kp[..., 2] > 0
    assert 0.5 < found.mean() < 1.0  # dropouts (self-occlusion, random) but most points found
    err = np.linalg.norm(kp[..., :2] - exact, axis=-1)[found]
    assert 0.3 < np.median(err) < 10.0
    assert np.all((kp[..., 2][found] > 0) & (kp[..., 2][found] < 1))
    again = load(exact_tree, split="test", keypoints2d="projection", noise="detector")
    first = load(exact_tree, split="test", keypoints2d="projection", noise="detector")
    np.testing.assert_array_equal(again.keypoints2d, first.keypoints2d)
    none = load(exact_tree, split="test", keypoints2d="projection", noise="none")
    assert np.abs(first.keypoints2d - none.keypoints2d).max() > 0.1


def _tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}  # fmt: skip


def test_deterministic_bytes(tmp_path, embedded_cache):
    for name in ("a", "b"):
        synth.synthesize(tmp_path / name, frames=2, seed=5, noise="detector", sequences=("B2Random",))
    assert _tree_digest(tmp_path / "a") == _tree_digest(tmp_path / "b")
    synth.synthesize(tmp_path / "c", frames=2, seed=6, noise="detector", sequences=("B2Random",))
    assert _tree_digest(tmp_path / "a") != _tree_digest(tmp_path / "c")


def test_missing_or_empty_2d_files_are_counted_faults(exact_tree, tmp_path):
    tree = _copy(exact_tree, tmp_path)
    stb.openpose_path(tree, "B1Counting", "SK", 1).unlink()
    write_openpose(stb.openpose_path(tree, "B1Random", "SK", 2), [])
    sparse = np.zeros((len(LAYOUT), 3))
    sparse[LEFT_HAND[:2]] = [100.0, 100.0, 0.9]
    write_openpose(stb.openpose_path(tree, "B1Random", "SK", 3), [OpenPosePerson(sparse)])
    samples = load(tree, split="test")
    assert len(samples) == 2 * FRAMES - 3
    assert samples.faults.as_dict() == {"missing 2D keypoint file": 1, "no person in 2D keypoint file": 1,
                                        "fewer than 3 detected 2D keypoints": 1}  # fmt: skip
    assert samples.ids["frame"][samples.ids["sequence"] == "B1Counting"].tolist() == [0, 2, 3]
    assert samples.smplx["transl"].shape == (len(samples), 3)
    shutil.rmtree(tree / "openpose" / "B1Random")  # 'auto': that sequence falls back to projection
    auto = load(tree, split="test")
    assert auto.info["keypoints2d_source"] == {"B1Counting": "openpose files", "B1Random": "projection+detector noise"}
    forced = load(tree, split="test", keypoints2d="openpose")
    assert forced.faults.as_dict() == {"missing 2D keypoint file": FRAMES + 1}


def test_several_people_pick_the_left_hand(exact_tree, tmp_path):
    tree = _copy(exact_tree, tmp_path)
    path = stb.openpose_path(tree, "B1Counting", "SK", 0)
    before = load(tree, split="test").keypoints2d[0]
    decoy = np.zeros((len(LAYOUT), 3))
    decoy[part_indices(LAYOUT, "body")] = [10.0, 10.0, 0.9]
    write_openpose(path, [OpenPosePerson(decoy), OpenPosePerson(before)])
    np.testing.assert_allclose(load(tree, split="test").keypoints2d[0], before, atol=1e-4)


def test_no_side_files_gives_no_smplx_and_projection(exact_tree, tmp_path):
    tree = _copy(exact_tree, tmp_path)
    shutil.rmtree(tree / "smplx_gt")
    shutil.rmtree(tree / "openpose")
    samples = load(tree, split="train", noise="none")
    assert samples.smplx is None and len(samples) == 10 * FRAMES
    assert "2D from projection+none noise" in samples.info["protocol"]


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("garbage", "cannot read .mat file"),
        ({"other": np.zeros((3, 21, 4))}, r"handPara: missing"),
        ({"handPara": np.zeros((3, 20, 4))}, r"handPara: expected 3 x 21 x N"),
        ({"handPara": np.full((3, 21, 4), np.nan)}, r"handPara: contains NaN or inf \(frame 0\)"),
        ({"handPara": np.full((3, 21, 4), np.inf)}, r"handPara: contains NaN or inf"),
    ],
)
def test_malformed_labels_name_file_and_field(exact_tree, tmp_path, content, match):
    tree = _copy(exact_tree, tmp_path)
    path = stb.label_path(tree, "B1Random", "SK")
    if isinstance(content, str):
        path.write_bytes(content.encode() * 50)
    else:
        scipy.io.savemat(path, content)
    for call in (lambda: load(tree, split="test"), lambda: check(tree)):
        with pytest.raises(DataFileError, match=match) as info:
            call()
        assert "B1Random_SK.mat" in str(info.value)


def test_malformed_side_files(exact_tree, tmp_path):
    tree = _copy(exact_tree, tmp_path)
    side = stb.openpose_path(tree, "B1Counting", "SK", 0)
    side.write_text("{not json")
    with pytest.raises(DataFileError, match="SK_color_0_keypoints.json: malformed JSON"):
        load(tree, split="test")
    with pytest.raises(DataFileError, match="SK_color_0_keypoints.json"):
        check(tree)
    side.write_text(json.dumps({"people": []}))
    gt = stb.smplx_gt_path(tree, "B1Counting", "SK")
    with np.load(gt) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["id_frame"] = arrays["id_frame"][::-1].copy()
    np.savez(gt, **arrays)
    with pytest.raises(DataFileError, match="B1Counting_SK.npz: id_frame"):
        load(tree, split="test")
    arrays["transl"][1, 0] = np.nan
    np.savez(gt, **arrays)
    with pytest.raises(DataFileError, match="B1Counting_SK.npz: transl: contains NaN"):
        load(tree, split="test")


def test_missing_labels(tmp_path):
    with pytest.raises(DataFileError, match="B1Counting_SK.mat"):
        load(tmp_path, split="test")
    with pytest.raises(DataFileError, match="no STB label files"):
        check(tmp_path)


def test_check_counts(exact_tree):
    rows = check(exact_tree)
    assert len(rows) == 12
    assert rows[0] == {"sequence": "B1Counting", "split": "test", "camera": "SK", "samples": FRAMES,
                       "keypoint_files": FRAMES}  # fmt: skip
    assert sum(r["split"] == "train" for r in rows) == 10


def test_settings_and_registry(exact_tree, tmp_path):
    spec = get_dataset("stb")
    assert spec.synthesize is synth.synthesize and spec.check is check
    assert spec.settings == {"split": "test", "sequences": "all", "camera": "SK", "root": "ring_mcp",
                             "keypoints2d": "auto", "noise": "detector"}  # fmt: skip
    (tmp_path / "stb").symlink_to(exact_tree, target_is_directory=True)
    samples = load_dataset("stb", data_root=tmp_path, split="test")
    assert samples.info["synthetic"] is True and len(samples) == 2 * FRAMES
    with pytest.raises(ConfigError, match="unknown setting"):
        load_dataset("stb", data_root=tmp_path, palm="ring")
    for kwargs, match in [({"split": "val"}, "split='val': expected one of test|train|all"),
                          ({"camera": "BB"}, "camera='BB': expected one of SK"),
                          ({"root": "wrist"}, "root='wrist': expected one of ring_mcp|middle_mcp|palm"),
                          ({"keypoints2d": "gt"}, "keypoints2d='gt': expected one of auto|openpose|projection"),
                          ({"noise": "heavy"}, "noise='heavy': expected one of detector|none"),
                          ({"sequences": "B9Random"}, "sequences='B9Random': unknown sequence(s)")]:  # fmt: skip
        with pytest.raises(ConfigError, match=f"dataset 'stb': {re.escape(match)}"):
            load_dataset("stb", data_root=tmp_path, **kwargs)
    # a spec's text is typed by the declaration: '3' is the count 3, 'Counting' an action
    three = load_dataset("stb", data_root=tmp_path, split="train", sequences="3")
    assert tuple(dict.fromkeys(three.ids["sequence"])) == ("B2Counting", "B2Random", "B3Counting")
    counting = load_dataset("stb", data_root=tmp_path, split="train", sequences="Counting")
    assert set(counting.ids["action"]) == {"Counting"}
    assert spec.declared["root"].describe() == "root='ring_mcp' (ring_mcp|middle_mcp|palm)"


@pytest.mark.parametrize(("settings", "label", "sources"), [
    ({"keypoints2d": "openpose"}, "detections", {"openpose files"}),
    ({"keypoints2d": "projection"}, "simulated", {"projection+detector noise"}),
    ({"keypoints2d": "projection", "noise": "none"}, "exact", {"projection+none noise"}),
    ({"keypoints2d": "auto"}, "detections", {"openpose files"}),
])  # fmt: skip
def test_2d_source_labelled(exact_tree, settings, label, sources):
    samples = load(exact_tree, **settings)
    assert samples.info["keypoints2d"] == label
    assert set(samples.info["keypoints2d_source"].values()) == sources


def test_2d_source_label_of_a_mixed_set_is_its_projected_part(exact_tree, tmp_path):
    tree = _copy(exact_tree, tmp_path)
    shutil.rmtree(tree / "openpose" / "B1Random")  # 'auto': B1Counting from files, B1Random projected
    samples = load(tree, split="test")
    assert samples.info["keypoints2d_source"] == {"B1Counting": "openpose files",
                                                  "B1Random": "projection+detector noise"}  # fmt: skip
    assert samples.info["keypoints2d"] == "simulated"
    assert load(tree, split="test", noise="none").info["keypoints2d"] == "exact"


def test_labels_in_metres_are_refused_by_load_and_check(exact_tree, tmp_path):
    tree = _copy(exact_tree, tmp_path)
    path = stb.label_path(tree, "B1Random", "SK")
    para = scipy.io.loadmat(path)["handPara"]
    scipy.io.savemat(path, {"handPara": para / 1000.0})  # what a user converting to metres would write
    for call in (lambda: load(tree, split="test"), lambda: check(tree)):
        with pytest.raises(
            DataFileError,
            match=r"B1Random_SK\.mat: handPara: median bone length 0\.0\d+ in the "
            r"file's units, expected millimetres.*looks like metres",
        ):
            call()
