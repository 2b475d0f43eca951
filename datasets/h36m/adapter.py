"""Human3.6M adapter: a data root in mmpose/SPIN's annotation layout -> :class:`bench.samples.SampleSet`.

Layout read (``<data_root>/h36m/``; the file names are ``datasets.h36m.format``'s constants)::

    annotations/*.npz   SPIN/mmpose-style annotation files (all read, in name order; the protocol selects)
    cameras.pkl         mmpose's calibration (optional: without it K is a default and R, t the identity)
    metadata.xml        H36M's metadata (optional; needed by variant='hmr' for the subaction ids)
    smplx_gt.npz        ground-truth SMPL-X, world frame (synthetic trees only)

For the real files: put mmpose's ``h36m_test.npz`` (or SPIN's files converted to the 17-joint npz) under
``annotations/``, mmpose's ``cameras.pkl`` and H36M's ``metadata.xml`` beside it (symbolic links are fine).

Protocol facts (PROTOCOLS.md "Human3.6M", lines 23-31): test subjects S9, S11, train S1, S5-S8 (line 23); every
5th frame (line 24); SPIN's P1 = all 4 cameras, P2 = camera 60457274, root = pelvis, 14 LSP evaluation joints
(lines 24-28); HMR's P2 = subaction 1 and camera 60457274, root = midpoint of the hips, (S11, Directions,
subaction 2, camera 54138969) excluded (lines 29-30). The selection itself is
:func:`datasets.h36m.format.select_protocol`.

Cameras: ``K, R, t`` are cameras.pkl's converted to OpenCV (``x_cam = R X + t``, metres, H36M's z-up world);
``dist`` = ``(k1, k2, p1, p2, k3)`` = H36M's ``(k[0], k[1], p[0], p[1], k[2])``. H36M's lens is VideoPose3D's
model (:func:`datasets.h36m.format.project_h36m`, PROTOCOLS.md line 32), not OpenCV's: the radial terms agree, the
tangential ones differ by ``(p[1] x^2 + p[0] x y, p[0] y^2 + p[1] x y)`` in normalised coordinates (~0.2 px on
the real images). ``dist`` holds the coefficients in the slots whose ``r^2`` terms match; to reproduce H36M's 2D
exactly, project with :func:`h36m_camera` + ``project_h36m``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import ConfigError, DataFileError
from bench.registry import register_dataset
from bench.samples import FaultLog, SampleSet
from bench.skeletons import Skeleton, convert, get_skeleton
from datasets.h36m.format import (
    ANNOTATIONS_DIR,
    CAMERAS_FILE,
    FRAME_STEP,
    JOINT_ORDERS,
    METADATA_FILE,
    OPENPOSE_KEY,
    PROTOCOLS,
    SMPLX_GT_FILE,
    TEST_SUBJECTS,
    TRAIN_SUBJECTS,
    VARIANTS,
    H36MAnnotations,
    H36MCamera,
    read_annotations,
    read_cameras,
    read_sequences,
    select_protocol,
)
from datasets.h36m.synth import GENERATOR_VERSION, synthesize
from datasets.noise import NOISE_KINDS, NoiseConfig, apply_noise
from datasets.synth import read_smplx_gt, smplx_to_camera

__all__ = ["DEFAULT_IMAGE_SIZE", "DEFAULT_K", "KEYPOINT_SOURCES", "SPLITS", "check", "dist_from_h36m", "h36m_camera",
           "load"]  # fmt: skip

SPLITS = {"test": TEST_SUBJECTS, "train": TRAIN_SUBJECTS}
JOINT_SETS = {17: "h36m_17", 14: "lsp_14"}
KEYPOINT_SOURCES = ("auto", "openpose", "part")
# Without cameras.pkl: the mean intrinsics of the 44 cameras of the real cameras.pkl (f 1147.3 / 1146.2 px,
# c 514.0 / 506.7 px), rounded, and the common image size; R = I, t = 0 (the joints are camera-frame already).
DEFAULT_K = np.array([[1147.0, 0.0, 514.0], [0.0, 1146.0, 507.0], [0.0, 0.0, 1.0]])
DEFAULT_IMAGE_SIZE = (1000, 1000)
MIN_VALID_JOINTS = 3
_LAYOUT = get_skeleton("openpose_137")
_H36M17 = get_skeleton("h36m_17")
# 'h36m_17' under OpenPose's names, for the 2D mapping by name: H36M's thorax is hmrbench's SMPL-X 'neck'
# (bench.regressors.DERIVED), which is OpenPose's neck (PROTOCOLS.md line 88, body slot 1 <- SMPL-X joint 12).
_H36M17_AS_OPENPOSE = Skeleton(
    "h36m_17_openpose_names", tuple("neck" if j == "thorax" else j for j in _H36M17.joints), parents=None
)


def dist_from_h36m(k: np.ndarray, p: np.ndarray) -> np.ndarray:
    """(..., 5) OpenCV-order ``(k1, k2, p1, p2, k3)`` from H36M's radial ``k`` (..., 3) and tangential ``p``
    (..., 2) in their stored order (module docstring: the tangential models differ)."""
    k, p = np.asarray(k, dtype=np.float64), np.asarray(p, dtype=np.float64)
    return np.concatenate([k[..., :2], p, k[..., 2:3]], axis=-1)


def h36m_camera(samples: SampleSet, index: int) -> H36MCamera:
    """The H36M camera of sample ``index`` rebuilt from its ``K, R, t, dist`` fields, for ``project_h36m``."""
    dist = samples.dist[index]
    w, h = (int(v) for v in samples.image_size[index])
    return H36MCamera(str(samples.ids["view"][index]), samples.R[index], samples.t[index], samples.K[index],
                      dist[[0, 1, 4]], dist[[2, 3]], w, h)  # fmt: skip


def _annotation_files(folder: Path) -> list[Path]:
    directory = Path(folder) / ANNOTATIONS_DIR
    files = sorted(directory.glob("*.npz")) if directory.is_dir() else []
    if not files:
        raise DataFileError(f"{directory}: no annotation .npz files (expected {ANNOTATIONS_DIR}/*.npz)")
    return files


def _read_openpose(path: Path, n: int) -> np.ndarray | None:
    """The file's (N, 137, 3) 'openpose_2d' detections, or None when the key is absent."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            if OPENPOSE_KEY not in npz.files:
                return None
            arr = npz[OPENPOSE_KEY]
    except (OSError, ValueError, EOFError) as exc:
        raise DataFileError(f"{path}: {OPENPOSE_KEY}: cannot read: {exc}") from None
    if arr.shape != (n, len(_LAYOUT), 3) or arr.dtype.kind not in "iuf":
        raise DataFileError(
            f"{path}: {OPENPOSE_KEY}: expected (N, {len(_LAYOUT)}, 3) numbers with N = {n} from imgname, "
            f"got {arr.shape} {arr.dtype}"
        )
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        sample = int(np.argwhere(~np.isfinite(arr))[0, 0])
        raise DataFileError(f"{path}: {OPENPOSE_KEY}: contains NaN or inf (sample {sample})")
    return arr


def _read_tree(
    folder: Path, joint_order: str, *, need_sequences: bool = False
) -> tuple[list[tuple[Path, H36MAnnotations]], dict | None, dict | None]:
    """(annotations per file, cameras or None, sequence table or None) of a tree; DataFileError when malformed."""
    folder = Path(folder)
    metadata = folder / METADATA_FILE
    if need_sequences and not metadata.is_file():
        raise DataFileError(f"{metadata}: missing (variant='hmr' needs H36M's metadata.xml for the subaction ids)")
    sequences = read_sequences(metadata) if metadata.is_file() else None
    cameras = read_cameras(folder / CAMERAS_FILE) if (folder / CAMERAS_FILE).is_file() else None
    annotations = [(p, read_annotations(p, joint_order=joint_order, sequences=sequences))
                   for p in _annotation_files(folder)]  # fmt: skip
    if cameras is not None:
        for path, ann in annotations:
            keys = set(zip(ann.ids.subject.tolist(), ann.ids.camera.tolist(), strict=True))
            for key in sorted(keys - set(cameras)):
                i = int(np.flatnonzero((ann.ids.subject == key[0]) & (ann.ids.camera == key[1]))[0])
                raise DataFileError(
                    f"{folder / CAMERAS_FILE}: camera {key!r} missing (needed by {path.name}: imgname[{i}] "
                    f"{ann.imgname[i]!r})"
                )
    return annotations, cameras, sequences


def _setting(name: str, value: Any, valid: Any) -> None:
    if value not in valid:
        raise ConfigError(f"h36m: {name}={value!r} is not valid; valid: {', '.join(map(repr, valid))}")


def check(folder: Path) -> list[dict]:
    """Validate a tree (DataFileError on the first malformed file: annotations with their 'openpose_2d',
    cameras.pkl and every camera the image names need, metadata.xml, smplx_gt.npz) and count its samples.

    Rows: one per (split, subject, view) with 'samples' (a partition of the files' samples); then one per
    (split, protocol, variant) with the number of samples the protocol keeps ('hmr' only when metadata.xml is
    present).
    """
    annotations, _, sequences = _read_tree(folder, "mmpose")
    for path, ann in annotations:
        _read_openpose(path, len(ann))
    if (Path(folder) / SMPLX_GT_FILE).is_file():
        read_smplx_gt(Path(folder) / SMPLX_GT_FILE)
    rows: list[dict] = []
    ids = [ann.ids for _, ann in annotations]
    subject = np.concatenate([i.subject for i in ids])
    camera = np.concatenate([i.camera for i in ids])
    split = np.where(np.isin(subject, TRAIN_SUBJECTS), "train", np.where(np.isin(subject, TEST_SUBJECTS), "test", "-"))
    keys, counts = np.unique(np.stack([split, subject, camera], axis=1), axis=0, return_counts=True)
    for (sp, su, ca), count in zip(keys.tolist(), counts.tolist(), strict=True):
        rows.append({"split": sp, "subject": su, "view": ca, "samples": count})
    for sp, subjects in SPLITS.items():
        for variant in VARIANTS if sequences is not None else ("spin",):
            for protocol in PROTOCOLS:
                kept = sum(int(select_protocol(i, protocol, variant, subjects=subjects).sum()) for i in ids)
                rows.append({"split": sp, "protocol": protocol, "variant": variant, "samples": kept})
    return rows


def _gt_rows(path: Path, subject: np.ndarray, sequence: np.ndarray, frame: np.ndarray
             ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:  # fmt: skip
    """The side file's rows for each sample, joined on (subject, sequence, frame): (params, root_rest, row) with
    row = -1 where the side file has no body for a sample."""
    params, root_rest, ids, _ = read_smplx_gt(path)
    for key in ("subject", "sequence", "frame"):
        if key not in ids:
            raise DataFileError(f"{path}: id_{key}: missing (needed to join the bodies to the samples)")
    keys = zip(ids["subject"].astype(str), ids["sequence"].astype(str), ids["frame"].tolist(), strict=True)
    index = {key: r for r, key in enumerate(keys)}
    row = np.array([index.get((s, q, int(f)), -1) for s, q, f in zip(subject, sequence, frame, strict=True)])
    return params, root_rest, row


@register_dataset(
    "h36m",
    description="Human3.6M (mmpose/SPIN annotation npz + cameras.pkl + metadata.xml): SPIN/HMR protocols 1 and 2",
    check=check,
    synthesize=synthesize,
    generator_version=GENERATOR_VERSION,
)
def load(
    folder: Path,
    *,
    protocol: str = "p1",
    variant: str = "spin",
    split: str = "test",
    joints: int = 17,
    keypoints: str = "auto",
    noise: str = "detector",
    noise_seed: int = 0,
    joint_order: str = "mmpose",
) -> SampleSet:
    """Read a Human3.6M tree (module docstring) as a SampleSet.

    protocol: 'p1' | 'p2'; variant: 'spin' | 'hmr' (PROTOCOLS.md lines 24-30; see module docstring).
    split: 'test' (S9, S11) | 'train' (S1, S5-S8), both every 5th frame.
    joints: the joints scored (``info['eval_joints']``): 17 -> all of 'h36m_17'; 14 -> the 14 LSP joints of
        'lsp_14' (SPIN's evaluation set, PROTOCOLS.md line 28). joints3d stays in 'h36m_17' either way, so the
        root (pelvis for 'spin', the midpoint of the hips for 'hmr') is available to align on, as SPIN does.
    keypoints: the 2D source. 'openpose': the files' stored 'openpose_2d' detections (N, 137, 3), used as they
        are; 'part': the 17-joint 2D ground truth mapped into the 'openpose_137' slots by joint name (thorax ->
        OpenPose neck), then the noise model ``noise`` (seeded by ``noise_seed``; no occlusion information);
        'auto': 'openpose' when every file has it, else 'part'.
    joint_order: the files' 17-joint order ('mmpose', as the real mmpose files; 'spin').

    joints3d: camera frame, metres, as the files store them (absolute in mmpose's files). smplx: the side file's
    bodies moved into each camera (``smplx_to_camera``) when ``smplx_gt.npz`` and cameras.pkl exist.
    Faults (skipped, counted): a sample with fewer than 3 valid 3D joints; a sample with no 2D keypoint.
    """
    _setting("protocol", protocol, PROTOCOLS)
    _setting("variant", variant, VARIANTS)
    _setting("split", split, tuple(SPLITS))
    _setting("joints", joints, tuple(JOINT_SETS))
    _setting("keypoints", keypoints, KEYPOINT_SOURCES)
    _setting("noise", noise, NOISE_KINDS)
    _setting("joint_order", joint_order, tuple(JOINT_ORDERS))
    folder = Path(folder)
    annotations, cameras, _ = _read_tree(folder, joint_order, need_sequences=variant == "hmr")
    openpose = [_read_openpose(path, len(ann)) for path, ann in annotations]
    if keypoints == "openpose" and any(o is None for o in openpose):
        missing = next(path for (path, _), o in zip(annotations, openpose, strict=True) if o is None)
        raise DataFileError(f"{missing}: {OPENPOSE_KEY}: missing (keypoints='openpose')")
    all_stored = all(o is not None for o in openpose)
    source = "openpose" if keypoints == "openpose" or (keypoints == "auto" and all_stored) else "part"
    skeleton = "h36m_17"
    id_keys = ("subject", "sequence", "action", "frame", "camera")
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("kp", "j3", "v3", "imgname", *id_keys)}
    faults = FaultLog()
    for (path, ann), detected in zip(annotations, openpose, strict=True):
        keep = select_protocol(ann.ids, protocol, variant, subjects=SPLITS[split])
        few = keep & (ann.valid_3d.sum(axis=1) < MIN_VALID_JOINTS)
        for i in np.flatnonzero(few):
            faults.skip(f"fewer than {MIN_VALID_JOINTS} valid 3D joints", f"{path.name}: S[{i}] {ann.imgname[i]}")
        keep &= ~few
        if source == "openpose":
            kp = detected[keep]
        else:
            if ann.joints_2d is None:
                raise DataFileError(f"{path}: part: missing (no 2D: neither '{OPENPOSE_KEY}' nor 'part')")
            kp = _part_to_openpose(ann, keep)
        no_2d = ~(kp[..., 2] > 0).any(axis=1)
        kept_index = np.flatnonzero(keep)
        for i in kept_index[no_2d]:
            faults.skip("no 2D keypoint", f"{path.name}: {ann.imgname[i]}")
        keep[kept_index[no_2d]] = False
        kp = kp[~no_2d]
        parts["kp"].append(kp)
        parts["j3"].append(convert(ann.joints_3d[keep], _H36M17, skeleton)[0])
        parts["v3"].append(convert(ann.valid_3d[keep][..., None], _H36M17, skeleton)[0][..., 0])
        parts["imgname"].append(ann.imgname[keep])
        for key in id_keys:
            parts[key].append(getattr(ann.ids, key)[keep])
    cols = {k: np.concatenate(v) for k, v in parts.items()}
    n = len(cols["frame"])
    if source == "part":
        present = cols["kp"][..., 2] > 0
        size = _image_sizes(cols, cameras)
        cols["kp"] = apply_noise(cols["kp"][..., :2], present, np.zeros_like(present), size,
                                 NoiseConfig.from_kind(noise), np.random.default_rng(noise_seed))  # fmt: skip
    K, R, t, dist, size = _camera_arrays(cols, cameras)
    smplx, smplx_valid, gt_note = None, None, "none"
    gt_path = folder / SMPLX_GT_FILE
    if gt_path.is_file() and cameras is not None and n:
        params, root_rest, row = _gt_rows(gt_path, cols["subject"], cols["sequence"], cols["frame"])
        rows = np.maximum(row, 0)
        moved = smplx_to_camera({k: v[rows] for k, v in params.items()}, root_rest[rows], R, t)
        smplx, smplx_valid, gt_note = moved, row >= 0, f"{SMPLX_GT_FILE} (camera frame)"
    elif gt_path.is_file():
        gt_note = f"{SMPLX_GT_FILE} present but unused (no cameras.pkl)" if n else "none"
    root = ("pelvis",) if variant == "spin" else ("left_hip", "right_hip")
    two_d = f"{OPENPOSE_KEY} (stored)" if source == "openpose" else f"part->openpose_137 + noise={noise}"
    camera_note = CAMERAS_FILE if cameras is not None else "default K (no cameras.pkl), R=I, t=0"
    scored = JOINT_SETS[joints]
    settings = f"variant={variant} split={split} joints={scored} frame_step={FRAME_STEP} root={'+'.join(root)}"
    info = {
        "protocol": f"h36m {protocol} {settings} 2d={two_d} cameras={camera_note}",
        "root_joints": root,
        "eval_joints": get_skeleton(JOINT_SETS[joints]).joints,
        "keypoints_source": source,
        "cameras": camera_note,
        "smplx_gt": gt_note,
        "lens": "dist = H36M (k1, k2, p1, p2, k3) in OpenCV slots; exact 2D: h36m_camera() + project_h36m",
    }
    return SampleSet(
        name="h36m", skeleton=skeleton, keypoints2d=cols["kp"], image_size=size, K=K, R=R, t=t, dist=dist,
        joints3d=cols["j3"], joints3d_valid=cols["v3"],
        ids={"subject": cols["subject"], "sequence": cols["sequence"], "action": cols["action"],
             "frame": cols["frame"], "view": cols["camera"], "person": np.zeros(n, np.int64)},
        smplx=smplx, smplx_valid=smplx_valid, info=info, faults=faults, extra={"imgname": cols["imgname"]},
    )  # fmt: skip


def _part_to_openpose(ann: H36MAnnotations, keep: np.ndarray) -> np.ndarray:
    """(n, 137, 3) exact 2D of the kept samples in the 'openpose_137' slots, confidence 1 where the file's 2D is
    valid, (0, 0, 0) elsewhere (slots H36M lacks: eyes, ears, feet, hands, face)."""
    xy = np.concatenate([ann.joints_2d[keep], ann.valid_2d[keep][..., None].astype(np.float64)], axis=-1)
    out, _ = convert(xy, _H36M17_AS_OPENPOSE, _LAYOUT)
    return out


def _image_sizes(cols: Mapping[str, np.ndarray], cameras: Mapping | None) -> np.ndarray:
    if cameras is None:
        return np.tile(DEFAULT_IMAGE_SIZE, (len(cols["frame"]), 1))
    sizes = {key: (cam.width, cam.height) for key, cam in cameras.items()}
    return np.array([sizes[(s, c)] for s, c in zip(cols["subject"], cols["camera"], strict=True)], np.int64).reshape(
        -1, 2
    )


def _camera_arrays(cols: Mapping[str, np.ndarray], cameras: Mapping | None) -> tuple[np.ndarray, ...]:
    """Per sample K (n, 3, 3), R (n, 3, 3), t (n, 3), dist (n, 5), image_size (n, 2)."""
    n = len(cols["frame"])
    size = _image_sizes(cols, cameras)
    if cameras is None:
        return np.tile(DEFAULT_K, (n, 1, 1)), np.tile(np.eye(3), (n, 1, 1)), np.zeros((n, 3)), np.zeros((n, 5)), size
    keys = list(cameras)
    lookup = {key: i for i, key in enumerate(keys)}
    index = np.array([lookup[(s, c)] for s, c in zip(cols["subject"], cols["camera"], strict=True)], np.int64)
    stack = {f: np.stack([getattr(cameras[k], f) for k in keys]) for f in ("K", "R", "t", "k", "p")}
    if not n:
        index = np.zeros(0, np.int64)
    return (stack["K"][index], stack["R"][index], stack["t"][index],
            dist_from_h36m(stack["k"], stack["p"])[index], size)  # fmt: skip
