"""Stereo Hand Pose Tracking Benchmark (STB) file formats: ``handPara`` labels, evaluation boxes, cameras.

Units and frames are converted at the edge (PROTOCOLS.md, "Units and frames", "STB hand dataset"):

- ``labels/<seq>_{BB,SK}.mat`` hold ``handPara``, 3 x 21 x N in **millimetres**; readers return (N, 21, 3) in
  **metres**, writers take metres and write millimetres.
- ``_BB`` labels are in the left Bumblebee camera's frame; ``_SK`` labels in the RealSense (SK) **depth** camera's
  frame: :func:`sk_depth_to_colour` moves them into the SK colour camera's frame, ``colour = R^T (x - t)`` with
  ``R = Rodrigues(SK_DEPTH_TO_COLOUR_ROTVEC)`` (3d-hand-shape/hand-graph-cnn
  ``hand_shape_pose/data/dataset/STB_dataset.py::SK_xyz_depth2color``). All camera frames are OpenCV's.
- Joint order: the 'stb_21' skeleton of ``bench.body.skeletons`` (left hand: palm centre, then pinky, ring, middle,
  index, thumb, each MCP..tip). The palm centre is not the wrist: :func:`palm_to_wrist`.
- ``STB_eval_bboxes.mat`` (hand-graph-cnn ``data/``): ``bboxes`` (3000, 4) = ``[x, y, w, h]`` pixels in the SK
  colour images of the test sequences, in ``TEST_SEQUENCES`` order, 1500 frames each.

Every reader error raises :class:`bench.errors.DataFileError` naming the file, the field where there is one, and
the reason: not found, a directory, permission denied, empty, not a MAT file, truncated or damaged, missing key,
wrong shape, NaN/inf, or labels in the wrong unit (:func:`check_label_units`).

Unit check (labels only): the median bone length of the file's hands, in the file's own numbers, must lie in
``HAND_BONE_MM`` = [10, 200]; a hand's bones are ~20-100 mm, so labels in metres (median ~0.03) or centimetres
(~3) are refused, naming the measured value and the unit they look like.

hmrbench side files beside the real tree (not part of STB; ``datasets/stb/adapter.py`` reads them when present):

- ``openpose/<sequence>/<prefix>_<frame>_keypoints.json`` (:func:`openpose_path`): OpenPose JSON, exactly what
  ``openpose --image_dir <stb>/<sequence> --write_json openpose/<sequence>`` writes for the real images
  ``<sequence>/<prefix>_<frame>.png`` (prefix 'SK_color' or 'BB_left'; hand-graph-cnn ``STB_dataset.py`` reads the
  images as ``"%s_%d.png" % (image_prefix, image_id)``), frame = the label column, from 0.
- ``smplx_gt/<sequence>_<camera>.npz`` (:func:`smplx_gt_path`): ground-truth SMPL-X of synthetic trees
  (``datasets.synth.write_smplx_gt``); its world frame is that camera's colour frame.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import scipy.io
from scipy.spatial.transform import Rotation

from bench.body.skeletons import get_skeleton
from bench.errors import DataFileError

__all__ = [
    "BB_BASELINE_M",
    "BB_K",
    "CAMERAS",
    "FRAMES_PER_SEQUENCE",
    "PALM_CONVENTIONS",
    "SEQUENCES",
    "SK_COLOUR_K",
    "SK_COLOUR_SIZE",
    "SK_DEPTH_TO_COLOUR_ROTVEC",
    "SK_DEPTH_TO_COLOUR_T_M",
    "TEST_SEQUENCES",
    "TRAIN_SEQUENCES",
    "HAND_BONE_MM",
    "IMAGE_PREFIX",
    "check_label_units",
    "label_path",
    "openpose_path",
    "palm_to_wrist",
    "read_bboxes",
    "read_labels",
    "sk_colour_to_depth",
    "smplx_gt_path",
    "sk_depth_to_colour",
    "write_labels",
]

MM_PER_M = 1000.0
SEQUENCES = tuple(f"B{i}{kind}" for i in range(1, 7) for kind in ("Counting", "Random"))
TEST_SEQUENCES = ("B1Counting", "B1Random")
TRAIN_SEQUENCES = tuple(s for s in SEQUENCES if s not in TEST_SEQUENCES)
CAMERAS = ("BB", "SK")  # Bumblebee stereo (left view), RealSense (SK)
FRAMES_PER_SEQUENCE = 1500

# SK colour camera (hand-graph-cnn STB_dataset.py), 640 x 480 (width, height).
SK_COLOUR_K = np.array([[607.92271, 0.0, 314.78337], [0.0, 607.88192, 236.42484], [0.0, 0.0, 1.0]])
SK_COLOUR_SIZE = (640, 480)
SK_DEPTH_TO_COLOUR_ROTVEC = np.array([0.00531, -0.01196, 0.00301])  # Rodrigues vector of R
SK_DEPTH_TO_COLOUR_T_M = np.array([-24.0381, -0.4563, -1.2326]) / MM_PER_M  # t, metres
_SK_R = Rotation.from_rotvec(SK_DEPTH_TO_COLOUR_ROTVEC).as_matrix()
# Bumblebee left camera; the right one sits BB_BASELINE_M along +x.
BB_K = np.array([[822.79041, 0.0, 318.47345], [0.0, 822.79041, 250.31296], [0.0, 0.0, 1.0]])
BB_BASELINE_M = 120.054 / MM_PER_M

_STB21 = get_skeleton("stb_21")
NUM_JOINTS = len(_STB21)
_PALM = _STB21.index("left_palm")
# Root point of each convention: the palm centre, or the wrist extrapolated from an MCP through the palm.
PALM_CONVENTIONS = {"ring_mcp": "left_ring1", "middle_mcp": "left_middle1", "palm": None}

# Image file prefix per camera: '<sequence>/<prefix>_<frame>.png' (hand-graph-cnn STB_dataset.py).
IMAGE_PREFIX = {"SK": "SK_color", "BB": "BB_left"}

_LABEL_KEY = "handPara"
# Plausible median bone length of a hand in millimetres (real bones ~20-100 mm): the unit check of read_labels.
HAND_BONE_MM = (10.0, 200.0)
_UNIT_SCALES = (("metres", 1000.0), ("centimetres", 10.0), ("micrometres", 1e-3))  # x scale = mm
# The .mat header's 116-byte text holds scipy's creation time; a fixed text makes files reproducible.
_MAT_HEADER_TEXT = b"MATLAB 5.0 MAT-file, written by hmrbench (datasets.stb.format)".ljust(116, b" ")
_BBOX_KEY = "bboxes"
_MAT5_TEXT = b"MATLAB 5.0 MAT-file"
_MAT73_TEXT = b"MATLAB 7.3 MAT-file"


def label_path(root: str | Path, sequence: str, camera: str) -> Path:
    """``<root>/labels/<sequence>_<camera>.mat``; ValueError for an unknown sequence or camera."""
    if sequence not in SEQUENCES:
        raise ValueError(f"unknown STB sequence {sequence!r}; valid sequences: {', '.join(SEQUENCES)}")
    if camera not in CAMERAS:
        raise ValueError(f"unknown STB camera {camera!r}; valid cameras: {', '.join(CAMERAS)}")
    return Path(root) / "labels" / f"{sequence}_{camera}.mat"


def openpose_path(root: str | Path, sequence: str, camera: str, frame: int) -> Path:
    """``<root>/openpose/<sequence>/<prefix>_<frame>_keypoints.json`` (module docstring); ValueError as label_path."""
    label_path(root, sequence, camera)  # validates the names
    return Path(root) / "openpose" / sequence / f"{IMAGE_PREFIX[camera]}_{int(frame)}_keypoints.json"


def smplx_gt_path(root: str | Path, sequence: str, camera: str) -> Path:
    """``<root>/smplx_gt/<sequence>_<camera>.npz``: a synthetic tree's ground-truth SMPL-X side file."""
    label_path(root, sequence, camera)
    return Path(root) / "smplx_gt" / f"{sequence}_{camera}.npz"


def _open_reason(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "file not found"
    if isinstance(exc, IsADirectoryError):
        return "is a directory, not a .mat file"
    if isinstance(exc, PermissionError):
        return "permission denied"
    return f"cannot open: {exc.strerror or exc}"


def _load_mat(path: Path, key: str) -> np.ndarray:
    """``key`` of the MAT file ``path``; every failure a DataFileError naming the file and the reason (scipy's own
    message for a folder or an unreadable file, 'Reader needs file name or open file-like object', says neither)."""
    try:
        f = path.open("rb")
    except OSError as exc:
        raise DataFileError(f"{path}: cannot read .mat file: {_open_reason(exc)}") from None
    with f:
        head = f.read(len(_MAT5_TEXT))
        if not head:
            raise DataFileError(f"{path}: cannot read .mat file: empty file (0 bytes)")
        f.seek(0)
        try:
            mat = scipy.io.loadmat(f)
        except Exception as exc:  # noqa: BLE001 - damaged bytes fail in scipy with many types (IndexError, zlib.error)
            raise DataFileError(f"{path}: cannot read .mat file: {_content_reason(head, exc)}") from None
    if key not in mat:
        found = [k for k in mat if not k.startswith("__")]
        raise DataFileError(f"{path}: {key}: missing (found {found})")
    value = mat[key]
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "iuf":
        raise DataFileError(f"{path}: {key}: expected a numeric array, got {getattr(value, 'dtype', type(value))}")
    return value


def _content_reason(head: bytes, exc: BaseException) -> str:
    """Why scipy could not read a file that opened: by its header, with scipy's words after it."""
    said = f"{type(exc).__name__}: {exc}"
    if head.startswith(_MAT73_TEXT):
        return f"a MATLAB v7.3 (HDF5) file, which scipy cannot read; save it with -v7 ({said})"
    if head.startswith(_MAT5_TEXT):
        return f"truncated or damaged MAT file (its header is fine; {said})"
    return f"not a MAT file (no MATLAB 5 header; {said})"


def _check_finite(arr: np.ndarray, where: str, sample_axis: int) -> None:
    if not np.isfinite(arr).all():
        sample = int(np.argwhere(~np.isfinite(arr))[0, sample_axis])
        raise DataFileError(f"{where}: contains NaN or inf (frame {sample})")


def read_labels(path: str | Path) -> np.ndarray:
    """Read ``handPara`` (3 x 21 x N, mm) from an STB label file.

    Returns (N, 21, 3) float64, metres, 'stb_21' order, in the file's camera frame (BB: left Bumblebee camera;
    SK: depth camera, see :func:`sk_depth_to_colour`).
    """
    path = Path(path)
    para = _load_mat(path, _LABEL_KEY)
    if para.ndim != 3 or para.shape[:2] != (3, NUM_JOINTS):
        raise DataFileError(f"{path}: {_LABEL_KEY}: expected 3 x {NUM_JOINTS} x N (mm), got {para.shape}")
    _check_finite(para, f"{path}: {_LABEL_KEY}", sample_axis=2)
    joints_mm = np.ascontiguousarray(para.astype(np.float64).transpose(2, 1, 0))
    check_label_units(joints_mm, f"{path}: {_LABEL_KEY}")
    return joints_mm / MM_PER_M


def check_label_units(joints_mm: np.ndarray, where: str) -> float:
    """The median bone length of (N, 21, 3) 'stb_21' hands in the file's numbers, if it is plausible for
    millimetres (``HAND_BONE_MM``); else a DataFileError at ``where`` naming the value and the unit it looks like."""
    bones = np.linalg.norm(joints_mm[:, 1:] - joints_mm[:, list(_STB21.parents[1:])], axis=-1)
    median = float(np.median(bones)) if bones.size else 0.0
    lo, hi = HAND_BONE_MM
    if lo <= median <= hi:
        return median
    guess = next((f"; it looks like {unit}" for unit, scale in _UNIT_SCALES if lo <= median * scale <= hi), "")
    raise DataFileError(
        f"{where}: median bone length {median:.4g} in the file's units, expected millimetres "
        f"(a hand's bones are ~20-100 mm; median within [{lo:g}, {hi:g}]){guess}"
    )


def write_labels(path: str | Path, joints_m: np.ndarray) -> None:
    """Write (N, 21, 3) joints in metres as ``handPara`` 3 x 21 x N in millimetres (``scipy.io.savemat``, MAT 5;
    the header text is fixed, so the same joints give the same bytes)."""
    joints = np.asarray(joints_m, dtype=np.float64)
    if joints.ndim != 3 or joints.shape[1:] != (NUM_JOINTS, 3):
        raise ValueError(f"joints_m: expected (N, {NUM_JOINTS}, 3), got {joints.shape}")
    if not np.isfinite(joints).all():
        raise ValueError("joints_m: contains NaN or inf")
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, {_LABEL_KEY: joints.transpose(2, 1, 0) * MM_PER_M})
    data = buffer.getvalue()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(_MAT_HEADER_TEXT + data[len(_MAT_HEADER_TEXT) :])


def read_bboxes(path: str | Path) -> np.ndarray:
    """Read ``bboxes`` from ``STB_eval_bboxes.mat``: (N, 4) float64 ``[x, y, w, h]``, pixels (SK colour image)."""
    path = Path(path)
    boxes = _load_mat(path, _BBOX_KEY)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise DataFileError(f"{path}: {_BBOX_KEY}: expected N x 4 ([x, y, w, h]), got {boxes.shape}")
    _check_finite(boxes, f"{path}: {_BBOX_KEY}", sample_axis=0)
    return boxes.astype(np.float64)


def _check_points(points: np.ndarray) -> np.ndarray:
    points = np.asarray(points, dtype=np.float64)
    if points.ndim < 1 or points.shape[-1] != 3:
        raise ValueError(f"points_m: expected (..., 3), got {points.shape}")
    return points


def sk_depth_to_colour(points_m: np.ndarray) -> np.ndarray:
    """SK depth-camera frame -> SK colour-camera frame: ``R^T (x - t)``. points_m: (..., 3), metres -> (..., 3)."""
    return (_check_points(points_m) - SK_DEPTH_TO_COLOUR_T_M) @ _SK_R


def sk_colour_to_depth(points_m: np.ndarray) -> np.ndarray:
    """Inverse of :func:`sk_depth_to_colour`: ``R c + t``. points_m: (..., 3), metres -> (..., 3)."""
    return _check_points(points_m) @ _SK_R.T + SK_DEPTH_TO_COLOUR_T_M


def palm_to_wrist(joints: np.ndarray, convention: str = "ring_mcp") -> np.ndarray:
    """Replace the palm centre (the 'left_palm' root) by a wrist estimate.

    joints: (..., 21, 3), 'stb_21' order, any unit. Returns a new array, same layout, with the root point set to
    - 'ring_mcp' (Ge et al., Zimmermann): ``ring_MCP + 2 (palm - ring_MCP)``;
    - 'middle_mcp' (MonocularTotalCapture): ``middle_MCP + 2 (palm - middle_MCP)``;
    - 'palm': unchanged (Zimmermann's evaluation keeps the palm as root).
    """
    if convention not in PALM_CONVENTIONS:
        raise ValueError(f"unknown palm convention {convention!r}; valid conventions: {', '.join(PALM_CONVENTIONS)}")
    out = np.array(joints, dtype=np.float64)
    if out.ndim < 2 or out.shape[-2:] != (NUM_JOINTS, 3):
        raise ValueError(f"joints: expected (..., {NUM_JOINTS}, 3), got {out.shape}")
    mcp_name = PALM_CONVENTIONS[convention]
    if mcp_name is not None:
        mcp = out[..., _STB21.index(mcp_name), :]
        out[..., _PALM, :] = mcp + 2.0 * (out[..., _PALM, :] - mcp)
    return out
