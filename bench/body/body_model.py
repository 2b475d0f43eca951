"""SMPL-X body model access: one entry point, the user's real model or the embedded one, and a fast forward.

`load_body_model()` resolves the model file (``model_path`` argument, else ``$SMPLX_MODEL_PATH``, else the
embedded synthetic model built into the user cache), validates it, loads it through ``smplx.SMPLX`` unmodified
(kept as ``BodyModel.layer``) and wraps the layer's buffers in a faster forward with two outputs:

- ``forward(..., vertices=True)``: the full mesh and the 127 (144 with the face contour) output joints, equal to
  ``smplx.SMPLX.forward`` within float32 round-off;
- ``keypoints(...)``: the same joints from the posed kinematic joints plus only the vertices that keypoints need
  (vertex joints and landmark triangles), without skinning the whole mesh.

Both skip exactly-zero pose-corrective rows and columns (exact for any model; the embedded model's correctives
are sparse) and skin with a single matrix product over 3x4 joint transforms.

Parameters follow ``smplx`` names and layouts: ``betas (B, <=NB)``, ``expression (B, <=NE)``,
``global_orient (B, 3)``, ``body_pose (B, 63)`` or ``(B, 21, 3)``, ``left_hand_pose``/``right_hand_pose``
``(B, num_pca_comps)`` (or ``(B, 45)`` without PCA), ``jaw_pose``/``leye_pose``/``reye_pose (B, 3)``,
``transl (B, 3)``; axis-angle in radians, metres, SMPL-X body frame (y up). Missing parameters are zeros.
Instead of the axis-angle poses, ``pose_rotmats (B, 55, 3, 3)`` gives every joint rotation directly (no hand
PCA, no hand mean), as a regressor that predicts rotations needs.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import smplx
import torch
from smplx.joint_names import JOINT_NAMES
from smplx.lbs import find_dynamic_lmk_idx_and_bcoords

from bench.body.embedded import EMBEDDED_VERSION, embedded_model_dir
from bench.body.embedded.build import FILE_NAME, file_sha256
from bench.body.skeletons import SMPLX_NUM_BODY_JOINTS, SMPLX_NUM_HAND_JOINTS, SMPLX_NUM_JOINTS
from bench.errors import ConfigError, ModelFileError
from bench.geometry.rotations import axis_angle_to_matrix

ENV_VAR = "SMPLX_MODEL_PATH"
NUM_VERTICES = 10475
# Key -> expected shape ('V' = vertex count, 'F' = face count, '*' = any size >= the minimum said in `_MINIMUM`).
REQUIRED_KEYS: dict[str, tuple] = {
    "v_template": ("V", 3),
    "f": ("F", 3),
    "J_regressor": (SMPLX_NUM_JOINTS, "V"),
    "weights": ("V", SMPLX_NUM_JOINTS),
    "kintree_table": (2, SMPLX_NUM_JOINTS),
    "shapedirs": ("V", 3, "*"),
    "posedirs": ("V", 3, 9 * (SMPLX_NUM_JOINTS - 1)),
    "hands_componentsl": ("*", 3 * SMPLX_NUM_HAND_JOINTS),
    "hands_componentsr": ("*", 3 * SMPLX_NUM_HAND_JOINTS),
    "hands_meanl": (3 * SMPLX_NUM_HAND_JOINTS,),
    "hands_meanr": (3 * SMPLX_NUM_HAND_JOINTS,),
    "lmk_faces_idx": (51,),
    "lmk_bary_coords": (51, 3),
}
CONTOUR_KEYS = ("dynamic_lmk_faces_idx", "dynamic_lmk_bary_coords")
_MINIMUM_SHAPE_COMPONENTS = 20  # 10 betas + 10 expressions
_GENDERS = ("neutral", "male", "female")
_SUFFIXES = (".npz", ".pkl")


@dataclass(frozen=True)
class ModelSource:
    """Where the body model came from."""

    path: Path  # the model file (.npz or .pkl)
    origin: str  # "embedded", "model_path argument / --model-path" or the environment variable's name
    synthetic: bool  # True for the embedded, procedurally generated model
    sha256: str
    hand_components: int  # rows of hands_componentsl/r: the most hand PCA components the file allows
    has_contour: bool  # holds the dynamic (face contour) landmark keys


def _candidates(folder: Path, gender: str) -> list[Path]:
    stem = f"SMPLX_{gender.upper()}"
    return [
        folder / "smplx" / f"{stem}.npz",
        folder / "smplx" / f"{stem}.pkl",
        folder / f"{stem}.npz",
        folder / f"{stem}.pkl",
    ]


def resolve_model(model_path: str | os.PathLike | None = None, *, gender: str = "neutral") -> ModelSource:
    """Find the model file: `model_path`, else $SMPLX_MODEL_PATH, else the embedded model (built on first use).

    A path that was asked for and does not hold a model raises `ModelFileError`; it never falls back to the
    embedded model.
    """
    if gender not in _GENDERS:
        raise ValueError(f"unknown gender {gender!r}; valid: {', '.join(_GENDERS)}")
    origin = "model_path argument / --model-path"
    if model_path is None and os.environ.get(ENV_VAR):
        model_path, origin = os.environ[ENV_VAR], ENV_VAR
    if model_path is None:
        if gender != "neutral":
            raise ModelFileError(f"the embedded model is gender-neutral only; give --model-path for {gender!r}")
        path = embedded_model_dir() / "smplx" / FILE_NAME
        with np.load(path) as npz:  # the embedded model is trusted: read only what the source records
            hand_components = int(npz["hands_componentsl"].shape[0])
            has_contour = all(k in npz.files for k in CONTOUR_KEYS)
        return ModelSource(
            path=path,
            origin="embedded",
            synthetic=True,
            sha256=file_sha256(path),
            hand_components=hand_components,
            has_contour=has_contour,
        )
    path = Path(model_path).expanduser()
    if path.is_dir() and path.suffix not in _SUFFIXES:  # a models folder (a folder named *.npz is an error below)
        found = [p for p in _candidates(path, gender) if p.is_file()]
        if not found:
            looked = ", ".join(str(p) for p in _candidates(path, gender))
            raise ModelFileError(f"no SMPL-X model in folder {path} (from {origin}); looked for: {looked}")
        path = found[0]
    elif not path.exists():
        raise ModelFileError(f"SMPL-X model file {path} (from {origin}) does not exist")
    data = read_model_file(path)
    return ModelSource(
        path=path,
        origin=origin,
        synthetic="hmrbench_embedded_version" in data,
        sha256=file_sha256(path),
        hand_components=int(np.shape(data["hands_componentsl"])[0]),
        has_contour=all(k in data for k in CONTOUR_KEYS),
    )


def read_model_file(path: Path) -> dict[str, np.ndarray]:
    """Read and validate a SMPL-X `.npz`/`.pkl`; every error is a `ModelFileError` naming the file and the key.

    Checked (see `_validate`): the required keys and their shapes, integer indices in range (faces into the
    vertices, landmark faces into the faces), finite values in every float array the layer uses, and the kinematic
    tree (one root, parents in range, no cycle, each parent before its children). The values are returned as
    stored (smplx reads the file itself).
    """
    if path.is_dir():
        raise ModelFileError(f"{path}: is a folder, not a SMPL-X model file (.npz or .pkl)")
    if path.exists() and not path.is_file():  # a FIFO or device would block the read
        raise ModelFileError(f"{path}: is not a regular file; expected a SMPL-X model file (.npz or .pkl)")
    if path.suffix not in _SUFFIXES:
        raise ModelFileError(f"{path}: unknown model file type {path.suffix!r} (expected .npz or .pkl)")
    try:
        if path.stat().st_size == 0:
            raise ModelFileError(f"{path}: SMPL-X model file is empty (0 bytes)")
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as npz:
                data = {k: npz[k] for k in npz.files}
        else:
            with open(path, "rb") as fh:
                loaded = pickle.load(fh, encoding="latin1")
            if not isinstance(loaded, dict):
                raise ModelFileError(
                    f"{path}: holds a pickled {type(loaded).__name__}, not the dict of arrays a SMPL-X .pkl holds"
                )
            data = dict(loaded)
    except ModelFileError:
        raise
    except Exception as exc:  # zip, pickle, numpy and OS errors all mean the same to the user
        reason = " ".join(f"{type(exc).__name__}: {exc}".split())  # one line
        raise ModelFileError(f"{path}: cannot read SMPL-X model file ({reason})") from exc
    _validate(path, data)
    return data


# Keys holding indices (integers), and the float arrays the layer uses (all must be finite).
_INDEX_KEYS = ("f", "lmk_faces_idx", "dynamic_lmk_faces_idx", "kintree_table")
_FLOAT_KEYS = (
    "v_template",
    "shapedirs",
    "posedirs",
    "J_regressor",
    "weights",
    "hands_componentsl",
    "hands_componentsr",
    "hands_meanl",
    "hands_meanr",
    "lmk_bary_coords",
    "dynamic_lmk_bary_coords",
)
# smplx's contour look-up indexes the dynamic landmark tables by head yaw in whole degrees, -39..39: 79 rows.
_CONTOUR_SHAPES = {"dynamic_lmk_faces_idx": (79, 17), "dynamic_lmk_bary_coords": (79, 17, 3)}
# The root's parent as stored: -1, or -1 wrapped to the unsigned integer type (the official files use uint32).
_ROOT_PARENTS = (-1, 2**32 - 1, 2**64 - 1)


def _as_array(path: Path, key: str, value: object) -> np.ndarray:
    """`value` as a numpy array (scipy.sparse densified, as smplx does); a value numpy cannot hold names the key."""
    if hasattr(value, "toarray"):  # scipy.sparse J_regressor in the official .pkl
        value = value.toarray()
    try:
        array = np.asarray(value)
    except Exception as exc:
        raise ModelFileError(f"{path}: key {key!r} is not an array ({type(value).__name__})") from exc
    if array.dtype.kind not in "fiu":
        raise ModelFileError(f"{path}: key {key!r} has dtype {array.dtype}, expected numbers")
    return array


def _joint(j: int) -> str:
    return f"joint {j} ({JOINT_NAMES[j]})" if 0 <= j < len(JOINT_NAMES) else f"joint {j}"


def _check_kintree(path: Path, kintree: np.ndarray) -> None:
    """One root (joint 0), parents in range, no cycle, every parent listed before its children (smplx's forward
    kinematics and its neck chain walk the parents in that order: a cycle would make them loop forever)."""
    where = f"{path}: key 'kintree_table'"
    parents, ids = kintree[0].tolist(), kintree[1].tolist()
    n = len(parents)
    if ids != list(range(n)):
        raise ModelFileError(
            f"{where}: row 1 must list the joints 0..{n - 1} in order (smplx reads parents by position)"
        )
    if parents[0] not in _ROOT_PARENTS:
        raise ModelFileError(f"{where}: {_joint(0)} has parent {parents[0]}; it must be the root (parent -1)")
    for j in range(1, n):
        p = parents[j]
        if p in _ROOT_PARENTS:
            raise ModelFileError(f"{where}: {_joint(j)} has parent {p}, a second root; joint 0 is the only root")
        if not 0 <= p < n:
            raise ModelFileError(f"{where}: {_joint(j)} has parent {p}, out of range 0..{n - 1}")
    for j in range(1, n):  # walk up from each joint: meeting a joint twice before the root is a cycle
        chain = [j]
        while chain[-1] != 0 and parents[chain[-1]] not in chain:
            chain.append(parents[chain[-1]])
        if chain[-1] != 0:
            loop = chain[chain.index(parents[chain[-1]]) :]
            cycle = " -> ".join(str(k) for k in [*loop, loop[0]])
            raise ModelFileError(
                f"{where}: {_joint(loop[0])} is on a cycle of parents (child -> parent: {cycle}) that never reaches "
                "the root"
            )
    for j in range(1, n):
        if parents[j] > j:
            raise ModelFileError(
                f"{where}: {_joint(j)} has parent {_joint(parents[j])} listed after it; "
                "smplx needs every parent before its children"
            )


def _validate(path: Path, data: dict) -> None:
    """The checks of `read_model_file`, in the order a user would fix them: keys, shapes, dtypes, values."""
    for key in REQUIRED_KEYS:
        if key not in data:
            raise ModelFileError(f"{path}: missing key {key!r} (a SMPL-X model file needs {', '.join(REQUIRED_KEYS)})")
    used = [*REQUIRED_KEYS, *(k for k in CONTOUR_KEYS if k in data)]
    arrays = {key: _as_array(path, key, data[key]) for key in used}
    sizes = {size: arrays[key].shape[0] if arrays[key].ndim else 0 for size, key in (("V", "v_template"), ("F", "f"))}
    expected_shapes = {**REQUIRED_KEYS, **_CONTOUR_SHAPES}
    for key in used:
        shape, expected = arrays[key].shape, expected_shapes[key]
        ok = len(shape) == len(expected) and all(
            e == "*" or s == (sizes[e] if isinstance(e, str) else e) for s, e in zip(shape, expected, strict=True)
        )
        if not ok:
            sized_by = {"V": "v_template", "F": "f"}  # the key whose own length sets the size
            want = "(" + ", ".join(
                "N" if e == "*" or sized_by.get(e) == key else str(sizes.get(e, e)) for e in expected
            )
            want += ",)" if len(expected) == 1 else ")"
            raise ModelFileError(f"{path}: key {key!r} has shape {shape}, expected {want}")
    if sizes["V"] != NUM_VERTICES:
        raise ModelFileError(
            f"{path}: 'v_template' has {sizes['V']} vertices; SMPL-X has {NUM_VERTICES} "
            "(smplx hard-codes vertex ids of that topology)"
        )
    if arrays["shapedirs"].shape[2] < _MINIMUM_SHAPE_COMPONENTS:
        raise ModelFileError(
            f"{path}: 'shapedirs' has {arrays['shapedirs'].shape[2]} components, expected at "
            f"least {_MINIMUM_SHAPE_COMPONENTS} (10 shape + 10 expression)"
        )
    for key in (k for k in _INDEX_KEYS if k in arrays):
        if arrays[key].dtype.kind not in "iu":
            raise ModelFileError(
                f"{path}: key {key!r} holds indices but has dtype {arrays[key].dtype}, expected integers"
            )
    for key in (k for k in _FLOAT_KEYS if k in arrays):
        bad = ~np.isfinite(arrays[key])
        if bad.any():
            at = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ModelFileError(f"{path}: key {key!r} contains NaN or inf (first at index {at})")
    bounds = {"f": ("vertices", sizes["V"]), "lmk_faces_idx": ("faces", sizes["F"])}
    if "dynamic_lmk_faces_idx" in arrays:
        bounds["dynamic_lmk_faces_idx"] = ("faces", sizes["F"])
    for key, (what, size) in bounds.items():
        idx = arrays[key]
        bad = (idx < 0) | (idx >= size)
        if bad.any():
            at = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ModelFileError(
                f"{path}: key {key!r} holds index {idx[at]} at {at}, out of range 0..{size - 1} (the {what})"
            )
    _check_kintree(path, arrays["kintree_table"])


def _create_layer(
    source: ModelSource,
    *,
    gender: str,
    num_pca_comps: int,
    use_pca: bool,
    flat_hand_mean: bool,
    use_face_contour: bool,
    dtype: torch.dtype,
) -> smplx.SMPLX:
    if use_face_contour and not source.has_contour:
        raise ModelFileError(f"{source.path}: use_face_contour needs the keys {' and '.join(map(repr, CONTOUR_KEYS))}")
    if use_pca and not 1 <= num_pca_comps <= source.hand_components:
        raise ConfigError(
            f"num_pca_comps={num_pca_comps}: {source.path} holds {source.hand_components} hand PCA components "
            f"('hands_componentsl'/'hands_componentsr'); valid: 1..{source.hand_components}"
        )
    # smplx prints warnings about the number of shape components on stdout; keep our stdout clean
    with contextlib.redirect_stdout(io.StringIO()):
        return smplx.SMPLX(
            str(source.path),
            ext=source.path.suffix[1:],
            gender=gender,
            num_pca_comps=num_pca_comps,
            use_pca=use_pca,
            flat_hand_mean=flat_hand_mean,
            use_face_contour=use_face_contour,
            num_betas=10,
            num_expression_coeffs=10,
            dtype=dtype,
        )


def load_body_model(
    model_path: str | os.PathLike | None = None,
    *,
    gender: str = "neutral",
    num_pca_comps: int = 6,
    use_pca: bool = True,
    flat_hand_mean: bool = False,
    use_face_contour: bool = False,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> BodyModel:
    """The one entry point to a SMPL-X body model (see the module docstring)."""
    source = resolve_model(model_path, gender=gender)  # validates the file before smplx sees it: errors name the key
    layer = _create_layer(
        source,
        gender=gender,
        num_pca_comps=num_pca_comps,
        use_pca=use_pca,
        flat_hand_mean=flat_hand_mean,
        use_face_contour=use_face_contour,
        dtype=dtype,
    )
    return BodyModel(layer, source).to(device)


def _levels(parents: np.ndarray) -> list[np.ndarray]:
    """Joints grouped by depth in the kinematic tree (root level excluded), for level-batched transforms."""
    depth = np.zeros(len(parents), dtype=np.int64)
    for j in range(1, len(parents)):
        depth[j] = depth[parents[j]] + 1
    return [np.flatnonzero(depth == d) for d in range(1, depth.max() + 1)]


class _VertexSet(torch.nn.Module):
    """Template, blend shapes and skinning weights of a subset of the vertices (all of them, or keypoints').

    Stored row-major per vertex coordinate so each product writes (S, 3, B) directly (batch last): the
    skinning then needs no layout copies.
    """

    def __init__(self, layer: smplx.SMPLX, ids: torch.Tensor) -> None:
        super().__init__()
        V = layer.v_template.shape[0]
        shapedirs = torch.cat([layer.shapedirs, layer.expr_dirs], dim=-1)[ids]  # (S, 3, D)
        posedirs = layer.posedirs.reshape(-1, V, 3)[:, ids]  # (P, S, 3)
        active_feat = posedirs.abs().flatten(1).amax(1) > 0
        active_vert = posedirs.abs().amax(dim=(0, 2)) > 0
        self.register_buffer("v_template", layer.v_template[ids].unsqueeze(-1).clone())  # (S, 3, 1)
        self.register_buffer("shapedirs", shapedirs.flatten(0, 1).contiguous())  # (S*3, D)
        self.register_buffer("pose_feat", torch.nonzero(active_feat).flatten())
        self.register_buffer("pose_vert", torch.nonzero(active_vert).flatten())
        # posedirs stored contiguous, restricted to its non-zero block: (S_active*3, P_active)
        block = posedirs[active_feat][:, active_vert]  # (P_a, S_a, 3)
        self.register_buffer("posedirs", block.permute(1, 2, 0).flatten(0, 1).contiguous())
        self.register_buffer("weights", layer.lbs_weights[ids].contiguous())  # (S, 55)


@dataclass
class BodyOutput:
    joints: torch.Tensor  # (B, 127 or 144, 3) SMPL-X output joints, metres
    vertices: torch.Tensor | None  # (B, V, 3) or None for the keypoint path
    posed_joints: torch.Tensor  # (B, 55, 3) kinematic joints (translated)


_NECK = 12  # SMPL-X neck joint: smplx's neck_kin_chain is its path to the root


class _KeypointPath:
    """The keypoint path of :class:`BodyModel`: ``path(R, shape)`` -> (B, 127|144, 3) output joints for local
    rotations R (B, 55, 3, 3) and ``shape`` (B, betas + expression), with few tensor operations (they dominate at
    small batches, forward and backward):

    - kinematic chain by pointer jumping: each joint's transform is composed with its 2^k-th ancestor's for
      k = 0, 1, ... (ceil(log2(depth)) steps, 4 for SMPL-X, instead of one per tree level); batch-last
      elementwise composition from ``batch_last_from`` samples, batched 4x4 products below;
    - the vertex joints and the static landmarks are one selection / barycentric matrix on the skinned
      keypoint vertices;
    - the 17 contour landmarks are looked up from the neck's world rotation (smplx's
      ``find_dynamic_lmk_idx_and_bcoords``, whose chain product is that rotation).

    Built for one device and dtype (``BodyModel._keypoint_path`` rebuilds it after a move)."""

    def __init__(self, model: BodyModel) -> None:
        kp = model.kp
        self.use_face_contour = model.use_face_contour
        dtype, device = model.J_template.dtype, model.J_template.device
        parents = np.asarray(model._parents)
        n = len(parents)
        self.J_template, self.J_dirs = model.J_template, model.J_dirs
        self.parent = torch.as_tensor(parents[1:], device=device)
        self.batch_last_from = 8  # batch size from which rigid_batch_last is faster (measured on 1 CPU thread)
        anc = np.append(np.where(parents < 0, n, parents), n)  # node n = identity, its own ancestor
        self.jumps = []
        while (anc[:n] != n).any():
            self.jumps.append(torch.as_tensor(anc, device=device))
            anc = anc[anc]
        self.bottom = torch.tensor([0.0, 0.0, 0.0, 1.0], dtype=dtype, device=device)
        self.eye = torch.eye(4, dtype=dtype, device=device)
        self.eye3 = torch.eye(3, dtype=dtype, device=device)
        self.kp = kp
        S = kp.weights.shape[0]
        nv, nl = len(model.vj_kp), len(model.lmk_faces_kp)
        sel = torch.zeros(nv + nl, S, dtype=dtype, device=device)
        sel[torch.arange(nv, device=device), model.vj_kp] = 1.0
        rows = torch.arange(nl, device=device)[:, None].expand(nl, 3)
        sel.index_put_((rows.flatten() + nv, model.lmk_faces_kp.flatten()), model.lmk_bary.flatten().to(dtype),
                       accumulate=True)  # fmt: skip
        self.select = sel
        if self.use_face_contour:
            self.dyn_faces = model.remap_kp[model.dyn_lmk_faces]  # (79, 17, 3) keypoint-vertex rows
            self.dyn_bary = model.dyn_lmk_bary  # (79, 17, 3)

    def rigid(self, R: torch.Tensor, J: torch.Tensor) -> torch.Tensor:
        """World transforms (B, 56, 4, 4) (last: identity) of the joints for local rotations R and joints J."""
        B, n = R.shape[:2]
        rel = torch.cat([J[:, :1], J[:, 1:] - J.index_select(1, self.parent)], 1)
        T = torch.cat([torch.cat([R, rel[..., None]], -1), self.bottom.expand(B, n, 1, 4)], -2)
        G = torch.cat([T, self.eye.expand(B, 1, 4, 4)], 1)
        for anc in self.jumps:
            G = G.index_select(1, anc) @ G
        return G

    def rigid_batch_last(self, R: torch.Tensor, J: torch.Tensor) -> torch.Tensor:
        """As :meth:`rigid` for large batches, batch last: (56, 3, 4, B) affine transforms composed elementwise
        (batched 4x4 matmuls cost ~90 ns per matrix; this is four vectorised multiply-adds per step)."""
        B, n = R.shape[:2]
        Jt = J.permute(1, 2, 0)  # (55, 3, B)
        rel = torch.cat([Jt[:1], Jt[1:] - Jt.index_select(0, self.parent)], 0)
        T = torch.cat([R.permute(1, 2, 3, 0), rel[:, :, None]], 2)  # (55, 3, 4, B)
        G = torch.cat([T, self.eye[:3, :, None].expand(1, 3, 4, B)], 0)
        for anc in self.jumps:
            P = G.index_select(0, anc)
            out = P[:, :, 0:1] * G[:, 0:1]  # accumulated in place: no further large temporaries
            out.addcmul_(P[:, :, 1:2], G[:, 1:2]).addcmul_(P[:, :, 2:3], G[:, 2:3])
            out[:, :, 3] += P[:, :, 3]
            G = out
        return G

    def __call__(self, R: torch.Tensor, shape: torch.Tensor) -> torch.Tensor:
        B, n = R.shape[:2]
        kp = self.kp
        R, shape = R.to(self.J_template.dtype), shape.to(self.J_template.dtype)
        J = self.J_template + (shape @ self.J_dirs).view(B, n, 3)
        if B >= self.batch_last_from:
            G = self.rigid_batch_last(R, J)[:n]  # (55, 3, 4, B)
            R_w, t_w = G[:, :, :3], G[:, :, 3]
            corr = (R_w * J.permute(1, 2, 0)[:, None]).sum(2)  # (55, 3, B)
            A = torch.cat([R_w, (t_w - corr)[:, :, None]], 2).view(n, 12 * B)
            R_neck = R_w[_NECK].permute(2, 0, 1)
            t_w = t_w.permute(2, 0, 1)
        else:
            G = self.rigid(R, J)[:, :n]
            R_w, t_w = G[..., :3, :3], G[..., :3, 3]
            A = G[..., :3, :] - torch.nn.functional.pad((R_w @ J[..., None]), (3, 0))  # x -> R_w (x - J) + t_w
            A = A.permute(1, 2, 3, 0).reshape(n, 12 * B)
            R_neck = R_w[:, _NECK]
        S = kp.weights.shape[0]
        v = kp.v_template + (kp.shapedirs @ shape.T).view(S, 3, B)  # (S, 3, B)
        if len(kp.pose_feat):
            feat = (R[:, 1:] - self.eye3).flatten(1)[:, kp.pose_feat]
            v = v.index_add(0, kp.pose_vert, (kp.posedirs @ feat.T).view(-1, 3, B))
        T = (kp.weights @ A).view(S, 3, 4, B)
        posed = T[:, :, 3] + (T[:, :, :3] * v[:, None]).sum(2)  # (S, 3, B)
        extra = (self.select @ posed.view(S, 3 * B)).view(-1, 3, B).permute(2, 0, 1)
        parts = [t_w, extra]
        if self.use_face_contour:
            parts.append(self._contour(R_neck, posed))
        return torch.cat(parts, 1)

    def _contour(self, R_neck: torch.Tensor, posed: torch.Tensor) -> torch.Tensor:
        """17 dynamic contour landmarks (B, 17, 3): smplx's yaw look-up (``find_dynamic_lmk_idx_and_bcoords``)."""
        sy = torch.sqrt(R_neck[:, 0, 0] ** 2 + R_neck[:, 1, 0] ** 2)
        yaw = torch.atan2(-R_neck[:, 2, 0], sy)
        y = torch.round(torch.clamp(-yaw * 180.0 / math.pi, max=39)).long()
        idx = torch.where(y < 0, torch.where(y < -39, 78, 39 - y), y)
        faces, bary = self.dyn_faces[idx], self.dyn_bary[idx]  # (B, 17, 3)
        pts = posed.permute(2, 0, 1)  # (B, S, 3)
        tri = torch.gather(pts, 1, faces.flatten(1)[..., None].expand(-1, -1, 3)).view(*faces.shape, 3)
        return (tri * bary[..., None]).sum(2)


class BodyModel(torch.nn.Module):
    """SMPL-X forward over a loaded `smplx.SMPLX` layer's buffers: full mesh or keypoints only."""

    def __init__(self, layer: smplx.SMPLX, source: ModelSource) -> None:
        super().__init__()
        self.layer = layer
        self.source = source
        self.use_pca, self.num_pca_comps = layer.use_pca, layer.num_pca_comps
        self.use_face_contour = layer.use_face_contour
        self.num_betas, self.num_expression = layer.num_betas, layer.num_expression_coeffs
        parents = layer.parents.cpu().numpy().copy()
        parents[0] = -1
        self._parents = parents
        self._levels = _levels(parents)
        faces = layer.faces_tensor
        J_regressor = layer.J_regressor
        self.register_buffer("J_template", J_regressor @ layer.v_template)  # (55, 3)
        dirs = torch.cat([layer.shapedirs, layer.expr_dirs], dim=-1)
        self.register_buffer("J_dirs", torch.einsum("jv,vcd->djc", J_regressor, dirs).flatten(1).contiguous())
        vj = layer.vertex_joint_selector.extra_joints_idxs
        lmk_faces = faces[layer.lmk_faces_idx]  # (51, 3)
        self.register_buffer("lmk_bary", layer.lmk_bary_coords.clone())
        keypoint_ids = [vj, lmk_faces.flatten()]
        if self.use_face_contour:
            keypoint_ids.append(faces[layer.dynamic_lmk_faces_idx].flatten())
            self.register_buffer("dyn_lmk_faces", faces[layer.dynamic_lmk_faces_idx])  # (79, 17, 3)
            self.register_buffer("dyn_lmk_bary", layer.dynamic_lmk_bary_coords.clone())
        kp_ids = torch.unique(torch.cat(keypoint_ids))
        remap = torch.full((layer.v_template.shape[0],), -1, dtype=torch.long)
        remap[kp_ids] = torch.arange(len(kp_ids))
        self.register_buffer("vj_full", vj.clone())
        self.register_buffer("lmk_faces_full", lmk_faces.clone())
        self.register_buffer("vj_kp", remap[vj])
        self.register_buffer("lmk_faces_kp", remap[lmk_faces])
        self.register_buffer("remap_kp", remap)
        self.full = _VertexSet(layer, torch.arange(layer.v_template.shape[0]))
        self.kp = _VertexSet(layer, kp_ids)
        self.register_buffer("pose_mean", layer.pose_mean.clone())
        if self.use_pca:
            self.register_buffer("hand_components_l", layer.left_hand_components.clone())
            self.register_buffer("hand_components_r", layer.right_hand_components.clone())

    # ------------------------------------------------------------------ parameters
    def _batch(self, params: dict[str, torch.Tensor]) -> tuple[int, torch.dtype, torch.device]:
        for value in params.values():
            if value is not None:
                return value.shape[0], self.J_template.dtype, self.J_template.device
        return 1, self.J_template.dtype, self.J_template.device

    def _param(self, params, name, width, B, dtype, device) -> torch.Tensor:
        value = params.get(name)
        if value is None:
            return torch.zeros(B, width, dtype=dtype, device=device)
        value = value.reshape(value.shape[0], -1) if value.dim() > 2 else value
        if (
            value.dim() != 2
            or value.shape[0] != B
            or value.shape[1] > width
            or (name not in ("betas", "expression") and value.shape[1] != width)
        ):
            limit = f"<= {width}" if name in ("betas", "expression") else str(width)
            raise ValueError(f"{name}: expected ({B}, {limit}), got {tuple(value.shape)}")
        if value.shape[1] < width:
            value = torch.nn.functional.pad(value, (0, width - value.shape[1]))
        return value.to(dtype)

    def rotations(self, **params: torch.Tensor) -> torch.Tensor:
        """Joint rotation matrices (B, 55, 3, 3) from smplx-style axis-angle parameters (hand PCA and mean applied)."""
        known = {
            "global_orient",
            "body_pose",
            "left_hand_pose",
            "right_hand_pose",
            "jaw_pose",
            "leye_pose",
            "reye_pose",
        }
        unknown = set(params) - known
        if unknown:
            raise ValueError(f"unknown pose parameter(s) {sorted(unknown)}; valid: {sorted(known)}")
        B, dtype, device = self._batch(params)
        hand_width = self.num_pca_comps if self.use_pca else 3 * SMPLX_NUM_HAND_JOINTS
        lh = self._param(params, "left_hand_pose", hand_width, B, dtype, device)
        rh = self._param(params, "right_hand_pose", hand_width, B, dtype, device)
        if self.use_pca:
            lh, rh = lh @ self.hand_components_l, rh @ self.hand_components_r
        full = (
            torch.cat(
                [
                    self._param(params, "global_orient", 3, B, dtype, device),
                    self._param(params, "body_pose", 3 * SMPLX_NUM_BODY_JOINTS, B, dtype, device),
                    self._param(params, "jaw_pose", 3, B, dtype, device),
                    self._param(params, "leye_pose", 3, B, dtype, device),
                    self._param(params, "reye_pose", 3, B, dtype, device),
                    lh,
                    rh,
                ],
                dim=1,
            )
            + self.pose_mean
        )
        return axis_angle_to_matrix(full.reshape(B, SMPLX_NUM_JOINTS, 3))

    # ------------------------------------------------------------------ forward
    def forward(
        self,
        *,
        betas=None,
        expression=None,
        transl=None,
        pose_rotmats=None,
        vertices: bool = True,
        **pose: torch.Tensor,
    ) -> BodyOutput:
        """SMPL-X forward; `vertices=False` takes the keypoint path (same joints, no full-mesh skinning).

        Always in the model's dtype (float32): under a caller's autocast (a method's bf16 prediction) autocast is
        switched off around it and the inputs are cast to that dtype, so a bf16 network never poses the body in
        bf16 (a rotation rounded to 0.4% would move a hand by millimetres)."""
        device_type = self.J_template.device.type
        if torch.is_autocast_enabled(device_type):
            with torch.autocast(device_type=device_type, enabled=False):
                return self.forward(betas=betas, expression=expression, transl=transl, pose_rotmats=pose_rotmats,
                                    vertices=vertices, **pose)  # fmt: skip
        if pose_rotmats is not None:
            if pose:
                raise ValueError(f"give either pose_rotmats or axis-angle poses, not both (got {sorted(pose)})")
            if pose_rotmats.dim() != 4 or pose_rotmats.shape[1:] != (SMPLX_NUM_JOINTS, 3, 3):
                got = tuple(pose_rotmats.shape)
                raise ValueError(f"pose_rotmats: expected (B, {SMPLX_NUM_JOINTS}, 3, 3), got {got}")
            R = pose_rotmats.to(self.J_template.dtype)
        else:
            anchor = {"betas": betas, "expression": expression, "transl": transl}
            R = (
                self.rotations(**pose)
                if pose
                else self.rotations(
                    global_orient=torch.zeros(
                        self._batch(anchor)[0], 3, dtype=self.J_template.dtype, device=self.J_template.device
                    )
                )
            )
        B, dtype, device = R.shape[0], R.dtype, R.device
        shape = torch.cat(
            [
                self._param({"betas": betas}, "betas", self.num_betas, B, dtype, device),
                self._param({"expression": expression}, "expression", self.num_expression, B, dtype, device),
            ],
            dim=1,
        )
        if not vertices:
            joints = self._keypoint_path()(R, shape)
            if transl is not None:
                if transl.shape != (B, 3):
                    raise ValueError(f"transl: expected ({B}, 3), got {tuple(transl.shape)}")
                joints = joints + transl.to(dtype).unsqueeze(1)
            return BodyOutput(joints=joints, vertices=None, posed_joints=joints[:, :SMPLX_NUM_JOINTS])
        vset = self.full
        J = self.J_template + (shape @ self.J_dirs).view(B, SMPLX_NUM_JOINTS, 3)
        R_world, t_world = self._rigid(R, J)
        A_t = t_world - (R_world @ J.unsqueeze(-1)).squeeze(-1)  # x -> R_w (x - J) + t_w
        A = torch.cat([R_world.flatten(2), A_t], dim=2)  # (B, 55, 12): R row-major, then t
        S = vset.weights.shape[0]
        v = vset.v_template + (vset.shapedirs @ shape.T).view(S, 3, B)  # (S, 3, B)
        if len(vset.pose_feat):
            feat = (R[:, 1:] - torch.eye(3, dtype=dtype, device=device)).flatten(1)[:, vset.pose_feat]
            v = v.index_add(0, vset.pose_vert, (vset.posedirs @ feat.T).view(-1, 3, B))
        T = (vset.weights @ A.permute(1, 2, 0).reshape(SMPLX_NUM_JOINTS, 12 * B)).view(S, 12, B)
        posed = T[:, 9:12] + T[:, 0:9:3] * v[:, 0:1] + T[:, 1:9:3] * v[:, 1:2] + T[:, 2:9:3] * v[:, 2:3]
        posed = posed.permute(2, 0, 1)  # (B, S, 3), a view
        landmarks = torch.einsum("blfc,lf->blc", posed[:, self.lmk_faces_full], self.lmk_bary)
        parts = [t_world, posed[:, self.vj_full], landmarks]
        if self.use_face_contour:
            parts.append(self._contour(R, posed))
        joints = torch.cat(parts, dim=1)
        if transl is not None:
            if transl.shape != (B, 3):
                raise ValueError(f"transl: expected ({B}, 3), got {tuple(transl.shape)}")
            transl = transl.to(dtype)
            joints = joints + transl.unsqueeze(1)
            posed = posed + transl.unsqueeze(1)
            t_world = t_world + transl.unsqueeze(1)
        return BodyOutput(joints=joints, vertices=posed.contiguous(), posed_joints=t_world)

    def _keypoint_path(self) -> _KeypointPath:
        key = (self.J_template.device, self.J_template.dtype)
        cached = getattr(self, "_kp_path_cache", None)
        if cached is None or cached[0] != key:
            cached = (key, _KeypointPath(self))
            self._kp_path_cache = cached
        return cached[1]

    def keypoints(self, **params: torch.Tensor) -> torch.Tensor:
        """Output joints (B, 127 or 144, 3) by the keypoint path."""
        return self.forward(vertices=False, **params).joints

    def _tree_indices(self, device: torch.device) -> tuple[torch.Tensor, list[tuple[torch.Tensor, torch.Tensor]]]:
        """The parents of joints 1.. and, per tree level, (its joints, their parents) as index tensors on ``device``,
        built once per device (a numpy index would be copied to the device at every forward: a sync each)."""
        cache = self.__dict__.setdefault("_tree_index_cache", {})
        if device not in cache:
            parents = self._parents
            as_index = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.long, device=device)  # noqa: E731
            cache[device] = (as_index(parents[1:]), [(as_index(lv), as_index(parents[lv])) for lv in self._levels])
        return cache[device]

    def _rigid(self, R: torch.Tensor, J: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """World rotations (B, 55, 3, 3) and positions (B, 55, 3) of the joints, one batched step per tree level."""
        parents, levels = self._tree_indices(J.device)
        rel = J.clone()
        rel[:, 1:] = J[:, 1:] - J[:, parents]
        R_world = torch.empty_like(R)
        t_world = torch.empty_like(J)
        R_world[:, 0], t_world[:, 0] = R[:, 0], J[:, 0]
        for level, p in levels:
            Rp = R_world[:, p]
            R_world[:, level] = Rp @ R[:, level]
            t_world[:, level] = (Rp @ rel[:, level].unsqueeze(-1)).squeeze(-1) + t_world[:, p]
        return R_world, t_world

    def _contour(self, R: torch.Tensor, posed: torch.Tensor) -> torch.Tensor:
        neck_chain = self.layer.neck_kin_chain
        full_rot = R.reshape(R.shape[0], -1)  # smplx's look-up accepts rotation matrices with pose2rot=False
        idx, bary = find_dynamic_lmk_idx_and_bcoords(
            posed,
            full_rot,
            torch.arange(len(self.dyn_lmk_faces), device=R.device),
            self.dyn_lmk_bary,
            neck_chain,
            pose2rot=False,
        )
        faces = self.dyn_lmk_faces[idx]  # (B, 17, 3)
        tri = torch.gather(posed, 1, faces.flatten(1).unsqueeze(-1).expand(-1, -1, 3)).view(*faces.shape, 3)
        return torch.einsum("blfc,blf->blc", tri, bary)


def model_info(model_path: str | os.PathLike | None = None) -> dict[str, object]:
    """What `hmrbench model info` prints: which model, where, its hash, sizes and whether it is synthetic."""
    model = load_body_model(model_path)
    layer = model.layer
    src = model.source
    return {
        "model": "embedded synthetic SMPL-X-format model" if src.synthetic else "SMPL-X",
        "synthetic": src.synthetic,
        "origin": src.origin,
        "path": str(src.path),
        "sha256": src.sha256,
        "embedded_version": EMBEDDED_VERSION if src.synthetic else None,
        "vertices": int(layer.v_template.shape[0]),
        "faces": int(layer.faces_tensor.shape[0]),
        "kinematic_joints": SMPLX_NUM_JOINTS,
        "output_joints": int(model.keypoints().shape[1]),
        "shape_components": int(layer.shapedirs.shape[-1]),
        "expression_components": int(layer.expr_dirs.shape[-1]),
        "hand_pca_components": src.hand_components,
    }
