"""Contract tests over every registered dataset that has a synthetic generator.

Each one is generated tiny (1 frame per sequence) in its real file format, checked, and read back through its
adapter; the result must honour the common sample structure (bench/samples.py) whatever the dataset.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch

from bench.body.regressors import skeleton_from_smplx
from bench.body.skeletons import get_skeleton
from bench.errors import ConfigError
from bench.registry import dataset_names, get_dataset, load_dataset

GENERATED = [name for name in dataset_names() if get_dataset(name).synthesize is not None]
FRAMES = 1


def _tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}  # fmt: skip


@pytest.fixture(scope="module", params=GENERATED)
def tiny(request, tmp_path_factory, embedded_cache):
    name = request.param
    root = tmp_path_factory.mktemp(f"contract-{name}")
    get_dataset(name).synthesize(root / name, frames=FRAMES, seed=0, noise="detector")
    get_dataset(name).synthesize(root / "exact" / name, frames=FRAMES, seed=0, noise="none")
    return name, root


def test_at_least_the_three_generated_datasets_are_registered():
    assert {"panoptic", "h36m", "stb"} <= set(GENERATED)
    assert "openpose" in dataset_names()


def test_generation_is_deterministic(tiny, tmp_path):
    name, root = tiny
    get_dataset(name).synthesize(tmp_path / name, frames=FRAMES, seed=0, noise="detector")
    assert _tree_digest(tmp_path / name) == _tree_digest(root / name)
    get_dataset(name).synthesize(tmp_path / "other" / name, frames=FRAMES, seed=1, noise="detector")
    assert _tree_digest(tmp_path / "other" / name) != _tree_digest(root / name)


def test_check_counts(tiny):
    name, root = tiny
    rows = get_dataset(name).check(root / name)
    assert rows and all(isinstance(r["samples"], int) and r["samples"] >= 0 for r in rows)
    assert sum(r["samples"] for r in rows) > 0


def test_loaded_set_honours_the_sample_contract(tiny):
    name, root = tiny
    s = load_dataset(name, data_root=root)
    skeleton = get_skeleton(s.skeleton)
    assert len(s) > 0 and s.name == name
    assert s.info["synthetic"] is True and s.info["generator"]["dataset"] == name
    assert isinstance(s.info["protocol"], str) and s.info["protocol"]
    assert set(s.info["root_joints"]) <= set(skeleton.joints) and s.info["root_joints"]
    assert set(s.info["eval_joints"]) <= set(skeleton.joints) and s.info["eval_joints"]
    conf = s.keypoints2d[..., 2]
    assert ((conf >= 0) & (conf <= 1)).all() and (conf > 0).any()
    seen = conf > 0
    xy = s.keypoints2d[..., :2]
    size = s.image_size[:, None, :]
    assert ((xy >= 0) & (xy <= size - 1 + 1e-3)).all(axis=-1)[seen].all()
    np.testing.assert_array_equal(s.keypoints2d[~seen], 0.0)
    assert (s.joints3d[..., 2][s.joints3d_valid] > 0).all()  # camera frame: in front of the camera
    np.testing.assert_allclose(np.linalg.det(s.R), 1.0, atol=1e-6)
    assert s.faults.total >= 0 and isinstance(s.faults.as_dict(), dict)


def test_ground_truth_smplx_reproduces_the_3d_joints(tiny, body_model):
    from datasets.synth import generator_model, render_bodies

    name, root = tiny
    s = load_dataset(name, data_root=root)
    if s.smplx is None:
        pytest.skip(f"{name}: no ground-truth SMPL-X")
    rows = np.flatnonzero(s.smplx_valid)[:64]
    expect = render_bodies(generator_model(), {k: v[rows] for k, v in s.smplx.items()}, (s.skeleton,))[s.skeleton]
    valid = s.joints3d_valid[rows]
    by_name = skeleton_from_smplx(torch.zeros(1, 144, 3), s.skeleton)[1].numpy()
    check = valid & by_name[None]
    assert check.any()
    err = np.abs(expect - s.joints3d[rows])[check]
    assert err.max() < 1e-5, f"{name}: max |GT SMPL-X joints - joints3d| = {err.max():.2e} m"


def test_exact_noise_gives_full_confidence(tiny):
    name, root = tiny
    s = load_dataset(name, data_root=root / "exact")
    assert set(np.unique(s.keypoints2d[..., 2])) <= {0.0, 1.0}


def test_unknown_setting_is_refused(tiny):
    name, root = tiny
    with pytest.raises(ConfigError, match="unknown setting"):
        load_dataset(name, data_root=root, no_such_setting=1)
