"""Human3.6M adapter: a data root in mmpose/SPIN's annotation layout -> :class:`bench.samples.SampleSet`.

Layout read (``<data_root>/h36m/``; the file names are ``datasets.h36m.format``'s constants)::

    annotations/*.npz                 annotation files (all read, in name order; the protocol selects): mmpose's
                                      17-joint npz or SPIN's 24-joint npz, told apart by the joint count
    annotations/<stem>_2d_detection.npy
                                      optional: mmpose's 2D detections of annotations/<stem>.npz (N, 17, 3)
    cameras.pkl                       mmpose's calibration (optional, see "Cameras")
    metadata.xml                      H36M's metadata (optional; needed by variant='hmr' for the subaction ids)
    smplx_gt.npz                      ground-truth SMPL-X, world frame (synthetic trees only)

For the real files: put mmpose's ``h36m_test.npz`` or SPIN's ``h36m_valid_protocol1.npz`` under ``annotations/``,
mmpose's detections beside it renamed ``<stem>_2d_detection.npy`` (``h36m_test_2d_detection.npy``), mmpose's
``cameras.pkl`` and H36M's ``metadata.xml`` beside ``annotations/`` (symbolic links are fine).

2D input (``keypoints``): the stored 'openpose_2d' key, mmpose's detection files, or the exact 2D passed through
the detector-noise model; ``info['keypoints2d']`` says which ('detections'; 'simulated' for exact 2D with noise and
for any 2D of a generated tree; 'exact' for exact 2D without noise). The exact 2D of a file is its 2D ground truth
``part`` (projected motion capture, H36M's lens model); a file without ``part`` whose 3D is absolute (mmpose's
layout) has it formed by projecting its camera-frame 3D through its camera in cameras.pkl (``project_h36m``).

The rule of ``noise`` (the same whatever the tree): ``noise=detector`` (default) leaves the files' own detections
('openpose_2d', mmpose's detection files) as they are and applies the noise model only to exact 2D (``part`` or the
projection). ``noise=none`` means exact 2D: with ``keypoints=auto`` the exact 2D is used even where detections are
stored (they are not read), and a file that cannot give it (no ``part`` and no absolute 3D with a cameras.pkl
camera: SPIN's validation files, or any file of a tree without cameras.pkl) is a DataFileError naming the file,
the setting and why; ``noise=none`` with ``keypoints=openpose`` or ``keypoints=detections`` is a ConfigError (those
read detections as they are). Never are detections returned under ``noise=none``.

Protocol facts (PROTOCOLS.md "Human3.6M", lines 23-31): test subjects S9, S11, train S1, S5-S8 (line 23); every
5th frame (line 24); SPIN's P1 = all 4 cameras, P2 = camera 60457274, root = pelvis, 14 LSP evaluation joints
(lines 24-28); HMR's P2 = subaction 1 and camera 60457274, root = midpoint of the hips, (S11, Directions,
subaction 2, camera 54138969) excluded (lines 29-30). The selection itself is
:func:`datasets.h36m.format.select_protocol`.

Cameras: without ``cameras.pkl`` (SPIN's files come without one) each sample gets ``DEFAULT_K``, ``R = I``,
``t = 0`` and no lens distortion, which is exact for the extrinsics (the files' 3D is in the camera frame) and
within 0.25 % of the focal length and 8.5 px of the principal point of the 44 real cameras; ``info['cameras']``, the
protocol line and ``hmrbench data check`` say which source was used. A ``cameras.pkl`` that is there but is a
folder, unreadable or malformed is an error naming it, never the default. With it, ``K, R, t`` are cameras.pkl's
converted to OpenCV (``x_cam = R X + t``, metres, H36M's z-up world);
``dist`` = ``(k1, k2, p1, p2, k3)`` = H36M's ``(k[0], k[1], p[0], p[1], k[2])``. H36M's lens is VideoPose3D's
model (:func:`datasets.h36m.format.project_h36m`, PROTOCOLS.md line 32), not OpenCV's: the radial terms agree, the
tangential ones differ by ``(p[1] x^2 + p[0] x y, p[0] y^2 + p[1] x y)`` in normalised coordinates (~0.2 px on
the real images). ``dist`` holds the coefficients in the slots whose ``r^2`` terms match; to reproduce H36M's 2D
exactly, project with :func:`h36m_camera` + ``project_h36m``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import numpy as np

from bench.body.skeletons import Skeleton, convert, get_skeleton
from bench.errors import ConfigError, DataFileError
from bench.registry import read_synthetic_marker, register_dataset
from bench.samples import FaultLog, SampleSet
from bench.settings import NonNegativeInt, OneOf
from datasets.h36m.format import (
    ANNOTATIONS_DIR,
    CAMERAS_FILE,
    DETECTION_SUFFIX,
    FRAME_STEP,
    JOINT_ORDERS,
    METADATA_FILE,
    OPENPOSE_KEY,
    PROTOCOLS,
    SMPLX_GT_FILE,
    SPIN_24,
    TEST_SUBJECTS,
    TRAIN_SUBJECTS,
    VARIANTS,
    H36MAnnotations,
    H36MCamera,
    detection_file,
    project_h36m,
    read_annotations,
    read_cameras,
    read_detections,
    read_sequences,
    select_protocol,
)
from datasets.h36m.synth import GENERATOR_VERSION, synthesize
from datasets.noise import NOISE_KINDS, NoiseConfig, apply_noise, keypoints2d_label
from datasets.synth import read_smplx_gt, smplx_to_camera

__all__ = ["DEFAULT_CAMERAS", "DEFAULT_IMAGE_SIZE", "DEFAULT_K", "KEYPOINT_SOURCES", "SPLITS", "check",
           "dist_from_h36m", "h36m_camera", "load"]  # fmt: skip

SPLITS = {"test": TEST_SUBJECTS, "train": TRAIN_SUBJECTS}
JOINT_SETS = {17: "h36m_17", 14: "lsp_14"}
KEYPOINT_SOURCES = ("auto", "openpose", "detections", "part")
# Without cameras.pkl: the mean intrinsics of the 44 cameras of the real cameras.pkl (f 1147.3 / 1146.2 px,
# c 514.0 / 506.7 px), rounded, and the common image size; R = I, t = 0 (the joints are camera-frame already).
DEFAULT_K = np.array([[1147.0, 0.0, 514.0], [0.0, 1146.0, 507.0], [0.0, 0.0, 1.0]])
DEFAULT_IMAGE_SIZE = (1000, 1000)
DEFAULT_CAMERAS = f"default K, R = I (no {CAMERAS_FILE})"  # the camera source named when there is no cameras.pkl
MIN_VALID_JOINTS = 3
# How a set's exact 2D was formed (``_exact_2d``) -> its words in info['protocol'].
_EXACT_TEXT = {(): "part", ("part",): "part", ("projection",): f"3D projected ({CAMERAS_FILE})",
               ("part", "projection"): f"part or 3D projected ({CAMERAS_FILE})"}  # fmt: skip
_LAYOUT = get_skeleton("openpose_137")
_H36M17 = get_skeleton("h36m_17")
# 'h36m_17' under OpenPose's names, for the 2D mapping by name: H36M's thorax is hmrbench's SMPL-X 'neck'
# (bench.body.regressors.DERIVED), which is OpenPose's neck (PROTOCOLS.md line 88, body slot 1 <- SMPL-X joint 12).
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
    """(annotations per file, cameras or None, sequence table or None) of a tree; DataFileError when malformed.

    cameras.pkl is None only when there is nothing at that path: a folder, an unreadable or a malformed file there
    is an error naming it (never the default cameras)."""
    folder = Path(folder)
    metadata = folder / METADATA_FILE
    if need_sequences and not os.path.lexists(metadata):
        raise DataFileError(f"{metadata}: missing (variant='hmr' needs H36M's metadata.xml for the subaction ids)")
    sequences = read_sequences(metadata) if os.path.lexists(metadata) else None
    cameras_path = folder / CAMERAS_FILE
    cameras = read_cameras(cameras_path) if os.path.lexists(cameras_path) else None
    annotations = [(p, read_annotations(p, joint_order=joint_order, sequences=sequences))
                   for p in _annotation_files(folder)]  # fmt: skip
    if cameras is not None:
        for path, ann in annotations:
            keys = set(zip(ann.ids.subject.tolist(), ann.ids.camera.tolist(), strict=True))
            for key in sorted(keys - set(cameras)):
                i = int(np.flatnonzero((ann.ids.subject == key[0]) & (ann.ids.camera == key[1]))[0])
                raise DataFileError(
                    f"{cameras_path}: camera {key!r} missing (needed by {path.name}: imgname[{i}] {ann.imgname[i]!r})"
                )
    return annotations, cameras, sequences


def _detections(path: Path, ann: H36MAnnotations, joint_order: str) -> np.ndarray | None:
    """(N, 137, 3) mmpose 2D detections of annotation file ``path`` in the 'openpose_137' slots, or None."""
    found = detection_file(path)
    if found is None:
        return None
    xy, score = read_detections(found, len(ann), joint_order=joint_order)
    return _h36m17_to_openpose(xy, score)


def _layout_note(ann: H36MAnnotations) -> str:
    joints = "SPIN 24-joint" if ann.layout == SPIN_24.name else f"17-joint ({ann.layout})"
    return f"{joints}, 3D {'root-relative' if ann.root_relative else 'absolute'}"


def check(folder: Path) -> list[dict]:
    """Validate a tree (DataFileError on the first malformed file: annotations with their 'openpose_2d' and
    detection files, cameras.pkl and every camera the image names need, metadata.xml, smplx_gt.npz) and count
    its samples.

    Rows: one per (split, subject, view) with 'samples' (a partition of the files' samples); one per (split,
    protocol, variant) with the number of samples the protocol keeps ('hmr' only when metadata.xml is present);
    then one per file read ('file', 'read_as'), the camera source among them (cameras.pkl or the default).
    """
    folder = Path(folder)
    annotations, cameras, sequences = _read_tree(folder, "mmpose")
    files: list[dict] = []
    for path, ann in annotations:
        stored = _read_openpose(path, len(ann))
        found = detection_file(path)
        note = _layout_note(ann) + (f", {OPENPOSE_KEY} stored" if stored is not None else "")
        if stored is None and found is None and ann.joints_2d is None:
            if cameras is not None and not ann.root_relative:
                note += f", no 2D stored: load projects its 3D through {CAMERAS_FILE}"
            else:
                note += f", no 2D: load needs {path.stem}{DETECTION_SUFFIX} beside it"
        files.append({"file": str(path.relative_to(folder)), "read_as": f"annotations: {note}", "samples": len(ann)})
        if found is not None:
            _detections(path, ann, "mmpose")
            files.append({"file": str(found.relative_to(folder)), "read_as": "2D detections (mmpose)",
                          "samples": len(ann)})  # fmt: skip
    total = sum(len(ann) for _, ann in annotations)
    if cameras is not None:
        files.append({"file": CAMERAS_FILE, "read_as": f"camera source: {CAMERAS_FILE}, {len(cameras)} cameras",
                      "samples": total})  # fmt: skip
    else:
        files.append({"file": "-", "read_as": f"camera source: {DEFAULT_CAMERAS}", "samples": total})
    if (folder / SMPLX_GT_FILE).is_file():
        read_smplx_gt(folder / SMPLX_GT_FILE)
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
    return rows + files


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


def _stored_2d(
    keypoints: str, noise: str, used: list[tuple[Path, H36MAnnotations]], joint_order: str
) -> tuple[str, list[np.ndarray | None]]:
    """The 2D source of the files that hold selected samples ('openpose', 'detections' or 'part'; see ``load``)
    and, per file, its stored (N, 137, 3) 2D (None for 'part', the exact 2D). DataFileError when a source asked for
    is missing; ConfigError when ``noise=none`` is asked of detections (module docstring, the rule of ``noise``)."""
    if noise == "none":
        if keypoints in ("openpose", "detections"):
            raise ConfigError(
                f"dataset 'h36m': noise=none asks for exact 2D, but keypoints={keypoints} reads the files' "
                f"detections as they are; use keypoints=auto or keypoints=part (exact 2D), or noise=detector"
            )
        return "part", [None] * len(used)
    if keypoints in ("auto", "openpose"):
        stored = [_read_openpose(path, len(ann)) for path, ann in used]
        missing = next((path for (path, _), s in zip(used, stored, strict=True) if s is None), None)
        if missing is None and used:
            return "openpose", stored
        if keypoints == "openpose":
            raise DataFileError(f"{missing}: {OPENPOSE_KEY}: missing (keypoints='openpose')")
    if keypoints in ("auto", "detections"):
        missing = next((path for path, _ in used if detection_file(path) is None), None)
        if missing is None and used:
            return "detections", [_detections(path, ann, joint_order) for path, ann in used]
        if keypoints == "detections":
            raise DataFileError(
                f"{missing.with_name(missing.stem + DETECTION_SUFFIX)}: missing (keypoints='detections' reads "
                f"mmpose's 2D detections of {missing.name} from it)"
            )
    return "part", [None] * len(used)


def _exact_2d(
    path: Path, ann: H36MAnnotations, keep: np.ndarray, cameras: Mapping | None, noise: str
) -> tuple[np.ndarray, str]:
    """(n, 137, 3) exact 2D of the kept samples of a file in the 'openpose_137' slots, confidence = the point
    exists (the noise model then keeps those inside the image), and how it was formed: 'part' (the file's 2D ground
    truth) or 'projection' (its absolute camera-frame 3D through cameras.pkl with H36M's lens model). DataFileError
    naming the file and why when neither is possible."""
    if ann.joints_2d is not None:
        return _h36m17_to_openpose(ann.joints_2d[keep], ann.valid_2d[keep].astype(np.float64)), "part"
    why = ("its 3D is root-relative (SPIN's layout)" if ann.root_relative
           else f"there is no {CAMERAS_FILE} to project its 3D with")  # fmt: skip
    if ann.root_relative or cameras is None:
        if noise == "none":
            raise DataFileError(
                f"{path}: part: missing, and dataset 'h36m' with noise=none needs exact 2D: the file has no 2D "
                f"ground truth 'part' and {why} (use noise=detector with its detections: "
                f"'{OPENPOSE_KEY}' or {path.stem}{DETECTION_SUFFIX} beside it)"
            )
        raise DataFileError(
            f"{path}: part: missing (no 2D: neither '{OPENPOSE_KEY}', nor 'part', nor {path.stem}{DETECTION_SUFFIX} "
            f"beside it; and no exact 2D to project: {why})"
        )
    joints = ann.joints_3d[keep]
    uv = np.zeros((len(joints), len(_H36M17), 2))
    subject, camera = ann.ids.subject[keep], ann.ids.camera[keep]
    for key in sorted(set(zip(subject.tolist(), camera.tolist(), strict=True))):
        rows = (subject == key[0]) & (camera == key[1])
        with np.errstate(divide="ignore", invalid="ignore"):
            uv[rows] = project_h36m(joints[rows], cameras[key])
    valid = ann.valid_3d[keep] & (joints[..., 2] > 0) & np.isfinite(uv).all(axis=-1)
    return _h36m17_to_openpose(np.where(valid[..., None], uv, 0.0), valid.astype(np.float64)), "projection"


def _empty_note(annotations: list[tuple[Path, H36MAnnotations]], subjects: tuple[str, ...]) -> str:
    """Why a selection kept nothing: the subjects asked for and those the files hold."""
    held = sorted({str(s) for _, ann in annotations for s in ann.ids.subject}, key=lambda s: (len(s), s))
    asked = "+".join(subjects)
    if not set(subjects) & set(held):
        return f"no samples: none of the subjects {asked} in the files, which hold {', '.join(held) or 'none'}"
    return f"no samples: subjects {asked} found, but no frame of theirs passes the protocol"


@register_dataset(
    "h36m",
    description="Human3.6M (mmpose/SPIN annotation npz, SPIN 24-joint npz, mmpose 2D detections, cameras.pkl, "
    "metadata.xml): SPIN/HMR protocols 1 and 2",
    check=check,
    synthesize=synthesize,
    generator_version=GENERATOR_VERSION,
)
def load(
    folder: Path,
    *,
    protocol: Annotated[str, OneOf(PROTOCOLS)] = "p1",
    variant: Annotated[str, OneOf(VARIANTS)] = "spin",
    split: Annotated[str, OneOf(tuple(SPLITS))] = "test",
    joints: Annotated[int, OneOf(tuple(JOINT_SETS))] = 17,
    keypoints: Annotated[str, OneOf(KEYPOINT_SOURCES)] = "auto",
    noise: Annotated[str, OneOf(NOISE_KINDS)] = "detector",
    noise_seed: NonNegativeInt = 0,
    joint_order: Annotated[str, OneOf(tuple(JOINT_ORDERS))] = "mmpose",
) -> SampleSet:
    """Read a Human3.6M tree (module docstring) as a SampleSet. The settings' values are checked by the registry
    against these declarations before anything is read.

    protocol: 'p1' | 'p2'; variant: 'spin' | 'hmr' (PROTOCOLS.md lines 24-30; see module docstring).
    split: 'test' (S9, S11) | 'train' (S1, S5-S8), both every 5th frame.
    joints: the joints scored (``info['eval_joints']``): 17 -> all of 'h36m_17'; 14 -> the 14 LSP joints of
        'lsp_14' (SPIN's evaluation set, PROTOCOLS.md line 28). joints3d stays in 'h36m_17' either way, so the
        root (pelvis for 'spin', the midpoint of the hips for 'hmr') is available to align on, as SPIN does.
    keypoints: the 2D source, decided over the files that hold selected samples. 'openpose': the files' stored
        'openpose_2d' detections (N, 137, 3), used as they are; 'detections': mmpose's 2D detection file beside
        each annotation file (``<stem>_2d_detection.npy``), mapped into the 'openpose_137' slots by joint name,
        scores as confidences (clipped at 0), no noise added; 'part': the exact 2D (the 17-joint 2D ground truth,
        or the 3D projected through cameras.pkl for a file without it; module docstring) mapped the same way, then
        the noise model ``noise`` (seeded by ``noise_seed``; no occlusion information); 'auto': 'openpose' when
        every such file has it, else 'detections' when every one has a detection file, else 'part'.
    noise: 'detector' | 'none' (module docstring, the rule of ``noise``): with 'none' the 2D is exact ('auto' and
        'part' read the exact 2D; 'openpose' and 'detections' are refused), ``info['keypoints2d']`` 'exact'.
    joint_order: the order of the files' 17-joint arrays ('mmpose', as the real mmpose files; 'spin'). A 24-joint
        file is SPIN's layout whatever this says.

    joints3d: camera frame, metres, as the files store them (absolute in mmpose's files, relative to the pelvis in
    SPIN's). smplx: the side file's bodies moved into each camera (``smplx_to_camera``) when ``smplx_gt.npz`` and
    cameras.pkl exist. A selection without samples is an empty set whose ``info['protocol']`` says which subjects
    were asked for and which the files hold.
    Faults (skipped, counted): a sample with fewer than 3 valid 3D joints; a sample with no 2D keypoint.
    """
    folder = Path(folder)
    annotations, cameras, _ = _read_tree(folder, joint_order, need_sequences=variant == "hmr")
    subjects = SPLITS[split]
    keeps = [select_protocol(ann.ids, protocol, variant, subjects=subjects) for _, ann in annotations]
    used = [(item, keep) for item, keep in zip(annotations, keeps, strict=True) if keep.any()]
    source, stored = _stored_2d(keypoints, noise, [item for item, _ in used], joint_order)
    exact_kinds: set[str] = set()  # how the exact 2D was formed ('part', 'projection'), for the protocol line
    skeleton = "h36m_17"
    id_keys = ("subject", "sequence", "action", "frame", "camera")
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("kp", "j3", "v3", "imgname", *id_keys)}
    faults = FaultLog()
    for ((path, ann), keep), given in zip(used, stored, strict=True):
        few = keep & (ann.valid_3d.sum(axis=1) < MIN_VALID_JOINTS)
        for i in np.flatnonzero(few):
            faults.skip(f"fewer than {MIN_VALID_JOINTS} valid 3D joints", f"{path.name}: S[{i}] {ann.imgname[i]}")
        keep = keep & ~few
        if given is not None:
            kp = given[keep]
        else:
            kp, kind = _exact_2d(path, ann, keep, cameras, noise)
            exact_kinds.add(kind)
        no_2d = ~(kp[..., 2] > 0).any(axis=1)
        kept_index = np.flatnonzero(keep)
        for i in kept_index[no_2d]:
            faults.skip("no 2D keypoint", f"{path.name}: {ann.imgname[i]}")
        keep[kept_index[no_2d]] = False
        parts["kp"].append(kp[~no_2d])
        parts["j3"].append(convert(ann.joints_3d[keep], _H36M17, skeleton)[0])
        parts["v3"].append(convert(ann.valid_3d[keep][..., None], _H36M17, skeleton)[0][..., 0])
        parts["imgname"].append(ann.imgname[keep])
        for key in id_keys:
            parts[key].append(getattr(ann.ids, key)[keep])
    empty = {"kp": np.zeros((0, len(_LAYOUT), 3)), "j3": np.zeros((0, len(_H36M17), 3)),
             "v3": np.zeros((0, len(_H36M17)), bool), "frame": np.zeros(0, np.int64)}  # fmt: skip
    cols = {k: np.concatenate(v) if v else empty.get(k, np.zeros(0, str)) for k, v in parts.items()}
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
    generated = read_synthetic_marker(folder) is not None
    exact_text = _EXACT_TEXT[tuple(sorted(exact_kinds))]
    two_d, label = {
        "openpose": (f"{OPENPOSE_KEY} (stored)", "simulated" if generated else "detections"),
        "detections": (f"mmpose *{DETECTION_SUFFIX}", "simulated" if generated else "detections"),
        "part": (f"{exact_text}->openpose_137 + noise={noise}", keypoints2d_label(noise)),
    }[source]
    camera_note = CAMERAS_FILE if cameras is not None else DEFAULT_CAMERAS
    scored = JOINT_SETS[joints]
    settings = (f"variant={variant} split={split} subjects={'+'.join(subjects)} joints={scored} "
                f"frame_step={FRAME_STEP} root={'+'.join(root)}")  # fmt: skip
    protocol_text = f"h36m {protocol} {settings} 2d={two_d} cameras={camera_note}"
    if used and all(ann.root_relative for (_, ann), _ in used):
        protocol_text += " 3d=root-relative"
    if not n:
        protocol_text += f" ({_empty_note(annotations, subjects) if not used else 'no samples: all skipped'})"
    info = {
        "protocol": protocol_text,
        "root_joints": root,
        "eval_joints": get_skeleton(JOINT_SETS[joints]).joints,
        "keypoints_source": source,
        "keypoints2d": label,
        "cameras": camera_note,
        "files": {str(path.name): _layout_note(ann) for (path, ann), _ in used},
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


def _h36m17_to_openpose(xy: np.ndarray, confidence: np.ndarray) -> np.ndarray:
    """(n, 137, 3): 'h36m_17' 2D points (n, 17, 2) with their confidence (n, 17) in the 'openpose_137' slots by
    joint name; (0, 0, 0) where the confidence is 0 and in the slots H36M lacks (eyes, ears, feet, hands, face)."""
    out, _ = convert(np.concatenate([xy, confidence[..., None]], axis=-1), _H36M17_AS_OPENPOSE, _LAYOUT)
    out[out[..., 2] <= 0] = 0.0
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
