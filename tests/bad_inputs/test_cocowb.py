"""Bad COCO-WholeBody annotation files: every damaged or malformed ``coco_wholebody_<split>_v1.0.json`` is a
DataFileError naming the file, the field (and, inside an annotation, its id), through the public entry points
(``format.read_cocowb``, the adapter's ``load`` and ``check``, ``hmrbench data check``).

Before issue 12: an error inside an annotation named only its position in the list, not its id; a plain COCO
keypoints file said only "missing key"; coordinates normalised to [0, 1] passed (every point then sat in the top-left
pixel); a person with a box and no keypoint became a sample without a single 2D point; a folder in place of the file
was reported as "file not found".

The files are written in tmp_path with ``format.write_cocowb`` (two images, three people, one crowd region).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _corrupt import as_directory, assert_names, empty, garbage, truncate, unreadable

from bench.cli import main
from bench.errors import DataFileError
from datasets.cocowb import format as cwb
from datasets.cocowb.adapter import check, load

ANN_IDS = (442619, 1717641, 1742046)


def _person(ann_id: int, image_id: int, dx: float) -> cwb.CocoPerson:
    kp = np.zeros((cwb.NUM_KEYPOINTS, 3))
    kp[:23] = np.stack([dx + 8.0 * np.arange(23), 60.0 + 6.0 * np.arange(23), np.full(23, 2.0)], axis=1)
    kp[91:112] = [dx + 40.0, 120.0, 1.0]  # a left hand, labelled but not visible
    return cwb.CocoPerson(ann_id, image_id, kp, np.array([dx, 50.0, 200.0, 150.0]))


def _file(tmp_path: Path) -> Path:
    """``<tmp>/cocowb/annotations/coco_wholebody_train_v1.0.json``: written by the format's writer."""
    doc = cwb.CocoWholeBody(
        images=[cwb.CocoImage(785, "000000000785.jpg", 640, 425), cwb.CocoImage(872, "000000000872.jpg", 621, 640)],
        annotations=[_person(ANN_IDS[0], 785, 100.0), _person(ANN_IDS[1], 872, 20.0), _person(ANN_IDS[2], 872, 300.0),
                     cwb.CocoPerson(900100872, 872, np.zeros((cwb.NUM_KEYPOINTS, 3)), np.array([0, 0, 5, 2]),
                                    iscrowd=True)],
    )  # fmt: skip
    path = cwb.annotation_path(tmp_path / "cocowb", "train")
    path.parent.mkdir(parents=True)
    cwb.write_cocowb(path, doc)
    return path


def _edit(change: Callable[[dict[str, Any]], object]) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        doc = json.loads(path.read_text())
        change(doc)
        path.write_text(json.dumps(doc))

    return damage


def _scale_points(doc: dict[str, Any], factor: float) -> None:
    for ann in doc["annotations"]:
        for key, _ in cwb.PART_KEYS:
            if key in ann:
                ann[key] = [v * factor if i % 3 < 2 else v for i, v in enumerate(ann[key])]


def _nan_text(path: Path) -> None:
    text = path.read_text()
    start = text.index('"face_kpts": [') + len('"face_kpts": [')
    path.write_text(text[:start] + "NaN" + text[text.index(",", start) :])


# name -> (damage to the file, the parts the message must hold besides the file's path)
CASES: dict[str, tuple[Callable[[Path], object], tuple[str, ...]]] = {
    "truncated": (lambda p: truncate(p, 0.5), ("malformed JSON",)),
    "empty": (empty, ("empty file",)),
    "garbage": (garbage, ("not UTF-8 text",)),
    "directory": (as_directory, ("Is a directory",)),
    "top_level_list": (lambda p: p.write_text("[1, 2]"), ("top level", "expected an object, got list")),
    "annotations_an_object": (_edit(lambda d: d.update(annotations={"id": 1})), ("annotations", "expected a list")),
    "annotation_a_list": (_edit(lambda d: d["annotations"].__setitem__(1, [1, 2])),
                          ("annotations[1]", "expected an object")),
    "image_a_string": (_edit(lambda d: d["images"].__setitem__(0, "785.jpg")), ("images[0]", "expected an object")),
    "text_in_points": (_edit(lambda d: d["annotations"][0]["foot_kpts"].__setitem__(0, "12.5")),
                       ("annotations[0].foot_kpts", "expected a flat list of numbers")),
    "bool_in_points": (_edit(lambda d: d["annotations"][1]["face_kpts"].__setitem__(3, True)),
                       ("annotations[1].face_kpts", "expected a flat list of numbers", f"id {ANN_IDS[1]}")),
    "nan": (_nan_text, ("annotations[0].face_kpts", "non-finite value", f"annotation id {ANN_IDS[0]}")),
    "inf_bbox": (lambda p: p.write_text(p.read_text().replace('"bbox": [100', '"bbox": [Infinity', 1)),
                 ("annotations[0].bbox", "non-finite", f"annotation id {ANN_IDS[0]}")),
    "missing_images": (_edit(lambda d: d.pop("images")), ("images", "missing key")),
    "missing_width": (_edit(lambda d: d["images"][1].pop("width")), ("images[1].width", "missing key")),
    "missing_hand": (_edit(lambda d: d["annotations"][2].pop("lefthand_kpts")),
                     ("annotations[2].lefthand_kpts", "missing key", f"annotation id {ANN_IDS[2]}")),
    "plain_coco": (_edit(lambda d: [a.pop(k, None) for a in d["annotations"] for k in
                                    ("foot_kpts", "face_kpts", "lefthand_kpts", "righthand_kpts")]),
                   ("annotations[0].foot_kpts", "plain COCO person-keypoints annotation")),
    "short_face": (_edit(lambda d: d["annotations"][1].update(face_kpts=d["annotations"][1]["face_kpts"][:201])),
                   ("annotations[1].face_kpts", "expected 204 values (68 x 3), got 201", f"id {ANN_IDS[1]}")),
    "long_body": (_edit(lambda d: d["annotations"][0].update(keypoints=d["annotations"][0]["keypoints"] + [0])),
                  ("annotations[0].keypoints", "expected 51 values", "got 52", f"annotation id {ANN_IDS[0]}")),
    "visibility_out_of_range": (_edit(lambda d: d["annotations"][1]["foot_kpts"].__setitem__(2, 7)),
                                ("annotations[1].foot_kpts", "visibility v = 7", f"annotation id {ANN_IDS[1]}")),
    "image_not_in_table": (_edit(lambda d: d["annotations"][2].update(image_id=999)),
                           ("annotations[2].image_id", "image id 999 has no entry in the file's images table",
                            f"annotation id {ANN_IDS[2]}")),
    "negative_height": (_edit(lambda d: d["images"][0].update(height=-425)), ("images[0].height", "negative size")),
    "duplicate_annotation_id": (_edit(lambda d: d["annotations"][1].update(id=ANN_IDS[0])),
                                ("annotations[1].id", f"duplicate annotation id {ANN_IDS[0]}")),
    "normalised": (_edit(lambda d: _scale_points(d, 1 / 1000.0)),
                   ("annotations[*].keypoints", "the coordinates look normalised", "COCO-WholeBody stores pixels")),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_file_is_named_by_every_entry_point(tmp_path, case):
    path = _file(tmp_path)
    damage, parts = CASES[case]
    damage(path)
    for call in (lambda: cwb.read_cocowb(path), lambda: load(path.parents[1]), lambda: check(path.parents[1])):
        with pytest.raises(DataFileError) as info:
            call()
        assert_names(info.value, path, *parts)


def test_unreadable_file(tmp_path, monkeypatch):
    path = unreadable(_file(tmp_path), monkeypatch)
    for call in (lambda: load(path.parents[1]), lambda: check(path.parents[1])):
        with pytest.raises(DataFileError) as info:
            call()
        assert_names(info.value, path, "Permission denied")


def test_the_good_file_and_pixel_coordinates_near_the_origin_pass(tmp_path):
    path = _file(tmp_path)
    assert len(load(path.parents[1])) == 3
    _edit(lambda d: _scale_points(d, 1 / 50.0))(path)  # points within [0, 8] px: small, not normalised
    assert len(load(path.parents[1], min_keypoints=0)) == 3


def test_missing_split_and_empty_folder(tmp_path):
    path = _file(tmp_path)
    with pytest.raises(DataFileError) as info:
        load(path.parents[1], split="val")
    assert_names(info.value, cwb.annotation_path(path.parents[1], "val"), "file not found")
    with pytest.raises(DataFileError) as info:
        check(tmp_path / "nothing")
    assert_names(info.value, tmp_path / "nothing", "no COCO-WholeBody annotation file")


@pytest.mark.parametrize("case", ["normalised", "image_not_in_table", "directory", "truncated"])
def test_data_check_fails_with_one_line(tmp_path, capsys, case):
    path = _file(tmp_path)
    CASES[case][0](path)
    assert main(["data", "check", str(path.parents[1]), "--dataset", "cocowb"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err
    assert_names(err, path, *CASES[case][1])
