"""The 'openpose' adapter: the real sample file through a symlink, several people per file, legacy files, frame
numbers, camera assumptions, faults and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from _shared_fixtures import FIXTURES

from bench.body.skeletons import get_skeleton, part_indices
from bench.errors import ConfigError, DataFileError
from bench.registry import get_dataset, load_dataset, typed_dataset_settings
from bench.run.results import data_labels
from datasets.openpose import OpenPosePerson, read_openpose, write_openpose
from datasets.openpose_adapter import check, load

SAMPLE = FIXTURES / "openpose" / "im1010_openpose.json"
LAYOUT = get_skeleton("openpose_137")
BODY = part_indices(LAYOUT, "body")
LEFT_HAND = part_indices(LAYOUT, "left_hand")


def _person(rng: np.random.Generator, parts: tuple[np.ndarray, ...] = (BODY, LEFT_HAND)) -> OpenPosePerson:
    kp = np.zeros((len(LAYOUT), 3))
    for slots in parts:
        kp[slots, :2] = rng.uniform(0, 400, (len(slots), 2))
        kp[slots, 2] = rng.uniform(0.1, 1.0, len(slots))
    return OpenPosePerson(kp)


def _folder(tmp_path: Path, people_per_file: list[int], seed: int = 0) -> tuple[Path, list[list[OpenPosePerson]]]:
    rng = np.random.default_rng(seed)
    folder = tmp_path / "clip"
    written = []
    for i, count in enumerate(people_per_file):
        people = [_person(rng) for _ in range(count)]
        write_openpose(folder / f"clip_{10 * i:012d}_keypoints.json", people)
        written.append(people)
    return folder, written


@pytest.mark.fixtures
@pytest.mark.skipif(not SAMPLE.is_file(), reason=f"real OpenPose sample not found at {SAMPLE} (HMRBENCH_FIXTURES)")
def test_real_sample_through_symlink(tmp_path):
    folder = tmp_path / "real"
    folder.mkdir()
    (folder / SAMPLE.name).symlink_to(SAMPLE.resolve())  # a link, never a copy of the fixture
    samples = load(folder, image_width=200, image_height=250)
    people = read_openpose(SAMPLE)
    assert len(samples) == len(people) >= 1
    np.testing.assert_allclose(samples.keypoints2d, np.stack([p.keypoints for p in people]), atol=1e-4)
    assert samples.ids["frame"].tolist() == [1010] * len(people)
    assert samples.ids["sequence"].tolist() == ["real"] * len(people)
    assert samples.ids["person"].tolist() == list(range(len(people)))
    assert check(folder) == [{"sequence": "real", "files": 1, "samples": len(people)}]


def test_several_people_per_file_one_sample_each(tmp_path):
    folder, written = _folder(tmp_path, [2, 3, 1])
    samples = load(folder, image_width=640, image_height=480)
    assert len(samples) == 6 and samples.skeleton == "openpose_body25"
    expected = np.stack([p.keypoints for people in written for p in people])
    np.testing.assert_allclose(samples.keypoints2d, expected, atol=1e-4)
    assert samples.ids["frame"].tolist() == [0, 0, 10, 10, 10, 20]
    assert samples.ids["person"].tolist() == [0, 1, 0, 1, 2, 0]
    assert set(samples.ids["subject"]) == set(samples.ids["view"]) == set(samples.ids["action"]) == {""}
    assert samples.joints3d.shape == (6, 25, 3) and not samples.joints3d_valid.any()
    assert samples.smplx is None and not samples.smplx_valid.any()
    assert "no 3D ground truth; 2D-only input" in samples.info["protocol"]
    assert samples.info["eval_joints"] == ()
    assert check(folder) == [{"sequence": "clip", "files": 3, "samples": 6}]


def test_camera_defaults_and_focal_setting(tmp_path):
    folder, _ = _folder(tmp_path, [1])
    samples = load(folder, image_width=640, image_height=480)
    np.testing.assert_array_equal(samples.K[0], [[640, 0, 320], [0, 640, 240], [0, 0, 1]])
    np.testing.assert_array_equal(samples.R[0], np.eye(3))
    assert not samples.t.any() and not samples.dist.any()
    assert samples.image_size.tolist() == [[640, 480]]
    assert "assumed: max(width, height)" in samples.info["protocol"]
    custom = load(folder, image_width=640, image_height=480, focal=1000.0)
    assert custom.K[0, 0, 0] == custom.K[0, 1, 1] == 1000.0
    assert "focal 1000 px (setting)" in custom.info["protocol"]


def test_legacy_file_and_any_json_name(tmp_path):
    folder = tmp_path / "legacy"
    folder.mkdir()
    coco = np.arange(18 * 3, dtype=float).reshape(18, 3) + 1.0
    legacy = json.dumps({"version": 1.0, "people": [{"pose_keypoints": coco.ravel().tolist()}]})
    for name in ("frame_a.json", "frame_b.json"):
        (folder / name).write_text(legacy)
    samples = load(folder, image_width=100, image_height=100)
    assert len(samples) == 2
    neck = LAYOUT.index("neck")
    np.testing.assert_allclose(samples.keypoints2d[0, neck], coco[1])
    assert samples.keypoints2d[0, LAYOUT.index("pelvis"), 2] == 0  # BODY_25 MidHip has no COCO-18 source
    assert samples.ids["frame"].tolist() == [0, 1]  # no numbers in the names: sorted index


def test_keypoints_files_preferred_and_marker_ignored(tmp_path):
    folder, _ = _folder(tmp_path, [1, 1])
    (folder / "notes.json").write_text("{}")  # not a *_keypoints.json file: ignored when those exist
    assert len(load(folder, image_width=640, image_height=480)) == 2
    other = tmp_path / "plain"
    write_openpose(other / "a1.json", [_person(np.random.default_rng(1))])
    (other / "HMRBENCH_SYNTHETIC.json").write_text("{}")
    assert len(load(other, image_width=640, image_height=480)) == 1


def test_empty_files_and_people_are_counted_faults(tmp_path):
    folder, _ = _folder(tmp_path, [1, 0])
    write_openpose(folder / "clip_000000000099_keypoints.json", [OpenPosePerson(np.zeros((len(LAYOUT), 3)))])
    samples = load(folder, image_width=640, image_height=480)
    assert len(samples) == 1
    assert samples.faults.as_dict() == {"file with no people": 1, "person with no keypoints": 1}


def test_missing_image_size_is_config_error(tmp_path):
    folder, _ = _folder(tmp_path, [1])
    with pytest.raises(ConfigError, match="image_width"):
        load(folder, image_height=480)
    with pytest.raises(ConfigError, match="image_height"):
        load(folder, image_width=640)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"image_width": -5}, "image_width=-5: expected >= 1 or none"),
        ({"image_height": "0"}, "image_height='0': expected >= 1 or none"),
        ({"image_width": "640px"}, "image_width='640px': expected int or none"),
        ({"focal": 0.0}, "focal=0.0: expected > 0 or none"),
        ({"focal": "inf"}, "focal='inf': expected a finite number > 0 or none"),
    ],
)
def test_sizes_and_focal_refused_by_their_declarations(values, message):
    """The ranges are load's annotations, checked by the registry before anything is read."""
    with pytest.raises(ConfigError) as caught:
        typed_dataset_settings("openpose", values)
    assert str(caught.value).startswith("dataset 'openpose': ") and message in str(caught.value)
    assert typed_dataset_settings("openpose", {"image_width": "640", "focal": "1000"}) == {
        "image_width": 640, "focal": 1000.0}  # fmt: skip


def test_2d_labelled_as_detections(tmp_path):
    folder, _ = _folder(tmp_path, [2, 1])
    samples = load(folder, image_width=640, image_height=480)
    assert samples.info["keypoints2d"] == "detections"
    assert data_labels(samples, "smplx") == {"synthetic": False, "data": "real", "body_model": "smplx",
                                             "keypoints2d": "detections"}  # fmt: skip


def test_malformed_json_names_file(tmp_path):
    folder, _ = _folder(tmp_path, [1])
    bad = folder / "clip_000000000005_keypoints.json"
    bad.write_text('{"people": [')
    with pytest.raises(DataFileError, match=str(bad.name)):
        load(folder, image_width=640, image_height=480)
    with pytest.raises(DataFileError, match=str(bad.name)):
        check(folder)
    bad.write_text(json.dumps({"people": [{"pose_keypoints_2d": [1.0, 2.0]}]}))
    with pytest.raises(DataFileError, match=r"people\[0\]\.pose_keypoints_2d"):
        load(folder, image_width=640, image_height=480)


def test_empty_or_missing_folder(tmp_path):
    with pytest.raises(DataFileError, match="no OpenPose JSON files"):
        load(tmp_path, image_width=640, image_height=480)
    with pytest.raises(DataFileError, match="not a folder"):
        check(tmp_path / "absent")


def test_registered_with_settings(tmp_path):
    spec = get_dataset("openpose")
    assert spec.synthesize is None and spec.check is check
    assert spec.settings == {"image_width": None, "image_height": None, "focal": None}
    folder, _ = _folder(tmp_path, [2])
    (tmp_path / "openpose").symlink_to(folder, target_is_directory=True)
    samples = load_dataset("openpose", data_root=tmp_path, image_width=640, image_height=480)
    assert len(samples) == 2 and samples.info["synthetic"] is False
    with pytest.raises(ConfigError, match="unknown setting"):
        load_dataset("openpose", data_root=tmp_path, image_width=640, image_height=480, fps=30)
