"""COCO-WholeBody JSON (Jin et al., ECCV 2020): reading, writing and the mapping to the 'openpose_137' layout.

File (the real format, ``annotations/coco_wholebody_{train,val}_v1.0.json``; COCO's keypoint format extended)::

    {"info": {...}, "licenses": [...], "categories": [{"id": 1, "name": "person", "keypoints": [...], ...}],
     "images": [{"id", "file_name", "width", "height", ...}],
     "annotations": [{"id", "image_id", "category_id", "bbox": [x, y, w, h], "area", "iscrowd", "num_keypoints",
                      "segmentation", "keypoints": 17 x [x, y, v], "foot_kpts": 6 x 3, "face_kpts": 68 x 3,
                      "lefthand_kpts": 21 x 3, "righthand_kpts": 21 x 3, "foot_valid", "face_valid",
                      "lefthand_valid", "righthand_valid", "face_box", "lefthand_box", "righthand_box"}]}

- The five keypoint fields concatenated in that order are the 133 points of the 'coco_wholebody_133' skeleton of
  ``bench.body.skeletons`` (body 0-16, feet 17-22, face 23-90, left hand 91-111, right hand 112-132; PROTOCOLS.md).
- ``v``: COCO's flag, 0 = not labelled (x = y = 0), 1 = labelled but not visible, 2 = labelled and visible. The
  released whole-body parts also carry fractional ``v`` in (0, 1] (scores of the pseudo-labels that annotators
  corrected, jin-s13/COCO-WholeBody issues #5, #32); the authors' rule is "v > 0 is a valid label", which is the
  rule here. Any finite ``v`` in [0, 2] is accepted.
- ``num_keypoints`` counts the labelled points of the 17 body points (COCO's own count).
- ``iscrowd`` annotations mark crowd regions without keypoints; the reader keeps them (the adapter skips them).

Every reader error (missing key, wrong type or length, NaN/inf, negative size, ``v`` out of range, unknown or
duplicate id, coordinates normalised to [0, 1] instead of pixels) raises :class:`bench.errors.DataFileError` naming
the file and the field, and for an annotation its id, e.g. ``.../coco_wholebody_train_v1.0.json:
annotations[3].face_kpts: expected 204 values (68 x 3), got 201 (annotation id 1717641)``; an annotation whose
``image_id`` has no ``images`` entry names that image id. A plain COCO person-keypoints file (no whole-body keys) is
refused saying so.

Units: COCO-WholeBody stores pixels. A file whose labelled points all lie in [0, 1] (``NORMALISED_MAX``) while its
images are larger than ``MIN_IMAGE_PX`` has normalised coordinates and is refused, naming the largest value.

Mapping to 'openpose_137' (:func:`to_openpose`): by joint name; confidence 1 for a labelled point, 0 otherwise.
OpenPose's Neck and MidHip have no COCO point: each is derived as the midpoint of the shoulders / hips when both
are labelled, with confidence ``derived_confidence x`` the weaker source's, and flagged in the returned mask. The
pupils (face 68, 69) stay missing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.body.skeletons import get_skeleton
from bench.errors import DataFileError
from datasets.jsonio import dump_json, load_json

__all__ = [
    "BOX_KEYS",
    "DERIVED",
    "LAYOUT",
    "NUM_KEYPOINTS",
    "PART_KEYS",
    "VALID_KEYS",
    "CocoImage",
    "CocoPerson",
    "CocoWholeBody",
    "annotation_path",
    "part_mapping",
    "read_cocowb",
    "split_parts",
    "to_openpose",
    "write_cocowb",
]

LAYOUT = "coco_wholebody_133"
NUM_KEYPOINTS = len(get_skeleton(LAYOUT))
# (key, points) in the order of 'coco_wholebody_133'
PART_KEYS: tuple[tuple[str, int], ...] = (
    ("keypoints", 17), ("foot_kpts", 6), ("face_kpts", 68), ("lefthand_kpts", 21), ("righthand_kpts", 21),
)  # fmt: skip
assert sum(n for _, n in PART_KEYS) == NUM_KEYPOINTS
VALID_KEYS = ("foot_valid", "face_valid", "lefthand_valid", "righthand_valid")  # flag per whole-body part
BOX_KEYS = ("face_box", "lefthand_box", "righthand_box")
_PART_OF_VALID = dict(zip(VALID_KEYS, ("foot_kpts", "face_kpts", "lefthand_kpts", "righthand_kpts"), strict=True))
_PART_OF_BOX = dict(zip(BOX_KEYS, ("face_kpts", "lefthand_kpts", "righthand_kpts"), strict=True))
_SPANS: dict[str, slice] = {}
_start = 0
for _key, _n in PART_KEYS:
    _SPANS[_key] = slice(_start, _start + _n)
    _start += _n
MAX_V = 2.0
_NUMBER_TYPES = {int, float}  # JSON numbers as the json module returns them
# The units rule: every labelled point within [0, NORMALISED_MAX] in images of MIN_IMAGE_PX or more = normalised.
NORMALISED_MAX = 1.0
MIN_IMAGE_PX = 32
# OpenPose points with no COCO-WholeBody counterpart, derived from two COCO points (both labelled).
DERIVED: dict[str, tuple[str, str]] = {"neck": ("left_shoulder", "right_shoulder"),
                                       "pelvis": ("left_hip", "right_hip")}  # fmt: skip
PERSON_CATEGORY = {
    "supercategory": "person", "id": 1, "name": "person",
    "keypoints": list(get_skeleton(LAYOUT).joints[:17]),
    "skeleton": [[16, 14], [14, 12], [17, 15], [15, 13], [12, 13], [6, 12], [7, 13], [6, 7], [6, 8], [7, 9],
                 [8, 10], [9, 11], [2, 3], [1, 2], [1, 3], [2, 4], [3, 5], [4, 6], [5, 7]],
}  # fmt: skip  (COCO's person category: 1-based limb pairs of the 17 body points)


def annotation_path(folder: str | Path, split: str) -> Path:
    """``<folder>/annotations/coco_wholebody_<split>_v1.0.json`` (the released file names; split 'train'/'val')."""
    return Path(folder) / "annotations" / f"coco_wholebody_{split}_v1.0.json"


@dataclass(frozen=True)
class CocoImage:
    """One entry of ``images``: id, file name and size in pixels."""

    id: int
    file_name: str
    width: int
    height: int


@dataclass(eq=False)
class CocoPerson:
    """One entry of ``annotations``.

    Attributes:
        id, image_id, category_id: COCO ids.
        keypoints: (133, 3) float64 'coco_wholebody_133' layout, ``[x, y, v]`` pixels; unlabelled = (0, 0, 0).
        bbox: (4,) ``[x, y, w, h]`` pixels.
        iscrowd: a crowd region (no keypoints).
        valid: per whole-body part flag (``VALID_KEYS``); computed from ``keypoints`` when not given.
        boxes: per part ``[x, y, w, h]`` (``BOX_KEYS``); the labelled points' box when not given.
        area: pixels^2 (COCO: the segment's area); ``bbox`` w x h when not given.
        num_keypoints: labelled body points (of the 17); computed when not given.
    """

    id: int
    image_id: int
    keypoints: np.ndarray
    bbox: np.ndarray
    iscrowd: bool = False
    category_id: int = 1
    valid: dict[str, bool] = field(default_factory=dict)
    boxes: dict[str, np.ndarray] = field(default_factory=dict)
    area: float | None = None
    num_keypoints: int | None = None

    def __post_init__(self) -> None:
        self.keypoints = np.asarray(self.keypoints, dtype=np.float64)
        self.bbox = np.asarray(self.bbox, dtype=np.float64)
        if self.keypoints.shape != (NUM_KEYPOINTS, 3) or self.bbox.shape != (4,):
            raise ValueError(f"keypoints / bbox: expected ({NUM_KEYPOINTS}, 3) / (4,), got "
                             f"{self.keypoints.shape} / {self.bbox.shape}")  # fmt: skip
        labelled = self.keypoints[:, 2] > 0
        for key, part in _PART_OF_VALID.items():
            self.valid.setdefault(key, bool(labelled[_SPANS[part]].any()))
        for key, part in _PART_OF_BOX.items():
            if key not in self.boxes:
                pts = self.keypoints[_SPANS[part]][labelled[_SPANS[part]], :2]
                lo, hi = (pts.min(0), pts.max(0)) if len(pts) else (np.zeros(2), np.zeros(2))
                self.boxes[key] = np.concatenate([lo, hi - lo])
        if self.area is None:
            self.area = float(self.bbox[2] * self.bbox[3])
        if self.num_keypoints is None:
            self.num_keypoints = int(labelled[_SPANS["keypoints"]].sum())


@dataclass(eq=False)
class CocoWholeBody:
    """A whole annotation file: images, person annotations (in file order) and the file's other top-level keys."""

    images: list[CocoImage]
    annotations: list[CocoPerson]
    categories: list[dict[str, Any]] = field(default_factory=lambda: [dict(PERSON_CATEGORY)])
    info: dict[str, Any] = field(default_factory=dict)

    def image_table(self) -> dict[int, CocoImage]:
        return {image.id: image for image in self.images}


# --- reading ------------------------------------------------------------------------------------------------


class _Reader:
    """Typed access to one file's JSON values; every failure is a DataFileError naming the file and the field."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.context = ""  # appended to every message while one annotation is read: ' (annotation id N)'

    def fail(self, where: str, what: str) -> DataFileError:
        return DataFileError(f"{self.path}: {where}: {what}{self.context}")

    def get(self, obj: dict, key: str, where: str) -> Any:
        if key not in obj:
            raise self.fail(f"{where}.{key}" if where else key, "missing key")
        return obj[key]

    def integer(self, obj: dict, key: str, where: str, *, minimum: int | None = None) -> int:
        value = self.get(obj, key, where)
        name = f"{where}.{key}"
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or value != int(value):  # fmt: skip
            raise self.fail(name, f"expected an integer, got {value!r}")
        if minimum is not None and value < minimum:
            raise self.fail(name, f"expected >= {minimum}, got {value!r}" + (" (negative size)" if value < 0 else ""))
        return int(value)

    def flag(self, obj: dict, key: str, where: str) -> bool:
        value = self.get(obj, key, where)
        if isinstance(value, bool) or (isinstance(value, (int, float)) and value in (0, 1)):
            return bool(value)
        raise self.fail(f"{where}.{key}", f"expected true/false (or 0/1), got {value!r}")

    def numbers(self, obj: dict, key: str, where: str, size: int, what: str) -> np.ndarray:
        value = self.get(obj, key, where)
        name = f"{where}.{key}"
        if not isinstance(value, list) or not set(map(type, value)) <= _NUMBER_TYPES:  # type(): bools are not numbers
            raise self.fail(name, f"expected a flat list of numbers ({what}), got {type(value).__name__}")
        if len(value) != size:
            raise self.fail(name, f"expected {size} values ({what}), got {len(value)}")
        arr = np.asarray(value, dtype=np.float64)
        if not np.isfinite(arr).all():
            raise self.fail(name, f"non-finite value (NaN/inf) at index {int(np.flatnonzero(~np.isfinite(arr))[0])}")
        return arr


def _read_image(r: _Reader, entry: Any, i: int) -> CocoImage:
    where = f"images[{i}]"
    if not isinstance(entry, dict):
        raise r.fail(where, f"expected an object, got {type(entry).__name__}")
    name = r.get(entry, "file_name", where)
    if not isinstance(name, str):
        raise r.fail(f"{where}.file_name", f"expected a string, got {name!r}")
    return CocoImage(id=r.integer(entry, "id", where), file_name=name,
                     width=r.integer(entry, "width", where, minimum=1),
                     height=r.integer(entry, "height", where, minimum=1))  # fmt: skip


def _read_person(r: _Reader, entry: Any, j: int, images: dict[int, CocoImage]) -> CocoPerson:
    where = f"annotations[{j}]"
    if not isinstance(entry, dict):
        raise r.fail(where, f"expected an object, got {type(entry).__name__}")
    ann_id = r.integer(entry, "id", where)
    r.context = f" (annotation id {ann_id})"
    image_id = r.integer(entry, "image_id", where)
    if image_id not in images:
        raise r.fail(f"{where}.image_id", f"image id {image_id} has no entry in the file's images table")
    iscrowd = r.flag(entry, "iscrowd", where)
    category = r.integer(entry, "category_id", where)
    bbox = r.numbers(entry, "bbox", where, 4, "x, y, w, h")
    if (bbox[2:] < 0).any():
        raise r.fail(f"{where}.bbox", f"negative size (w, h) = ({bbox[2]:g}, {bbox[3]:g})")
    if iscrowd:  # crowd regions carry no usable keypoints; the whole-body keys are not required
        return CocoPerson(ann_id, image_id, np.zeros((NUM_KEYPOINTS, 3)), bbox, iscrowd=True, category_id=category)
    absent = [key for key, _ in PART_KEYS if key not in entry]
    if absent and len(absent) == len(PART_KEYS) - 1 and "keypoints" in entry:
        raise r.fail(f"{where}.{absent[0]}", f"missing key: a plain COCO person-keypoints annotation (17 body points "
                                             f"only), not COCO-WholeBody (also {', '.join(absent)})")  # fmt: skip
    kp = np.zeros((NUM_KEYPOINTS, 3))
    for key, n in PART_KEYS:
        values = r.numbers(entry, key, where, 3 * n, f"{n} x 3").reshape(n, 3)
        v = values[:, 2]
        if ((v < 0) | (v > MAX_V)).any():
            out = np.flatnonzero((v < 0) | (v > MAX_V))
            raise r.fail(f"{where}.{key}", f"visibility v = {v[out[0]]:g} at keypoint {int(out[0])} is outside "
                                           f"[0, {MAX_V:g}]")  # fmt: skip
        kp[_SPANS[key]] = values
    valid = {key: r.flag(entry, key, where) for key in VALID_KEYS}
    num = r.integer(entry, "num_keypoints", where, minimum=0)
    area = entry.get("area")
    if area is not None and (isinstance(area, bool) or not isinstance(area, (int, float)) or not math.isfinite(area)
                             or area < 0):  # fmt: skip
        raise r.fail(f"{where}.area", f"expected a finite number >= 0, got {area!r}")
    boxes = {key: r.numbers(entry, key, where, 4, "x, y, w, h") for key in BOX_KEYS if key in entry}
    r.context = ""
    return CocoPerson(ann_id, image_id, kp, bbox, iscrowd=False, category_id=category, valid=valid, boxes=boxes,
                      area=None if area is None else float(area), num_keypoints=num)  # fmt: skip


def _check_pixels(r: _Reader, people: list[CocoPerson], images: dict[int, CocoImage]) -> None:
    """The units rule (module docstring): labelled points all within [0, 1] in larger images are normalised."""
    points = [p.keypoints[p.keypoints[:, 2] > 0, :2] for p in people if not p.iscrowd]
    points = np.concatenate(points) if points else np.zeros((0, 2))
    smallest = min((min(im.width, im.height) for im in images.values()), default=0)
    if len(points) and np.abs(points).max() <= NORMALISED_MAX and smallest >= MIN_IMAGE_PX:
        raise r.fail("annotations[*].keypoints", f"every labelled point lies within [0, {NORMALISED_MAX:g}] (largest "
                     f"coordinate {np.abs(points).max():.4g}) in images of {smallest} px or more: the coordinates look "
                     "normalised; COCO-WholeBody stores pixels")  # fmt: skip


def read_cocowb(path: str | Path) -> CocoWholeBody:
    """Read a COCO-WholeBody annotation file (module docstring); DataFileError names the file and the field."""
    path = Path(path)
    r = _Reader(path)
    data = load_json(path)
    if not isinstance(data, dict):
        raise r.fail("top level", f"expected an object, got {type(data).__name__}")
    for key in ("images", "annotations", "categories"):
        if not isinstance(r.get(data, key, ""), list):
            raise r.fail(key, f"expected a list, got {type(data[key]).__name__}")
    images: dict[int, CocoImage] = {}
    for i, entry in enumerate(data["images"]):
        image = _read_image(r, entry, i)
        if image.id in images:
            raise r.fail(f"images[{i}].id", f"duplicate image id {image.id}")
        images[image.id] = image
    people, seen = [], set()
    for j, entry in enumerate(data["annotations"]):
        person = _read_person(r, entry, j, images)
        if person.id in seen:
            raise r.fail(f"annotations[{j}].id", f"duplicate annotation id {person.id}")
        seen.add(person.id)
        people.append(person)
    _check_pixels(r, people, images)
    info = data.get("info", {})
    return CocoWholeBody(list(images.values()), people, list(data["categories"]), info if isinstance(info, dict)
                         else {})  # fmt: skip


# --- writing ------------------------------------------------------------------------------------------------


def _flat(values: np.ndarray) -> list[float | int]:
    """[x, y, v] rows as a flat list: integral values as ints (COCO's files write ``0`` and ``2``)."""
    return [int(x) if float(x).is_integer() else float(x) for x in np.asarray(values, dtype=np.float64).ravel()]


def write_cocowb(path: str | Path, doc: CocoWholeBody) -> None:
    """Write ``doc`` in the real layout (module docstring), readable by :func:`read_cocowb` with the same values.

    ``segmentation`` is written empty (no masks are known); crowd annotations get zero keypoints.
    """
    images = [{"license": 1, "file_name": im.file_name, "height": int(im.height), "width": int(im.width),
               "id": int(im.id)} for im in doc.images]  # fmt: skip
    annotations = []
    for j, p in enumerate(doc.annotations):
        if not np.isfinite(p.keypoints).all() or not np.isfinite(p.bbox).all():
            raise ValueError(f"annotations[{j}]: keypoints and bbox must be finite")
        entry: dict[str, Any] = {
            "segmentation": [], "num_keypoints": int(p.num_keypoints or 0), "area": float(p.area or 0.0),
            "iscrowd": int(p.iscrowd), "image_id": int(p.image_id), "bbox": _flat(p.bbox),
            "category_id": int(p.category_id), "id": int(p.id),
        }  # fmt: skip
        for key in BOX_KEYS:
            entry[key] = _flat(p.boxes[key])
        for key, _ in PART_KEYS:
            entry[key] = _flat(p.keypoints[_SPANS[key]])
        for key in VALID_KEYS:
            entry[key] = bool(p.valid[key])
        annotations.append(entry)
    dump_json(Path(path), {"info": doc.info, "licenses": [{"id": 1, "name": "synthetic", "url": ""}],
                           "images": images, "annotations": annotations, "categories": doc.categories})  # fmt: skip


# --- the 'openpose_137' layout --------------------------------------------------------------------------------

_OP = get_skeleton("openpose_137")


def part_mapping(src: str, dst: str) -> tuple[np.ndarray, np.ndarray]:
    """(src indices, dst indices) of the points that have the same name in the same part of two whole-body layouts.

    ``bench.body.skeletons.mapping`` takes a name's first occurrence, which would give the hand blocks' wrists the body
    wrist; here each part maps onto its own part (a hand wrist onto the hand wrist).
    """
    s, d = get_skeleton(src), get_skeleton(dst)
    src_idx, dst_idx = [], []
    for j, (name, part) in enumerate(zip(d.joints, d.parts, strict=True)):
        for i, (other, other_part) in enumerate(zip(s.joints, s.parts, strict=True)):
            if other == name and other_part == part:
                src_idx.append(i)
                dst_idx.append(j)
                break
    return np.asarray(src_idx, dtype=np.int64), np.asarray(dst_idx, dtype=np.int64)


_TO_OP = part_mapping(LAYOUT, "openpose_137")
_DERIVED_SLOTS = {name: (_OP.index(name), get_skeleton(LAYOUT).index(a), get_skeleton(LAYOUT).index(b))
                  for name, (a, b) in DERIVED.items()}  # fmt: skip


def to_openpose(keypoints: np.ndarray, *, derived_confidence: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """COCO-WholeBody points -> the 'openpose_137' layout of ``bench.samples.SampleSet.keypoints2d``.

    keypoints: (N, 133, 3) ``[x, y, v]`` pixels, 'coco_wholebody_133' order.
    derived_confidence: in [0, 1]; a derived Neck / MidHip gets this times the weaker source's confidence (0 = do
        not derive them).

    Returns (points (N, 137, 3) float64 ``[x, y, confidence]``: 1 for a labelled point (v > 0), (0, 0, 0) for a
    missing one; derived (N, 137) bool: True at a derived Neck / MidHip).
    """
    keypoints = np.asarray(keypoints, dtype=np.float64)
    if keypoints.ndim != 3 or keypoints.shape[1:] != (NUM_KEYPOINTS, 3):
        raise ValueError(f"keypoints: expected (N, {NUM_KEYPOINTS}, 3), got {keypoints.shape}")
    if not 0.0 <= derived_confidence <= 1.0:
        raise ValueError(f"derived_confidence must be in [0, 1], got {derived_confidence}")
    labelled = keypoints[..., 2] > 0
    src = np.concatenate([np.where(labelled[..., None], keypoints[..., :2], 0.0), labelled[..., None] * 1.0], -1)
    out = np.zeros((len(keypoints), len(_OP), 3))
    out[:, _TO_OP[1]] = src[:, _TO_OP[0]]
    derived = np.zeros(out.shape[:2], dtype=bool)
    if derived_confidence > 0:
        for slot, a, b in _DERIVED_SLOTS.values():
            both = labelled[:, a] & labelled[:, b]
            out[both, slot, :2] = (src[both, a, :2] + src[both, b, :2]) / 2.0
            out[both, slot, 2] = derived_confidence * np.minimum(src[both, a, 2], src[both, b, 2])
            derived[both, slot] = True
    return out, derived


def split_parts(keypoints: Sequence[float] | np.ndarray) -> dict[str, np.ndarray]:
    """(133, 3) points -> {part key: (n, 3)} in ``PART_KEYS`` order (the five fields of one annotation)."""
    kp = np.asarray(keypoints, dtype=np.float64).reshape(NUM_KEYPOINTS, 3)
    return {key: kp[_SPANS[key]] for key, _ in PART_KEYS}
