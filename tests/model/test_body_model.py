"""bench.body.body_model: the fast forward against the stock smplx forward, the keypoint path, dtypes, rotation-matrix
input, gradients, model-file validation errors, `model_info` and the `model info` CLI verb.

All models here are the embedded one (session cache from conftest) or copies of its arrays written to tmp_path.
"""

from __future__ import annotations

import hashlib
import pickle
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from bench.body.body_model import load_body_model, model_info, resolve_model
from bench.body.skeletons import SMPLX_NUM_JOINTS, get_skeleton
from bench.cli import main
from bench.errors import ConfigError, ModelFileError
from bench.geometry.rotations import axis_angle_to_matrix

NUM_VERTICES = 10_475
TOL32 = dict(rtol=0.0, atol=1e-5)  # metres, float32
EMBEDDED_KEY = "hmrbench_embedded_version"


def random_params(batch: int, seed: int, *, hand_dim: int = 6, dtype: torch.dtype = torch.float32,
                  ) -> dict[str, torch.Tensor]:
    """Random smplx-style parameters: every shape, expression and pose input, plus translation."""
    gen = torch.Generator().manual_seed(seed)

    def r(width: int, scale: float) -> torch.Tensor:
        return (scale * torch.randn(batch, width, generator=gen, dtype=torch.float64)).to(dtype)

    return {
        "betas": r(10, 1.0), "expression": r(10, 1.0), "global_orient": r(3, 0.5), "body_pose": r(63, 0.3),
        "left_hand_pose": r(hand_dim, 0.7), "right_hand_pose": r(hand_dim, 0.7), "jaw_pose": r(3, 0.2),
        "leye_pose": r(3, 0.2), "reye_pose": r(3, 0.2), "transl": r(3, 1.0),
    }


@pytest.fixture(scope="module")
def model_with(body_model):
    """Factory: the embedded model with the given `load_body_model` options, each loaded once per module."""
    loaded = {(): body_model}

    def get(**options):
        key = tuple(sorted(options.items()))
        if key not in loaded:
            loaded[key] = load_body_model(**options)
        return loaded[key]

    return get


# ---------------------------------------------------------------- fast forward == stock smplx forward

CONFIGS = {
    "default": ({}, 6, 127),
    "face_contour": ({"use_face_contour": True}, 6, 144),
    "pca12": ({"num_pca_comps": 12}, 12, 127),
    "no_pca": ({"use_pca": False}, 45, 127),
    "flat_hand_mean": ({"flat_hand_mean": True}, 6, 127),
}


@pytest.mark.parametrize("config", list(CONFIGS))
def test_forward_equals_stock_smplx(model_with, config):
    options, hand_dim, num_joints = CONFIGS[config]
    model = model_with(**options)
    params = random_params(5, seed=list(CONFIGS).index(config), hand_dim=hand_dim)
    with torch.no_grad():
        ours = model(**params, vertices=True)
        stock = model.layer(**params, return_verts=True)
    assert ours.vertices.shape == (5, NUM_VERTICES, 3)
    assert ours.joints.shape == stock.joints.shape == (5, num_joints, 3)
    torch.testing.assert_close(ours.vertices, stock.vertices, **TOL32)
    torch.testing.assert_close(ours.joints, stock.joints, **TOL32)
    # the posed kinematic joints are the first 55 output joints
    torch.testing.assert_close(ours.posed_joints, stock.joints[:, :SMPLX_NUM_JOINTS], **TOL32)


@pytest.mark.parametrize("config", list(CONFIGS))
def test_keypoint_path_equals_full_forward(model_with, config):
    options, hand_dim, num_joints = CONFIGS[config]
    model = model_with(**options)
    params = random_params(5, seed=7, hand_dim=hand_dim)
    with torch.no_grad():
        full = model(**params, vertices=True)
        fast = model(**params, vertices=False)
        keypoints = model.keypoints(**params)
    assert fast.vertices is None
    assert keypoints.shape == (5, num_joints, 3)
    torch.testing.assert_close(keypoints, full.joints, **TOL32)
    torch.testing.assert_close(fast.joints, full.joints, **TOL32)


def test_missing_parameters_are_zeros(body_model):
    zeros = {k: torch.zeros_like(v) for k, v in random_params(2, seed=0).items()}
    with torch.no_grad():
        explicit = body_model(**zeros)
        implicit = body_model(betas=torch.zeros(2, 10))
    torch.testing.assert_close(implicit.joints, explicit.joints, rtol=0, atol=0)
    torch.testing.assert_close(implicit.vertices, explicit.vertices, rtol=0, atol=0)


def test_float64_agrees_with_float32(model_with):
    model32, model64 = model_with(), model_with(dtype=torch.float64)
    assert model64.layer.v_template.dtype == torch.float64
    params = random_params(5, seed=11)
    with torch.no_grad():
        j32 = model32.keypoints(**params)
        out64 = model64(**{k: v.double() for k, v in params.items()})
    assert out64.joints.dtype == torch.float64 and out64.vertices.dtype == torch.float64
    torch.testing.assert_close(out64.joints, j32.double(), rtol=0, atol=1e-4)


def test_rotation_matrix_input_gives_the_axis_angle_joints(body_model, embedded_arrays):
    params = random_params(4, seed=5)
    shape = {k: params.pop(k) for k in ("betas", "expression", "transl")}
    # the full pose rebuilt from the file: hand PCA coefficients times components, plus the stored hand mean
    hands = []
    for side, letter in (("left", "l"), ("right", "r")):
        components = torch.from_numpy(embedded_arrays[f"hands_components{letter}"][:6].copy())
        mean = torch.from_numpy(embedded_arrays[f"hands_mean{letter}"].copy())
        hands.append(params[f"{side}_hand_pose"] @ components + mean)
    full_pose = torch.cat([params["global_orient"], params["body_pose"], params["jaw_pose"], params["leye_pose"],
                           params["reye_pose"], *hands], dim=1).reshape(4, SMPLX_NUM_JOINTS, 3)
    rotmats = axis_angle_to_matrix(full_pose)
    torch.testing.assert_close(body_model.rotations(**params), rotmats, rtol=0, atol=1e-6)
    with torch.no_grad():
        from_axis_angle = body_model(**params, **shape)
        from_rotmats = body_model(pose_rotmats=rotmats, **shape)
        keypoints = body_model.keypoints(pose_rotmats=rotmats, **shape)
    torch.testing.assert_close(from_rotmats.joints, from_axis_angle.joints, **TOL32)
    torch.testing.assert_close(from_rotmats.vertices, from_axis_angle.vertices, **TOL32)
    torch.testing.assert_close(keypoints, from_axis_angle.joints, **TOL32)


def test_gradients_flow_to_betas_and_body_pose(body_model):
    params = random_params(3, seed=2)
    betas = params.pop("betas").requires_grad_(True)
    body_pose = params.pop("body_pose").requires_grad_(True)
    body_model.keypoints(betas=betas, body_pose=body_pose, **params).sum().backward()
    for name, grad in (("betas", betas.grad), ("body_pose", body_pose.grad)):
        assert grad is not None, name
        assert torch.isfinite(grad).all(), name
        assert grad.abs().sum() > 0, name
    # every body joint's rotation moves some keypoint
    assert (body_pose.grad.abs().reshape(3, -1, 3).sum(dim=(0, 2)) > 0).all()


def test_transl_shifts_every_output(body_model):
    params = random_params(2, seed=4)
    shift = torch.tensor([[0.1, -0.2, 0.3], [1.0, 2.0, -3.0]])
    with torch.no_grad():
        base = body_model(**{**params, "transl": torch.zeros(2, 3)})
        moved = body_model(**{**params, "transl": shift})
    torch.testing.assert_close(moved.joints, base.joints + shift[:, None], **TOL32)
    torch.testing.assert_close(moved.vertices, base.vertices + shift[:, None], **TOL32)
    torch.testing.assert_close(moved.posed_joints, base.posed_joints + shift[:, None], **TOL32)


# ---------------------------------------------------------------- parameter errors


@pytest.mark.parametrize("name, value, expected", [
    ("body_pose", torch.zeros(2, 60), "(2, 63)"),
    ("global_orient", torch.zeros(2, 4), "(2, 3)"),
    ("left_hand_pose", torch.zeros(2, 7), "(2, 6)"),
    ("betas", torch.zeros(2, 11), "(2, <= 10)"),
])
def test_bad_parameter_shapes_name_the_parameter(body_model, name, value, expected):
    others = {"jaw_pose": torch.zeros(2, 3)} if name != "betas" else {"body_pose": torch.zeros(2, 63)}
    with pytest.raises(ValueError, match=re.escape(name)) as err:
        body_model(**{name: value}, **others)
    assert expected in str(err.value)


def test_bad_rotation_matrix_shape_is_refused(body_model):
    with pytest.raises(ValueError, match="pose_rotmats"):
        body_model(pose_rotmats=torch.eye(3).expand(2, 54, 3, 3))


# ---------------------------------------------------------------- model-file errors


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return path


def test_nonexistent_path_raises_and_does_not_fall_back(embedded_cache):
    with pytest.raises(ModelFileError, match=re.escape("/nonexistent")):
        load_body_model("/nonexistent")
    with pytest.raises(ModelFileError, match=re.escape("/nonexistent")):
        resolve_model("/nonexistent")


def test_env_var_pointing_nowhere_raises(embedded_cache, monkeypatch, tmp_path):
    missing = tmp_path / "no-such-model"
    monkeypatch.setenv("SMPLX_MODEL_PATH", str(missing))
    with pytest.raises(ModelFileError, match=re.escape(str(missing))) as err:
        load_body_model()
    assert "SMPLX_MODEL_PATH" in str(err.value)


def test_empty_folder_raises(embedded_cache, tmp_path):
    with pytest.raises(ModelFileError, match=re.escape(str(tmp_path))):
        load_body_model(tmp_path)


def test_missing_key_names_file_and_key(embedded_arrays, tmp_path):
    path = _write_npz(tmp_path / "no_posedirs.npz", {k: v for k, v in embedded_arrays.items() if k != "posedirs"})
    with pytest.raises(ModelFileError) as err:
        load_body_model(path)
    assert str(path) in str(err.value) and "posedirs" in str(err.value)


def test_wrong_shape_names_key_and_expected_shape(embedded_arrays, tmp_path):
    arrays = dict(embedded_arrays)
    arrays["J_regressor"] = embedded_arrays["J_regressor"][:24]
    path = _write_npz(tmp_path / "smpl_regressor.npz", arrays)
    with pytest.raises(ModelFileError) as err:
        load_body_model(path)
    message = str(err.value)
    assert str(path) in message and "J_regressor" in message
    assert "(55, 10475)" in message, message


def test_smpl_sized_mesh_is_refused(embedded_arrays, tmp_path):
    V = 6890
    arrays = dict(embedded_arrays)
    for key in ("v_template", "weights", "shapedirs", "posedirs"):
        arrays[key] = embedded_arrays[key][:V]
    arrays["J_regressor"] = embedded_arrays["J_regressor"][:, :V]
    arrays["f"] = embedded_arrays["f"][(embedded_arrays["f"] < V).all(axis=1)]
    path = _write_npz(tmp_path / "smpl_sized.npz", arrays)
    with pytest.raises(ModelFileError) as err:
        load_body_model(path)
    message = str(err.value)
    assert str(path) in message and "6890" in message and "10475" in message, message


def test_nan_in_template_is_refused(embedded_arrays, tmp_path):
    arrays = dict(embedded_arrays)
    template = embedded_arrays["v_template"].copy()
    template[123, 1] = np.nan
    arrays["v_template"] = template
    path = _write_npz(tmp_path / "nan.npz", arrays)
    with pytest.raises(ModelFileError) as err:
        load_body_model(path)
    assert str(path) in str(err.value) and "v_template" in str(err.value)
    assert "nan" in str(err.value).lower()


def test_unreadable_file_is_refused(tmp_path):
    path = tmp_path / "broken.npz"
    path.write_bytes(b"not a zip file")
    with pytest.raises(ModelFileError, match=re.escape(str(path))):
        load_body_model(path)


def test_more_hand_components_than_the_file_holds_is_refused(embedded_npz):
    with pytest.raises(ConfigError) as err:
        load_body_model(num_pca_comps=46)
    message = str(err.value)
    assert str(embedded_npz) in message and "hands_componentsl" in message and "1..45" in message, message


def test_face_contour_without_its_keys_in_a_pkl_is_refused(embedded_arrays, tmp_path):
    path = tmp_path / "SMPLX_NEUTRAL.pkl"
    path.write_bytes(pickle.dumps({k: v for k, v in embedded_arrays.items() if not k.startswith("dynamic_lmk")}))
    load_body_model(path)  # without the contour the file is complete
    with pytest.raises(ModelFileError) as err:
        load_body_model(path, use_face_contour=True)
    assert str(path) in str(err.value) and "dynamic_lmk_faces_idx" in str(err.value)


@pytest.mark.parametrize("embedded_key, synthetic", [(False, False), (True, True)])
def test_smplx_folder_layout_is_accepted(embedded_arrays, body_model, tmp_path, embedded_key, synthetic):
    arrays = {k: v for k, v in embedded_arrays.items() if embedded_key or k != EMBEDDED_KEY}
    path = _write_npz(tmp_path / "models" / "smplx" / "SMPLX_NEUTRAL.npz", arrays)
    model = load_body_model(tmp_path / "models")
    assert model.source.path == path
    assert model.source.synthetic is synthetic
    assert model.source.origin != "embedded"
    assert model.source.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    params = random_params(2, seed=9)
    with torch.no_grad():
        torch.testing.assert_close(model.keypoints(**params), body_model.keypoints(**params), rtol=0, atol=0)


# ---------------------------------------------------------------- model_info and the CLI


def test_model_info_reports_the_embedded_model(embedded_npz):
    info = model_info()
    assert info["synthetic"] is True
    assert info["vertices"] == NUM_VERTICES
    assert info["output_joints"] == len(get_skeleton("smplx_127"))
    assert re.fullmatch(r"[0-9a-f]{64}", info["sha256"])
    assert info["sha256"] == hashlib.sha256(embedded_npz.read_bytes()).hexdigest()
    assert Path(info["path"]) == embedded_npz


def test_cli_model_info_prints_the_model_and_the_synthetic_note(embedded_npz, capsys):
    assert main(["model", "info"]) == 0
    out = capsys.readouterr().out
    assert hashlib.sha256(embedded_npz.read_bytes()).hexdigest() in out
    assert str(embedded_npz) in out
    assert str(NUM_VERTICES) in out
    assert re.search(r"^synthetic\s+True$", out, flags=re.MULTILINE), out
    notes = [line for line in out.splitlines() if line.startswith("NOTE")]
    assert notes and "synthetic" in notes[0], out


def test_cli_model_info_with_a_missing_path_fails_cleanly(embedded_cache, capsys):
    assert main(["model", "info", "--model-path", "/nonexistent"]) == 2
    captured = capsys.readouterr()
    assert "/nonexistent" in captured.err
    assert "Traceback" not in captured.err
    assert captured.out == ""


def test_cli_unknown_verb_exits_with_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["frobnicate"])
    assert exit_info.value.code == 2
    assert "frobnicate" in capsys.readouterr().err
