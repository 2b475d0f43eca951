"""Shared pieces of the synthetic-set generators (each dataset's ``synth.py`` writes its own real file format).

- :func:`render_bodies`: SMPL-X parameters (from ``datasets.bank``) -> world keypoints in the 'openpose_137'
  layout, the dataset joints of any skeleton (``bench.body.regressors``), vertices and the rest-pose root.
- :func:`occlusion`: which keypoints are hidden behind the body in a camera, from a coarse depth buffer of the
  mesh's vertices (a point is occluded when the nearest surface in its cell is more than a per-point margin in
  front of it: 12 cm for body joints, which sit inside the body, 3-4 cm for surface points: face, feet, hands).
- :func:`detections`: exact projections + occlusion + the noise model (``datasets.noise``) -> (N, 137, 3).
- The ground-truth SMPL-X side file (:func:`write_smplx_gt` / :func:`read_smplx_gt`), world frame, and
  :func:`smplx_to_camera`, which moves such parameters into a camera frame without a body model.
- :func:`write_marker`: the ``HMRBENCH_SYNTHETIC.json`` marker that labels a tree synthetic.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.body.body_model import BodyModel, load_body_model
from bench.body.regressors import skeleton_from_smplx
from bench.body.skeletons import get_skeleton, part_indices
from bench.errors import DataFileError
from bench.geometry.projections import project_camera
from bench.geometry.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from bench.npzio import read_npz, write_npz
from bench.registry import SYNTHETIC_MARKER
from bench.samples import SMPLX_FIELDS
from datasets.noise import NoiseConfig, apply_noise

__all__ = [
    "GT_KEYS",
    "generator_model",
    "detections",
    "occlusion",
    "read_smplx_gt",
    "render_bodies",
    "smplx_to_camera",
    "write_marker",
    "write_smplx_gt",
]

LAYOUT = "openpose_137"
GT_KEYS = tuple(SMPLX_FIELDS)
_BODY_MARGIN, _SURFACE_MARGIN, _HAND_MARGIN = 0.12, 0.04, 0.03
_SURFACE_BODY = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_big_toe", "left_small_toe",
                 "left_heel", "right_big_toe", "right_small_toe", "right_heel")  # fmt: skip


def _margins() -> np.ndarray:
    skel = get_skeleton(LAYOUT)
    margin = np.full(len(skel), _HAND_MARGIN)
    margin[part_indices(LAYOUT, "face")] = _SURFACE_MARGIN
    margin[part_indices(LAYOUT, "body")] = _BODY_MARGIN
    margin[[skel.index(n) for n in _SURFACE_BODY]] = _SURFACE_MARGIN
    return margin


OCCLUSION_MARGIN = _margins()


def generator_model() -> BodyModel:
    """The body model generators use: full 45-D hand poses relative to the flat hand, face contour on."""
    return load_body_model(use_pca=False, flat_hand_mean=True, use_face_contour=True)


def render_bodies(
    model: BodyModel, params: Mapping[str, np.ndarray], skeletons: tuple[str, ...] = (), *, chunk: int = 256
) -> dict[str, np.ndarray]:
    """Pose the model with world-frame parameters (``SMPLX_FIELDS`` keys, (n, k) or (n, j, 3); 'transl'
    optional) and return float64 arrays: 'keypoints' (n, 137, 3) 'openpose_137' layout, 'vertices' (n, V, 3),
    'root_rest' (n, 3) the pelvis of the shaped rest model, and one (n, J, 3) array per name in ``skeletons``.
    """
    n = len(params["betas"])
    out: dict[str, list[np.ndarray]] = {"keypoints": [], "vertices": [], "root_rest": []}
    out.update({s: [] for s in skeletons})
    for start in range(0, n, chunk):
        sl = slice(start, min(start + chunk, n))
        kw = {k: torch.as_tensor(np.asarray(v[sl], dtype=np.float32)).reshape(sl.stop - sl.start, -1)
              for k, v in params.items() if k in SMPLX_FIELDS}  # fmt: skip
        with torch.no_grad():
            posed = model.forward(**kw)
            rest = model.forward(betas=kw["betas"], vertices=False)
        joints = posed.joints.double()
        kp, valid = skeleton_from_smplx(joints, LAYOUT)
        if not bool(valid.all()):
            raise RuntimeError("generator model lacks some 'openpose_137' points (face contour off?)")
        out["keypoints"].append(kp.numpy())
        out["vertices"].append(posed.vertices.double().numpy())
        out["root_rest"].append(rest.joints[:, 0].double().numpy())
        for s in skeletons:
            out[s].append(skeleton_from_smplx(joints, s)[0].numpy())
    return {k: np.concatenate(v) if v else np.zeros((0,)) for k, v in out.items()}


def _as_t(x: np.ndarray) -> torch.Tensor:
    return torch.tensor(np.asarray(x, dtype=np.float64))


def occlusion(
    points_cam: np.ndarray,
    vertices_cam: np.ndarray,
    K: np.ndarray,
    image_size: np.ndarray,
    *,
    margin: np.ndarray = OCCLUSION_MARGIN,
    cell_m: float = 0.01,
) -> np.ndarray:
    """(N, P) bool: point hidden behind the body surface. Camera-frame inputs (metres): points (N, P, 3),
    vertices (N, V, 3); K (N, 3, 3) or (3, 3); image_size (N, 2) or (2,). Distortion is ignored (mild).

    Vertex depths are splatted (3 x 3 cells) into a grid whose cell is ``cell_m`` at the body's median depth.
    """
    pts = torch.tensor(np.asarray(points_cam), dtype=torch.float32)
    verts = torch.tensor(np.asarray(vertices_cam), dtype=torch.float32)
    n = pts.shape[0]
    K = torch.tensor(np.asarray(K), dtype=torch.float32).expand(n, 3, 3)
    size = torch.tensor(np.asarray(image_size), dtype=torch.float32).expand(n, 2)
    z_med = verts[..., 2].clamp_min(1e-3).median(dim=1).values
    cell = (K[:, 0, 0] * cell_m / z_med).clamp(2.0, 64.0)[:, None, None]  # pixels per cell
    limit = torch.ceil(size / cell[:, 0]).long()[:, None] + 1  # (n, 1, 2): last cell of the image, + 1

    def cells(p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = p[..., 2]
        uv = (p[..., :2] / z.clamp_min(1e-6)[..., None]) @ K[:, :2, :2].transpose(1, 2) + K[:, None, :2, 2]
        c = torch.floor(uv.clamp(-1e7, 1e7) / cell).long()
        return c, (z > 1e-3) & (c >= -1).all(-1) & (c <= limit).all(-1)  # beyond the image: no cell

    # a grid over each body's own box of cells (not the image): small whatever the image size
    vc, vok = cells(verts)
    big = torch.iinfo(torch.long).max // 4
    lo = torch.where(vok[..., None], vc, big).amin(dim=1, keepdim=True) - 1  # (n, 1, 2)
    hi = torch.where(vok[..., None], vc, -big).amax(dim=1, keepdim=True) + 1
    lo = torch.where(lo > hi, torch.zeros_like(lo), lo)  # no vertex in front of the camera
    extent = (hi - lo).clamp_min(0) + 1
    gw, gh = max(int(extent[..., 0].max()), 3), max(int(extent[..., 1].max()), 3)  # >= the 3 x 3 splat
    local = torch.where(vok[..., None], vc - lo, 1)  # vertices without a cell: parked, with infinite depth
    offsets = torch.tensor([dy * gw + dx for dx in (-1, 0, 1) for dy in (-1, 0, 1)])  # 3 x 3 splat
    idx = ((local[..., 1] * gw + local[..., 0])[..., None] + offsets).reshape(n, -1)
    val = torch.where(vok, verts[..., 2], torch.inf)[:, :, None].expand(-1, -1, 9).reshape(n, -1)
    depth = torch.full((n, gh * gw), float("inf"))
    depth.scatter_reduce_(1, idx, val, reduce="amin")
    pc, pok = cells(pts)
    plocal = pc - lo
    inside = pok & (plocal >= 0).all(-1) & (plocal[..., 0] < gw) & (plocal[..., 1] < gh)
    pidx = torch.where(inside, plocal[..., 1].clamp(0, gh - 1) * gw + plocal[..., 0].clamp(0, gw - 1), 0)
    front = torch.gather(depth, 1, pidx)
    hidden = inside & (front < pts[..., 2] - torch.as_tensor(margin, dtype=torch.float32))
    return hidden.numpy()


def detections(
    keypoints_world: np.ndarray,
    vertices_world: np.ndarray,
    K: np.ndarray,
    R: np.ndarray,
    t: np.ndarray,
    dist: np.ndarray,
    image_size: np.ndarray,
    noise: NoiseConfig,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """OpenPose-like detections of N people in N views (world inputs in metres; camera arrays (N, ...)).

    Returns (detections (N, 137, 3) float64, exact projections (N, 137, 2) float64).
    """
    kp, Kt, Rt, tt, dt = (_as_t(a) for a in (keypoints_world, K, R, t, dist))
    exact = project_camera(kp, Kt, Rt, tt, dt).numpy()
    cam = (kp @ Rt.transpose(-1, -2) + tt[..., None, :]).numpy()
    present = cam[..., 2] > 1e-3
    hidden = np.zeros_like(present)
    if noise.kind != "none":
        verts_cam = (_as_t(vertices_world) @ Rt.transpose(-1, -2) + tt[..., None, :]).numpy()
        hidden = occlusion(cam, verts_cam, K, image_size)
    return apply_noise(exact, present, hidden, np.asarray(image_size), noise, rng), exact


def smplx_to_camera(
    params: Mapping[str, np.ndarray], root_rest: np.ndarray, R: np.ndarray, t: np.ndarray
) -> dict[str, np.ndarray]:
    """World-frame SMPL-X parameters -> the camera frame ``x_cam = R x + t`` (R (n, 3, 3) or (3, 3), t metres).

    SMPL-X rotates the body about its rest-pose root ``J0`` (``root_rest``, (n, 3)) and then adds ``transl``, so
    ``global_orient' = R global_orient`` and ``transl' = R (J0 + transl) + t - J0``. Other keys are copied.
    """
    R = np.asarray(R, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    J0 = np.asarray(root_rest, dtype=np.float64)
    go = axis_angle_to_matrix(torch.as_tensor(np.asarray(params["global_orient"], np.float64).reshape(-1, 3)))
    go_cam = matrix_to_axis_angle(torch.as_tensor(R) @ go).numpy()
    transl = np.asarray(params.get("transl", np.zeros_like(J0)), dtype=np.float64).reshape(-1, 3)
    transl_cam = np.einsum("...ij,...j->...i", R, J0 + transl) + t - J0
    out = {k: np.asarray(v) for k, v in params.items()}
    out["global_orient"] = go_cam.astype(np.float32)
    out["transl"] = transl_cam.astype(np.float32)
    return out


def write_smplx_gt(
    path: Path,
    params: Mapping[str, np.ndarray],
    root_rest: np.ndarray,
    ids: Mapping[str, np.ndarray],
    model_sha256: str,
) -> None:
    """Write ground-truth SMPL-X parameters (world frame, hands 45-D relative to the flat hand) as an ``.npz``:
    one (n, k) float32 array per ``GT_KEYS``, 'root_rest' (n, 3), the id arrays given (e.g. 'frame', 'person'),
    'model_sha256' and 'flat_hand_mean' = True.
    """
    n = len(root_rest)
    arrays: dict[str, np.ndarray] = {}
    for key in GT_KEYS:
        value = np.asarray(params[key], dtype=np.float32).reshape(n, -1) if key in params else None
        if value is None:
            value = np.zeros((n, SMPLX_FIELDS[key]), np.float32)
        arrays[key] = value
    arrays["root_rest"] = np.asarray(root_rest, dtype=np.float32)
    for key, value in ids.items():
        arrays[f"id_{key}"] = np.asarray(value)
    arrays["model_sha256"] = np.array(model_sha256)
    arrays["flat_hand_mean"] = np.array(True)
    write_npz(path, arrays)


def read_smplx_gt(path: Path) -> tuple[dict[str, np.ndarray], np.ndarray, dict[str, np.ndarray], str]:
    """Read :func:`write_smplx_gt`'s file: (params, root_rest, ids, model_sha256); DataFileError names the key."""
    path = Path(path)
    data = read_npz(path, "ground-truth SMPL-X npz")
    if "root_rest" not in data:
        raise DataFileError(f"{path}: root_rest: missing")
    n = len(data["root_rest"])
    params = {}
    for key in (*GT_KEYS, "root_rest"):
        width = 3 if key == "root_rest" else SMPLX_FIELDS[key]
        if key not in data:
            raise DataFileError(f"{path}: {key}: missing")
        arr = data[key]
        if arr.shape != (n, width) or arr.dtype.kind != "f":
            raise DataFileError(f"{path}: {key}: expected ({n}, {width}) floats, got {arr.shape} {arr.dtype}")
        if not np.isfinite(arr).all():
            raise DataFileError(f"{path}: {key}: contains NaN or inf (row {int(np.argwhere(~np.isfinite(arr))[0, 0])})")
        params[key] = arr
    ids = {k[3:]: v for k, v in data.items() if k.startswith("id_")}
    for key, value in ids.items():
        if value.shape != (n,):
            raise DataFileError(f"{path}: id_{key}: expected ({n},), got {value.shape}")
    root_rest = params.pop("root_rest")
    return params, root_rest, ids, str(data.get("model_sha256", ""))


def write_marker(
    out: Path,
    dataset: str,
    *,
    seed: int,
    noise: NoiseConfig,
    settings: Mapping[str, Any],
    model: BodyModel,
    generator_version: str,
) -> None:
    """Write ``HMRBENCH_SYNTHETIC.json`` at the top of a generated tree (what, how, with which model)."""
    info = {
        "synthetic": True,
        "dataset": dataset,
        "generator_version": generator_version,
        "seed": seed,
        "noise": noise.as_dict(),
        "settings": dict(settings),
        "body_model": {
            "path": str(model.source.path),
            "sha256": model.source.sha256,
            "synthetic": bool(model.source.synthetic),
        },
        "note": "Synthetic data written by hmrbench in the real file format; results on it are synthetic.",
    }
    Path(out).mkdir(parents=True, exist_ok=True)
    (Path(out) / SYNTHETIC_MARKER).write_text(json.dumps(info, indent=1, default=str) + "\n")
