"""Tests of the STS stream's settings (methods/proposed/sts.py): the camera each sample carries ('focal',
'principal'), hand close-ups drawn at a target set's views (view=match) against any view, the detector-noise
model against exact 2D, and fhgr's use of them (sts_view, sts_noise, sts_match, sts_period)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.errors import ConfigError
from bench.method import MethodContext
from datasets.stb import synth
from datasets.stb.adapter import load
from methods.fhgr import LH, create_fhgr
from methods.proposed.losses import to_openpose
from methods.proposed.sts import STSConfig, STSStream, hand_view_stats, hand_views, left_hands


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
