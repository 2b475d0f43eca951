"""OpenPose JSON files: the real sample file, write-then-read round trips, legacy 1.0 files, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from _shared_fixtures import FIXTURES

from bench.body.skeletons import PARTS, get_skeleton, part_indices
from bench.errors import DataFileError
from datasets.openpose import COCO18, OpenPosePerson, read_openpose, write_openpose

SAMPLE = FIXTURES / "openpose" / "im1010_openpose.json"
LAYOUT = get_skeleton("openpose_137")
BODY25 = get_skeleton("openpose_body25")
SLOTS = {part: part_indices(LAYOUT, part) for part in PARTS}
KEYS_2D = {
    "body": "pose_keypoints_2d",
    "left_hand": "hand_left_keypoints_2d",
    "right_hand": "hand_right_keypoints_2d",
    "face": "face_keypoints_2d",
}


@pytest.mark.fixtures
@pytest.mark.skipif(not SAMPLE.is_file(), reason=f"real OpenPose sample not found at {SAMPLE} (HMRBENCH_FIXTURES)")
def test_real_sample_parses_with_zero_parts_absent():
    people = read_openpose(SAMPLE)
    raw = json.loads(SAMPLE.read_text())["people"]
    assert len(people) == len(raw) >= 1
    for person, entry in zip(people, raw, strict=True):
        assert person.keypoints.shape == (len(LAYOUT), 3) and person.keypoints.dtype == np.float64
        for part, key in KEYS_2D.items():
            values = np.array(entry[key], dtype=float).reshape(-1, 3)
            np.testing.assert_array_equal(person.keypoints[SLOTS[part]], values)
            assert person.parts_present[part] == bool(np.any(values != 0)), part
    # The sample (OpenPose 1.2, BODY_25): body and left hand found, right hand and face all zero.
    assert people[0].parts_present == {"body": True, "left_hand": True, "right_hand": False, "face": False}


def _random_person(rng, absent: tuple[str, ...] = ()) -> OpenPosePerson:
    kp = np.column_stack(
        [rng.uniform(0, 1920, len(LAYOUT)), rng.uniform(0, 1080, len(LAYOUT)), rng.uniform(0.05, 1, len(LAYOUT))]
    )
    kp[rng.random(len(LAYOUT)) < 0.1] = 0.0  # scattered missing keypoints
    for part in absent:
        kp[SLOTS[part]] = 0.0
    return OpenPosePerson(kp)


def test_round_trip_several_people_and_missing_parts(tmp_path):
    rng = np.random.default_rng(0)
    people = [_random_person(rng), _random_person(rng, ("face",)), _random_person(rng, ("left_hand", "right_hand"))]
    path = tmp_path / "views" / "00_16" / "frame_000000_keypoints.json"
    write_openpose(path, people)
    back = read_openpose(path)
    assert len(back) == 3
    for got, want in zip(back, people, strict=True):
        np.testing.assert_allclose(got.keypoints, want.keypoints, rtol=0, atol=1e-9)
        assert got.parts_present == want.parts_present
    assert back[1].parts_present == {"body": True, "left_hand": True, "right_hand": True, "face": False}
    assert not back[2].parts_present["left_hand"] and not back[2].parts_present["right_hand"]
    raw = json.loads(path.read_text())
    assert raw["version"] == 1.3 and raw["people"][0]["person_id"] == [-1]
    assert len(raw["people"][0]["pose_keypoints_2d"]) == 3 * len(BODY25)


def test_round_trip_no_people(tmp_path):
    write_openpose(tmp_path / "empty.json", [])
    assert read_openpose(tmp_path / "empty.json") == []


def test_missing_and_empty_parts_read_as_zeros(tmp_path):
    path = tmp_path / "partial.json"
    body = np.arange(1, 3 * len(BODY25) + 1, dtype=float)
    path.write_text(
        json.dumps(
            {
                "version": 1.2,
                "people": [
                    {"pose_keypoints_2d": body.tolist(), "face_keypoints_2d": [], "hand_left_keypoints_2d": None}
                ],
            }
        )
    )
    (person,) = read_openpose(path)
    np.testing.assert_array_equal(person.keypoints[SLOTS["body"]], body.reshape(-1, 3))
    for part in ("left_hand", "right_hand", "face"):
        np.testing.assert_array_equal(person.keypoints[SLOTS[part]], 0.0)
        assert not person.parts_present[part]


def _coco18_values() -> np.ndarray:
    """(18, 3) with a distinct value per COCO-18 joint: x = 10 (k + 1), y = x + 1, c = 0.5."""
    x = 10.0 * np.arange(1, len(COCO18) + 1)
    return np.column_stack([x, x + 1, np.full(len(COCO18), 0.5)])


def _assert_coco18_in_body25(keypoints: np.ndarray, coco: np.ndarray) -> None:
    body = keypoints[SLOTS["body"]]
    for k, name in enumerate(COCO18.joints):
        np.testing.assert_array_equal(body[BODY25.index(name)], coco[k], err_msg=name)
    for name in (
        "pelvis",
        "left_big_toe",
        "left_small_toe",
        "left_heel",
        "right_big_toe",
        "right_small_toe",
        "right_heel",
    ):  # MidHip and feet: no COCO-18 counterpart
        np.testing.assert_array_equal(body[BODY25.index(name)], 0.0, err_msg=name)


def test_legacy_1_0_file_maps_coco18_to_body25_by_name(tmp_path):
    coco = _coco18_values()
    hand = np.column_stack([np.arange(21.0), np.arange(21.0) + 100, np.full(21, 0.7)])
    face = np.column_stack([np.arange(70.0), np.arange(70.0) + 200, np.full(70, 0.9)])
    path = tmp_path / "legacy_keypoints.json"
    path.write_text(json.dumps({"version": 1.0, "people": [
        {"pose_keypoints": coco.ravel().tolist(), "hand_left_keypoints": hand.ravel().tolist(),
         "hand_right_keypoints": [0.0] * 63, "face_keypoints": face.ravel().tolist()},
        {"pose_keypoints": (coco + 1000).ravel().tolist(), "face_keypoints": []},
    ]}))  # fmt: skip
    first, second = read_openpose(path)
    _assert_coco18_in_body25(first.keypoints, coco)
    # The neck, called out: COCO-18 index 1 goes to BODY_25's neck slot.
    np.testing.assert_array_equal(first.keypoints[SLOTS["body"]][BODY25.index("neck")],
                                  coco[COCO18.index("neck")])  # fmt: skip
    np.testing.assert_array_equal(first.keypoints[SLOTS["left_hand"]], hand)
    np.testing.assert_array_equal(first.keypoints[SLOTS["face"]], face)
    assert first.parts_present == {"body": True, "left_hand": True, "right_hand": False, "face": True}
    _assert_coco18_in_body25(second.keypoints, coco + 1000)
    assert second.parts_present == {"body": True, "left_hand": False, "right_hand": False, "face": False}


def test_coco18_model_under_2d_key_is_converted(tmp_path):
    coco = _coco18_values()
    path = tmp_path / "coco_model.json"
    path.write_text(json.dumps({"version": 1.3, "people": [{"pose_keypoints_2d": coco.ravel().tolist()}]}))
    (person,) = read_openpose(path)
    _assert_coco18_in_body25(person.keypoints, coco)


def test_person_rejects_wrong_shape():
    with pytest.raises(ValueError, match="137, 3"):
        OpenPosePerson(np.zeros((135, 3)))


# --- bad input ---------------------------------------------------------------------------------------------


def _assert_names(excinfo, path: Path, *fields: str) -> None:
    message = str(excinfo.value)
    for text in (path.name, *fields):
        assert text in message, message


def _valid_file(tmp_path, n: int = 2) -> tuple[Path, dict]:
    path = tmp_path / "im_keypoints.json"
    rng = np.random.default_rng(1)
    write_openpose(path, [_random_person(rng) for _ in range(n)])
    return path, json.loads(path.read_text())


def test_part_with_74_values(tmp_path):
    path, data = _valid_file(tmp_path)
    data["people"][1]["hand_left_keypoints_2d"] = [1.0] * 74
    path.write_text(json.dumps(data))
    with pytest.raises(DataFileError) as e:
        read_openpose(path)
    _assert_names(e, path, "people[1].hand_left_keypoints_2d", "expected 63 (21 x 3) values, got 74")


def test_part_with_the_wrong_count(tmp_path):
    path, data = _valid_file(tmp_path)
    data["people"][0]["pose_keypoints_2d"] = [1.0] * 66  # 22 points: neither BODY_25 nor COCO-18
    path.write_text(json.dumps(data))
    with pytest.raises(DataFileError) as e:
        read_openpose(path)
    _assert_names(e, path, "people[0].pose_keypoints_2d", "75 (25 x 3) or 54 (18 x 3)", "got 66")


def test_nan_in_pose_keypoints(tmp_path):
    path, data = _valid_file(tmp_path)
    data["people"][1]["pose_keypoints_2d"][7] = float("nan")
    path.write_text(json.dumps(data))
    with pytest.raises(DataFileError) as e:
        read_openpose(path)
    _assert_names(e, path, "people[1].pose_keypoints_2d", "NaN", "keypoint 2")


def test_malformed_json_and_missing_people(tmp_path):
    path = tmp_path / "broken_keypoints.json"
    path.write_text('{"version": 1.3, "people": [{"pose_keypoints_2d": [1, 2,')
    with pytest.raises(DataFileError) as e:
        read_openpose(path)
    _assert_names(e, path, "malformed JSON")
    path.write_text('{"version": 1.3}')
    with pytest.raises(DataFileError) as e:
        read_openpose(path)
    _assert_names(e, path, "people", "missing")
    with pytest.raises(DataFileError) as e:
        read_openpose(tmp_path / "absent.json")
    _assert_names(e, tmp_path / "absent.json", "not found")


def test_non_numeric_part(tmp_path):
    path, data = _valid_file(tmp_path)
    data["people"][0]["face_keypoints_2d"] = ["a"] * 210
    path.write_text(json.dumps(data))
    with pytest.raises(DataFileError) as e:
        read_openpose(path)
    _assert_names(e, path, "people[0].face_keypoints_2d")
