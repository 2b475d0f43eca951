"""Synthetic Human3.6M: a tree in the real file layout the adapter reads (``datasets/h36m/adapter.py``).

What is written under ``out`` (the folder that would be ``<data_root>/h36m/``):

- ``annotations/h36m_train.npz`` (S1, S5-S8) and ``annotations/h36m_test.npz`` (S9, S11): mmpose-style annotation
  files (:func:`datasets.h36m.format.write_annotations`, mmpose joint order), one row per (subject, action,
  subaction, camera, frame): ``imgname`` like 'S9/S9_Directions_1.54138969/S9_Directions_1.54138969_000001.jpg',
  ``S`` (N, 17, 4) the 'h36m_17' joints of ``bench.body.regressors.skeleton_from_smplx`` in the camera frame, metres,
  absolute (mmpose's convention); ``part`` (N, 17, 3) their exact projections with H36M's lens model
  (:func:`datasets.h36m.format.project_h36m`, which is what H36M's own 2D ground truth is, PROTOCOLS.md line 32);
  ``center``/``scale`` from the box of ``part``; and ``openpose_2d`` (N, 137, 3): OpenPose-like detections in the
  'openpose_137' layout (``datasets.noise.apply_noise`` on the project_h36m projections, with the depth-buffer
  occlusion of ``datasets.synth.occlusion``).
- ``cameras.pkl`` (mmpose layout, :func:`datasets.h36m.format.write_cameras`): the 4 cameras per subject.
- ``metadata.xml``: the sequence table (:func:`datasets.h36m.format.write_sequences`) for the HMR protocol.
- ``smplx_gt.npz``: ground-truth SMPL-X (``datasets.synth.write_smplx_gt``) in H36M's world frame (z up, floor at
  z = 0, metres), one row per body, ids 'subject', 'sequence', 'frame', 'person' to join on.
- ``HMRBENCH_SYNTHETIC.json``: the marker.

Scene (H36M-like, checked against the real ``cameras.pkl``): per camera id fixed intrinsics (focal length
1143-1150 px, principal point within ~12 px of the image centre, 1000 x 1002 images for cameras 1 and 4 and
1000 x 1000 for 2 and 3 as in metadata.xml, radial k ~ (-0.2, 0.24, +-0.008) and tangential |p| < 3e-3 as the real
lenses); per subject slightly moved extrinsics: the four cameras at the corners of the capture area, 4-5.4 m from
its centre, 1.45-1.65 m high, aimed at a point ~1 m above the floor. Each subject has one body shape (betas from
``datasets.bank`` with the seed); each action draws poses from bank families (``ACTION_FAMILIES``); each body
stands on the floor within 1 m of the centre. Frames are every 5th video frame (SPIN's 10 fps, PROTOCOLS.md line
24) from a random start; poses of consecutive frames are independent draws.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from datasets.bank import BankConfig, ParameterBank
from datasets.h36m.format import (
    ANNOTATIONS_DIR,
    CAMERA_IDS,
    CAMERAS_FILE,
    FRAME_STEP,
    METADATA_FILE,
    OPENPOSE_KEY,
    SMPLX_GT_FILE,
    TEST_SUBJECTS,
    TRAIN_SUBJECTS,
    H36MAnnotations,
    H36MCamera,
    parse_imgnames,
    project_h36m,
    write_annotations,
    write_cameras,
    write_sequences,
)
from datasets.noise import NoiseConfig, apply_noise
from datasets.synth import generator_model, occlusion, render_bodies, smplx_to_camera, write_marker, write_smplx_gt

__all__ = ["ACTIONS", "ACTION_FAMILIES", "DEFAULT_FRAMES", "GENERATOR_VERSION", "SUBJECTS", "make_cameras",
           "sequence_name", "synthesize"]  # fmt: skip

GENERATOR_VERSION = "1"
SUBJECTS = TRAIN_SUBJECTS + TEST_SUBJECTS
DEFAULT_FRAMES = 3  # frames per (subject, action, subaction) and camera: 7 x 15 x 2 x 3 = 630 bodies, 2520 samples
# metadata.xml's <actionnames> (the real list, with 'Miscellaneous' = the '_ALL' sequences as action 1).
ACTION_NAMES = ("Miscellaneous", "Directions", "Discussion", "Eating", "Greeting", "Phoning", "Posing", "Purchases",
                "Sitting", "SittingDown", "Smoking", "TakingPhoto", "Waiting", "Walking", "WalkingDog",
                "WalkingTogether")  # fmt: skip
ACTIONS = ACTION_NAMES[1:]
# Action -> bank pose families (datasets.bank.ALL_FAMILIES): our reading of what the actors do in each action.
ACTION_FAMILIES: dict[str, tuple[str, ...]] = {
    "Directions": ("stand", "reach", "wave"),  # pointing the way
    "Discussion": ("stand", "wave", "twist"),  # gesturing while talking
    "Eating": ("sit", "reach"),  # seated at a table, hand to mouth
    "Greeting": ("stand", "wave", "arms_raised"),
    "Phoning": ("stand", "reach", "walk"),  # hand at the ear, pacing
    "Posing": ("arms_raised", "stand", "twist"),
    "Purchases": ("stand", "bend", "reach"),
    "Sitting": ("sit",),
    "SittingDown": ("sit", "crouch", "bend"),  # sitting down on the floor and getting up
    "Smoking": ("stand", "sit", "reach"),
    "TakingPhoto": ("stand", "crouch", "reach"),
    "Waiting": ("stand", "bend", "twist"),
    "Walking": ("walk",),
    "WalkingDog": ("walk", "bend"),
    "WalkingTogether": ("walk",),
}
assert tuple(ACTION_FAMILIES) == ACTIONS
# Words the real video names use for some actions (metadata.xml: 'Photo 1', 'WalkDog 1', 'WalkTogether 1').
_SEQUENCE_WORDS = {"TakingPhoto": "Photo", "WalkingDog": "WalkDog", "WalkingTogether": "WalkTogether"}

_Y_UP_TO_Z_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])  # SMPL-X world (y up) -> H36M (z up)
_PLACEMENT_RADIUS = 1.0  # m: pelvis within this distance of the capture centre
# Per camera (in CAMERA_IDS order): nominal centre x, y (m, H36M world) and image height (width 1000), after the
# real file (S1-S11: cameras at about (2, 5), (1.9, -5.1), (-1.8, 5.2), (-1.7, -3.8)), a little closer in.
_CAMERA_LAYOUT = ((1.8, 4.7, 1002), (1.8, -4.8, 1000), (-1.7, 4.9, 1000), (-1.7, -3.9, 1002))


def sequence_name(action: str, subaction: int) -> str:
    """The video name of a synthetic sequence: '<word> 1' for subaction 1, '<word>' for subaction 2 (the pattern
    of most subjects in metadata.xml, e.g. 'Directions 1' / 'Directions'; 'Photo 1' / 'Photo' for TakingPhoto)."""
    word = _SEQUENCE_WORDS.get(action, action)
    return f"{word} 1" if subaction == 1 else word


def _look_at(centre: np.ndarray, target: np.ndarray, roll: float) -> np.ndarray:
    """(3, 3) world -> camera rotation (OpenCV: x right, y down, z forward) of a camera at ``centre`` looking at
    ``target`` with H36M's z up, rolled by ``roll`` radians about its optical axis."""
    z = target - centre
    z /= np.linalg.norm(z)
    x = np.cross(z, [0.0, 0.0, 1.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    c, s = np.cos(roll), np.sin(roll)
    return np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]]) @ np.stack([x, y, z])


def make_cameras(subjects: Sequence[str], rng: np.random.Generator) -> dict[tuple[str, str], H36MCamera]:
    """H36M-like cameras ``{(subject, camera_id): H36MCamera}`` (module docstring): intrinsics and lens fixed per
    camera id, extrinsics per subject; OpenCV convention, metres, H36M world (z up)."""
    intrinsics = []
    for _, _, height in _CAMERA_LAYOUT:
        f = rng.uniform(1143.0, 1150.0)
        fy, cx, cy = f * rng.uniform(0.998, 1.0), rng.uniform(505.0, 520.0), rng.uniform(500.0, 516.0)
        K = np.array([[f, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
        k = np.array([rng.uniform(-0.21, -0.19), rng.uniform(0.215, 0.26), rng.uniform(-0.009, 0.007)])
        p = rng.uniform(-0.003, 0.0015, 2)
        intrinsics.append((K, k, p, 1000, height))
    cameras = {}
    for subject in subjects:
        for index, camera_id in enumerate(CAMERA_IDS):
            cx, cy, _ = _CAMERA_LAYOUT[index]
            centre = np.array([cx, cy, 0.0]) + np.append(rng.uniform(-0.15, 0.15, 2), rng.uniform(1.45, 1.65))
            target = np.append(rng.uniform(-0.3, 0.3, 2), rng.uniform(0.9, 1.1))
            R = _look_at(centre, target, rng.uniform(-0.02, 0.02))
            K, k, p, width, height = intrinsics[index]
            cameras[(subject, camera_id)] = H36MCamera(
                camera_id, R, -R @ centre, K.copy(), k.copy(), p.copy(), width, height, f"camera{index + 1}"
            )
    return cameras


def _place_on_floor(model, params: dict[str, np.ndarray], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Bank parameters (SMPL-X y-up world, no translation) -> H36M world (z up): lowest vertex on the floor
    (z = 0), pelvis within ``_PLACEMENT_RADIUS`` of the capture centre. float32, as written to the side file."""
    bank = render_bodies(model, params)
    n = len(params["betas"])
    R = _Y_UP_TO_Z_UP
    lowest = bank["vertices"][..., 1].min(axis=1)  # world z = bank y
    pelvis = bank["keypoints"][:, 8] @ R.T  # 'openpose_137' slot 8 = MidHip = SMPL-X pelvis
    radius = _PLACEMENT_RADIUS * np.sqrt(rng.random(n))
    angle = rng.uniform(-np.pi, np.pi, n)
    t = np.stack([radius * np.cos(angle) - pelvis[:, 0], radius * np.sin(angle) - pelvis[:, 1], -lowest], axis=1)
    world = smplx_to_camera({k: v for k, v in params.items() if k != "family"}, bank["root_rest"], R, t)
    return {k: np.asarray(v, dtype=np.float32) for k, v in world.items()}


def _box(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(center (N, 2), scale (N,)) of 2D points (N, J, 2): box centre and 1.2 x its longer side / 200 px."""
    lo, hi = points.min(axis=1), points.max(axis=1)
    return (lo + hi) / 2, 1.2 * (hi - lo).max(axis=1) / 200.0


def synthesize(
    out: Path,
    *,
    frames: int | None = None,
    seed: int = 0,
    noise: str | NoiseConfig = "detector",
    subjects: Sequence[str] = SUBJECTS,
    actions: Sequence[str] = ACTIONS,
) -> dict:
    """Write a synthetic Human3.6M tree under ``out`` (module docstring) and return a summary.

    frames: frames per (subject, action, subaction) and camera; None = ``DEFAULT_FRAMES``.
    noise: the detector-noise model of the stored 'openpose_2d' ('detector', 'none' = exact projections, or a
        NoiseConfig). subjects / actions: subsets of ``SUBJECTS`` / ``ACTIONS`` (for small test trees).
    Deterministic for a seed (same bytes). Returns {'bodies', 'samples', 'samples_per_split', 'seconds', ...}.
    """
    start = time.perf_counter()
    frames = DEFAULT_FRAMES if frames is None else int(frames)
    if frames < 1:
        raise ValueError(f"frames must be >= 1, got {frames}")
    unknown = [s for s in subjects if s not in SUBJECTS] + [a for a in actions if a not in ACTIONS]
    if unknown or not subjects or not actions:
        raise ValueError(f"unknown or empty subjects/actions {unknown}; valid: {SUBJECTS}, {ACTIONS}")
    subjects = [s for s in SUBJECTS if s in subjects]  # canonical order: the output does not depend on the order
    actions = [a for a in ACTIONS if a in actions]
    config = noise if isinstance(noise, NoiseConfig) else NoiseConfig.from_kind(noise)
    out = Path(out)
    rng = np.random.default_rng(seed)
    model = generator_model()
    cameras = make_cameras(subjects, rng)
    shape = ParameterBank().sample(len(subjects), seed=rng)["betas"]

    # bodies: one per (subject, action, subaction, frame), in that order
    params: list[dict[str, np.ndarray]] = []
    body_ids: dict[str, list] = {"subject": [], "sequence": [], "frame": []}
    table = {}
    for s_index, subject in enumerate(subjects):
        for action in actions:
            bank = ParameterBank(BankConfig(families=ACTION_FAMILIES[action]))
            for subaction in (1, 2):
                sequence = sequence_name(action, subaction)
                table[(subject, sequence)] = (action, subaction)
                first = FRAME_STEP * int(rng.integers(0, 200))
                drawn = bank.sample(frames, seed=rng)
                drawn["betas"][:] = shape[s_index]
                params.append(drawn)
                body_ids["subject"] += [subject] * frames
                body_ids["sequence"] += [sequence] * frames
                body_ids["frame"] += [first + FRAME_STEP * k for k in range(frames)]
    bank_params = {k: np.concatenate([p[k] for p in params]) for k in params[0]}
    world = _place_on_floor(model, bank_params, rng)
    bodies = render_bodies(model, world, skeletons=("h36m_17",))
    ids = {k: np.array(v) for k, v in body_ids.items()}
    n_bodies = len(ids["frame"])

    # samples: (subject, action, subaction, camera, frame) order, as mmpose's files
    rows: dict[str, list[np.ndarray]] = {k: [] for k in ("imgname", "S", "part", "openpose", "split")}
    for subject in subjects:
        mine = np.flatnonzero(ids["subject"] == subject)
        seq_index = {sequence: i for i, sequence in enumerate(dict.fromkeys(ids["sequence"][mine]))}
        per_camera = []
        for camera_id in CAMERA_IDS:
            cam = cameras[(subject, camera_id)]
            joints = bodies["h36m_17"][mine] @ cam.R.T + cam.t
            points = bodies["keypoints"][mine] @ cam.R.T + cam.t
            exact = project_h36m(points, cam)
            present = points[..., 2] > 1e-3
            size = np.tile([cam.width, cam.height], (len(mine), 1))
            hidden = np.zeros_like(present)
            if config.kind != "none":
                hidden = occlusion(points, bodies["vertices"][mine] @ cam.R.T + cam.t, cam.K, size)
            detected = apply_noise(exact, present, hidden, size, config, rng)
            names = [
                f"{subject}/{subject}_{sq.replace(' ', '_')}.{camera_id}/{subject}_{sq.replace(' ', '_')}.{camera_id}_"
                f"{frame + 1:06d}.jpg"
                for sq, frame in zip(ids["sequence"][mine], ids["frame"][mine], strict=True)
            ]
            per_camera.append((np.array(names), joints, project_h36m(joints, cam), detected))
        # interleave so that the order is sequence -> camera -> frame
        seq_of = np.array([seq_index[s] for s in ids["sequence"][mine]])
        for q in range(len(seq_index)):
            sel = np.flatnonzero(seq_of == q)
            for names, joints, part, detected in per_camera:
                rows["imgname"].append(names[sel])
                rows["S"].append(joints[sel])
                rows["part"].append(part[sel])
                rows["openpose"].append(detected[sel])
                rows["split"].append(np.full(len(sel), "train" if subject in TRAIN_SUBJECTS else "test"))
    columns = {k: np.concatenate(v) for k, v in rows.items()}

    (out / ANNOTATIONS_DIR).mkdir(parents=True, exist_ok=True)
    per_split = {}
    for split in ("train", "test"):
        sel = columns["split"] == split
        if not sel.any():
            continue
        part = columns["part"][sel]
        center, scale = _box(part)
        n = int(sel.sum())
        ann = H36MAnnotations(
            imgname=columns["imgname"][sel], joints_3d=columns["S"][sel], valid_3d=np.ones((n, 17), bool),
            joints_2d=part, valid_2d=np.ones((n, 17), bool), center=center, scale=scale,
            ids=parse_imgnames(columns["imgname"][sel]),
        )  # fmt: skip
        path = out / ANNOTATIONS_DIR / f"h36m_{split}.npz"
        write_annotations(path, ann, extra={OPENPOSE_KEY: columns["openpose"][sel]})
        per_split[split] = n
    write_cameras(out / CAMERAS_FILE, cameras)
    write_sequences(out / METADATA_FILE, table, ACTION_NAMES)
    write_smplx_gt(out / SMPLX_GT_FILE, world, bodies["root_rest"], {**ids, "person": np.zeros(n_bodies, np.int64)},
                   model.source.sha256)  # fmt: skip
    settings = {"frames": frames, "subjects": list(subjects), "actions": list(actions)}
    write_marker(out, "h36m", seed=seed, noise=config, settings=settings, model=model,
                 generator_version=GENERATOR_VERSION)  # fmt: skip
    return {"bodies": n_bodies, "samples": int(sum(per_split.values())), "samples_per_split": per_split,
            "subjects": len(subjects), "actions": len(actions), "frames": frames,
            "seconds": round(time.perf_counter() - start, 2)}  # fmt: skip
