"""Synthetic CMU Panoptic tree in the real file format (panoptic-toolbox layout), read by ``adapter.load``.

What is written under ``out`` (PROTOCOLS.md, "CMU Panoptic", for every real file)::

    HMRBENCH_SYNTHETIC.json                                   the generator's marker (datasets.synth.write_marker)
    <seq>/calibration_<seq>.json                              31 HD cameras '00_00'..'00_30' (+ 2 VGA ones)
    <seq>/hdPose3d_stage1_coco19/body3DScene_%08d.json        joints19 in cm, c > 0.1 valid, invalid = 0,0,0,-1
    <seq>/hdHand3d/handRecon3D_hd%08d.json                    left/right hand 21 x 3, cm
    <seq>/hdFace3d/faceRecon3D_hd%08d.json                    face70 70 x 3, cm
    <seq>/openpose/hd_00_XX/<seq>_00_XX_%08d_keypoints.json   OpenPose JSON 2D input: one file per HD view and
                                                              frame, every detected person of that frame
    <seq>/hmrbench_gt/smplx.npz                               GT SMPL-X (datasets.synth.write_smplx_gt), ids
                                                              'frame' and 'person' (= body id)
    <seq>/hmrbench_gt/occlusion_joints19.npz                  'frame', 'person' (M,), 'views' (V,) and two
                                                              (M, V, 19) bool arrays: 'occluded' = hidden
                                                              behind ANOTHER person, 'self_occluded' = behind
                                                              the body itself

The OpenPose layout is hmrbench's choice (the real dome ships no 2D detections); the file names follow
OpenPose's own ``<image name>_keypoints.json`` style for images named ``<seq>_00_XX_%08d``.

Frames and units
----------------
- The Panoptic world frame: the dome's floor is ``y = 0`` and y points DOWN (PROTOCOLS.md line 9), files hold cm.
  The bank's SMPL-X world is y-up, converted with the proper rotation ``D = diag(1, -1, -1)``:
  ``X_panoptic = D X_smplx`` (metres in memory, cm in the JSON files).
- The GT side file holds SMPL-X parameters **in the Panoptic world frame, metres** (``global_orient`` and
  ``transl`` already rotated by ``D``), so posing the model with them gives the joints of the JSON files and
  ``datasets.synth.smplx_to_camera(params, root_rest, cam.R, cam.t)`` gives them in any camera.
- Cameras are OpenCV (``x_cam = R X + t``), 1920 x 1080, focal 1400-1650 px, principal point within ~12 px of
  the centre, distortion k1 in [-0.3, -0.2], k2 in [0.1, 0.2] (monotonic over the whole image), |p1|, |p2| <
  1e-3, k3 = 0. Centres lie on a dome of radius ~4.7 m around the floor's centre, at heights 0.5-2.8 m and
  varied azimuths, each looking at a point ~1 m above the dome's centre.

People (unlike the real dome, on purpose)
-----------------------------------------
Each frame holds ``people`` bodies from ``datasets.bank.ParameterBank`` standing on the floor. Every body is
placed in front of one "target" HD camera at a horizontal distance drawn from one of four bands (``BANDS``:
close 0.45-1.0 m, near 0.9-1.9 m, mid 1.9-3.5 m, far 3.5-7 m; ``BAND_CYCLE``: a third of the placements close,
a third near), capped to stay ``WALL_MARGIN`` = 0.35 m inside the dome (people walk up to the dome's wall, as
they can in the real dome, whose HD cameras hang 3-4 m from its centre), so the views see close, truncated
bodies and far ones; the other cameras see the same body from 1-9 m. Mid and far placements cycle over the
cameras in a per-sequence order. Close placements target a camera mounted within 0.15 m of the body's own
pelvis height, near ones within 0.35 m (the nearest camera in height when none is): a landscape HD view spans
about +-20 degrees vertically, so a camera higher or lower than the pelvis by more than that angle times the
distance does not see the body's centre, and a view that does not see the root is no close shot.

Generator version 2 added these close placements (version 1: three bands, near 0.6-1.5 m, capped 0.8 m inside
the dome, any target camera: its close bodies were nearly all outside their camera's view, and the few inside
were truncated, so MTC's whole-body filter kept 1 of 3,104 samples under 2 m). The close shots are scored
under the adapter's ``visibility='partial'`` rule (the default set: about 60 samples per 0.5 m bin from 0.5 to
2 m); MTC's 'strict' rule still keeps almost none of them, as a standing body closer than ~2.4 m never fits
a 1920 x 1080 view whole.
The summary's ``nearest_m`` / ``farthest_m`` give, over the views, the range of each view's smallest and
largest camera-centre-to-pelvis distance.

Occlusion follows MTC's annotation, whose per-view body flags are 'insideImg' and 'occluded' while hands have
'self_occluded' and 'overlap' apart (MonocularTotalCapture:POF/data/collect_a4.py; DomeReader.py drops a body
view when ``any(occluded)`` or not ``all(insideImg)``): 'occluded' is occlusion by other people. Self-occlusion
is stored too ('self_occluded'; nearly every view hides some joint behind the body itself).

2D inputs are ``datasets.synth``'s detections (exact projection + depth-buffer occlusion + ``datasets.noise``),
computed with one occlusion pass per (body, view) that also gives the joints19 occlusion side file (see
:func:`_detect`). Deterministic for a seed: the same seed writes the same JSON bytes and the same arrays.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.body.skeletons import get_skeleton, mapping, part_indices
from bench.geometry.projections import project_camera
from bench.npzio import write_npz
from datasets.bank import ParameterBank
from datasets.noise import NoiseConfig, apply_noise
from datasets.openpose import OpenPosePerson, write_openpose
from datasets.panoptic.format import (
    Body,
    BodyFrame,
    Camera,
    FaceFrame,
    FacePerson,
    HandFrame,
    HandPerson,
    Landmarks,
    body_frame_path,
    calibration_path,
    face_frame_path,
    hand_frame_path,
    visible_in_image,
    write_body_frame,
    write_calibration,
    write_face_frame,
    write_hand_frame,
)
from datasets.synth import generator_model, occlusion, render_bodies, smplx_to_camera, write_marker, write_smplx_gt

__all__ = [
    "DEFAULT_FRAMES",
    "DEFAULT_PEOPLE",
    "DEFAULT_SEQUENCES",
    "GENERATOR_VERSION",
    "PANOPTIC_FROM_SMPLX",
    "make_cameras",
    "occlusion_path",
    "openpose_path",
    "smplx_gt_path",
    "synthesize",
]

GENERATOR_VERSION = "2"  # 2: close placements at waist-height cameras (module docstring)
DEFAULT_SEQUENCES = ("171204_pose5", "171204_pose6")  # MTC's test sequences (PROTOCOLS.md line 60)
DEFAULT_FRAMES = 40
DEFAULT_PEOPLE = 2
FIRST_FRAME = 100  # HD frame index of the first frame (real sequences do not start at 0 either)
HD_FPS = 29.97
NUM_HD = 31
IMAGE_SIZE = (1920, 1080)
PANOPTIC_FROM_SMPLX = np.diag([1.0, -1.0, -1.0])  # X_panoptic = D X_smplx (y-up -> y-down), det = +1
DOME_RADIUS = 4.7  # m
# Horizontal distance bands to the target camera (m) and how far (m) the height of a camera a band targets may
# be from the body's pelvis height (None: any camera). A landscape HD view spans about +-20 degrees vertically,
# so a camera sees the pelvis of a body 0.45-1 m away only within ~0.15 m of its height, at 0.9-1.9 m ~0.35 m.
BANDS = ((0.45, 1.0, 0.15), (0.9, 1.9, 0.35), (1.9, 3.5, None), (3.5, 7.0, None))
BAND_CYCLE = (0, 1, 2, 0, 1, 3)  # bands of successive placements at a camera: a third close, a third near
WALL_MARGIN = 0.35  # m: the closest a pelvis comes to the dome's radius at a camera (horizontally)
_CHUNK = 32  # (body, view) pairs per occlusion call: its depth grid is image-sized per pair
_OTHER_MARGIN = 0.02  # m: a joint is hidden by another person whose surface is this much in front of it
_INVALID_JOINT_PROB = 0.01  # per joint, written as 0,0,0,-1 (real files have a few)

LAYOUT = "openpose_137"
J19 = get_skeleton("panoptic_joints19")
_PARTS_3D = ("left_hand", "right_hand", "face")  # the hdHand3d / hdFace3d points, in openpose_137 part order
_J19_IN_137, _ = mapping(LAYOUT, J19)  # joints19 names are all BODY_25 names: same SMPL-X points by name


def smplx_gt_path(folder: Path, seq: str) -> Path:
    """``<folder>/<seq>/hmrbench_gt/smplx.npz``: GT SMPL-X, Panoptic world frame, metres."""
    return Path(folder) / seq / "hmrbench_gt" / "smplx.npz"


def occlusion_path(folder: Path, seq: str) -> Path:
    """``<folder>/<seq>/hmrbench_gt/occlusion_joints19.npz``: per (body, view) joints19 occlusion flags."""
    return Path(folder) / seq / "hmrbench_gt" / "occlusion_joints19.npz"


def openpose_path(folder: Path, seq: str, view: str, frame: int) -> Path:
    """``<folder>/<seq>/openpose/hd_<view>/<seq>_<view>_%08d_keypoints.json`` (OpenPose's naming style)."""
    return Path(folder) / seq / "openpose" / f"hd_{view}" / f"{seq}_{view}_{frame:08d}_keypoints.json"


def _look_at(center: np.ndarray, target: np.ndarray, roll: float) -> np.ndarray:
    """World -> camera rotation (OpenCV axes) of a camera at ``center`` looking at ``target``, Panoptic world
    (y down): camera y follows world down as far as the viewing direction allows, then rolled by ``roll``."""
    z = target - center
    z /= np.linalg.norm(z)
    x = np.cross(np.array([0.0, 1.0, 0.0]), z)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    c, s = np.cos(roll), np.sin(roll)
    x, y = c * x + s * y, -s * x + c * y
    return np.stack([x, y, z])


def make_cameras(rng: np.random.Generator) -> list[Camera]:
    """31 HD cameras '00_00'..'00_30' (panel 0, nodes 0..30) and two VGA ones, Panoptic world, metres."""
    cams = []
    golden = np.pi * (3.0 - np.sqrt(5.0))
    for node in range(NUM_HD):
        azimuth = node * golden + rng.uniform(-0.1, 0.1)
        height = 0.5 + 2.3 * ((node * 0.6180339887 + 0.2) % 1.0)
        radius = DOME_RADIUS + rng.uniform(-0.15, 0.15)
        rho = np.sqrt(radius**2 - height**2)
        center = np.array([rho * np.cos(azimuth), -height, rho * np.sin(azimuth)])
        target = np.array([rng.normal(0, 0.25), -1.0 + rng.normal(0, 0.1), rng.normal(0, 0.25)])
        R = _look_at(center, target, np.radians(rng.normal(0, 1.5)))
        f = rng.uniform(1400.0, 1650.0)
        K = np.array([[f, 0.0, 960.0 + rng.normal(0, 6)], [0.0, f * (1 - 0.0025), 540.0 + rng.normal(0, 6)],
                      [0.0, 0.0, 1.0]])  # fmt: skip
        dist = np.array([rng.uniform(-0.3, -0.2), rng.uniform(0.1, 0.2), rng.normal(0, 3e-4), rng.normal(0, 3e-4),
                         0.0])  # fmt: skip
        cams.append(Camera(name=f"00_{node:02d}", type="hd", resolution=IMAGE_SIZE, K=K, dist=dist, R=R,
                           t=-R @ center, panel=0, node=node))  # fmt: skip
    for node in (1, 2):  # a couple of VGA cameras, as real calibration files hold them too (filtered by type)
        R = _look_at(np.array([3.0 * np.cos(node), -2.0, 3.0 * np.sin(node)]), np.array([0.0, -1.0, 0.0]), 0.0)
        K = np.array([[745.0, 0.0, 320.0], [0.0, 745.0, 240.0], [0.0, 0.0, 1.0]])
        cams.append(
            Camera(
                name=f"01_{node:02d}",
                type="vga",
                resolution=(640, 480),
                K=K,
                dist=np.array([-0.32, 0.13, 0.0, 0.0, 0.0]),
                R=R,
                t=-R @ np.array([3.0 * np.cos(node), -2.0, 3.0 * np.sin(node)]),
                panel=1,
                node=node,
            )
        )
    return cams


def _placements(cams: list[Camera], pelvis_height: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(n_frames, people, 2) ground points (x, z) in the Panoptic world, metres (module docstring), for bodies
    whose pelvis is ``pelvis_height`` (n_frames, people) metres above the floor."""
    n_frames, people = pelvis_height.shape
    order = rng.permutation(NUM_HD)
    offset = rng.integers(0, len(BAND_CYCLE), NUM_HD)
    heights = np.array([-c.center[1] for c in cams])
    made = [0] * len(BANDS)  # placements per band so far: cycles a band's target cameras
    out = np.zeros((n_frames, people, 2))
    k = 0
    for f in range(n_frames):
        for p in range(people):
            for _attempt in range(NUM_HD):
                b = BAND_CYCLE[(k // NUM_HD + offset[order[k % NUM_HD]]) % len(BAND_CYCLE)]
                low, high, tolerance = BANDS[b]
                if tolerance is None:
                    cam = cams[order[k % NUM_HD]]
                else:  # the cameras near the pelvis height, in the sequence's order; else the nearest one
                    gap = np.abs(heights[order] - pelvis_height[f, p])
                    near = order[gap <= tolerance] if (gap <= tolerance).any() else order[[np.argmin(gap)]]
                    cam = cams[near[made[b] % len(near)]]
                made[b] += 1
                band = (low, high)
                k += 1
                c = cam.center
                ground = np.array([c[0], c[2]])
                inward = -ground / np.linalg.norm(ground)
                a = rng.uniform(-0.25, 0.25)
                u = np.array([np.cos(a) * inward[0] - np.sin(a) * inward[1],
                              np.sin(a) * inward[0] + np.cos(a) * inward[1]])  # fmt: skip
                g = ground + rng.uniform(*band) * u
                limit = np.linalg.norm(ground) - WALL_MARGIN
                if np.linalg.norm(g) > limit:
                    g *= limit / np.linalg.norm(g)
                if all(np.linalg.norm(g - out[f, q]) > 0.9 for q in range(p)):
                    break
            out[f, p] = g
    return out


def _floor_and_root(model, params: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(floor (n,), J0 (n, 3)) of bank bodies at transl = 0, SMPL-X world (y up), metres: the lowest vertex's
    y and the root; the pelvis sits at J0 (global rotation about J0), ``J0[:, 1] - floor`` above the floor."""
    rest = render_bodies(model, params)
    return rest["vertices"][..., 1].min(axis=1), rest["root_rest"]


def _place(
    params: dict[str, np.ndarray], floor: np.ndarray, J0: np.ndarray, ground: np.ndarray
) -> dict[str, np.ndarray]:
    """Bank parameters (SMPL-X world, y up) -> Panoptic-world parameters (metres) of a body standing on the
    floor (lowest vertex at y = 0) with its pelvis above ``ground`` (n, 2) = Panoptic (x, z); ``floor`` and
    ``J0`` from :func:`_floor_and_root`."""
    transl_up = np.stack([ground[:, 0] - J0[:, 0], -floor, -ground[:, 1] - J0[:, 2]], axis=1)
    up = {k: v for k, v in params.items() if k != "family"}
    up["transl"] = transl_up
    return smplx_to_camera(up, J0, PANOPTIC_FROM_SMPLX, np.zeros(3))


def _detect(
    bodies: dict[str, np.ndarray], cam: Camera, noise: NoiseConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Detections (n, 137, 3) and joints19 occlusion flags (n, 19) of n bodies in one camera.

    Same steps as ``datasets.synth.detections`` (exact OpenCV projection, ``occlusion`` with its default
    margins, ``apply_noise``), but the occlusion of the 137 points is computed once and shared: the joints19
    flags are the BODY_25 slots of the same names (identical 3D points). Present = inside the image
    (:func:`datasets.panoptic.format.visible_in_image`, the adapter's rule): a detector sees only the image, so
    the noise model's part sizes (its jitter scale) come from the visible points; counting points far outside a
    close, truncated body's view (projected through the distortion polynomial far beyond its range) made the
    jitter of the visible ones hundreds of pixels. Bodies with no point inside the image are left out of the
    occlusion test (the noise model drops all their points).
    """
    kp, verts = bodies["keypoints"], bodies["vertices"]
    n = len(kp)
    R, t = cam.R, cam.t
    exact = project_camera(*(torch.as_tensor(np.asarray(a, np.float64)) for a in (kp, cam.K, R, t, cam.dist))).numpy()
    cam_kp = kp @ R.T + t
    present = visible_in_image(cam, kp)[1]
    size = np.array(cam.resolution, dtype=np.float64)
    hidden = np.zeros(present.shape, dtype=bool)
    rows = np.flatnonzero(present.any(axis=1))  # a body with no point in the image is not detected at all
    order = rows[np.argsort(np.median(cam_kp[rows, :, 2], axis=1), kind="stable")]  # similar depths together
    for i in range(0, len(order), _CHUNK):
        sel = order[i : i + _CHUNK]
        hidden[sel] = occlusion(cam_kp[sel], verts[sel] @ R.T + t, cam.K, size)
    used = hidden if noise.kind != "none" else np.zeros_like(hidden)
    det = apply_noise(exact, present, used, np.tile(size, (n, 1)), noise, rng)
    return det, hidden[:, _J19_IN_137]


def _occluded_by_others(bodies: dict[str, np.ndarray], people: int, cam: Camera) -> np.ndarray:
    """(n, 19) joints19 hidden behind another person of the same frame (rows grouped by frame, ``people`` per
    frame): ``datasets.synth.occlusion`` with a depth buffer of the other bodies' vertices and a 2 cm margin.
    Only bodies whose pinhole image box meets a nearer other body's box (both padded) are tested."""
    joints, vertices, kp = bodies[J19.name], bodies["vertices"], bodies["keypoints"]
    n = len(joints)
    out = np.zeros((n, len(J19)), dtype=bool)
    if people < 2:
        return out
    rows = np.arange(n)
    first = rows - rows % people
    others = np.stack([first + (rows % people + k) % people for k in range(1, people)], axis=1)  # (n, P-1)
    kp_cam = kp @ cam.R.T + cam.t
    z = kp_cam[..., 2]
    uv = kp_cam[..., :2] / np.where(z > 1e-3, z, np.nan)[..., None] * np.diag(cam.K)[:2] + cam.K[:2, 2]
    with np.errstate(invalid="ignore"):
        lo, hi = np.nanmin(uv, axis=1), np.nanmax(uv, axis=1)  # (n, 2); NaN when wholly behind the camera
    in_image = (lo < np.array(cam.resolution)).all(-1) & (hi > 0).all(-1)  # (n,): the box meets the image
    pad = 0.1 * np.linalg.norm(hi - lo, axis=1, keepdims=True) + 20.0
    lo, hi = lo - pad, hi + pad
    meets = ((lo[others] <= hi[:, None]) & (hi[others] >= lo[:, None])).all(-1)  # (n, P-1); NaN -> False
    meets &= np.nanmin(z, axis=1)[others] < np.nanmax(z, axis=1)[:, None]
    meets &= in_image[others] & in_image[:, None]
    todo = np.flatnonzero(meets.any(axis=1))
    margin = np.full(len(J19), _OTHER_MARGIN)
    size = np.array(cam.resolution, dtype=np.float64)
    for i in range(0, len(todo), _CHUNK):
        sel = todo[i : i + _CHUNK]
        verts = vertices[others[sel]].reshape(len(sel), -1, 3) @ cam.R.T + cam.t
        out[sel] = occlusion(joints[sel] @ cam.R.T + cam.t, verts, cam.K, size, margin=margin)
    return out


def _write_npz(path: Path, **arrays: np.ndarray) -> None:
    write_npz(path, arrays)


def _write_sequence(
    out: Path, seq: str, seq_index: int, model, *, frames: int, people: int, seed: int, noise: NoiseConfig
) -> dict[str, Any]:
    rng = np.random.default_rng([seed, seq_index, 0x9A70])
    cams = make_cameras(rng)
    hd = [c for c in cams if c.type == "hd"]
    write_calibration(calibration_path(out, seq), cams)
    n = frames * people
    frame_ids = FIRST_FRAME + np.repeat(np.arange(frames), people)
    person_ids = np.tile(np.arange(people), frames)
    bank = ParameterBank().sample(n, seed=rng)
    floor, J0 = _floor_and_root(model, bank)
    ground = _placements(hd, (J0[:, 1] - floor).reshape(frames, people), rng).reshape(-1, 2)
    params = _place(bank, floor, J0, ground)
    bodies = render_bodies(model, params, skeletons=(J19.name,))
    write_smplx_gt(smplx_gt_path(out, seq), params, bodies["root_rest"],
                   {"frame": frame_ids.astype(np.int64), "person": person_ids.astype(np.int64)},
                   model.source.sha256)  # fmt: skip

    # 3D files: joints19 with a few invalid joints and toolbox-like confidences, hands, faces.
    joints = bodies[J19.name]
    conf = np.round(rng.uniform(0.2, 0.9, (n, len(J19))), 4)
    invalid = rng.random((n, len(J19))) < _INVALID_JOINT_PROB
    conf[invalid] = -1.0
    hand_l, hand_r, face = (bodies["keypoints"][:, part_indices(LAYOUT, part)] for part in _PARTS_3D)
    for f in range(frames):
        rows = range(f * people, (f + 1) * people)
        frame = FIRST_FRAME + f
        univ = 1000.0 * frame / HD_FPS + 1.0e5
        write_body_frame(body_frame_path(out, seq, frame), BodyFrame(
            [Body(int(person_ids[r]), np.where(invalid[r, :, None], 0.0, joints[r]), conf[r]) for r in rows],
            univ_time=round(univ, 3)))  # fmt: skip
        write_hand_frame(hand_frame_path(out, seq, frame), HandFrame(
            [HandPerson(int(person_ids[r]), Landmarks(hand_l[r]), Landmarks(hand_r[r])) for r in rows],
            univ_time=round(univ, 3), version=0.5))  # fmt: skip
        write_face_frame(face_frame_path(out, seq, frame), FaceFrame(
            [FacePerson(int(person_ids[r]), Landmarks(face[r])) for r in rows],
            univ_time=round(univ, 3), version=0.5))  # fmt: skip

    # 2D: detections per view, occlusion side file, pelvis distances.
    self_occ = np.zeros((n, len(hd), len(J19)), dtype=bool)
    other_occ = np.zeros((n, len(hd), len(J19)), dtype=bool)
    pelvis = joints[:, J19.index("pelvis")]
    distance = {}
    for v, cam in enumerate(hd):
        det, self_occ[:, v] = _detect(bodies, cam, noise, rng)
        other_occ[:, v] = _occluded_by_others(bodies, people, cam)
        z = (pelvis @ cam.R.T + cam.t)[:, 2]
        d = np.linalg.norm(pelvis - cam.center, axis=1)[z > 0]
        distance[cam.name] = (round(float(d.min()), 3), round(float(d.max()), 3)) if d.size else None
        for f in range(frames):
            rows = [r for r in range(f * people, (f + 1) * people) if (det[r, :, 2] > 0).any()]
            rows = [rows[i] for i in rng.permutation(len(rows))]  # detectors list people in no particular order
            write_openpose(openpose_path(out, seq, cam.name, FIRST_FRAME + f), [OpenPosePerson(det[r]) for r in rows])
    _write_npz(
        occlusion_path(out, seq),
        frame=frame_ids.astype(np.int64),
        person=person_ids.astype(np.int64),
        views=np.array([c.name for c in hd]),
        occluded=other_occ,
        self_occluded=self_occ,
    )
    near = [d[0] for d in distance.values()]
    far = [d[1] for d in distance.values()]
    return {"frames": frames, "bodies": n, "views": len(hd),
            "nearest_m": (min(near), max(near)), "farthest_m": (min(far), max(far))}  # fmt: skip


def synthesize(
    out: Path,
    *,
    frames: int | None = None,
    seed: int = 0,
    noise: str | NoiseConfig = "detector",
    people: int = DEFAULT_PEOPLE,
    sequences: tuple[str, ...] = DEFAULT_SEQUENCES,
) -> dict[str, Any]:
    """Write a synthetic Panoptic tree under ``out`` (module docstring for the layout and conventions).

    frames: frames per sequence (None = ``DEFAULT_FRAMES``); people: bodies per frame; sequences: their names
    (default MTC's test sequences, so the adapter's default ``sequences`` setting reads them); noise: the
    detector-noise model of the OpenPose JSON 2D ('none' = exact projections of the points inside the image).
    Returns a summary: per-sequence counts and per-view pelvis distance ranges, and the seconds taken.
    """
    start = time.perf_counter()
    frames = DEFAULT_FRAMES if frames is None else int(frames)
    if frames < 1 or people < 1 or not sequences:
        raise ValueError(f"frames and people must be >= 1 and sequences non-empty, got {frames}, {people}, "
                         f"{sequences!r}")  # fmt: skip
    noise = noise if isinstance(noise, NoiseConfig) else NoiseConfig.from_kind(noise)
    out = Path(out)
    model = generator_model()
    summary: dict[str, Any] = {"sequences": {}}
    for i, seq in enumerate(sequences):
        summary["sequences"][seq] = _write_sequence(out, seq, i, model, frames=frames, people=people, seed=seed,
                                                    noise=noise)  # fmt: skip
    settings = {"frames": frames, "people": people, "sequences": list(sequences), "first_frame": FIRST_FRAME}
    write_marker(out, "panoptic", seed=seed, noise=noise, settings=settings, model=model,
                 generator_version=GENERATOR_VERSION)  # fmt: skip
    summary["seconds"] = round(time.perf_counter() - start, 2)
    return summary
