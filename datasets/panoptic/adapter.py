"""CMU Panoptic adapter: a panoptic-toolbox tree -> one sample per (sequence, frame, body, HD view).

Reads (``datasets.panoptic.format``; PROTOCOLS.md "CMU Panoptic", lines 36-60):

- ``calibration_<seq>.json``: the HD cameras (type 'hd', '00_00'..'00_30'), OpenCV, t cm -> m.
- ``hdPose3d_stage1_coco19/body3DScene_%08d.json``: joints19 (cm -> m); a joint is valid when c > 0.1 (the
  toolbox's rule, PROTOCOLS.md line 46). A body with fewer than 3 valid joints is a per-sample fault.
- ``hdHand3d`` / ``hdFace3d`` (optional, per frame): hands and face70 of each body id; a missing folder or frame
  leaves those 2D slots empty. An optional file that exists is read: a folder or an unreadable file in its place
  is an error naming it, never taken for an absent file (the same for the side files below).
- The 2D input, in the 'openpose_137' layout:
  * ``<seq>/openpose/hd_00_XX/<seq>_00_XX_%08d_keypoints.json`` when the sequence has an ``openpose/``
    folder (the synthetic tree's layout, ``datasets.panoptic.synth``): OpenPose people are matched to the
    annotated bodies of the frame greedily by the mean 2D distance between their BODY_25 points and the
    projected joints19 of the same names that lie inside the image (at least 3 common points, mean below
    ``max(0.2 x the diagonal of the box of those projected joints, 15 px)``); an unmatched body is the fault
    'no 2D detection', a missing file 'no OpenPose file';
  * otherwise, and always with ``noise=none``, the projection of joints19 + hands + face through the sequence's
    calibration into their 'openpose_137' slots (by name), then the noise model ``datasets.noise`` (setting
    ``noise``; no occlusion known; the points inside the image, as ``visible_in_image`` defines it, are the
    present ones), seeded per (``noise_seed``, sequence, view), so the 2D of a sample does not depend on the other
    settings.
- The rule of ``noise``: 'detector' (default) reads a sequence's OpenPose JSON as it is and applies the noise model
  only to the projections of sequences without JSON; 'none' is the exact projection for every sequence, with
  confidence 1 for the points inside the image: the JSON is not read (neither for the 2D nor for the OpenPose
  dropouts that stand in for occlusion without a side file, so such a sequence's occlusion is 'ignored' and
  ``info['protocol']`` says so; a body the detector missed is kept). Every sequence has a calibration and 3D, so
  exact 2D can always be formed.
- ``info['keypoints2d']`` labels that 2D source for the result rows (``bench.run.results.data_labels``):
  'detections' when every sequence's 2D was read from OpenPose JSON, else the projected part's label,
  ``datasets.noise.keypoints2d_label(noise)``: 'simulated' (noise='detector') or 'exact' (noise='none'); a set
  mixing JSON and projected sequences takes the projected one's (the label never claims more than the weakest
  part); ``info['keypoints2d_source']`` gives it per sequence. The synthetic tree's JSON files are its simulated
  detector's output; such a set is labelled synthetic by its data (the tree's marker), not by this label.
- ``<seq>/hmrbench_gt/smplx.npz`` (optional): GT SMPL-X, Panoptic world frame, metres, ids frame + person;
  moved into each camera with ``datasets.synth.smplx_to_camera``.
- ``<seq>/hmrbench_gt/occlusion_joints19.npz`` (optional): per (body, view) joints19 occlusion flags.

Per-view visibility filter (setting ``visibility``; MTC counts a sample for a view only if all keypoints are
inside the image and not occluded, PROTOCOLS.md line 60):

- 'strict': every valid joints19 point is in front of the camera, inside the image (``0 <= u <= W-1``,
  ``0 <= v <= H-1``, and within the radius where the lens model is monotonic, so a point far outside the
  field of view cannot fold back in) and not occluded. Occlusion comes from the occlusion side file's
  'occluded' flags when the sequence has one (hidden behind another person: MTC's body flag, whose hands have
  'self_occluded' apart, MonocularTotalCapture:POF/data/collect_a4.py; its DomeReader drops a view when
  ``any(occluded)``), else from OpenPose dropouts (a valid joint whose matched BODY_25 point is missing) when
  it has OpenPose JSON, else it is ignored; ``info['protocol']`` says which.
- 'partial': truncated bodies kept, scored on what the image shows (the close shots that 'strict' cannot keep:
  a standing body closer than ~2.4 m never fits a 1920 x 1080 HD view whole). A sample is kept when its root
  joints (setting ``root``) and at least ``PARTIAL_MIN_JOINTS`` valid joints19 (the root included) are in front
  and inside the image, as defined for 'strict', and none of its joints inside the image is occluded (the same
  occlusion source as 'strict'; OpenPose dropouts count only for joints inside the image). The joints outside
  the image are not scored: they are marked not valid in ``joints3d_valid`` (and zeroed, like the joints the
  annotation leaves invalid), so MPJPE and PA-MPJPE run over the visible valid joints only. This is not MTC's
  protocol; ``info['protocol']`` says so.
- 'inside': in front and inside only. 'none': no filter.

Samples that fail the filter are not faults; their count per sequence is ``info['filtered']``.

Outputs: ``joints3d`` in 'panoptic_joints19' order, camera frame, metres (invalid joints, and with 'partial' the
joints outside the image, zero and not valid);
``root_joints`` from the setting ``root`` ('mid_hip' = BodyCenter = 'pelvis', PROTOCOLS.md line 60 leaves
MTC's root open; 'hips' = mean of the two hips; 'neck'); ``eval_joints`` = all 19. ids: subject = sequence =
the sequence name, action = '', frame = HD frame index, view = camera name, person = body id.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import torch

from bench.body.skeletons import get_skeleton, mapping, part_indices
from bench.errors import ConfigError, DataFileError
from bench.geometry.projections import project_camera
from bench.npzio import read_npz
from bench.registry import register_dataset
from bench.samples import SMPLX_FIELDS, FaultLog, SampleSet, concat_sets
from bench.settings import NonNegativeInt, OneOf
from datasets.noise import NOISE_KINDS, NoiseConfig, apply_noise, keypoints2d_label
from datasets.openpose import read_openpose
from datasets.panoptic.format import (
    Camera,
    body_frame_path,
    calibration_path,
    face_frame_path,
    get_camera,
    hand_frame_path,
    hd_cameras,
    project,
    read_body_frame,
    read_calibration,
    read_face_frame,
    read_hand_frame,
    visible_in_image,
)
from datasets.panoptic.synth import (
    DEFAULT_SEQUENCES,
    GENERATOR_VERSION,
    occlusion_path,
    openpose_path,
    smplx_gt_path,
    synthesize,
)
from datasets.synth import read_smplx_gt, smplx_to_camera

__all__ = [
    "MIN_VALID_JOINTS",
    "PARTIAL_MIN_JOINTS",
    "ROOTS",
    "VISIBILITY",
    "check",
    "load",
    "project_points",
    "visible_in_image",
]

SKELETON = "panoptic_joints19"
LAYOUT = "openpose_137"
J19 = get_skeleton(SKELETON)
VISIBILITY = ("strict", "partial", "inside", "none")
ROOTS = {"mid_hip": ("pelvis",), "hips": ("left_hip", "right_hip"), "neck": ("neck",)}
MIN_VALID_JOINTS = 3
# 'partial': visible joints a kept sample needs, root included. Six keeps a similarity (PA-MPJPE) well posed:
# pelvis and hips alone are collinear.
PARTIAL_MIN_JOINTS = 5
MATCH_FRACTION, MATCH_MIN_PX = 0.2, 15.0
_BODY_FILE = re.compile(r"body3DScene_(\d{8})\.json")
_BODY_SLOTS = part_indices(LAYOUT, "body")


def _body_map() -> tuple[np.ndarray, np.ndarray]:
    """For the BODY_25 slots of 'openpose_137': (slots, their joints19 index) for the names joints19 has."""
    index, valid = mapping(J19, LAYOUT)
    slots = _BODY_SLOTS[valid[_BODY_SLOTS]]
    return slots, index[slots]


_J19_SLOTS, _J19_SOURCE = _body_map()
_J19_SLOTS_BY_J19 = _J19_SLOTS[np.argsort(_J19_SOURCE)]  # the BODY_25 slot of each joints19 joint, in J19 order
_PART_SLOTS = {part: part_indices(LAYOUT, part) for part in ("left_hand", "right_hand", "face")}


# --- geometry -----------------------------------------------------------------------------------------------


def project_points(samples: SampleSet) -> np.ndarray:
    """(N, J, 2) pixels: each sample's camera-frame ``joints3d`` through its own K and distortion (OpenCV)."""
    pts = torch.from_numpy(samples.joints3d)
    n = len(pts)
    eye, zero = torch.eye(3, dtype=torch.float64).expand(n, 3, 3), torch.zeros(n, 3, dtype=torch.float64)
    return project_camera(pts, torch.from_numpy(samples.K), eye, zero, torch.from_numpy(samples.dist)).numpy()


# --- reading one sequence ----------------------------------------------------------------------------------


@dataclass
class _Bodies:
    """The annotated bodies of one sequence (B rows), world frame, metres."""

    frame: list[int] = field(default_factory=list)
    person: list[int] = field(default_factory=list)
    joints: list[np.ndarray] = field(default_factory=list)  # (19, 3)
    valid: list[np.ndarray] = field(default_factory=list)  # (19,)
    points137: list[np.ndarray] = field(default_factory=list)  # (137, 3) world points by slot
    present137: list[np.ndarray] = field(default_factory=list)  # (137,)
    where: list[str] = field(default_factory=list)


def _frame_numbers(folder: Path, seq: str) -> list[int]:
    body_dir = body_frame_path(folder, seq, 0).parent
    if not body_dir.is_dir():
        raise DataFileError(f"{body_dir}: missing folder (no hdPose3d_stage1_coco19 frames)")
    frames = sorted(int(m.group(1)) for p in body_dir.iterdir() if (m := _BODY_FILE.fullmatch(p.name)))
    if not frames:
        raise DataFileError(f"{body_dir}: no body3DScene_%08d.json files")
    return frames


def _by_id(people: list, path: Path) -> dict[int, Any]:
    out = {}
    for i, person in enumerate(people):
        if person.id in out:
            raise DataFileError(f"{path}: people[{i}].id: duplicate id {person.id}")
        out[person.id] = person
    return out


def _read_bodies(folder: Path, seq: str, person: int | None, n_views: int, faults: FaultLog) -> _Bodies:
    out = _Bodies()
    for frame in _frame_numbers(folder, seq):
        path = body_frame_path(folder, seq, frame)
        bodies = read_body_frame(path).bodies
        if len({b.id for b in bodies}) != len(bodies):
            raise DataFileError(f"{path}: bodies[].id: duplicate body ids")
        hand_file, face_file = hand_frame_path(folder, seq, frame), face_frame_path(folder, seq, frame)
        hands = _by_id(read_hand_frame(hand_file).people, hand_file) if hand_file.exists() else {}
        faces = _by_id(read_face_frame(face_file).people, face_file) if face_file.exists() else {}
        for i, body in enumerate(bodies):
            if person is not None and body.id != person:
                continue
            where = f"{path}: bodies[{i}] (id {body.id})"
            if int(body.valid.sum()) < MIN_VALID_JOINTS:
                faults.skip(f"fewer than {MIN_VALID_JOINTS} valid joints19", where, count=n_views)
                continue
            pts = np.zeros((len(get_skeleton(LAYOUT)), 3))
            present = np.zeros(len(pts), dtype=bool)
            pts[_J19_SLOTS] = body.joints[_J19_SOURCE]
            present[_J19_SLOTS] = body.valid[_J19_SOURCE]
            hand = hands.get(body.id)
            for part, lm in (("left_hand", hand and hand.left), ("right_hand", hand and hand.right),
                             ("face", faces[body.id].face if body.id in faces else None)):  # fmt: skip
                if lm is not None:
                    pts[_PART_SLOTS[part]] = lm.points
                    present[_PART_SLOTS[part]] = True
            out.frame.append(frame)
            out.person.append(body.id)
            out.joints.append(np.where(body.valid[:, None], body.joints, 0.0))
            out.valid.append(body.valid.copy())
            out.points137.append(pts)
            out.present137.append(present)
            out.where.append(where)
    return out


def _read_occlusion(path: Path, views: list[str]) -> tuple[dict[tuple[int, int], int], np.ndarray, list[int]]:
    """(row of (frame, person), occluded (M, V, 19) bool, column of each asked view) from the side file."""
    data = read_npz(path, "the occlusion npz")
    for key in ("frame", "person", "views", "occluded"):
        if key not in data:
            raise DataFileError(f"{path}: {key}: missing")
    frame, person, names, occ = data["frame"], data["person"], data["views"], data["occluded"]
    m = len(frame)
    if frame.shape != (m,) or person.shape != (m,) or names.ndim != 1:
        raise DataFileError(f"{path}: frame/person/views: expected 1-D arrays, got {frame.shape}, {person.shape}, "
                            f"{names.shape}")  # fmt: skip
    if occ.shape != (m, len(names), len(J19)) or occ.dtype != bool:
        raise DataFileError(f"{path}: occluded: expected ({m}, {len(names)}, {len(J19)}) bool, got {occ.shape} "
                            f"{occ.dtype}")  # fmt: skip
    rows = {(int(f), int(p)): i for i, (f, p) in enumerate(zip(frame, person, strict=True))}
    if len(rows) != m:
        raise DataFileError(f"{path}: frame/person: duplicate (frame, person) rows")
    names = [str(n) for n in names]
    missing = [v for v in views if v not in names]
    if missing:
        raise DataFileError(f"{path}: views: no column for view(s) {missing}")
    return rows, occ, [names.index(v) for v in views]


def _read_gt(path: Path) -> tuple[dict[str, np.ndarray], np.ndarray, dict[tuple[int, int], int]]:
    params, root_rest, ids, _ = read_smplx_gt(path)
    for key in ("frame", "person"):
        if key not in ids:
            raise DataFileError(f"{path}: id_{key}: missing")
    rows = {(int(f), int(p)): i for i, (f, p) in enumerate(zip(ids["frame"], ids["person"], strict=True))}
    if len(rows) != len(root_rest):
        raise DataFileError(f"{path}: id_frame/id_person: duplicate (frame, person) rows")
    return params, root_rest, rows


def _match(projected: np.ndarray, usable: np.ndarray, detections: list[np.ndarray]) -> list[int]:
    """Greedy matching of bodies to OpenPose people: for each body, the index of its detection or -1.

    projected (B, 19, 2) pixels, usable (B, 19) (valid and in front), detections: (137, 3) per person.
    Cost = mean distance over the BODY_25 points of joints19's names that both have (>= 3 needed).
    """
    n_b, n_d = len(projected), len(detections)
    result = [-1] * n_b
    if not n_b or not n_d:
        return result
    det = np.stack(detections)[:, _J19_SLOTS]  # (D, K, 3) in joints19 index order _J19_SOURCE
    body = projected[:, _J19_SOURCE]  # (B, K, 2)
    ok = usable[:, _J19_SOURCE][:, None, :] & (det[None, :, :, 2] > 0)  # (B, D, K)
    dist = np.linalg.norm(body[:, None] - det[None, :, :, :2], axis=-1)
    count = ok.sum(-1)
    cost = np.where(count >= MIN_VALID_JOINTS, (dist * ok).sum(-1) / np.maximum(count, 1), np.inf)
    for b in range(n_b):
        pts = projected[b][usable[b]]
        diag = float(np.linalg.norm(pts.max(0) - pts.min(0))) if len(pts) else 0.0
        cost[b, cost[b] > max(MATCH_FRACTION * diag, MATCH_MIN_PX)] = np.inf
    while np.isfinite(cost).any():
        b, d = np.unravel_index(np.argmin(cost), cost.shape)
        result[b] = int(d)
        cost[b, :] = np.inf
        cost[:, d] = np.inf
    return result


@dataclass
class _Rows:
    body: list[int] = field(default_factory=list)
    view: list[int] = field(default_factory=list)
    keypoints: list[np.ndarray] = field(default_factory=list)
    scored: list[np.ndarray] = field(default_factory=list)  # (19,) the joints scored: joints3d_valid


def _json_2d(
    folder: Path,
    seq: str,
    cam: Camera,
    frames: np.ndarray,
    uv: np.ndarray,
    usable: np.ndarray,
    keep: np.ndarray,
    faults: FaultLog,
) -> tuple[np.ndarray, np.ndarray]:
    """OpenPose JSON 2D of the B bodies in one view: (keypoints (B, 137, 3), matched (B,)). Every file of the
    view is read (and so validated); a missing file skips the frame's kept bodies as 'no OpenPose file'."""
    keypoints = np.zeros((len(frames), len(get_skeleton(LAYOUT)), 3))
    matched = np.zeros(len(frames), dtype=bool)
    for frame in np.unique(frames):
        idx = np.flatnonzero(frames == frame)
        path = openpose_path(folder, seq, cam.name, int(frame))
        if not path.exists():
            faults.skip("no OpenPose file", str(path), count=int(keep[idx].sum()))
            keep[idx] = False
            continue
        people = read_openpose(path)
        for b, d in zip(idx, _match(uv[idx], usable[idx], [p.keypoints for p in people]), strict=True):
            if d >= 0:
                keypoints[b], matched[b] = people[d].keypoints, True
    return keypoints, matched


def _load_sequence(
    folder: Path,
    seq: str,
    *,
    views: tuple[str, ...] | None,
    visibility: str,
    root: str,
    person: int | None,
    noise: NoiseConfig,
    noise_seed: int,
) -> tuple[SampleSet, dict[str, Any]]:
    faults = FaultLog()
    calibration = read_calibration(calibration_path(folder, seq))
    cams = hd_cameras(calibration) if views is None else [get_camera(calibration, v) for v in views]
    if not cams:
        raise DataFileError(f"{calibration.path}: cameras: no HD cameras (type 'hd')")
    bodies = _read_bodies(folder, seq, person, len(cams), faults)
    n = len(bodies.frame)
    joints = np.asarray(bodies.joints).reshape(n, len(J19), 3)
    valid = np.asarray(bodies.valid, dtype=bool).reshape(n, len(J19))
    frames = np.asarray(bodies.frame, dtype=np.int64)
    pids = np.asarray(bodies.person, dtype=np.int64)

    occ_file = occlusion_path(folder, seq)
    json_dir = openpose_path(folder, seq, "x", 0).parent.parent
    use_json = json_dir.is_dir() and noise.kind != "none"  # noise=none: exact projections (module docstring)
    if occ_file.exists():
        occ_rows, occ, occ_cols = _read_occlusion(occ_file, [c.name for c in cams])
        missing = [k for k in zip(frames.tolist(), pids.tolist(), strict=True) if k not in occ_rows]
        if missing:
            raise DataFileError(f"{occ_file}: frame/person: no row for (frame, person) {missing[0]}")
        occluded = occ[[occ_rows[k] for k in zip(frames.tolist(), pids.tolist(), strict=True)]][:, occ_cols]
        occlusion_source = "gt-side-file"
    else:
        occluded = np.zeros((n, len(cams), len(J19)), dtype=bool)
        occlusion_source = ("openpose-dropouts" if use_json else
                            "ignored (no side file, OpenPose JSON not read with noise=none)" if json_dir.is_dir()
                            else "ignored (no side file, no OpenPose JSON)")  # fmt: skip

    rows = _Rows()
    filtered = 0  # samples that fail the visibility filter (not faults)
    root_index = [J19.index(j) for j in ROOTS[root]]
    for v, cam in enumerate(cams):
        front, inside = visible_in_image(cam, joints)
        usable = valid & front
        # the joints the filter looks at and that are scored: the valid ones, or for 'partial' those in the image
        scored = valid & inside if visibility == "partial" else valid
        keep = np.ones(n, dtype=bool)
        if visibility in ("strict", "inside"):
            keep &= ~(valid & ~inside).any(axis=1)
        if visibility == "partial":
            keep &= scored[:, root_index].all(axis=1) & (scored.sum(axis=1) >= PARTIAL_MIN_JOINTS)
        if visibility in ("strict", "partial"):
            keep &= ~(scored & occluded[:, v]).any(axis=1)
        filtered += int((~keep).sum())
        if use_json:
            keypoints, has2d = _json_2d(folder, seq, cam, frames, project(cam, joints), usable & inside, keep,
                                        faults)  # fmt: skip
        else:
            rng = np.random.default_rng([noise_seed, zlib.crc32(seq.encode()), zlib.crc32(cam.name.encode())])
            pts = np.asarray(bodies.points137).reshape(n, -1, 3)
            present = np.asarray(bodies.present137, dtype=bool).reshape(n, -1)
            present &= visible_in_image(cam, pts)[1]  # as the synthetic detector: part sizes from the image
            size = np.tile(cam.resolution, (n, 1))
            keypoints = apply_noise(project(cam, pts), present, np.zeros_like(present), size, noise, rng)
            has2d = (keypoints[..., 2] > 0).any(axis=1)
        for b in np.flatnonzero(keep & ~has2d):
            faults.skip("no 2D detection", f"{bodies.where[b]}, view {cam.name}")
        keep &= has2d
        if visibility in ("strict", "partial") and occlusion_source == "openpose-dropouts":
            dropped = keep & (scored & (keypoints[:, _J19_SLOTS_BY_J19, 2] <= 0)).any(axis=1)
            filtered += int(dropped.sum())
            keep &= ~dropped
        for b in np.flatnonzero(keep):
            rows.body.append(int(b))
            rows.view.append(v)
            rows.keypoints.append(keypoints[b])
            rows.scored.append(scored[b])
    meta = {"occlusion": occlusion_source, "two_d": "openpose-json" if use_json else f"projection+noise={noise.kind}",
            "keypoints2d": "detections" if use_json else keypoints2d_label(noise), "filtered": filtered}  # fmt: skip
    if not rows.body:
        return _empty_set(faults), meta
    body, view = np.asarray(rows.body), np.asarray(rows.view)
    order = np.lexsort((view, pids[body], frames[body]))
    body, view = body[order], view[order]
    keypoints = np.asarray(rows.keypoints)[order]
    scored = np.asarray(rows.scored, dtype=bool)[order]
    R = np.stack([cams[v].R for v in view])
    t = np.stack([cams[v].t for v in view])
    cam_joints = np.einsum("nij,nkj->nki", R, joints[body]) + t[:, None]
    cam_joints = np.where(scored[..., None], cam_joints, 0.0)
    smplx, smplx_valid = _camera_smplx(folder, seq, frames[body], pids[body], R, t)
    m = len(body)
    ids = {"subject": np.full(m, seq), "sequence": np.full(m, seq), "action": np.full(m, ""),
           "frame": frames[body], "view": np.array([cams[v].name for v in view]), "person": pids[body]}  # fmt: skip
    samples = SampleSet(
        name="panoptic", skeleton=SKELETON, keypoints2d=keypoints,
        image_size=np.array([cams[v].resolution for v in view]), K=np.stack([cams[v].K for v in view]), R=R, t=t,
        dist=np.stack([cams[v].dist for v in view]), joints3d=cam_joints, joints3d_valid=scored, ids=ids,
        smplx=smplx, smplx_valid=smplx_valid, faults=faults,
    )  # fmt: skip
    return samples, meta


def _camera_smplx(
    folder: Path, seq: str, frames: np.ndarray, pids: np.ndarray, R: np.ndarray, t: np.ndarray
) -> tuple[dict[str, np.ndarray] | None, np.ndarray | None]:
    path = smplx_gt_path(folder, seq)
    if not path.exists():
        return None, None
    params, root_rest, gt_rows = _read_gt(path)
    idx = np.array([gt_rows.get((int(f), int(p)), -1) for f, p in zip(frames, pids, strict=True)])
    found = idx >= 0
    take = np.where(found, idx, 0)
    world = {k: v[take] for k, v in params.items()}
    cam = smplx_to_camera(world, root_rest[take], R, t)
    out = {k: np.where(found[:, None], np.asarray(cam[k], np.float32).reshape(len(idx), -1), 0.0)
           for k in SMPLX_FIELDS}  # fmt: skip
    return out, found


def _empty_set(faults: FaultLog) -> SampleSet:
    j = len(J19)
    z = np.zeros
    ids = {"subject": z(0, str), "sequence": z(0, str), "action": z(0, str), "frame": z(0, np.int64),
           "view": z(0, str), "person": z(0, np.int64)}  # fmt: skip
    return SampleSet(name="panoptic", skeleton=SKELETON, keypoints2d=z((0, len(get_skeleton(LAYOUT)), 3)),
                     image_size=z((0, 2)), K=z((0, 3, 3)), R=z((0, 3, 3)), t=z((0, 3)), dist=z((0, 5)),
                     joints3d=z((0, j, 3)), joints3d_valid=z((0, j), bool), ids=ids, faults=faults)  # fmt: skip


# --- settings and entry points -----------------------------------------------------------------------------


def check(folder: Path) -> list[dict[str, Any]]:
    """Validate every sequence under ``folder`` (each sub-folder with a ``calibration_<seq>.json``) with the
    default settings; one row per (sequence, HD view) with the samples that pass the 'strict' filter."""
    folder = Path(folder)
    seqs = sorted(p.name for p in folder.iterdir() if p.is_dir() and calibration_path(folder, p.name).exists()) \
        if folder.is_dir() else []  # fmt: skip
    if not seqs:
        raise DataFileError(f"{folder}: no Panoptic sequence (no <seq>/calibration_<seq>.json)")
    samples = load(folder, sequences=tuple(seqs))
    counts = samples.counts("sequence", "view")
    rows = []
    for seq in seqs:
        for cam in hd_cameras(read_calibration(calibration_path(folder, seq))):
            rows.append({"sequence": seq, "view": cam.name, "samples": counts.get((seq, cam.name), 0)})
    return rows


@register_dataset("panoptic", description="CMU Panoptic Studio (MTC's test sequences), per HD view, joints19",
                  check=check, synthesize=synthesize, generator_version=GENERATOR_VERSION)  # fmt: skip
def load(
    folder: Path,
    *,
    sequences: tuple[str, ...] = DEFAULT_SEQUENCES,
    views: tuple[str, ...] | None = None,
    visibility: Annotated[str, OneOf(VISIBILITY)] = "strict",
    root: Annotated[str, OneOf(tuple(ROOTS))] = "mid_hip",
    person: NonNegativeInt | None = None,
    noise: Annotated[str, OneOf(NOISE_KINDS)] = "detector",
    noise_seed: NonNegativeInt = 0,
) -> SampleSet:
    """Read a Panoptic tree (module docstring); one sample per (sequence, frame, body, HD view) that passes
    the visibility filter. The settings are typed and checked by their annotations (``bench.settings``, through
    the registry) before this runs; what depends on the files (a view the calibration lacks) is checked here.

    sequences: sequence folders to read (default MTC's test sequences 171204_pose5, 171204_pose6).
    views: HD camera names (``panoptic[views=00_16]``, several joined by '+': ``views=00_16+00_30``; in a TOML
        table ``views = ["00_16"]``); None = every HD camera of each calibration. A name the calibration lacks is
        a DataFileError naming the calibration file and listing its cameras.
    visibility: 'strict' (MTC's rule, the default) | 'partial' (truncated bodies kept, only their joints inside
        the image scored) | 'inside' | 'none' (module docstring). root: 'mid_hip' | 'hips' | 'neck'.
    person: keep only this body id (None = all). noise / noise_seed: the detector-noise model applied when the
        2D comes from projection (no OpenPose JSON); noise='none': exact projections for every sequence, the
        OpenPose JSON not read (module docstring, the rule of ``noise``).
    """
    folder = Path(folder)
    sequences, views = tuple(sequences), None if views is None else tuple(views)
    for name, names in (("sequences", sequences), ("views", views or ())):
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:  # every sample would be read twice, under one identity
            raise ConfigError(f"dataset 'panoptic': {name}={'+'.join(names)}: {', '.join(twice)} given twice")
    config = NoiseConfig.from_kind(noise)
    sets, metas = [], {}
    for seq in sequences:
        s, meta = _load_sequence(folder, seq, views=views, visibility=visibility, root=root, person=person,
                                 noise=config, noise_seed=noise_seed)  # fmt: skip
        sets.append(s)
        metas[seq] = meta
    samples = concat_sets(sets)
    samples.info.update(_info(sequences, views, visibility, root, person, metas))
    return samples


def _info(sequences, views, visibility, root, person, metas) -> dict[str, Any]:
    def per_seq(key: str) -> str:
        values = {m[key] for m in metas.values()}
        return values.pop() if len(values) == 1 else ", ".join(f"{s}: {m[key]}" for s, m in metas.items())

    rule = {"strict": f"strict (valid joints19 in front, inside the image, not occluded; occlusion: "
                      f"{per_seq('occlusion')})",
            "partial": f"partial (not MTC's rule: truncated bodies kept; root and >= {PARTIAL_MIN_JOINTS} valid "
                       f"joints19 in front and inside the image, those not occluded; occlusion: "
                       f"{per_seq('occlusion')}; only the joints inside the image are scored, the others are "
                       f"not valid in joints3d_valid)",
            "inside": "inside (valid joints19 in front and inside the image; occlusion not used)",
            "none": "none (every annotated body in every view)"}[visibility]  # fmt: skip
    view_text = "all HD" if views is None else ",".join(views)
    protocol = (f"panoptic: sequences={','.join(sequences)}; views={view_text}; visibility={rule}; "
                f"root={root} ({'+'.join(ROOTS[root])}); 2d={per_seq('two_d')}; joints19 valid if c>0.1; "
                f"person={'all' if person is None else person}")  # fmt: skip
    projected = {m["keypoints2d"] for m in metas.values()} - {"detections"}  # one label: one noise setting
    keypoints2d = projected.pop() if projected else "detections"
    return {"protocol": protocol, "root_joints": ROOTS[root], "eval_joints": J19.joints, "visibility": visibility,
            "keypoints2d": keypoints2d, "keypoints2d_source": {s: m["keypoints2d"] for s, m in metas.items()},
            "occlusion_source": {s: m["occlusion"] for s, m in metas.items()},
            "two_d_source": {s: m["two_d"] for s, m in metas.items()},
            "filtered": {s: m["filtered"] for s, m in metas.items()}}  # fmt: skip
