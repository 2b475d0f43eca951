"""Human3.6M generator and adapter: round trips against the GT side file re-rendered independently, 2D consistent
with H36M's lens model, protocol settings (declared, checked by the registry), the 2D source and its label,
SPIN's 24-joint files and mmpose's 2D detections, the camera source, empty selections, units, determinism, the
real sample files (through symbolic links) and every bad-input case."""

from __future__ import annotations

import pickle
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from _shared_fixtures import FIXTURES

from bench.body.skeletons import get_skeleton, mapping
from bench.cli import main
from bench.errors import ConfigError, DataFileError
from bench.geometry.projections import project_camera
from bench.method import parse_spec
from bench.registry import SYNTHETIC_MARKER, load_dataset, typed_dataset_settings
from bench.run.evaluate import empty_reason
from datasets.h36m import format as h36m
from datasets.h36m import synth
from datasets.h36m.adapter import DEFAULT_CAMERAS, DEFAULT_K, check, h36m_camera, load
from datasets.synth import generator_model, read_smplx_gt, render_bodies

SUBJECTS = ("S1", "S9", "S11")
ACTIONS = ("Directions", "Walking")
FRAMES = 2
LAYOUT = get_skeleton("openpose_137")
H36M17 = get_skeleton("h36m_17")
# openpose_137 slot <- h36m_17 joint, by name (thorax = OpenPose neck); both wrists also fill the hand wrists
_NAMES_AS_OPENPOSE = tuple("neck" if j == "thorax" else j for j in H36M17.joints)
SLOT_JOINT = [(slot, _NAMES_AS_OPENPOSE.index(n)) for slot, n in enumerate(LAYOUT.joints) if n in _NAMES_AS_OPENPOSE]


@pytest.fixture(scope="module")
def model(embedded_cache):
    return generator_model()


def _synthesize(root: Path, noise: str, **kw) -> Path:
    out = root / "h36m"
    synth.synthesize(out, frames=FRAMES, seed=3, noise=noise, subjects=SUBJECTS, actions=ACTIONS, **kw)
    return out


@pytest.fixture(scope="module")
def exact_tree(tmp_path_factory, embedded_cache) -> Path:
    return _synthesize(tmp_path_factory.mktemp("h36m_exact"), "none")


@pytest.fixture(scope="module")
def noisy_tree(tmp_path_factory, embedded_cache) -> Path:
    return _synthesize(tmp_path_factory.mktemp("h36m_noisy"), "detector")


@pytest.fixture(scope="module")
def truth(exact_tree, model):
    """Independent truth: the world-frame side file re-posed, keyed by (subject, sequence, frame)."""
    params, _, ids, _ = read_smplx_gt(exact_tree / h36m.SMPLX_GT_FILE)
    posed = render_bodies(model, params, skeletons=("h36m_17",))
    keys = list(zip(ids["subject"].tolist(), ids["sequence"].tolist(), ids["frame"].tolist(), strict=True))
    return {"rows": {k: i for i, k in enumerate(keys)}, **posed}


def _truth_rows(truth, samples) -> np.ndarray:
    ids = samples.ids
    keys = zip(ids["subject"].tolist(), ids["sequence"].tolist(), ids["frame"].tolist(), strict=True)
    return np.array([truth["rows"][k] for k in keys])


def _copy(tree: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(tree, tmp_path / "h36m"))


# --- round trips ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("split", ["test", "train"])
def test_round_trip_3d_and_2d(exact_tree, truth, split):
    samples = load(exact_tree, split=split)
    subjects = [s for s in SUBJECTS if s in (h36m.TEST_SUBJECTS if split == "test" else h36m.TRAIN_SUBJECTS)]
    assert len(samples) == len(subjects) * len(ACTIONS) * 2 * 4 * FRAMES and not samples.faults.total
    assert samples.info["keypoints_source"] == "openpose" and "openpose_2d (stored)" in samples.info["protocol"]
    assert samples.info["keypoints2d"] == "simulated"  # a generated tree's 'openpose_2d' is the noise model's
    cameras = h36m.read_cameras(exact_tree / h36m.CAMERAS_FILE)
    rows = _truth_rows(truth, samples)
    for i in range(len(samples)):
        cam = cameras[(samples.ids["subject"][i], samples.ids["view"][i])]
        np.testing.assert_allclose(samples.R[i], cam.R, atol=1e-12)
        joints = truth["h36m_17"][rows[i]] @ cam.R.T + cam.t
        np.testing.assert_allclose(samples.joints3d[i], joints, rtol=0, atol=1e-6)
        exact = h36m.project_h36m(truth["keypoints"][rows[i]] @ cam.R.T + cam.t, cam)
        seen = samples.keypoints2d[i, :, 2] > 0
        inside = (exact >= 0).all(axis=1) & (exact[:, 0] <= cam.width - 1) & (exact[:, 1] <= cam.height - 1)
        np.testing.assert_array_equal(seen, inside)  # noise='none': every point inside the image, confidence 1
        np.testing.assert_allclose(samples.keypoints2d[i, seen, :2], exact[seen], rtol=0, atol=1e-3)
    assert samples.joints3d_valid.all() and (samples.joints3d[..., 2] > 2.5).all()  # metres, in front
    assert samples.keypoints2d[..., 2].mean() > 0.9


def test_gt_smplx_in_camera_frame_rerenders_to_joints3d(exact_tree, model):
    samples = load(exact_tree)
    assert samples.smplx is not None and samples.smplx_valid.all()
    posed = render_bodies(model, samples.smplx, skeletons=("h36m_17",))
    # float32 parameters and forward pass at 4-6 m from the camera (ulp 4.8e-7 m): measured 7.9e-7 m
    np.testing.assert_allclose(posed["h36m_17"], samples.joints3d, rtol=0, atol=2e-6)


def test_2d_follows_h36m_lens_through_sample_fields(exact_tree):
    # 'part' (H36M's own 2D GT) mapped into openpose slots = project_h36m(joints3d) with the camera rebuilt from
    # the sample's K, R, t, dist; OpenCV's model on the same dist is measurably off (why dist is documented).
    samples = load(exact_tree, keypoints="part", noise="none")
    assert samples.info["keypoints_source"] == "part" and "noise=none" in samples.info["protocol"]
    assert samples.info["keypoints2d"] == "exact"
    opencv_error = 0.0
    for i in range(len(samples)):
        cam = h36m_camera(samples, i)
        uv = h36m.project_h36m(samples.joints3d[i], cam)
        for slot, joint in SLOT_JOINT:
            assert abs(samples.keypoints2d[i, slot, :2] - uv[joint]).max() < 1e-3
        world = (samples.joints3d[i] - samples.t[i]) @ samples.R[i]
        cv = project_camera(*(torch_t(a) for a in (world, samples.K[i], samples.R[i], samples.t[i], samples.dist[i])))
        opencv_error = max(opencv_error, np.abs(cv.numpy() - uv).max())
    assert opencv_error > 1e-3
    stored = load(exact_tree)  # the stored detections agree with 'part' at the shared body slots
    slots = [s for s, _ in SLOT_JOINT]
    np.testing.assert_allclose(stored.keypoints2d[:, slots], samples.keypoints2d[:, slots], rtol=0, atol=1e-3)


def torch_t(a):
    import torch

    return torch.as_tensor(np.asarray(a, dtype=np.float64))


def test_noise_detector_differs_but_stays_close(exact_tree, noisy_tree):
    exact, noisy = load(exact_tree), load(noisy_tree)
    np.testing.assert_array_equal(exact.joints3d, noisy.joints3d)  # same bodies and cameras for a seed
    both = (exact.keypoints2d[..., 2] > 0) & (noisy.keypoints2d[..., 2] > 0)
    error = np.linalg.norm(exact.keypoints2d[..., :2] - noisy.keypoints2d[..., :2], axis=-1)[both]
    assert 0.3 < np.median(error) < 15.0, np.median(error)
    assert ((exact.keypoints2d[..., 2] > 0) & (noisy.keypoints2d[..., 2] == 0)).sum() > 0  # dropouts
    conf = noisy.keypoints2d[..., 2][noisy.keypoints2d[..., 2] > 0]
    assert conf.max() <= 1.0 and conf.mean() < 0.95


def test_part_source_applies_the_noise_model(exact_tree):
    clean = load(exact_tree, keypoints="part", noise="none")
    noisy = load(exact_tree, keypoints="part", noise="detector", noise_seed=1)
    assert "part->openpose_137 + noise=detector" in noisy.info["protocol"]
    assert noisy.info["keypoints2d"] == "simulated" and clean.info["keypoints2d"] == "exact"
    slots = [s for s, _ in SLOT_JOINT]
    both = (clean.keypoints2d[:, slots, 2] > 0) & (noisy.keypoints2d[:, slots, 2] > 0)
    diff = np.linalg.norm(clean.keypoints2d[:, slots, :2] - noisy.keypoints2d[:, slots, :2], axis=-1)[both]
    assert 0 < np.median(diff) < 15.0
    again = load(exact_tree, keypoints="part", noise="detector", noise_seed=1)
    np.testing.assert_array_equal(again.keypoints2d, noisy.keypoints2d)
    unmapped = np.setdiff1d(np.arange(len(LAYOUT)), slots)
    assert not clean.keypoints2d[:, unmapped].any()  # hands, face, feet: (0, 0, 0)


def test_determinism(tmp_path, embedded_cache):
    a = synth.synthesize(tmp_path / "a", frames=1, seed=5, subjects=("S9",), actions=("Walking",))
    b = synth.synthesize(tmp_path / "b", frames=1, seed=5, subjects=("S9",), actions=("Walking",))
    assert a["samples"] == b["samples"] == 2 * 4
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert len(files) == 5  # marker, test annotations, cameras, metadata, GT
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    synth.synthesize(tmp_path / "c", frames=1, seed=6, subjects=("S9",), actions=("Walking",))
    assert (tmp_path / "c" / h36m.CAMERAS_FILE).read_bytes() != (tmp_path / "a" / h36m.CAMERAS_FILE).read_bytes()


def test_synthetic_scene_is_h36m_like(exact_tree):
    cameras = h36m.read_cameras(exact_tree / h36m.CAMERAS_FILE)
    assert set(cameras) == {(s, c) for s in SUBJECTS for c in h36m.CAMERA_IDS}
    for (_, camera_id), cam in cameras.items():
        assert 1140 < cam.K[0, 0] < 1150 and cam.width == 1000
        assert cam.height == (1002 if camera_id in (h36m.CAMERA_IDS[0], h36m.CAMERA_IDS[3]) else 1000)
        assert 4.0 < np.linalg.norm(cam.center[:2]) < 5.4 and 1.4 < cam.center[2] < 1.7
        assert -0.22 < cam.k[0] < -0.18 and np.abs(cam.p).max() < 3e-3
    table = h36m.read_sequences(exact_tree / h36m.METADATA_FILE)
    assert table[("S11", "Directions")] == ("Directions", 2) and table[("S9", "Walking 1")] == ("Walking", 1)
    params, root_rest, ids, _ = read_smplx_gt(exact_tree / h36m.SMPLX_GT_FILE)
    for subject in SUBJECTS:  # one body shape per subject
        assert len(np.unique(params["betas"][ids["subject"] == subject], axis=0)) == 1
    assert np.all(ids["frame"] % h36m.FRAME_STEP == 0)
    assert synth.sequence_name("TakingPhoto", 1) == "Photo 1" and synth.sequence_name("WalkingDog", 2) == "WalkDog"


def test_synthesize_rejects_bad_sizes(tmp_path):
    with pytest.raises(ValueError, match="frames"):
        synth.synthesize(tmp_path, frames=0)
    with pytest.raises(ValueError, match="S2"):
        synth.synthesize(tmp_path, subjects=("S2",))


# --- settings ------------------------------------------------------------------------------------------------


def _kept(samples) -> set[tuple[str, str, str]]:
    return set(zip(samples.ids["subject"], samples.ids["sequence"], samples.ids["view"], strict=True))


def test_protocol_settings(exact_tree):
    spin_p1, spin_p2 = load(exact_tree), load(exact_tree, protocol="p2")
    assert set(spin_p2.ids["view"]) == {h36m.FRONTAL_CAMERA} and len(spin_p2) == len(spin_p1) // 4
    assert {s.endswith(" 1") for s in spin_p2.ids["sequence"]} == {True, False}  # both subactions
    excluded = ("S11", "Directions", h36m.CAMERA_IDS[0])  # metadata.xml: 'Directions' = subaction 2
    assert excluded in _kept(spin_p1)
    hmr_p1, hmr_p2 = load(exact_tree, variant="hmr"), load(exact_tree, variant="hmr", protocol="p2")
    assert _kept(hmr_p1) == _kept(spin_p1) - {excluded} and len(hmr_p1) == len(spin_p1) - FRAMES
    assert set(hmr_p2.ids["view"]) == {h36m.FRONTAL_CAMERA}
    assert all(s.endswith(" 1") for s in hmr_p2.ids["sequence"]) and len(hmr_p2) == len(spin_p2) // 2
    assert spin_p1.info["root_joints"] == ("pelvis",) and hmr_p1.info["root_joints"] == ("left_hip", "right_hip")
    assert "variant=hmr" in hmr_p2.info["protocol"] and hmr_p2.info["protocol"].startswith("h36m p2")
    train = load(exact_tree, split="train")
    assert set(train.ids["subject"]) == {"S1"} and "split=train" in train.info["protocol"]


def test_14_joints_score_the_lsp_set_and_keep_the_pelvis_root(exact_tree):
    full, lsp = load(exact_tree), load(exact_tree, joints=14)
    assert lsp.skeleton == "h36m_17" and lsp.info["eval_joints"] == get_skeleton("lsp_14").joints
    spin_lsp = [6, 5, 4, 1, 2, 3, 16, 15, 14, 11, 12, 13, 8, 10]  # PROTOCOLS.md line 28
    np.testing.assert_array_equal(lsp.joints3d, full.joints3d)
    scored = [H36M17.index(name) for name in lsp.info["eval_joints"]]
    assert scored == spin_lsp
    np.testing.assert_array_equal(mapping("h36m_17", "lsp_14")[0], spin_lsp)
    assert lsp.info["root_joints"] == ("pelvis",) and "joints=lsp_14" in lsp.info["protocol"]
    assert load(exact_tree, joints=14, variant="hmr").info["root_joints"] == ("left_hip", "right_hip")
    assert full.info["eval_joints"] == H36M17.joints


@pytest.mark.parametrize(
    ("setting", "value", "expected"),
    [
        ("protocol", "p3", "expected one of p1|p2 (default 'p1')"),
        ("variant", "vibe", "expected one of spin|hmr"),
        ("split", "val", "expected one of test|train"),
        ("joints", "24", "expected one of 17|14"),
        ("joints", "x", "expected int"),
        ("keypoints", "x", "expected one of auto|openpose|detections|part"),
        ("noise", "y", "expected one of detector|none"),
        ("noise_seed", "-1", "expected >= 0"),
        ("joint_order", "coco", "expected one of mmpose|spin"),
    ],
)
def test_bad_setting_values(exact_tree, tmp_path, setting, value, expected):
    """Every setting declares its values; the registry refuses others before anything is read (the spec text
    'h36m[protocol=p3]' named neither the value's choices nor came before the output folder was made)."""
    raw = parse_spec(f"h36m[{setting}={value}]")[1]
    message = f"dataset 'h36m': {setting}={raw[setting]!r}: {expected}"
    with pytest.raises(ConfigError) as caught:
        typed_dataset_settings("h36m", raw)
    assert message in str(caught.value)
    with pytest.raises(ConfigError, match=re.escape(message)):  # before the data root is looked at
        load_dataset("h36m", data_root=tmp_path / "nowhere", **raw)


def test_a_bad_value_in_an_experiment_file_names_the_file(tmp_path):
    """'h36m[protocol=p3]' in a TOML did not name the file (nor come before the output folder was made)."""
    from bench.run.experiments import load_experiment, shipped_experiments

    path = tmp_path / "mine.toml"
    path.write_text(shipped_experiments()["table4"].read_text().replace("h36m[protocol=p1]", "h36m[protocol=p3]"))
    with pytest.raises(ConfigError) as caught:
        load_experiment(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert "dataset 'h36m': protocol='p3': expected one of p1|p2 (default 'p1')" in str(caught.value)


def test_settings_typed_from_spec_text():
    spec = "h36m[protocol=p2,joints=14,noise_seed=3,keypoints=detections]"
    typed = typed_dataset_settings("h36m", parse_spec(spec)[1])
    assert typed == {"protocol": "p2", "joints": 14, "noise_seed": 3, "keypoints": "detections"}


def test_registry_and_unknown_setting(exact_tree, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "h36m").symlink_to(exact_tree)
    samples = load_dataset("h36m", data_root=root, protocol="p2")
    assert samples.info["synthetic"] is True and set(samples.ids["view"]) == {h36m.FRONTAL_CAMERA}
    with pytest.raises(ConfigError, match="unknown setting"):
        load_dataset("h36m", data_root=root, camera="x")


def test_without_cameras_or_metadata(exact_tree, tmp_path, capsys):
    tree = _copy(exact_tree, tmp_path)
    (tree / h36m.METADATA_FILE).unlink()
    with pytest.raises(DataFileError, match=r"metadata\.xml: missing"):
        load(tree, variant="hmr")
    assert len(load(tree)) == len(load(exact_tree))
    assert load(tree).info["cameras"] == h36m.CAMERAS_FILE
    (tree / h36m.CAMERAS_FILE).unlink()
    samples = load(tree)
    assert samples.smplx is None and f"cameras={DEFAULT_CAMERAS}" in samples.info["protocol"]
    assert samples.info["cameras"] == DEFAULT_CAMERAS == "default K, R = I (no cameras.pkl)"
    np.testing.assert_array_equal(samples.K[0], DEFAULT_K)
    np.testing.assert_array_equal(samples.joints3d, load(exact_tree).joints3d)
    # data check says which camera source it used (it never did)
    sources = [r["read_as"] for r in check(tree) if r.get("file") in ("-", h36m.CAMERAS_FILE)]
    assert sources == [f"camera source: {DEFAULT_CAMERAS}"]
    assert main(["data", "check", str(tree)]) == 0
    assert f"camera source: {DEFAULT_CAMERAS}" in capsys.readouterr().out
    assert main(["data", "check", str(exact_tree)]) == 0
    assert "camera source: cameras.pkl, 12 cameras" in capsys.readouterr().out


@pytest.mark.parametrize("damage", ["directory", "garbage"])
def test_a_cameras_pkl_that_cannot_be_read_is_an_error_not_the_default(exact_tree, tmp_path, damage):
    """A cameras.pkl that was a folder silently meant the default K with R = I."""
    tree = _copy(exact_tree, tmp_path)
    path = tree / h36m.CAMERAS_FILE
    path.unlink()
    path.mkdir() if damage == "directory" else path.write_bytes(b"\x00garbage")
    for call in (load, check):
        with pytest.raises(DataFileError, match=re.escape(f"{path}: cannot read camera pickle")):
            call(tree)


def _spin24_from_mmpose(S: np.ndarray) -> np.ndarray:
    """mmpose's 17 (right leg first) into SPIN's 24 slots (mmpose's old JOINT_IDX_GLOBAL), root-centred as SPIN's."""
    out = np.zeros((len(S), 24, 4))
    out[:, [14, 2, 1, 0, 3, 4, 5, 16, 12, 17, 18, 9, 10, 11, 8, 7, 6]] = S
    out[..., :3] -= out[:, 14:15, :3] * (out[..., 3:] > 0)
    return out


def _as_real(tree: Path) -> Path:
    (tree / SYNTHETIC_MARKER).unlink()
    return tree


def test_spin24_file_with_mmpose_detections(exact_tree, tmp_path):
    tree = _as_real(_copy(exact_tree, tmp_path))
    with np.load(_test_npz(tree)) as npz:
        names, S, part = npz["imgname"], npz["S"], npz["part"]
    _test_npz(tree).unlink()
    spin = tree / h36m.ANNOTATIONS_DIR / "h36m_valid_protocol1.npz"
    np.savez(spin, imgname=names, center=np.ones((len(names), 2)), scale=np.ones(len(names)), S=_spin24_from_mmpose(S))
    with pytest.raises(DataFileError, match=r"h36m_valid_protocol1\.npz: part: missing \(no 2D"):
        load(tree)  # SPIN's validation files hold no 2D
    detections = part.copy()
    detections[..., 2] = 0.75
    np.save(tree / h36m.ANNOTATIONS_DIR / "h36m_valid_protocol1_2d_detection.npy", detections)
    samples, reference = load(tree), load(exact_tree)
    np.testing.assert_allclose(samples.joints3d, reference.joints3d - reference.joints3d[:, :1], rtol=0, atol=1e-12)
    assert samples.info["keypoints_source"] == "detections" and samples.info["keypoints2d"] == "detections"
    assert "3d=root-relative" in samples.info["protocol"] and "_2d_detection.npy" in samples.info["protocol"]
    assert samples.info["files"] == {"h36m_valid_protocol1.npz": "SPIN 24-joint, 3D root-relative"}
    exact = load(exact_tree, keypoints="part", noise="none")
    slots = [s for s, _ in SLOT_JOINT]
    np.testing.assert_allclose(samples.keypoints2d[:, slots, :2], exact.keypoints2d[:, slots, :2], atol=1e-9)
    assert set(np.unique(samples.keypoints2d[:, slots, 2])) == {0.75}
    rows = {r["file"]: r["read_as"] for r in check(tree) if "file" in r}
    assert rows["annotations/h36m_valid_protocol1.npz"] == "annotations: SPIN 24-joint, 3D root-relative"
    assert rows["annotations/h36m_valid_protocol1_2d_detection.npy"] == "2D detections (mmpose)"


def test_mmpose_detections_are_the_2d_input_when_present(exact_tree, tmp_path):
    tree = _copy(exact_tree, tmp_path)
    with np.load(_test_npz(tree)) as npz:
        data = {k: npz[k] for k in npz.files if k != h36m.OPENPOSE_KEY}
    np.savez(_test_npz(tree), **data)
    assert load(tree).info["keypoints_source"] == "part"
    with pytest.raises(DataFileError, match=r"h36m_test_2d_detection\.npy: missing \(keypoints='detections'"):
        load(tree, keypoints="detections")
    detections = data["part"].copy()
    detections[..., :2] += 3.0
    detections[:, 4, 2] = 0.0  # a joint the detector missed
    np.save(tree / h36m.ANNOTATIONS_DIR / "h36m_test_2d_detection.npy", detections)
    samples = load(tree)  # auto: the detections, as they are (no noise)
    assert samples.info["keypoints_source"] == "detections"
    assert samples.info["keypoints2d"] == "simulated"  # a generated tree's 2D is never called a detector's
    assert samples.info["keypoints2d"] != load(_as_real(tree)).info["keypoints2d"] == "detections"
    exact = load(tree, keypoints="part", noise="none")
    slots = [s for s, _ in SLOT_JOINT]
    seen = samples.keypoints2d[:, slots, 2] > 0
    assert (~seen).sum() == len(samples)  # mmpose's joint 4 (left hip) only
    assert not samples.keypoints2d[:, LAYOUT.index("left_hip")].any()
    shifted = exact.keypoints2d[:, slots, :2][seen] + 3.0  # float32 in the file: 6e-5 px steps near 500 px
    np.testing.assert_allclose(samples.keypoints2d[:, slots, :2][seen], shifted, rtol=0, atol=1e-3)
    train = load(tree, split="train")  # the train file has no detections: its own stored 2D, decided per selection
    assert len(train) > 0 and train.info["keypoints_source"] == "openpose"


def test_empty_test_set_says_which_subjects(exact_tree, tmp_path):
    """Training subjects only, scored with split=test: an empty set whose protocol says what was asked and found
    (it scored NaN with exit 0 and no reason)."""
    tree = _copy(exact_tree, tmp_path)
    _test_npz(tree).unlink()
    samples = load(tree)
    assert len(samples) == 0 and samples.keypoints2d.shape == (0, 137, 3) and samples.joints3d.shape == (0, 17, 3)
    note = "no samples: none of the subjects S9+S11 in the files, which hold S1"
    assert note in samples.info["protocol"] and "subjects=S9+S11" in samples.info["protocol"]
    assert note in empty_reason(samples)
    assert len(load(tree, split="train")) > 0 and "no samples" not in load(tree, split="train").info["protocol"]


def test_3d_in_millimetres_is_refused_by_load_and_data_check(exact_tree, tmp_path, capsys):
    tree = _copy(exact_tree, tmp_path)
    with np.load(_test_npz(tree)) as npz:
        S = npz["S"].copy()
    S[..., :3] *= 1000.0
    _rewrite(_test_npz(tree), S=S)
    for call in (load, check):
        with pytest.raises(DataFileError) as caught:
            call(tree)
        text = str(caught.value)
        assert f"{_test_npz(tree)}: S: median bone length" in text and "expected metres" in text, text
        assert "millimetres (divide by 1000)" in text
    assert main(["data", "check", str(tree)]) == 2
    assert "S: median bone length" in capsys.readouterr().err


def test_check_counts(exact_tree):
    rows = check(exact_tree)
    per_group = [r for r in rows if "view" in r]
    assert len(per_group) == len(SUBJECTS) * 4  # (split, subject, view)
    assert all(r["samples"] == len(ACTIONS) * 2 * FRAMES for r in per_group)
    protocols = {(r["split"], r["protocol"], r["variant"]): r["samples"] for r in rows if "protocol" in r}
    assert protocols[("test", "p1", "spin")] == len(load(exact_tree))
    assert protocols[("test", "p2", "hmr")] == len(load(exact_tree, variant="hmr", protocol="p2"))
    assert protocols[("train", "p1", "spin")] == 1 * len(ACTIONS) * 2 * 4 * FRAMES


# --- bad input -----------------------------------------------------------------------------------------------


def _rewrite(path: Path, **changes) -> None:
    with np.load(path) as npz:
        data = {k: npz[k] for k in npz.files}
    data.update(changes)
    np.savez(path, **data)


def _test_npz(tree: Path) -> Path:
    return tree / h36m.ANNOTATIONS_DIR / "h36m_test.npz"


def test_malformed_npz(exact_tree, tmp_path):
    tree = _copy(exact_tree, tmp_path)
    _test_npz(tree).write_bytes(b"not a zip")
    with pytest.raises(DataFileError, match=r"h36m_test\.npz: cannot read H36M annotation npz"):
        load(tree)
    with pytest.raises(DataFileError, match=r"h36m_test\.npz"):
        check(tree)


def _poison(a: np.ndarray, flat_index: int, value: float) -> np.ndarray:
    out = a.astype(np.float64).copy()
    out.flat[flat_index] = value
    return out


@pytest.mark.parametrize(
    ("key", "make", "message"),
    [
        ("S", lambda a: a[:, :16], r"h36m_test\.npz: S: expected \(N, 17"),
        ("S", lambda a: _poison(a, 7, np.nan), r"h36m_test\.npz: S: .*NaN"),
        ("part", lambda a: _poison(a, 7, np.inf), r"h36m_test\.npz: part: .*NaN"),
        ("openpose_2d", lambda a: a[:, :25], r"h36m_test\.npz: openpose_2d: expected \(N, 137, 3\)"),
        (
            "openpose_2d",
            lambda a: _poison(a, 9, np.nan),
            r"h36m_test\.npz: openpose_2d: contains NaN or inf \(sample 0\)",
        ),
    ],
)
def test_bad_arrays(exact_tree, tmp_path, key, make, message):
    tree = _copy(exact_tree, tmp_path)
    with np.load(_test_npz(tree)) as npz:
        value = make(npz[key])
    _rewrite(_test_npz(tree), **{key: value})
    with pytest.raises(DataFileError, match=message):
        load(tree)


def test_missing_camera(exact_tree, tmp_path):
    tree = _copy(exact_tree, tmp_path)
    raw = pickle.loads((tree / h36m.CAMERAS_FILE).read_bytes())
    del raw[("S9", h36m.CAMERA_IDS[2])]
    (tree / h36m.CAMERAS_FILE).write_bytes(pickle.dumps(raw))
    with pytest.raises(DataFileError, match=r"cameras\.pkl: camera \('S9', '58860488'\) missing .*h36m_test\.npz"):
        load(tree)
    with pytest.raises(DataFileError, match=r"cameras\.pkl: camera \('S9', '58860488'\)"):
        check(tree)


def test_bad_side_files(exact_tree, tmp_path):
    tree = _copy(exact_tree, tmp_path)
    (tree / h36m.METADATA_FILE).write_text("<a><mapping>")
    with pytest.raises(DataFileError, match=r"metadata\.xml: cannot read"):
        load(tree)
    (tree / h36m.METADATA_FILE).unlink()
    _rewrite(tree / h36m.SMPLX_GT_FILE, transl=np.zeros((3, 3), np.float32))
    with pytest.raises(DataFileError, match=r"smplx_gt\.npz: transl: expected"):
        load(tree)
    with pytest.raises(DataFileError, match=r"smplx_gt\.npz: transl: expected"):
        check(tree)
    shutil.rmtree(tree / h36m.ANNOTATIONS_DIR)
    with pytest.raises(DataFileError, match=r"annotations: no annotation \.npz files"):
        load(tree)


def test_per_sample_faults_are_skipped_and_counted(exact_tree, tmp_path):
    tree = _copy(exact_tree, tmp_path)
    with np.load(_test_npz(tree)) as npz:
        S, detections = npz["S"].copy(), npz["openpose_2d"].copy()
    S[3, 2:, 3] = 0.0  # only 2 valid 3D joints
    detections[5] = 0.0  # no 2D keypoint at all
    _rewrite(_test_npz(tree), S=S, openpose_2d=detections)
    samples = load(tree)
    assert len(samples) == len(load(exact_tree)) - 2
    assert samples.faults.as_dict() == {"fewer than 3 valid 3D joints": 1, "no 2D keypoint": 1}
    assert "h36m_test.npz" in samples.faults.examples["no 2D keypoint"][0]


def test_missing_openpose_key_falls_back_to_part(exact_tree, tmp_path):
    tree = _copy(exact_tree, tmp_path)
    with np.load(_test_npz(tree)) as npz:
        data = {k: npz[k] for k in npz.files if k != h36m.OPENPOSE_KEY}
    np.savez(_test_npz(tree), **data)
    assert load(tree).info["keypoints_source"] == "part"
    with pytest.raises(DataFileError, match=r"h36m_test\.npz: openpose_2d: missing"):
        load(tree, keypoints="openpose")


# --- the real sample files -----------------------------------------------------------------------------------


def _fixtures_dir() -> Path:
    return FIXTURES / "h36m"


@pytest.fixture
def real_tree(tmp_path) -> Path:
    """A data-root folder of symbolic links to the real sample files (never copies)."""
    source = _fixtures_dir()
    files = {"cameras.pkl": h36m.CAMERAS_FILE, "metadata.xml": h36m.METADATA_FILE}
    if not all((source / f).is_file() for f in (*files, "test_h36m_body3d.npz")):
        pytest.skip(f"real Human3.6M sample files absent: {source}")
    tree = tmp_path / "h36m"
    (tree / h36m.ANNOTATIONS_DIR).mkdir(parents=True)
    (tree / h36m.ANNOTATIONS_DIR / "test_h36m_body3d.npz").symlink_to(source / "test_h36m_body3d.npz")
    for name, target in files.items():
        (tree / target).symlink_to(source / name)
    return tree


@pytest.mark.fixtures
def test_real_files_load_and_2d_is_reproduced(real_tree):
    # The sample files hold S1, S5, S7, S8 (training subjects): one frame each, cameras 1 and 2.
    samples = load(real_tree, split="train", noise="none")
    assert len(samples) == 4 and samples.info["keypoints_source"] == "part" and samples.smplx is None
    assert samples.ids["subject"].tolist() == ["S1", "S5", "S7", "S8"]
    assert samples.ids["action"].tolist() == ["Directions", "SittingDown", "Greeting", "WalkingDog"]
    assert samples.image_size.tolist() == [[1000, 1002], [1000, 1002], [1000, 1000], [1000, 1000]]
    worst = 0.0
    for i in range(len(samples)):
        uv = h36m.project_h36m(samples.joints3d[i], h36m_camera(samples, i))
        for slot, joint in SLOT_JOINT:
            worst = max(worst, np.abs(samples.keypoints2d[i, slot, :2] - uv[joint]).max())
    assert worst < 1e-3, worst
    assert samples.info["keypoints2d"] == "exact" and load(real_tree, split="train").info["keypoints2d"] == "simulated"
    empty = load(real_tree)  # no test subject in the sample files
    assert len(empty) == 0
    assert "none of the subjects S9+S11 in the files, which hold S1, S5, S7, S8" in empty.info["protocol"]
    p2 = load(real_tree, split="train", variant="hmr", protocol="p2")  # cameras 1 and 2 only
    assert len(p2) == 0 and "subjects S1+S5+S6+S7+S8 found, but no frame of theirs passes" in p2.info["protocol"]
    noisy = load(real_tree, split="train")
    assert noisy.keypoints2d.shape == (4, 137, 3) and not np.array_equal(noisy.keypoints2d, samples.keypoints2d)


@pytest.mark.fixtures
def test_real_files_check(real_tree):
    rows = check(real_tree)
    assert sum(r["samples"] for r in rows if "view" in r) == 4
    assert {(r["split"], r["protocol"], r["variant"]): r["samples"] for r in rows if "protocol" in r}[
        ("train", "p1", "hmr")
    ] == 4
