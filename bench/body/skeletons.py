"""Named joint orders (skeletons) and name-based conversion between them.

This module is the project's single source of joint indices: every other module asks for an index by
name (``get_skeleton("openpose_body25").index("left_wrist")``), for a part (``part_indices``) or for a whole
mapping (``mapping`` / ``convert``), never by integer literal.

Conventions
-----------
- One vocabulary of joint names shared by all skeletons, so that mappings are computed from names alone.
  The vocabulary is SMPL-X's (``smplx.joint_names.JOINT_NAMES``) wherever a dataset point is the same point
  by the field's convention, i.e. the correspondences of SMPLify-X's ``smpl_to_openpose`` (OpenPose MidHip <-
  SMPL-X pelvis, Neck <- neck, REye <- right_eye vertex joint, hand CMC/MCP/IP/tip <- thumb1/2/3/thumb, ...).
  Points with no SMPL-X counterpart get names of their own: 'thorax' (H36M thorax = LSP neck, SPIN's
  convention), 'h36m_spine', 'h36m_head', 'head_top', 'left_palm' (STB palm centre), 'right_pupil' and
  'left_pupil'.
- 'left'/'right' are the subject's own sides. Left/right pairs come from names: 'left_X' pairs with 'right_X'.
- Whole-body layouts concatenate blocks, so a name may occur twice (OpenPose body wrist and hand wrist are
  both 'left_wrist'). ``Skeleton.index`` and ``mapping`` use the FIRST occurrence in the source; flipping
  pairs the k-th 'left_X' with the k-th 'right_X', so each block flips onto its mirror block.
- Parents: index of each joint's parent, -1 for a root. Trees are per block; a whole-body layout is a forest
  (each hand block keeps its wrist as a root). Face points have no tree: a face-only skeleton has
  ``parents=None``, and in a combined layout every face point is a root (-1). In 'smplx_127'/'smplx_144' the
  first 55 joints carry the SMPL-X kinematic tree; the 21 vertex joints hang off the joint they sit on (nose,
  eyes, ears -> head; toes -> foot; heel -> ankle; fingertip -> last phalanx). Parents need not precede their
  children (BODY_25 is rooted at MidHip, index 8); the trees are acyclic.
- Parts: each joint belongs to one of ``PARTS`` ('body', 'left_hand', 'right_hand', 'face') by the block it
  came from. SMPL-X wrists and body-keypoint nose/eyes/ears are 'body'; SMPL-X jaw and eyeball joints are
  'face'; OpenPose hand wrists and all fingertips are hand joints.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
import torch

SMPLX_NUM_JOINTS = 55  # kinematic joints: pelvis + 21 body + jaw + 2 eyes + 2 x 15 hand
SMPLX_NUM_BODY_JOINTS = 21  # body_pose joints (pelvis excluded: it is the global orientation)
SMPLX_NUM_HAND_JOINTS = 15  # per hand

PARTS = ("body", "left_hand", "right_hand", "face")


@dataclass(frozen=True)
class Skeleton:
    """A named joint order.

    Attributes:
        name: registry name, e.g. 'openpose_body25'.
        joints: (J,) joint names in the dataset's order, from the shared vocabulary (see module docstring).
        parents: (J,) parent index per joint, -1 for roots; None where no tree applies (face-only layouts).
        parts: (J,) part of each joint, one of ``PARTS``; empty means every joint is 'body'.
    """

    name: str
    joints: tuple[str, ...]
    parents: tuple[int, ...] | None
    parts: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        num = len(self.joints)
        if not self.parts:
            object.__setattr__(self, "parts", ("body",) * num)
        if len(self.parts) != num or not set(self.parts) <= set(PARTS):
            raise ValueError(f"skeleton {self.name!r}: parts must be {num} values from {PARTS}")
        if self.parents is not None:
            if len(self.parents) != num or any(not -1 <= p < num for p in self.parents):
                raise ValueError(f"skeleton {self.name!r}: parents must be {num} indices in [-1, {num})")
            for start in range(num):  # every chain must reach a root: no cycles
                node, steps = start, 0
                while node != -1:
                    node, steps = self.parents[node], steps + 1
                    if steps > num:
                        raise ValueError(f"skeleton {self.name!r}: parents contain a cycle through {start}")

    def __len__(self) -> int:
        return len(self.joints)

    def index(self, name: str) -> int:
        """Index of the first joint called ``name``; KeyError naming close or valid names if there is none."""
        try:
            return self.joints.index(name)
        except ValueError:
            close = difflib.get_close_matches(name, self.joints, n=5, cutoff=0.6)
            hint = f"close names: {close}" if close else f"valid names: {list(dict.fromkeys(self.joints))}"
            raise KeyError(f"{name!r} is not a joint of skeleton {self.name!r}; {hint}") from None

    @property
    def flip_pairs(self) -> tuple[tuple[int, int], ...]:
        """(left index, right index) pairs: k-th 'left_X' with k-th 'right_X', sorted by left index."""
        return _flip_pairs(self.joints)

    @property
    def flip_permutation(self) -> np.ndarray:
        """int64 (J,): ``x[..., perm, :]`` swaps every left/right pair and leaves other joints in place."""
        perm = np.arange(len(self.joints), dtype=np.int64)
        for left, right in self.flip_pairs:
            perm[left], perm[right] = right, left
        return perm


@cache
def _flip_pairs(joints: tuple[str, ...]) -> tuple[tuple[int, int], ...]:
    occurrences: dict[str, list[int]] = {}
    for i, name in enumerate(joints):
        occurrences.setdefault(name, []).append(i)
    pairs = []
    for name, lefts in occurrences.items():
        if name.startswith("left_"):
            rights = occurrences.get("right_" + name[len("left_") :], [])
            pairs.extend(zip(lefts, rights, strict=False))
    return tuple(sorted(pairs))


# --- blocks: (name, parent name or None) per joint, one part per block ---------------------------------


@dataclass(frozen=True)
class _Block:
    part: str
    joints: tuple[str, ...]
    parents: tuple[str | None, ...] | None  # parent names; None: no tree (every joint a root when combined)


def _tree(part: str, pairs: list[tuple[str, str | None]]) -> _Block:
    return _Block(part, tuple(n for n, _ in pairs), tuple(p for _, p in pairs))


def _points(part: str, names: list[str]) -> _Block:
    return _Block(part, tuple(names), None)


def _chains(side: str, root: str, fingers: tuple[str, ...], tips: bool) -> list[tuple[str, str | None]]:
    """Finger chains ``{side}_{finger}1..3`` (+ tip ``{side}_{finger}``) hanging off ``root``."""
    pairs: list[tuple[str, str | None]] = []
    for finger in fingers:
        chain = [f"{side}_{finger}{k}" for k in (1, 2, 3)] + ([f"{side}_{finger}"] if tips else [])
        pairs += list(zip(chain, [root] + chain[:-1], strict=True))
    return pairs


def _mirror(name: str) -> str:
    for a, b in (("left_", "right_"), ("right_", "left_")):
        if name.startswith(a):
            return b + name[len(a) :]
    return name


def _sided(pairs: list[tuple[str, str | None]]) -> list[tuple[str, str | None]]:
    """Left-side joints followed by their right-side mirrors."""
    return pairs + [(_mirror(n), None if p is None else _mirror(p)) for n, p in pairs]


# SMPL-X kinematic joints 0..21 (SMPL body tree).
_SMPLX_BODY = _tree("body", [
    ("pelvis", None), ("left_hip", "pelvis"), ("right_hip", "pelvis"), ("spine1", "pelvis"),
    ("left_knee", "left_hip"), ("right_knee", "right_hip"), ("spine2", "spine1"),
    ("left_ankle", "left_knee"), ("right_ankle", "right_knee"), ("spine3", "spine2"),
    ("left_foot", "left_ankle"), ("right_foot", "right_ankle"), ("neck", "spine3"),
    ("left_collar", "spine3"), ("right_collar", "spine3"), ("head", "neck"),
    ("left_shoulder", "left_collar"), ("right_shoulder", "right_collar"),
    ("left_elbow", "left_shoulder"), ("right_elbow", "right_shoulder"),
    ("left_wrist", "left_elbow"), ("right_wrist", "right_elbow"),
])  # fmt: skip
_SMPLX_FACE_JOINTS = _tree("face", [(n, "head") for n in ("jaw", "left_eye_smplhf", "right_eye_smplhf")])
_SMPLX_FINGERS = ("index", "middle", "pinky", "ring", "thumb")  # SMPL-X's (MANO's) finger order
# The 21 vertex joints of the SMPL-X output after the 55 kinematic ones.
_SMPLX_HEAD_POINTS = _tree("body", [(n, "head") for n in
                                    ("nose", "right_eye", "left_eye", "right_ear", "left_ear")])
_SMPLX_FEET = _tree("body", _sided([
    ("left_big_toe", "left_foot"), ("left_small_toe", "left_foot"), ("left_heel", "left_ankle")]))
_TIP_FINGERS = ("thumb", "index", "middle", "ring", "pinky")  # OpenPose's (and the SMPL-X tips') order


def _tips(side: str) -> _Block:
    return _tree(f"{side}_hand", [(f"{side}_{f}", f"{side}_{f}3") for f in _TIP_FINGERS])


# iBUG-68 / OpenPose face points 17..67 (brows, nose, eyes, mouth) in SMPL-X's names, SMPL-X outputs 76..126.
_FACE_LANDMARKS = (
    [f"right_eye_brow{k}" for k in range(1, 6)] + [f"left_eye_brow{k}" for k in range(5, 0, -1)]
    + [f"nose{k}" for k in range(1, 5)]
    + ["right_nose_2", "right_nose_1", "nose_middle", "left_nose_1", "left_nose_2"]
    + [f"right_eye{k}" for k in range(1, 7)] + [f"left_eye{k}" for k in (4, 3, 2, 1, 6, 5)]
    + ["right_mouth_1", "right_mouth_2", "right_mouth_3", "mouth_top", "left_mouth_3", "left_mouth_2",
       "left_mouth_1", "left_mouth_5", "left_mouth_4", "mouth_bottom", "right_mouth_4", "right_mouth_5"]
    + ["right_lip_1", "right_lip_2", "lip_top", "left_lip_2", "left_lip_1", "left_lip_3", "lip_bottom",
       "right_lip_3"]
)  # fmt: skip
# iBUG-68 / OpenPose face points 0..16 (jaw line, subject's right to left), SMPL-X outputs 127..143.
_FACE_CONTOUR = (
    [f"right_contour_{k}" for k in range(1, 9)] + ["contour_middle"]
    + [f"left_contour_{k}" for k in range(8, 0, -1)]
)
_FACE_IBUG68 = _points("face", _FACE_CONTOUR + _FACE_LANDMARKS)
_FACE_OPENPOSE70 = _points("face", _FACE_CONTOUR + _FACE_LANDMARKS + ["right_pupil", "left_pupil"])

# OpenPose BODY_25, rooted at MidHip ('pelvis'); limbs follow OpenPose's drawing pairs.
_BODY25 = _tree("body", [
    ("nose", "neck"), ("neck", "pelvis"),
    ("right_shoulder", "neck"), ("right_elbow", "right_shoulder"), ("right_wrist", "right_elbow"),
    ("left_shoulder", "neck"), ("left_elbow", "left_shoulder"), ("left_wrist", "left_elbow"),
    ("pelvis", None),
    ("right_hip", "pelvis"), ("right_knee", "right_hip"), ("right_ankle", "right_knee"),
    ("left_hip", "pelvis"), ("left_knee", "left_hip"), ("left_ankle", "left_knee"),
    ("right_eye", "nose"), ("left_eye", "nose"), ("right_ear", "right_eye"), ("left_ear", "left_eye"),
    ("left_big_toe", "left_ankle"), ("left_small_toe", "left_big_toe"), ("left_heel", "left_ankle"),
    ("right_big_toe", "right_ankle"), ("right_small_toe", "right_big_toe"), ("right_heel", "right_ankle"),
])  # fmt: skip


def _openpose_hand(side: str) -> _Block:
    """OpenPose hand 21: wrist, then thumb CMC/MCP/IP/tip, index, middle, ring, pinky (MCP/PIP/DIP/tip)."""
    wrist = f"{side}_wrist"
    return _tree(f"{side}_hand", [(wrist, None)] + _chains(side, wrist, _TIP_FINGERS, True))


# CMU Panoptic joints19 (hdPose3d_stage1_coco19), rooted at BodyCenter ('pelvis').
_PANOPTIC19 = _tree("body", [
    ("neck", "pelvis"), ("nose", "neck"), ("pelvis", None),
    ("left_shoulder", "neck"), ("left_elbow", "left_shoulder"), ("left_wrist", "left_elbow"),
    ("left_hip", "pelvis"), ("left_knee", "left_hip"), ("left_ankle", "left_knee"),
    ("right_shoulder", "neck"), ("right_elbow", "right_shoulder"), ("right_wrist", "right_elbow"),
    ("right_hip", "pelvis"), ("right_knee", "right_hip"), ("right_ankle", "right_knee"),
    ("left_eye", "nose"), ("left_ear", "left_eye"), ("right_eye", "nose"), ("right_ear", "right_eye"),
])  # fmt: skip

# Human3.6M 17 in PROTOCOLS.md's (SPIN's) order: indices 1-3 are the LEFT leg. mmpose labels indices 1-3 as
# right; SPIN's order is the one whose LSP subset [6,5,4,1,2,3,16,15,14,11,12,13,8,10] comes out right-first,
# as LSP is, so it is the one used here.
_H36M17 = _tree("body", [
    ("pelvis", None),
    ("left_hip", "pelvis"), ("left_knee", "left_hip"), ("left_ankle", "left_knee"),
    ("right_hip", "pelvis"), ("right_knee", "right_hip"), ("right_ankle", "right_knee"),
    ("h36m_spine", "pelvis"), ("thorax", "h36m_spine"), ("h36m_head", "thorax"), ("head_top", "h36m_head"),
    ("left_shoulder", "thorax"), ("left_elbow", "left_shoulder"), ("left_wrist", "left_elbow"),
    ("right_shoulder", "thorax"), ("right_elbow", "right_shoulder"), ("right_wrist", "right_elbow"),
])  # fmt: skip

# LSP 14, right side first; LSP's neck is H36M's thorax (SPIN). No pelvis: the tree is rooted at the thorax.
_LSP14 = _tree("body", [
    ("right_ankle", "right_knee"), ("right_knee", "right_hip"), ("right_hip", "thorax"),
    ("left_hip", "thorax"), ("left_knee", "left_hip"), ("left_ankle", "left_knee"),
    ("right_wrist", "right_elbow"), ("right_elbow", "right_shoulder"), ("right_shoulder", "thorax"),
    ("left_shoulder", "thorax"), ("left_elbow", "left_shoulder"), ("left_wrist", "left_elbow"),
    ("thorax", None), ("head_top", "thorax"),
])  # fmt: skip

# STB 21 (left hand): palm centre, then pinky, ring, middle, index, thumb, each MCP..tip. The palm centre is
# not the wrist (converting one to the other is a dataset setting); the thumb's 4 points take OpenPose's
# names.
_STB21 = _tree("left_hand", [("left_palm", None)]
               + _chains("left", "left_palm", ("pinky", "ring", "middle", "index", "thumb"), True))

# COCO-WholeBody: COCO body 17 as a spanning tree of COCO's limb graph rooted at the nose, then 6 foot points.
_COCO_BODY17_FEET = _tree("body", [
    ("nose", None), ("left_eye", "nose"), ("right_eye", "nose"),
    ("left_ear", "left_eye"), ("right_ear", "right_eye"),
    ("left_shoulder", "left_ear"), ("right_shoulder", "right_ear"),
    ("left_elbow", "left_shoulder"), ("right_elbow", "right_shoulder"),
    ("left_wrist", "left_elbow"), ("right_wrist", "right_elbow"),
    ("left_hip", "left_shoulder"), ("right_hip", "right_shoulder"),
    ("left_knee", "left_hip"), ("right_knee", "right_hip"),
    ("left_ankle", "left_knee"), ("right_ankle", "right_knee"),
] + _sided([(f"left_{n}", "left_ankle") for n in ("big_toe", "small_toe", "heel")]))  # fmt: skip


def _assemble(name: str, blocks: list[_Block]) -> Skeleton:
    """Concatenate blocks. A parent name resolves inside its own block first, else to its first occurrence in
    the earlier blocks. Treeless blocks give roots; a skeleton made only of treeless blocks gets None."""
    joints: list[str] = []
    parents: list[int] = []
    parts: list[str] = []
    for block in blocks:
        offset = len(joints)
        for parent in block.parents or (None,) * len(block.joints):
            if parent is None:
                parents.append(-1)
            elif parent in block.joints:
                parents.append(offset + block.joints.index(parent))
            else:
                parents.append(joints.index(parent))  # ValueError at import for an unknown parent
        joints += block.joints
        parts += [block.part] * len(block.joints)
    has_tree = any(b.parents is not None for b in blocks)
    return Skeleton(name, tuple(joints), tuple(parents) if has_tree else None, tuple(parts))


_SMPLX_KINEMATIC = [
    _SMPLX_BODY,
    _SMPLX_FACE_JOINTS,
    _tree("left_hand", _chains("left", "left_wrist", _SMPLX_FINGERS, False)),
    _tree("right_hand", _chains("right", "right_wrist", _SMPLX_FINGERS, False)),
]
_SMPLX_OUTPUT_127 = _SMPLX_KINEMATIC + [
    _SMPLX_HEAD_POINTS, _SMPLX_FEET, _tips("left"), _tips("right"), _points("face", _FACE_LANDMARKS)
]

_REGISTRY: dict[str, Skeleton] = {
    s.name: s
    for s in (
        _assemble("smplx_joints55", _SMPLX_KINEMATIC),
        _assemble("smplx_127", _SMPLX_OUTPUT_127),
        _assemble("smplx_144", _SMPLX_OUTPUT_127 + [_points("face", _FACE_CONTOUR)]),
        _assemble("openpose_body25", [_BODY25]),
        _assemble("openpose_hand21_left", [_openpose_hand("left")]),
        _assemble("openpose_hand21_right", [_openpose_hand("right")]),
        _assemble("openpose_face70", [_FACE_OPENPOSE70]),
        _assemble("openpose_137", [_BODY25, _openpose_hand("left"), _openpose_hand("right"),
                                   _FACE_OPENPOSE70]),
        _assemble("openpose_118", [_BODY25, _openpose_hand("left"), _openpose_hand("right"),
                                   _points("face", _FACE_LANDMARKS)]),
        _assemble("panoptic_joints19", [_PANOPTIC19]),
        _assemble("h36m_17", [_H36M17]),
        _assemble("lsp_14", [_LSP14]),
        _assemble("stb_21", [_STB21]),
        _assemble("coco_wholebody_133", [_COCO_BODY17_FEET, _FACE_IBUG68, _openpose_hand("left"),
                                         _openpose_hand("right")]),
    )
}  # fmt: skip


def skeleton_names() -> tuple[str, ...]:
    """Names of all registered skeletons, in registration order."""
    return tuple(_REGISTRY)


def get_skeleton(name: str) -> Skeleton:
    """The registered skeleton called ``name``; ValueError listing the valid names otherwise."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown skeleton {name!r}; valid names: {', '.join(_REGISTRY)}") from None


def _resolve(skeleton: str | Skeleton) -> Skeleton:
    return skeleton if isinstance(skeleton, Skeleton) else get_skeleton(skeleton)


def part_indices(skeleton: str | Skeleton, part: str) -> np.ndarray:
    """int64 (K,): indices of the joints of ``part`` (one of ``PARTS``), in skeleton order."""
    if part not in PARTS:
        raise ValueError(f"unknown part {part!r}; valid parts: {', '.join(PARTS)}")
    return np.flatnonzero(np.asarray(_resolve(skeleton).parts) == part).astype(np.int64)


@cache
def _mapping(src: Skeleton, dst: Skeleton) -> tuple[np.ndarray, np.ndarray]:
    first = {}
    for i, name in enumerate(src.joints):
        first.setdefault(name, i)
    index = np.array([first.get(name, 0) for name in dst.joints], dtype=np.int64)
    valid = np.array([name in first for name in dst.joints], dtype=bool)
    index.setflags(write=False)
    valid.setflags(write=False)
    return index, valid


def mapping(src: str | Skeleton, dst: str | Skeleton) -> tuple[np.ndarray, np.ndarray]:
    """Where each ``dst`` joint comes from in ``src``, by name.

    Returns:
        index: int64 (J_dst,), index of the first ``src`` joint with the same name; 0 where there is none.
        valid: bool (J_dst,), True where the ``dst`` joint exists in ``src``.
    """
    index, valid = _mapping(_resolve(src), _resolve(dst))
    return index.copy(), valid.copy()


def convert(keypoints: Any, src: str | Skeleton, dst: str | Skeleton) -> tuple[Any, Any]:
    """Reorder keypoints from the ``src`` joint order to the ``dst`` order.

    Args:
        keypoints: (..., J_src, C) numpy array or torch tensor (any C: xy, xyz, xy + confidence, ...).
        src, dst: skeletons or their registered names.

    Returns:
        converted: (..., J_dst, C), same type, dtype and device as ``keypoints``; all C channels (confidence
            included) are 0 for ``dst`` joints missing from ``src``.
        valid: (J_dst,) bool, numpy array for numpy input, torch tensor on the input's device for torch input.
    """
    src_skel, dst_skel = _resolve(src), _resolve(dst)
    shape = tuple(keypoints.shape)
    if len(shape) < 2 or shape[-2] != len(src_skel):
        raise ValueError(f"keypoints for {src_skel.name!r}: expected (..., {len(src_skel)}, C), got {shape}")
    index, valid = mapping(src_skel, dst_skel)
    if isinstance(keypoints, torch.Tensor):
        index_t = torch.from_numpy(index).to(keypoints.device)
        valid_t = torch.from_numpy(valid).to(keypoints.device)
        out = keypoints.index_select(-2, index_t).masked_fill(~valid_t[:, None], 0)
        return out, valid_t
    if isinstance(keypoints, np.ndarray):
        out = np.take(keypoints, index, axis=-2)
        out[..., ~valid, :] = 0
        return out, valid
    raise TypeError(f"keypoints must be a numpy array or a torch tensor, got {type(keypoints).__name__}")
