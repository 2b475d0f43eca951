"""Tests of the STS stream's settings (methods/proposed/sts.py): the camera each sample carries ('focal',
'principal', 'rotation'), hand close-ups drawn at a target set's views (view=match) against any view, the
detector-noise model against exact 2D (the default for bodies too, with mesh occlusion, as the synthetic test sets),
the camera's pitch and roll (ranges that cover the synthetic H36M and Panoptic rigs), and fhgr's use of them
(sts_view, sts_noise, sts_match, sts_period)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.errors import ConfigError
from bench.method import MethodContext
from datasets.h36m.synth import SUBJECTS
from datasets.h36m.synth import make_cameras as h36m_cameras
from datasets.noise import NoiseConfig, part_sizes
from datasets.panoptic.synth import NUM_HD
from datasets.panoptic.synth import make_cameras as panoptic_cameras
from datasets.stb import synth
from datasets.stb.adapter import load
from methods.fhgr import LH, create_fhgr
from methods.proposed.losses import to_openpose
from methods.proposed.sts import (
    PITCH_DEG,
    ROLL_DEG,
    STSConfig,
    STSStream,
    camera_angles,
    hand_view_stats,
    hand_views,
    left_hands,
)


@pytest.fixture(scope="module")
def model(embedded_cache):
    return create_fhgr(MethodContext(seed=0), gcn_hidden=8, sts_pool=64).train_model


@pytest.fixture(scope="module")
def stb_tree(tmp_path_factory, embedded_cache):
    out = tmp_path_factory.mktemp("stb_views") / "stb"
    synth.synthesize(out, frames=30, seed=2, noise="detector", sequences=("B2Counting", "B2Random"))
    return out


@pytest.fixture(scope="module")
def target(stb_tree):
    return load(stb_tree, split="train", sequences="B2Counting+B2Random")  # the 60 generated STB-like views


def stream(model, target=None, *, seed=0, focus="left_hand", **cfg) -> STSStream:
    views = hand_views(target) if target is not None else None
    return STSStream(model, STSConfig(pool=128, **cfg), seed=seed, device="cpu", focus=focus, views=views)


def close_up_stats(s: dict) -> dict:
    op, _ = to_openpose(s["joints"])
    return hand_view_stats(op[:, LH].double().numpy(), s["keypoints2d"][:, LH].numpy())


@pytest.mark.parametrize(("focus", "view"), [("body", "any"), ("left_hand", "any"), ("left_hand", "match")])
def test_focal_and_principal_are_the_projection(model, target, focus, view):
    s = stream(model, target if view == "match" else None, focus=focus, view=view, noise="none").sample(16)
    op, _ = to_openpose(s["joints"])
    uv = s["focal"][:, None, None] * op[..., :2] / op[..., 2:] + s["principal"][:, None]
    seen = s["keypoints2d"][..., 2] > 0
    assert s["focal"].shape == (16,) and s["principal"].shape == (16, 2) and seen.sum() > 16
    assert (uv - s["keypoints2d"][..., :2])[seen].abs().max() < 1e-2
    if view == "any":
        torch.testing.assert_close(s["principal"], (s["image_size"] - 1) / 2)


def test_matched_views_are_the_target_views(model, target):
    s = stream(model, target, view="match", noise="none").sample(40)
    views = hand_views(target)
    op, _ = to_openpose(s["joints"])
    hand = op[:, LH].double().numpy()
    frames = synth.palm_frame(hand)
    centre = hand[:, [0, 5, 9, 13, 17]].mean(1)
    # every close-up's palm has the orientation and position of one target view, seen with its camera
    dist = np.linalg.norm((frames[:, None] - views.frame[None]).reshape(40, len(views), -1), axis=-1)
    j = dist.argmin(1)
    assert dist.min(1).max() < 1e-4
    np.testing.assert_allclose(centre, views.centre[j], atol=1e-4)
    np.testing.assert_allclose(s["focal"].numpy(), views.focal[j], rtol=1e-6)
    np.testing.assert_allclose(s["image_size"].numpy(), views.image_size[j])
    assert len(set(j.tolist())) > 20  # drawn over the views, not one of them


def test_match_gives_stb_viewpoint_statistics_and_any_does_not(model, target):
    mine = left_hands(target)
    stb = hand_view_stats(mine["hand"], mine["keypoints2d"])
    assert stb["palm_facing"] == 1.0 and stb["fingers_up"] >= 0.95 and stb["fully_visible"] < 0.4
    match = close_up_stats(stream(model, target, view="match", noise="detector").sample(200))
    anywhere = close_up_stats(stream(model, view="any", noise="detector").sample(200))
    for key in ("palm_facing", "fingers_up"):
        assert abs(match[key] - stb[key]) < 0.05, (key, match, stb)
        assert anywhere[key] < 0.5, (key, anywhere)
    assert abs(match["fully_visible"] - stb["fully_visible"]) < 0.15, (match, stb)
    exact = close_up_stats(stream(model, target, view="match", noise="none").sample(200))
    assert exact["fully_visible"] > 0.9  # exact 2D of a matched view: the whole hand inside the image


def test_detector_noise_changes_2d_and_none_is_exact(model, target):
    exact = stream(model, target, view="match", noise="none").sample(32)
    noisy = stream(model, target, view="match", noise="detector").sample(32)
    torch.testing.assert_close(exact["joints"], noisy["joints"])  # same scene for a seed: only the 2D differs
    assert set(exact["keypoints2d"][..., 2].unique().tolist()) <= {0.0, 1.0}
    both = (exact["keypoints2d"][:, LH, 2] > 0) & (noisy["keypoints2d"][:, LH, 2] > 0)
    shift = (exact["keypoints2d"][:, LH, :2] - noisy["keypoints2d"][:, LH, :2]).norm(dim=-1)[both]
    assert shift.mean() > 0.5 and shift.max() < 40  # jittered by the part-size model, not replaced
    conf = noisy["keypoints2d"][:, LH, 2][noisy["keypoints2d"][:, LH, 2] > 0]
    assert conf.max() < 1.0 and conf.min() >= 0.05
    assert (noisy["keypoints2d"][:, LH, 2] == 0).sum() > (exact["keypoints2d"][:, LH, 2] == 0).sum()  # dropouts
    again = stream(model, target, view="match", noise="detector").sample(32)
    assert torch.equal(noisy["keypoints2d"], again["keypoints2d"])  # same seed, same numbers


def test_bad_settings(model, target, stb_tree):
    with pytest.raises(ValueError, match="view"):
        STSConfig(view="close")
    with pytest.raises(ValueError, match="noise"):
        STSConfig(noise="gaussian")
    with pytest.raises(ValueError, match="occlusion"):
        STSConfig(occlusion="face")
    for bad in ({"pitch": (40.0, 10.0)}, {"pitch": (-95.0, 0.0)}, {"roll": (0.0, float("nan"))}, {"roll": (-200, 0)}):
        with pytest.raises(ValueError, match=f"STS {next(iter(bad))} must be a range"):
            STSConfig(**bad)
    with pytest.raises(ValueError, match="needs target views"):
        stream(model, view="match")
    with pytest.raises(ValueError, match="left-hand target views"):
        stream(model, target, focus="body", view="match")
    with pytest.raises(ConfigError, match="no left wrist"):
        hand_views(load(stb_tree, split="train", sequences=1, root="palm"))
    for kw, match in [({"sts_view": "close"}, "sts_view"), ({"sts_noise": "heavy"}, "sts_noise"),
                      ({"sts_match": "nosuchset"}, "sts_match"), ({"sts_period": 0}, "sts_period")]:  # fmt: skip
        with pytest.raises(ConfigError, match=match):
            create_fhgr(MethodContext(), **kw)


def test_fhgr_sts_defaults_and_period(embedded_cache, target, monkeypatch):
    m = create_fhgr(MethodContext(seed=0), gcn_hidden=8, sts_pool=64, sts=True, iterations=10)
    assert (m.cfg.sts_view, m.cfg.sts_match, m.cfg.sts_noise, m.cfg.sts_period) == ("match", "stb", "input", 5)
    made, args, calls = [], [], []
    original = STSStream.sample

    def counted(self, n):
        calls.append(n)
        return original(self, n)

    def spy(*a, **kwargs):
        made.append(kwargs)
        args.append(a)
        return STSStream(*a, **kwargs)

    monkeypatch.setattr(STSStream, "sample", counted)
    monkeypatch.setattr("methods.fhgr.STSStream", spy)
    m.fit({"stb[split=train]": target})
    assert len(calls) == 2  # iterations 0 and 5 of 10: one STS batch in five
    assert made[0]["focus"] == "left_hand" and made[0]["views"] is not None
    assert args[0][1].noise == "detector" and args[0][1].view == "match"  # sts_noise=input: as the detected input
    oracle = create_fhgr(MethodContext(seed=0), gcn_hidden=8, sts_pool=64, sts=True, iterations=1, input="gt2d")
    oracle.fit({"stb[split=train]": target})
    assert args[1][1].noise == "none"  # the ground-truth-2D oracle sees exact STS 2D too
    views = made[0]["views"]
    assert len(views) == len(target) and views.source == "stb"  # the views of the training set given
    np.testing.assert_allclose(views.centre, hand_views(target).centre)


def exact_2d(s: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(uv (B, 137, 2), inside (B, 137), present (B, 137)): a batch's exact projections with its own camera, the
    points in front of the camera that lie inside the image, and all points in front of the camera."""
    op, valid = to_openpose(s["joints"])
    uv = s["focal"][:, None, None] * op[..., :2] / op[..., 2:].clamp(min=1e-3) + s["principal"][:, None]
    present = (op[..., 2] > 0.05) & valid
    inside = (uv >= 0).all(-1) & (uv <= s["image_size"][:, None] - 1).all(-1) & present
    return uv.double().numpy(), inside.numpy(), present.numpy()


def body_jitter(s: dict, sizes_from: np.ndarray) -> float:
    """Median |detected - exact| / sigma over the body points detected where they are, with sigma the noise model's
    (jitter x the diagonal of the body's box of the points ``sizes_from``, at least min_jitter_px): 0.674 (the
    median |N(0, 1)|) when the 2D went through the model with those part sizes."""
    uv, inside, _ = exact_2d(s)
    noise = NoiseConfig()
    sigma = np.maximum(noise.jitter * part_sizes(uv, sizes_from)["body"], noise.min_jitter_px)
    kp = s["keypoints2d"].double().numpy()
    res = (kp[:, :25, :2] - uv[:, :25]) / sigma[:, None, None]
    seen = (kp[:, :25, 2] > 0) & inside[:, :25]
    return float(np.median(np.abs(res[seen])))


BODY = {"pool": 128, "pitch": (0.0, 0.0), "roll": (0.0, 0.0)}
CLOSE = {"depth": (1.5, 1.5), "focal": (1.6, 1.6), "image_sizes": ((640, 480),)}  # every body cut by the frame


@pytest.mark.parametrize("scene", [{}, CLOSE], ids=["default", "truncated"])
def test_default_body_2d_is_the_detector_model_and_none_is_exact(model, scene):
    """Issue 15: STS bodies had exact 2D while every test set's 2D goes through datasets.noise. The default now
    jitters with the model's part-size scale, drops and lowers occluded points, and noise='none' stays exact."""
    noisy = STSStream(model, STSConfig(pool=128, **scene), seed=3, device="cpu").sample(64)
    exact = STSStream(model, STSConfig(pool=128, noise="none", **scene), seed=3, device="cpu").sample(64)
    torch.testing.assert_close(noisy["joints"], exact["joints"])  # the same scene: only the 2D differs
    uv, inside, present = exact_2d(exact)
    kp = exact["keypoints2d"].double().numpy()
    np.testing.assert_array_equal(kp[..., 2], inside.astype(float))  # exact: confidence 1 inside the image, else 0
    np.testing.assert_allclose(kp[..., :2][inside], uv[inside], atol=1e-3)
    # the detector model: jitter of s.d. jitter x body size (the visible points' box: a detector sees the image)
    assert 0.58 < body_jitter(noisy, inside) < 0.77, body_jitter(noisy, inside)
    if scene:  # bodies cut by the frame: the box of every point, outside ones too, is a far larger scale
        assert (present & ~inside)[:, :25].any(1).all()
        assert body_jitter(noisy, present) < 0.45
    det = noisy["keypoints2d"][:, :25].double().numpy()
    conf = det[..., 2][det[..., 2] > 0]
    assert conf.min() >= 0.05 and conf.max() <= 1.0 and abs(np.median(conf) - 0.85) < 0.1
    assert (det[..., 2] > 0).sum() < inside[:, :25].sum()  # dropouts
    assert ((det[..., 2] > 0) & ~inside[:, :25]).mean() < 0.01  # nothing outside the image (bar left/right swaps)
    # occlusion by the mesh, as the synthetic sets: hidden points get 0.4 x the confidence (0.34 for the body)
    low = (conf < 0.55).mean()
    unoccluded = STSStream(model, STSConfig(pool=128, occlusion="none", **scene), seed=3, device="cpu").sample(64)
    plain = unoccluded["keypoints2d"][:, :25, 2]
    assert low > 0.05 and (plain[plain > 0] < 0.55).float().mean() < 0.01, low


def test_same_seed_same_batch(model):
    a, b = (STSStream(model, STSConfig(pool=128), seed=5, device="cpu").sample(32) for _ in range(2))
    for key in ("keypoints2d", "image_size", "focal", "principal", "joints", "rotation"):
        assert torch.equal(a[key], b[key]), key
    for key, value in a["smplx"].items():
        assert torch.equal(value, b["smplx"][key]), key
    other = STSStream(model, STSConfig(pool=128), seed=6, device="cpu").sample(32)
    assert not torch.equal(a["keypoints2d"], other["keypoints2d"])


def rig_angles() -> tuple[np.ndarray, np.ndarray]:
    """(pitch, roll) in degrees of the synthetic H36M and Panoptic HD cameras over a few generator seeds, from
    where the world's up lands in each camera (H36M's world is z up, Panoptic's y down)."""
    pitch, roll = [], []
    for seed in range(5):
        cams = [(c.R, np.array([0.0, -1.0, 0.0])) for c in panoptic_cameras(np.random.default_rng(seed))[:NUM_HD]]
        cams += [(c.R, np.array([0.0, 0.0, 1.0])) for c in h36m_cameras(SUBJECTS, np.random.default_rng(seed)).values()]
        for R, up in cams:
            u = R @ up
            pitch.append(np.degrees(np.arcsin(-u[2])))
            roll.append(np.degrees(np.arctan2(u[0], -u[1])))
    return np.array(pitch), np.array(roll)


def test_camera_pitch_and_roll_cover_the_ranges_and_the_test_rigs(model):
    """Issue 15: STS turned bodies about the vertical axis only, while Panoptic's cameras look down and up."""
    pitch, roll = rig_angles()
    assert pitch.min() < -5 and pitch.max() > 25  # the rigs do look up and down
    assert PITCH_DEG[0] <= pitch.min() and pitch.max() <= PITCH_DEG[1]
    assert ROLL_DEG[0] <= roll.min() and roll.max() <= ROLL_DEG[1]
    s = STSStream(model, STSConfig(pool=128, noise="none"), seed=0, device="cpu").sample(500)
    for drawn, (lo, hi) in zip(camera_angles(s["rotation"]), (PITCH_DEG, ROLL_DEG), strict=True):
        assert lo - 1e-3 <= drawn.min() < lo + 2 and hi - 2 < drawn.max() <= hi + 1e-3
        share = np.histogram(drawn, bins=5, range=(lo, hi))[0] / len(drawn)
        assert share.min() > 0.12, share  # uniform over the range
    flat = STSStream(model, STSConfig(noise="none", **BODY), seed=0, device="cpu").sample(64)
    for drawn in camera_angles(flat["rotation"]):
        np.testing.assert_allclose(drawn, 0.0, atol=1e-4)
    np.testing.assert_allclose(flat["rotation"][:, :, 1].numpy(), np.tile([0.0, -1.0, 0.0], (64, 1)), atol=1e-6)


def test_3d_targets_turn_with_the_camera_and_match_the_2d(model):
    """The pitch and roll turn the 3D targets (parameters and joints) with the camera, and their projection is the
    exact 2D: the same seed with a camera pitched 30 deg and rolled 10 deg sees the same bodies turned by it."""
    level = STSStream(model, STSConfig(noise="none", **BODY), seed=4, device="cpu").sample(32)
    tilted_cfg = STSConfig(pool=128, noise="none", pitch=(30.0, 30.0), roll=(10.0, 10.0))
    tilted = STSStream(model, tilted_cfg, seed=4, device="cpu").sample(32)
    a, r = np.deg2rad(30.0), np.deg2rad(10.0)
    Rx = torch.tensor([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]], dtype=torch.float32)
    Rz = torch.tensor([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]], dtype=torch.float32)
    rel = lambda j: j - j[:, :1]  # noqa: E731
    torch.testing.assert_close(rel(tilted["joints"]), rel(level["joints"]) @ (Rz @ Rx).T, atol=1e-5, rtol=0)
    torch.testing.assert_close(tilted["rotation"], Rz @ Rx @ level["rotation"], atol=1e-5, rtol=0)
    pitch, roll = camera_angles(tilted["rotation"])
    np.testing.assert_allclose(pitch, 30.0, atol=1e-3)
    np.testing.assert_allclose(roll, 10.0, atol=1e-3)
    # the parameters pose the same joints, and those joints project to the 2D
    p = {k: v for k, v in tilted["smplx"].items() if k != "transl"}
    posed = model.keypoints(**p) + tilted["smplx"]["transl"][:, None]
    torch.testing.assert_close(posed, tilted["joints"], atol=1e-5, rtol=0)
    uv, inside, _ = exact_2d(tilted)
    assert inside.sum() > 32 * 20
    np.testing.assert_allclose(tilted["keypoints2d"][..., :2].double().numpy()[inside], uv[inside], atol=1e-3)


class _Built(Exception):
    """Raised by the recording stream below once the method under test has built its STS stream."""


@pytest.mark.parametrize("method", ["proposed", "lifter"])
@pytest.mark.parametrize(("settings", "noise", "pitch", "roll"), [
    ("", "detector", PITCH_DEG, ROLL_DEG),
    (",sts_noise=none", "none", PITCH_DEG, ROLL_DEG),
    (",sts_tilt=false", "detector", (0.0, 0.0), (0.0, 0.0)),
])  # fmt: skip
def test_body_methods_build_the_stream_their_settings_name(embedded_cache, monkeypatch, method, settings, noise,
                                                           pitch, roll):  # fmt: skip
    """proposed's and lifter's sts_noise / sts_tilt reach the stream they train on (defaults: detector 2D, tilted
    camera), so the former stream can be asked for from the command line and each is its own training key."""
    import methods.lifter
    import methods.proposed.method
    from bench.registry import create_method

    built: list[STSConfig] = []

    def record(model, cfg, **kwargs):
        built.append(cfg)
        raise _Built

    for module in (methods.lifter, methods.proposed.method):
        monkeypatch.setattr(module, "STSStream", record)
    m = create_method(f"{method}[iterations=1,pretrain_iterations=0{settings}]" if method == "proposed"
                      else f"{method}[iterations=1{settings}]", MethodContext(seed=0))  # fmt: skip
    with pytest.raises(_Built):
        m.fit({})
    assert (built[0].noise, built[0].pitch, built[0].roll) == (noise, pitch, roll)
    default = create_method(method, MethodContext(seed=0))
    assert (m.config["sts_noise"], m.config["sts_tilt"]) != (default.config["sts_noise"], default.config["sts_tilt"]) \
        or not settings
