"""SMPLify-X-style optimiser baseline (methods/smplifyx.py): fits exact projections, masks NaN input, fails one
diverging sample without changing the others' fits, stages as data, supports(), save/load."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.body.regressors import regressor_matrix
from bench.body.skeletons import get_skeleton
from bench.geometry.metrics import pa_mpjpe
from bench.geometry.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from bench.method import MethodContext, Prediction
from bench.samples import NUM_KEYPOINTS, SampleBatch, SampleSet
from datasets.bank import ParameterBank
from methods.smplifyx import SMPLIFYX_STAGES, STAGE_KEYS, SMPLifyX

SIZE, FOCAL = 1000, 5000.0  # image (px) and the focal SMPLify-X assumes, so the true camera is the method's
PRIOR = dict(prior_components=4, prior_samples=3000, prior_iters=30)  # a small prior keeps the tests fast
_OP = get_skeleton("openpose_137")
# the body points SMPLify-X fits (it ignores OpenPose Neck and hips)
_BODY = [
    i
    for i, (j, part) in enumerate(zip(_OP.joints, _OP.parts, strict=True))
    if part == "body" and j not in ("neck", "left_hip", "right_hip")
]


def known_batch(model, n: int, *, seed: int = 1, depth: float = 12.0) -> tuple[SampleBatch, torch.Tensor]:
    """Bank poses, upright in front of a focal-5000 camera (principal point at the centre), projected exactly.

    Returns the batch (keypoints confidence 1, noise none) and the true (n, 144, 3) camera-frame joints.
    """
    p = ParameterBank().sample(n, seed=seed)
    to_camera = torch.diag(torch.tensor([1.0, -1.0, -1.0]))  # SMPL-X y-up body -> OpenCV camera, facing it
    orient = matrix_to_axis_angle(to_camera @ axis_angle_to_matrix(torch.as_tensor(p["global_orient"])))
    params = dict(
        global_orient=orient,
        body_pose=torch.as_tensor(p["body_pose"]).reshape(n, 63),
        betas=torch.as_tensor(p["betas"]),
        transl=torch.tensor([[0.0, 0.3, depth]]).repeat(n, 1),
    )
    joints = model.keypoints(**params)
    W, _ = regressor_matrix("openpose_137", "smplx_144")
    points = torch.einsum("oj,bjc->boc", torch.as_tensor(W, dtype=torch.float32), joints)
    uv = points[..., :2] / points[..., 2:] * FOCAL + SIZE / 2
    K = torch.tensor([[FOCAL, 0, SIZE / 2], [0, FOCAL, SIZE / 2], [0, 0, 1]], dtype=torch.float64)
    batch = SampleBatch(
        keypoints2d=torch.cat([uv, torch.ones(n, NUM_KEYPOINTS, 1)], -1), image_size=torch.tensor([[SIZE, SIZE]] * n),
        K=K.repeat(n, 1, 1), R=torch.eye(3, dtype=torch.float64).repeat(n, 1, 1), t=torch.zeros(n, 3),
        dist=torch.zeros(n, 5), joints3d=joints, joints3d_valid=torch.ones(n, 144, dtype=torch.bool), ids={},
        smplx=None, smplx_valid=torch.zeros(n, dtype=torch.bool), index=torch.arange(n),
    )  # fmt: skip
    return batch, joints


@pytest.fixture(scope="module")
def contour_model(embedded_cache):
    from bench.body.body_model import load_body_model

    return load_body_model(use_face_contour=True)


def _method(**kwargs) -> SMPLifyX:
    return SMPLifyX(MethodContext(seed=0), **{**PRIOR, **kwargs})


def test_fits_exact_projections_of_known_poses(contour_model):
    batch, truth = known_batch(contour_model, 2)
    method = _method(iterations=150, camera_iterations=30)
    method.fit({})
    pred = method.predict(batch)
    assert isinstance(pred, Prediction) and not pred.failed.any()
    err = (pred.keypoints2d - batch.keypoints2d[..., :2]).norm(dim=-1)[:, _BODY]
    # SMPLify-X runs up to 30 x 30 L-BFGS iterations per stage; 150 per sample reach about 1.3-1.5 px here
    assert float(err.mean(1).max()) < 2.0, err.mean(1)
    start = contour_model.keypoints(body_pose=torch.as_tensor(method.gmm.mean, dtype=torch.float32).repeat(2, 1))
    pa_fit, pa_start = pa_mpjpe(pred.joints3d[:, :55], truth[:, :55]), pa_mpjpe(start[:, :55], truth[:, :55])
    assert (pa_fit <= 0.5 * pa_start).all(), (pa_fit, pa_start)
    assert pred.info["loss_evals"].shape == (2,) and torch.isfinite(pred.info["final_loss"]).all()
    assert (pred.info["iterations"] > 0).all() and (pred.info["loss_evals"] >= pred.info["iterations"]).all()
    assert (pred.info["seconds"] > 0).all()


def test_nan_keypoints_are_masked_and_results_stay_finite(contour_model):
    batch, _ = known_batch(contour_model, 2, seed=2)
    kp = batch.keypoints2d.clone()
    kp[0, 30:40, 0] = float("nan")  # some left-hand x
    kp[1, 4, :] = float("nan")  # right wrist, confidence too
    kp[1, 100:110, 2] = float("inf")
    batch.keypoints2d = kp
    pred = _method(iterations=3, camera_iterations=3).predict(batch)
    assert not pred.failed.any()
    for value in [*pred.params.values(), pred.joints3d, pred.keypoints2d, pred.info["final_loss"]]:
        assert torch.isfinite(value).all()


def test_a_diverging_sample_is_failed_and_the_rest_finish(contour_model):
    batch, _ = known_batch(contour_model, 3, seed=3)
    method = _method(iterations=3, camera_iterations=3)
    clean = method.predict(batch)
    kp = batch.keypoints2d.clone()
    kp[1, :25, :2] = 1e30  # finite input whose squared residual overflows float32: the loss is NaN
    batch.keypoints2d = kp
    pred = method.predict(batch)
    assert pred.failed.tolist() == [False, True, False] and not clean.failed.any()
    good = ~pred.failed
    assert torch.isfinite(pred.joints3d[good]).all() and torch.isfinite(pred.info["final_loss"][good]).all()

    # every sample is its own L-BFGS problem: the others fit as in the clean batch
    torch.testing.assert_close(pred.keypoints2d[good], clean.keypoints2d[good], atol=0.05, rtol=0)
    assert (pred.info["iterations"][good] == clean.info["iterations"][good]).all()


def test_stages_are_data():
    assert len(SMPLIFYX_STAGES) == 5
    assert [s["body_pose"] for s in SMPLIFYX_STAGES] == [404.0, 404.0, 57.4, 4.78, 4.78]
    assert [s["shape"] for s in SMPLIFYX_STAGES] == [100.0, 50.0, 10.0, 5.0, 5.0]
    assert [s["hand_prior"] for s in SMPLIFYX_STAGES] == [s["body_pose"] for s in SMPLIFYX_STAGES]
    assert [s["hand_joints"] for s in SMPLIFYX_STAGES] == [0.0, 0.0, 0.0, 0.1, 2.0]
    assert [s["face_joints"] for s in SMPLIFYX_STAGES] == [0.0, 0.0, 0.0, 0.0, 2.0]
    assert all(set(s) == set(STAGE_KEYS) for s in SMPLIFYX_STAGES)
    with pytest.raises(ValueError, match="missing keys"):
        SMPLifyX(MethodContext(), stages=[{"body_pose": 1.0}])


def test_a_custom_schedule_runs_its_own_stages(contour_model):
    batch, _ = known_batch(contour_model, 1, seed=4)
    one = _method(iterations=2, camera_iterations=2, stages=SMPLIFYX_STAGES[:1])
    five = _method(iterations=2, camera_iterations=2)
    assert one.config["stages"] == [dict(SMPLIFYX_STAGES[0])]
    e1, e5 = one.predict(batch).info["loss_evals"][0], five.predict(batch).info["loss_evals"][0]
    assert 0 < e1 < e5


def _set(keypoints: np.ndarray, name: str) -> SampleSet:
    n = len(keypoints)
    return SampleSet(
        name=name, skeleton="stb_21", keypoints2d=keypoints, image_size=np.tile([640, 480], (n, 1)),
        K=np.tile(np.eye(3), (n, 1, 1)), R=np.tile(np.eye(3), (n, 1, 1)), t=np.zeros((n, 3)), dist=np.zeros((n, 5)),
        joints3d=np.zeros((n, 21, 3)), joints3d_valid=np.ones((n, 21), bool),
        ids={"subject": np.array(["B1"] * n), "sequence": np.array(["a"] * n), "action": np.array(["x"] * n),
             "frame": np.arange(n), "view": np.array(["0"] * n), "person": np.zeros(n, int)},
    )  # fmt: skip


def test_supports_gives_a_reason_for_a_hand_only_set(embedded_cache):
    method = _method()
    hands = np.zeros((4, NUM_KEYPOINTS, 3), np.float32)
    hands[:, 25:46] = [100.0, 100.0, 0.9]  # left hand only, like STB
    reason = method.supports(_set(hands, "stb"))
    assert isinstance(reason, str) and "body keypoints" in reason
    body = hands.copy()
    body[:, :25] = [200.0, 200.0, 0.8]
    assert method.supports(_set(body, "panoptic")) is None


def test_save_load_round_trip_and_config_check(embedded_cache, tmp_path):
    method = _method()
    method.fit({})
    method.save(tmp_path / "smplifyx.npz")
    other = _method()
    other.load(tmp_path / "smplifyx.npz")
    np.testing.assert_array_equal(other.gmm.means, method.gmm.means)
    torch.testing.assert_close(other.prior.precisions, method.prior.precisions)
    with pytest.raises(ValueError, match="config hash"):
        _method(focal=1000.0).load(tmp_path / "smplifyx.npz")


def test_registered_factory_builds_the_method(embedded_cache):
    from bench import registry

    assert registry.get_method("smplifyx").params["focal"] == 5000.0
    method = registry.create_method("smplifyx[iterations=2,use_calibration=true]", MethodContext())
    assert isinstance(method, SMPLifyX) and method.config["iterations"] == 2 and method.config["use_calibration"]
    assert registry.create_method("smplifyx", MethodContext()).config["iterations"] == 80
