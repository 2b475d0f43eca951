"""Face of the embedded head: surface features, jaw skinning, expression fields and landmark layout.

Face coordinates: (x, y) in metres for a 1.70 m adult, x towards the subject's left, y relative to the
eye line (the head ellipsoid's centre height); everything scales with `scale` (head size x stature / 1.70).
Layout after the iBUG-68 / OpenPose face scheme, positions from typical adult facial proportions
(Farkas 1994: intercanthal width ~32 mm, mouth width ~50 mm, nose height ~50 mm).
"""

from __future__ import annotations

import numpy as np

NOSE_TIP_Y = -0.034
EAR_Y = -0.008
TMJ_Y = -0.030
MOUTH_Y = -0.070


def _smooth(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _gauss(d2: np.ndarray, sigma: float) -> np.ndarray:
    return np.exp(-d2 / (sigma * sigma))


def _face_coords(verts, centre, axes, scale):
    rel = verts - centre
    fx, fy = rel[:, 0] / scale, rel[:, 1] / scale
    frontness = rel[:, 2] / axes[2]
    return rel, fx, fy, frontness


def deform_head(verts: np.ndarray, centre: np.ndarray, axes: np.ndarray, scale: float) -> np.ndarray:
    """Add nose, brow ridge, eye sockets, lips, chin, ears and a narrower jaw to an ellipsoid head (V, 3)."""
    rel, fx, fy, fz = _face_coords(verts, centre, axes, scale)
    normal = rel / axes**2
    normal /= np.linalg.norm(normal, axis=1, keepdims=True)
    front = _smooth(fz, 0.35, 0.75)
    ax = np.abs(fx)
    # nose: a ridge from the bridge to the tip, falling off below the tip
    ridge = np.where(fy > NOSE_TIP_Y, _smooth(fy, 0.014, NOSE_TIP_Y) * 0.8 + 0.2 * (fy < 0.014),
                     _gauss((fy - NOSE_TIP_Y) ** 2, 0.007))
    h = 0.021 * ridge * _gauss(fx**2, 0.0085 + 0.004 * _smooth(-fy, 0.0, 0.045))
    h += 0.004 * _gauss((fy - 0.022) ** 2, 0.006) * _gauss(fx**4, 0.05**2)  # brow ridge
    h -= 0.006 * _gauss((ax - 0.032) ** 2 + fy**2, 0.013)  # eye sockets
    lips = _gauss((fy + 0.064) ** 2, 0.0045) + _gauss((fy + 0.080) ** 2, 0.0045)
    h += 0.004 * lips * _gauss(fx**4, 0.022**2)
    h += 0.005 * _gauss(fx**2 + (fy + 0.100) ** 2, 0.014)  # chin
    out = verts + (scale * h * front)[:, None] * normal
    # ears: bumps on the sides, a little behind the head's mid-plane
    side = _smooth(np.abs(rel[:, 0]) / axes[0], 0.80, 0.97)
    ear = 0.010 * side * _gauss((fy - EAR_Y) ** 2, 0.016) * _gauss((rel[:, 2] / scale + 0.006) ** 2, 0.014)
    out[:, 0] += np.sign(rel[:, 0]) * scale * ear
    # the lower face is narrower than the cranium
    narrow = 1.0 - 0.13 * _smooth(-fy, 0.03, 0.10)
    out[:, 0] = centre[0] + (out[:, 0] - centre[0]) * narrow
    return out


def jaw_weight(verts: np.ndarray, centre: np.ndarray, axes: np.ndarray, scale: float) -> np.ndarray:
    """Skinning weight of the jaw joint: chin, lower lip and lower jaw (V,)."""
    _, fx, fy, fz = _face_coords(verts, centre, axes, scale)
    return _smooth(-fy, -MOUTH_Y - 0.004, -MOUTH_Y + 0.006) * _smooth(fz, -0.1, 0.3)


# One displacement field per expression component, in this order (unit coefficient, metres at scale 1).
EXPRESSIONS = ("mouth_open", "brow_raise", "smile", "pucker", "frown", "eyes_close", "cheek_puff",
               "mouth_stretch", "nose_wrinkle", "smirk_left")


def expression_fields(verts: np.ndarray, centre: np.ndarray, axes: np.ndarray, scale: float) -> np.ndarray:
    """Expression blend shapes (V, 3, 10) for head vertices `verts` (V, 3)."""
    rel, fx, fy, fz = _face_coords(verts, centre, axes, scale)
    front = _smooth(fz, 0.3, 0.7)
    ax, sx = np.abs(fx), np.sign(fx)
    d = np.zeros((len(verts), 3, len(EXPRESSIONS)))
    lower = _smooth(-fy, -MOUTH_Y - 0.002, -MOUTH_Y + 0.012) * _gauss(fx**2, 0.04)
    d[:, 1, 0] = -0.010 * lower  # mouth open: lower lip and chin drop
    d[:, 2, 0] = -0.002 * lower
    brow = _gauss((fy - 0.024) ** 2, 0.010) * _smooth(0.06 - ax, 0.0, 0.01)
    d[:, 1, 1] = 0.005 * brow  # brows raise
    corners = _gauss((ax - 0.025) ** 2 + (fy - MOUTH_Y) ** 2, 0.011)
    d[:, 0, 2], d[:, 1, 2], d[:, 2, 2] = 0.004 * sx * corners, 0.005 * corners, -0.002 * corners  # smile
    lips = _gauss(fx**2, 0.022) * _gauss((fy - MOUTH_Y) ** 2, 0.013)
    d[:, 0, 3], d[:, 2, 3] = -0.25 * fx * lips, 0.006 * lips  # pucker
    inner = _gauss((ax - 0.015) ** 2 + (fy - 0.022) ** 2, 0.010)
    d[:, 0, 4], d[:, 1, 4] = -0.003 * sx * inner, -0.004 * inner  # frown
    lids = _gauss((ax - 0.032) ** 2 + (fy - 0.005) ** 2, 0.008)
    d[:, 1, 5] = -0.004 * lids  # eyes close
    cheeks = _gauss((ax - 0.042) ** 2 + (fy + 0.045) ** 2, 0.016)
    d[:, 0, 6], d[:, 2, 6] = 0.005 * sx * cheeks, 0.003 * cheeks  # cheek puff
    d[:, 0, 7] = 0.006 * sx * corners  # mouth stretch
    nose_sides = _gauss((ax - 0.012) ** 2 + (fy + 0.025) ** 2, 0.008)
    d[:, 1, 8] = 0.003 * nose_sides  # nose wrinkle
    left_corner = _gauss((fx - 0.025) ** 2 + (fy - MOUTH_Y) ** 2, 0.011)
    d[:, 0, 9], d[:, 1, 9] = 0.003 * left_corner, 0.005 * left_corner  # smirk (left corner up)
    return d * (scale * front)[:, None, None]


# The 51 landmarks of SMPL-X's output 76..126 (= iBUG/OpenPose face points 17..67), face coordinates.
_BROW_R = [(-0.050, 0.020), (-0.040, 0.027), (-0.030, 0.029), (-0.020, 0.027), (-0.010, 0.022)]
_NOSE_BRIDGE = [(0.0, 0.005), (0.0, -0.008), (0.0, -0.021), (0.0, NOSE_TIP_Y)]
_NOSE_BASE = [(-0.015, -0.043), (-0.008, -0.045), (0.0, -0.047), (0.008, -0.045), (0.015, -0.043)]
_EYE_R = [(-0.045, 0.0), (-0.038, 0.005), (-0.027, 0.005), (-0.019, 0.0), (-0.027, -0.004), (-0.038, -0.004)]
_MOUTH_OUT = [(-0.025, -0.070), (-0.016, -0.064), (-0.006, -0.061), (0.0, -0.062), (0.006, -0.061),
              (0.016, -0.064), (0.025, -0.070), (0.016, -0.078), (0.006, -0.081), (0.0, -0.082),
              (-0.006, -0.081), (-0.016, -0.078)]
_MOUTH_IN = [(-0.021, -0.070), (-0.008, -0.067), (0.0, -0.067), (0.008, -0.067), (0.021, -0.070),
             (0.008, -0.072), (0.0, -0.072), (-0.008, -0.072)]


def _mirror(points):
    return [(-x, y) for x, y in points]


# left brow runs inner -> outer, left eye starts at its inner corner (iBUG order)
_BROW_L = _mirror(_BROW_R[::-1])
_EYE_L = _mirror([_EYE_R[3], _EYE_R[2], _EYE_R[1], _EYE_R[0], _EYE_R[5], _EYE_R[4]])
LANDMARKS = np.array(_BROW_R + _BROW_L + _NOSE_BRIDGE + _NOSE_BASE + _EYE_R + _EYE_L + _MOUTH_OUT + _MOUTH_IN)
# Face contour (iBUG 0..16, subject's right ear to chin to left ear), used by use_face_contour=True.
_t = np.linspace(-np.pi / 2, np.pi / 2, 17)
CONTOUR = np.stack([0.066 * np.sin(_t), -0.012 - 0.092 * np.cos(_t)], 1)
