"""Human3.6M file formats: mmpose's ``cameras.pkl``, SPIN/mmpose-style annotation ``.npz``, the sequence table
of ``metadata.xml``, H36M's own lens model (VideoPose3D's formula) and the evaluation protocols.

Units and frames are converted at the edge (PROTOCOLS.md, "Units and frames", "Human3.6M"):

- Readers return metres and the OpenCV camera convention ``x_cam = R X + t`` (``R`` world -> camera, ``t`` in
  metres) with intrinsics ``K`` (3 x 3); writers take those and write each file's own layout.
- ``cameras.pkl`` (mmpose ``tools/dataset_converters/preprocess_h36m.py::_get_camera_params``; mmpose's
  ``SimpleCamera`` documents R and T as camera-to-world) stores ``R`` camera -> world (the transpose of H36M's
  world -> camera rotation) and ``T`` the camera centre in world coordinates, **metres** (metadata.xml's mm / 1000).
  So ``R_ours = R_pkl^T`` and ``t = -R_pkl^T T``. The world frame is H36M's: z up, floor at z = 0. Checked on
  the real file: mapping the fixture's camera-frame joints to the world with ``X = R_pkl x + T`` puts the lowest
  joint of each of the four frames 3-9 cm above the floor and standing heads at 1.55-1.70 m; the other reading
  (``R_pkl`` world -> camera) puts feet 0.02-1.15 m high and heads below the floor.
- Lens: H36M's radial ``k`` (3,) and tangential ``p`` (2,) are kept as stored (metadata.xml's order, = mmpose's
  pkl). The model is not OpenCV's; see :func:`project_h36m`. VideoPose3D's ``tangential_distortion`` is ``p``
  reversed (``[p[1], p[0]]``); applying VideoPose3D's formula to ``p`` in stored order is 0.18 px off on the
  fixture.
- Annotation ``.npz`` (mmpose ``preprocess_h36m.py::generate_annotations``, SPIN ``datasets/preprocess/h36m.py``):
  ``imgname`` (N,), ``S`` (N, J, 4) camera-frame 3D in metres + confidence, ``part`` (N, J, 3) pixels +
  confidence, ``center`` (N, 2) pixels, ``scale`` (N,) = box size / 200 px. mmpose's 3D is absolute; SPIN's is
  root-relative. Readers return joints in the 'h36m_17' order of ``bench.body.skeletons`` (SPIN's). The layout is told
  by the joint count J: 17 joints in the order of the ``joint_order`` argument (``JOINT_ORDERS``: mmpose's, right
  leg first, or SPIN's); 24 joints in SPIN's ground-truth superset (``SPIN_24``; nkolot/SPIN ``constants.py``
  ``JOINT_NAMES[25:]``, filled by ``datasets/preprocess/h36m.py`` at ``global_idx``), mapped by name. SPIN's own
  files (``h36m_valid_protocol1.npz``, ``h36m_train.npz``) are this 24-joint layout; the validation files have no
  ``part``.
- mmpose's 2D detections (``Human36mDataset(keypoint_2d_src='detection', keypoint_2d_det_file=...)``): a ``.npy``
  of shape (N, 17, 3) = x, y (pixels), score, one row per row of the annotation file it belongs to, joints in that
  file's 17-joint order. Found beside the annotation file by name (:func:`detection_file`).
- Units (PROTOCOLS.md "Units and frames": H36M 3D arrives in millimetres raw, metres in the npz files): a file's
  3D is refused unless its median bone length (``BONE_RANGE_M``) is that of a body in metres, its 2D (``part``,
  detections) unless the median 2D bone is at least ``MIN_BONE_PX`` pixels, and cameras.pkl's ``T`` unless the
  camera centre is within ``CAMERA_CENTRE_MAX_M`` of the world origin; the message names the file, the field,
  the measured value and the unit expected.

Every reader error (missing or unreadable file, missing key, wrong shape, NaN/inf, unparseable image name) raises
:class:`bench.errors.DataFileError` naming the file and the field.
"""

from __future__ import annotations

import os
import pickle
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.body.skeletons import Skeleton, convert, get_skeleton
from bench.errors import DataFileError
from bench.npzio import read_npz, write_npz

__all__ = [
    "ANNOTATIONS_DIR",
    "BONE_RANGE_M",
    "CAMERAS_FILE",
    "CAMERA_CENTRE_MAX_M",
    "MIN_BONE_PX",
    "DETECTION_SUFFIX",
    "CAMERA_IDS",
    "FRAME_STEP",
    "FRONTAL_CAMERA",
    "HMR_EXCLUDED_SEQUENCE",
    "JOINT_ORDERS",
    "METADATA_FILE",
    "OPENPOSE_KEY",
    "PROTOCOLS",
    "SMPLX_GT_FILE",
    "SPIN_24",
    "SPIN_RAW32_TO_17",
    "TEST_SUBJECTS",
    "TRAIN_SUBJECTS",
    "VARIANTS",
    "check_metres",
    "check_pixels",
    "H36MAnnotations",
    "H36MCamera",
    "H36MIds",
    "detection_file",
    "h36m17_from_raw32",
    "parse_imgnames",
    "project_h36m",
    "read_annotations",
    "read_cameras",
    "read_detections",
    "read_sequences",
    "select_protocol",
    "write_annotations",
    "write_cameras",
    "write_sequences",
]

# Files of a Human3.6M data root as hmrbench reads it (``<root>/h36m/``; see datasets/h36m/adapter.py).
ANNOTATIONS_DIR = "annotations"  # every *.npz in it is an annotation file (mmpose/SPIN layout)
CAMERAS_FILE = "cameras.pkl"
METADATA_FILE = "metadata.xml"
SMPLX_GT_FILE = "smplx_gt.npz"  # synthetic trees only: ground-truth SMPL-X, world frame
OPENPOSE_KEY = "openpose_2d"  # optional annotation key: (N, 137, 3) detections, 'openpose_137' layout, pixels
DETECTION_SUFFIX = "_2d_detection.npy"  # mmpose's 2D detections beside an annotation file (detection_file)

TRAIN_SUBJECTS = ("S1", "S5", "S6", "S7", "S8")
TEST_SUBJECTS = ("S9", "S11")
CAMERA_IDS = ("54138969", "55011271", "58860488", "60457274")  # metadata.xml dbcameras/index2id order
FRONTAL_CAMERA = CAMERA_IDS[3]  # SPIN's P2 camera; HMR's "camera index 3"
FRAME_STEP = 5  # 50 fps -> 10 fps: frames 0, 5, 10, ... (imgname numbers 1, 6, 11, ...)

# Raw 32 -> 'h36m_17' (SPIN's order), nkolot/SPIN:datasets/preprocess/h36m.py::h36m_idx. Raw joints 11 and 24
# coincide with 0 and 13 (zero-length bones), so this equals mmpose's selection up to the order of the legs.
SPIN_RAW32_TO_17 = (11, 6, 7, 8, 1, 2, 3, 12, 24, 14, 15, 17, 18, 19, 25, 26, 27)
NUM_RAW_JOINTS = 32

# HMR (akanazawa/hmr:src/benchmark/evaluate_h36m.py) drops (11, 'Directions', 1, 0) for a corrupt video; its
# trial and camera indices are 0-based, so this is metadata.xml subaction 2 of S11 Directions (file
# 'Directions.54138969'), camera 54138969: (subject, action, subaction, camera).
HMR_EXCLUDED_SEQUENCE = ("S11", "Directions", 2, CAMERA_IDS[0])

PROTOCOLS = ("p1", "p2")
VARIANTS = ("spin", "hmr")

_H36M17 = get_skeleton("h36m_17")
NUM_JOINTS = len(_H36M17)
# mmpose's preprocess_h36m.py order (its ``movable_joints``): as 'h36m_17' but the right leg first. Checked on
# the fixture: with these names the nose-side point (h36m_head) lies in front of the body in all four frames.
_MMPOSE_H36M17 = Skeleton(
    "h36m_17_mmpose",
    ("pelvis", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
     "h36m_spine", "thorax", "h36m_head", "head_top",
     "left_shoulder", "left_elbow", "left_wrist", "right_shoulder", "right_elbow", "right_wrist"),
    parents=None,
)  # fmt: skip
JOINT_ORDERS = {"mmpose": _MMPOSE_H36M17, "spin": _H36M17}
# SPIN's 24 ground-truth joints (nkolot/SPIN constants.py JOINT_NAMES[25:]), under the 'h36m_17' names where
# SPIN's H36M preprocessing puts an H36M joint: its global_idx [14, 3, 4, 5, 2, 1, 0, 16, 12, 17, 18, 9, 10, 11,
# 8, 7, 6] sends 'h36m_17' joint i to slot global_idx[i] (so H36M's thorax is SPIN's 'Neck (LSP)', its head
# 'Jaw (H36M)' and its head top 'Head (H36M)'). mmpose's old Body3DH36MDataset read the same slots
# (JOINT_IDX_GLOBAL, right leg first). The other slots (LSP head top, MPII thorax, nose, eyes, ears) stay
# zero in H36M files and are not read.
SPIN_24 = Skeleton(
    "spin_24",
    ("right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
     "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow", "left_wrist",
     "thorax", "spin_lsp_head_top", "pelvis", "spin_mpii_thorax", "h36m_spine", "h36m_head",
     "head_top", "spin_nose", "spin_left_eye", "spin_right_eye", "spin_left_ear", "spin_right_ear"),
    parents=None,
)  # fmt: skip
# Units (module docstring): the median length of the 'h36m_17' bones over a file's valid joints, in metres
# (the real files: ~0.25 m; millimetres give ~250, centimetres ~25); and H36M's cameras stand 4-6 m from the
# world origin (the real cameras.pkl), so a centre farther than 50 is not metres.
BONE_RANGE_M = (0.02, 2.0)
CAMERA_CENTRE_MAX_M = 50.0
# 2D is pixels: a body's median 2D bone is tens of pixels in H36M's 1000 px images (the real file: 40-60 px);
# under 2 is normalised or metric coordinates, which mmpose's pipelines (not its files) use.
MIN_BONE_PX = 2.0
_TYPICAL_BONE_M = 0.25

# File-name action words -> metadata.xml action names (used when no metadata.xml is given).
_ACTION_ALIASES = {"Photo": "TakingPhoto", "WalkDog": "WalkingDog", "WalkTogether": "WalkingTogether",
                   "_ALL": "Miscellaneous"}  # fmt: skip
_ALL_ACTION = "Miscellaneous"  # the '_ALL' sequences, skipped by SPIN and mmpose
_IMGNAME = re.compile(r"(?P<subject>S\d+)_(?P<sequence>.+)\.(?P<camera>\d+)_(?P<frame>\d+)\.jpg")
_R_TOLERANCE = 1e-6  # |R R^T - I| allowed in a calibration file (the real file: ~3e-16)


# --- cameras -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class H36MCamera:
    """One calibrated H36M camera, OpenCV extrinsics convention.

    Attributes:
        id: camera id, one of ``CAMERA_IDS``.
        R: (3, 3) rotation world -> camera: ``x_cam = R X + t``.
        t: (3,) translation, metres (world: H36M's, z up, floor at z = 0).
        K: (3, 3) intrinsics ``[[fx, 0, cx], [0, fy, cy], [0, 0, 1]]``, pixels.
        k: (3,) radial coefficients of ``r^2, r^4, r^6``, H36M's stored order.
        p: (2,) tangential coefficients, H36M's stored order (VideoPose3D's ``tangential_distortion`` = ``p[::-1]``).
        width, height: image size, pixels.
        name: mmpose's label ('camera1'..'camera4').
    """

    id: str
    R: np.ndarray
    t: np.ndarray
    K: np.ndarray
    k: np.ndarray
    p: np.ndarray
    width: int
    height: int
    name: str = ""

    @property
    def center(self) -> np.ndarray:
        """(3,) camera centre in world coordinates, metres: ``-R^T t``."""
        return -self.R.T @ self.t


class _NumpyUnpickler(pickle.Unpickler):
    """Unpickles builtins and numpy arrays only: a calibration file must not run code."""

    _ALLOWED = {
        ("numpy", "ndarray"), ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    }  # fmt: skip

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} (only numpy arrays are allowed)")
        return super().find_class(module, name)


def _array(value: Any, shape: tuple[int, ...], where: str, *, alt: tuple[int, ...] | None = None) -> np.ndarray:
    """float64 copy of ``value`` with ``shape`` (or ``alt``, reshaped), finite; DataFileError naming ``where``."""
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataFileError(f"{where}: expected a numeric array, got {type(value).__name__}") from None
    if arr.shape != shape and arr.shape != alt:
        expected = "x".join(map(str, shape))
        raise DataFileError(f"{where}: expected {expected}, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise DataFileError(f"{where}: contains NaN or inf")
    return arr.reshape(shape)


def _camera_from_pkl(entry: Any, key: tuple[str, str], where: str) -> H36MCamera:
    if not isinstance(entry, Mapping):
        raise DataFileError(f"{where}: expected a dict of camera parameters, got {type(entry).__name__}")
    for field in ("R", "T", "f", "c", "k", "p", "w", "h"):
        if field not in entry:
            raise DataFileError(f"{where}.{field}: missing")
    R_c2w = _array(entry["R"], (3, 3), f"{where}.R")
    deviation = np.abs(R_c2w @ R_c2w.T - np.eye(3)).max()
    if deviation > _R_TOLERANCE or np.linalg.det(R_c2w) < 0:
        raise DataFileError(
            f"{where}.R: not a rotation (max |R R^T - I| = {deviation:.2e}, det {np.linalg.det(R_c2w):.3f})"
        )
    centre = _array(entry["T"], (3, 1), f"{where}.T", alt=(3,))[:, 0]
    distance = float(np.linalg.norm(centre))
    if distance > CAMERA_CENTRE_MAX_M:
        raise DataFileError(
            f"{where}.T: camera centre {distance:.4g} from the world origin; expected metres (at most "
            f"{CAMERA_CENTRE_MAX_M:g}; H36M's cameras stand 4-6 m away){_unit_hint(distance / 5.0)}"
        )
    f = _array(entry["f"], (2, 1), f"{where}.f", alt=(2,))[:, 0]
    c = _array(entry["c"], (2, 1), f"{where}.c", alt=(2,))[:, 0]
    k = _array(entry["k"], (3, 1), f"{where}.k", alt=(3,))[:, 0]
    p = _array(entry["p"], (2, 1), f"{where}.p", alt=(2,))[:, 0]
    size = {}
    for field in ("w", "h"):
        value = entry[field]
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
            raise DataFileError(f"{where}.{field}: expected a positive integer, got {value!r}")
        size[field] = int(value)
    camera_id = str(entry.get("id", key[1]))
    if camera_id != key[1]:
        raise DataFileError(f"{where}.id: {camera_id!r} differs from the key's camera {key[1]!r}")
    R = R_c2w.T
    K = np.array([[f[0], 0.0, c[0]], [0.0, f[1], c[1]], [0.0, 0.0, 1.0]])
    return H36MCamera(camera_id, R, -R @ centre, K, k, p, size["w"], size["h"], str(entry.get("name", "")))


def read_cameras(path: str | Path) -> dict[tuple[str, str], H36MCamera]:
    """Read mmpose's ``cameras.pkl``: ``{(subject, camera_id): {R, T, f, c, k, p, w, h, name, id}}``.

    Returns ``{(subject, camera_id): H36MCamera}`` in the OpenCV convention (module docstring): ``R`` world ->
    camera, ``t`` metres.
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            data = _NumpyUnpickler(fh).load()
    except Exception as exc:  # OS, truncation and format errors all mean the same to the user
        raise DataFileError(f"{path}: cannot read camera pickle: {type(exc).__name__}: {exc}") from None
    if not isinstance(data, Mapping):
        raise DataFileError(f"{path}: expected a dict keyed by (subject, camera id), got {type(data).__name__}")
    cameras = {}
    for key, entry in data.items():
        if not (isinstance(key, tuple) and len(key) == 2 and all(isinstance(s, str) for s in key)):
            raise DataFileError(f"{path}: key {key!r}: expected a (subject, camera id) pair of strings")
        cameras[key] = _camera_from_pkl(entry, key, f"{path}: {key!r}")
    return cameras


def write_cameras(path: str | Path, cameras: Mapping[tuple[str, str], H36MCamera]) -> None:
    """Write ``cameras`` as mmpose's ``cameras.pkl`` (R camera -> world, T camera centre in metres, (n, 1) arrays).

    Raises ValueError for a camera whose ``K`` has skew or a non-unit last row (not representable as f, c).
    """
    out = {}
    for key, cam in cameras.items():
        K = np.asarray(cam.K, dtype=np.float64)
        if K.shape != (3, 3) or K[0, 1] != 0 or K[1, 0] != 0 or not np.array_equal(K[2], [0.0, 0.0, 1.0]):
            raise ValueError(f"camera {key!r}: K must be [[fx, 0, cx], [0, fy, cy], [0, 0, 1]], got {K.tolist()}")
        R = np.asarray(cam.R, dtype=np.float64)
        out[tuple(key)] = {
            "R": R.T.copy(),
            "T": cam.center.reshape(3, 1),
            "c": K[:2, 2].reshape(2, 1).copy(),
            "f": np.diag(K)[:2].reshape(2, 1).copy(),
            "k": np.asarray(cam.k, dtype=np.float64).reshape(3, 1),
            "p": np.asarray(cam.p, dtype=np.float64).reshape(2, 1),
            "w": int(cam.width),
            "h": int(cam.height),
            "name": cam.name,
            "id": cam.id,
        }
    with open(path, "wb") as fh:
        pickle.dump(out, fh)


def project_h36m(points_cam: np.ndarray, camera: H36MCamera) -> np.ndarray:
    """Project camera-frame points with H36M's lens model (VideoPose3D ``common/camera.py::project_to_2d``).

    points_cam: (..., 3), camera frame (OpenCV axes), metres (any unit: only ratios are used).
    Returns (..., 2), pixels. With ``x = X/Z, y = Y/Z``, ``r2 = x^2 + y^2`` and ``(q1, q2) = (p[1], p[0])``
    (VideoPose3D's order)::

        radial = 1 + k0 r2 + k1 r2^2 + k2 r2^3,   tan = q1 x + q2 y
        x_d = x (radial + tan) + q1 r2,           y_d = y (radial + tan) + q2 r2
        u = fx x_d + cx,                          v = fy y_d + cy

    This reproduces H36M's official 2D to ~3e-5 px (OpenCV's model: ~0.19 px off). Unlike VideoPose3D,
    ``x, y`` are not clamped to [-1, 1] (that only changes points far outside the image).
    """
    points = np.asarray(points_cam, dtype=np.float64)
    if points.ndim < 1 or points.shape[-1] != 3:
        raise ValueError(f"points_cam: expected (..., 3), got {points.shape}")
    xy = points[..., :2] / points[..., 2:]
    r2 = np.sum(xy**2, axis=-1, keepdims=True)
    k = np.asarray(camera.k, dtype=np.float64)
    q = np.asarray(camera.p, dtype=np.float64)[::-1]
    radial = 1.0 + k[0] * r2 + k[1] * r2**2 + k[2] * r2**3
    tan = np.sum(q * xy, axis=-1, keepdims=True)
    distorted = xy * (radial + tan) + q * r2
    K = np.asarray(camera.K, dtype=np.float64)
    return distorted * np.diag(K)[:2] + K[:2, 2]


# --- ids and sequences ---------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class H36MIds:
    """Per-sample ids parsed from image names, (N,) arrays each.

    Attributes:
        subject: 'S1'..'S11'.
        sequence: the video's sequence name as in metadata.xml, e.g. 'Directions 1', 'WalkDog' (underscore of
            the image name turned back into a space).
        action: metadata.xml's action name, e.g. 'Directions', 'TakingPhoto', 'WalkingDog'.
        subaction: int64, metadata.xml's subaction (1 or 2, HMR's 0-based "trial" + 1); 0 where unknown (no
            sequence table given: the number in a file name is NOT the subaction, e.g. S1 'Eating 2' is 1).
        camera: camera id, one of ``CAMERA_IDS``.
        frame: int64, 0-based video frame index (the image name's number - 1).
    """

    subject: np.ndarray
    sequence: np.ndarray
    action: np.ndarray
    subaction: np.ndarray
    camera: np.ndarray
    frame: np.ndarray

    def __len__(self) -> int:
        return len(self.subject)


def read_sequences(path: str | Path) -> dict[tuple[str, str], tuple[str, int]]:
    """Read the sequence table of H36M's ``metadata.xml``: ``{(subject, sequence): (action, subaction)}``.

    ``sequence`` is the video name stem ('Directions 1'); ``action`` comes from ``<actionnames>`` ('Directions');
    ``subaction`` is 1 or 2.
    """
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as exc:
        raise DataFileError(f"{path}: cannot read metadata XML: {exc}") from None
    mapping, names = root.find("mapping"), root.find("actionnames")
    if mapping is None or names is None:
        raise DataFileError(f"{path}: {'mapping' if mapping is None else 'actionnames'}: missing")
    actions = [(elem.text or "").strip() for elem in names]
    rows = [[(td.text or "").strip() for td in tr] for tr in mapping]
    if not rows or rows[0][:2] != ["Action", "subaction"]:
        raise DataFileError(f"{path}: mapping: expected a header row 'Action, subaction, S1, ...'")
    subjects = rows[0][2:]
    table = {}
    for row in rows[1:]:
        if not (len(row) >= 2 and row[0].isdigit() and row[1].isdigit()):
            continue  # the trailing rows hold subject names and image sizes
        action_id, subaction = int(row[0]), int(row[1])
        if not 1 <= action_id <= len(actions) or len(row) != len(subjects) + 2:
            raise DataFileError(f"{path}: mapping: row {row[:2]}: action id or column count out of range")
        for subject, sequence in zip(subjects, row[2:], strict=True):
            table[(subject, sequence)] = (actions[action_id - 1], subaction)
    return table


def write_sequences(path: str | Path, table: Mapping[tuple[str, str], tuple[str, int]], actions: Sequence[str]) -> None:
    """Write a minimal ``metadata.xml`` holding the parts :func:`read_sequences` reads: ``<mapping>`` (a header
    row 'Action, subaction, <subjects...>' and one row per (action id, subaction) with each subject's sequence
    name) and ``<actionnames>`` (``actions``, 1-based ids in this order, as the real file's list that starts with
    'Miscellaneous').

    table: ``{(subject, sequence): (action, subaction)}``; every subject must have exactly one sequence per
    (action, subaction) row that any subject has (the real file's grid). ValueError otherwise.
    """
    subjects = sorted({s for s, _ in table}, key=lambda s: (len(s), s))
    cells: dict[tuple[int, int], dict[str, str]] = {}
    for (subject, sequence), (action, subaction) in table.items():
        if action not in actions:
            raise ValueError(f"table: action {action!r} of {(subject, sequence)} not in actions")
        row = cells.setdefault((list(actions).index(action) + 1, int(subaction)), {})
        if subject in row:
            raise ValueError(f"table: two sequences of {subject} for {(action, subaction)}")
        row[subject] = sequence
    root = ET.Element("a")
    mapping = ET.SubElement(root, "mapping")

    def add_row(values: Sequence[str]) -> None:
        tr = ET.SubElement(mapping, "tr")
        for value in values:
            ET.SubElement(tr, "td").text = value

    add_row(["Action", "subaction", *subjects])
    for (action_id, subaction), row in sorted(cells.items()):
        missing = [s for s in subjects if s not in row]
        if missing:
            raise ValueError(f"table: no sequence of {missing} for {(actions[action_id - 1], subaction)}")
        add_row([str(action_id), str(subaction), *(row[s] for s in subjects)])
    names = ET.SubElement(root, "actionnames")
    for action in actions:
        ET.SubElement(names, "item").text = action
    ET.indent(root, space="   ")
    Path(path).write_bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n")


def _action_from_sequence(sequence: str) -> str:
    word = re.sub(r" \d+$", "", sequence)
    return _ACTION_ALIASES.get(word, word)


def parse_imgnames(
    imgnames: Sequence[str] | np.ndarray,
    sequences: Mapping[tuple[str, str], tuple[str, int]] | None = None,
    *,
    source: str = "imgname",
) -> H36MIds:
    """Parse ids from image names like 'S1_Directions_1.54138969_000001.jpg' (any folder prefix, as in mmpose's
    'S1/S1_Directions_1.54138969/...' or SPIN's 'images/...').

    sequences: the table of :func:`read_sequences`; without it ``subaction`` is 0 and ``action`` comes from the
        file name (mapped to metadata.xml's action names).
    source: the file named in errors. Raises DataFileError naming ``source`` and the image name when a name does
    not parse or its sequence is missing from ``sequences``.
    """
    fields: dict[str, list[Any]] = {f: [] for f in ("subject", "sequence", "action", "subaction", "camera", "frame")}
    for i, name in enumerate(imgnames):
        match = _IMGNAME.fullmatch(str(name).replace("\\", "/").rsplit("/", 1)[-1])
        if match is None:
            raise DataFileError(
                f"{source}: imgname[{i}] {str(name)!r}: expected '<subject>_<sequence>.<camera id>_<frame>.jpg', "
                "e.g. 'S1_Directions_1.54138969_000001.jpg'"
            )
        subject = match["subject"]
        sequence = re.sub(r"_(\d+)$", r" \1", match["sequence"])
        if sequences is None:
            action, subaction = _action_from_sequence(sequence), 0
        elif (subject, sequence) in sequences:
            action, subaction = sequences[(subject, sequence)]
        else:
            raise DataFileError(f"{source}: imgname[{i}] {str(name)!r}: sequence {(subject, sequence)} not in metadata")
        for key, value in zip(
            fields, (subject, sequence, action, subaction, match["camera"], int(match["frame"]) - 1), strict=True
        ):
            fields[key].append(value)
    return H36MIds(
        subject=np.array(fields["subject"], dtype=str),
        sequence=np.array(fields["sequence"], dtype=str),
        action=np.array(fields["action"], dtype=str),
        subaction=np.array(fields["subaction"], dtype=np.int64),
        camera=np.array(fields["camera"], dtype=str),
        frame=np.array(fields["frame"], dtype=np.int64),
    )


def select_protocol(
    ids: H36MIds,
    protocol: str = "p1",
    variant: str = "spin",
    *,
    subjects: Sequence[str] = TEST_SUBJECTS,
    frame_step: int = FRAME_STEP,
) -> np.ndarray:
    """Boolean (N,) mask of the samples an evaluation protocol keeps.

    Common to all: subject in ``subjects`` (the test subjects S9, S11), ``frame % frame_step == 0`` (every 5th
    frame, 0-based), no '_ALL' sequence.

    - 'spin' (nkolot/SPIN datasets/preprocess/h36m.py): P1 = all 4 cameras; P2 = camera 60457274, all subactions.
    - 'hmr' (akanazawa/hmr src/benchmark/evaluate_h36m.py): P1 = all cameras and subactions; P2 = subaction 1
      (HMR's trial 0) and camera index 3 (60457274); both drop ``HMR_EXCLUDED_SEQUENCE``. Needs the subactions:
      parse with ``sequences=read_sequences(metadata.xml)``, else ValueError.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; valid protocols: {', '.join(PROTOCOLS)}")
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; valid variants: {', '.join(VARIANTS)}")
    if frame_step < 1:
        raise ValueError(f"frame_step must be >= 1, got {frame_step}")
    keep = np.isin(ids.subject, list(subjects)) & (ids.frame % frame_step == 0) & (ids.action != _ALL_ACTION)
    keep &= np.isin(ids.camera, CAMERA_IDS)
    if variant == "spin":
        return keep & (ids.camera == FRONTAL_CAMERA) if protocol == "p2" else keep
    if np.any(keep & (ids.subaction == 0)):
        raise ValueError(
            "the HMR protocol needs subaction ids: parse the image names with sequences=read_sequences(metadata.xml)"
        )
    subject, action, subaction, camera = HMR_EXCLUDED_SEQUENCE
    excluded = (ids.subject == subject) & (ids.action == action) & (ids.subaction == subaction) & (ids.camera == camera)
    keep &= ~excluded
    if protocol == "p2":
        keep &= (ids.subaction == 1) & (ids.camera == FRONTAL_CAMERA)
    return keep


def h36m17_from_raw32(points: np.ndarray) -> np.ndarray:
    """Select the 'h36m_17' joints from H36M's raw 32 (``D3_Positions*`` / ``D2_Positions`` order).

    points: (..., 32, C). Returns (..., 17, C), SPIN's selection ``SPIN_RAW32_TO_17``; units unchanged.
    """
    points = np.asarray(points)
    if points.ndim < 2 or points.shape[-2] != NUM_RAW_JOINTS:
        raise ValueError(f"points: expected (..., {NUM_RAW_JOINTS}, C), got {points.shape}")
    return points[..., SPIN_RAW32_TO_17, :]


# --- annotations ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class H36MAnnotations:
    """SPIN/mmpose-style annotations, joints in the 'h36m_17' order.

    Attributes:
        imgname: (N,) str, image names as stored.
        joints_3d: (N, 17, 3) float64, camera frame (OpenCV axes), metres; absolute (mmpose) or root-relative (SPIN).
        valid_3d: (N, 17) bool, the file's confidence > 0 (all True when the file has none).
        joints_2d: (N, 17, 2) float64 pixels, or None.
        valid_2d: (N, 17) bool, or None with ``joints_2d``.
        center: (N, 2) float64 box centre, pixels, or None.
        scale: (N,) float64 box size / 200 px, or None.
        ids: parsed from ``imgname`` (:func:`parse_imgnames`).
        layout: the file's joint layout ('h36m_17_mmpose', 'h36m_17' or 'spin_24'; module docstring).
    """

    imgname: np.ndarray
    joints_3d: np.ndarray
    valid_3d: np.ndarray
    joints_2d: np.ndarray | None
    valid_2d: np.ndarray | None
    center: np.ndarray | None
    scale: np.ndarray | None
    ids: H36MIds
    layout: str = "h36m_17"

    def __len__(self) -> int:
        return len(self.imgname)

    @property
    def root_relative(self) -> bool:
        """True when every valid pelvis is at the origin (SPIN's files: 3D relative to the pelvis)."""
        pelvis = self.joints_3d[self.valid_3d[:, 0], 0]
        return bool(len(pelvis)) and bool(np.abs(pelvis).max() < 1e-9)


def _joint_order(joint_order: str) -> Skeleton:
    try:
        return JOINT_ORDERS[joint_order]
    except KeyError:
        raise ValueError(f"unknown joint order {joint_order!r}; valid orders: {', '.join(JOINT_ORDERS)}") from None


def _unit_hint(ratio: float) -> str:
    """What a value ``ratio`` times its expected size in metres suggests about the file's unit."""
    if 300 <= ratio <= 3000:
        return ": this looks like millimetres (divide by 1000)"
    if 30 <= ratio < 300:
        return ": this looks like centimetres (divide by 100)"
    return ""


def check_metres(joints: np.ndarray, valid: np.ndarray, where: str) -> None:
    """DataFileError naming ``where`` unless ``joints`` (N, 17, 3) in 'h36m_17' order are a body in metres: the
    median bone length over the valid joints within ``BONE_RANGE_M`` (module docstring). No valid bone: no check."""
    median = _median_bone(joints, valid)
    low, high = BONE_RANGE_M
    if median is not None and not low <= median <= high:
        raise DataFileError(
            f"{where}: median bone length {median:.4g} in the file's unit; expected metres ({low:g}-{high:g}, "
            f"a body's bones are ~{_TYPICAL_BONE_M:g} m){_unit_hint(median / _TYPICAL_BONE_M)}"
        )


def _median_bone(points: np.ndarray, valid: np.ndarray) -> float | None:
    """Median length of the 'h36m_17' bones whose two joints are valid, over all samples; None without one."""
    parents = np.asarray(_H36M17.parents)
    child = np.flatnonzero(parents >= 0)
    ok = valid[:, child] & valid[:, parents[child]]
    if not ok.any():
        return None
    return float(np.median(np.linalg.norm(points[:, child] - points[:, parents[child]], axis=-1)[ok]))


def check_pixels(points: np.ndarray, valid: np.ndarray, where: str) -> None:
    """DataFileError naming ``where`` unless 2D ``points`` (N, 17, 2) in 'h36m_17' order are pixels: a median bone
    of at least ``MIN_BONE_PX`` over the valid joints (module docstring). No valid bone: no check."""
    median = _median_bone(points, valid)
    if median is not None and median < MIN_BONE_PX:
        raise DataFileError(
            f"{where}: median 2D bone length {median:.4g} in the file's unit; expected pixels (at least "
            f"{MIN_BONE_PX:g}; a body's bones are tens of pixels): normalised coordinates are not read"
        )


def _to_h36m17(
    arr: np.ndarray, key: str, n: int, dims: tuple[int, int], where: Path, order: Skeleton
) -> tuple[np.ndarray, np.ndarray, Skeleton]:
    """(coordinates in 'h36m_17' order, validity, the file's layout) of a (N, J, C) array: J = 17 in ``order``
    or 24 in ``SPIN_24`` (module docstring), C = ``dims[0]`` or ``dims[1]`` (+ confidence)."""
    layouts = {NUM_JOINTS: order, len(SPIN_24): SPIN_24}
    if (
        arr.ndim != 3 or arr.shape[0] != n or arr.shape[1] not in layouts or arr.shape[2] not in dims
        or arr.dtype.kind not in "iuf"
    ):  # fmt: skip
        raise DataFileError(
            f"{where}: {key}: expected (N, {NUM_JOINTS} or {len(SPIN_24)}, {dims[0]} or {dims[1]}) numbers with "
            f"N = {n} from imgname, got {arr.shape} {arr.dtype}"
        )
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        sample = int(np.argwhere(~np.isfinite(arr))[0, 0])
        raise DataFileError(f"{where}: {key}: contains NaN or inf (sample {sample})")
    layout = layouts[arr.shape[1]]
    arr, _ = convert(arr, layout, _H36M17)
    coords = arr[..., : dims[0]]
    valid = arr[..., dims[0]] > 0 if arr.shape[-1] == dims[1] else np.ones(arr.shape[:2], dtype=bool)
    return coords, valid, layout


def _keypoints(
    npz: Mapping[str, np.ndarray], keys: tuple[str, ...], n: int, dims: tuple[int, int], where: Path, order: Skeleton
) -> tuple[np.ndarray, np.ndarray, Skeleton, str] | None:
    """(coordinates in 'h36m_17' order, validity, layout, key) from the first of ``keys`` present, or None."""
    key = next((k for k in keys if k in npz), None)
    if key is None:
        return None
    return (*_to_h36m17(npz[key], key, n, dims, where, order), key)


def _optional(npz: Mapping[str, np.ndarray], key: str, shape: tuple[int, ...], where: Path) -> np.ndarray | None:
    if key not in npz:
        return None
    arr = npz[key]
    if arr.shape != shape or arr.dtype.kind not in "iuf":
        raise DataFileError(f"{where}: {key}: expected {shape} numbers, got {arr.shape} {arr.dtype}")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise DataFileError(f"{where}: {key}: contains NaN or inf")
    return arr


def read_annotations(
    path: str | Path,
    *,
    joint_order: str = "mmpose",
    sequences: Mapping[tuple[str, str], tuple[str, int]] | None = None,
) -> H36MAnnotations:
    """Read a SPIN/mmpose-style H36M annotation ``.npz`` (module docstring).

    Keys: ``imgname`` (N,); 3D ``S`` or ``joints_3d`` (N, 17 or 24, 3 or 4), metres (+ confidence); optional 2D
    ``part`` or ``joints_2d`` (N, 17 or 24, 2 or 3), pixels (+ confidence); optional ``center`` (N, 2), ``scale``
    (N,). Other keys (SPIN's ``pose``, ``shape``, ...) are ignored.
    joint_order: the order of a 17-joint array, a key of ``JOINT_ORDERS`` ('mmpose': mmpose's preprocess_h36m.py,
        right leg first, as the fixture; 'spin': 'h36m_17'). A 24-joint array is SPIN's ``SPIN_24`` whatever
        ``joint_order`` says. The result is always in 'h36m_17' order.
    sequences: metadata.xml's table (:func:`read_sequences`) to fill ``ids.subaction``.
    The 3D must be metres (:func:`check_metres`).
    """
    order = _joint_order(joint_order)
    path = Path(path)
    data = read_npz(path, "H36M annotation npz")
    if "imgname" not in data:
        raise DataFileError(f"{path}: imgname: missing")
    imgname = data["imgname"]
    if imgname.ndim != 1 or imgname.dtype.kind not in "US":
        raise DataFileError(f"{path}: imgname: expected (N,) strings, got {imgname.shape} {imgname.dtype}")
    imgname = imgname.astype(str)
    n = len(imgname)
    joints_3d = _keypoints(data, ("S", "joints_3d"), n, (3, 4), path, order)
    if joints_3d is None:
        raise DataFileError(f"{path}: S: missing (3D joints are read from 'S' or 'joints_3d')")
    check_metres(joints_3d[0], joints_3d[1], f"{path}: {joints_3d[3]}")
    joints_2d = _keypoints(data, ("part", "joints_2d"), n, (2, 3), path, order)
    if joints_2d is not None:
        check_pixels(joints_2d[0], joints_2d[1], f"{path}: {joints_2d[3]}")
    return H36MAnnotations(
        imgname=imgname,
        joints_3d=joints_3d[0],
        valid_3d=joints_3d[1],
        joints_2d=None if joints_2d is None else joints_2d[0],
        valid_2d=None if joints_2d is None else joints_2d[1],
        center=_optional(data, "center", (n, 2), path),
        scale=_optional(data, "scale", (n,), path),
        ids=parse_imgnames(imgname, sequences, source=str(path)),
        layout=joints_3d[2].name,
    )


def detection_file(annotation: str | Path) -> Path | None:
    """mmpose's 2D detections of an annotation file, when there: ``<stem>_2d_detection.npy`` beside it, or for
    ``<name>_body3d.npz`` also ``<name>_2d_detection.npy`` (mmpose's own sample files: ``test_h36m_body3d.npz``
    and ``test_h36m_2d_detection.npy``). A path that exists but is no readable file is returned (and refused by
    :func:`read_detections`); None when there is none."""
    annotation = Path(annotation)
    stems = [annotation.stem] + ([annotation.stem[: -len("_body3d")]] if annotation.stem.endswith("_body3d") else [])
    for stem in stems:
        candidate = annotation.with_name(stem + DETECTION_SUFFIX)
        if os.path.lexists(candidate):
            return candidate
    return None


def read_detections(path: str | Path, n: int, *, joint_order: str = "mmpose") -> tuple[np.ndarray, np.ndarray]:
    """Read mmpose's 2D detections (module docstring): an (N, 17, 3) ``.npy`` of x, y (pixels) and score, one row
    per row of its annotation file (``n`` rows), joints in ``joint_order`` (a 24-joint array: ``SPIN_24``).

    Returns (xy (n, 17, 2), score (n, 17)) in 'h36m_17' order, score 0 where the detector gave none (a negative
    score counts as none). DataFileError naming the file and what is wrong.
    """
    order = _joint_order(joint_order)
    path = Path(path)
    try:
        arr = np.load(path, allow_pickle=False)
    except Exception as exc:  # OS, format and pickle errors all mean the same to the user
        raise DataFileError(f"{path}: cannot read mmpose 2D detection .npy: {type(exc).__name__}: {exc}") from None
    if not isinstance(arr, np.ndarray):
        arr.close()
        raise DataFileError(f"{path}: expected one .npy array of (N, 17, 3) detections, got an .npz archive")
    field = "keypoints (x, y, score)"
    xy, _, layout = _to_h36m17(arr, field, n, (2, 3), path, order)
    if arr.shape[-1] == 3:
        score = np.clip(convert(arr[..., 2:3].astype(np.float64), layout, _H36M17)[0][..., 0], 0.0, None)
    else:
        score = np.ones(xy.shape[:2])
    check_pixels(xy, score > 0, f"{path}: {field}")
    return xy, score


def write_annotations(
    path: str | Path,
    ann: H36MAnnotations,
    *,
    joint_order: str = "mmpose",
    extra: Mapping[str, np.ndarray] | None = None,
) -> None:
    """Write ``ann`` as an mmpose-style ``.npz``: ``imgname``, ``S`` (N, 17, 4) metres + validity (1/0), and
    ``part`` (N, 17, 3), ``center``, ``scale`` when present; joints in ``joint_order`` (see :func:`read_annotations`).

    extra: further arrays stored under their own keys (e.g. hmrbench's 'openpose_2d' (N, 137, 3) detections);
    readers that do not know them ignore them. ValueError if a key clashes with the standard ones.
    """
    order = _joint_order(joint_order)
    n = len(ann.imgname)

    def with_validity(coords: np.ndarray, valid: np.ndarray, dim: int, name: str) -> np.ndarray:
        coords = np.asarray(coords, dtype=np.float64)
        valid = np.asarray(valid, dtype=bool)
        if coords.shape != (n, NUM_JOINTS, dim) or valid.shape != (n, NUM_JOINTS):
            raise ValueError(
                f"{name}: expected ({n}, {NUM_JOINTS}, {dim}) with validity ({n}, {NUM_JOINTS}), "
                f"got {coords.shape} and {valid.shape}"
            )
        out, _ = convert(np.concatenate([coords, valid[..., None].astype(np.float64)], axis=-1), _H36M17, order)
        return out

    arrays = {
        "imgname": np.asarray(ann.imgname, dtype=str),
        "S": with_validity(ann.joints_3d, ann.valid_3d, 3, "joints_3d"),
    }
    if ann.joints_2d is not None:
        valid_2d = np.ones((n, NUM_JOINTS), dtype=bool) if ann.valid_2d is None else ann.valid_2d
        arrays["part"] = with_validity(ann.joints_2d, valid_2d, 2, "joints_2d")
    if ann.center is not None:
        arrays["center"] = np.asarray(ann.center, dtype=np.float64)
    if ann.scale is not None:
        arrays["scale"] = np.asarray(ann.scale, dtype=np.float64)
    for key, value in (extra or {}).items():
        if key in arrays or key in ("joints_3d", "joints_2d"):
            raise ValueError(f"extra: key {key!r} clashes with a standard annotation key")
        arrays[key] = np.asarray(value)
    write_npz(path, arrays)
