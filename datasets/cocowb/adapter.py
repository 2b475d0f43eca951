"""The 'cocowb' dataset: COCO-WholeBody annotation files as a 2D-only training set (no 3D, no camera, no SMPL-X).

The in-the-wild 2D sets of the paper's Table I comparison (MPII, AI Challenger) give the regressor L_2D only;
COCO-WholeBody is the modern whole-body set of that kind. With no data root the synthetic default is read
(``datasets/cocowb/synth.py``: people from 0.5 to 8 m, selfie-range wide-angle shots, truncated limbs).

Files (the released layout; reader :func:`datasets.cocowb.format.read_cocowb`)::

    <folder>/annotations/coco_wholebody_train_v1.0.json
    <folder>/annotations/coco_wholebody_val_v1.0.json

Samples: one per person annotation of the chosen split, in file order; several people of one image are several
samples (same ``frame`` = image id, their own ``person`` = annotation id). Skipped and counted in
``SampleSet.faults``: crowd regions (``iscrowd``), people with a box but no labelled keypoint at all (COCO's
annotations of small people), and people with fewer than ``min_keypoints`` labelled body points (of COCO's 17;
COCO's ``num_keypoints > 0`` rule is ``min_keypoints=1``). A labelled point outside the image
rectangle ``[0, width] x [0, height]`` is dropped (counted in ``info['points_outside_image']``), never clamped.

2D input: the 133 points mapped by name into the 'openpose_137' layout (:func:`datasets.cocowb.format.to_openpose`):
confidence 1 for a labelled point (v > 0, the dataset authors' rule), (0, 0, 0) for a missing one; OpenPose's Neck
and MidHip, which COCO lacks, are the midpoints of the shoulders / hips when both are labelled, with confidence
``derived_confidence`` x the weaker source's, flagged in ``extra['derived']`` (N, 137) and named in
``info['derived']`` and the protocol text (default 1: the weaker source's confidence, so 'exact' 2D stays 0/1).
They are not the body model's neck and pelvis: on the embedded model the shoulders' midpoint lies ~3 cm below
SMPL-X's neck and the hips' midpoint ~7 cm below its pelvis, so a method fitting SMPL-X's neck / pelvis to them
should use the mask (or lower the setting).

Camera (assumed, as COCO stores none; in ``info['protocol']``): the image size from the file's ``images`` table,
``fx = fy = max(width, height)``, principal point at the image centre, no distortion, ``R = I``, ``t = 0``.

Ids: ``sequence`` = the file's stem (e.g. 'coco_wholebody_train_v1.0'), ``frame`` = ``image_id``, ``person`` =
the annotation ``id``, ``view`` = the image's ``file_name``; ``subject``, ``action`` = ''.

``info['keypoints2d']`` is 'detections': the file's points are human (or detector) annotations, not
projections of 3D. (A synthetic tree's are the generator's, which the set's ``synthetic`` label says.)

Settings: typed and range-checked by the ``load`` annotations (``bench.settings``) before anything is read.

Ground truth: none. ``joints3d`` is (N, 133, 3) zeros in the 'coco_wholebody_133' skeleton with every joint
invalid, so nothing is scored on this set (``info['eval_joints']`` names COCO's 17 body points, none of them valid;
``root_joints`` the two hips); ``smplx`` is None (methods train on it with L_2D only).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np

from bench.body.skeletons import get_skeleton
from bench.errors import DataFileError
from bench.registry import register_dataset
from bench.samples import ID_FIELDS, NUM_KEYPOINTS, FaultLog, SampleSet
from bench.settings import OneOf, Range, UnitFloat
from datasets.cocowb.format import DERIVED, LAYOUT, annotation_path, read_cocowb, to_openpose
from datasets.cocowb.synth import GENERATOR_VERSION, synthesize

__all__ = ["SPLITS", "check", "load"]

SPLITS = ("train", "val")
_SKELETON = get_skeleton(LAYOUT)
_BODY17 = _SKELETON.joints[:17]  # COCO's body points: the first 17 of 'coco_wholebody_133'


def check(folder: Path) -> list[dict]:
    """Read every split file present (DataFileError names the first bad one); one row per split."""
    rows = []
    for split in SPLITS:
        path = annotation_path(folder, split)
        if not path.exists():  # a folder in its place is read, and refused by name
            continue
        doc = read_cocowb(path)
        people = sum(not p.iscrowd for p in doc.annotations)
        rows.append({"split": split, "images": len(doc.images), "crowd": len(doc.annotations) - people,
                     "samples": people})  # fmt: skip
    if not rows:
        expected = ", ".join(str(annotation_path(folder, s)) for s in SPLITS)
        raise DataFileError(f"{folder}: no COCO-WholeBody annotation file (expected {expected})")
    return rows


@register_dataset(
    "cocowb",
    description="COCO-WholeBody JSON as a 2D-only training set (no 3D, no camera); synthetic in-the-wild default",
    check=check,
    synthesize=synthesize,
    generator_version=GENERATOR_VERSION,
)
def load(
    folder: Path,
    *,
    split: Annotated[str, OneOf(SPLITS)] = "train",
    min_keypoints: Annotated[int, Range(min=0, max=len(_BODY17))] = 4,
    derived_confidence: UnitFloat = 1.0,
) -> SampleSet:
    """Read one split of a COCO-WholeBody tree (module docstring) into a 2D-only SampleSet.

    split: 'train' or 'val'. min_keypoints: labelled body points (of 17) a person needs. derived_confidence: the
    derived Neck / MidHip's confidence relative to the weaker source (0 = leave them missing).
    """
    path = annotation_path(folder, split)
    if not path.exists():
        raise DataFileError(f"{path}: file not found (the '{split}' split of COCO-WholeBody)")
    doc = read_cocowb(path)
    images = doc.image_table()
    faults = FaultLog()
    people = []
    for j, person in enumerate(doc.annotations):
        where = f"{path}: annotations[{j}] (id {person.id})"
        if person.iscrowd:
            faults.skip("crowd region (iscrowd)", where)
        elif not (person.keypoints[:, 2] > 0).any():
            faults.skip("no labelled keypoints (a box only)", where)
        elif int((person.keypoints[:17, 2] > 0).sum()) < min_keypoints:
            faults.skip(f"fewer than {min_keypoints} labelled body keypoints", where)
        else:
            people.append(person)
    n = len(people)
    kp133 = np.stack([p.keypoints for p in people]) if n else np.zeros((0, len(_SKELETON), 3))
    size = np.array([[images[p.image_id].width, images[p.image_id].height] for p in people], dtype=np.int64)
    size = size.reshape(n, 2)
    labelled = kp133[..., 2] > 0
    xy = kp133[..., :2]
    inside = (xy >= 0).all(-1) & (xy <= size[:, None, :]).all(-1)
    dropped = labelled & ~inside
    kp133 = np.where(dropped[..., None], 0.0, kp133)
    keypoints, derived = to_openpose(kp133, derived_confidence=derived_confidence)
    focal = size.max(axis=1).astype(np.float64)
    K = np.zeros((n, 3, 3))
    K[:, 0, 0], K[:, 1, 1], K[:, 2, 2] = focal, focal, 1.0
    K[:, :2, 2] = size / 2.0
    ids = {key: np.full(n, "", dtype=object) for key in ID_FIELDS}
    ids.update(sequence=np.full(n, path.name.removesuffix(".json"), dtype=object),
               frame=np.array([p.image_id for p in people], dtype=np.int64),
               view=np.array([images[p.image_id].file_name for p in people], dtype=object),
               person=np.array([p.id for p in people], dtype=np.int64))  # fmt: skip
    derived_text = (f"Neck / MidHip = midpoint of the shoulders / hips when both are labelled, confidence "
                    f"{derived_confidence:g} x the weaker" if derived_confidence > 0 else "Neck / MidHip not derived")
    protocol = (
        f"cocowb: COCO-WholeBody {split} split ({path.name}); split={split}, min_keypoints={min_keypoints}, "
        f"derived_confidence={derived_confidence:g}; 2D only: no 3D ground truth, no camera, no SMPL-X; one sample "
        f"per person annotation, crowd regions skipped; confidence 1 for a labelled point (v > 0); {derived_text}; "
        f"camera assumed: focal max(width, height) px, principal point at the image centre, no distortion"
    )  # fmt: skip
    return SampleSet(
        name="cocowb",
        skeleton=LAYOUT,
        keypoints2d=keypoints.astype(np.float32) if n else np.zeros((0, NUM_KEYPOINTS, 3)),
        image_size=size,
        K=K,
        R=np.tile(np.eye(3), (n, 1, 1)),
        t=np.zeros((n, 3)),
        dist=np.zeros((n, 5)),
        joints3d=np.zeros((n, len(_SKELETON), 3)),
        joints3d_valid=np.zeros((n, len(_SKELETON)), dtype=bool),
        ids=ids,
        smplx=None,
        info={"protocol": protocol, "root_joints": ("left_hip", "right_hip"), "eval_joints": _BODY17,
              "ground_truth": False, "images": len(doc.images), "points_outside_image": int(dropped.sum()),
              "derived": {name: DERIVED[name] for name in DERIVED} if derived_confidence > 0 else {},
              "focal_assumed": True, "keypoints2d": "detections"},
        faults=faults,
        extra={"derived": derived},
    )  # fmt: skip
