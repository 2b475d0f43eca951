"""Dataset registry: registration, plugins, data-root resolution, settings checks, cached synthetic defaults."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from bench import registry
from bench.errors import ConfigError, DataFileError
from bench.registry import SYNTHETIC_MARKER, load_dataset, register_dataset, resolve_data_root
from bench.samples import NUM_KEYPOINTS, SampleSet

CALLS = {"synth": 0}


def _toy_synth(out, *, frames=None, seed=0, noise="detector"):
    CALLS["synth"] += 1
    out.mkdir(parents=True)
    n = frames or 3
    np.save(out / "values.npy", np.random.default_rng(seed).normal(size=(n, 17, 3)))
    (out / SYNTHETIC_MARKER).write_text(json.dumps({"synthetic": True, "dataset": "toy", "seed": seed}))
    return {"frames": n}


def _toy_check(folder):
    return [{"split": "test", "samples": len(np.load(folder / "values.npy"))}]


def _toy_load(folder, *, scale=1.0):
    joints = np.load(folder / "values.npy") * scale
    n = len(joints)
    s = SampleSet(
        name="toy", skeleton="h36m_17", keypoints2d=np.zeros((n, NUM_KEYPOINTS, 3)), image_size=np.tile([1, 1], (n, 1)),
        K=np.tile(np.eye(3), (n, 1, 1)), R=np.tile(np.eye(3), (n, 1, 1)), t=np.zeros((n, 3)), dist=np.zeros((n, 5)),
        joints3d=joints, joints3d_valid=np.ones((n, 17), bool),
        ids={"subject": [""] * n, "sequence": [""] * n, "action": [""] * n, "frame": np.arange(n), "view": [""] * n,
             "person": np.zeros(n)},
    )  # fmt: skip
    s.info["keypoints2d"] = "detections"  # as an adapter reading detector files says
    return s


@pytest.fixture
def toy(monkeypatch, tmp_path):
    """A registered 'toy' dataset in an isolated registry and cache."""
    monkeypatch.setattr(registry, "_DATASETS", dict(registry._DATASETS))
    monkeypatch.setattr(registry, "_discovered", True)
    monkeypatch.setenv("HMRBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("HMRBENCH_DATA", raising=False)
    register_dataset("toy", description="toy set", check=_toy_check, synthesize=_toy_synth)(_toy_load)
    CALLS["synth"] = 0
    return registry.get_dataset("toy")


def test_spec_lists_the_keyword_settings(toy):
    assert toy.settings == {"scale": 1.0}
    assert "toy" in registry.dataset_names()


def test_unknown_dataset_and_setting_list_the_valid_ones(toy):
    with pytest.raises(ConfigError, match=r"unknown dataset 'nope'.*toy"):
        registry.get_dataset("nope")
    with pytest.raises(ConfigError, match=r"unknown setting\(s\) \['scal'\]; valid settings: scale=1.0"):
        load_dataset("toy", scal=2.0)


def test_synthetic_default_is_generated_once_labelled_and_cached(toy, capsys):
    a = load_dataset("toy")
    assert a.info["synthetic"] is True and a.info["generator"]["seed"] == 0
    assert "writing the synthetic toy set" in capsys.readouterr().err
    b = load_dataset("toy", scale=2.0)
    assert CALLS["synth"] == 1
    np.testing.assert_allclose(b.joints3d, 2 * a.joints3d)
    assert registry.synthetic_default_root("toy").name == "toy-g1-s0"
    load_dataset("toy", seed=5)
    assert CALLS["synth"] == 2


def test_real_root_is_read_and_labelled_real(toy, tmp_path, monkeypatch):
    root = tmp_path / "data"
    (root / "toy").mkdir(parents=True)
    np.save(root / "toy" / "values.npy", np.ones((4, 17, 3)))
    s = load_dataset("toy", data_root=root)
    assert s.info["synthetic"] is False and s.info["source"] == str(root / "toy") and len(s) == 4
    monkeypatch.setenv("HMRBENCH_DATA", str(root))
    assert load_dataset("toy").info["synthetic"] is False
    assert CALLS["synth"] == 0


def test_data_root_errors_name_the_path_and_its_origin(toy, tmp_path, monkeypatch):
    with pytest.raises(DataFileError, match="from --data-root"):
        resolve_data_root(tmp_path / "missing")
    monkeypatch.setenv("HMRBENCH_DATA", str(tmp_path / "gone"))
    with pytest.raises(DataFileError, match="from HMRBENCH_DATA"):
        resolve_data_root()
    with pytest.raises(DataFileError, match="no toy/ folder under the data root"):
        load_dataset("toy", data_root=tmp_path)


def test_generated_tree_with_a_marker_read_from_a_root_is_still_labelled_synthetic(toy, tmp_path):
    _toy_synth(tmp_path / "root" / "toy")
    assert load_dataset("toy", data_root=tmp_path / "root").info["synthetic"] is True


def test_detector_files_of_a_generated_tree_are_labelled_simulated(toy, tmp_path):
    """A real tree's detector files are 'detections'; a generated tree's are the generator's simulated output."""
    root = tmp_path / "data"
    (root / "toy").mkdir(parents=True)
    np.save(root / "toy" / "values.npy", np.ones((4, 17, 3)))
    assert load_dataset("toy", data_root=root).info["keypoints2d"] == "detections"
    assert load_dataset("toy").info["keypoints2d"] == "simulated"
    _toy_synth(tmp_path / "exact" / "toy")
    marker = tmp_path / "exact" / "toy" / SYNTHETIC_MARKER
    marker.write_text(json.dumps({"synthetic": True, "noise": {"kind": "none"}}))
    assert load_dataset("toy", data_root=tmp_path / "exact").info["keypoints2d"] == "exact"


def test_duplicate_registration_is_refused(toy):
    with pytest.raises(ValueError, match="registered twice"):
        register_dataset("toy", description="again", check=_toy_check)(lambda folder: None)


def test_plugins_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setattr(registry, "_DATASETS", dict(registry._DATASETS))
    monkeypatch.setattr(registry, "_discovered", False)
    (tmp_path / "my_plugin_ds.py").write_text(
        "from bench.registry import register_dataset\n"
        "def _check(folder):\n    return []\n"
        "@register_dataset('plugin_ds', description='from a plugin', check=_check)\n"
        "def load(folder, *, x=1):\n    return None\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("HMRBENCH_PLUGINS", "my_plugin_ds")
    assert "plugin_ds" in registry.dataset_names()
    sys.modules.pop("my_plugin_ds", None)
    monkeypatch.setattr(registry, "_discovered", False)
    monkeypatch.setenv("HMRBENCH_PLUGINS", "no_such_module_xyz")
    with pytest.raises(ConfigError, match="HMRBENCH_PLUGINS: cannot import 'no_such_module_xyz'"):
        registry.discover()


def test_dataset_without_generator_needs_a_root(toy):
    register_dataset("nogen", description="real only", check=_toy_check)(lambda folder, *, a=1: None)
    with pytest.raises(ConfigError, match="no synthetic generator"):
        load_dataset("nogen")
