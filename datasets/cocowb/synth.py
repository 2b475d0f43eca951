"""Synthetic "in the wild" COCO-WholeBody set: 2D-only people photographed at every distance, in the real format.

The 2D training data of the paper's Table I comparison (MPII, AI Challenger) are photos: people at every distance
from selfie range to far, hand-held cameras at any height, limbs cut by the frame. This generator writes such a
set in COCO-WholeBody JSON (``datasets/cocowb/format.py``), read back by ``datasets/cocowb/adapter.py``::

    HMRBENCH_SYNTHETIC.json                              the generator's marker (datasets.synth.write_marker)
    annotations/coco_wholebody_train_v1.0.json           images 9 of every 10
    annotations/coco_wholebody_val_v1.0.json             every 10th image

Nothing else is written: no 3D, no camera, no SMPL-X (a 2D dataset has none), and no images (``file_name`` names
the photo that would hold the people). :func:`generate` also returns a :class:`Manifest` of the true distances
and cameras, kept in memory for tests (``synthesize(..., manifest=PATH)`` writes it as an ``.npz`` outside the
dataset tree).

Scene, per image (one camera) and per person (stated so that the distances can be tested):

- Image size: one of ``IMAGE_SIZES`` (phone and camera photos, landscape and portrait), uniformly.
- People per image: 1, 2 or 3 with probabilities ``PEOPLE_PROBS``; each person takes one of as many horizontal
  slots of the image. No occlusion between people (each body hides only its own points).
- Root distance (camera centre to pelvis, metres): **log-uniform on [0.5, 8]**, independently per person: 25%
  per octave (0.5-1, 1-2, 2-4, 4-8 m), 39.6% under 1.5 m.
- Focal length (pixels, principal point at the image centre, no distortion), from the distance of the image's
  first person d0: selfie / hand-held ``U(0.5, 0.8) x max(w, h)`` when d0 < 1.5 m (a 64-90 degree field of view
  across the longer side), else log-uniform in ``[0.6, 1.8] x max(w, h)`` (wide to short tele).
- Camera elevation (pitch; positive = camera above, looking down): when d0 < 1.5 m (hand-held, selfie)
  ``U(-20, 45)`` degrees; else with probability 0.6 eye level ``N(5, 12)`` degrees, otherwise ``U(-50, 80)``
  degrees (phones held low or high, balconies, stairs); roll ``N(0, 6)`` degrees.
- Framing: the camera aims at the face (nose), the chest (neck) or the pelvis, drawn by distance
  (``AIM_PROBS``: mostly the face or chest close up, the pelvis far away), which lands at a pixel drawn uniformly
  in its slot's central part (x in the middle 70% of the slot, y in the middle 60% of the image); the body is
  moved along that pixel's ray until its pelvis is at the drawn distance. Close up (d < 1.5 m) a person faces the
  camera within +-50 degrees with probability 0.85 (selfies, portraits), else the bank's random heading is kept.
- Poses and shapes: ``datasets.bank.ParameterBank`` posed with the body model (``datasets.synth``).
- A camera must not sit inside a body: every vertex at least ``MIN_DEPTH_M`` in front of it. A person for which
  20 redraws of heading, aim and pixel fail gets a new pose (same distance, up to 3 times); one that still fails
  is left out (counted in the summary as 'rejected'; about 1%, all under 0.8 m).
- 2D: exact pinhole projections, self-occlusion from the depth buffer of the mesh (``datasets.synth.occlusion``)
  and the detector-noise model (``datasets.noise``: jitter, confidence, dropouts, left/right swaps). The noise
  model is given only the points whose exact projection lies in the image, so its part sizes are those of the
  visible parts; points outside the image are dropped (v = 0, x = y = 0), never clamped. Visibility: v = 2 for a
  kept point, v = 1 for a kept point the body hides (COCO's "labelled but not visible"), 0 for a dropped one.
  With ``noise='none'`` occlusion is not computed and every point inside the image gets v = 2.
- A person none of whose 133 points is kept is not in the photo and is not written. About 3% of images also hold
  one ``iscrowd`` region (zero keypoints), as COCO's do. ``bbox`` is the box of the person's mesh projection,
  cut to the image; ``area`` its w x h; ``segmentation`` empty. Coordinates are rounded to 0.01 px.

Deterministic for a seed: the same seed writes the same bytes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.body.skeletons import get_skeleton
from bench.geometry.projections import project_camera
from bench.npzio import write_npz
from datasets.bank import ParameterBank
from datasets.cocowb.format import (
    LAYOUT,
    NUM_KEYPOINTS,
    CocoImage,
    CocoPerson,
    CocoWholeBody,
    annotation_path,
    part_mapping,
)
from datasets.cocowb.format import write_cocowb as _write
from datasets.noise import NoiseConfig, apply_noise
from datasets.synth import generator_model, occlusion, render_bodies, write_marker

__all__ = [
    "AIM_PROBS",
    "DEFAULT_IMAGES",
    "DISTANCE_RANGE_M",
    "GENERATOR_VERSION",
    "IMAGE_SIZES",
    "Manifest",
    "generate",
    "synthesize",
]

GENERATOR_VERSION = "1"
DEFAULT_IMAGES = 3000  # about 4,650 people
DISTANCE_RANGE_M = (0.5, 8.0)  # root distance, log-uniform
CLOSE_M = 1.5
IMAGE_SIZES = ((640, 480), (480, 640), (640, 427), (427, 640), (1024, 768), (1280, 720), (720, 1280),
               (1920, 1080), (1080, 1920))  # fmt: skip
PEOPLE_PROBS = (0.6, 0.25, 0.15)  # 1, 2, 3 people per image
VAL_EVERY = 10  # every 10th image goes to the val split
CROWD_PROB = 0.03
AIMS = ("face", "chest", "pelvis")
# (upper distance bound m, probabilities of AIMS)
AIM_PROBS = ((CLOSE_M, (0.45, 0.35, 0.2)), (4.0, (0.1, 0.4, 0.5)), (np.inf, (0.0, 0.3, 0.7)))
MIN_DEPTH_M = 0.1
VERTEX_STRIDE = 3  # every 3rd mesh vertex for the depth test, the occlusion buffer and the box (3x faster)
OCCLUSION_CELL_M = 0.012  # depth cell for the thinned mesh: 96-98% of flags as with every vertex at 0.01 m
_TRIES = 20
_BODY_REDRAWS = 3
_CHUNK = 96
_OP = get_skeleton("openpose_137")
_AIM_SLOTS = np.array([_OP.index("nose"), _OP.index("neck"), _OP.index("pelvis")])
_PELVIS = _OP.index("pelvis")
_FROM_OP = part_mapping("openpose_137", LAYOUT)
assert len(_FROM_OP[1]) == NUM_KEYPOINTS  # every COCO-WholeBody point is an OpenPose point of the same part
_BODY17_IN_MAP = np.flatnonzero(_FROM_OP[1] < 17)  # the COCO body points: the first 17 of 'coco_wholebody_133'
_Y = np.array([0.0, 1.0, 0.0])
_SMPLX_TO_CAMERA = np.diag([1.0, -1.0, -1.0])  # level camera on +z looking at -z: x right, y down (OpenCV)


@dataclass(eq=False)
class Manifest:
    """The truth behind each written annotation (not part of the dataset), one row per person, in file order.

    annotation_id, image_id: the COCO ids; split: 'train' / 'val'; root_distance_m: camera centre to pelvis;
    focal_px; image_size (n, 2); elevation_deg: camera pitch (positive = looking down); aim: 'face' / 'chest' /
    'pelvis'; body_outside: how many of the 17 body points project outside the image (before noise);
    labelled: how many of the 133 points are written with v > 0.
    """

    annotation_id: np.ndarray
    image_id: np.ndarray
    split: np.ndarray
    root_distance_m: np.ndarray
    focal_px: np.ndarray
    image_size: np.ndarray
    elevation_deg: np.ndarray
    aim: np.ndarray
    body_outside: np.ndarray
    labelled: np.ndarray

    def as_arrays(self) -> dict[str, np.ndarray]:
        return {k: np.asarray(v) for k, v in vars(self).items()}


def _rot(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """(n, 3, 3) rotations by ``angle`` (n,) radians about the unit ``axis`` (Rodrigues)."""
    k = np.array([[0.0, -axis[2], axis[1]], [axis[2], 0.0, -axis[0]], [-axis[1], axis[0], 0.0]])
    a = np.asarray(angle, dtype=np.float64)[:, None, None]
    return np.eye(3) + np.sin(a) * k + (1.0 - np.cos(a)) * (k @ k)


def _heading(keypoints: np.ndarray) -> np.ndarray:
    """(n,) heading (radians about +y, 0 = facing +z) of bodies in SMPL-X's world: the normal of the hip line."""
    left, right = keypoints[:, _OP.index("left_hip")], keypoints[:, _OP.index("right_hip")]
    across = left - right  # subject's left: +x when facing +z
    return np.arctan2(-across[:, 2], across[:, 0])


@dataclass
class _Images:
    size: np.ndarray  # (I, 2)
    focal: np.ndarray  # (I,)
    pitch: np.ndarray  # (I,) radians
    roll: np.ndarray  # (I,)
    people: np.ndarray  # (I,)


def _draw_people(images: int, rng: np.random.Generator) -> tuple[_Images, dict[str, np.ndarray]]:
    """Image cameras and per-person draws (module docstring)."""
    size = np.array(IMAGE_SIZES)[rng.integers(0, len(IMAGE_SIZES), images)]
    people = rng.choice(np.arange(1, len(PEOPLE_PROBS) + 1), size=images, p=PEOPLE_PROBS)
    n = int(people.sum())
    image = np.repeat(np.arange(images), people)
    slot = np.concatenate([np.arange(k) for k in people])
    lo, hi = np.log(DISTANCE_RANGE_M[0]), np.log(DISTANCE_RANGE_M[1])
    distance = np.exp(rng.uniform(lo, hi, n))
    first = distance[np.concatenate([[0], np.cumsum(people)[:-1]])]
    longer = size.max(axis=1)
    wide = rng.uniform(0.5, 0.8, images)
    normal = np.exp(rng.uniform(np.log(0.6), np.log(1.8), images))
    focal = np.where(first < CLOSE_M, wide, normal) * longer
    eye_level = rng.random(images) < 0.6
    pitch = np.where(eye_level, rng.normal(5.0, 12.0, images), rng.uniform(-50.0, 80.0, images))
    pitch = np.radians(np.where(first < CLOSE_M, rng.uniform(-20.0, 45.0, images), pitch))
    roll = np.radians(rng.normal(0.0, 6.0, images))
    frontal = (distance < CLOSE_M) & (rng.random(n) < 0.85)
    return _Images(size, focal, pitch, roll, people), {
        "image": image, "slot": slot, "slots": people[image], "distance": distance, "frontal": frontal,
    }  # fmt: skip


def _aim_probs(distance: np.ndarray) -> np.ndarray:
    out = np.zeros((len(distance), len(AIMS)))
    for bound, probs in reversed(AIM_PROBS):
        out[distance < bound] = probs
    return out


def _cameras(
    kp: np.ndarray, verts: np.ndarray, draws: dict[str, np.ndarray], cams: _Images, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """World -> camera (R, t), aim and heading of n bodies: the pelvis at the drawn distance, the aim point on a
    pixel of its slot, every vertex at least MIN_DEPTH_M in front (redrawn up to _TRIES times; 'ok' False else)."""
    n = len(kp)
    img = draws["image"]
    w, h = cams.size[img, 0].astype(float), cams.size[img, 1].astype(float)
    f = cams.focal[img]
    R_cam = _rot(np.array([0.0, 0.0, 1.0]), cams.roll[img]) @ _rot(np.array([1.0, 0.0, 0.0]), cams.pitch[img])
    R_cam = R_cam @ _SMPLX_TO_CAMERA
    base = _heading(kp)
    pelvis = kp[:, _PELVIS]
    R, t = np.zeros((n, 3, 3)), np.zeros((n, 3))
    aim = np.zeros(n, dtype=np.int64)
    ok = np.zeros(n, dtype=bool)
    probs = _aim_probs(draws["distance"])
    todo = np.arange(n)
    for _ in range(_TRIES):
        if not len(todo):
            break
        m = len(todo)
        want = np.where(draws["frontal"][todo], rng.uniform(-np.radians(50), np.radians(50), m),
                        base[todo])  # fmt: skip
        R_i = R_cam[todo] @ _rot(_Y, want - base[todo])
        a = (rng.random(m)[:, None] > np.cumsum(probs[todo], axis=1)[:, :-1]).sum(axis=1)
        slot, slots = draws["slot"][todo], draws["slots"][todo]
        u = (slot + rng.uniform(0.15, 0.85, m)) / slots * w[todo]
        v = rng.uniform(0.2, 0.8, m) * h[todo]
        ray = np.stack([(u - w[todo] / 2) / f[todo], (v - h[todo] / 2) / f[todo], np.ones(m)], axis=1)
        ray /= np.linalg.norm(ray, axis=1, keepdims=True)
        o = np.einsum("nij,nj->ni", R_i, kp[todo, _AIM_SLOTS[a]] - pelvis[todo])  # aim point - pelvis, camera axes
        d = draws["distance"][todo]
        ro = (ray * o).sum(1)
        disc = ro**2 - (o * o).sum(1) + d**2
        s = ro + np.sqrt(np.maximum(disc, 0.0))
        fallback = (disc < 0) | (s < MIN_DEPTH_M)  # the aim point cannot be there: aim at the pelvis instead
        a[fallback], o[fallback], s[fallback] = AIMS.index("pelvis"), 0.0, d[fallback]
        p_cam = s[:, None] * ray - o
        t_i = p_cam - np.einsum("nij,nj->ni", R_i, pelvis[todo])
        depth = verts[todo] @ R_i[:, 2, :, None] + t_i[:, None, 2:3]
        good = depth.min(axis=(1, 2)) >= MIN_DEPTH_M
        idx = todo[good]
        R[idx], t[idx], aim[idx], ok[idx] = R_i[good], t_i[good], a[good], True
        todo = todo[~good]
    return {"R": R, "t": t, "aim": aim, "ok": ok}


def _inside(uv: np.ndarray, size: np.ndarray) -> np.ndarray:
    w, h = size[:, None, 0], size[:, None, 1]
    return np.isfinite(uv).all(-1) & (uv[..., 0] >= 0) & (uv[..., 1] >= 0) & (uv[..., 0] <= w - 1) & \
        (uv[..., 1] <= h - 1)  # fmt: skip


def _bbox(verts_uv: np.ndarray, front: np.ndarray, size: np.ndarray) -> np.ndarray:
    """(n, 4) ``[x, y, w, h]``: the box of the projected vertices in front of the camera, cut to the image."""
    big = np.where(front[..., None], verts_uv, np.inf)
    small = np.where(front[..., None], verts_uv, -np.inf)
    lo = np.clip(big.min(axis=1), 0.0, size - 1.0)
    hi = np.clip(small.max(axis=1), 0.0, size - 1.0)
    return np.round(np.concatenate([lo, np.maximum(hi - lo, 0.0)], axis=1), 2)


def generate(
    images: int, *, seed: int = 0, noise: str | NoiseConfig = "detector", model: Any = None
) -> tuple[dict[str, CocoWholeBody], Manifest, dict[str, Any]]:
    """Draw ``images`` photos (module docstring) in memory.

    Returns ({'train': doc, 'val': doc} (a split without images is left out), the manifest of the written
    people, counts: {'drawn', 'rejected' (no camera outside the body), 'not_in_picture', 'crowd'}).
    """
    if images < 1:
        raise ValueError(f"images must be >= 1, got {images}")
    config = noise if isinstance(noise, NoiseConfig) else NoiseConfig.from_kind(noise)
    rng = np.random.default_rng([seed, 0xC0C0])
    model = generator_model() if model is None else model
    cams, draws = _draw_people(images, rng)
    n = len(draws["distance"])
    bank = ParameterBank().sample(n, seed=rng)
    params = {k: v for k, v in bank.items() if k != "family"}
    coco = np.zeros((n, NUM_KEYPOINTS, 3))
    boxes = np.zeros((n, 4))
    outside = np.zeros(n, dtype=np.int64)
    written = np.zeros(n, dtype=bool)
    rejected = 0
    aim = np.zeros(n, dtype=np.int64)
    for start in range(0, n, _CHUNK):
        sl = slice(start, min(start + _CHUNK, n))
        bodies = render_bodies(model, {k: v[sl] for k, v in params.items()})
        kp, verts = bodies["keypoints"], bodies["vertices"][:, ::VERTEX_STRIDE]
        chunk = {k: v[sl] for k, v in draws.items()}
        cam = _cameras(kp, verts, chunk, cams, rng)
        for _ in range(_BODY_REDRAWS):  # a pose no camera fits at this distance: another pose, same distance
            bad = np.flatnonzero(~cam["ok"])
            if not len(bad):
                break
            new = ParameterBank().sample(len(bad), seed=rng)
            redrawn = render_bodies(model, {k: v for k, v in new.items() if k != "family"})
            kp[bad], verts[bad] = redrawn["keypoints"], redrawn["vertices"][:, ::VERTEX_STRIDE]
            again = _cameras(kp[bad], verts[bad], {k: v[bad] for k, v in chunk.items()}, cams, rng)
            for key, value in again.items():
                cam[key][bad] = value
        rejected += int((~cam["ok"]).sum())
        img = chunk["image"]
        size = cams.size[img].astype(np.float64)
        f = cams.focal[img]
        K = np.zeros((len(img), 3, 3))
        K[:, 0, 0], K[:, 1, 1], K[:, 2, 2] = f, f, 1.0
        K[:, :2, 2] = size / 2.0
        tensors = [torch.as_tensor(a, dtype=torch.float64) for a in (K, cam["R"], cam["t"])]
        exact = project_camera(torch.as_tensor(kp), *tensors).numpy()
        kp_cam = kp @ cam["R"].transpose(0, 2, 1) + cam["t"][:, None]
        verts_cam = verts @ cam["R"].transpose(0, 2, 1) + cam["t"][:, None]
        with np.errstate(invalid="ignore", divide="ignore"):  # rejected rows (no camera) are all zeros
            verts_uv = verts_cam[..., :2] / verts_cam[..., 2:] * f[:, None, None] + size[:, None] / 2.0
        front = kp_cam[..., 2] > 1e-3
        inside = front & _inside(exact, size)
        hidden = np.zeros_like(inside)
        if config.kind != "none":
            hidden = occlusion(kp_cam, verts_cam, K, size, cell_m=OCCLUSION_CELL_M)
        det = apply_noise(exact, inside, hidden, size, config, rng)
        xy = np.round(det[..., :2], 2)  # as written; a point rounded out of the image is dropped, not clamped
        vis = np.where((det[..., 2] > 0) & _inside(xy, size), np.where(hidden, 1.0, 2.0), 0.0)
        coco[sl, _FROM_OP[1], :2] = (xy * (vis[..., None] > 0))[:, _FROM_OP[0]]
        coco[sl, _FROM_OP[1], 2] = vis[:, _FROM_OP[0]]
        outside[sl] = (~inside[:, _FROM_OP[0]][:, _BODY17_IN_MAP]).sum(axis=1)
        boxes[sl] = _bbox(verts_uv, verts_cam[..., 2] > 1e-3, size)
        written[sl] = cam["ok"] & (coco[sl, :, 2] > 0).any(axis=1)
        aim[sl] = cam["aim"]

    docs: dict[str, CocoWholeBody] = {}
    rows: dict[str, list] = {k: [] for k in ("annotation_id", "image_id", "split", "root_distance_m", "focal_px",
                                             "image_size", "elevation_deg", "aim", "body_outside", "labelled")}
    crowd = 0
    for split in ("train", "val"):
        chosen = [i for i in range(images) if (i % VAL_EVERY == VAL_EVERY - 1) == (split == "val")]
        if not chosen:
            continue
        doc = CocoWholeBody(images=[], annotations=[], info={
            "description": "hmrbench synthetic COCO-WholeBody-format set (2D only): SYNTHETIC",
            "version": "1.0", "year": 2026, "contributor": "hmrbench datasets/cocowb/synth.py",
        })  # fmt: skip
        for i in chosen:
            image_id = 1 + i
            doc.images.append(CocoImage(image_id, f"{image_id:012d}.jpg", int(cams.size[i, 0]), int(cams.size[i, 1])))
            for p in np.flatnonzero((draws["image"] == i) & written):
                ann_id = 1 + int(p)
                doc.annotations.append(CocoPerson(ann_id, image_id, coco[p], boxes[p]))
                for key, value in (("annotation_id", ann_id), ("image_id", image_id), ("split", split),
                                   ("root_distance_m", draws["distance"][p]), ("focal_px", cams.focal[i]),
                                   ("image_size", cams.size[i]), ("elevation_deg", np.degrees(cams.pitch[i])),
                                   ("aim", AIMS[aim[p]]), ("body_outside", outside[p]),
                                   ("labelled", int((coco[p, :, 2] > 0).sum()))):  # fmt: skip
                    rows[key].append(value)
            if rng.random() < CROWD_PROB:
                w, h = cams.size[i]
                x0, y0 = rng.uniform(0, 0.6) * w, rng.uniform(0, 0.6) * h
                box = np.round([x0, y0, rng.uniform(0.1, 0.4) * w, rng.uniform(0.1, 0.4) * h], 2)
                doc.annotations.append(CocoPerson(1_000_000 + i, image_id, np.zeros((NUM_KEYPOINTS, 3)), box,
                                                  iscrowd=True))  # fmt: skip
                crowd += 1
        docs[split] = doc
    manifest = Manifest(**{k: np.asarray(v) for k, v in rows.items()})
    counts = {"drawn": n, "rejected": rejected, "not_in_picture": int(n - written.sum() - rejected), "crowd": crowd}
    return docs, manifest, counts


def summarize(manifest: Manifest) -> dict[str, Any]:
    """Distance and truncation statistics of the written people (what the summary and the tests report)."""
    d = manifest.root_distance_m
    if not len(d):
        return {"people": 0}
    q = np.quantile(d, [0.0, 0.25, 0.5, 0.75, 1.0])
    close = d < CLOSE_M
    return {
        "people": int(len(d)),
        "root_distance_m (min, q25, median, q75, max)": tuple(round(float(x), 2) for x in q),
        "share_under_1.5m": round(float(close.mean()), 3),
        "share_with_body_points_outside_image": round(float((manifest.body_outside > 0).mean()), 3),
        "share_truncated_under_1.5m": round(float((manifest.body_outside[close] > 0).mean()), 3) if close.any()
        else None,
    }  # fmt: skip


def synthesize(
    out: Path,
    *,
    frames: int | None = None,
    seed: int = 0,
    noise: str | NoiseConfig = "detector",
    manifest: Path | None = None,
) -> dict[str, Any]:
    """Write the synthetic COCO-WholeBody tree under ``out`` (module docstring) and return a summary.

    frames: number of images (None = ``DEFAULT_IMAGES``); noise: 'detector', 'none' or a NoiseConfig;
    manifest: where to write the manifest ``.npz`` (outside ``out``: the dataset holds 2D only), None = nowhere.
    """
    start = time.perf_counter()
    out = Path(out)
    if manifest is not None and Path(manifest).resolve().is_relative_to(out.resolve()):
        raise ValueError(f"manifest {manifest}: must lie outside the dataset tree {out} (a 2D dataset has no 3D)")
    images = DEFAULT_IMAGES if frames is None else int(frames)
    config = noise if isinstance(noise, NoiseConfig) else NoiseConfig.from_kind(noise)
    model = generator_model()
    docs, truth, counts = generate(images, seed=seed, noise=config, model=model)
    for split, doc in docs.items():
        _write(annotation_path(out, split), doc)
    write_marker(out, "cocowb", seed=seed, noise=config, settings={"images": images}, model=model,
                 generator_version=GENERATOR_VERSION)  # fmt: skip
    if manifest is not None:
        write_npz(Path(manifest), truth.as_arrays())
    people = {split: sum(not p.iscrowd for p in doc.annotations) for split, doc in docs.items()}
    return {"images": images, "people_per_split": people, **counts, **summarize(truth),
            "seconds": round(time.perf_counter() - start, 2)}  # fmt: skip
