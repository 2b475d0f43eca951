"""COCO-WholeBody JSON: a hand-written file shaped like the released ones, the mapping into 'openpose_137' (by
name, hand wrists from the hand blocks, derived Neck / MidHip), write/read round trip and malformed files."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from bench.body.skeletons import get_skeleton, part_indices
from bench.errors import DataFileError
from datasets.cocowb.format import (
    NUM_KEYPOINTS,
    PART_KEYS,
    CocoImage,
    CocoPerson,
    CocoWholeBody,
    part_mapping,
    read_cocowb,
    to_openpose,
    write_cocowb,
)

OP = get_skeleton("openpose_137")
COCO = get_skeleton("coco_wholebody_133")


def _part(n: int, x0: float, v: float | list[float]) -> list[float]:
    """n points [x0 + k, 100 + k, v] flat, as the files store them."""
    vs = v if isinstance(v, list) else [v] * n
    out: list[float] = []
    for k in range(n):
        out += [x0 + k, 100.0 + k, vs[k]] if vs[k] > 0 else [0, 0, 0]
    return out


def _annotation(ann_id: int, image_id: int, *, body_v: list[float] | None = None) -> dict:
    """A person as COCO-WholeBody v1.0 writes one (all keys of the released files)."""
    return {
        "segmentation": [[10.0, 10.0, 50.0, 10.0, 50.0, 90.0]], "num_keypoints": 15, "area": 3200.5,
        "iscrowd": 0, "keypoints": _part(17, 200.0, body_v or [2] * 15 + [1, 0]), "image_id": image_id,
        "bbox": [150.0, 80.0, 120.0, 260.0], "category_id": 1, "id": ann_id,
        "face_box": [190.0, 90.0, 40.0, 45.0], "lefthand_box": [0, 0, 0, 0], "righthand_box": [240.0, 200.0, 30, 30],
        "lefthand_kpts": _part(21, 0.0, 0), "righthand_kpts": _part(21, 300.0, [0.2 + 0.03 * k for k in range(21)]),
        "face_kpts": _part(68, 400.0, [1] * 10 + [2] * 58), "foot_kpts": _part(6, 500.0, [2, 2, 2, 0, 2, 1]),
        "face_valid": True, "lefthand_valid": False, "righthand_valid": True, "foot_valid": True,
    }  # fmt: skip


def _document() -> dict:
    crowd = {"segmentation": {"counts": [0, 5, 10], "size": [480, 640]}, "num_keypoints": 0, "area": 900.0,
             "iscrowd": 1, "keypoints": [0] * 51, "image_id": 397133, "bbox": [0.0, 0.0, 30.0, 30.0],
             "category_id": 1, "id": 900100}  # fmt: skip  (crowd regions need not carry the whole-body keys)
    return {
        "info": {"description": "COCO-WholeBody", "version": "1.0"},
        "licenses": [{"url": "http://creativecommons.org/licenses/by-nc-sa/2.0/", "id": 1, "name": "BY-NC-SA"}],
        "images": [
            {"license": 4, "file_name": "000000397133.jpg", "coco_url": "", "height": 427, "width": 640,
             "date_captured": "2013-11-14 17:02:52", "flickr_url": "", "id": 397133},
            {"license": 1, "file_name": "000000037777.jpg", "coco_url": "", "height": 230, "width": 352,
             "date_captured": "2013-11-14 20:55:31", "flickr_url": "", "id": 37777},
        ],  # fmt: skip
        "annotations": [_annotation(200887, 397133), _annotation(1218137, 397133), crowd,
                        _annotation(183126, 37777)],
        "categories": [{"supercategory": "person", "id": 1, "name": "person", "keypoints": list(COCO.joints[:17]),
                        "skeleton": [[16, 14], [14, 12]]}],
    }  # fmt: skip


def _write(tmp_path: Path, data: dict | str) -> Path:
    path = tmp_path / "annotations" / "coco_wholebody_val_v1.0.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_hand_written_file_is_read_field_by_field(tmp_path):
    path = _write(tmp_path, _document())
    doc = read_cocowb(path)
    assert [(im.id, im.width, im.height, im.file_name) for im in doc.images] == [
        (397133, 640, 427, "000000397133.jpg"), (37777, 352, 230, "000000037777.jpg")]  # fmt: skip
    assert [p.id for p in doc.annotations] == [200887, 1218137, 900100, 183126]
    assert [p.iscrowd for p in doc.annotations] == [False, False, True, False]
    first = doc.annotations[0]
    assert first.image_id == 397133 and first.num_keypoints == 15 and first.area == 3200.5
    np.testing.assert_array_equal(first.bbox, [150.0, 80.0, 120.0, 260.0])
    assert first.valid == {"foot_valid": True, "face_valid": True, "lefthand_valid": False, "righthand_valid": True}
    # the 133 points are the five fields concatenated in 'coco_wholebody_133' order
    raw = _annotation(200887, 397133)
    flat = np.concatenate([np.reshape(raw[key], (n, 3)) for key, n in PART_KEYS])
    np.testing.assert_array_equal(first.keypoints, flat)
    assert first.keypoints[COCO.index("left_big_toe"), 0] == 500.0  # foot_kpts[0] is the left big toe
    assert first.keypoints[COCO.index("right_heel"), 2] == 1  # foot_kpts[5]
    np.testing.assert_allclose(first.keypoints[112:, 2], [0.2 + 0.03 * k for k in range(21)])  # float v kept


def test_mapping_to_openpose_by_name_with_derived_neck_and_midhip(tmp_path):
    person = read_cocowb(_write(tmp_path, _document())).annotations[0]
    kp = person.keypoints.copy()
    kp[COCO.index("left_shoulder"), :2] = (210.0, 150.0)
    kp[COCO.index("right_shoulder"), :2] = (250.0, 154.0)
    op, derived = to_openpose(kp[None], derived_confidence=0.5)
    op, derived = op[0], derived[0]
    for name in ("nose", "left_eye", "right_ear", "left_knee", "right_ankle", "left_small_toe", "right_big_toe"):
        c = COCO.index(name)
        np.testing.assert_array_equal(op[OP.index(name)], [*kp[c, :2], float(kp[c, 2] > 0)], err_msg=name)
    # neck: midpoint of the shoulders, half the weaker confidence; flagged
    np.testing.assert_allclose(op[OP.index("neck")], [230.0, 152.0, 0.5])
    hips = kp[[COCO.index("left_hip"), COCO.index("right_hip")], :2]
    np.testing.assert_allclose(op[OP.index("pelvis")], [*hips.mean(0), 0.5])
    assert derived[OP.index("neck")] and derived[OP.index("pelvis")] and derived.sum() == 2
    # the ankles: v = 1 (labelled, not visible) is a label, v = 0 is not
    assert op[OP.index("left_ankle"), 2] == 1.0 and (op[OP.index("right_ankle")] == 0).all()
    # hands: the hand wrist comes from the hand block (righthand_kpts[0]), not from the body wrist
    right = part_indices(OP, "right_hand")
    np.testing.assert_array_equal(op[right, 0], kp[112:, 0])
    np.testing.assert_array_equal(op[right, 2], 1.0)  # fractional v > 0 is a valid label
    assert op[right[0], 0] != op[OP.index("right_wrist"), 0]
    assert (op[part_indices(OP, "left_hand")] == 0).all()  # lefthand_valid false: zeros
    face = part_indices(OP, "face")
    np.testing.assert_array_equal(op[face[:68], :2], kp[23:91, :2])
    assert (op[face[68:]] == 0).all()  # OpenPose's pupils have no COCO-WholeBody point


def test_midhip_needs_both_hips_and_derivation_can_be_switched_off():
    kp = np.zeros((2, NUM_KEYPOINTS, 3))
    lh, rh = COCO.index("left_hip"), COCO.index("right_hip")
    kp[:, lh] = (100.0, 300.0, 2.0)
    kp[0, rh] = (140.0, 310.0, 1.0)  # person 0: both hips; person 1: the left one only
    op, derived = to_openpose(kp, derived_confidence=0.8)
    pelvis = OP.index("pelvis")
    np.testing.assert_allclose(op[0, pelvis], [120.0, 305.0, 0.8])
    np.testing.assert_array_equal(op[1, pelvis], 0.0)
    assert derived[0, pelvis] and not derived[1, pelvis]
    off, none = to_openpose(kp, derived_confidence=0.0)
    np.testing.assert_array_equal(off[0, pelvis], 0.0)
    assert not none.any()
    with pytest.raises(ValueError, match="derived_confidence"):
        to_openpose(kp, derived_confidence=1.5)


def test_part_mapping_covers_every_point_and_keeps_hand_wrists_in_their_blocks():
    src, dst = part_mapping("coco_wholebody_133", "openpose_137")
    assert sorted(src.tolist()) == list(range(NUM_KEYPOINTS)) and len(set(dst.tolist())) == NUM_KEYPOINTS
    pairs = dict(zip(src.tolist(), dst.tolist(), strict=True))
    assert pairs[91] == part_indices(OP, "left_hand")[0] and pairs[9] == OP.index("left_wrist")
    assert all(COCO.joints[s] == OP.joints[d] and COCO.parts[s] == OP.parts[d] for s, d in pairs.items())


def test_write_read_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    kp = np.zeros((NUM_KEYPOINTS, 3))
    kp[:, :2] = np.round(rng.uniform(0, 600, (NUM_KEYPOINTS, 2)), 2)
    kp[:, 2] = rng.choice([0, 1, 2], NUM_KEYPOINTS)
    kp[kp[:, 2] == 0, :2] = 0.0
    doc = CocoWholeBody([CocoImage(5, "000000000005.jpg", 640, 480)],
                        [CocoPerson(7, 5, kp, [1.5, 2.0, 300.25, 400.0]),
                         CocoPerson(8, 5, np.zeros((NUM_KEYPOINTS, 3)), [0, 0, 10, 10], iscrowd=True)])  # fmt: skip
    path = tmp_path / "a.json"
    write_cocowb(path, doc)
    back = read_cocowb(path)
    assert back.images == doc.images
    np.testing.assert_array_equal(back.annotations[0].keypoints, kp)
    np.testing.assert_array_equal(back.annotations[0].bbox, [1.5, 2.0, 300.25, 400.0])
    assert back.annotations[0].num_keypoints == int((kp[:17, 2] > 0).sum())
    assert back.annotations[1].iscrowd and not back.annotations[0].iscrowd
    raw = json.loads(path.read_text())["annotations"][0]
    assert {"keypoints", "foot_kpts", "face_kpts", "lefthand_kpts", "righthand_kpts", "face_box", "foot_valid",
            "num_keypoints", "iscrowd", "bbox", "area", "segmentation"} <= set(raw)  # fmt: skip
    assert all(isinstance(v, int) for v in raw["keypoints"][2::3])  # flags written as 0 / 1 / 2


def _set(path: str, value):
    def edit(doc: dict) -> None:
        *parents, last = path.split("/")
        node = doc
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if value is _DELETE:
            del node[last]
        elif isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return edit


_DELETE = object()
_CORRUPTIONS = {
    "missing images": (_set("images", _DELETE), r"images: missing key"),
    "images not a list": (_set("images", {"id": 1}), r"images: expected a list"),
    "missing face_kpts": (_set("annotations/0/face_kpts", _DELETE), r"annotations\[0\]\.face_kpts: missing key"),
    "short keypoints": (_set("annotations/1/keypoints", [1.0] * 50),
                        r"annotations\[1\]\.keypoints: expected 51 values \(17 x 3\), got 50 \(annotation id \d+\)"),
    "long lefthand": (_set("annotations/0/lefthand_kpts", [0] * 66), r"annotations\[0\]\.lefthand_kpts: expected 63"),
    "string in foot": (_set("annotations/0/foot_kpts", ["a"] * 18), r"annotations\[0\]\.foot_kpts: expected a flat"),
    "negative width": (_set("images/1/width", -352), r"images\[1\]\.width: .*negative size"),
    "zero height": (_set("images/0/height", 0), r"images\[0\]\.height: expected >= 1"),
    "negative bbox": (_set("annotations/3/bbox", [1.0, 2.0, -5.0, 4.0]), r"annotations\[3\]\.bbox: negative size"),
    "unknown image_id": (_set("annotations/3/image_id", 12345),
                         r"annotations\[3\]\.image_id: image id 12345 has no entry in the file's images table "
                         r"\(annotation id \d+\)"),
    "plain COCO": (lambda d: [a.pop(k) for a in d["annotations"] for k in ("foot_kpts", "face_kpts", "lefthand_kpts",
                                                                          "righthand_kpts") if k in a],
                   r"annotations\[0\]\.foot_kpts: missing key: a plain COCO person-keypoints annotation"),
    "normalised": (lambda d: [a.update({k: [v / 1000.0 if i % 3 < 2 else v for i, v in enumerate(a[k])]
                                        for k in ("keypoints", "foot_kpts", "face_kpts", "lefthand_kpts",
                                                  "righthand_kpts") if k in a}) for a in d["annotations"]],
                   r"annotations\[\*\]\.keypoints: every labelled point lies within \[0, 1\] \(largest coordinate "
                   r"0\.\d+\) in images of \d+ px or more: the coordinates look normalised; COCO-WholeBody stores "
                   r"pixels"),
    "visibility 3": (_set("annotations/0/keypoints/2", 3), r"annotations\[0\]\.keypoints: visibility v = 3"),
    "negative visibility": (_set("annotations/0/face_kpts/5", -1), r"annotations\[0\]\.face_kpts: visibility v = -1"),
    "duplicate image id": (_set("images/1/id", 397133), r"images\[1\]\.id: duplicate image id 397133"),
    "duplicate annotation id": (_set("annotations/1/id", 200887), r"annotations\[1\]\.id: duplicate annotation id"),
    "valid flag not a bool": (_set("annotations/0/face_valid", "yes"), r"annotations\[0\]\.face_valid: expected true"),
    "missing num_keypoints": (_set("annotations/0/num_keypoints", _DELETE), r"annotations\[0\]\.num_keypoints"),
    "fractional image id": (_set("images/0/id", 1.5), r"images\[0\]\.id: expected an integer"),
}  # fmt: skip


@pytest.mark.parametrize("name", list(_CORRUPTIONS))
def test_malformed_file_names_file_and_field(tmp_path, name):
    edit, pattern = _CORRUPTIONS[name]
    doc = copy.deepcopy(_document())
    edit(doc)
    path = _write(tmp_path, doc)
    with pytest.raises(DataFileError, match=pattern) as info:
        read_cocowb(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        (json.dumps(_document()).replace('"righthand_kpts": [300.0', '"righthand_kpts": [NaN', 1),
         r"annotations\[0\]\.righthand_kpts: non-finite value \(NaN/inf\) at index 0"),
        (json.dumps(_document()).replace('"bbox": [150.0', '"bbox": [Infinity', 1),
         r"annotations\[0\]\.bbox: non-finite"),
        ('{"images": [], "annotations": [', r"malformed JSON"),
        ("[1, 2]", r"top level: expected an object"),
    ],
)  # fmt: skip
def test_nan_and_broken_json_name_file_and_field(tmp_path, text, pattern):
    path = _write(tmp_path, text)
    with pytest.raises(DataFileError, match=pattern) as info:
        read_cocowb(path)
    assert str(path) in str(info.value)
