"""Properties of the named joint orders in bench.body.skeletons, checked against independent references.

The integer lists here are references transcribed from their sources (SMPLify-X's smpl_to_openpose, SPIN's
H36M->LSP subset, the SMPL-X kinematic tree), so the name-based mappings are tested against them.
"""

import numpy as np
import pytest
import torch
from smplx.joint_names import JOINT_NAMES

from bench.body import skeletons as sk

EXPECTED_LENGTHS = {
    "smplx_joints55": 55,
    "smplx_127": 127,
    "smplx_144": 144,
    "openpose_body25": 25,
    "openpose_hand21_left": 21,
    "openpose_hand21_right": 21,
    "openpose_face70": 70,
    "openpose_137": 137,
    "openpose_118": 118,
    "panoptic_joints19": 19,
    "h36m_17": 17,
    "lsp_14": 14,
    "stb_21": 21,
    "coco_wholebody_133": 133,
}
ALL = sorted(EXPECTED_LENGTHS)

# vchoutas/smplify-x: smplifyx/utils.py::smpl_to_openpose (model_type='smplx', openpose_format='coco25').
SMPLIFYX_BODY = [55, 12, 17, 19, 21, 16, 18, 20, 0, 2, 5, 8, 1, 4, 7, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65]
SMPLIFYX_LHAND = [20, 37, 38, 39, 66, 25, 26, 27, 67, 28, 29, 30, 68, 34, 35, 36, 69, 31, 32, 33, 70]
SMPLIFYX_RHAND = [21, 52, 53, 54, 71, 40, 41, 42, 72, 43, 44, 45, 73, 49, 50, 51, 74, 46, 47, 48, 75]
SMPLIFYX_FACE = list(range(76, 127))
# SPIN: 14 LSP joints (right ankle first) from the 17 H36M joints.
H36M_TO_LSP = [6, 5, 4, 1, 2, 3, 16, 15, 14, 11, 12, 13, 8, 10]
# SMPL-X kintree_table[0] (parents of the 55 joints) as stored in the model files.
SMPLX_PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 15, 15, 15,
                 20, 25, 26, 20, 28, 29, 20, 31, 32, 20, 34, 35, 20, 37, 38,
                 21, 40, 41, 21, 43, 44, 21, 46, 47, 21, 49, 50, 21, 52, 53]  # fmt: skip
# BODY_25 mirrored: R/L shoulder..wrist, hip..ankle, eyes, ears, feet swap; nose, neck, MidHip stay.
BODY25_FLIP = [0, 1, 5, 6, 7, 2, 3, 4, 8, 12, 13, 14, 9, 10, 11, 16, 15, 18, 17, 22, 23, 24, 19, 20, 21]


def test_registry_holds_exactly_the_documented_skeletons():
    assert sorted(sk.skeleton_names()) == ALL


@pytest.mark.parametrize("name", ALL)
def test_length_and_parts(name):
    skel = sk.get_skeleton(name)
    assert len(skel) == EXPECTED_LENGTHS[name] == len(skel.joints) == len(skel.parts)
    assert set(skel.parts) <= set(sk.PARTS)
    by_part = [sk.part_indices(skel, part) for part in sk.PARTS]
    assert all(idx.dtype == np.int64 for idx in by_part)
    assert sorted(np.concatenate(by_part).tolist()) == list(range(len(skel)))


@pytest.mark.parametrize("name", ALL)
def test_parents_form_a_forest(name):
    skel = sk.get_skeleton(name)
    if skel.parents is None:
        assert name == "openpose_face70"
        return
    parents = skel.parents
    assert len(parents) == len(skel) and -1 in parents
    assert all(-1 <= p < len(skel) and p != i for i, p in enumerate(parents))
    for start in range(len(skel)):
        seen, node = set(), start
        while node != -1:
            assert node not in seen, f"cycle through {skel.joints[start]}"
            seen.add(node)
            node = parents[node]


@pytest.mark.parametrize("name", ["openpose_body25", "openpose_hand21_left", "panoptic_joints19", "h36m_17",
                                  "lsp_14", "stb_21", "smplx_joints55"])
def test_tree_skeletons_have_a_single_root(name):
    assert sk.get_skeleton(name).parents.count(-1) == 1


def test_smplx_kinematic_tree_matches_the_model_files():
    assert list(sk.get_skeleton("smplx_joints55").parents) == SMPLX_PARENTS
    assert list(sk.get_skeleton("smplx_127").parents[:55]) == SMPLX_PARENTS


def test_named_parents():
    body25 = sk.get_skeleton("openpose_body25")
    assert body25.parents[body25.index("neck")] == body25.index("pelvis")
    assert body25.parents[body25.index("left_small_toe")] == body25.index("left_big_toe")
    smplx127 = sk.get_skeleton("smplx_127")
    assert smplx127.parents[smplx127.index("left_index")] == smplx127.index("left_index3")
    assert smplx127.parents[smplx127.index("nose")] == smplx127.index("head")
    stb = sk.get_skeleton("stb_21")
    assert stb.parents[stb.index("left_thumb1")] == stb.index("left_palm")
    op137 = sk.get_skeleton("openpose_137")  # hand chains hang off the HAND block's wrist, not the body's
    assert op137.parents[op137.index("left_thumb1")] == op137.index("left_wrist") + 18
    assert all(op137.parents[i] == -1 for i in sk.part_indices(op137, "face"))


@pytest.mark.parametrize("name", ALL)
def test_flip_is_an_involution_mapping_left_to_right(name):
    skel = sk.get_skeleton(name)
    perm = skel.flip_permutation
    assert perm.dtype == np.int64 and perm.shape == (len(skel),)
    np.testing.assert_array_equal(perm[perm], np.arange(len(skel)))
    for i, j in enumerate(perm):
        a, b = skel.joints[i], skel.joints[j]
        if i != j:
            assert {a.split("_", 1)[0], b.split("_", 1)[0]} == {"left", "right"}
            assert a.split("_", 1)[1] == b.split("_", 1)[1]
            assert skel.parts[i].replace("left", "right") == skel.parts[j].replace("left", "right")
    for left, right in skel.flip_pairs:
        assert skel.joints[left].startswith("left_") and skel.joints[right].startswith("right_")


def test_flip_references():
    np.testing.assert_array_equal(sk.get_skeleton("openpose_body25").flip_permutation, BODY25_FLIP)
    face = sk.get_skeleton("openpose_face70")  # iBUG mirror: contour 0<->16, brows 17<->26, eyes 36<->45
    perm = face.flip_permutation
    assert (perm[0], perm[8], perm[17], perm[36], perm[39], perm[48], perm[68]) == (16, 8, 26, 45, 42, 54, 69)
    assert sk.get_skeleton("openpose_hand21_left").flip_pairs == ()
    op137 = sk.get_skeleton("openpose_137")
    np.testing.assert_array_equal(op137.flip_permutation[sk.part_indices(op137, "left_hand")],
                                  sk.part_indices(op137, "right_hand"))


@pytest.mark.parametrize("name", ALL)
def test_identity_mapping(name):
    index, valid = sk.mapping(name, name)
    skel = sk.get_skeleton(name)
    first = [skel.index(n) for n in skel.joints]  # duplicated names map to their first occurrence
    assert index.dtype == np.int64 and valid.dtype == bool and valid.all()
    np.testing.assert_array_equal(index, first)
    if len(set(skel.joints)) == len(skel):
        np.testing.assert_array_equal(index, np.arange(len(skel)))


def test_smplify_x_correspondences():
    index, valid = sk.mapping("smplx_127", "openpose_118")
    assert valid.all()
    assert index.tolist() == SMPLIFYX_BODY + SMPLIFYX_LHAND + SMPLIFYX_RHAND + SMPLIFYX_FACE
    for hand, ref in (("left", SMPLIFYX_LHAND), ("right", SMPLIFYX_RHAND)):
        index, valid = sk.mapping("smplx_144", f"openpose_hand21_{hand}")
        assert valid.all() and index.tolist() == ref
    index, valid = sk.mapping("smplx_144", "openpose_face70")
    assert index[17:68].tolist() == SMPLIFYX_FACE and index[:17].tolist() == list(range(127, 144))
    assert valid[:68].all() and not valid[68:].any()  # no pupils in SMPL-X


def test_h36m_to_lsp():
    index, valid = sk.mapping("h36m_17", "lsp_14")
    assert valid.all() and index.tolist() == H36M_TO_LSP


def test_smplx_names_equal_the_smplx_package():
    assert sk.get_skeleton("smplx_127").joints == tuple(JOINT_NAMES[:127])
    assert sk.get_skeleton("smplx_144").joints == tuple(JOINT_NAMES[:144])
    assert sk.get_skeleton("smplx_joints55").joints == tuple(JOINT_NAMES[: sk.SMPLX_NUM_JOINTS])
    coco_face = sk.get_skeleton("coco_wholebody_133").joints[23:91]
    assert coco_face == tuple(JOINT_NAMES[127:144] + JOINT_NAMES[76:127])


def test_cross_dataset_conventions():
    op = sk.get_skeleton("openpose_body25")
    assert op.index("pelvis") == 8 and op.index("neck") == 1
    face = sk.get_skeleton("openpose_face70")
    assert (face.index("right_pupil"), face.index("left_pupil")) == (68, 69)
    assert face.index("right_contour_1") == 0 and face.index("right_eye_brow1") == 17
    pan = sk.get_skeleton("panoptic_joints19")
    assert pan.index("pelvis") == 2 and pan.index("neck") == 0
    index, valid = sk.mapping("h36m_17", "lsp_14")  # LSP neck = H36M thorax, LSP head top = H36M head top
    assert index[sk.get_skeleton("lsp_14").index("thorax")] == 8
    index, valid = sk.mapping("openpose_body25", "lsp_14")  # OpenPose neck is not the thorax: invalid
    assert valid.sum() == 12 and not valid[12:].any()
    index, valid = sk.mapping("stb_21", "openpose_hand21_left")  # palm centre is not the wrist
    assert valid.tolist() == [False] + [True] * 20
    assert index[1:5].tolist() == [17, 18, 19, 20]  # OpenPose thumb <- STB's last finger


def test_part_indices():
    op137 = sk.get_skeleton("openpose_137")
    np.testing.assert_array_equal(sk.part_indices("openpose_137", "left_hand"), np.arange(25, 46))
    np.testing.assert_array_equal(sk.part_indices(op137, "face"), np.arange(67, 137))
    smplx55 = sk.get_skeleton("smplx_joints55")
    assert len(sk.part_indices(smplx55, "left_hand")) == sk.SMPLX_NUM_HAND_JOINTS
    assert len(sk.part_indices(smplx55, "body")) == sk.SMPLX_NUM_BODY_JOINTS + 1  # + pelvis
    with pytest.raises(ValueError, match="left_hand"):
        sk.part_indices(op137, "hands")


def test_convert_numpy_batched_zero_fills():
    rng = np.random.default_rng(0)
    kps = rng.normal(size=(2, 3, 25, 3)).astype(np.float32)
    kps[..., 0, :] = np.nan  # index 0 is the placeholder for missing joints: it must not leak
    out, valid = sk.convert(kps, "openpose_body25", "lsp_14")
    assert out.shape == (2, 3, 14, 3) and out.dtype == np.float32 and isinstance(valid, np.ndarray)
    lsp, op = sk.get_skeleton("lsp_14"), sk.get_skeleton("openpose_body25")
    for j, name in enumerate(lsp.joints):
        if valid[j]:
            np.testing.assert_array_equal(out[..., j, :], kps[..., op.index(name), :])
        else:
            assert (out[..., j, :] == 0).all()
    assert not valid.all()


def test_convert_torch_matches_numpy_and_keeps_grad():
    kps = torch.randn(4, 137, 3, dtype=torch.float64, requires_grad=True)
    out, valid = sk.convert(kps, "openpose_137", "coco_wholebody_133")
    ref, ref_valid = sk.convert(kps.detach().numpy(), "openpose_137", "coco_wholebody_133")
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float64 and valid.dtype == torch.bool
    np.testing.assert_array_equal(valid.numpy(), ref_valid)
    np.testing.assert_array_equal(out.detach().numpy(), ref)
    out.sum().backward()
    assert kps.grad.sum() > 0
    # COCO has no neck and no mid-hip; the OpenPose left hand block fills COCO's left hand, except the wrist,
    # which takes the first 'left_wrist' of the source: the BODY_25 one
    assert valid.sum() == 17 + 6 + 68 + 42
    np.testing.assert_array_equal(out[:, 92:112].detach(), kps[:, 26:46].detach())
    np.testing.assert_array_equal(out[:, 91].detach(), kps[:, 7].detach())


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_convert_wrong_shape_names_the_expected_shape(kind):
    kps = np.zeros((4, 24, 3)) if kind == "numpy" else torch.zeros(4, 24, 3)
    with pytest.raises(ValueError, match=r"expected \(\.\.\., 25, C\), got \(4, 24, 3\)"):
        sk.convert(kps, "openpose_body25", "h36m_17")
    with pytest.raises(ValueError, match=r"expected \(\.\.\., 25, C\)"):
        sk.convert(kps[0, 0], "openpose_body25", "h36m_17")


def test_unknown_names():
    with pytest.raises(ValueError, match="openpose_body25") as info:
        sk.get_skeleton("openpose_body_25")
    assert all(name in str(info.value) for name in ALL)
    with pytest.raises(KeyError, match="left_wrist"):
        sk.get_skeleton("h36m_17").index("left_wirst")


def test_mapping_returns_fresh_arrays():
    index, valid = sk.mapping("h36m_17", "lsp_14")
    index[:] = 0
    valid[:] = False
    again, again_valid = sk.mapping("h36m_17", "lsp_14")
    assert again.tolist() == H36M_TO_LSP and again_valid.all()


def test_skeleton_rejects_cycles_and_bad_parts():
    with pytest.raises(ValueError, match="cycle"):
        sk.Skeleton("bad", ("a", "b"), (1, 0))
    with pytest.raises(ValueError, match="parts"):
        sk.Skeleton("bad", ("a", "b"), None, ("body", "torso"))
    assert sk.Skeleton("ok", ("a", "b"), (-1, 0)).parts == ("body", "body")
