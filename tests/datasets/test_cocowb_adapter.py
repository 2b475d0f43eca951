"""The 'cocowb' adapter and the synthetic in-the-wild generator: the generated files read back with the same
keypoints, distances as specified (log-uniform 0.5-8 m, >= 25% under 1.5 m), wide lenses close up, truncated
bodies with their outside points dropped (not clamped), nothing 3D in the files or the set, several people per
image, derived Neck / MidHip, faults and settings, and a hand-written COCO-WholeBody-shaped file."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from bench.body.skeletons import get_skeleton, part_indices
from bench.errors import ConfigError, DataFileError
from bench.registry import SYNTHETIC_MARKER, get_dataset, load_dataset
from datasets.cocowb.adapter import check, load
from datasets.cocowb.format import PART_KEYS, annotation_path
from datasets.cocowb.synth import CLOSE_M, DISTANCE_RANGE_M, synthesize

OP = get_skeleton("openpose_137")
COCO = get_skeleton("coco_wholebody_133")
IMAGES = 150  # ~235 people: enough for the distance shares to be tested within +-3 s.d.


@pytest.fixture(scope="module")
def tree(tmp_path_factory, embedded_cache):
    root = tmp_path_factory.mktemp("cocowb")
    manifest = root / "truth" / "manifest.npz"
    summary = synthesize(root / "data" / "cocowb", frames=IMAGES, seed=0, manifest=manifest)
    with np.load(manifest, allow_pickle=False) as npz:
        truth = {k: npz[k] for k in npz.files}
    return root / "data", truth, summary


def _raw(folder: Path, split: str = "train") -> dict:
    return json.loads(annotation_path(folder, split).read_text())


def _op_slots() -> np.ndarray:
    """openpose_137 slot of each of the 133 points, by name within the part (independent of the reader)."""
    slots = []
    for name, part in zip(COCO.joints, COCO.parts, strict=True):
        block = part_indices(OP, part)
        slots.append(next(int(i) for i in block if OP.joints[i] == name))
    return np.array(slots)


def test_generated_files_read_back_with_the_same_keypoints(tree):
    root, _, _ = tree
    raw = _raw(root / "cocowb")
    s = load(root / "cocowb", min_keypoints=0)
    people = [a for a in raw["annotations"] if not a["iscrowd"]]
    assert len(s) == len(people) > 100
    sizes = {im["id"]: (im["width"], im["height"]) for im in raw["images"]}
    slots = _op_slots()
    for row, ann in enumerate(people):
        kp = np.concatenate([np.reshape(ann[key], (n, 3)) for key, n in PART_KEYS])
        assert s.ids["person"][row] == ann["id"] and s.ids["frame"][row] == ann["image_id"]
        assert tuple(s.image_size[row]) == sizes[ann["image_id"]]
        np.testing.assert_allclose(s.keypoints2d[row, slots, :2], kp[:, :2], atol=1e-3)
        np.testing.assert_array_equal(s.keypoints2d[row, slots, 2], (kp[:, 2] > 0).astype(np.float32))
    # v is COCO's flag: 2 visible, 1 hidden by the body, 0 dropped
    flags = np.concatenate([np.asarray(a["keypoints"][2::3]) for a in people])
    assert set(np.unique(flags)) == {0, 1, 2}


def test_distances_as_specified(tree):
    _, truth, summary = tree
    d = truth["root_distance_m"]
    assert len(d) == summary["people"] > 200
    assert d.min() >= DISTANCE_RANGE_M[0] and d.max() <= DISTANCE_RANGE_M[1]
    assert (d < CLOSE_M).mean() >= 0.25  # log-uniform: 39.6% expected
    octaves = np.histogram(d, bins=[0.5, 1.0, 2.0, 4.0, 8.0])[0] / len(d)
    assert (np.abs(octaves - 0.25) < 0.09).all(), octaves  # 25% per octave, +-3 s.d. at this size
    assert (d < 1.0).sum() >= 30  # selfie range is populated
    # wide lenses close up: a lone person under 1.5 m is shot at 0.5-0.8 x max(w, h)
    ids, counts = np.unique(truth["image_id"], return_counts=True)
    lone = np.isin(truth["image_id"], ids[counts == 1])
    ratio = truth["focal_px"] / truth["image_size"].max(axis=1)
    close = lone & (d < CLOSE_M)
    assert close.sum() > 20 and ((ratio[close] >= 0.5) & (ratio[close] <= 0.8)).all()
    assert ratio.max() > 1.2  # and longer lenses for far shots
    # camera elevation: people seen from above and from below
    assert (truth["elevation_deg"] > 30).any() and (truth["elevation_deg"] < -10).any()


def test_truncated_people_have_their_outside_points_dropped_not_clamped(tree):
    root, truth, _ = tree
    truncated = truth["body_outside"] > 0
    close = truth["root_distance_m"] < CLOSE_M
    assert truncated.mean() > 0.3 and truncated[close].mean() > 0.8
    raw = _raw(root / "cocowb")
    sizes = {im["id"]: (im["width"], im["height"]) for im in raw["images"]}
    row_of = {int(a): i for i, a in enumerate(truth["annotation_id"])}
    at_border = 0
    labelled_total = 0
    for ann in raw["annotations"]:
        if ann["iscrowd"]:
            continue
        w, h = sizes[ann["image_id"]]
        kp = np.concatenate([np.reshape(ann[key], (n, 3)) for key, n in PART_KEYS])
        on = kp[:, 2] > 0
        assert ((kp[on, 0] >= 0) & (kp[on, 0] <= w - 1) & (kp[on, 1] >= 0) & (kp[on, 1] <= h - 1)).all()
        assert (kp[~on] == 0).all()  # dropped: x = y = v = 0
        body_labelled = int(on[:17].sum())
        assert body_labelled <= 17 - truth["body_outside"][row_of[ann["id"]]]
        at_border += int(((kp[on, 0] == 0) | (kp[on, 0] == w - 1) | (kp[on, 1] == 0) | (kp[on, 1] == h - 1)).sum())
        labelled_total += int(on.sum())
    assert at_border <= 0.002 * labelled_total  # clamping would pile the truncated points up on the border


def test_no_3d_camera_or_smplx_in_the_files_or_the_set(tree):
    root, _, _ = tree
    files = sorted(str(p.relative_to(root / "cocowb")) for p in (root / "cocowb").rglob("*") if p.is_file())
    assert files == [SYNTHETIC_MARKER, "annotations/coco_wholebody_train_v1.0.json",
                     "annotations/coco_wholebody_val_v1.0.json"]  # fmt: skip
    raw = _raw(root / "cocowb")
    keys = set().union(*(a.keys() for a in raw["annotations"])) | set().union(*(i.keys() for i in raw["images"]))
    assert keys == {"segmentation", "num_keypoints", "area", "iscrowd", "image_id", "bbox", "category_id", "id",
                    "face_box", "lefthand_box", "righthand_box", "keypoints", "foot_kpts", "face_kpts",
                    "lefthand_kpts", "righthand_kpts", "foot_valid", "face_valid", "lefthand_valid",
                    "righthand_valid", "license", "file_name", "height", "width"}  # fmt: skip
    s = load_dataset("cocowb", data_root=root)
    assert s.smplx is None and not s.smplx_valid.any() and not s.joints3d_valid.any()
    assert s.info["ground_truth"] is False and s.info["synthetic"] is True and s.synthetic
    assert s.info["generator"]["dataset"] == "cocowb"
    assert "split=train" in s.info["protocol"] and "min_keypoints=4" in s.info["protocol"]
    assert "no camera" in s.info["protocol"] and "focal max(width, height)" in s.info["protocol"]


def test_several_people_per_image_one_sample_each(tree):
    root, _, _ = tree
    s = load(root / "cocowb", min_keypoints=0)
    _, counts = np.unique(s.ids["frame"], return_counts=True)
    assert (counts >= 2).sum() > 10 and counts.max() >= 3
    assert len(np.unique(s.ids["person"])) == len(s)


def test_neck_and_midhip_are_derived_midpoints_flagged(tree):
    root, _, _ = tree
    s = load(root / "cocowb", min_keypoints=0)
    kp = s.keypoints2d
    for name, (a, b) in (("neck", ("left_shoulder", "right_shoulder")), ("pelvis", ("left_hip", "right_hip"))):
        slot, ia, ib = OP.index(name), OP.index(a), OP.index(b)
        both = (kp[:, ia, 2] > 0) & (kp[:, ib, 2] > 0)
        assert both.any() and (~both).any()
        np.testing.assert_allclose(kp[both, slot, :2], (kp[both, ia, :2] + kp[both, ib, :2]) / 2, atol=1e-3)
        np.testing.assert_array_equal(kp[both, slot, 2], np.minimum(kp[both, ia, 2], kp[both, ib, 2]))
        np.testing.assert_array_equal(kp[~both, slot], 0.0)
        np.testing.assert_array_equal(s.extra["derived"][:, slot], both)
    assert s.info["derived"] == {"neck": ("left_shoulder", "right_shoulder"), "pelvis": ("left_hip", "right_hip")}
    assert "Neck / MidHip = midpoint of the shoulders / hips when both are labelled" in s.info["protocol"]
    assert load(root / "cocowb", derived_confidence=0.0).info["derived"] == {}
    half = load(root / "cocowb", min_keypoints=0, derived_confidence=0.5)
    assert set(np.unique(half.keypoints2d[:, OP.index("neck"), 2])) <= {0.0, 0.5}
    assert "confidence 0.5 x the weaker" in half.info["protocol"]


def test_faults_filters_and_settings(tree):
    root, _, summary = tree
    all_people = load(root / "cocowb", min_keypoints=0)
    default = load(root / "cocowb")
    assert len(default) < len(all_people)
    body = (default.keypoints2d[:, [OP.index(n) for n in COCO.joints[:17]], 2] > 0).sum(1)
    assert (body >= 4).all()
    assert default.faults.counts["fewer than 4 labelled body keypoints"] == len(all_people) - len(default)
    crowd = sum(a["iscrowd"] for a in _raw(root / "cocowb")["annotations"])
    assert crowd > 0 and all_people.faults.counts["crowd region (iscrowd)"] == crowd
    val = load(root / "cocowb", split="val", min_keypoints=0)
    assert len(val) + len(all_people) == summary["people"]
    assert check(root / "cocowb") == [
        {"split": "train", "images": len(_raw(root / "cocowb")["images"]), "crowd": crowd,
         "samples": len(all_people)},
        {"split": "val", "images": len(_raw(root / "cocowb", "val")["images"]),
         "crowd": sum(a["iscrowd"] for a in _raw(root / "cocowb", "val")["annotations"]), "samples": len(val)},
    ]  # fmt: skip
    for settings, pattern in (({"split": "test"}, "split='test': expected one of train|val"),
                              ({"min_keypoints": -1}, "min_keypoints=-1: expected in [0, 17]"),
                              ({"min_keypoints": "18"}, "min_keypoints='18': expected in [0, 17]"),
                              ({"min_keypoints": 2.5}, "min_keypoints=2.5: expected int"),
                              ({"derived_confidence": 1.5}, "derived_confidence=1.5: expected in [0, 1]")):  # fmt: skip
        with pytest.raises(ConfigError, match=f"dataset 'cocowb': {re.escape(pattern)}"):
            load_dataset("cocowb", data_root=root, **settings)
    typed = load_dataset("cocowb", data_root=root, min_keypoints="0", derived_confidence="0.5")  # spec text
    assert len(typed) == len(all_people) and "confidence 0.5 x the weaker" in typed.info["protocol"]
    assert get_dataset("cocowb").settings == {"split": "train", "min_keypoints": 4, "derived_confidence": 1.0}


def test_manifest_must_stay_outside_the_dataset_tree(tmp_path):
    with pytest.raises(ValueError, match="outside the dataset tree"):
        synthesize(tmp_path / "cocowb", frames=1, manifest=tmp_path / "cocowb" / "truth.npz")


def _real_like(folder: Path) -> Path:
    """Two images, three people and a crowd region, written by hand the way COCO-WholeBody v1.0 files are."""
    def person(ann_id: int, image_id: int, dx: float, shoulders: bool) -> dict:
        body = [0.0] * 51
        for k, name in enumerate(COCO.joints[:17]):
            if name == "left_shoulder" and not shoulders:
                continue
            body[3 * k: 3 * k + 3] = [dx + 10.0 * k, 50.0 + 5.0 * k, 2]
        return {"segmentation": [[0.0, 0.0, 1.0, 1.0]], "num_keypoints": 17 - (not shoulders), "area": 5000.0,
                "iscrowd": 0, "keypoints": body, "image_id": image_id, "bbox": [dx, 40.0, 200.0, 150.0],
                "category_id": 1, "id": ann_id, "face_box": [0.0, 0.0, 0.0, 0.0], "lefthand_box": [0, 0, 0, 0],
                "righthand_box": [0, 0, 0, 0], "lefthand_kpts": [0.0] * 63, "righthand_kpts": [0.0] * 63,
                "face_kpts": [0.0] * 204, "foot_kpts": [dx, 199.0, 0.6] + [0.0] * 15, "face_valid": False,
                "lefthand_valid": False, "righthand_valid": False, "foot_valid": True}  # fmt: skip

    doc = {
        "info": {"description": "COCO-WholeBody", "version": "1.0"}, "licenses": [],
        "images": [{"license": 3, "file_name": "000000000785.jpg", "height": 425, "width": 640, "id": 785},
                   {"license": 1, "file_name": "000000000872.jpg", "height": 640, "width": 621, "id": 872}],
        "annotations": [person(442619, 785, 100.0, True), person(1717641, 872, 20.0, False),
                        person(1742046, 872, 300.0, True),
                        {"segmentation": {"counts": [1, 2], "size": [640, 621]}, "num_keypoints": 0, "area": 10.0,
                         "iscrowd": 1, "keypoints": [0] * 51, "image_id": 872, "bbox": [0, 0, 5, 2],
                         "category_id": 1, "id": 900100872}],
        "categories": [{"supercategory": "person", "id": 1, "name": "person"}],
    }  # fmt: skip
    path = annotation_path(folder, "train")
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(doc))
    return path


def test_hand_written_coco_wholebody_file(tmp_path):
    _real_like(tmp_path / "cocowb")
    s = load_dataset("cocowb", data_root=tmp_path)
    assert s.info["synthetic"] is False and len(s) == 3
    assert s.ids["person"].tolist() == [442619, 1717641, 1742046] and s.ids["frame"].tolist() == [785, 872, 872]
    assert s.ids["view"].tolist() == ["000000000785.jpg", "000000000872.jpg", "000000000872.jpg"]
    np.testing.assert_array_equal(s.image_size, [[640, 425], [621, 640], [621, 640]])
    np.testing.assert_allclose(s.K[1], [[640.0, 0.0, 310.5], [0.0, 640.0, 320.0], [0.0, 0.0, 1.0]])
    assert s.faults.counts == {"crowd region (iscrowd)": 1}
    kp = s.keypoints2d
    np.testing.assert_allclose(kp[0, OP.index("nose")], [100.0, 50.0, 1.0])
    np.testing.assert_allclose(kp[0, OP.index("neck")], [100.0 + 55.0, 50.0 + 27.5, 1.0])  # shoulders 5 and 6
    np.testing.assert_array_equal(kp[1, OP.index("neck")], 0.0)  # no left shoulder: no neck
    np.testing.assert_allclose(kp[1, OP.index("pelvis")], [20.0 + 115.0, 50.0 + 57.5, 1.0])  # hips 11 and 12
    np.testing.assert_allclose(kp[2, OP.index("left_big_toe")], [300.0, 199.0, 1.0])  # fractional v = 0.6
    assert (kp[:, part_indices(OP, "left_hand")] == 0).all()
    with pytest.raises(DataFileError, match=r"coco_wholebody_val_v1\.0\.json: file not found"):
        load(tmp_path / "cocowb", split="val")


def test_labelled_points_outside_the_image_are_dropped_and_counted(tmp_path):
    path = _real_like(tmp_path / "cocowb")
    doc = json.loads(path.read_text())
    doc["annotations"][0]["keypoints"][0] = 700.0  # the nose of a 640-wide image
    path.write_text(json.dumps(doc))
    s = load(tmp_path / "cocowb")
    np.testing.assert_array_equal(s.keypoints2d[0, OP.index("nose")], 0.0)
    assert s.info["points_outside_image"] == 1


def test_several_people_of_one_image_keep_their_own_points_and_the_image_size(tmp_path):
    path = _real_like(tmp_path / "cocowb")
    s = load(path.parents[1])
    two = np.flatnonzero(s.ids["frame"] == 872)
    assert len(two) == 2 and s.ids["person"][two].tolist() == [1717641, 1742046]
    np.testing.assert_allclose(s.keypoints2d[two, OP.index("nose"), 0], [20.0, 300.0])  # each its own points
    np.testing.assert_array_equal(s.image_size[two], [[621, 640]] * 2)


def test_a_person_with_a_box_but_no_keypoints_is_a_counted_fault(tmp_path):
    path = _real_like(tmp_path / "cocowb")
    doc = json.loads(path.read_text())
    box_only = dict(doc["annotations"][0], id=5555, num_keypoints=0)
    for key, n in PART_KEYS:
        box_only[key] = [0] * (3 * n)
    doc["annotations"].append(box_only)
    path.write_text(json.dumps(doc))
    s = load(tmp_path / "cocowb", min_keypoints=0)  # kept by no rule: a sample without a single 2D point
    assert len(s) == 3 and 5555 not in s.ids["person"].tolist()
    assert s.faults.counts["no labelled keypoints (a box only)"] == 1


def test_2d_is_labelled_detections(tmp_path):
    _real_like(tmp_path / "cocowb")
    s = load_dataset("cocowb", data_root=tmp_path)
    assert s.info["keypoints2d"] == "detections" and s.info["synthetic"] is False
