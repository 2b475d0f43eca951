"""Rest-pose joint layout of the embedded body model from public anthropometric ratios.

Frame: the SMPL-X body frame (y up, x towards the subject's left, z forwards), metres, T-pose with
palms down, pelvis fixed at ``PELVIS`` for every body shape (so shape changes never move the root).

Sources of the ratios (all lengths are fractions of stature H unless said otherwise):
- Body segments: Drillis, Contini & Bluestein (1964), "Body segment parameters", Artificial Limbs 8(1),
  as tabulated in D. A. Winter, *Biomechanics and Motor Control of Human Movement*, 4th ed. (2009),
  Fig. 4.1: eye height 0.936, chin 0.870, shoulder 0.818, nipple 0.720, hip (greater trochanter) 0.530,
  knee 0.285, ankle 0.039; upper arm 0.186, forearm 0.146, hand 0.108, shoulder width 0.259,
  hip width 0.191, foot length 0.152, foot width 0.055, head (chin to vertex) 0.130.
- Hand segments as fractions of hand length: Buchholz, Armstrong & Goldstein (1992), "Anthropometric
  data for describing the kinematics of the human hand", Ergonomics 35(3), Table 2 (rounded).
- Head breadth/depth and interpupillary distance: Farkas (1994), *Anthropometry of the Head and Face*,
  adult means (head breadth ~0.091 H, head length ~0.115 H, pupils ~0.037 H apart).
Joint centres are placed inside the segments (e.g. the shoulder joint sits medial of the acromion edge)
where SMPL-family models put them; those offsets are our own estimates, not measurements.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

PELVIS = np.array([0.0, -0.35, 0.0])

# (name, fraction of the metacarpal length, lateral offset as a fraction of hand length) for the
# four fingers, with (metacarpal, proximal, middle, distal) lengths as fractions of hand length.
FINGER_SEGMENTS = {
    "index": (0.374, 0.245, 0.143, 0.097),
    "middle": (0.373, 0.266, 0.170, 0.108),
    "ring": (0.336, 0.244, 0.165, 0.107),
    "pinky": (0.295, 0.204, 0.117, 0.093),
}
# Knuckle (MCP) spread across the palm, fraction of hand length, towards the thumb side (+z).
FINGER_LATERAL = {"index": 0.115, "middle": 0.035, "ring": -0.045, "pinky": -0.120}
# Fanning of the finger axes in the palm plane (radians, + towards the thumb side).
FINGER_FAN = {"index": 0.06, "middle": 0.0, "ring": -0.05, "pinky": -0.11}
# Thumb: carpometacarpal start relative to the wrist (fraction of hand length) and its segment lengths.
THUMB_BASE = np.array([0.10, -0.035, 0.10])
THUMB_SEGMENTS = (0.251, 0.196, 0.158)
THUMB_DIRECTION = np.array([0.72, -0.20, 0.66])
FINGERS = ("index", "middle", "pinky", "ring", "thumb")  # SMPL-X / MANO joint order of the fingers


@dataclass(frozen=True)
class Proportions:
    """Body-shape parameters of the generator; the shape blend shapes are its derivatives.

    Each field is a multiplier around 1 (or an offset around 0) on the Drillis-Contini layout.
    """

    stature: float = 1.70  # metres
    girth: float = 1.0  # all trunk and limb radii
    leg_length: float = 1.0  # thigh and shank lengths (trunk unchanged)
    shoulder_width: float = 1.0
    hip_width: float = 1.0
    arm_length: float = 1.0  # upper arm, forearm and hand
    belly: float = 0.0  # extra abdominal depth, metres
    head_size: float = 1.0
    neck_length: float = 1.0
    limb_girth: float = 1.0  # limb radii only (muscularity)

    def varied(self, name: str, delta: float) -> Proportions:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values[name] += delta
        return Proportions(**values)


# One shape component per field, in this order, with the change that one unit of beta makes
# (about one population standard deviation).
SHAPE_COMPONENTS = (
    ("stature", 0.07),
    ("girth", 0.10),
    ("leg_length", 0.04),
    ("shoulder_width", 0.05),
    ("hip_width", 0.06),
    ("arm_length", 0.04),
    ("belly", 0.025),
    ("head_size", 0.04),
    ("neck_length", 0.15),
    ("limb_girth", 0.08),
)


def body_joints(p: Proportions) -> dict[str, np.ndarray]:
    """Rest-pose centres of the body, head and hand joints, by SMPL-X joint name (metres)."""
    H = p.stature

    def up(frac: float) -> float:  # height of the trunk/head landmark at `frac` of stature
        return PELVIS[1] + (frac - 0.555) * H

    def leg(frac: float) -> float:  # leg landmarks scale with leg length
        return PELVIS[1] + (frac - 0.555) * H * p.leg_length

    j: dict[str, np.ndarray] = {"pelvis": PELVIS.copy()}
    for side, s in (("left", 1.0), ("right", -1.0)):
        hw = p.hip_width
        j[f"{side}_hip"] = np.array([s * 0.034 * H * hw, leg(0.515), 0.0])
        j[f"{side}_knee"] = np.array([s * 0.031 * H * hw, leg(0.285), 0.006 * H])
        j[f"{side}_ankle"] = np.array([s * 0.032 * H * hw, leg(0.039), -0.012 * H])
        j[f"{side}_foot"] = np.array([s * 0.037 * H * hw, leg(0.013), 0.064 * H])
    j["spine1"] = np.array([0.0, up(0.615), -0.008 * H])
    j["spine2"] = np.array([0.0, up(0.690), -0.006 * H])
    j["spine3"] = np.array([0.0, up(0.740), -0.004 * H])
    j["neck"] = np.array([0.0, up(0.828), -0.012 * H])
    j["head"] = j["neck"] + np.array([0.0, 0.052 * H * p.neck_length, 0.008 * H])
    for side, s in (("left", 1.0), ("right", -1.0)):
        sw = p.shoulder_width
        j[f"{side}_collar"] = np.array([s * 0.045 * H * sw, up(0.805), -0.006 * H])
        shoulder = np.array([s * 0.108 * H * sw, up(0.808), -0.010 * H])
        j[f"{side}_shoulder"] = shoulder
        j[f"{side}_elbow"] = shoulder + np.array([s * 0.186 * H * p.arm_length, 0.0, -0.004 * H])
        j[f"{side}_wrist"] = j[f"{side}_elbow"] + np.array([s * 0.146 * H * p.arm_length, 0.0, 0.002 * H])
        j.update(hand_joints(p, side, j[f"{side}_wrist"]))
    return j


def head_frame(p: Proportions, head_joint: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre and half-axes (x, y, z) of the head ellipsoid; the eyes lie at the centre's height."""
    H, hs = p.stature, p.head_size
    centre = head_joint + hs * np.array([0.0, 0.056 * H, 0.012 * H])
    half_axes = hs * np.array([0.0455 * H, 0.066 * H, 0.0575 * H])
    return centre, half_axes


def hand_length(p: Proportions) -> float:
    return 0.108 * p.stature * p.arm_length


def hand_joints(p: Proportions, side: str, wrist: np.ndarray) -> dict[str, np.ndarray]:
    """Finger joint centres and fingertip points of one hand (names as SMPL-X, tips as 'left_index')."""
    s = 1.0 if side == "left" else -1.0
    HL = hand_length(p)
    out: dict[str, np.ndarray] = {}
    for finger in ("index", "middle", "ring", "pinky"):
        meta, prox, mid, dist = FINGER_SEGMENTS[finger]
        axis = np.array([np.cos(FINGER_FAN[finger]), -0.02, np.sin(FINGER_FAN[finger])])
        axis /= np.linalg.norm(axis)
        axis[0] *= s
        mcp = wrist + np.array([s * meta * HL, -0.012 * HL, FINGER_LATERAL[finger] * HL])
        pip = mcp + axis * prox * HL
        dip = pip + axis * mid * HL
        tip = dip + axis * dist * HL
        out[f"{side}_{finger}1"], out[f"{side}_{finger}2"], out[f"{side}_{finger}3"] = mcp, pip, dip
        out[f"{side}_{finger}"] = tip
    axis = THUMB_DIRECTION / np.linalg.norm(THUMB_DIRECTION)
    axis = axis * np.array([s, 1.0, 1.0])
    base = wrist + THUMB_BASE * HL * np.array([s, 1.0, 1.0])
    mcp = base + axis * THUMB_SEGMENTS[0] * HL
    ip = mcp + axis * THUMB_SEGMENTS[1] * HL
    tip = ip + axis * THUMB_SEGMENTS[2] * HL
    out[f"{side}_thumb1"], out[f"{side}_thumb2"], out[f"{side}_thumb3"], out[f"{side}_thumb"] = base, mcp, ip, tip
    return out
