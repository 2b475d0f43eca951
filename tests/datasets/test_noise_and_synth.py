"""Detector-noise model and the shared generator pieces (occlusion, camera-frame GT, GT side file)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.body.skeletons import get_skeleton, part_indices
from bench.errors import DataFileError
from bench.run.results import KEYPOINTS2D_SOURCES
from datasets.bank import BankConfig, ParameterBank
from datasets.noise import NOISE_KINDS, NoiseConfig, apply_noise, keypoints2d_label, part_sizes
from datasets.synth import (
    GT_KEYS,
    detections,
    generator_model,
    occlusion,
    read_smplx_gt,
    render_bodies,
    smplx_to_camera,
    write_smplx_gt,
)

OP = get_skeleton("openpose_137")
BODY = part_indices("openpose_137", "body")
LHAND = part_indices("openpose_137", "left_hand")
FRONT_R = np.diag([1.0, -1.0, -1.0])  # camera on +z of the SMPL-X world (y up), looking at the body's front
K = np.array([[1400.0, 0, 960], [0, 1400.0, 540], [0, 0, 1]])
SIZE = np.array([1920, 1080])


def _grid_points(n: int, rng) -> np.ndarray:
    base = rng.uniform([800, 440], [1100, 640], (n, 1, 2))
    return base + rng.uniform(-200, 200, (n, len(OP), 2))


def test_none_gives_exact_points_and_drops_only_outside_or_absent():
    rng = np.random.default_rng(0)
    pts = _grid_points(5, rng)
    pts[0, 3] = [-5.0, 10.0]
    present = np.ones((5, len(OP)), bool)
    present[1, 7] = False
    occluded = rng.random((5, len(OP))) < 0.5
    out = apply_noise(pts, present, occluded, np.tile(SIZE, (5, 1)), NoiseConfig(kind="none"), rng)
    keep = out[..., 2] > 0
    assert not keep[0, 3] and not keep[1, 7] and keep.sum() == 5 * len(OP) - 2
    np.testing.assert_array_equal(out[keep][:, :2], pts[keep])
    assert set(np.unique(out[..., 2])) == {0.0, 1.0}
    np.testing.assert_array_equal(out[~keep], 0.0)


def test_detector_jitter_scales_with_part_size_and_confidence_drops_when_occluded():
    rng = np.random.default_rng(1)
    n = 400
    pts = np.zeros((n, len(OP), 2))
    pts[:, BODY] = [960, 540] + rng.uniform(-300, 300, (n, len(BODY), 2))  # ~850 px body
    pts[:, LHAND] = [960, 540] + rng.uniform(-15, 15, (n, len(LHAND), 2))  # ~40 px hand
    present = np.zeros((n, len(OP)), bool)
    present[:, BODY] = present[:, LHAND] = True
    occluded = np.zeros_like(present)
    occluded[:, BODY[:5]] = True
    cfg = NoiseConfig(point_dropout=0.0, swap_prob=0.0, small_dropout=0.0)
    out = apply_noise(pts, present, occluded, np.tile(SIZE, (n, 1)), cfg, rng)
    err = np.linalg.norm(out[..., :2] - pts, axis=-1)
    kept = out[..., 2] > 0
    body_err = np.median(err[:, BODY[5:]][kept[:, BODY[5:]]])
    hand_err = np.median(err[:, LHAND][kept[:, LHAND]])
    assert 5 < body_err < 40 and hand_err < body_err / 5
    occ_conf, vis_conf = out[:, BODY[:5], 2][kept[:, BODY[:5]]], out[:, BODY[5:], 2][kept[:, BODY[5:]]]
    assert occ_conf.mean() < 0.6 * vis_conf.mean()
    assert 0.35 < 1 - kept[:, BODY[:5]].mean() < 0.65  # occluded_dropout = 0.5
    assert kept[:, BODY[5:]].all()


def test_small_parts_drop_out_and_swaps_trade_left_and_right():
    rng = np.random.default_rng(2)
    n = 300
    pts = np.full((n, len(OP), 2), 500.0)
    pts[:, LHAND] += rng.uniform(-2, 2, (n, len(LHAND), 2))  # a ~5 px hand: nearly always dropped
    pts[:, BODY] += rng.uniform(-300, 300, (n, len(BODY), 2))
    present = np.zeros((n, len(OP)), bool)
    present[:, BODY] = present[:, LHAND] = True
    occluded = np.zeros_like(present)
    out = apply_noise(pts, present, occluded, np.tile(SIZE, (n, 1)), NoiseConfig(swap_prob=1.0, jitter=0.0,
                      min_jitter_px=0.0, point_dropout=0.0), rng)  # fmt: skip
    assert (out[:, LHAND, 2] > 0).mean() < 0.45  # dropped whole with p = 0.8 (1 - size / 40 px)
    ls, rs = OP.index("left_shoulder"), OP.index("right_shoulder")
    np.testing.assert_allclose(out[:, ls, :2], pts[:, rs])
    np.testing.assert_allclose(out[:, rs, :2], pts[:, ls])


def test_noise_is_seeded_and_settings_are_checked():
    pts = _grid_points(3, np.random.default_rng(0))
    present = np.ones((3, len(OP)), bool)
    args = (pts, present, ~present, np.tile(SIZE, (3, 1)), NoiseConfig())
    a = apply_noise(*args, np.random.default_rng(7))
    np.testing.assert_array_equal(a, apply_noise(*args, np.random.default_rng(7)))
    assert not np.array_equal(a, apply_noise(*args, np.random.default_rng(8)))
    with pytest.raises(ValueError, match="noise kind 'gauss'"):
        NoiseConfig(kind="gauss")
    with pytest.raises(ValueError, match="swap_prob"):
        NoiseConfig(swap_prob=1.5)


def test_keypoints2d_label_of_each_noise_kind():
    assert keypoints2d_label("detector") == keypoints2d_label(NoiseConfig()) == "simulated"
    assert keypoints2d_label("none") == keypoints2d_label(NoiseConfig.from_kind("none")) == "exact"
    assert {keypoints2d_label(kind) for kind in NOISE_KINDS} <= set(KEYPOINTS2D_SOURCES)  # labels rows accept
    with pytest.raises(ValueError, match="valid kinds are detector, none"):
        keypoints2d_label("heavy")


def test_part_sizes_are_box_diagonals_of_present_points():
    pts = np.zeros((1, len(OP), 2))
    pts[0, LHAND[0]], pts[0, LHAND[1]] = [10, 10], [13, 14]
    present = np.zeros((1, len(OP)), bool)
    present[0, LHAND[:2]] = True
    sizes = part_sizes(pts, present)
    assert sizes["left_hand"][0] == pytest.approx(5.0) and sizes["body"][0] == 0.0


@pytest.fixture(scope="module")
def rendered(embedded_cache):
    params = ParameterBank(BankConfig(families=("stand",))).sample(6, seed=3)
    params = {k: v for k, v in params.items() if k != "family"}
    params["global_orient"][:] = 0.0
    params["transl"] = np.random.default_rng(0).normal(scale=0.2, size=(6, 3)).astype(np.float32)
    model = generator_model()
    return model, params, render_bodies(model, params, ("h36m_17",))


def test_occlusion_front_versus_back(rendered):
    _, _, r = rendered
    nose = OP.index("nose")
    back_R = np.diag([-1.0, -1.0, 1.0])
    for R, t, face_hidden in ((FRONT_R, np.array([0, 0, 3.0]), False), (back_R, np.array([0, 0, 3.0]), True)):
        occ = occlusion(r["keypoints"] @ R.T + t, r["vertices"] @ R.T + t, K, SIZE)
        assert occ[:, nose].all() == face_hidden and occ[:, nose].any() == face_hidden
        assert occ[:, part_indices("openpose_137", "face")].mean() > 0.9 if face_hidden else True


def test_camera_frame_parameters_reproduce_the_transformed_body(rendered):
    model, params, r = rendered
    rng = np.random.default_rng(4)
    Rs = np.stack([np.linalg.qr(rng.normal(size=(3, 3)))[0] for _ in range(6)])
    Rs *= np.sign(np.linalg.det(Rs))[:, None, None]
    ts = rng.normal(size=(6, 3))
    cam = smplx_to_camera(params, r["root_rest"], Rs, ts)
    again = render_bodies(model, cam, ("h36m_17",))
    expect = np.einsum("nij,nkj->nki", Rs, r["h36m_17"]) + ts[:, None]
    np.testing.assert_allclose(again["h36m_17"], expect, atol=2e-6)


def test_detections_exact_equal_projection(rendered):
    _, _, r = rendered
    n = len(r["keypoints"])
    t = np.array([0, -0.45, 4.0])  # whole body inside the image
    tile = lambda a: np.broadcast_to(a, (n, *np.shape(a)))  # noqa: E731
    det, exact = detections(r["keypoints"], r["vertices"], tile(K), tile(FRONT_R), tile(t), tile(np.zeros(5)),
                            tile(SIZE), NoiseConfig(kind="none"), np.random.default_rng(0))  # fmt: skip
    cam = r["keypoints"] @ FRONT_R.T + t
    manual = cam[..., :2] / cam[..., 2:] * 1400 + [960, 540]
    np.testing.assert_allclose(exact, manual, atol=1e-6)
    assert (det[..., 2] == 1).all()
    np.testing.assert_allclose(det[..., :2], manual, atol=1e-6)


def test_gt_side_file_round_trip_and_bad_input(rendered, tmp_path):
    _, params, r = rendered
    path = tmp_path / "gt.npz"
    write_smplx_gt(path, params, r["root_rest"], {"frame": np.arange(6)}, "abc")
    got, root, ids, sha = read_smplx_gt(path)
    assert sha == "abc" and ids["frame"].tolist() == list(range(6))
    np.testing.assert_allclose(root, r["root_rest"], atol=1e-6)
    for key in GT_KEYS:
        np.testing.assert_array_equal(got[key], np.asarray(params[key], np.float32).reshape(6, -1))
    with np.load(path) as npz:
        data = dict(npz)
    data["betas"] = data["betas"][:, :5]
    np.savez(tmp_path / "bad.npz", **data)
    with pytest.raises(DataFileError, match=r"bad.npz: betas: expected \(6, 10\)"):
        read_smplx_gt(tmp_path / "bad.npz")
    data["betas"] = np.full((6, 10), np.inf, np.float32)
    np.savez(tmp_path / "inf.npz", **data)
    with pytest.raises(DataFileError, match="inf.npz: betas: contains NaN or inf"):
        read_smplx_gt(tmp_path / "inf.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(DataFileError, match="junk.npz: cannot read"):
        read_smplx_gt(tmp_path / "junk.npz")
    assert torch.is_tensor(torch.as_tensor(got["betas"]))


def test_occlusion_of_bodies_wholly_outside_the_image_is_false(rendered):
    _, _, r = rendered
    t = np.array([40.0, 0, 3.0])  # far to the right: every vertex projects outside the image
    occ = occlusion(r["keypoints"] @ FRONT_R.T + t, r["vertices"] @ FRONT_R.T + t, K, SIZE)
    assert occ.shape == (6, len(OP)) and not occ.any()
