"""Closed-surface primitives and the assembly of the embedded body mesh.

The body is a union of closed, consistently oriented surfaces (trunk, neck, head, eyeballs, shoulder
girdles, arms, palms, fingers, legs, feet) that overlap at the joints, so every edge has exactly two faces.
Tubes are built as rings of vertices around a centre line; every joint of the kinematic tree has a ring
(or a symmetric vertex set) centred on it, which makes the joint regressor an exact average.
Topology, skinning weights and regressor sets depend only on ring indices, never on the shape
parameters, so positions for any `Proportions` share one topology (the shape blend shapes are
finite differences of `assemble`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import ConvexHull

from bench.body.embedded.anatomy import Proportions, body_joints, hand_length, head_frame
from bench.body.embedded.face import EAR_Y, NOSE_TIP_Y, TMJ_Y, deform_head, jaw_weight
from bench.body.skeletons import get_skeleton


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def frames(centres: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Per-ring orthonormal frames (R, 3, 3) rows (u, v, w): w the centre-line tangent, u closest to `ref`."""
    tang = np.gradient(centres, axis=0)
    w = tang / np.linalg.norm(tang, axis=1, keepdims=True)
    u = ref[None, :] - (w @ ref)[:, None] * w
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    v = np.cross(w, u)
    return np.stack([u, v, w], axis=1)


def tube(centres: np.ndarray, radii: np.ndarray, ref: np.ndarray, nseg: int, start_apex: np.ndarray,
         end_apex: np.ndarray, exponent: float = 2.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A closed tube: apex, R rings of `nseg` vertices, apex.

    centres (R, 3); radii (R, 2) along (u, v); the cross-section is a superellipse with `exponent`
    (2 = ellipse), symmetric under a half turn so each ring's centroid is its centre.
    Returns vertices (R * nseg + 2, 3), faces (F, 3) outward-oriented, radial unit vectors (V, 3).
    """
    R = len(centres)
    fr = frames(centres, ref)
    phi = 2.0 * np.pi * np.arange(nseg) / nseg
    c, s = np.cos(phi), np.sin(phi)
    e = 2.0 / exponent
    cu, sv = np.sign(c) * np.abs(c) ** e, np.sign(s) * np.abs(s) ** e
    offs = (radii[:, 0:1, None] * cu[None, :, None] * fr[:, None, 0]
            + radii[:, 1:2, None] * sv[None, :, None] * fr[:, None, 1])  # (R, nseg, 3)
    rings = centres[:, None, :] + offs
    verts = np.concatenate([start_apex[None], rings.reshape(-1, 3), end_apex[None]])
    radial = np.concatenate([-fr[0, 2][None], (offs / np.linalg.norm(offs, axis=2, keepdims=True)).reshape(-1, 3),
                             fr[-1, 2][None]])
    k = np.arange(nseg)
    k1 = (k + 1) % nseg
    faces = [np.stack([np.zeros(nseg, int), 1 + k1, 1 + k], 1)]
    for r in range(R - 1):
        a, b = 1 + r * nseg + k, 1 + r * nseg + k1
        faces += [np.stack([a, b, b + nseg], 1), np.stack([a, b + nseg, a + nseg], 1)]
    last = 1 + (R - 1) * nseg
    faces.append(np.stack([last + k, last + k1, np.full(nseg, len(verts) - 1)], 1))
    faces = np.concatenate(faces)
    return verts, _orient_outward(verts, faces), radial


def sphere(centre: np.ndarray, radius: float, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A closed sphere of exactly `n` vertices (Fibonacci lattice, triangulated by its convex hull)."""
    i = np.arange(n) + 0.5
    polar = np.arccos(1.0 - 2.0 * i / n)
    azim = np.pi * (1.0 + 5.0 ** 0.5) * i
    dirs = np.stack([np.sin(polar) * np.sin(azim), np.cos(polar), np.sin(polar) * np.cos(azim)], 1)
    faces = ConvexHull(dirs).simplices.astype(np.int64)
    faces = np.sort(faces, axis=1)  # canonical order so the result does not depend on qhull's choices
    faces = faces[np.lexsort(faces.T[::-1])]
    return centre + radius * dirs, _orient_outward_each(dirs, faces), dirs


def _orient_outward_each(dirs: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Orient each triangle of a star-shaped surface (around the origin) outwards."""
    a, b, c = dirs[faces[:, 0]], dirs[faces[:, 1]], dirs[faces[:, 2]]
    flip = np.einsum("ij,ij->i", np.cross(b - a, c - a), a + b + c) < 0
    out = faces.copy()
    out[flip] = out[flip][:, [0, 2, 1]]
    return out


def _orient_outward(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    a, b, c = verts[faces[:, 0]], verts[faces[:, 1]], verts[faces[:, 2]]
    volume = np.einsum("ij,ij->i", a, np.cross(b, c)).sum()
    return faces if volume > 0 else faces[:, [0, 2, 1]].copy()


@dataclass
class Chain:
    """Skinning layout along a tube: ring r lies in segment `seg[r]` at fraction `t[r]` of it.

    Segment k runs from joint k to joint k+1 of `joints` and is skinned to joint k; segment -1 (before the
    first joint) belongs to `parent`. Around every joint the weight ramps over `blend` of a segment and a
    pose-corrective gain peaks there.
    """

    joints: list[str]
    parent: str | None
    seg: np.ndarray
    t: np.ndarray
    blend: float = 0.3


@dataclass
class BodyMesh:
    verts: np.ndarray  # (V, 3)
    faces: np.ndarray  # (F, 3)
    weights: np.ndarray  # (V, 55) skinning weights, rows sum to 1
    corrective: np.ndarray  # (V, 55) pose-corrective gain (bulge along `radial` when joint j bends)
    radial: np.ndarray  # (V, 3) outward unit vectors
    regressor_sets: dict[str, np.ndarray]  # joint name -> vertex ids averaged by the joint regressor
    points: dict[str, int]  # named vertices: vertex joints ('nose', 'lear', 'LBigToe', ...)
    head_ids: np.ndarray  # vertex ids of the head surface (landmarks and expressions live there)
    head_centre: np.ndarray
    head_axes: np.ndarray
    scale: float  # face feature scale (head size x stature / 1.70 m)
    radius: np.ndarray = field(default=None)  # (V,) local tube radius, for corrective magnitudes


class _Builder:
    def __init__(self) -> None:
        self.names = get_skeleton("smplx_joints55").joints
        self.jidx = {n: i for i, n in enumerate(self.names)}
        self.verts: list[np.ndarray] = []
        self.faces: list[np.ndarray] = []
        self.weights: list[np.ndarray] = []
        self.corr: list[np.ndarray] = []
        self.radial: list[np.ndarray] = []
        self.radius: list[np.ndarray] = []
        self.n = 0
        self.sets: dict[str, np.ndarray] = {}
        self.points: dict[str, int] = {}

    def add(self, verts, faces, radial, weights, corr, radius) -> int:
        off = self.n
        self.verts.append(verts)
        self.faces.append(faces + off)
        self.radial.append(radial)
        self.weights.append(weights)
        self.corr.append(corr)
        self.radius.append(radius)
        self.n += len(verts)
        return off

    def chain_tube(self, chain: Chain, centres, radii, ref, nseg, start_apex, end_apex, exponent=2.0):
        """Add a tube skinned along `chain`; returns (offset, ring ids (R, nseg))."""
        verts, faces, radial = tube(centres, radii, ref, nseg, start_apex, end_apex, exponent)
        R = len(centres)
        w_ring = np.zeros((R, 55))
        g_ring = np.zeros((R, 55))
        for r in range(R):
            k, t = int(chain.seg[r]), float(chain.t[r])
            if k >= len(chain.joints):  # rings past the last joint (e.g. a fingertip) belong to it
                k, t = len(chain.joints) - 1, 1.0
            own = chain.joints[k] if k >= 0 else chain.parent
            w_ring[r, self.jidx[own]] = 1.0
            # distance (in segment fractions) to the joint at the start and at the end of this segment
            for joint_pos, other, sign in ((k, chain.joints[k - 1] if k >= 1 else chain.parent, -1),
                                           (k + 1, chain.joints[k + 1] if k + 1 < len(chain.joints) else None, 1)):
                d = (t if sign < 0 else 1.0 - t) / chain.blend
                if d >= 1.0:
                    continue
                if sign < 0 and 0 <= joint_pos < len(chain.joints) and other is not None:
                    # near the start of segment k: share with the segment before (joint k bends here)
                    share = 0.5 * (1.0 - d)
                    w_ring[r] *= 1.0 - share
                    w_ring[r, self.jidx[other]] += share
                    g_ring[r, self.jidx[chain.joints[joint_pos]]] = max(g_ring[r, self.jidx[chain.joints[joint_pos]]],
                                                                         1.0 - d)
                elif sign > 0 and other is not None:
                    share = 0.5 * (1.0 - d)
                    w_ring[r] *= 1.0 - share
                    w_ring[r, self.jidx[other]] += share
                    g_ring[r, self.jidx[other]] = max(g_ring[r, self.jidx[other]], 1.0 - d)
        weights = np.concatenate([w_ring[:1], np.repeat(w_ring, nseg, 0), w_ring[-1:]])
        corr = np.concatenate([np.zeros((1, 55)), np.repeat(g_ring, nseg, 0), np.zeros((1, 55))])
        rad = radii.mean(axis=1)
        radius = np.concatenate([rad[:1], np.repeat(rad, nseg), rad[-1:]])
        off = self.add(verts, faces, radial, weights, corr, radius)
        ring_ids = off + 1 + np.arange(R * nseg).reshape(R, nseg)
        return off, ring_ids

    def rigid(self, verts, faces, radial, joint) -> int:
        w = np.zeros((len(verts), 55))
        w[:, self.jidx[joint]] = 1.0
        return self.add(verts, faces, radial, w, np.zeros_like(w), np.zeros(len(verts)))


def _stations(points: list[np.ndarray], per_segment: list[int], pre: tuple[np.ndarray, int] | None,
              post: tuple[np.ndarray, int] | None):
    """Ring centres along joints `points` with `per_segment[k]` rings in segment k (joint rings included).

    `pre`/`post` add (end point, ring count) extensions before the first and after the last joint.
    Returns centres (R, 3), seg (R,), t (R,), and the ring index of each joint.
    """
    centres, seg, t, joint_ring = [], [], [], []
    if pre is not None:
        end, count = pre
        for i in range(count):
            f = i / count
            centres.append(end + f * (points[0] - end))
            seg.append(-1)
            t.append(f)
    for k in range(len(points) - 1):
        for i in range(per_segment[k]):
            f = i / per_segment[k]
            if i == 0:
                joint_ring.append(len(centres))
            centres.append(points[k] + f * (points[k + 1] - points[k]))
            seg.append(k)
            t.append(f)
    joint_ring.append(len(centres))
    centres.append(points[-1])
    seg.append(len(points) - 1)
    t.append(0.0)
    if post is not None:
        end, count = post
        for i in range(1, count + 1):
            f = i / (count + 1)
            centres.append(points[-1] + f * (end - points[-1]))
            seg.append(len(points) - 1)
            t.append(f)
    return np.array(centres), np.array(seg), np.array(t), joint_ring


def _profile(keys: list[float], values: list[np.ndarray], x: np.ndarray) -> np.ndarray:
    """Piecewise-linear radii (R, 2) along the ring parameter x (cumulative ring position)."""
    values = np.asarray(values)
    return np.stack([np.interp(x, keys, values[:, 0]), np.interp(x, keys, values[:, 1])], 1)


HEAD_RINGS, HEAD_SEG = 56, 64
EYE_VERTS_MIN = 120


def assemble(p: Proportions, eye_vertices: tuple[int, int] = (150, 150)) -> BodyMesh:
    """Build the body mesh for shape `p` (fixed topology for a fixed `eye_vertices`)."""
    H = p.stature
    J = body_joints(p)
    b = _Builder()
    gi = p.girth
    X, Y, Z = np.eye(3)

    # --- trunk: crotch -> pelvis -> spine1 -> spine2 -> spine3 -> neck -> top of the shoulders
    trunk_joints = ["pelvis", "spine1", "spine2", "spine3", "neck"]
    pts = [J[n] for n in trunk_joints]
    centres, seg, t, jr = _stations(pts, [6, 6, 4, 8], (J["pelvis"] + np.array([0, -0.07 * H, 0.004 * H]), 4),
                                    (J["neck"] + np.array([0, 0.018 * H, 0.0]), 2))
    belly = p.belly
    half = [  # (depth half-axis along z, width half-axis along x) at the stations below
        (0.035 * H * gi, 0.060 * H * gi),  # crotch
        (0.062 * H * gi, 0.100 * H * gi * p.hip_width),  # pelvis
        (0.057 * H * gi + belly, 0.083 * H * gi),  # spine1 (waist)
        (0.062 * H * gi + 0.6 * belly, 0.088 * H * gi),  # spine2
        (0.066 * H * gi, 0.094 * H * gi * (0.5 + 0.5 * p.shoulder_width)),  # spine3 (chest)
        (0.036 * H * gi, 0.052 * H * gi),  # neck
        (0.030 * H * gi, 0.034 * H * gi),  # top
    ]
    keys = [0, 4, 10, 16, 20, 28, 30]
    radii = _profile(keys, half, np.arange(len(centres)))
    _, rings = b.chain_tube(Chain(trunk_joints, "pelvis", seg, t, blend=0.35), centres, radii, Z, 40,
                            centres[0] + np.array([0, -0.012 * H, 0]), centres[-1] + np.array([0, 0.006 * H, 0]),
                            exponent=2.4)
    for name, r in zip(trunk_joints, jr, strict=True):
        b.sets[name] = rings[r]

    # --- neck: neck -> head (+ into the skull)
    pts = [J["neck"], J["head"]]
    centres, seg, t, jr = _stations(pts, [6], (J["neck"] + np.array([0, -0.01 * H, 0]), 1),
                                    (J["head"] + np.array([0, 0.03 * H, 0.004 * H]), 2))
    radii = np.tile([0.031 * H * gi, 0.034 * H * gi], (len(centres), 1))
    _, rings = b.chain_tube(Chain(["neck", "head"], "spine3", seg, t, blend=0.4), centres, radii, Z, 32,
                            centres[0] + np.array([0, -0.01 * H, 0]), centres[-1] + np.array([0, 0.01 * H, 0]))
    b.sets["head"] = rings[jr[1]]

    # --- head: latitude rings of an ellipsoid (u = +z front, v = +x), then facial features
    centre, axes = head_frame(p, J["head"])
    theta = np.pi * (np.arange(HEAD_RINGS)[::-1] + 1) / (HEAD_RINGS + 1)  # bottom to top
    centres = centre[None] + np.cos(theta)[:, None] * axes[1] * Y
    radii = np.stack([axes[2] * np.sin(theta), axes[0] * np.sin(theta)], 1)
    verts, faces, radial = tube(centres, radii, Z, HEAD_SEG, centre - axes[1] * Y, centre + axes[1] * Y)
    scale = p.head_size * H / 1.70
    verts = deform_head(verts, centre, axes, scale)
    w = np.zeros((len(verts), 55))
    wj = jaw_weight(verts, centre, axes, scale)
    w[:, b.jidx["jaw"]] = wj
    w[:, b.jidx["head"]] = 1.0 - wj
    head_off = b.add(verts, faces, radial, w, np.zeros_like(w), np.zeros(len(verts)))
    head_ids = head_off + np.arange(len(verts))
    head_ring = head_off + 1 + np.arange(HEAD_RINGS * HEAD_SEG).reshape(HEAD_RINGS, HEAD_SEG)
    ring_y = centres[:, 1] - centre[1]
    front, side_l, side_r = 0, HEAD_SEG // 4, 3 * HEAD_SEG // 4  # phi = 0 faces +z, 90 deg faces +x

    def ring_at(y_face: float) -> int:
        return int(np.argmin(np.abs(ring_y - y_face * scale)))

    b.points["nose"] = int(head_ring[ring_at(NOSE_TIP_Y), front])
    b.points["lear"] = int(head_ring[ring_at(EAR_Y), side_l])
    b.points["rear"] = int(head_ring[ring_at(EAR_Y), side_r])
    tmj = ring_at(TMJ_Y)
    b.sets["jaw"] = np.array([head_ring[tmj, side_l], head_ring[tmj, side_r]])

    # --- eyeballs (the regressor averages the whole eyeball: its centroid is the eye joint)
    for side, s, n_eye in (("left", 1.0, eye_vertices[0]), ("right", -1.0, eye_vertices[1])):
        x = s * 0.0185 * H * p.head_size
        z_front = axes[2] * np.sqrt(1.0 - (x / axes[0]) ** 2)
        eye_c = centre + np.array([x, 0.0, z_front - 0.0075 * H * p.head_size])
        verts, faces, radial = sphere(eye_c, 0.0072 * H * p.head_size, n_eye)
        off = b.rigid(verts, faces, radial, f"{side}_eye_smplhf")
        b.sets[f"{side}_eye_smplhf"] = off + np.arange(n_eye)
        b.points[f"{side[0]}eye"] = off + int(np.argmax(verts[:, 2]))

    for side, s in (("left", 1.0), ("right", -1.0)):
        _limbs(b, p, J, side, s)

    verts = np.concatenate(b.verts)
    return BodyMesh(
        verts=verts, faces=np.concatenate(b.faces), weights=np.concatenate(b.weights),
        corrective=np.concatenate(b.corr), radial=np.concatenate(b.radial), regressor_sets=b.sets,
        points=b.points, head_ids=head_ids, head_centre=centre, head_axes=axes, scale=scale,
        radius=np.concatenate(b.radius),
    )


def _limbs(b: _Builder, p: Proportions, J: dict[str, np.ndarray], side: str, s: float) -> None:
    H = p.stature
    gi, li = p.girth, p.girth * p.limb_girth
    X, Y, Z = np.eye(3)
    n = lambda name: f"{side}_{name}"  # noqa: E731

    # shoulder girdle: collar -> shoulder, rounded beyond the shoulder
    pts = [J[n("collar")], J[n("shoulder")]]
    centres, seg, t, jr = _stations(pts, [6], None, (J[n("shoulder")] + np.array([s * 0.022 * H, 0.004 * H, 0]), 2))
    radii = _profile([0, 6, 8], [(0.030 * H * gi, 0.036 * H * gi), (0.034 * H * li, 0.036 * H * li),
                                 (0.022 * H * li, 0.024 * H * li)], np.arange(len(centres)))
    _, rings = b.chain_tube(Chain([n("collar"), n("shoulder")], "spine3", seg, t), centres, radii, Y, 24,
                            centres[0] - np.array([s * 0.01 * H, 0, 0]), centres[-1] + np.array([s * 0.006 * H, 0, 0]))
    b.sets[n("collar")] = rings[jr[0]]

    # arm: shoulder -> elbow -> wrist (+ into the palm)
    pts = [J[n("shoulder")], J[n("elbow")], J[n("wrist")]]
    centres, seg, t, jr = _stations(pts, [10, 10], (J[n("shoulder")] - np.array([s * 0.015 * H, 0, 0]), 1),
                                    (J[n("wrist")] + np.array([s * 0.012 * H, 0, 0]), 1))
    radii = _profile([0, 1, 6, 11, 15, 21, 22],
                     [(0.022 * H * li, 0.022 * H * li), (0.029 * H * li, 0.029 * H * li),
                      (0.025 * H * li, 0.024 * H * li), (0.020 * H * li, 0.019 * H * li),
                      (0.021 * H * li, 0.019 * H * li), (0.011 * H * li, 0.016 * H * li),
                      (0.010 * H * li, 0.015 * H * li)], np.arange(len(centres)))
    _, rings = b.chain_tube(Chain([n("shoulder"), n("elbow"), n("wrist")], n("collar"), seg, t), centres, radii,
                            Y, 20, centres[0] - np.array([s * 0.01 * H, 0, 0]),
                            centres[-1] + np.array([s * 0.004 * H, 0, 0]))
    for name, r in zip(["shoulder", "elbow", "wrist"], jr, strict=True):
        b.sets[n(name)] = rings[r]

    # palm: wrist -> knuckle line, flat (u = palm normal, v = across the hand)
    HL = hand_length(p)
    knuckles = np.mean([J[n(f + "1")] for f in ("index", "middle", "ring", "pinky")], axis=0)
    centres = J[n("wrist")][None] + np.linspace(0.0, 1.08, 9)[:, None] * (knuckles - J[n("wrist")])[None]
    radii = _profile([0, 3, 8], [(0.012 * H * li, 0.022 * H * li), (0.016 * H * li, 0.026 * H * li),
                                 (0.012 * H * li, 0.025 * H * li)], np.arange(len(centres)))
    verts, faces, radial = tube(centres, radii, Y, 24, centres[0] - np.array([s * 0.01 * H, 0, 0]),
                                centres[-1] + np.array([s * 0.008 * H, 0, 0]), exponent=2.6)
    w = np.zeros((len(verts), 55))
    w[:, b.jidx[n("wrist")]] = 1.0
    b.add(verts, faces, radial, w, np.zeros_like(w), np.full(len(verts), 0.012 * H))

    # fingers and thumb: base1 -> 2 -> 3 -> tip (tip = the end apex, a vertex joint)
    for finger in ("index", "middle", "pinky", "ring", "thumb"):
        joints = [n(finger + "1"), n(finger + "2"), n(finger + "3")]
        tip = J[n(finger)]
        pts = [J[j] for j in joints] + [tip]
        r0 = (0.0062 if finger == "thumb" else 0.0048 if finger != "pinky" else 0.0040) * H * li
        direction = (pts[1] - pts[0]) / np.linalg.norm(pts[1] - pts[0])
        tip_end = tip - 0.04 * HL * (tip - pts[2]) / np.linalg.norm(tip - pts[2])
        centres, seg, t, jr = _stations(pts[:3] + [tip_end], [4, 3, 3], (pts[0] - 0.05 * HL * direction, 1), None)
        taper = np.linspace(1.0, 0.78, len(centres))[:, None]
        radii = np.stack([r0 * 0.85 * taper[:, 0], r0 * taper[:, 0]], 1)
        _, rings = b.chain_tube(Chain(joints, n("wrist"), seg, t, blend=0.35), centres, radii, Y, 12,
                                centres[0] - 0.01 * HL * direction, tip)
        for name, r in zip(joints, jr[:3], strict=True):
            b.sets[name] = rings[r]
        b.points[f"{side[0]}{finger}"] = b.n - 1

    # leg: hip -> knee -> ankle (+ below the ankle)
    pts = [J[n("hip")], J[n("knee")], J[n("ankle")]]
    centres, seg, t, jr = _stations(pts, [10, 10], (J[n("hip")] + np.array([0, 0.04 * H, 0]), 2),
                                    (J[n("ankle")] + np.array([0, -0.02 * H, 0]), 1))
    radii = _profile([0, 2, 4, 12, 15, 22, 23],
                     [(0.040 * H * gi, 0.040 * H * gi), (0.052 * H * gi, 0.050 * H * gi),
                      (0.047 * H * li, 0.045 * H * li), (0.029 * H * li, 0.029 * H * li),
                      (0.033 * H * li, 0.030 * H * li), (0.018 * H * li, 0.020 * H * li),
                      (0.015 * H * li, 0.018 * H * li)], np.arange(len(centres)))
    _, rings = b.chain_tube(Chain([n("hip"), n("knee"), n("ankle")], "pelvis", seg, t), centres, radii, Z, 24,
                            centres[0] + np.array([0, 0.01 * H, 0]), centres[-1] + np.array([0, -0.004 * H, 0]))
    for name, r in zip(["hip", "knee", "ankle"], jr, strict=True):
        b.sets[n(name)] = rings[r]

    # foot: heel -> under the ankle -> ball (foot joint) -> toes; heel and big toe are the apexes
    ankle, ball = J[n("ankle")], J[n("foot")]
    floor = ball[1] - 0.013 * H
    heel = np.array([ankle[0], floor + 0.022 * H, ankle[2] - 0.030 * H])
    toe_tip = np.array([ball[0] - s * 0.010 * H, floor + 0.010 * H, heel[2] + 0.152 * H - 0.012 * H])
    mid = np.array([ankle[0] + s * 0.002 * H, floor + 0.026 * H, ankle[2] + 0.02 * H])
    toe_end = toe_tip - np.array([0.0, 0.0, 0.006 * H])
    centres, seg, t, jr = _stations([heel, mid, ball, toe_end], [4, 6, 5], None, None)
    ball_ring = jr[2]
    radii = _profile([0, 4, 10, 14, 15],
                     [(0.020 * H * li, 0.020 * H * li), (0.025 * H * li, 0.026 * H * li),
                      (0.013 * H * li, 0.031 * H * li), (0.009 * H * li, 0.022 * H * li),
                      (0.006 * H * li, 0.012 * H * li)], np.arange(len(centres)))
    # skinning: heel to ball follow the ankle, beyond the ball the foot joint
    seg_skin = np.where(np.arange(len(centres)) < ball_ring, 0, 1)
    t_skin = np.where(seg_skin == 0, np.arange(len(centres)) / ball_ring,
                      (np.arange(len(centres)) - ball_ring) / (len(centres) - ball_ring))
    _, rings = b.chain_tube(Chain([n("ankle"), n("foot")], n("knee"), seg_skin, t_skin, blend=0.25), centres,
                            radii, Y, 20, heel - np.array([0, 0.004 * H, 0.012 * H]), toe_tip)
    b.sets[n("foot")] = rings[ball_ring]
    # the ring's lateral-most vertex two rings behind the tip stands for the small toe
    small_ring = rings[len(centres) - 3]
    verts_now = np.concatenate(b.verts)
    lateral = small_ring[int(np.argmax(s * verts_now[small_ring, 0]))]
    side_code = "L" if side == "left" else "R"
    b.points[f"{side_code}BigToe"] = b.n - 1
    b.points[f"{side_code}SmallToe"] = int(lateral)
    b.points[f"{side_code}Heel"] = int(rings[0, 0] - 1)
