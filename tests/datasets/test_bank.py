"""Tests of the parameter bank: reproducibility, limits, angle conversions, what each family looks like on the
embedded body model (keypoints by joint name), hands, face and shape, and the AMASS reader."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from bench.body.embedded.hands import mirror_hand_pose
from bench.body.skeletons import get_skeleton
from bench.errors import DataFileError
from datasets.bank import (
    ALL_FAMILIES,
    ANGLE_AXES,
    ANGLE_LIMITS,
    BANK_KEYS,
    BETA_CLIP,
    BODY_JOINTS,
    JAW_OPEN_MAX,
    BankConfig,
    ParameterBank,
    angles_to_axis_angle,
    axis_angle_to_angles,
    read_amass,
    within_limits,
)

SKELETON = get_skeleton("smplx_127")
UP = np.array([0.0, 1.0, 0.0])
N_FAMILY = 48


def family_samples(family: str, n: int = N_FAMILY, seed: int = 11, **config) -> dict[str, np.ndarray]:
    return ParameterBank(BankConfig(families=(family,), **config)).sample(n, seed=seed)


def keypoints(model, s: dict[str, np.ndarray], *, body_frame: bool):
    """Joint positions by name: in the world (sampled global orientation) or in the pelvis frame."""
    orient = np.zeros_like(s["global_orient"]) if body_frame else s["global_orient"]
    with torch.no_grad():
        kp = model.keypoints(global_orient=torch.from_numpy(orient), body_pose=torch.from_numpy(s["body_pose"]),
                             betas=torch.from_numpy(s["betas"])).numpy().astype(np.float64)
    return lambda name: kp[:, SKELETON.index(name)]


def angle_deg(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    cos = np.sum(u * v, -1) / np.linalg.norm(u, axis=-1) / np.linalg.norm(v, axis=-1)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def one_body_pose(**angles_deg: tuple[float, float, float]) -> np.ndarray:
    """(21, 3) body pose from anatomical angles (degrees) of the named joints, others zero."""
    angles = np.zeros((len(BODY_JOINTS), 3))
    for joint, values in angles_deg.items():
        angles[BODY_JOINTS.index(joint)] = np.radians(values)
    return angles_to_axis_angle(angles)


# --- reproducibility, shapes, config --------------------------------------------------------------------------


def test_same_seed_gives_identical_arrays_and_different_seeds_differ():
    bank = ParameterBank()
    a, b, c = bank.sample(64, seed=5), bank.sample(64, seed=5), bank.sample(64, seed=6)
    for key in BANK_KEYS:
        np.testing.assert_array_equal(a[key], b[key])
    for key in ("global_orient", "body_pose", "left_hand_pose", "right_hand_pose", "expression", "betas"):
        assert not np.array_equal(a[key], c[key]), key
    from_generator = bank.sample(64, seed=np.random.default_rng(5))
    np.testing.assert_array_equal(from_generator["body_pose"], a["body_pose"])


def test_shapes_dtypes_and_key_set():
    n = 37
    s = ParameterBank().sample(n, seed=0)
    shapes = {"global_orient": (n, 3), "body_pose": (n, 21, 3), "left_hand_pose": (n, 15, 3),
              "right_hand_pose": (n, 15, 3), "jaw_pose": (n, 3), "leye_pose": (n, 3), "reye_pose": (n, 3),
              "expression": (n, 10), "betas": (n, 10)}
    assert set(s) == set(shapes) | {"family"} == set(BANK_KEYS)
    for key, shape in shapes.items():
        assert s[key].shape == shape and s[key].dtype == np.float32, key
        assert np.isfinite(s[key]).all(), key
    assert s["family"].shape == (n,) and s["family"].dtype.kind == "U"
    assert set(s["family"]) <= set(ALL_FAMILIES)
    np.testing.assert_array_equal(s["leye_pose"], 0.0)
    np.testing.assert_array_equal(s["reye_pose"], 0.0)
    empty = ParameterBank().sample(0, seed=0)
    assert empty["body_pose"].shape == (0, 21, 3) and empty["family"].shape == (0,)


def test_unknown_names_and_bad_settings_raise_listing_the_valid_ones():
    with pytest.raises(ValueError, match=r"'jump'.*valid:.*stand.*lie"):
        BankConfig(families=("stand", "jump"))
    with pytest.raises(ValueError, match=r"'claw'.*valid:.*fist"):
        BankConfig(hand_families=("claw",))
    with pytest.raises(ValueError, match="family_weights"):
        BankConfig(families=("stand", "walk"), family_weights=(1.0,))
    with pytest.raises(ValueError, match="jitter"):
        BankConfig(jitter=-0.1)


def test_family_weights_select_families():
    bank = ParameterBank(BankConfig(families=("sit", "walk", "lie"), family_weights=(3.0, 1.0, 0.0)))
    family = bank.sample(400, seed=1)["family"]
    assert set(family) == {"sit", "walk"}
    assert 0.65 < np.mean(family == "sit") < 0.85


# --- limits and angle conversions --------------------------------------------------------------------------------


def test_every_procedural_sample_is_within_the_limits():
    s = ParameterBank().sample(2000, seed=2)
    assert set(s["family"]) == set(ALL_FAMILIES)
    assert within_limits(s["body_pose"]).all()
    # with strong jitter the clipping binds: many angles sit on a limit, none beyond
    wide = ParameterBank(BankConfig(jitter=0.6)).sample(500, seed=3)["body_pose"]
    assert within_limits(wide).all()
    angles = axis_angle_to_angles(wide.astype(np.float64))
    at_limit = np.isclose(angles, ANGLE_LIMITS[..., 0], atol=1e-5) | np.isclose(angles, ANGLE_LIMITS[..., 1], atol=1e-5)
    assert at_limit.mean() > 0.05


def test_within_limits_rejects_hyperextended_knee_and_elbow(body_model):
    rest = np.zeros((1, 21, 3))
    assert within_limits(rest).all()
    knee = BODY_JOINTS.index("left_knee")
    bent_back = rest.copy()
    bent_back[0, knee] = [-np.radians(60), 0.0, 0.0]  # about -x: the shank swings forward, the knee bends backwards
    kp = keypoints(body_model, {"global_orient": np.zeros((1, 3), np.float32), "body_pose": bent_back.astype(
        np.float32), "betas": np.zeros((1, 10), np.float32)}, body_frame=True)
    assert kp("left_ankle")[0, 2] > kp("left_knee")[0, 2] + 0.2  # ankle ahead of the knee: a backward bend
    assert not within_limits(bent_back).any()
    forward = rest.copy()
    forward[0, knee] = [np.radians(60), 0.0, 0.0]
    assert within_limits(forward).all()
    elbow = BODY_JOINTS.index("right_elbow")
    hyper = rest.copy()
    hyper[0, elbow] = [0.0, -np.radians(40), 0.0]  # SMPL-X right elbow flexes about +y; -y bends it backwards
    assert not within_limits(hyper).any()
    flexed = rest.copy()
    flexed[0, elbow] = [0.0, np.radians(90), 0.0]
    assert within_limits(flexed).all()
    twisted_knee = one_body_pose(left_knee=(30.0, 0.0, 40.0))  # 40 deg axial twist of a hinge
    assert not within_limits(twisted_knee).all()


@pytest.mark.parametrize("joint", ["left_shoulder", "right_shoulder", "left_hip", "spine2", "left_wrist"])
def test_single_angles_are_rotations_about_the_declared_axes(joint):
    k = BODY_JOINTS.index(joint)
    for slot in range(3):
        angles = np.zeros((21, 3))
        angles[k, slot] = 0.4
        expected = np.zeros((21, 3))
        expected[k] = 0.4 * ANGLE_AXES[k, slot]
        np.testing.assert_allclose(angles_to_axis_angle(angles), expected, atol=1e-12)


def test_angles_to_axis_angle_matches_scipy_cardan_sequence():
    rng = np.random.default_rng(0)
    angles = rng.uniform(ANGLE_LIMITS[..., 0], ANGLE_LIMITS[..., 1], (50, 21, 3))
    got = angles_to_axis_angle(angles)
    for k in range(21):
        B = ANGLE_AXES[k].T  # columns a1, a2, a3
        R = B @ Rotation.from_euler("XYZ", angles[:, k]).as_matrix() @ B.T  # intrinsic X-Y'-Z'' in the joint basis
        np.testing.assert_allclose(Rotation.from_rotvec(got[:, k]).as_matrix(), R, atol=1e-12)


def test_angles_axis_angle_round_trip():
    rng = np.random.default_rng(1)
    angles = rng.uniform(ANGLE_LIMITS[..., 0], ANGLE_LIMITS[..., 1], (400, 21, 3))
    np.testing.assert_allclose(axis_angle_to_angles(angles_to_axis_angle(angles)), angles, atol=1e-9)
    pose = angles_to_axis_angle(angles)
    np.testing.assert_allclose(angles_to_axis_angle(axis_angle_to_angles(pose)), pose, atol=1e-9)
    with pytest.raises(ValueError, match=r"\(\.\.\., 21, 3\)"):
        axis_angle_to_angles(np.zeros((4, 63)))


def test_right_side_is_the_mirror_of_the_left():
    rng = np.random.default_rng(2)
    angles = rng.uniform(ANGLE_LIMITS[..., 0], ANGLE_LIMITS[..., 1], (20, 21, 3))
    left, right = BODY_JOINTS.index("left_shoulder"), BODY_JOINTS.index("right_shoulder")
    angles[:, right] = angles[:, left]
    pose = angles_to_axis_angle(angles)
    np.testing.assert_allclose(pose[:, right], pose[:, left] * [1.0, -1.0, -1.0], atol=1e-12)


# --- families on the body model ------------------------------------------------------------------------------------


def test_stand_feet_below_pelvis_and_trunk_vertical(body_model):
    w = keypoints(body_model, family_samples("stand"), body_frame=False)
    for side in ("left", "right"):
        assert (w("pelvis")[:, 1] - w(f"{side}_ankle")[:, 1] > 0.6).all()
    assert (angle_deg(w("neck") - w("pelvis"), UP) < 20).all()


@pytest.mark.parametrize("family,min_mean", [("walk", 0.2), ("run", 0.3)])
def test_walk_and_run_put_one_foot_ahead(body_model, family, min_mean):
    def fore_aft(fam, **config):
        b = keypoints(body_model, family_samples(fam, n=128, **config), body_frame=True)
        return np.abs(b("left_ankle")[:, 2] - b("right_ankle")[:, 2])

    gait, stand = fore_aft(family), fore_aft("stand")
    assert gait.mean() > min_mean and gait.mean() > stand.mean() + 0.08
    # the templates themselves (no jitter): feet 20 cm apart for a good share of the cycle, never when standing
    assert np.mean(fore_aft(family, jitter=0.0) > 0.2) > 0.4
    assert np.mean(fore_aft("stand", jitter=0.0) > 0.2) < 0.05


def test_sit_thighs_horizontal_knees_ahead_of_hips(body_model):
    b = keypoints(body_model, family_samples("sit"), body_frame=True)
    for side in ("left", "right"):
        thigh = b(f"{side}_knee") - b(f"{side}_hip")
        assert (thigh[:, 2] > 0.25).all()  # knee ahead of the hip
        assert (angle_deg(thigh, np.array([0.0, 0.0, 1.0])) < 35).all()  # at about the hip's height
        assert np.median(np.abs(thigh[:, 1])) < 0.08


def test_crouch_brings_the_head_down_towards_the_feet(body_model):
    def height(family):
        w = keypoints(body_model, family_samples(family), body_frame=False)
        return w("head")[:, 1] - np.minimum(w("left_ankle")[:, 1], w("right_ankle")[:, 1])

    crouch, stand = height("crouch"), height("stand")
    assert crouch.max() < stand.min()
    assert np.median(crouch) < 0.7 * np.median(stand)


def test_arms_raised_wrists_above_the_head(body_model):
    w = keypoints(body_model, family_samples("arms_raised"), body_frame=False)
    top = np.max([w(n)[:, 1] for n in ("head", "nose", "left_ear", "right_ear")], axis=0)
    assert (w("left_wrist")[:, 1] > top).all() and (w("right_wrist")[:, 1] > top).all()


def _arm_raise_deg(b, side: str) -> np.ndarray:
    """Angle between the straight-line arm (shoulder -> wrist) and the trunk's downward axis; 0 where bent."""
    arm = b(f"{side}_wrist") - b(f"{side}_shoulder")
    full = np.linalg.norm(b(f"{side}_elbow") - b(f"{side}_shoulder"), axis=1) + np.linalg.norm(
        b(f"{side}_wrist") - b(f"{side}_elbow"), axis=1)
    straight = np.linalg.norm(arm, axis=1) > 0.9 * full
    return np.where(straight, angle_deg(arm, b("pelvis") - b("neck")), 0.0)


def test_reach_extends_one_arm_away_from_the_body(body_model):
    reach = keypoints(body_model, family_samples("reach"), body_frame=True)
    stand = keypoints(body_model, family_samples("stand"), body_frame=True)
    reaching = np.maximum(_arm_raise_deg(reach, "left"), _arm_raise_deg(reach, "right"))
    hanging = np.maximum(_arm_raise_deg(stand, "left"), _arm_raise_deg(stand, "right"))
    assert (reaching > 55).all() and (hanging < 55).all()


def test_wave_raises_one_hand_above_elbow_and_shoulder(body_model):
    w = keypoints(body_model, family_samples("wave"), body_frame=False)
    up = [np.minimum(w(f"{s}_wrist")[:, 1] - w(f"{s}_elbow")[:, 1], w(f"{s}_wrist")[:, 1] - w(f"{s}_shoulder")[:, 1])
          for s in ("left", "right")]
    assert (np.max(up, axis=0) > 0.05).all()
    assert (np.min(up, axis=0) < -0.2).all()  # the other arm hangs


def test_bend_tilts_the_trunk_forward_on_vertical_legs(body_model):
    s = family_samples("bend")
    w, b = keypoints(body_model, s, body_frame=False), keypoints(body_model, s, body_frame=True)
    assert (angle_deg(w("neck") - w("pelvis"), UP) > 40).all()
    assert (b("neck")[:, 2] - b("pelvis")[:, 2] > 0.1).all()  # forwards, not sideways or backwards
    legs = (w("left_ankle") + w("right_ankle")) / 2 - w("pelvis")
    assert np.median(angle_deg(legs, -UP)) < 15


def test_twist_rotates_the_shoulders_against_the_hips(body_model):
    def yaw(family):
        b = keypoints(body_model, family_samples(family), body_frame=True)
        sh, hp = b("left_shoulder") - b("right_shoulder"), b("left_hip") - b("right_hip")
        return np.degrees(np.abs(np.arctan2(sh[:, 2], sh[:, 0]) - np.arctan2(hp[:, 2], hp[:, 0])))

    twist, stand = yaw("twist"), yaw("stand")
    assert (twist > 15).all() and np.median(twist) > 3 * np.median(stand)


def test_lie_body_axis_horizontal_and_others_upright(body_model):
    w = keypoints(body_model, family_samples("lie"), body_frame=False)
    assert (np.abs(90 - angle_deg(w("neck") - w("pelvis"), UP)) < 25).all()
    s = family_samples("sit")
    w = keypoints(body_model, s, body_frame=False)
    assert (angle_deg(w("neck") - w("pelvis"), UP) < 30).all()
    headings = np.arctan2(*(Rotation.from_rotvec(s["global_orient"]).apply([0.0, 0.0, 1.0])[:, [0, 2]].T))
    assert np.ptp(headings) > np.pi  # random heading


# --- hands, face, shape ---------------------------------------------------------------------------------------------


def test_right_hand_is_the_mirror_of_an_independent_left():
    s = ParameterBank().sample(3000, seed=4)
    left, right = s["left_hand_pose"].astype(np.float64), s["right_hand_pose"].astype(np.float64)
    mirrored = mirror_hand_pose(right)  # back to a left hand
    np.testing.assert_allclose(mirrored.mean(0), left.mean(0), atol=0.06)  # same distribution (s.e. ~0.01)
    flex_left, flex_right = np.linalg.norm(left, axis=-1).mean(1), np.linalg.norm(right, axis=-1).mean(1)
    assert abs(flex_left.mean() - flex_right.mean()) < 0.02
    assert abs(np.corrcoef(flex_left, flex_right)[0, 1]) < 0.1  # independent
    assert np.abs(mirrored.mean(0) - right.mean(0)).max() > 0.1  # not a copy of the left hand unmirrored


def test_hand_families_setting():
    s = ParameterBank(BankConfig(hand_families=("fist",))).sample(200, seed=0)
    o = ParameterBank(BankConfig(hand_families=("open",))).sample(200, seed=0)
    curl = lambda pose: np.linalg.norm(pose, axis=-1).mean()  # noqa: E731
    assert curl(s["left_hand_pose"]) > 2 * curl(o["left_hand_pose"])
    assert curl(s["right_hand_pose"]) > 2 * curl(o["right_hand_pose"])


def test_face_and_shape_ranges():
    s = ParameterBank().sample(4000, seed=5)
    jaw = s["jaw_pose"]
    np.testing.assert_array_equal(jaw[:, 1:], 0.0)  # mouth opens about +x only
    assert jaw[:, 0].min() >= 0.0 and jaw[:, 0].max() <= JAW_OPEN_MAX + 1e-6 and (jaw[:, 0] > 0.1).any()
    assert (s["expression"] >= 0).all() and (s["expression"] > 0).mean() > 0.1
    betas = s["betas"]
    assert np.abs(betas).max() <= BETA_CLIP
    assert np.all(np.abs(betas.std(0) - 1.0) < 0.08) and np.all(np.abs(betas.mean(0)) < 0.08)
    flat = ParameterBank(BankConfig(expression_scale=0.0, shape_scale=0.0)).sample(50, seed=0)
    for key in ("expression", "jaw_pose", "betas"):
        np.testing.assert_array_equal(flat[key], 0.0)


# --- AMASS ---------------------------------------------------------------------------------------------------------


def write_amass(path, *, width: int, frames: int = 120, rate: float = 120.0, rate_key: str = "mocap_framerate",
                seed: int = 0, **override):
    rng = np.random.default_rng(seed)
    data = {"poses": rng.normal(0, 0.3, (frames, width)), "trans": rng.normal(0, 1, (frames, 3)),
            "betas": rng.normal(0, 1, 16), rate_key: np.array(rate), "gender": np.array("female")}
    data.update(override)
    np.savez(path, **{k: v for k, v in data.items() if v is not None})
    return data


@pytest.mark.parametrize("width,layout,rate_key", [(156, "SMPL+H", "mocap_framerate"),
                                                   (165, "SMPL-X", "mocap_frame_rate")])
def test_read_amass_maps_both_layouts_and_subsamples(tmp_path, width, layout, rate_key):
    path = tmp_path / "motion_poses.npz"
    data = write_amass(path, width=width, rate_key=rate_key)
    m = read_amass(path, target_fps=30.0)
    poses = data["poses"][::4]  # 120 fps -> every 4th frame
    assert m["layout"] == layout and m["fps"] == 30.0 and m["gender"] == "female"
    np.testing.assert_array_equal(m["global_orient"], poses[:, :3])
    np.testing.assert_array_equal(m["body_pose"], poses[:, 3:66].reshape(-1, 21, 3))
    hands = 66 if width == 156 else 75  # SMPL-X puts jaw and eyes before the hands
    np.testing.assert_array_equal(m["left_hand_pose"], poses[:, hands : hands + 45].reshape(-1, 15, 3))
    np.testing.assert_array_equal(m["right_hand_pose"], poses[:, hands + 45 : hands + 90].reshape(-1, 15, 3))
    np.testing.assert_array_equal(m["trans"], data["trans"][::4])
    np.testing.assert_array_equal(m["betas"], data["betas"])
    if width == 165:
        np.testing.assert_array_equal(m["jaw_pose"], poses[:, 66:69])
    else:
        assert "jaw_pose" not in m
    assert len(read_amass(path, target_fps=None)["body_pose"]) == 120
    assert read_amass(path, target_fps=50.0)["fps"] == 60.0  # nearest integer step: 2
    assert len(read_amass(path, target_fps=500.0)["body_pose"]) == 120  # never upsampled


@pytest.mark.parametrize("override,key", [
    ({"poses": None}, "poses"),
    ({"poses": np.zeros((10, 100))}, "poses"),
    ({"mocap_framerate": None}, "mocap_framerate"),
    ({"mocap_framerate": np.array(-5.0)}, "mocap_framerate"),
    ({"trans": np.zeros((7, 3))}, "trans"),
    ({"trans": np.full((10, 3), np.nan)}, "trans"),
    ({"betas": np.array(["a", "b"])}, "betas"),
])  # fmt: skip
def test_read_amass_malformed_files_name_file_and_key(tmp_path, override, key):
    path = tmp_path / "bad.npz"
    write_amass(path, width=156, frames=10, **override)
    with pytest.raises(DataFileError, match=rf"bad\.npz.*'{key}'"):
        read_amass(path)


def test_read_amass_unreadable_file(tmp_path):
    path = tmp_path / "garbage.npz"
    path.write_bytes(b"not a zip")
    with pytest.raises(DataFileError, match=r"garbage\.npz"):
        read_amass(path)


def test_bank_draws_bodies_from_amass_frames(tmp_path, body_model):
    upright = np.tile([np.pi / 2, 0.0, 0.0], (60, 1))  # AMASS z-up: the body's y axis points along world z
    poses = np.random.default_rng(1).normal(0, 0.4, (60, 156))
    poses[:, :3] = upright
    poses[:, 66:] = 0.0  # no hand capture: hands come from the procedural model
    path = tmp_path / "walk_poses.npz"
    data = write_amass(path, width=156, frames=60, rate=60.0, poses=poses)
    s = ParameterBank(amass_files=[path]).sample(50, seed=0)
    frames = poses[::6, 3:66].reshape(-1, 21, 3).astype(np.float32)  # 60 fps -> 10 fps
    match = (s["body_pose"][:, None] == frames[None]).all(axis=(-1, -2))
    assert match.any(axis=1).all()  # every body pose is a frame of the file, unclipped
    assert not within_limits(s["body_pose"]).all()  # random poses: some are outside, and reported
    body_up = Rotation.from_rotvec(s["global_orient"]).apply(UP)
    np.testing.assert_allclose(body_up, np.tile(UP, (50, 1)), atol=1e-5)  # z-up turned to y-up
    np.testing.assert_allclose(s["betas"], np.tile(data["betas"][:10], (50, 1)), atol=1e-6)
    assert (np.abs(s["left_hand_pose"]).max(axis=(1, 2)) > 0).all()  # procedural hands for a file without
    assert set(s["family"]) == {"amass"}
    with_hands = tmp_path / "hands_poses.npz"
    poses[:, 66:] = 0.1
    write_amass(with_hands, width=156, frames=60, rate=60.0, poses=poses)
    h = ParameterBank(amass_files=[with_hands]).sample(10, seed=0)
    np.testing.assert_allclose(h["left_hand_pose"], 0.1, atol=1e-6)
    np.testing.assert_allclose(h["right_hand_pose"], 0.1, atol=1e-6)
