"""The embedded SMPL-X-format model: loads unmodified through `smplx`, is deterministic, well formed, closed,
anatomically plausible, and its shape, expression and hand-PCA components do what their names claim.

Frame: SMPL-X body frame, y up, x towards the subject's left, z forwards, metres. Joints are looked up by name
in `bench.body.skeletons` ('smplx_127' output joints); no joint index is written here.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import smplx
import torch
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from smplx.vertex_ids import vertex_ids as SMPLX_VERTEX_IDS

from bench.body.body_model import load_body_model
from bench.body.embedded import build_arrays, embedded_model_dir, npz_bytes
from bench.body.embedded.anatomy import SHAPE_COMPONENTS
from bench.body.embedded.face import EXPRESSIONS
from bench.body.skeletons import SMPLX_NUM_JOINTS, get_skeleton

NUM_VERTICES = 10_475
OUT = get_skeleton("smplx_127")
SIDES = ("left", "right")
FINGERS = ("thumb", "index", "middle", "ring", "pinky")
SHAPE_NAMES = [name for name, _ in SHAPE_COMPONENTS]
# smplx's hard-coded vertex-joint keys (smplx/vertex_ids.py) -> our output-joint names
VERTEX_JOINT_NAMES = {
    "nose": "nose", "reye": "right_eye", "leye": "left_eye", "rear": "right_ear", "lear": "left_ear",
    "LBigToe": "left_big_toe", "LSmallToe": "left_small_toe", "LHeel": "left_heel",
    "RBigToe": "right_big_toe", "RSmallToe": "right_small_toe", "RHeel": "right_heel",
    **{f"{s[0]}{finger}": f"{s}_{finger}" for s in SIDES for finger in FINGERS},
}


def ix(name: str) -> int:
    return OUT.index(name)


def at(joints: torch.Tensor, name: str) -> np.ndarray:
    """Position (3,) of output joint `name` in a (1, J, 3) or (J, 3) tensor, float64 numpy."""
    j = joints[0] if joints.dim() == 3 else joints
    return j[ix(name)].detach().double().numpy()


def x(joints, name):
    return at(joints, name)[0]


def y(joints, name):
    return at(joints, name)[1]


def z(joints, name):
    return at(joints, name)[2]


def _all_pose_params(batch: int, seed: int, *, hand_dim: int = 6) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)

    def r(*shape, scale=0.2):
        return scale * torch.randn(batch, *shape, generator=gen)

    return {
        "betas": r(10, scale=1.0), "expression": r(10, scale=1.0), "global_orient": r(3), "body_pose": r(63),
        "left_hand_pose": r(hand_dim, scale=0.5), "right_hand_pose": r(hand_dim, scale=0.5), "jaw_pose": r(3),
        "leye_pose": r(3), "reye_pose": r(3), "transl": r(3, scale=1.0),
    }


@pytest.fixture(scope="module")
def rest(flat_body_model) -> tuple[torch.Tensor, torch.Tensor]:
    """Rest-pose (joints (1, 127, 3), vertices (1, V, 3)) from the stock smplx forward with zero parameters."""
    with torch.no_grad():
        out = flat_body_model.layer(return_verts=True)
    return out.joints, out.vertices


# ---------------------------------------------------------------- loading through smplx, unmodified


@pytest.mark.parametrize("use_face_contour, num_joints", [(False, 127), (True, 144)])
def test_npz_loads_unmodified_through_smplx_SMPLX(embedded_npz, use_face_contour, num_joints):
    layer = smplx.SMPLX(str(embedded_npz), use_face_contour=use_face_contour)
    with torch.no_grad():
        out = layer(**_all_pose_params(3, seed=0), return_verts=True)
    assert out.vertices.shape == (3, NUM_VERTICES, 3)
    assert out.joints.shape == (3, num_joints, 3)
    assert torch.isfinite(out.vertices).all() and torch.isfinite(out.joints).all()
    # the three samples differ: the batch was really used
    assert (out.vertices[0] - out.vertices[1]).abs().max() > 1e-3


def test_model_dir_loads_through_smplx_create(embedded_cache, embedded_npz):
    folder = embedded_model_dir(embedded_cache)
    assert folder / "smplx" / "SMPLX_NEUTRAL.npz" == embedded_npz
    layer = smplx.create(str(folder), model_type="smplx")
    assert isinstance(layer, smplx.SMPLX)
    with torch.no_grad():
        out = layer(**_all_pose_params(3, seed=1), return_verts=True)
    assert out.vertices.shape == (3, NUM_VERTICES, 3)
    assert out.joints.shape == (3, 127, 3)
    assert torch.isfinite(out.joints).all()


# ---------------------------------------------------------------- determinism


def test_build_is_byte_identical_and_matches_the_cached_file(embedded_npz):
    first = npz_bytes(build_arrays())
    second = npz_bytes(build_arrays())
    assert first == second
    assert embedded_npz.read_bytes() == first


_SHA_SCRIPT = (
    "import hashlib; from bench.body.embedded import embedded_model_dir; "
    "p = embedded_model_dir() / 'smplx' / 'SMPLX_NEUTRAL.npz'; print(hashlib.sha256(p.read_bytes()).hexdigest())"
)


def test_build_is_deterministic_across_processes(tmp_path, embedded_npz):
    """A fresh process (other hash seed) building into a fresh cache writes the session's file, bit for bit."""
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "HMRBENCH_CACHE": str(tmp_path / "fresh-cache"), "PYTHONHASHSEED": "12345",
           "PYTHONPATH": str(repo)}
    env.pop("SMPLX_MODEL_PATH", None)
    done = subprocess.run([sys.executable, "-c", _SHA_SCRIPT], env=env, cwd=repo, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    digest = done.stdout.strip().splitlines()[-1]
    assert (tmp_path / "fresh-cache").is_dir()
    assert len(digest) == 64
    assert digest == hashlib.sha256(embedded_npz.read_bytes()).hexdigest()


# ---------------------------------------------------------------- keys, shapes, normalisation


def test_required_keys_and_shapes(embedded_arrays):
    a = embedded_arrays
    V = NUM_VERTICES
    expected = {
        "v_template": (V, 3), "J_regressor": (SMPLX_NUM_JOINTS, V), "weights": (V, SMPLX_NUM_JOINTS),
        "kintree_table": (2, SMPLX_NUM_JOINTS), "posedirs": (V, 3, 9 * (SMPLX_NUM_JOINTS - 1)),
        "hands_componentsl": (45, 45), "hands_componentsr": (45, 45), "hands_meanl": (45,), "hands_meanr": (45,),
        "lmk_faces_idx": (51,), "lmk_bary_coords": (51, 3),
    }
    for key, shape in expected.items():
        assert key in a, key
        assert a[key].shape == shape, (key, a[key].shape)
    assert a["f"].ndim == 2 and a["f"].shape[1] == 3 and np.issubdtype(a["f"].dtype, np.integer)
    assert a["shapedirs"].shape[:2] == (V, 3) and a["shapedirs"].shape[2] >= 20
    n_contour = a["dynamic_lmk_faces_idx"].shape[0]
    assert a["dynamic_lmk_faces_idx"].shape == (n_contour, 17)
    assert a["dynamic_lmk_bary_coords"].shape == (n_contour, 17, 3)
    for key in ("v_template", "J_regressor", "weights", "shapedirs", "posedirs", "lmk_bary_coords"):
        assert a[key].dtype == np.float32, key
        assert np.isfinite(a[key]).all(), key
    from smplx.joint_names import JOINT_NAMES

    assert tuple(a["joint_names"]) == tuple(JOINT_NAMES[:SMPLX_NUM_JOINTS])


def test_regressor_weights_and_barycentric_rows_are_normalised(embedded_arrays):
    a = embedded_arrays
    np.testing.assert_allclose(a["J_regressor"].sum(axis=1, dtype=np.float64), 1.0, atol=1e-5)
    np.testing.assert_allclose(a["weights"].sum(axis=1, dtype=np.float64), 1.0, atol=1e-5)
    assert a["weights"].min() >= 0.0
    for key in ("lmk_bary_coords", "dynamic_lmk_bary_coords"):
        np.testing.assert_allclose(a[key].sum(axis=-1, dtype=np.float64), 1.0, atol=1e-5, err_msg=key)
        assert a[key].min() >= 0.0, (key, a[key].min())


def test_face_indices_are_valid(embedded_arrays):
    f = embedded_arrays["f"]
    assert f.min() >= 0 and f.max() < NUM_VERTICES
    assert (f[:, 0] != f[:, 1]).all() and (f[:, 1] != f[:, 2]).all() and (f[:, 0] != f[:, 2]).all()
    assert len(np.unique(f)) == NUM_VERTICES, "every vertex belongs to a face"
    n_faces = len(f)
    for key in ("lmk_faces_idx", "dynamic_lmk_faces_idx"):
        idx = embedded_arrays[key]
        assert idx.min() >= 0 and idx.max() < n_faces, key


def test_kintree_is_the_smplx_tree(embedded_arrays):
    kintree = embedded_arrays["kintree_table"]
    assert kintree[0].tolist() == list(get_skeleton("smplx_joints55").parents)
    assert kintree[1].tolist() == list(range(SMPLX_NUM_JOINTS))


@pytest.mark.parametrize("key", ["hands_componentsl", "hands_componentsr"])
def test_hand_components_are_orthonormal(embedded_arrays, key):
    C = embedded_arrays[key].astype(np.float64)
    np.testing.assert_allclose(C @ C.T, np.eye(45), atol=1e-5)


def test_at_least_ten_shape_and_ten_expression_components(embedded_arrays, body_model):
    dirs = embedded_arrays["shapedirs"]
    norms = np.linalg.norm(dirs.reshape(-1, dirs.shape[2]), axis=0)
    assert dirs.shape[2] >= 20
    assert (norms[:20] > 1e-3).all(), f"empty components: {np.flatnonzero(norms[:20] <= 1e-3)}"
    assert body_model.layer.shapedirs.shape[-1] == 10
    assert body_model.layer.expr_dirs.shape[-1] == 10
    assert [str(s) for s in embedded_arrays["hmrbench_shape_components"]] == SHAPE_NAMES


# ---------------------------------------------------------------- surface


def _directed_edges(f: np.ndarray) -> np.ndarray:
    return np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])


def test_surface_is_closed_and_consistently_oriented(embedded_arrays):
    f = embedded_arrays["f"]
    directed = _directed_edges(f)
    _, directed_counts = np.unique(directed, axis=0, return_counts=True)
    assert directed_counts.max() == 1, f"{(directed_counts > 1).sum()} directed edges used by several faces"
    _, undirected_counts = np.unique(np.sort(directed, axis=1), axis=0, return_counts=True)
    bad = undirected_counts != 2
    assert not bad.any(), f"{bad.sum()} edges not shared by exactly two faces (counts {np.unique(undirected_counts)})"


def test_every_closed_part_faces_outwards(embedded_arrays):
    """Each connected part encloses a positive signed volume: normals point out (counter-clockwise faces)."""
    f, v = embedded_arrays["f"], embedded_arrays["v_template"].astype(np.float64)
    edges = _directed_edges(f)
    graph = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(NUM_VERTICES, NUM_VERTICES))
    n_parts, label = connected_components(graph, directed=False)
    tri = v[f]
    signed = np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])) / 6.0
    volumes = np.bincount(label[f[:, 0]], weights=signed, minlength=n_parts)
    assert (volumes > 0).all(), f"parts with inward normals: {np.flatnonzero(volumes <= 0)} of {n_parts}"
    assert 0.04 < volumes.sum() < 0.10, f"body volume {volumes.sum():.4f} m^3 is not an adult's"


def test_no_degenerate_faces(embedded_arrays):
    f, v = embedded_arrays["f"], embedded_arrays["v_template"].astype(np.float64)
    tri = v[f]
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    assert area.min() > 1e-9, f"smallest face area {area.min():.3g} m^2 (face {area.argmin()})"


# ---------------------------------------------------------------- anatomy in the rest pose


def test_rest_pose_is_the_template(flat_body_model, rest):
    _, verts = rest
    torch.testing.assert_close(verts[0], flat_body_model.layer.v_template, rtol=0, atol=1e-6)


def test_head_and_face_layout(rest):
    J, _ = rest
    assert z(J, "nose") > z(J, "neck") and y(J, "nose") > y(J, "neck")
    for side in SIDES:
        assert y(J, f"{side}_eye") > y(J, "nose")
        assert abs(x(J, f"{side}_ear")) > abs(x(J, f"{side}_eye"))
        assert z(J, f"{side}_ear") < z(J, "nose")
    assert x(J, "left_eye") > 0 > x(J, "right_eye")
    assert x(J, "left_ear") > 0 > x(J, "right_ear")
    assert y(J, "head") > y(J, "neck") > y(J, "pelvis")


@pytest.mark.parametrize("part", ["shoulder", "elbow", "wrist", "hip", "knee", "ankle", "collar", "foot"])
def test_left_is_positive_x(rest, part):
    J, _ = rest
    assert x(J, f"left_{part}") > 0 > x(J, f"right_{part}")


@pytest.mark.parametrize("side", SIDES)
def test_legs_and_feet(rest, side):
    J, _ = rest
    assert y(J, f"{side}_knee") < y(J, f"{side}_hip")
    assert y(J, f"{side}_ankle") < y(J, f"{side}_knee")
    assert z(J, f"{side}_heel") < z(J, f"{side}_ankle") and y(J, f"{side}_heel") < y(J, f"{side}_ankle")
    assert z(J, f"{side}_big_toe") > z(J, f"{side}_ankle")
    assert z(J, f"{side}_small_toe") > z(J, f"{side}_ankle")
    assert abs(x(J, f"{side}_big_toe")) < abs(x(J, f"{side}_small_toe"))


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("finger", FINGERS)
def test_fingertips_lie_beyond_their_joints(rest, side, finger):
    J, _ = rest
    tip = abs(x(J, f"{side}_{finger}"))
    for k in (1, 2, 3):
        assert tip > abs(x(J, f"{side}_{finger}{k}")), f"{side}_{finger} vs {side}_{finger}{k}"
    assert tip > abs(x(J, f"{side}_wrist"))
    # the chain itself runs outwards: base -> tip
    chain = [abs(x(J, f"{side}_{finger}{k}")) for k in (1, 2, 3)] + [tip]
    assert chain == sorted(chain), chain


@pytest.mark.parametrize("side", SIDES)
def test_thumb_tip_is_ahead_of_the_index_tip(rest, side):
    J, _ = rest
    assert z(J, f"{side}_thumb") > z(J, f"{side}_index")


def test_stature_and_arm_span(rest):
    J, V = rest
    v = V[0].double().numpy()
    stature = v[:, 1].max() - v[:, 1].min()
    assert 1.6 < stature < 1.8, stature
    # the lowest point is a foot: below both ankles
    assert v[:, 1].min() < min(y(J, "left_ankle"), y(J, "right_ankle"))
    span = v[:, 0].max() - v[:, 0].min()
    assert abs(span / stature - 1.0) < 0.10, (span, stature)


def test_face_landmarks_layout(rest):
    J, _ = rest
    brows = [f"{s}_eye_brow{k}" for s in SIDES for k in range(1, 6)]
    eyes = [f"{s}_eye{k}" for s in SIDES for k in range(1, 7)]
    assert min(y(J, n) for n in brows) > max(y(J, n) for n in eyes)
    assert min(y(J, n) for n in eyes) > y(J, "nose4")
    assert y(J, "nose4") > y(J, "mouth_top") > y(J, "mouth_bottom")
    assert y(J, "right_eye_brow3") > y(J, "right_eye1") > y(J, "nose4") > y(J, "mouth_top")
    mouth = ["mouth_top", "mouth_bottom", "right_mouth_1", "left_mouth_1", "lip_top", "lip_bottom"]
    assert min(z(J, n) for n in mouth) > max(z(J, "left_ear"), z(J, "right_ear"))
    # the landmarks lie on the face's left/right sides as named
    assert x(J, "left_mouth_1") > 0 > x(J, "right_mouth_1")
    assert x(J, "left_eye_brow3") > 0 > x(J, "right_eye_brow3")


def test_vertex_joints_sit_on_smplx_vertex_ids(flat_body_model, rest):
    assert set(VERTEX_JOINT_NAMES) == set(SMPLX_VERTEX_IDS["smplx"])
    J, _ = rest
    template = flat_body_model.layer.v_template
    for key, vid in SMPLX_VERTEX_IDS["smplx"].items():
        torch.testing.assert_close(J[0, ix(VERTEX_JOINT_NAMES[key])], template[vid], rtol=0, atol=1e-6,
                                   msg=f"{key} (vertex {vid})")
    # and in a posed body, the vertex joint follows its vertex
    with torch.no_grad():
        out = flat_body_model.layer(**_all_pose_params(1, seed=3), return_verts=True)
    for key, vid in SMPLX_VERTEX_IDS["smplx"].items():
        torch.testing.assert_close(out.joints[0, ix(VERTEX_JOINT_NAMES[key])], out.vertices[0, vid], rtol=0, atol=1e-6)


# ---------------------------------------------------------------- shape and expression components


def _forward(model, **params):
    with torch.no_grad():
        return model.layer(return_verts=True, **params)


def _one_hot(index: int, value: float, width: int = 10) -> torch.Tensor:
    out = torch.zeros(1, width)
    out[0, index] = value
    return out


def _height(vertices: torch.Tensor) -> float:
    return float(vertices[0, :, 1].max() - vertices[0, :, 1].min())


def test_stature_beta_makes_the_body_taller(flat_body_model, rest):
    _, V0 = rest
    k = SHAPE_NAMES.index("stature")
    taller = _height(_forward(flat_body_model, betas=_one_hot(k, 2.0)).vertices)
    shorter = _height(_forward(flat_body_model, betas=_one_hot(k, -2.0)).vertices)
    assert taller > _height(V0) + 0.05 > shorter + 0.10, (shorter, _height(V0), taller)


def test_girth_beta_widens_the_waist(flat_body_model, rest):
    J0, V0 = rest
    near = (V0[0, :, 1] - y(J0, "spine1")).abs() < 0.01  # vertices around the spine1 height: the waist
    assert near.sum() >= 20

    def waist(vertices):
        ring = vertices[0, near][:, [0, 2]].double()
        return float((ring - ring.mean(0)).norm(dim=1).mean())

    k = SHAPE_NAMES.index("girth")
    base = waist(V0)
    assert waist(_forward(flat_body_model, betas=_one_hot(k, 2.0)).vertices) > base + 0.005
    assert waist(_forward(flat_body_model, betas=_one_hot(k, -2.0)).vertices) < base - 0.005


def test_arm_length_beta_lengthens_the_arms(flat_body_model, rest):
    J0, _ = rest
    k = SHAPE_NAMES.index("arm_length")
    J = _forward(flat_body_model, betas=_one_hot(k, 2.0)).joints
    for side in SIDES:
        before = np.linalg.norm(at(J0, f"{side}_wrist") - at(J0, f"{side}_shoulder"))
        after = np.linalg.norm(at(J, f"{side}_wrist") - at(J, f"{side}_shoulder"))
        assert after > before + 0.01, (side, before, after)


@pytest.mark.parametrize("name", SHAPE_NAMES)
def test_no_single_beta_moves_the_pelvis(flat_body_model, rest, name):
    J0, _ = rest
    k = SHAPE_NAMES.index(name)
    for value in (2.0, -2.0):
        J = _forward(flat_body_model, betas=_one_hot(k, value)).joints
        np.testing.assert_allclose(at(J, "pelvis"), at(J0, "pelvis"), atol=1e-6, err_msg=f"{name}={value}")


def _landmarks(model, **params) -> torch.Tensor:
    return _forward(model, **params).joints


def _mouth_gap(J) -> float:
    return float(np.linalg.norm(at(J, "mouth_top") - at(J, "mouth_bottom")))


def test_mouth_open_expression_opens_the_mouth(flat_body_model, rest):
    J0, _ = rest
    J = _landmarks(flat_body_model, expression=_one_hot(EXPRESSIONS.index("mouth_open"), 2.0))
    assert _mouth_gap(J) > _mouth_gap(J0) + 0.005, (_mouth_gap(J0), _mouth_gap(J))


def test_brow_raise_expression_raises_the_brows(flat_body_model, rest):
    J0, _ = rest
    brows = [f"{s}_eye_brow{k}" for s in SIDES for k in range(1, 6)]
    eyes = [f"{s}_eye{k}" for s in SIDES for k in range(1, 7)]

    def brow_height(J):
        return np.mean([y(J, n) for n in brows]) - np.mean([y(J, n) for n in eyes])

    J = _landmarks(flat_body_model, expression=_one_hot(EXPRESSIONS.index("brow_raise"), 2.0))
    assert brow_height(J) > brow_height(J0) + 0.002, (brow_height(J0), brow_height(J))


def test_smile_expression_raises_the_mouth_corners(flat_body_model, rest):
    J0, _ = rest
    J = _landmarks(flat_body_model, expression=_one_hot(EXPRESSIONS.index("smile"), 2.0))
    for corner in ("right_mouth_1", "left_mouth_1"):
        assert y(J, corner) > y(J0, corner) + 0.002, corner


def test_positive_jaw_rotation_about_x_opens_the_mouth(flat_body_model, rest):
    J0, _ = rest
    J = _landmarks(flat_body_model, jaw_pose=torch.tensor([[0.3, 0.0, 0.0]]))
    assert _mouth_gap(J) > _mouth_gap(J0) + 0.005, (_mouth_gap(J0), _mouth_gap(J))
    assert y(J, "mouth_bottom") < y(J0, "mouth_bottom") - 0.005  # the lower lip drops
    np.testing.assert_allclose(at(J, "mouth_top"), at(J0, "mouth_top"), atol=1e-3)  # the upper lip stays


# ---------------------------------------------------------------- hand PCA


@pytest.fixture(scope="module")
def pca_model(body_model):
    return load_body_model(use_pca=True, num_pca_comps=6, flat_hand_mean=True)


def _hand_joints(model, coefficient: float) -> torch.Tensor:
    hand = _one_hot(0, coefficient, width=6)
    return _forward(model, left_hand_pose=hand, right_hand_pose=hand).joints


def _tip_to_wrist(J, side: str = "left") -> float:
    return float(np.mean([np.linalg.norm(at(J, f"{side}_{f}") - at(J, f"{side}_wrist")) for f in FINGERS]))


def _tip_height_over_wrist(J, side: str = "left") -> float:
    """Mean fingertip height above the wrist (y); the rest-pose palm faces -y, so curling lowers it."""
    return float(np.mean([y(J, f"{side}_{f}") - y(J, f"{side}_wrist") for f in FINGERS]))


def test_first_hand_component_moves_the_fingertips(pca_model):
    rest_distance = _tip_to_wrist(_hand_joints(pca_model, 0.0))
    for coefficient in (2.0, -2.0):
        change = _tip_to_wrist(_hand_joints(pca_model, coefficient)) - rest_distance
        assert abs(change) > 0.01, (coefficient, change)


def test_first_hand_component_is_flexion_dominated(embedded_arrays, rest):
    """Most of the first component's energy lies along the fingers' flexion axes (finger direction x palm normal)."""
    J, _ = rest
    palm_normal = np.array([0.0, -1.0, 0.0])  # T-pose, palms down
    component = embedded_arrays["hands_componentsl"][0].astype(np.float64).reshape(5, 3, 3)  # (finger, joint, xyz)
    # smplx hand joint order of the fingers: index, middle, pinky, ring, thumb
    order = ("index", "middle", "pinky", "ring", "thumb")
    along = 0.0
    for k, finger in enumerate(order):
        direction = at(J, f"left_{finger}") - at(J, f"left_{finger}1")
        axis = np.cross(direction / np.linalg.norm(direction), palm_normal)
        axis /= np.linalg.norm(axis)
        along += float(((component[k] @ axis) ** 2).sum())
    assert along / float((component**2).sum()) > 0.6, along


def test_positive_first_hand_component_curls_the_fingers(pca_model):
    rest_height = _tip_height_over_wrist(_hand_joints(pca_model, 0.0))
    curled = _hand_joints(pca_model, 2.0)
    assert _tip_height_over_wrist(curled) < rest_height - 0.01
    assert _tip_to_wrist(curled) < _tip_to_wrist(_hand_joints(pca_model, 0.0)) - 0.01


@pytest.mark.parametrize("coefficients", [[2.0, 0, 0, 0, 0, 0], [-1.0, 0.7, -0.5, 1.2, 0.3, -0.8]])
def test_right_hand_mirrors_the_left(pca_model, coefficients):
    hand = torch.tensor([coefficients])
    J = _forward(pca_model, left_hand_pose=hand, right_hand_pose=hand).joints
    mirror = np.array([-1.0, 1.0, 1.0])
    names = [f"{f}{k}" for f in FINGERS for k in (1, 2, 3)] + list(FINGERS) + ["wrist"]
    for name in names:
        np.testing.assert_allclose(at(J, f"right_{name}") * mirror, at(J, f"left_{name}"), atol=1e-3, err_msg=name)
