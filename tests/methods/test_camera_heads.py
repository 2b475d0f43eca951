"""Tests of the camera heads of ``proposed`` (methods/proposed/cameras.py): D2S with the true camera is exact
perspective, each head decodes a raw vector of known meaning to the expected camera, the heads start at one
camera and project consistently with their camera-frame pelvis, the heads are different estimation problems (the
same seed and training give different predictions: issue 11's defect), the collapse rule, camera_supervision.

Tiny networks and a few training iterations on STS-generated sets; seconds on 2 cores.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from _sts_sets import sts_sample_set

from bench.errors import ConfigError
from bench.geometry.projections import pp_to_d2s, project_pp
from bench.method import MethodContext
from bench.registry import create_method
from methods.proposed import create_proposed
from methods.proposed.cameras import (
    HEADS,
    LOG_CLAMP,
    REF_DEPTH_M,
    D2SHead,
    PPHead,
    WPPHead,
    box_features,
    camera_stats,
    make_head,
)
from methods.proposed.losses import to_openpose
from methods.proposed.sts import STSConfig, STSStream

TINY = {"hidden": 48, "rank": 16, "gcn_hidden": 8, "sts_pool": 256, "pretrain_iterations": 0}
L = 0.9  # body_half_m


def make(projection: str = "d2s", seed: int = 0, **kw):
    return create_proposed(MethodContext(seed=seed), projection=projection, **{**TINY, **kw})


def exact_sts(method, n: int, seed: int) -> dict[str, torch.Tensor]:
    """STS bodies with exact projections (no detector noise): the 2D is the true camera's."""
    return STSStream(method.train_model, STSConfig(pool=64, noise="none"), seed=seed, device="cpu").sample(n)


@pytest.fixture(scope="module")
def method(embedded_cache):
    return make()


@pytest.fixture(scope="module")
def box():
    """Two bodies: box centre (m) and half size (h) px in 1000 x 800 and 640 x 480 images (F0 = max side)."""
    centre = torch.tensor([[620.0, 300.0], [100.0, 400.0]])
    half = torch.tensor([150.0, 40.0])
    size = torch.tensor([[1000, 800], [640, 480]])
    return centre, half, size, box_features(centre, half, size, 1.0)


def test_d2s_with_true_camera_is_exact_perspective(method):
    """A fact about the heads' projections: D2S with s = f/d, t = f T/d projects as the true pinhole camera."""
    s = exact_sts(method, 8, seed=5)
    joints, c = s["joints"], (s["image_size"] - 1) / 2
    pelvis = joints[:, 0]
    op, _ = to_openpose(joints - pelvis[:, None])
    d2s = {"cam": pp_to_d2s(s["focal"], pelvis), "principal": c}
    uv = D2SHead.project(op, d2s)
    uv_pp = PPHead.project(op, {"focal": s["focal"], "centre3d": pelvis, "principal": c})
    torch.testing.assert_close(uv, uv_pp, atol=1e-3, rtol=0)
    seen = s["keypoints2d"][..., 2] > 0
    assert (uv - s["keypoints2d"][..., :2])[seen].abs().max() < 0.05


def test_box_features(box):
    centre, half, size, frame = box
    F0 = torch.tensor([1000.0, 640.0])
    torch.testing.assert_close(frame.focal0, F0)
    torch.testing.assert_close(frame.principal, torch.tensor([[499.5, 399.5], [319.5, 239.5]]))
    off = centre - frame.principal
    expected = torch.cat([torch.log(half / F0)[:, None], off / F0[:, None], off / half[:, None]], -1)
    torch.testing.assert_close(frame.features, expected)
    far = box_features(centre, torch.tensor([1.0, 1.0]), size, 1.0)  # a failed box (half 1 px): clamped, finite
    assert far.features[:, 0].min() >= -8 and far.features.abs().max() <= 32


def test_each_head_decodes_a_known_raw_vector(box):
    _, _, _, frame = box
    F0, c = frame.focal0, frame.principal
    raw = torch.tensor([[math.log(2.0), 0.1, -0.2, math.log(0.5)], [0.0, -0.3, 0.05, 0.0]])
    wpp = WPPHead(body_half_m=L).decode(raw[:, :3], frame)
    s = torch.tensor([2.0, 1.0]) * F0 / REF_DEPTH_M
    t = F0[:, None] * raw[:, 1:3]
    torch.testing.assert_close(wpp["cam"], torch.cat([s[:, None], t], -1))
    torch.testing.assert_close(wpp["centre3d"], torch.cat([t / s[:, None], (F0 / s)[:, None]], -1))
    torch.testing.assert_close(wpp["focal"], F0)
    d2s = D2SHead(body_half_m=L).decode(raw, frame)
    d = torch.tensor([0.5, 1.0]) * REF_DEPTH_M
    torch.testing.assert_close(d2s["cam"], torch.cat([s[:, None], t, d[:, None]], -1))
    torch.testing.assert_close(d2s["centre3d"], torch.cat([t / s[:, None], d[:, None]], -1))
    torch.testing.assert_close(d2s["focal"], s * d)
    pp = PPHead(body_half_m=L).decode(raw, frame)
    f = torch.tensor([2.0, 1.0]) * F0
    T = REF_DEPTH_M * raw[:, 1:3]
    torch.testing.assert_close(pp["cam"], torch.cat([f[:, None], T, d[:, None]], -1))
    torch.testing.assert_close(pp["centre3d"], torch.cat([T, d[:, None]], -1))
    for out in (wpp, d2s, pp):
        torch.testing.assert_close(out["principal"], c)
    # a raw value past its clamp decodes at the bound and is reported at the clamp
    big = raw.clone()
    big[0, 3] = 3 * LOG_CLAMP
    head = PPHead(body_half_m=L)
    torch.testing.assert_close(head.decode(big, frame)["cam"][0, 3], torch.tensor(REF_DEPTH_M * math.exp(LOG_CLAMP)))
    assert head.at_clamp(big).tolist() == [True, False] and not head.at_clamp(raw).any()


@pytest.mark.parametrize("projection", sorted(HEADS))
def test_heads_start_at_the_assumed_perspective_camera(projection, box):
    """Initial bias and box weights: every head starts at focal F0 with the pelvis at d = F0 L / h on the ray
    through the box centre (the module docstring's Initialisation), so the three start from one 2D."""
    centre, half, _, frame = box
    head = make_head(projection, body_half_m=L)
    raw = head.initial_bias() + frame.features @ head.initial_box_weight().T
    out = head.decode(raw, frame)
    F0, c = frame.focal0, frame.principal
    depth = F0 * L / half
    torch.testing.assert_close(out["centre3d"], torch.cat([(centre - c) * (depth / F0)[:, None], depth[:, None]], -1))
    torch.testing.assert_close(out["focal"], F0)


@pytest.mark.parametrize("projection", sorted(HEADS))
def test_head_projection_is_the_perspective_camera_of_its_pelvis(projection, box):
    """Each head's pixels equal a pinhole camera (its 'focal') with the pelvis at its 'centre3d': the decoded
    camera-frame pelvis means what the projection does (WPP: only in the limit of a flat body)."""
    _, _, _, frame = box
    head = make_head(projection, body_half_m=L)
    raw = torch.tensor([[0.3, 0.1, -0.2, 0.4], [-0.5, 0.02, 0.3, -0.7]])[:, : head.raw_dim]
    out = head.decode(raw, frame)
    points = torch.randn(2, 9, 3, generator=torch.Generator().manual_seed(0)) * 0.3
    if projection == "wpp":
        points[..., 2] = 0.0
    expected = project_pp(points, out["focal"], out["centre3d"], out["principal"])
    torch.testing.assert_close(head.project(points, out), expected, atol=1e-3, rtol=0)


def test_unknown_projection_head():
    with pytest.raises(ValueError, match="orthographic"):
        make_head("orthographic")


def test_same_seed_and_training_give_different_predictions_per_head(method):
    """Issue 11: PP was D2S with another label (identical predictions for one seed). With a head per projection
    the same seed, data and training give different pose predictions; at initialisation they are the same."""
    s = STSStream(method.train_model, STSConfig(pool=256), seed=7, device="cpu").sample(48)
    K = np.zeros((48, 3, 3))
    K[:, 2, 2] = 1.0
    train = sts_sample_set(s, name="train", skeleton="smplx_127", joints3d=s["joints"].numpy(),
                           keypoints2d=s["keypoints2d"].numpy(), K=K)  # fmt: skip
    train.smplx_valid[::2] = False  # half the set 2D-only: the projection's loss takes part
    batch = next(train.batches(48))

    def rel(m):
        j = m.predict(batch).joints3d
        return j - j[:, :1]

    runs = {p: make(p, iterations=25, lr=2e-3, sts_period=3, log_every=25) for p in ("d2s", "pp")}
    torch.testing.assert_close(rel(runs["d2s"]), rel(runs["pp"]))  # same seed: same start
    summaries = {p: m.fit({"train": train}) for p, m in runs.items()}
    diff = (rel(runs["d2s"]) - rel(runs["pp"])).abs().max()
    assert diff > 1e-3, float(diff)
    for summary in summaries.values():
        assert isinstance(summary["collapsed"], bool) and summary["collapsed"] == summary["camera"]["collapsed"]
        assert summary["camera"]["n"] == 48 + 256  # the pool plus the fixed STS batch


def _decoded(ratio: float, depth: float, clamped: float, n: int = 10) -> dict[str, torch.Tensor]:
    F0 = torch.full((n,), 1000.0)
    raw = torch.zeros(n, 4)
    raw[: int(round(clamped * n)), 0] = LOG_CLAMP
    return {"focal": ratio * F0, "focal0": F0, "centre3d": torch.tensor([0.0, 0.0, depth]).repeat(n, 1),
            "cam_raw": raw}  # fmt: skip


def test_collapse_rule_on_constructed_statistics():
    pp, d2s, wpp = PPHead(), D2SHead(), WPPHead()
    assert not camera_stats(pp, _decoded(1.2, 4.0, 0.2))["collapsed"]
    stats = camera_stats(pp, _decoded(1.2, 4.0, 0.2))
    assert stats["focal_over_f0_median"] == pytest.approx(1.2) and stats["depth_median_m"] == pytest.approx(4.0)
    assert stats["at_clamp_share"] == pytest.approx(0.2) and stats["n"] == 10
    assert camera_stats(pp, _decoded(5.0, 4.0, 0.0))["collapsed"]  # focal beyond 4 F0
    assert camera_stats(pp, _decoded(0.2, 4.0, 0.0))["collapsed"]  # below F0 / 4
    assert camera_stats(pp, _decoded(1.0, 40.0, 0.0))["collapsed"]  # depth beyond 30 m
    assert camera_stats(d2s, _decoded(1.0, 0.2, 0.0))["collapsed"]  # depth under 0.3 m
    assert not camera_stats(d2s, _decoded(5.0, 4.0, 0.0))["collapsed"]  # d2s does not regress the focal
    assert camera_stats(wpp, _decoded(1.0, 4.0, 0.6))["collapsed"]  # most samples at a clamp
    assert not camera_stats(wpp, _decoded(1.0, 4.0, 0.5))["collapsed"]


def test_camera_check_flags_a_collapsed_head_and_not_a_healthy_one(embedded_cache):
    healthy = make("pp")
    stats = healthy.camera_check(None)
    assert not stats["collapsed"] and stats["n"] == 256 and stats["at_clamp_share"] == 0.0
    assert 0.25 <= stats["focal_over_f0_median"] <= 4 and 0.3 <= stats["depth_median_m"] <= 30
    collapsed = make("pp")
    with torch.no_grad():  # the focal output driven past its clamp, the depth following it (f/d kept)
        collapsed.net.global_branch.camera_out.bias[0] += 2 * LOG_CLAMP
        collapsed.net.global_branch.camera_out.bias[3] += 2 * LOG_CLAMP
    stats = collapsed.camera_check(None)
    assert stats["collapsed"] and stats["at_clamp_share"] == 1.0 and stats["focal_over_f0_median"] > 4


def _depth_error(m, kp: torch.Tensor, size: torch.Tensor, depth: torch.Tensor) -> float:
    """Median |log(d / Z)| of the method's camera against the true pelvis depths ``depth`` (B,)."""
    with torch.no_grad():
        out = m.net.forward_camera(kp, size)
    return float((out["centre3d"][:, 2] / depth).log().abs().median())


@pytest.mark.parametrize("projection", sorted(HEADS))
def test_camera_loss_is_zero_at_the_true_camera_only(projection, box):
    """Each head's camera loss against the camera it decodes is 0; a wrong depth or focal is penalised where the
    head regresses it; an unknown focal drops the terms that need it, a missing pelvis all of them."""
    _, _, _, frame = box
    head = make_head(projection, body_half_m=L)
    raw = torch.tensor([[0.3, 0.1, -0.2, 0.4], [-0.5, 0.02, 0.3, -0.7]])[:, : head.raw_dim].requires_grad_()
    out = head.decode(raw, frame)
    focal, centre, principal = out["focal"].detach(), out["centre3d"].detach(), out["principal"]
    torch.testing.assert_close(head.camera_loss(out, focal, centre, principal), torch.zeros(2), atol=1e-6, rtol=0)
    far = centre * torch.tensor([1.0, 1.0, 1.5])  # same pixel position and scale for a camera of focal 1.5 f
    loss = head.camera_loss(out, 1.5 * focal, far, principal)
    assert (loss > 0.01).all() if projection != "wpp" else torch.allclose(loss, torch.zeros(2), atol=1e-6)
    unknown = head.camera_loss(out, torch.full_like(focal, math.nan), far, principal)
    expected = math.log(1.5) ** 2 if head.regresses_depth else 0.0
    torch.testing.assert_close(unknown, torch.full((2,), expected), atol=1e-5, rtol=0)
    nowhere = head.camera_loss(out, focal, torch.full_like(centre, math.nan), principal)
    nowhere.sum().backward()
    assert (nowhere == 0).all() and torch.isfinite(raw.grad).all()


def test_camera_supervision_gt_learns_the_true_depth(method):
    """A set shot with one camera (focal 1.3 max(w, h), K known): from the 2D alone the depth is tied to the
    assumed focal F0 (d ~ F0 L / h, short of the truth), and camera_supervision=none leaves it wrong; gt (pelvis
    from the body model + transl, focal from K) learns it and the error falls (d2s)."""
    projection = "d2s"
    cfg = STSConfig(pool=256, noise="none", focal=(1.3, 1.3), image_sizes=((1000, 1000),), pitch=(0, 0),
                    roll=(0, 0))  # upright bodies, as the depth rule assumes
    s = STSStream(method.train_model, cfg, seed=3, device="cpu").sample(160)
    K = np.zeros((160, 3, 3))
    K[:, 0, 0] = K[:, 1, 1] = s["focal"].numpy()
    K[:, :2, 2], K[:, 2, 2] = s["principal"].numpy(), 1.0
    sets = [sts_sample_set({k: v[sl] for k, v in s.items() if k != "smplx"} | {"smplx": {k: v[sl] for k, v in
                                                                                         s["smplx"].items()}},
                           name=name, skeleton="smplx_127", joints3d=s["joints"][sl].numpy(),
                           keypoints2d=s["keypoints2d"][sl].numpy(), K=K[sl])
            for name, sl in (("train", slice(0, 128)), ("test", slice(128, 160)))]  # fmt: skip
    test = sets[1]
    args = (torch.as_tensor(test.keypoints2d), torch.as_tensor(test.image_size), s["joints"][128:, 0, 2])
    errors = {}
    for mode in ("none", "gt"):
        m = make(projection, iterations=80, lr=3e-3, sts=False, camera_supervision=mode, w_cam=30.0, log_every=20)
        before = _depth_error(m, *args)
        summary = m.fit({"train": sets[0]})
        errors[mode] = (before, _depth_error(m, *args))
        assert all(("cam" in h) == (mode == "gt") for h in summary["history"])
    assert errors["none"][0] == pytest.approx(math.log(1.3), abs=0.1)  # the assumed focal's depth
    assert errors["gt"][1] < min(0.8 * errors["none"][1], errors["gt"][0]), errors


def test_camera_loss_on_sts_batches_is_present_and_finite(embedded_cache):
    """STS batches carry their true camera (focal when the stream reports one, pelvis): a finite 'cam' term."""
    history = make("pp", iterations=3, camera_supervision="gt", log_every=1).fit({})["history"]
    assert len(history) == 3 and all(np.isfinite(h["cam"]) and h["cam"] > 0 for h in history)


@pytest.mark.parametrize(("key", "value"), [("camera_supervision", "sometimes"), ("w_cam", -1.0)])
def test_bad_camera_settings_are_errors_naming_the_value(embedded_cache, key, value):
    with pytest.raises(ConfigError, match=f"{key}.*{value}"):
        create_proposed(MethodContext(), **{key: value})
    with pytest.raises(ConfigError, match=key):
        create_method(f"proposed[{key}={value}]", MethodContext())
