"""``noise=none`` acts on every dataset that has the setting: h36m, panoptic and stb read with ``noise=none`` give
exact 2D (the projection of the set's own 3D ground truth through the sample's camera, confidence 1 inside the
image), labelled 'exact', even where the tree stores detections, which the default still reads as they are; where
exact 2D cannot be formed (or is asked of detections) the setting is refused by name, never answered with the
detections. Each tree is a tiny generated one (1 frame; a generated tree's stored 2D is its simulated detector's)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from bench.body.skeletons import Skeleton, get_skeleton, mapping, part_indices
from bench.errors import ConfigError, DataFileError
from bench.geometry.projections import project_camera
from bench.registry import SYNTHETIC_MARKER, load_dataset
from bench.run import units
from datasets.h36m import format as h36m
from datasets.h36m import synth as h36m_synth
from datasets.h36m.adapter import check, h36m_camera
from datasets.panoptic import synth as panoptic_synth
from datasets.stb import synth as stb_synth

LAYOUT = get_skeleton("openpose_137")
PANOPTIC_SEQ = panoptic_synth.DEFAULT_SEQUENCES[0]
STB_SEQ = "B1Counting"


def _slots(skeleton: str, part: str, *, rename: dict[str, str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(openpose_137 slots of ``part``, the ``skeleton`` joint of each) for the joints both name (``rename``:
    skeleton's name -> OpenPose's, as H36M's thorax is OpenPose's neck)."""
    names = tuple((rename or {}).get(j, j) for j in get_skeleton(skeleton).joints)
    index, valid = mapping(Skeleton(f"{skeleton}_as_openpose", names, parents=None), LAYOUT)
    slots = np.intersect1d(np.flatnonzero(valid), part_indices(LAYOUT, part))
    return slots, index[slots]


H36M_SLOTS = _slots("h36m_17", "body", rename={"thorax": "neck"})
J19_SLOTS = _slots("panoptic_joints19", "body")
HAND_SLOTS = _slots("openpose_hand21_left", "left_hand")  # STB fills the left-hand slots only


@pytest.fixture(scope="module")
def root(tmp_path_factory, embedded_cache) -> Path:
    """A data root with one tiny generated tree per dataset, all written with the detector-noise model."""
    out = tmp_path_factory.mktemp("noise_none")
    h36m_synth.synthesize(out / "h36m", frames=1, seed=3, noise="detector", subjects=("S9",), actions=("Walking",))
    panoptic_synth.synthesize(out / "panoptic", frames=1, people=1, seed=3, noise="detector",
                              sequences=(PANOPTIC_SEQ,))  # fmt: skip
    stb_synth.synthesize(out / "stb", frames=2, seed=3, noise="detector", sequences=(STB_SEQ,))
    return out


def _h36m_projection(samples) -> np.ndarray:
    return np.stack([h36m.project_h36m(samples.joints3d[i], h36m_camera(samples, i)) for i in range(len(samples))])


def _opencv_projection(samples) -> np.ndarray:
    """Camera-frame joints3d through each sample's K and distortion (R = I, t = 0: the 3D is camera-frame)."""
    n = len(samples)
    eye, zero = torch.eye(3, dtype=torch.float64).expand(n, 3, 3), torch.zeros(n, 3, dtype=torch.float64)
    pts, K, dist = (torch.from_numpy(a) for a in (samples.joints3d, samples.K, samples.dist))
    return project_camera(pts, K, eye, zero, dist).numpy()


# dataset -> (settings, projection of the set's 3D, (slots, joints), keys that identify a sample across loads)
PANOPTIC_KEYS = ("sequence", "frame", "view", "person")
CASES = {
    "h36m": ({}, _h36m_projection, H36M_SLOTS, ("subject", "sequence", "frame", "view")),
    "panoptic": ({"sequences": (PANOPTIC_SEQ,)}, _opencv_projection, J19_SLOTS, PANOPTIC_KEYS),
    "stb": ({"sequences": STB_SEQ}, _opencv_projection, HAND_SLOTS, ("sequence", "frame")),
}


def _keys(samples, keys: tuple[str, ...]) -> list[tuple]:
    return list(zip(*(samples.ids[k].tolist() for k in keys), strict=True))


@pytest.mark.parametrize("name", list(CASES))
def test_noise_none_is_the_exact_projection_of_the_3d(root, name):
    settings, project, (slots, joints), _ = CASES[name]
    exact = load_dataset(name, data_root=root, noise="none", **settings)
    assert len(exact) > 0 and exact.info["keypoints2d"] == "exact" and exact.info["synthetic"]
    uv = project(exact)[:, joints]  # a ground-truth 2D "method": the set's own 3D through its own camera
    kp = exact.keypoints2d[:, slots]
    w, h = exact.image_size[:, None, 0], exact.image_size[:, None, 1]
    inside = (uv[..., 0] >= 0) & (uv[..., 1] >= 0) & (uv[..., 0] <= w - 1) & (uv[..., 1] <= h - 1)
    valid = exact.joints3d_valid[:, joints]
    if name == "stb":  # the wrist slot of 'ring_mcp' is joints3d's wrist; every STB joint is valid
        assert valid.all()
    seen = kp[..., 2] > 0
    np.testing.assert_array_equal(seen[valid], inside[valid])  # every valid joint inside the image, none outside
    assert set(np.unique(kp[..., 2][seen]).tolist()) == {1.0}  # confidence 1
    error = np.abs(kp[..., :2][seen & valid] - uv[seen & valid]).max()
    assert error < 1e-3, f"{name}: exact 2D is {error:.2e} px from the projection of its 3D"  # float32 files
    assert seen.sum() >= 3 * len(exact)


@pytest.mark.parametrize("name", list(CASES))
def test_noise_none_differs_from_the_default_and_says_so(root, name):
    settings, _, (slots, _), keys = CASES[name]
    exact = load_dataset(name, data_root=root, noise="none", **settings)
    noisy = load_dataset(name, data_root=root, **settings)
    assert noisy.info["keypoints2d"] == "simulated" and exact.info["keypoints2d"] == "exact"
    row = {k: i for i, k in enumerate(_keys(exact, keys))}
    common = [(i, row[k]) for i, k in enumerate(_keys(noisy, keys)) if k in row]
    assert len(common) == len(noisy)  # the default's samples are all in the exact set
    a = noisy.keypoints2d[[i for i, _ in common]][:, slots]
    b = exact.keypoints2d[[j for _, j in common]][:, slots]
    both = (a[..., 2] > 0) & (b[..., 2] > 0)
    assert both.sum() >= 3 and np.abs(a[..., :2] - b[..., :2])[both].max() > 0.5  # jitter, not rounding
    assert (a[..., 2][both] < 1.0).any()  # the detector's confidences, not exact ones
    assert "noise=none" in exact.info["protocol"] and "noise=none" not in noisy.info["protocol"]


def test_protocol_strings_name_the_exact_source(root):
    h = load_dataset("h36m", data_root=root, noise="none")
    assert h.info["keypoints_source"] == "part" and "2d=part->openpose_137 + noise=none" in h.info["protocol"]
    assert "openpose_2d" not in h.info["protocol"]
    p = load_dataset("panoptic", data_root=root, noise="none", sequences=(PANOPTIC_SEQ,))
    assert "2d=projection+noise=none" in p.info["protocol"]
    assert p.info["two_d_source"] == {PANOPTIC_SEQ: "projection+noise=none"}
    assert load_dataset("panoptic", data_root=root, sequences=(PANOPTIC_SEQ,)).info["two_d_source"] == {
        PANOPTIC_SEQ: "openpose-json"
    }
    s = load_dataset("stb", data_root=root, noise="none", sequences=STB_SEQ)
    assert s.info["keypoints2d_source"] == {STB_SEQ: "projection+none noise"}
    assert "2D from projection+none noise" in s.info["protocol"]


def test_noise_none_of_detections_is_refused_by_name(root):
    with pytest.raises(ConfigError, match=r"dataset 'h36m': noise=none .* keypoints=detections"):
        load_dataset("h36m", data_root=root, noise="none", keypoints="detections")
    with pytest.raises(ConfigError, match=r"dataset 'h36m': noise=none .* keypoints=openpose"):
        load_dataset("h36m", data_root=root, noise="none", keypoints="openpose")
    with pytest.raises(ConfigError, match=r"dataset 'stb': noise=none .* keypoints2d=openpose"):
        load_dataset("stb", data_root=root, noise="none", keypoints2d="openpose", sequences=STB_SEQ)
    # the same settings with noise=detector read the detections as before
    assert load_dataset("stb", data_root=root, keypoints2d="openpose", sequences=STB_SEQ).info["keypoints2d"] == (
        "simulated"
    )


def _without_part(tree: Path) -> Path:
    """Rewrite every annotation file of an H36M tree without its 2D ground truth 'part'."""
    for path in sorted((tree / h36m.ANNOTATIONS_DIR).glob("*.npz")):
        with np.load(path) as npz:
            data = {k: npz[k] for k in npz.files if k != "part"}
        np.savez(path, **data)
    return tree


def test_h36m_without_part_projects_its_3d_through_cameras_pkl(root, tmp_path):
    reference = load_dataset("h36m", data_root=root, noise="none")
    tree = _without_part(Path(shutil.copytree(root / "h36m", tmp_path / "h36m")))
    exact = load_dataset("h36m", data_root=tmp_path, noise="none")
    assert exact.info["keypoints2d"] == "exact" and "3D projected (cameras.pkl)" in exact.info["protocol"]
    np.testing.assert_array_equal(exact.keypoints2d[..., 2], reference.keypoints2d[..., 2])
    np.testing.assert_allclose(exact.keypoints2d, reference.keypoints2d, rtol=0, atol=1e-3)  # part is float32
    # the default still reads the stored detections; without them, the projection gets the noise model
    assert load_dataset("h36m", data_root=tmp_path).info["keypoints_source"] == "openpose"
    for path in (tree / h36m.ANNOTATIONS_DIR).glob("*.npz"):
        with np.load(path) as npz:
            data = {k: npz[k] for k in npz.files if k != h36m.OPENPOSE_KEY}
        np.savez(path, **data)
    noisy = load_dataset("h36m", data_root=tmp_path)
    rows = {r["file"]: r["read_as"] for r in check(tree) if "file" in r}
    assert rows["annotations/h36m_test.npz"].endswith("no 2D stored: load projects its 3D through cameras.pkl")
    assert noisy.info["keypoints2d"] == "simulated"
    assert "3D projected (cameras.pkl)->openpose_137 + noise=detector" in noisy.info["protocol"]
    assert not np.allclose(noisy.keypoints2d, exact.keypoints2d)


def test_h36m_noise_none_without_exact_2d_is_refused(root, tmp_path):
    """No 'part' and nothing to project with (no cameras.pkl; a real tree, so the default cameras are the only
    ones): noise=none names the file, the setting and why; it never falls back to the stored detections."""
    tree = _without_part(Path(shutil.copytree(root / "h36m", tmp_path / "h36m")))
    (tree / h36m.CAMERAS_FILE).unlink()
    (tree / SYNTHETIC_MARKER).unlink()
    with pytest.raises(DataFileError) as caught:
        load_dataset("h36m", data_root=tmp_path, noise="none")
    text = str(caught.value)
    for part in ("h36m_test.npz", "noise=none", "'h36m'", "no 2D ground truth 'part'", "no cameras.pkl"):
        assert part in text, text
    assert load_dataset("h36m", data_root=tmp_path).info["keypoints2d"] == "detections"  # the default: as before


def test_h36m_root_relative_3d_without_part_is_refused(root, tmp_path):
    tree = Path(shutil.copytree(root / "h36m", tmp_path / "h36m"))
    path = tree / h36m.ANNOTATIONS_DIR / "h36m_test.npz"
    with np.load(path) as npz:
        data = {k: npz[k] for k in npz.files if k != "part"}
    data["S"] = data["S"].copy()
    data["S"][..., :3] -= data["S"][:, :1, :3]  # mmpose's pelvis first: root-relative, as SPIN's files
    np.savez(path, **data)
    with pytest.raises(DataFileError, match=r"h36m_test\.npz: .*noise=none.*root-relative"):
        load_dataset("h36m", data_root=tmp_path, noise="none")


def test_the_per_set_cache_never_serves_the_default_for_noise_none(root):
    units.keep_loaded_sets(True)
    try:
        first = units.load_dataset_spec("stb[sequences=B1Counting]", data_root=root)
        second = units.load_dataset_spec("stb[sequences=B1Counting,noise=none]", data_root=root)
        again = units.load_dataset_spec("stb[sequences=B1Counting]", data_root=root)
    finally:
        units.keep_loaded_sets(False)
    assert first.info["keypoints2d"] == "simulated" and second.info["keypoints2d"] == "exact" and again is first
    assert not np.array_equal(first.keypoints2d, second.keypoints2d)
