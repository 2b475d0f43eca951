"""CMU Panoptic Studio file formats (panoptic-toolbox layout): calibration, 3D bodies, hands and faces.

Units and frames are converted at the edge (PROTOCOLS.md, "CMU Panoptic"):

- Files hold centimetres; every reader returns **metres** and every writer takes metres and writes centimetres.
- World frame: the dome's own (y points down); it is not changed.
- Cameras: OpenCV convention, ``x_cam = R X + t`` with ``R`` world -> camera and ``t`` in metres; distortion
  ``[k1, k2, p1, p2, k3]`` as in OpenCV.

Tree layout under a data root::

    <root>/<seq>/calibration_<seq>.json
    <root>/<seq>/hdPose3d_stage1_coco19/body3DScene_%08d.json   bodies[].joints19 = [x, y, z, c] * 19
    <root>/<seq>/hdHand3d/handRecon3D_hd%08d.json               people[].{left,right}_hand.landmarks = 21 x 3
    <root>/<seq>/hdFace3d/faceRecon3D_hd%08d.json               people[].face70.landmarks = 70 x 3

Joint orders are the skeletons 'panoptic_joints19', 'openpose_hand21_left/right' and 'openpose_face70' of
``bench.body.skeletons``. Every reader error (missing file, malformed JSON, missing key, wrong shape, NaN/inf, a
value that is no camera, a file in another unit) raises :class:`bench.errors.DataFileError` naming the file and
the field.

Units are checked from the data, by one rule (:func:`check_unit`): a file in metres would be read as a body
1.8 cm tall, one in millimetres as a body 18 m tall, and both would pass every other check. For each file the
median over its people of one size, in the file's unit, must lie in the range a real size has in centimetres
(``PLAUSIBLE_CM``: several times wider than real sizes on each side, and far from a real size in metres or
millimetres): a body's or a hand's or a face's size is the bounding-box diagonal of its valid points (people
with at least ``UNIT_MIN_POINTS`` of them: a head alone is no body size); a calibration's is its cameras'
distance from the world origin (the dome's floor centre).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.body.skeletons import get_skeleton
from bench.errors import DataFileError
from bench.geometry.projections import project_camera, world_to_camera
from datasets.jsonio import dump_json, load_json

CM_PER_M = 100.0
VALID_CONFIDENCE = 0.1  # the toolbox's threshold: a joint is valid when c > 0.1
HD_TYPE = "hd"
NUM_BODY_JOINTS = len(get_skeleton("panoptic_joints19"))
NUM_HAND_LANDMARKS = len(get_skeleton("openpose_hand21_left"))
NUM_FACE_LANDMARKS = len(get_skeleton("openpose_face70"))
_R_TOLERANCE = 1e-6  # |R R^T - I| allowed in a calibration file (real files: ~1e-10)
_K_TOLERANCE = 1e-9  # |K[2] - (0, 0, 1)| allowed
# The units rule (module docstring): plausible sizes in centimetres, by what is measured. Real ones: bodies
# 110-200 (sitting to standing), hands ~20, faces ~20, HD cameras 280-390 from the dome's origin.
PLAUSIBLE_CM = {
    "body size": (20.0, 500.0),
    "hand size": (3.0, 60.0),
    "face size": (4.0, 80.0),
    "camera distance": (50.0, 2000.0),
}
UNIT_MIN_POINTS = 10

__all__ = [
    "Body",
    "BodyFrame",
    "PLAUSIBLE_CM",
    "Calibration",
    "Camera",
    "FaceFrame",
    "FacePerson",
    "HandFrame",
    "HandPerson",
    "Landmarks",
    "body_frame_path",
    "calibration_path",
    "camera_points",
    "check_unit",
    "face_frame_path",
    "get_camera",
    "hand_frame_path",
    "hd_cameras",
    "project",
    "read_body_frame",
    "read_calibration",
    "read_face_frame",
    "read_hand_frame",
    "visible_in_image",
    "write_body_frame",
    "write_calibration",
    "write_face_frame",
    "write_hand_frame",
]


# --- paths -------------------------------------------------------------------------------------------------


def calibration_path(root: str | Path, seq: str) -> Path:
    """``<root>/<seq>/calibration_<seq>.json``."""
    return Path(root) / seq / f"calibration_{seq}.json"


def body_frame_path(root: str | Path, seq: str, frame: int) -> Path:
    """``<root>/<seq>/hdPose3d_stage1_coco19/body3DScene_%08d.json`` (HD frame index)."""
    return Path(root) / seq / "hdPose3d_stage1_coco19" / f"body3DScene_{frame:08d}.json"


def hand_frame_path(root: str | Path, seq: str, frame: int) -> Path:
    """``<root>/<seq>/hdHand3d/handRecon3D_hd%08d.json`` (HD frame index)."""
    return Path(root) / seq / "hdHand3d" / f"handRecon3D_hd{frame:08d}.json"


def face_frame_path(root: str | Path, seq: str, frame: int) -> Path:
    """``<root>/<seq>/hdFace3d/faceRecon3D_hd%08d.json`` (HD frame index)."""
    return Path(root) / seq / "hdFace3d" / f"faceRecon3D_hd{frame:08d}.json"


# --- shared reading helpers --------------------------------------------------------------------------------


def _get(obj: Any, key: str, path: Path, where: str) -> Any:
    """``obj[key]``; DataFileError naming ``where.key`` if obj is not an object or lacks the key."""
    if not isinstance(obj, dict):
        raise DataFileError(f"{path}: {where or 'top level'}: expected an object, got {type(obj).__name__}")
    if key not in obj:
        raise DataFileError(f"{path}: {_join(where, key)}: missing key")
    return obj[key]


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _list(value: Any, path: Path, where: str) -> list:
    if not isinstance(value, list):
        raise DataFileError(f"{path}: {where}: expected a list, got {type(value).__name__}")
    return value


def _int(value: Any, path: Path, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise DataFileError(f"{path}: {where}: expected an integer, got {value!r}")
    return int(value)


def _number(value: Any, path: Path, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise DataFileError(f"{path}: {where}: expected a finite number, got {value!r}")
    return float(value)


def _str(value: Any, path: Path, where: str) -> str:
    if not isinstance(value, str):
        raise DataFileError(f"{path}: {where}: expected a string, got {value!r}")
    return value


def _array(value: Any, shapes: tuple[tuple[int, ...], ...], path: Path, where: str) -> np.ndarray:
    """float64 array of one of ``shapes`` (reshaped to the first), finite; DataFileError otherwise."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataFileError(f"{path}: {where}: expected a numeric array, got {_brief(value)}") from None
    if arr.shape not in shapes:
        raise DataFileError(f"{path}: {where}: expected {_shape_text(shapes[0])}, got {_shape_text(arr.shape)}")
    bad = np.flatnonzero(~np.isfinite(arr.ravel()))
    if bad.size:
        raise DataFileError(f"{path}: {where}: non-finite value (NaN/inf) at flat index {int(bad[0])}")
    return _frozen(arr.reshape(shapes[0]))


def _brief(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, list | dict) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _shape_text(shape: tuple[int, ...]) -> str:
    if len(shape) == 1:
        return f"{shape[0]} values"
    return "x".join(str(s) for s in shape) if shape else "a scalar"


def _frozen(arr: np.ndarray) -> np.ndarray:
    arr = np.array(arr, dtype=np.float64)
    arr.flags.writeable = False
    return arr


def _size(points: np.ndarray, valid: np.ndarray | None = None) -> float | None:
    """Bounding-box diagonal of the valid points (the non-zero ones when ``valid`` is None), or None when fewer
    than ``UNIT_MIN_POINTS`` are valid."""
    pts = np.asarray(points)
    keep = np.any(pts != 0, axis=-1) if valid is None else np.asarray(valid, dtype=bool)
    if int(keep.sum()) < UNIT_MIN_POINTS:
        return None
    return float(np.linalg.norm(np.ptp(pts[keep], axis=0)))


def check_unit(path: Path, where: str, sizes: Iterable[float | None], what: str) -> None:
    """The units rule (module docstring): the median of ``sizes`` (in the file's unit; None = not measured) lies
    in ``PLAUSIBLE_CM[what]``, else DataFileError naming the file, the field, the median and the unit expected."""
    measured = [v for v in sizes if v is not None]
    if not measured:
        return
    median = float(np.median(measured))
    lo, hi = PLAUSIBLE_CM[what]
    if lo <= median <= hi:
        return
    guesses = {"metres": median * CM_PER_M, "millimetres": median / 10.0}
    guess = next((f"; it looks like {unit}" for unit, cm in guesses.items() if lo <= cm <= hi), "")
    raise DataFileError(f"{path}: {where}: median {what} {median:.4g} in the file's unit, where Panoptic files "
                        f"hold centimetres (a real {what} is {lo:g}-{hi:g} cm){guess}")  # fmt: skip


def _finite_out(name: str, arr: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Writer-side check: float64 array of ``shape`` with finite values; ValueError otherwise."""
    arr = np.asarray(arr, dtype=np.float64)
    if arr.shape != shape:
        raise ValueError(f"{name}: expected shape {shape}, got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}: values must be finite")
    return arr


# --- calibration -------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Camera:
    """One calibrated camera, OpenCV convention, metres.

    Attributes:
        name: e.g. '00_16' (``f"{panel:02d}_{node:02d}"``).
        type: 'hd', 'vga' or 'kinect-color'.
        resolution: (width, height), pixels.
        K: (3, 3) intrinsics, pixels.
        dist: (5,) ``[k1, k2, p1, p2, k3]``.
        R: (3, 3) world -> camera rotation.
        t: (3,) world -> camera translation, metres (``x_cam = R X + t``).
        panel, node: the dome's panel and node numbers (HD cameras: panel 0, nodes 0..30).
    """

    name: str
    type: str
    resolution: tuple[int, int]
    K: np.ndarray
    dist: np.ndarray
    R: np.ndarray
    t: np.ndarray
    panel: int
    node: int

    @property
    def center(self) -> np.ndarray:
        """(3,) camera centre in the world frame, metres: ``-R^T t``."""
        return -self.R.T @ self.t


class Calibration(dict[str, Camera]):
    """Cameras by name, in file order, remembering the file they came from (for error messages)."""

    def __init__(self, cameras: Iterable[Camera] = (), *, path: str | Path | None = None) -> None:
        super().__init__((c.name, c) for c in cameras)
        self.path = None if path is None else Path(path)


def read_calibration(path: str | Path) -> Calibration:
    """Read ``calibration_<seq>.json``: every camera (HD, VGA, Kinect), by name, t converted cm -> m.

    Raises DataFileError for a missing or malformed file, a missing key, a wrong shape, a non-finite value,
    a rotation that is not orthonormal with det +1, or a duplicate camera name.
    """
    path = Path(path)
    data = load_json(path)
    entries = _list(_get(data, "cameras", path, ""), path, "cameras")
    calibration = Calibration(path=path)
    for i, entry in enumerate(entries):
        where = f"cameras[{i}]"
        name = _str(_get(entry, "name", path, where), path, f"{where}.name")
        if name in calibration:
            raise DataFileError(f"{path}: {where}.name: duplicate camera name {name!r}")
        resolution = _array(_get(entry, "resolution", path, where), ((2,),), path, f"{where}.resolution")
        R = _array(_get(entry, "R", path, where), ((3, 3),), path, f"{where}.R")
        if np.abs(R @ R.T - np.eye(3)).max() > _R_TOLERANCE or np.linalg.det(R) <= 0:
            raise DataFileError(f"{path}: {where}.R: not a rotation (R R^T != I or det(R) <= 0)")
        t_cm = _array(_get(entry, "t", path, where), ((3,), (3, 1)), path, f"{where}.t")
        K = _array(_get(entry, "K", path, where), ((3, 3),), path, f"{where}.K")
        if K[0, 0] <= 0 or K[1, 1] <= 0 or np.abs(K[2] - (0.0, 0.0, 1.0)).max() > _K_TOLERANCE:
            raise DataFileError(f"{path}: {where}.K: not an intrinsic matrix (fx, fy > 0 and last row 0 0 1), got "
                                f"{K.tolist()}")  # fmt: skip
        size = tuple(_int(resolution[k], path, f"{where}.resolution[{k}]") for k in (0, 1))
        if min(size) <= 0:
            raise DataFileError(f"{path}: {where}.resolution: expected a positive width and height, got {size}")
        calibration[name] = Camera(
            name=name,
            type=_str(_get(entry, "type", path, where), path, f"{where}.type"),
            resolution=size,
            K=K,
            dist=_array(_get(entry, "distCoef", path, where), ((5,),), path, f"{where}.distCoef"),
            R=R,
            t=_frozen(t_cm / CM_PER_M),
            panel=_int(_get(entry, "panel", path, where), path, f"{where}.panel"),
            node=_int(_get(entry, "node", path, where), path, f"{where}.node"),
        )  # fmt: skip
    centres_cm = (float(np.linalg.norm(c.center)) * CM_PER_M for c in calibration.values())
    check_unit(path, "cameras[].t", centres_cm, "camera distance")
    return calibration


def write_calibration(path: str | Path, cameras: Mapping[str, Camera] | Iterable[Camera]) -> None:
    """Write cameras (metres) as ``calibration_<seq>.json`` (t in cm, 3x1 as the toolbox writes it)."""
    cams = list(cameras.values()) if isinstance(cameras, Mapping) else list(cameras)
    entries = []
    for cam in cams:
        entries.append({
            "name": cam.name,
            "type": cam.type,
            "resolution": [int(cam.resolution[0]), int(cam.resolution[1])],
            "panel": int(cam.panel),
            "node": int(cam.node),
            "K": _finite_out(f"{cam.name}.K", cam.K, (3, 3)).tolist(),
            "distCoef": _finite_out(f"{cam.name}.dist", cam.dist, (5,)).tolist(),
            "R": _finite_out(f"{cam.name}.R", cam.R, (3, 3)).tolist(),
            "t": (_finite_out(f"{cam.name}.t", cam.t, (3,)) * CM_PER_M)[:, None].tolist(),
        })  # fmt: skip
    dump_json(Path(path), {"cameras": entries})


def hd_cameras(cameras: Mapping[str, Camera]) -> list[Camera]:
    """The HD cameras (type 'hd'), sorted by (panel, node): '00_00'..'00_30' in a real calibration."""
    return sorted((c for c in cameras.values() if c.type == HD_TYPE), key=lambda c: (c.panel, c.node))


def get_camera(cameras: Mapping[str, Camera], name: str) -> Camera:
    """The camera called ``name``; DataFileError naming the calibration file and listing the cameras there."""
    try:
        return cameras[name]
    except KeyError:
        pass
    source = getattr(cameras, "path", None) or "calibration"
    by_type: dict[str, list[str]] = {}
    for cam in cameras.values():
        by_type.setdefault(cam.type, []).append(cam.name)
    listing = "; ".join(
        f"{kind} ({len(names)}): " + (", ".join(names) if len(names) <= 40 else f"{names[0]} .. {names[-1]}")
        for kind, names in by_type.items()
    )
    raise DataFileError(f"{source}: cameras: no camera named {name!r}; cameras there: {listing or 'none'}")


def _apply(camera: Camera, points_world: np.ndarray, fn) -> np.ndarray:
    """Run ``fn(points (N, 3) tensor, K, R, t, dist)`` on (..., 3) float64 points; keep the leading dims."""
    pts = np.asarray(points_world, dtype=np.float64)
    if pts.ndim < 1 or pts.shape[-1] != 3:
        raise ValueError(f"points_world: expected (..., 3), got {pts.shape}")
    flat = torch.from_numpy(np.ascontiguousarray(pts.reshape(-1, 3)))
    params = (torch.from_numpy(np.array(a, dtype=np.float64)) for a in (camera.K, camera.R, camera.t, camera.dist))
    out = fn(flat, *params).numpy()
    return out.reshape(*pts.shape[:-1], out.shape[-1])


def camera_points(camera: Camera, points_world: np.ndarray) -> np.ndarray:
    """``x = R X + t``: (..., 3) world frame, metres -> (..., 3) camera frame (OpenCV), metres."""
    return _apply(camera, points_world, lambda x, K, R, t, dist: world_to_camera(x, R, t))


def project(camera: Camera, points_world: np.ndarray) -> np.ndarray:
    """Project world points through a calibrated camera with OpenCV's distortion model.

    points_world: (..., 3), world frame, metres. Returns (..., 2), pixels (float64). Uses
    :func:`bench.geometry.projections.project_camera`, so it matches OpenCV's ``projectPoints``; the toolbox's
    ``panutils.projectPoints`` reuses the already-distorted x in the y tangential term and differs from it by
    up to 0.03 px. Points at or behind the camera (camera-frame z <= 0) are not masked: check
    ``camera_points(...)[..., 2] > 0`` first.
    """
    return _apply(camera, points_world, project_camera)


def _monotonic_r2(dist: np.ndarray) -> float:
    """Largest squared normalised radius below which the radial model r (1 + k1 r^2 + k2 r^4 + k3 r^6) is
    increasing (inf when it always is); beyond it a point far outside the view can map into the image."""
    k1, k2, _, _, k3 = (float(d) for d in dist)
    roots = np.roots([7 * k3, 5 * k2, 3 * k1, 1.0]) if k3 else np.roots([5 * k2, 3 * k1, 1.0]) if k2 else (
        np.array([-1.0 / (3 * k1)]) if k1 else np.array([]))  # fmt: skip
    real = [r.real for r in np.atleast_1d(roots) if abs(r.imag) < 1e-12 and r.real > 0]
    return min(real) if real else float("inf")


def visible_in_image(camera: Camera, points_world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per point: (in front, inside the image) for world points (..., 3), metres.

    In front: camera-frame z > 0. Inside: the distorted projection lies in ``[0, W-1] x [0, H-1]`` (the noise
    model's rule, so such a point is detectable) and the point is within the monotonic range of the lens model.
    The projection is :func:`project` (OpenCV's model). The adapter's visibility filter and the synthetic
    detector use this one rule.
    """
    cam = camera_points(camera, points_world)
    z = cam[..., 2]
    front = z > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = (cam[..., 0] ** 2 + cam[..., 1] ** 2) / np.where(front, z, 1.0) ** 2
    uv = project(camera, points_world)
    w, h = camera.resolution
    inside = front & (r2 < _monotonic_r2(camera.dist)) & (uv[..., 0] >= 0) & (uv[..., 1] >= 0)
    inside &= (uv[..., 0] <= w - 1) & (uv[..., 1] <= h - 1)
    return front, inside


# --- 3D bodies ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Body:
    """One person of a ``body3DScene`` frame.

    Attributes:
        id: the person's id in the sequence.
        joints: (19, 3) 'panoptic_joints19' order, world frame, metres; invalid joints are (0, 0, 0) in files.
        confidence: (19,) the file's c (-1 for invalid joints).
        valid: (19,) bool, ``confidence > 0.1`` (the toolbox's rule); derived, not an argument.
    """

    id: int
    joints: np.ndarray
    confidence: np.ndarray
    valid: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "valid", np.asarray(self.confidence) > VALID_CONFIDENCE)


@dataclass(frozen=True, eq=False)
class BodyFrame:
    """A ``body3DScene_%08d.json`` frame: bodies plus the file's header (univTime in ms, fpsType, version)."""

    bodies: list[Body]
    univ_time: float
    fps_type: str | None = "hd_29_97"
    version: float | None = 0.7


def read_body_frame(path: str | Path) -> BodyFrame:
    """Read a ``body3DScene_%08d.json`` frame; joints converted cm -> m. ``univTime`` and ``bodies`` are
    required, ``fpsType`` and ``version`` are kept when present (None otherwise)."""
    path = Path(path)
    data = load_json(path)
    univ_time = _number(_get(data, "univTime", path, ""), path, "univTime")
    bodies = []
    for i, entry in enumerate(_list(_get(data, "bodies", path, ""), path, "bodies")):
        where = f"bodies[{i}]"
        flat = _array(_get(entry, "joints19", path, where), ((NUM_BODY_JOINTS * 4,),), path, f"{where}.joints19")
        j4 = flat.reshape(NUM_BODY_JOINTS, 4)
        bodies.append(Body(
            id=_int(_get(entry, "id", path, where), path, f"{where}.id"),
            joints=_frozen(j4[:, :3] / CM_PER_M),
            confidence=_frozen(j4[:, 3]),
        ))  # fmt: skip
    check_unit(path, "bodies[].joints19", (_size(b.joints * CM_PER_M, b.valid) for b in bodies), "body size")
    fps_type = data.get("fpsType")
    version = data.get("version")
    return BodyFrame(
        bodies=bodies,
        univ_time=univ_time,
        fps_type=None if fps_type is None else _str(fps_type, path, "fpsType"),
        version=None if version is None else _number(version, path, "version"),
    )


def write_body_frame(path: str | Path, frame: BodyFrame) -> None:
    """Write a frame (joints in metres) as ``body3DScene`` JSON: joints19 = [x, y, z, c] * 19 in cm."""
    bodies = []
    for i, body in enumerate(frame.bodies):
        joints = _finite_out(f"bodies[{i}].joints", body.joints, (NUM_BODY_JOINTS, 3)) * CM_PER_M
        conf = _finite_out(f"bodies[{i}].confidence", body.confidence, (NUM_BODY_JOINTS,))
        bodies.append({"id": int(body.id), "joints19": np.concatenate([joints, conf[:, None]], 1).ravel().tolist()})
    data: dict[str, Any] = {}
    if frame.version is not None:
        data["version"] = frame.version
    data["univTime"] = float(frame.univ_time)
    if frame.fps_type is not None:
        data["fpsType"] = frame.fps_type
    data["bodies"] = bodies
    dump_json(Path(path), data)


# --- hands and faces ---------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Landmarks:
    """3D landmarks of one hand or face.

    Attributes:
        points: (N, 3) world frame, metres; hands N = 21 (OpenPose hand order), faces N = 70 (OpenPose face).
        score: (N,) the file's per-landmark ``averageScore``, or None where the file has none.
    """

    points: np.ndarray
    score: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class HandPerson:
    """Hands of one person; a hand the file does not give is None."""

    id: int
    left: Landmarks | None
    right: Landmarks | None


@dataclass(frozen=True, eq=False)
class FacePerson:
    """Face of one person ('face70'); None where the file does not give it."""

    id: int
    face: Landmarks | None


@dataclass(frozen=True, eq=False)
class HandFrame:
    """A ``handRecon3D_hd%08d.json`` frame; header fields are None where the file has none."""

    people: list[HandPerson]
    univ_time: float | None = None
    version: float | None = None


@dataclass(frozen=True, eq=False)
class FaceFrame:
    """A ``faceRecon3D_hd%08d.json`` frame; header fields are None where the file has none."""

    people: list[FacePerson]
    univ_time: float | None = None
    version: float | None = None


_HAND_KEYS = (("left", "left_hand"), ("right", "right_hand"))
_FACE_KEY = "face70"


def _read_landmarks(entry: Any, key: str, count: int, path: Path, where: str) -> Landmarks | None:
    if key not in entry or entry[key] is None:
        return None
    where = f"{where}.{key}"
    part = entry[key]
    flat = _array(_get(part, "landmarks", path, where), ((count * 3,),), path, f"{where}.landmarks")
    score = part.get("averageScore")
    return Landmarks(
        points=_frozen(flat.reshape(count, 3) / CM_PER_M),
        score=None if score is None else _array(score, ((count,),), path, f"{where}.averageScore"),
    )


def _check_landmarks_unit(path: Path, where: str, parts: list[Landmarks | None], what: str) -> None:
    check_unit(path, where, (_size(lm.points * CM_PER_M) for lm in parts if lm is not None), what)


def _landmarks_out(name: str, lm: Landmarks, count: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "landmarks": (_finite_out(f"{name}.points", lm.points, (count, 3)) * CM_PER_M).ravel().tolist()
    }
    if lm.score is not None:
        out["averageScore"] = _finite_out(f"{name}.score", lm.score, (count,)).tolist()
    return out


def _read_people(path: Path) -> tuple[list[tuple[int, dict, str]], float | None, float | None]:
    data = load_json(path)
    people = []
    for i, entry in enumerate(_list(_get(data, "people", path, ""), path, "people")):
        where = f"people[{i}]"
        people.append((_int(_get(entry, "id", path, where), path, f"{where}.id"), entry, where))
    univ_time, version = data.get("univTime"), data.get("version")
    return (
        people,
        None if univ_time is None else _number(univ_time, path, "univTime"),
        None if version is None else _number(version, path, "version"),
    )


def _write_people(path: str | Path, people: list[dict], univ_time: float | None, version: float | None) -> None:
    data: dict[str, Any] = {}
    if version is not None:
        data["version"] = version
    if univ_time is not None:
        data["univTime"] = float(univ_time)
    data["people"] = people
    dump_json(Path(path), data)


def read_hand_frame(path: str | Path) -> HandFrame:
    """Read ``handRecon3D_hd%08d.json``: people[].{left_hand,right_hand}.landmarks (21 x 3, cm -> m)."""
    path = Path(path)
    people, univ_time, version = _read_people(path)
    hands = [
        HandPerson(pid, *(_read_landmarks(e, key, NUM_HAND_LANDMARKS, path, w) for _, key in _HAND_KEYS))
        for pid, e, w in people
    ]
    for attr, key in _HAND_KEYS:
        _check_landmarks_unit(path, f"people[].{key}.landmarks", [getattr(h, attr) for h in hands], "hand size")
    return HandFrame(hands, univ_time, version)


def write_hand_frame(path: str | Path, frame: HandFrame) -> None:
    """Write hands (metres) as ``handRecon3D`` JSON in cm; a None hand is left out of its person."""
    people = []
    for i, person in enumerate(frame.people):
        entry: dict[str, Any] = {"id": int(person.id)}
        for attr, key in _HAND_KEYS:
            hand = getattr(person, attr)
            if hand is not None:
                entry[key] = _landmarks_out(f"people[{i}].{key}", hand, NUM_HAND_LANDMARKS)
        people.append(entry)
    _write_people(path, people, frame.univ_time, frame.version)


def read_face_frame(path: str | Path) -> FaceFrame:
    """Read ``faceRecon3D_hd%08d.json``: people[].face70.landmarks (70 x 3, cm -> m)."""
    path = Path(path)
    people, univ_time, version = _read_people(path)
    faces = [FacePerson(pid, _read_landmarks(e, _FACE_KEY, NUM_FACE_LANDMARKS, path, w)) for pid, e, w in people]
    _check_landmarks_unit(path, f"people[].{_FACE_KEY}.landmarks", [f.face for f in faces], "face size")
    return FaceFrame(faces, univ_time, version)


def write_face_frame(path: str | Path, frame: FaceFrame) -> None:
    """Write faces (metres) as ``faceRecon3D`` JSON in cm; a None face is left out of its person."""
    people = []
    for i, person in enumerate(frame.people):
        entry: dict[str, Any] = {"id": int(person.id)}
        if person.face is not None:
            entry[_FACE_KEY] = _landmarks_out(f"people[{i}].{_FACE_KEY}", person.face, NUM_FACE_LANDMARKS)
        people.append(entry)
    _write_people(path, people, frame.univ_time, frame.version)
