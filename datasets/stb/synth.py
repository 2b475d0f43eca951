"""Synthetic STB: left-hand close-ups from an SK-like colour camera, written in STB's real label format.

What is written under ``out`` (the folder the adapter reads, ``<data_root>/stb/``):

- ``labels/<seq>_SK.mat`` for the 12 sequences B1..B6 x {Counting, Random} (``format.SEQUENCES``): ``handPara``
  3 x 21 x N, millimetres, 'stb_21' order, in the SK **depth** camera's frame as the real files are
  (``format.sk_colour_to_depth`` of the colour-frame joints; PROTOCOLS.md, "STB hand dataset"). The palm centre
  is ``bench.body.regressors``' 'left_palm' = midpoint of the left wrist and left ring MCP, so the ring-MCP palm->wrist
  convention recovers SMPL-X's wrist exactly. No ``_BB`` labels: the SK<->Bumblebee extrinsics are not known to us.
- ``openpose/<seq>/SK_color_<frame>_keypoints.json`` (``format.openpose_path``): one OpenPose JSON per frame
  (``datasets.openpose.write_openpose``), one person whose left-hand slots hold the detector-model detections of
  the 21 hand keypoints (``datasets.synth.detections``; ``noise='none'``: exact projections, confidence 1) and
  whose body, right-hand and face slots are empty; a frame whose hand was wholly dropped has no person. Per-frame
  files keep the layout OpenPose itself writes for the real images and stay practical at the real size: 18,000
  frames generate in ~56 s and load in ~7 s on 2 cores (measured); the default size in ~2.5 s and ~0.5 s.
- ``smplx_gt/<seq>_SK.npz`` (``format.smplx_gt_path``, ``datasets.synth.write_smplx_gt``): the posed SMPL-X
  parameters with ``id_frame``; their world frame is the SK colour camera's frame (STB has no world frame).
- ``HMRBENCH_SYNTHETIC.json`` (``datasets.synth.write_marker``).

Scene per frame: SMPL-X parameters from ``datasets.bank`` (bodies from the 'reach', 'wave' and 'arms_raised'
families, so the arm is up; left hands from the 'counting' hand family in Counting sequences and all families
mixed in Random ones). The camera looks at the hand from its palm side: the viewing direction is the palm normal
tilted by up to ``TILT_MAX_DEG`` in a random direction, the hand centre (mean of the 21 hand keypoints, plus an
in-plane offset of up to ``OFFSET_MAX_M``) lies ``DISTANCE_M`` (0.25-0.60 m) in front of it, fingers point up in
the image within +-``ROLL_MAX_DEG``; the camera backs off (to 0.60 m at most, then without the offset) until all
21 points lie ``MARGIN_PX`` inside the 640 x 480 image. Intrinsics: ``format.SK_COLOUR_K``. Frames are
independent draws (no temporal continuity). Deterministic for a seed: same bytes.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from bench.body.body_model import BodyModel
from bench.body.regressors import skeleton_from_smplx
from bench.body.skeletons import get_skeleton, part_indices
from datasets.bank import BankConfig, ParameterBank
from datasets.noise import NoiseConfig
from datasets.openpose import OpenPosePerson, write_openpose
from datasets.stb import format as stb
from datasets.synth import (
    GT_KEYS,
    detections,
    generator_model,
    render_bodies,
    smplx_to_camera,
    write_marker,
    write_smplx_gt,
)

__all__ = ["DEFAULT_FRAMES", "GENERATOR_VERSION", "camera_poses", "hand_vertex_ids", "palm_frame", "render_sequence",
           "synthesize"]

GENERATOR_VERSION = "1"
DEFAULT_FRAMES = 100  # per sequence (the real sequences have 1,500)
CAMERA = "SK"
BODY_FAMILIES = ("reach", "wave", "arms_raised")
DISTANCE_M = (0.25, 0.60)
TILT_MAX_DEG = 35.0
ROLL_MAX_DEG = 90.0
OFFSET_MAX_M = 0.03
MARGIN_PX = 8.0
_BACK_OFF_M = 0.03

_LAYOUT = get_skeleton("openpose_137")
_LEFT_HAND_SLOTS = part_indices(_LAYOUT, "left_hand")
_HAND21 = get_skeleton("openpose_hand21_left")
_JOINTS55 = get_skeleton("smplx_joints55")


def hand_vertex_ids(model: BodyModel, side: str = "left") -> np.ndarray:
    """int64 indices of the vertices skinned mostly to the ``side`` ('left' or 'right') wrist or hand joints (the
    occluders used for the hand's self-occlusion; the rest of the body is left out so that it can never hide the
    close-up hand)."""
    if side not in ("left", "right"):
        raise ValueError(f"hand side must be 'left' or 'right', got {side!r}")
    joints = set(part_indices(_JOINTS55, f"{side}_hand").tolist()) | {_JOINTS55.index(f"{side}_wrist")}
    dominant = model.layer.lbs_weights.argmax(dim=1).cpu().numpy()
    return np.flatnonzero(np.isin(dominant, sorted(joints))).astype(np.int64)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def palm_frame(hand: np.ndarray) -> np.ndarray:
    """(n, 3, 3) orthonormal frames of left hands, as columns: x = y cross z, y = the finger direction (wrist ->
    middle MCP) made orthogonal to z, z = the palm normal on the palmar side (wrist, index and pinky MCPs).

    hand: (n, 21, 3) keypoints in 'openpose_hand21_left' order. A rotation ``F_b F_a^T`` turns hand a's palm onto
    hand b's (how the STS stream places a hand at a target set's view, ``methods.proposed.sts``)."""
    hand = np.asarray(hand, dtype=np.float64)
    wrist = hand[:, _HAND21.index("left_wrist")]
    index, middle, pinky = (hand[:, _HAND21.index(f"left_{f}1")] for f in ("index", "middle", "pinky"))
    z = _unit(np.cross(pinky - wrist, index - wrist))  # palmar side of a left hand (tested)
    fingers = middle - wrist
    y = _unit(fingers - np.sum(fingers * z, axis=-1, keepdims=True) * z)
    return np.stack([np.cross(y, z), y, z], axis=-1)


def _project(points: np.ndarray, R: np.ndarray, t: np.ndarray) -> np.ndarray:
    cam = np.einsum("nij,npj->npi", R, points) + t[:, None]
    uv = cam[..., :2] / cam[..., 2:3]
    return uv @ stb.SK_COLOUR_K[:2, :2].T + stb.SK_COLOUR_K[:2, 2]


def camera_poses(hand: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cameras looking at left hands from the palm side (module docstring).

    hand: (n, 21, 3) world keypoints, 'openpose_hand21_left' order, metres. Returns R (n, 3, 3), t (n, 3) with
    ``x_cam = R x + t`` (OpenCV axes), and the camera-to-hand-centre distances (n,) in metres.
    """
    n = len(hand)
    wrist, middle = hand[:, _HAND21.index("left_wrist")], hand[:, _HAND21.index("left_middle1")]
    palm_normal = palm_frame(hand)[..., 2]
    side = _unit(np.cross(palm_normal, _unit(rng.normal(size=(n, 3)))))
    tilt = np.deg2rad(rng.uniform(0.0, TILT_MAX_DEG, n))[:, None]
    view = np.cos(tilt) * palm_normal + np.sin(tilt) * side  # from the hand towards the camera
    z = -view
    fingers = middle - wrist
    down = -_unit(fingers - np.sum(fingers * z, axis=1, keepdims=True) * z)  # image y (down) = against the fingers
    roll = np.deg2rad(rng.uniform(-ROLL_MAX_DEG, ROLL_MAX_DEG, n))[:, None]
    y = np.cos(roll) * down + np.sin(roll) * np.cross(z, down)
    x = np.cross(y, z)
    R = np.stack([x, y, z], axis=1)
    offset = rng.uniform(-OFFSET_MAX_M, OFFSET_MAX_M, (n, 2))
    distance = rng.uniform(*DISTANCE_M, n)
    centre = hand.mean(axis=1)
    width, height = stb.SK_COLOUR_SIZE
    for _ in range(64):
        aim = centre + offset[:, :1] * x + offset[:, 1:] * y
        t = -np.einsum("nij,nj->ni", R, aim - distance[:, None] * z)
        uv = _project(hand, R, t)
        fits = ((uv >= MARGIN_PX) & (uv <= np.array([width, height]) - 1 - MARGIN_PX)).all(axis=(1, 2))
        if fits.all():
            break
        at_limit = ~fits & (distance >= DISTANCE_M[1])
        offset[at_limit] = 0.0
        distance[~fits] = np.minimum(distance[~fits] + _BACK_OFF_M, DISTANCE_M[1])
    return R, t, distance


def _sequence_params(sequence: str, frames: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    hands = ("counting",) if sequence.endswith("Counting") else None
    params = ParameterBank(BankConfig(families=BODY_FAMILIES, hand_families=hands)).sample(frames, seed=rng)
    return {k: v for k, v in params.items() if k in GT_KEYS}


def _world_hands(model: BodyModel, params: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(n, 21, 3) 'openpose_hand21_left' world keypoints and (n, 3) rest-pose roots, by the keypoint path."""
    n = len(params["betas"])
    kw = {k: torch.as_tensor(np.asarray(v, dtype=np.float32)).reshape(n, -1) for k, v in params.items()}
    with torch.no_grad():
        joints = model.forward(vertices=False, **kw).joints.double().numpy()
        root_rest = model.forward(betas=kw["betas"], vertices=False).joints[:, 0].double().numpy()
    return skeleton_from_smplx(joints, _HAND21)[0], root_rest


def render_sequence(
    model: BodyModel,
    sequence: str,
    frames: int,
    *,
    seed: int,
    noise: NoiseConfig,
    hand_vertices: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """The ground truth of one sequence, in memory (what :func:`synthesize` writes).

    Returns 'params' (camera-frame SMPL-X, float32 as written), 'root_rest' (n, 3), 'joints' (n, 21, 3)
    'stb_21' in the SK colour frame (metres), 'keypoints2d' (n, 137, 3) detections (left-hand slots only),
    'exact2d' (n, 137, 2) exact projections, 'distance' (n,) camera to hand centre (metres).
    """
    rng = np.random.default_rng([seed, stb.SEQUENCES.index(sequence)])
    world = _sequence_params(sequence, frames, rng)
    hand, root_rest = _world_hands(model, world)
    R, t, distance = camera_poses(hand, rng)
    camera_params = smplx_to_camera(world, root_rest, R, t)
    params = {k: np.asarray(v, np.float32).reshape(frames, -1) for k, v in camera_params.items()}
    out = render_bodies(model, params, skeletons=("stb_21",))
    ids = hand_vertex_ids(model) if hand_vertices is None else hand_vertices
    n = frames
    det, exact = detections(
        out["keypoints"], out["vertices"][:, ids], np.tile(stb.SK_COLOUR_K, (n, 1, 1)), np.tile(np.eye(3), (n, 1, 1)),
        np.zeros((n, 3)), np.zeros((n, 5)), np.tile(stb.SK_COLOUR_SIZE, (n, 1)), noise, rng,
    )  # fmt: skip
    keep = np.zeros(len(_LAYOUT), dtype=bool)
    keep[_LEFT_HAND_SLOTS] = True
    det[:, ~keep] = 0.0
    return {"params": params, "root_rest": out["root_rest"], "joints": out["stb_21"], "keypoints2d": det,
            "exact2d": exact, "distance": distance}  # fmt: skip


def synthesize(
    out: Path,
    *,
    frames: int | None = None,
    seed: int = 0,
    noise: str | NoiseConfig = "detector",
    sequences: tuple[str, ...] | None = None,
) -> dict:
    """Write a synthetic STB tree under ``out`` (module docstring); ``frames`` per sequence (None:
    ``DEFAULT_FRAMES``); ``sequences``: a subset of ``format.SEQUENCES`` (None: all 12). Returns a summary:
    'frames' per sequence, 'samples', 'seconds'."""
    start = time.perf_counter()
    out = Path(out)
    frames = DEFAULT_FRAMES if frames is None else int(frames)
    if frames < 1:
        raise ValueError(f"frames must be >= 1, got {frames}")
    sequences = stb.SEQUENCES if sequences is None else tuple(sequences)
    unknown = [s for s in sequences if s not in stb.SEQUENCES]
    if unknown:
        raise ValueError(f"unknown STB sequences {unknown}; valid: {', '.join(stb.SEQUENCES)}")
    config = noise if isinstance(noise, NoiseConfig) else NoiseConfig.from_kind(noise)
    model = generator_model()
    hand_vertices = hand_vertex_ids(model)
    for sequence in sequences:
        gt = render_sequence(model, sequence, frames, seed=seed, noise=config, hand_vertices=hand_vertices)
        stb.write_labels(stb.label_path(out, sequence, CAMERA), stb.sk_colour_to_depth(gt["joints"]))
        for frame, keypoints in enumerate(gt["keypoints2d"]):
            people = [OpenPosePerson(keypoints)] if (keypoints[:, 2] > 0).any() else []
            write_openpose(stb.openpose_path(out, sequence, CAMERA, frame), people)
        write_smplx_gt(stb.smplx_gt_path(out, sequence, CAMERA), gt["params"], gt["root_rest"],
                       {"frame": np.arange(frames, dtype=np.int64)}, model.source.sha256)  # fmt: skip
    settings = {"frames": frames, "sequences": list(sequences), "camera": CAMERA}
    write_marker(out, "stb", seed=seed, noise=config, settings=settings, model=model,
                 generator_version=GENERATOR_VERSION)  # fmt: skip
    return {"frames": {s: frames for s in sequences}, "samples": frames * len(sequences),
            "seconds": time.perf_counter() - start}  # fmt: skip
