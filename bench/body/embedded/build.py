"""Assemble the embedded SMPL-X-format model (arrays, deterministic .npz, user-cache entry).

The arrays follow the SMPL-X `.npz` layout that `smplx.SMPLX` reads (PROTOCOLS.md, "SMPL-X through the smplx
package"). Vertex ids that `smplx` hard-codes (smplx/vertex_ids.py: nose 9120, eyes, ears, toes, heels,
fingertips) are honoured by permuting the generated vertices so those ids land on the anatomical points.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import fields
from pathlib import Path

import numpy as np
from smplx.vertex_ids import vertex_ids as SMPLX_VERTEX_IDS

from bench.body.embedded.anatomy import SHAPE_COMPONENTS, Proportions
from bench.body.embedded.face import CONTOUR, LANDMARKS, expression_fields
from bench.body.embedded.hands import hand_pca, mirror_hand_pose
from bench.body.embedded.mesh import BodyMesh, assemble
from bench.body.skeletons import SMPLX_NUM_JOINTS, get_skeleton
from bench.npzio import npz_bytes

EMBEDDED_VERSION = "3"  # bump whenever the generated arrays change
NUM_VERTICES = 10475  # SMPL-X's vertex count; smplx's hard-coded vertex ids need it
NUM_SHAPE, NUM_EXPRESSION = 10, 10
CORRECTIVE_GAIN = 0.10  # bulge at a fully bent joint, as a fraction of the local tube radius per unit (3 - tr R)
NUM_DYNAMIC_CONTOUR = 79  # smplx's look-up table spans neck yaw -39..39 degrees
FILE_NAME = "SMPLX_NEUTRAL.npz"


def _eye_counts() -> tuple[int, int]:
    """Eyeball vertex counts that bring the whole mesh to exactly NUM_VERTICES."""
    probe = assemble(Proportions(), (100, 100))
    rest = len(probe.verts) - 200
    left = (NUM_VERTICES - rest + 1) // 2
    right = NUM_VERTICES - rest - left
    if right < 100:
        raise RuntimeError(f"embedded mesh has {rest} vertices without eyes; budget is {NUM_VERTICES}")
    return left, right


def _raycast_front(verts: np.ndarray, faces: np.ndarray, points_xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each (x, y), the front-most triangle hit by a ray along -z, with barycentric coordinates."""
    a, b, c = verts[faces[:, 0]], verts[faces[:, 1]], verts[faces[:, 2]]
    facing = np.cross(b - a, c - a)[:, 2] > 0
    tri_idx = np.flatnonzero(facing)
    a, b, c = a[tri_idx], b[tri_idx], c[tri_idx]
    out_f, out_b = [], []
    for x, y in points_xy:
        v0, v1 = b[:, :2] - a[:, :2], c[:, :2] - a[:, :2]
        v2 = np.array([x, y]) - a[:, :2]
        den = v0[:, 0] * v1[:, 1] - v1[:, 0] * v0[:, 1]
        l1 = (v2[:, 0] * v1[:, 1] - v1[:, 0] * v2[:, 1]) / den
        l2 = (v0[:, 0] * v2[:, 1] - v2[:, 0] * v0[:, 1]) / den
        l0 = 1.0 - l1 - l2
        inside = (l0 >= -1e-9) & (l1 >= -1e-9) & (l2 >= -1e-9)
        if not inside.any():
            raise RuntimeError(f"face landmark at ({x:.3f}, {y:.3f}) misses the head surface")
        z = l0 * a[:, 2] + l1 * b[:, 2] + l2 * c[:, 2]
        k = np.flatnonzero(inside)[np.argmax(z[inside])]
        out_f.append(tri_idx[k])
        bary = np.clip([l0[k], l1[k], l2[k]], 0.0, None)  # remove round-off below zero
        out_b.append(bary / bary.sum())
    return np.array(out_f, dtype=np.int64), np.array(out_b)


def _permutation(mesh: BodyMesh) -> np.ndarray:
    """new_to_old vertex order placing smplx's hard-coded vertex ids on our anatomical points."""
    wanted = SMPLX_VERTEX_IDS["smplx"]
    new_to_old = np.full(len(mesh.verts), -1, dtype=np.int64)
    for name, new_id in wanted.items():
        new_to_old[new_id] = mesh.points[name]
    taken = np.zeros(len(mesh.verts), bool)
    taken[new_to_old[new_to_old >= 0]] = True
    new_to_old[new_to_old < 0] = np.flatnonzero(~taken)
    return new_to_old


def build_arrays() -> dict[str, np.ndarray]:
    """All arrays of the embedded model, in the SMPL-X `.npz` layout (float32, int64)."""
    eyes = _eye_counts()
    base_p = Proportions()
    mesh = assemble(base_p, eyes)
    V = len(mesh.verts)
    assert V == NUM_VERTICES, V

    # shape blend shapes: central differences of the generator along each anthropometric parameter
    shapedirs = np.zeros((V, 3, NUM_SHAPE + NUM_EXPRESSION))
    for k, (name, unit) in enumerate(SHAPE_COMPONENTS):
        step = 0.1 * unit
        plus = assemble(base_p.varied(name, step), eyes).verts
        minus = assemble(base_p.varied(name, -step), eyes).verts
        shapedirs[:, :, k] = (plus - minus) / (2.0 * step) * unit
    hid = mesh.head_ids
    shapedirs[hid, :, NUM_SHAPE:] = expression_fields(mesh.verts[hid], mesh.head_centre, mesh.head_axes, mesh.scale)

    # joint regressor: each joint is the mean of its ring (or symmetric vertex set)
    names = get_skeleton("smplx_joints55").joints
    J_regressor = np.zeros((SMPLX_NUM_JOINTS, V))
    for j, name in enumerate(names):
        ids = mesh.regressor_sets[name]
        J_regressor[j, ids] = 1.0 / len(ids)
    parents = np.array(get_skeleton("smplx_joints55").parents, dtype=np.int64)
    kintree = np.stack([parents, np.arange(SMPLX_NUM_JOINTS)])

    # pose correctives: volume-keeping bulge at bent joints, driven by 3 - tr(R_j) (the diagonal of R_j - I)
    posedirs = np.zeros((V, 3, 9 * (SMPLX_NUM_JOINTS - 1)))
    for j in range(1, SMPLX_NUM_JOINTS):
        gain = mesh.corrective[:, j] * mesh.radius * CORRECTIVE_GAIN
        if not gain.any():
            continue
        for a in range(3):
            posedirs[:, :, 9 * (j - 1) + 4 * a] = -gain[:, None] * mesh.radial

    # face landmarks on the head surface (ray cast on the front of the face)
    head_faces_mask = np.isin(mesh.faces, hid).all(axis=1)
    head_face_idx = np.flatnonzero(head_faces_mask)
    centre = mesh.head_centre
    to_xy = lambda pts: pts * mesh.scale + centre[:2]  # noqa: E731
    lmk_local, lmk_bary = _raycast_front(mesh.verts, mesh.faces[head_face_idx], to_xy(LANDMARKS))
    con_local, con_bary = _raycast_front(mesh.verts, mesh.faces[head_face_idx], to_xy(CONTOUR))

    components, mean = hand_pca(seed=0)
    comp_r = mirror_hand_pose(components.reshape(45, 15, 3)).reshape(45, 45)
    mean_r = mirror_hand_pose(mean.reshape(15, 3)).reshape(45)

    new_to_old = _permutation(mesh)
    old_to_new = np.empty_like(new_to_old)
    old_to_new[new_to_old] = np.arange(V)
    f32 = np.float32
    return {
        "v_template": mesh.verts[new_to_old].astype(f32),
        "f": old_to_new[mesh.faces].astype(np.int64),
        "J_regressor": J_regressor[:, new_to_old].astype(f32),
        "weights": mesh.weights[new_to_old].astype(f32),
        "kintree_table": kintree,
        "joint_names": np.array(names),  # the 55 SMPL-X kinematic joint names, in kintree order
        "shapedirs": shapedirs[new_to_old].astype(f32),
        "posedirs": np.ascontiguousarray(posedirs[new_to_old].astype(f32)),
        "hands_componentsl": components.astype(f32),
        "hands_componentsr": comp_r.astype(f32),
        "hands_meanl": mean.astype(f32),
        "hands_meanr": mean_r.astype(f32),
        "lmk_faces_idx": head_face_idx[lmk_local],
        "lmk_bary_coords": lmk_bary.astype(f32),
        "dynamic_lmk_faces_idx": np.tile(head_face_idx[con_local], (NUM_DYNAMIC_CONTOUR, 1)),
        "dynamic_lmk_bary_coords": np.tile(con_bary.astype(f32), (NUM_DYNAMIC_CONTOUR, 1, 1)),
        "hmrbench_embedded_version": np.array(EMBEDDED_VERSION),
        "hmrbench_shape_components": np.array([name for name, _ in SHAPE_COMPONENTS]),
        "hmrbench_proportions": np.array([getattr(base_p, f.name) for f in fields(base_p)], dtype=np.float64),
    }


def cache_root() -> Path:
    """The user cache folder: $HMRBENCH_CACHE, else $XDG_CACHE_HOME/hmrbench, else ~/.cache/hmrbench."""
    if os.environ.get("HMRBENCH_CACHE"):
        return Path(os.environ["HMRBENCH_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hmrbench"


def embedded_model_dir(cache: Path | None = None) -> Path:
    """Folder laid out as `smplx.create` expects (`<dir>/smplx/SMPLX_NEUTRAL.npz`), built on first use.

    The file's SHA-256 is kept beside it; a file that no longer matches its hash is rebuilt.
    """
    root = (cache or cache_root()) / f"embedded-smplx-v{EMBEDDED_VERSION}"
    path = root / "smplx" / FILE_NAME
    meta = root / "embedded.json"
    if path.exists() and meta.exists():
        try:
            recorded = json.loads(meta.read_text())["sha256"]
        except (ValueError, KeyError):
            recorded = None
        if recorded == file_sha256(path):
            return root
    data = npz_bytes(build_arrays())
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    tmp_meta = meta.with_suffix(f".tmp{os.getpid()}")
    tmp_meta.write_text(json.dumps({"sha256": hashlib.sha256(data).hexdigest(), "version": EMBEDDED_VERSION}))
    os.replace(tmp_meta, meta)
    return root


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
