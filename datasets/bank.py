"""The parameter bank that STS and the synthetic datasets sample SMPL-X parameters from.

The seed paper fills its bank from AMASS (bodies), MANO/FreiHand (hands) and fitted faces. Those archives are
licensed, so the default bank is procedural: a pose prior built from per-joint anatomical angle limits and
action-like families, the embedded finger flexion/spread hand model, named expressions and the embedded
model's shape space. A user who has AMASS passes its ``.npz`` files and the bodies (and hands) come from there.

Conventions
-----------
- Poses are SMPL-X axis-angle (radians) in the world-aligned rest frame of each joint; the rest frame is
  SMPL-X's (y up, x = subject's left, z forward, T-pose with palms down). Body joints are the 21 of
  ``body_pose`` in SMPL-X order (``BODY_JOINTS``, from the 'smplx_joints55' skeleton).
- Anatomical angles: each body joint's rotation is the intrinsic Cardan sequence
  ``R = R(a1, t1) R(a2, t2) R(a3, t3)`` about three orthonormal rest-frame axes ``a3 = a1 x a2`` (joint
  coordinate systems in the style of Grood & Suntay 1983 / the ISB recommendations). ``JOINT_ANGLES`` names
  the axes and the positive direction of each angle; right-side axes are the mirror images of the left ones
  (``(x, -y, -z)``), so equal angles give mirror-image poses. Angles are radians in the functions, degrees
  in the tables.
- Limits (``JOINT_ANGLES``): active range of motion of healthy adults, AAOS values as tabulated in Norkin &
  White, *Measurement of Joint Motion: A Guide to Goniometry* (5th ed., 2016), Appendix A, consistent with
  Soucie et al. (2011), "Range of motion measurements: reference values and a database for comparison
  studies", Haemophilia 17(3):500-507. Spine and neck ranges are split evenly over SMPL-X's three spine and
  two cervical joints; the shoulder range is shared by collar and shoulder as in SMPL-X's chain (clavicle
  elevation after Ludewig et al. 2009, J Bone Joint Surg Am 91(2)). Side-play of hinges and the foot's
  minor axes are our own small estimates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from bench.body.embedded.anatomy import SHAPE_COMPONENTS
from bench.body.embedded.face import EXPRESSIONS
from bench.body.embedded.hands import FAMILIES as HAND_FAMILIES
from bench.body.embedded.hands import mirror_hand_pose, sample_hand_poses
from bench.body.skeletons import SMPLX_NUM_BODY_JOINTS, SMPLX_NUM_HAND_JOINTS, get_skeleton, part_indices
from bench.errors import DataFileError
from bench.geometry.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from bench.npzio import read_npz

_SKELETON = get_skeleton("smplx_joints55")
BODY_JOINTS: tuple[str, ...] = tuple(
    _SKELETON.joints[i] for i in part_indices(_SKELETON, "body") if _SKELETON.joints[i] != "pelvis"
)
assert len(BODY_JOINTS) == SMPLX_NUM_BODY_JOINTS
NUM_BETAS = len(SHAPE_COMPONENTS)
NUM_EXPRESSIONS = len(EXPRESSIONS)

BANK_KEYS = ("global_orient", "body_pose", "left_hand_pose", "right_hand_pose", "jaw_pose", "leye_pose", "reye_pose",
             "expression", "betas", "family")  # what ParameterBank.sample returns
ALL_FAMILIES = ("stand", "walk", "run", "sit", "crouch", "reach", "wave", "arms_raised", "bend", "twist", "lie")
BETA_CLIP = 2.5  # one beta unit ~ one population s.d. of its body measure (bench.body.embedded.anatomy)
JAW_OPEN_MAX = 0.35  # rad (~20 deg) of mandible rotation, about +x (mouth opens)
_FULL_JITTER_RANGE = np.pi / 2  # angles with a narrower range get proportionally less jitter

_X, _Y, _Z = np.eye(3)


@dataclass(frozen=True)
class JointAngles:
    """Anatomical angle axes and limits of one body joint (the left one for a left/right pair).

    ``names[k]`` says what a positive angle about the k-th axis (a1, a2, a3 = a1 x a2; rest frame) does;
    ``lo``/``hi`` are the limits in degrees.
    """

    joint: str
    names: tuple[str, str, str]
    a1: np.ndarray
    a2: np.ndarray
    lo: tuple[float, float, float]
    hi: tuple[float, float, float]


_SPINE = ("flexion", "lateral_bend_left", "rotation_left")
# (joint, names, a1, a2, lo, hi); a left joint's entry also makes its mirrored right twin.
JOINT_ANGLES: tuple[JointAngles, ...] = tuple(JointAngles(*row) for row in (
    # hip: flexion 120, extension 30, abduction 45, adduction 30, rotation 45/45 (AAOS)
    ("left_hip", ("flexion", "abduction", "external_rotation"), -_X, _Z, (-30, -30, -45), (120, 45, 45)),
    # knee: flexion 135 (AAOS; Soucie: ~140), 5 deg hyperextension; a hinge with little side-play and twist
    ("left_knee", ("flexion", "varus", "external_rotation"), _X, -_Z, (-5, -3, -15), (140, 3, 15)),
    # ankle: plantarflexion 50, dorsiflexion 20, inversion 35, eversion 15 (AAOS); abduction ours
    ("left_ankle", ("plantarflexion", "abduction", "eversion"), _X, _Y, (-20, -15, -35), (50, 15, 15)),
    # foot (SMPL-X's toe joint): MTP flexion 45, extension 70 (AAOS), narrowed for the whole forefoot
    ("left_foot", ("toe_flexion", "abduction", "eversion"), _X, _Y, (-45, -5, -5), (30, 5, 5)),
    # thoracolumbar: flexion 80, extension 25, lateral 35, rotation 45 (AAOS), a third per spine joint
    ("spine1", _SPINE, _X, -_Z, (-9, -12, -15), (27, 12, 15)),
    ("spine2", _SPINE, _X, -_Z, (-8, -12, -15), (27, 12, 15)),
    ("spine3", _SPINE, _X, -_Z, (-8, -11, -15), (26, 11, 15)),
    # cervical: flexion 45, extension 45, lateral 45, rotation 60 (AAOS), half per neck/head joint
    ("neck", _SPINE, _X, -_Z, (-23, -23, -30), (23, 23, 30)),
    ("head", _SPINE, _X, -_Z, (-22, -22, -30), (22, 22, 30)),
    # clavicle: elevation ~30, depression ~10, protraction/retraction ~20 (Ludewig et al. 2009)
    ("left_collar", ("elevation", "protraction", "axial_rotation"), _Z, -_Y, (-10, -20, -15), (30, 20, 15)),
    # glenohumeral part, from the T-pose: elevation from the side (-90, a little adduction) to 85 above the
    # horizontal (+ the collar's 30: abduction 180); forward flexion up to 85 (90 is the sequence's
    # singularity), extension 45 (60 in AAOS, less as the arm's backward swing is measured here from the side);
    # internal rotation 70, external rotation 90 (AAOS)
    ("left_shoulder", ("elevation", "forward_flexion", "internal_rotation"), _Z, -_Y, (-95, -45, -90),
     (85, 85, 70)),
    # elbow: flexion 150, extension 0 (AAOS; 5 deg hyperextension allowed); hinge with small side-play/twist
    ("left_elbow", ("flexion", "varus", "twist"), -_Y, -_Z, (-5, -8, -15), (150, 8, 15)),
    # wrist: flexion 80, extension 70, radial 20, ulnar 30; forearm pronation/supination 80 (AAOS)
    ("left_wrist", ("flexion", "radial_deviation", "supination"), -_Z, -_Y, (-70, -30, -80), (80, 20, 80)),
))  # fmt: skip


def _mirror_name(name: str) -> str:
    """'left_X' <-> 'right_X'; central joints keep their name."""
    for a, b in (("left_", "right_"), ("right_", "left_")):
        if name.startswith(a):
            return b + name[len(a) :]
    return name


def _axes_and_limits() -> tuple[np.ndarray, np.ndarray]:
    """(21, 3, 3) axes (row k = a_k, rest frame) and (21, 3, 2) limits in radians, in BODY_JOINTS order."""
    axes, limits = np.zeros((SMPLX_NUM_BODY_JOINTS, 3, 3)), np.zeros((SMPLX_NUM_BODY_JOINTS, 3, 2))
    mirror = np.array([1.0, -1.0, -1.0])  # a pseudovector's image under x -> -x
    for spec in JOINT_ANGLES:
        basis = np.stack([spec.a1, spec.a2, np.cross(spec.a1, spec.a2)])
        lim = np.radians(np.stack([spec.lo, spec.hi], -1))
        for name, b in ((spec.joint, basis), (_mirror_name(spec.joint), basis * mirror)):
            k = BODY_JOINTS.index(name)
            axes[k], limits[k] = b, lim
    if not np.all(limits[:, 1, 1] < np.pi / 2) or not np.all(limits[:, 1, 0] > -np.pi / 2):
        raise AssertionError("the middle angle of each sequence must stay inside (-90, 90) deg")
    return axes, limits


ANGLE_AXES, ANGLE_LIMITS = _axes_and_limits()
_J = {name: k for k, name in enumerate(BODY_JOINTS)}
_LR_PERMUTATION = np.array([_J[_mirror_name(n)] for n in BODY_JOINTS])
_CENTRAL = np.array([_mirror_name(n) == n for n in BODY_JOINTS])


def _check_body(name: str, x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < 2 or x.shape[-2:] != (SMPLX_NUM_BODY_JOINTS, 3):
        raise ValueError(f"{name}: expected (..., {SMPLX_NUM_BODY_JOINTS}, 3), got {x.shape}")
    return x


def angles_to_axis_angle(angles: np.ndarray) -> np.ndarray:
    """Anatomical angles -> body pose.

    angles: (..., 21, 3), radians, per joint (t1, t2, t3) about ``ANGLE_AXES`` (module docstring).
    Returns (..., 21, 3) float64 axis-angle, radians, rest frame of each joint (SMPL-X ``body_pose`` layout).
    """
    t = torch.from_numpy(_check_body("angles", angles))
    R = axis_angle_to_matrix(t[..., None] * torch.from_numpy(ANGLE_AXES))  # (..., 21, 3, 3, 3)
    R = R[..., 0, :, :] @ R[..., 1, :, :] @ R[..., 2, :, :]
    return matrix_to_axis_angle(R).numpy()


def axis_angle_to_angles(body_pose: np.ndarray) -> np.ndarray:
    """Body pose -> anatomical angles, the inverse of :func:`angles_to_axis_angle`.

    body_pose: (..., 21, 3), axis-angle, radians.
    Returns (..., 21, 3) float64 radians with t2 in [-pi/2, pi/2] and t1, t3 in (-pi, pi]: the unique
    solution whenever |t2| < pi/2, which every limit range guarantees.
    """
    R = axis_angle_to_matrix(torch.from_numpy(_check_body("body_pose", body_pose))).numpy()
    L = ANGLE_AXES @ R @ np.swapaxes(ANGLE_AXES, -1, -2)  # rotation in each joint's own basis: Rx Ry Rz
    t1 = np.arctan2(-L[..., 1, 2], L[..., 2, 2])
    t2 = np.arcsin(np.clip(L[..., 0, 2], -1.0, 1.0))
    t3 = np.arctan2(-L[..., 0, 1], L[..., 0, 0])
    return np.stack([t1, t2, t3], -1)


def within_limits(body_pose: np.ndarray, *, atol: float = 1e-4) -> np.ndarray:
    """bool (...,): True where every body joint's anatomical angles lie inside ``ANGLE_LIMITS`` (+- atol rad).

    body_pose: (..., 21, 3), axis-angle, radians (SMPL-X ``body_pose``).
    """
    angles = axis_angle_to_angles(body_pose)
    inside = (angles >= ANGLE_LIMITS[..., 0] - atol) & (angles <= ANGLE_LIMITS[..., 1] + atol)
    return inside.all(axis=(-1, -2))


def mirror_angles(angles: np.ndarray) -> np.ndarray:
    """Anatomical angles (..., 21, 3) of the left/right mirror image: sides swapped, central joints' lateral
    bend and rotation negated (the side axes are mirror images already)."""
    out = np.asarray(angles)[..., _LR_PERMUTATION, :].copy()
    out[..., _CENTRAL, 1:] *= -1.0
    return out


# --- families: parametric templates in degrees ------------------------------------------------------------


class _Pose:
    """A batch of anatomical angles (n, 21, 3) in degrees, set by joint name, plus a forward pelvis pitch."""

    def __init__(self, n: int, rng: np.random.Generator) -> None:
        self.n, self.rng = n, rng
        self.deg = np.zeros((n, SMPLX_NUM_BODY_JOINTS, 3))
        self.pitch = np.zeros(n)  # degrees, forward tilt of the pelvis (bend keeps the legs vertical)
        self.roll = np.zeros(n)  # degrees about the body axis, 'lie' only: 0 supine, 90 on the left side, 180 prone

    def u(self, lo: float, hi: float) -> np.ndarray:
        return self.rng.uniform(lo, hi, self.n)

    def set(self, joint: str, t1=0.0, t2=0.0, t3=0.0) -> None:
        """Angles of one joint, degrees: scalars or (n,) arrays."""
        self.deg[:, _J[joint]] = np.stack(np.broadcast_arrays(t1, t2, t3, np.zeros(self.n))[:3], -1)

    def both(self, joint: str, t1=(0.0, 0.0), t2=(0.0, 0.0), t3=(0.0, 0.0)) -> None:
        """Same (lo, hi) uniform ranges for the left and right joint, sampled independently."""
        for side in ("left", "right"):
            self.set(f"{side}_{joint}", self.u(*t1), self.u(*t2), self.u(*t3))

    def spine(self, flexion=(-3.0, 5.0), bend=(-3.0, 3.0), rotation=(-4.0, 4.0)) -> None:
        for joint in ("spine1", "spine2", "spine3"):
            self.set(joint, self.u(*flexion), self.u(*bend), self.u(*rotation))

    def head(self, flexion=(-10.0, 12.0), bend=(-5.0, 5.0), rotation=(-15.0, 15.0)) -> None:
        for joint in ("neck", "head"):
            self.set(joint, self.u(*flexion), self.u(*bend), self.u(*rotation))

    def arm_down(self, side: str) -> None:
        self.set(f"{side}_collar", self.u(-5, 5), self.u(-5, 5))
        self.set(f"{side}_shoulder", self.u(-85, -72), self.u(-10, 20), self.u(-20, 25))
        self.set(f"{side}_elbow", self.u(5, 30))
        self.set(f"{side}_wrist", self.u(-15, 15), self.u(-10, 10), self.u(-30, 30))

    def stand_legs(self) -> None:
        """Both feet on the ground: a shared hip flexion (the stance) plus a little per leg."""
        stance = self.u(-3, 6)
        for side in ("left", "right"):
            self.set(f"{side}_hip", stance + self.u(-3, 3), self.u(0, 8), self.u(-10, 15))
        self.both("knee", (0, 12))
        self.both("ankle", (-5, 5), (-5, 5), (-5, 5))
        self.both("foot", (-5, 5))


def _peak(x: np.ndarray, power: float) -> np.ndarray:
    """Smooth periodic bump in [0, 1], 1 at x = 0 (mod 2 pi)."""
    return ((1.0 + np.cos(x)) / 2.0) ** power


def _stand(p: _Pose) -> None:
    p.stand_legs()
    p.spine()
    p.head()
    p.arm_down("left")
    p.arm_down("right")


def _gait(p: _Pose, *, hip_mean, hip_amp, knee_base, knee_amp, arm_amp, elbow, lean) -> None:
    """Sagittal gait after the normal curves of Perry & Burnfield, *Gait Analysis* (2010): hip flexion
    sinusoidal, knee peak in early swing (~0.14 cycle before peak hip flexion) plus a loading bump, push-off
    plantarflexion, arms swinging against the same-side leg. phi is the left leg's phase."""
    phi, k = p.u(0, 2 * np.pi), p.u(0.75, 1.15)
    for side, phase in (("left", phi), ("right", phi + np.pi)):
        p.set(f"{side}_hip", hip_mean + k * hip_amp * np.sin(phase), p.u(0, 6), p.u(-5, 10))
        knee = knee_base + k * knee_amp * _peak(phase - 0.7, 8) + 0.25 * knee_amp * _peak(phase - 3.3, 8)
        p.set(f"{side}_knee", knee)
        p.set(f"{side}_ankle", -5 + 20 * _peak(phase + 0.3, 8) + p.u(-3, 3))
        p.set(f"{side}_foot", -15 * _peak(phase + 0.3, 8))
        p.set(f"{side}_collar", p.u(-5, 5))
        swing = np.sin(phase + np.pi)  # the arm swings with the opposite leg
        p.set(f"{side}_shoulder", p.u(-82, -70), 5 + k * arm_amp * swing, p.u(-10, 15))
        p.set(f"{side}_elbow", p.u(*elbow) + 0.3 * k * arm_amp * np.maximum(swing, 0))
        p.set(f"{side}_wrist", p.u(-15, 15), p.u(-10, 10), p.u(-20, 20))
    p.spine(flexion=lean, rotation=(-2, 2))
    p.deg[:, [_J[j] for j in ("spine1", "spine2", "spine3")], 2] += (3 * np.sin(phi))[:, None]
    p.head(flexion=(-12, 5))


def _walk(p: _Pose) -> None:
    _gait(p, hip_mean=5, hip_amp=20, knee_base=4, knee_amp=55, arm_amp=18, elbow=(10, 25), lean=(-2, 4))


def _run(p: _Pose) -> None:
    _gait(p, hip_mean=15, hip_amp=32, knee_base=15, knee_amp=85, arm_amp=35, elbow=(70, 95), lean=(3, 8))
    p.pitch = p.u(0, 8)


def _sit(p: _Pose) -> None:
    for side in ("left", "right"):
        hip, knee = p.u(80, 100), p.u(70, 110)
        p.set(f"{side}_hip", hip, p.u(-5, 15), p.u(-10, 15))
        p.set(f"{side}_knee", knee)
        p.set(f"{side}_ankle", hip - knee + p.u(-10, 15), p.u(-5, 5))  # near-flat foot
        p.set(f"{side}_foot", p.u(-10, 5))
        p.set(f"{side}_collar", p.u(-5, 10), p.u(0, 10))
        p.set(f"{side}_shoulder", p.u(-85, -65), p.u(10, 45), p.u(0, 35))  # hands towards the lap
        p.set(f"{side}_elbow", p.u(30, 80))
        p.set(f"{side}_wrist", p.u(-20, 20), p.u(-10, 10), p.u(-30, 30))
    p.spine(flexion=(-2, 10))
    p.head()


def _crouch(p: _Pose) -> None:
    p.pitch = p.u(0, 20)
    for side in ("left", "right"):
        hip, knee = p.u(90, 115), p.u(115, 140)
        p.set(f"{side}_hip", hip, p.u(5, 25), p.u(0, 25))
        p.set(f"{side}_knee", knee)
        p.set(f"{side}_ankle", hip + p.pitch - knee + p.u(-5, 10), p.u(-5, 10))
        p.set(f"{side}_foot", p.u(-30, 0))
        p.set(f"{side}_collar", p.u(-5, 10), p.u(0, 15))
        p.set(f"{side}_shoulder", p.u(-70, -25), p.u(30, 75), p.u(-10, 30))  # arms forward for balance
        p.set(f"{side}_elbow", p.u(10, 70))
        p.set(f"{side}_wrist", p.u(-20, 30), p.u(-10, 10), p.u(-30, 30))
    p.spine(flexion=(5, 18))
    p.head(flexion=(-20, 0))


def _reach(p: _Pose) -> None:
    """The left arm reaches out, forward to sideways and low to high (mirroring gives the right)."""
    p.stand_legs()
    p.set("left_hip", p.u(-5, 25), p.u(0, 10), p.u(-10, 15))  # a small step for some
    p.set("left_knee", p.u(0, 30))
    p.spine(flexion=(0, 10), bend=(-6, 2), rotation=(-10, 0))  # left shoulder comes forward
    p.head()
    p.set("left_collar", p.u(0, 20), p.u(5, 20))
    p.set("left_shoulder", p.u(-30, 50), p.u(-10, 80), p.u(-30, 30))
    p.set("left_elbow", p.u(0, 20))
    p.set("left_wrist", p.u(-30, 20), p.u(-10, 10), p.u(-30, 30))
    p.arm_down("right")
    p.set("right_shoulder", p.u(-85, -50), p.u(-10, 30), p.u(-20, 25))


def _wave(p: _Pose) -> None:
    """Left hand up and waving: upper arm near horizontal, external rotation, elbow flexed, palm forward."""
    _stand(p)
    p.set("left_collar", p.u(0, 15), p.u(0, 10))
    p.set("left_shoulder", p.u(-10, 20), p.u(0, 30), p.u(-90, -70))
    p.set("left_elbow", p.u(70, 120))
    p.set("left_wrist", p.u(-20, 10), 20 * np.sin(p.u(0, 2 * np.pi)) - 5, p.u(-20, 20))
    p.head(rotation=(-5, 25))


def _arms_raised(p: _Pose) -> None:
    p.stand_legs()
    p.spine(flexion=(-8, 2))
    p.head(flexion=(-20, 5))
    for side in ("left", "right"):
        p.set(f"{side}_collar", p.u(15, 30), p.u(-5, 10))
        p.set(f"{side}_shoulder", p.u(60, 85), p.u(-10, 35), p.u(-40, 20))
        p.set(f"{side}_elbow", p.u(0, 40))
        p.set(f"{side}_wrist", p.u(-30, 20), p.u(-10, 10), p.u(-40, 40))


def _bend(p: _Pose) -> None:
    """Forward bend at hips and spine; the pelvis pitches by the hip flexion so the legs stay vertical."""
    hip = p.u(25, 80)
    p.pitch = hip
    for side in ("left", "right"):
        p.set(f"{side}_hip", hip + p.u(-5, 5), p.u(0, 8), p.u(-5, 10))
        p.set(f"{side}_knee", p.u(0, 25))
        p.set(f"{side}_ankle", p.u(-5, 5))
        p.set(f"{side}_foot", p.u(-5, 5))
        p.set(f"{side}_collar", p.u(-5, 10), p.u(0, 15))
        # arms hang towards the ground: shoulder flexion follows the trunk's forward tilt
        p.set(f"{side}_shoulder", p.u(-85, -65), np.clip(hip + p.u(0, 30), None, 85), p.u(-20, 20))
        p.set(f"{side}_elbow", p.u(0, 40))
        p.set(f"{side}_wrist", p.u(-20, 20), p.u(-10, 10), p.u(-30, 30))
    p.spine(flexion=(12, 27), bend=(-6, 6))
    p.head(flexion=(-20, 10))


def _twist(p: _Pose) -> None:
    """Trunk rotated to the left on standing legs, arms swung with it (mirroring gives the right)."""
    p.stand_legs()
    p.spine(flexion=(-2, 8), rotation=(10, 15))
    p.head(rotation=(0, 30))
    p.set("left_collar", p.u(-5, 5), p.u(-15, 0))
    p.set("right_collar", p.u(-5, 5), p.u(0, 15))
    p.set("left_shoulder", p.u(-80, -40), p.u(-40, 0), p.u(-20, 20))
    p.set("right_shoulder", p.u(-80, -40), p.u(20, 70), p.u(-20, 20))
    p.both("elbow", (10, 90))
    p.both("wrist", (-20, 20), (-10, 10), (-30, 30))


def _lie(p: _Pose) -> None:
    """Lying supine, prone or on the left side (``roll`` about the body axis; the global orientation lays the
    body flat; mirroring gives the right side). Limbs are kept off the floor: no forward flexion of prone hips
    and shoulders, plantarflexed prone feet; on the side the lower arm lies forwards and the upper leg may be
    drawn up; supine, one knee may be up. Arms lie along the body or above the head."""
    _stand(p)
    quarter = p.rng.integers(0, 3, p.n)  # 0 supine, 1 on the left side, 2 prone
    p.roll = 90.0 * quarter
    supine, side, prone = quarter == 0, quarter == 1, quarter == 2
    knee_up = (p.rng.random(p.n) < 0.3) & supine | (p.rng.random(p.n) < 0.6) & side
    up_leg, low_leg = "right", "left"  # on the left side
    for leg, can_draw_up in ((up_leg, knee_up), (low_leg, np.zeros(p.n, bool))):
        hip = np.where(prone, p.u(-10, 0), np.where(side, p.u(-5, 30), p.u(0, 10)))
        p.set(f"{leg}_hip", np.where(can_draw_up, p.u(30, 70), hip), p.u(0, 10), p.u(-10, 20))
        p.set(f"{leg}_knee", np.where(can_draw_up, p.u(60, 100), np.where(side, p.u(0, 40), p.u(0, 15))))
        p.set(f"{leg}_ankle", np.where(prone, p.u(25, 50), p.u(-5, 20)))
    for arm in ("left", "right"):
        overhead = p.rng.random(p.n) < 0.3
        along = p.u(-88, -45)
        forward = np.where(prone, p.u(-30, 0), np.where(supine, p.u(0, 30), p.u(-10, 40)))
        elevation, flexion = np.where(overhead, p.u(50, 85), along), np.where(overhead, 0.3 * forward, forward)
        if arm == "left":  # the lower arm of a side-lying body lies on the floor, above the head or in front
            elevation = np.where(side, np.where(overhead, p.u(65, 85), p.u(-30, 30)), elevation)
            flexion = np.where(side, np.where(overhead, p.u(-10, 20), p.u(75, 85)), flexion)
        p.set(f"{arm}_shoulder", elevation, flexion, p.u(-20, 20))
        p.set(f"{arm}_elbow", np.where(prone, p.u(0, 15), p.u(0, 90)))


_TEMPLATES = {
    "stand": _stand, "walk": _walk, "run": _run, "sit": _sit, "crouch": _crouch, "reach": _reach, "wave": _wave,
    "arms_raised": _arms_raised, "bend": _bend, "twist": _twist, "lie": _lie,
}  # fmt: skip
assert tuple(_TEMPLATES) == ALL_FAMILIES


def _template(family: str, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Template angles (n, 21, 3), pelvis pitch (n,) and roll (n,) of ``family``, radians, before clipping."""
    pose = _Pose(n, rng)
    _TEMPLATES[family](pose)
    return np.radians(pose.deg), np.radians(pose.pitch), np.radians(pose.roll)


def _rot(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """(n, 3, 3) rotations about a fixed unit axis by angles (n,) radians."""
    return axis_angle_to_matrix(torch.from_numpy(np.asarray(angle)[:, None] * axis)).numpy()


def _global_orient(family: str, pitch: np.ndarray, roll: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(n, 3) axis-angle: random heading about +y; upright (pelvis pitched forward by ``pitch``) with a small
    tilt, or for 'lie' rolled by ``roll`` about the body axis and laid flat."""
    n = len(pitch)
    heading = _rot(_Y, rng.uniform(-np.pi, np.pi, n))
    if family == "lie":
        flat = _rot(_X, -np.pi / 2 + rng.normal(0, np.radians(4), n))  # body axis y -> -z, face z -> up
        R = heading @ flat @ _rot(_Y, roll + rng.normal(0, np.radians(8), n))
    else:
        tilt = rng.normal(0, np.radians(3), (n, 2))
        R = heading @ _rot(_X, pitch + tilt[:, 0]) @ _rot(_Z, tilt[:, 1])
    return matrix_to_axis_angle(torch.from_numpy(R)).numpy()


# --- the bank ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BankConfig:
    """Settings of the procedural prior.

    families: body pose families to draw from (subset of ``ALL_FAMILIES``).
    family_weights: relative weight per family (same length); None = uniform.
    jitter: s.d. in radians of the Gaussian noise added to each anatomical angle whose range spans at least
        90 deg; narrower angles get proportionally less (range / 90 deg), so spine segments and hinge side-play
        are not thrown against their limits. Samples are clipped to the limits after jittering.
    hand_families: hand pose families (``bench.body.embedded.hands.FAMILIES``); None = all, mixed.
    expression_scale: multiplies expression coefficients and jaw opening (0 gives a neutral, closed face).
    shape_scale: s.d. of the betas (1 = the population's spread), before clipping to +-2.5.
    """

    families: tuple[str, ...] = ALL_FAMILIES
    family_weights: tuple[float, ...] | None = None
    jitter: float = 0.15
    hand_families: tuple[str, ...] | None = None
    expression_scale: float = 1.0
    shape_scale: float = 1.0

    def __post_init__(self) -> None:
        unknown = [f for f in self.families if f not in ALL_FAMILIES]
        if unknown or not self.families:
            raise ValueError(f"unknown body pose families {unknown}; valid: {', '.join(ALL_FAMILIES)}")
        if self.family_weights is not None:
            w = np.asarray(self.family_weights, dtype=float)
            if w.shape != (len(self.families),) or (w < 0).any() or not w.sum() > 0:
                raise ValueError(f"family_weights: expected {len(self.families)} non-negative weights with a "
                                 f"positive sum, got {self.family_weights}")
        if self.hand_families is not None:
            unknown = [f for f in self.hand_families if f not in HAND_FAMILIES]
            if unknown or not self.hand_families:
                raise ValueError(f"unknown hand pose families {unknown}; valid: {', '.join(HAND_FAMILIES)}")
        for name in ("jitter", "expression_scale", "shape_scale"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")


class ParameterBank:
    """Samples SMPL-X parameter sets: procedural bodies (or AMASS frames), hands, face and shape.

    With ``amass_files``, body poses (and hands, where a file has non-zero hand poses) are drawn uniformly
    from the pooled frames of those files (read with :func:`read_amass`), not clipped; AMASS's z-up world is
    turned to SMPL-X's y-up and given a random heading. Betas come from the file when it has them.
    """

    def __init__(self, config: BankConfig = BankConfig(), *, amass_files: Sequence[Path] = ()) -> None:
        self.config = config
        self._amass = _pool_amass([read_amass(Path(f)) for f in amass_files]) if amass_files else None

    def sample(self, n: int, *, seed: int | np.random.Generator) -> dict[str, np.ndarray]:
        """Draw ``n`` parameter sets; the same seed gives identical arrays.

        Returns float32 arrays (poses: SMPL-X axis-angle, radians; full 45-dim hands, not PCA):
        'global_orient' (n, 3), 'body_pose' (n, 21, 3), 'left_hand_pose'/'right_hand_pose' (n, 15, 3),
        'jaw_pose' (n, 3), 'leye_pose'/'reye_pose' (n, 3) zeros, 'expression' (n, 10) in
        ``bench.body.embedded.face.EXPRESSIONS`` order, 'betas' (n, 10); and 'family' (n,) str ('amass' for AMASS
        frames).
        """
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        cfg = self.config
        if self._amass is None:
            global_orient, body_pose, family = self._procedural_bodies(n, rng)
        else:
            frames = rng.integers(0, len(self._amass["body_pose"]), n)
            global_orient = _amass_global_orient(self._amass["global_orient"][frames], rng)
            body_pose = self._amass["body_pose"][frames]
            family = np.full(n, "amass")
        left = self._hands(n, rng)
        right = mirror_hand_pose(self._hands(n, rng))  # an independent left hand, mirrored
        # each component is a named action (smile, brow raise, ...): a few active at a time, non-negative
        active = rng.random((n, NUM_EXPRESSIONS)) < 0.3
        expression = cfg.expression_scale * active * rng.uniform(0.0, 1.5, (n, NUM_EXPRESSIONS))
        jaw_open = np.where(rng.random(n) < 0.5, rng.uniform(0.0, JAW_OPEN_MAX, n), 0.0)
        jaw = np.outer(np.clip(cfg.expression_scale * jaw_open, 0.0, JAW_OPEN_MAX), _X)
        betas = np.clip(rng.normal(0.0, cfg.shape_scale, (n, NUM_BETAS)), -BETA_CLIP, BETA_CLIP)
        if self._amass is not None:
            has_hands = self._amass["has_hands"][frames]
            left[has_hands] = self._amass["left_hand_pose"][frames[has_hands]]
            right[has_hands] = self._amass["right_hand_pose"][frames[has_hands]]
            has_betas = self._amass["has_betas"][frames]
            betas[has_betas] = self._amass["betas"][frames[has_betas]]
        out = {
            "global_orient": global_orient, "body_pose": body_pose, "left_hand_pose": left,
            "right_hand_pose": right, "jaw_pose": jaw, "leye_pose": np.zeros((n, 3)),
            "reye_pose": np.zeros((n, 3)), "expression": expression, "betas": betas,
        }  # fmt: skip
        out = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in out.items()}
        out["family"] = family
        return out

    def _procedural_bodies(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        cfg = self.config
        weights = None if cfg.family_weights is None else np.asarray(cfg.family_weights) / sum(cfg.family_weights)
        family = rng.choice(np.array(cfg.families), size=n, p=weights)
        angles, global_orient = np.zeros((n, SMPLX_NUM_BODY_JOINTS, 3)), np.zeros((n, 3))
        for name in dict.fromkeys(cfg.families):  # fixed order: reproducible
            idx = np.flatnonzero(family == name)
            if not len(idx):
                continue
            a, pitch, roll = _template(name, len(idx), rng)
            flip = rng.random(len(idx)) < 0.5
            a[flip] = mirror_angles(a[flip])
            roll[flip] *= -1.0  # the mirror image of a body on its left side lies on its right side
            angles[idx] = a
            global_orient[idx] = _global_orient(name, pitch, roll, rng)
        span = ANGLE_LIMITS[..., 1] - ANGLE_LIMITS[..., 0]
        sd = cfg.jitter * np.minimum(1.0, span / _FULL_JITTER_RANGE)
        angles = np.clip(angles + rng.normal(size=angles.shape) * sd, ANGLE_LIMITS[..., 0], ANGLE_LIMITS[..., 1])
        return global_orient, angles_to_axis_angle(angles), family

    def _hands(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """(n, 15, 3) left-hand poses from the configured hand families."""
        families = self.config.hand_families
        if families is None:
            return sample_hand_poses(n, rng)
        chosen = rng.choice(np.array(families), size=n)
        poses = np.zeros((n, SMPLX_NUM_HAND_JOINTS, 3))
        for name in dict.fromkeys(families):
            idx = np.flatnonzero(chosen == name)
            poses[idx] = sample_hand_poses(len(idx), rng, name)
        return poses


# --- AMASS ---------------------------------------------------------------------------------------------------

AMASS_LAYOUTS = {156: "SMPL+H", 165: "SMPL-X"}  # width of 'poses' -> body model of the file
AMASS_TARGET_FPS = 10.0  # as the seed paper keeps 10 fps of 50 fps mocap against redundancy
_HANDS = 2 * 3 * SMPLX_NUM_HAND_JOINTS


def read_amass(path: Path, *, target_fps: float | None = AMASS_TARGET_FPS) -> dict:
    """Read an AMASS motion ``.npz`` and map it to the bank's keys.

    The layout is detected from the width of 'poses': 156 = SMPL+H (global 3 | body 63 | left hand 45 |
    right hand 45), 165 = SMPL-X (global 3 | body 63 | jaw 3 | eyes 3 + 3 | left hand 45 | right hand 45).
    Frames are subsampled by the integer step nearest to ``mocap_framerate / target_fps`` (SMPL-X exports call
    it 'mocap_frame_rate'); None keeps every frame.

    Returns: 'global_orient' (T, 3) as stored (AMASS world, z up), 'body_pose' (T, 21, 3),
    'left_hand_pose'/'right_hand_pose' (T, 15, 3), 'jaw_pose' (T, 3) for SMPL-X files only, 'trans' (T, 3)
    metres, 'betas' (B,) when present, 'gender' (str, 'unknown' if absent), 'fps' (after subsampling),
    'layout' ('SMPL+H' or 'SMPL-X'). Arrays float64, radians. Raises ``DataFileError`` naming the file and key.
    """
    path = Path(path)
    data = read_npz(path, "AMASS .npz")

    def array(key: str, shape: tuple, what: str) -> np.ndarray:
        if key not in data:
            raise DataFileError(f"{path}: missing key {key!r} ({what})")
        value = data[key]
        if value.dtype.kind not in "fiu" or value.ndim != len(shape) or any(
                s is not None and s != v for s, v in zip(shape, value.shape, strict=True)):
            raise DataFileError(f"{path}: key {key!r} has shape {value.shape} and dtype {value.dtype}, "
                                f"expected {what}")
        value = value.astype(np.float64)
        if not np.isfinite(value).all():
            raise DataFileError(f"{path}: key {key!r} contains NaN or inf")
        return value

    rate_key = "mocap_frame_rate" if "mocap_frame_rate" in data else "mocap_framerate"
    rate = float(array(rate_key, (), "the capture frame rate, a positive scalar; SMPL-X exports: 'mocap_frame_rate'"))
    if not rate > 0:
        raise DataFileError(f"{path}: key {rate_key!r} is {rate}, expected a positive frame rate")
    poses = array("poses", (None, None), "(T, 156) SMPL+H or (T, 165) SMPL-X axis-angle")
    if poses.shape[1] not in AMASS_LAYOUTS:
        raise DataFileError(f"{path}: key 'poses' has shape {poses.shape}, expected (T, 156) SMPL+H or "
                            "(T, 165) SMPL-X")
    trans = array("trans", (poses.shape[0], 3), f"({poses.shape[0]}, 3) root translation")
    step = 1 if target_fps is None else max(1, round(rate / target_fps))
    poses, trans = poses[::step], trans[::step]
    body_end = 3 * (1 + SMPLX_NUM_BODY_JOINTS)
    hands = poses[:, -_HANDS:].reshape(len(poses), 2, SMPLX_NUM_HAND_JOINTS, 3)
    out = {
        "global_orient": poses[:, :3], "body_pose": poses[:, 3:body_end].reshape(-1, SMPLX_NUM_BODY_JOINTS, 3),
        "left_hand_pose": hands[:, 0], "right_hand_pose": hands[:, 1], "trans": trans, "fps": rate / step,
        "layout": AMASS_LAYOUTS[poses.shape[1]],
    }  # fmt: skip
    if out["layout"] == "SMPL-X":
        out["jaw_pose"] = poses[:, body_end : body_end + 3]
    if "betas" in data:
        out["betas"] = array("betas", (None,), "(B,) shape coefficients")
    gender = data.get("gender")
    out["gender"] = "unknown" if gender is None else str(gender.item() if gender.ndim == 0 else gender)
    return out


def _pool_amass(motions: list[dict]) -> dict[str, np.ndarray]:
    """Concatenate read motions into per-frame arrays for sampling."""
    pooled: dict[str, list] = {k: [] for k in ("global_orient", "body_pose", "left_hand_pose", "right_hand_pose",
                                              "has_hands", "betas", "has_betas")}
    for m in motions:
        T = len(m["body_pose"])
        hands = np.concatenate([m["left_hand_pose"], m["right_hand_pose"]], 1)
        betas = np.zeros(NUM_BETAS)
        if "betas" in m:
            b = m["betas"][:NUM_BETAS]
            betas[: len(b)] = b
        for key in ("global_orient", "body_pose", "left_hand_pose", "right_hand_pose"):
            pooled[key].append(m[key])
        pooled["has_hands"].append(np.abs(hands).reshape(T, -1).max(1, initial=0.0) > 0)
        pooled["betas"].append(np.tile(betas, (T, 1)))
        pooled["has_betas"].append(np.full(T, "betas" in m))
    out = {k: np.concatenate(v) for k, v in pooled.items()}
    if not len(out["body_pose"]):
        raise ValueError("the AMASS files hold no frames")
    return out


def _amass_global_orient(global_orient: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """AMASS root orientations (n, 3), z-up world -> y-up (rotate -90 deg about x), then a random heading."""
    n = len(global_orient)
    R = axis_angle_to_matrix(torch.from_numpy(np.asarray(global_orient, dtype=np.float64))).numpy()
    R = _rot(_Y, rng.uniform(-np.pi, np.pi, n)) @ _rot(_X, np.full(n, -np.pi / 2)) @ R
    return matrix_to_axis_angle(torch.from_numpy(R)).numpy()
