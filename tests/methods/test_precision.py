"""Tests of the predict-time setting ``precision=fp32|bf16`` of ``proposed`` and ``lifter`` (bf16 autocast on the
networks' hidden layers, everything after them in float32) and of predict-only settings in the keys
(``bench.method.training_config`` / ``predict_config``): bf16 stays within 1 mm of fp32 on the same inputs for a
briefly trained model on the CPU (CPU autocast supports bf16), a wrong value is a ConfigError naming it, the
training key and the model file ignore the setting (a bf16 run loads the fp32-trained model) while the unit key
sees it, and at fp32 every key is the one from before the setting existed. Tiny networks, < 30 s on 2 cores.
"""

from __future__ import annotations

import pytest
import torch
from _sts_sets import sts_body_set as body_set

from bench.errors import ConfigError
from bench.method import MethodContext, config_hash, predict_config, training_config
from bench.run.units import training_key, unit_key
from methods.lifter import create_lifter
from methods.proposed import create_proposed

PROPOSED = {"hidden": 48, "rank": 16, "gcn_hidden": 8, "sts_pool": 256, "pretrain_iterations": 0, "batch_size": 16,
            "iterations": 60, "log_every": 1000}  # fmt: skip
LIFTER = {"width": 96, "sts_pool": 256, "batch_size": 16, "iterations": 60, "log_every": 1000}
FACTORIES = {"proposed": (create_proposed, PROPOSED), "lifter": (create_lifter, LIFTER)}


def make(family: str, **kw):
    factory, tiny = FACTORIES[family]
    return factory(MethodContext(seed=0), **{**tiny, **kw})


@pytest.fixture(scope="module", params=sorted(FACTORIES))
def trained(request, embedded_cache, tmp_path_factory):
    """(family, fp32 method trained 60 iterations, its model file, training set, a batch of 64 other samples)."""
    method = make(request.param)
    train = body_set(method.train_model, 64, seed=1)
    method.fit({"train": train})
    path = tmp_path_factory.mktemp("precision") / f"{request.param}.model"
    method.save(path)
    batch = next(body_set(method.train_model, 64, seed=2).batches(64))
    return request.param, method, path, train, batch


def root_aligned_mm(a: torch.Tensor, b: torch.Tensor) -> float:
    """MPJPE (mm) of two predictions of the same samples against each other, roots (pelvis) aligned, over the
    joints both predict."""
    ok = torch.isfinite(a).all(-1) & torch.isfinite(b).all(-1)
    err = ((a - a[:, :1]) - (b - b[:, :1])).norm(dim=-1)
    return float(err[ok].mean()) * 1000


def test_bf16_stays_within_1mm_of_fp32_on_the_same_inputs(trained):
    family, fp32, path, _, batch = trained
    bf16 = make(family, precision="bf16")
    bf16.load(path)  # the fp32-trained weights: the setting is not part of the model file's hash
    a, b = fp32.predict(batch), bf16.predict(batch)
    assert b.joints3d.dtype == torch.float32 and not b.failed.any()
    if b.params is not None:
        assert all(v.dtype == torch.float32 for v in b.params.values())
    error = root_aligned_mm(a.joints3d, b.joints3d)
    assert 0.0 < error < 1.0, f"{family}: bf16 vs fp32 {error:.3f} mm"  # > 0: bf16 really ran


def test_a_callers_autocast_does_not_reach_the_body_model_or_the_setting(trained):
    """Under a caller's bf16 autocast, fp32 predicts exactly as without it and bf16 as bf16 alone: the body model
    and the decoding stay float32."""
    family, fp32, path, _, batch = trained
    bf16 = make(family, precision="bf16")
    bf16.load(path)
    alone = fp32.predict(batch).joints3d, bf16.predict(batch).joints3d
    with torch.autocast("cpu", dtype=torch.bfloat16):
        inside = fp32.predict(batch).joints3d, bf16.predict(batch).joints3d
        posed = fp32.train_model.keypoints(betas=torch.rand(2, 10), body_pose=torch.rand(2, 63))
    assert posed.dtype == torch.float32
    for a, b in zip(alone, inside, strict=True):
        assert b.dtype == torch.float32
        torch.testing.assert_close(b, a, atol=0, rtol=0, equal_nan=True)


@pytest.mark.parametrize("family", sorted(FACTORIES))
@pytest.mark.parametrize("value", ["fp16", "BF16", 16])
def test_a_wrong_precision_is_a_config_error_naming_the_field(family, value, embedded_cache):
    with pytest.raises(ConfigError, match=rf"{family}'?: precision={value!r}"):
        make(family, precision=value)


def test_training_key_and_model_file_ignore_precision_the_unit_key_sees_it(trained):
    family, fp32, path, train, _ = trained
    bf16 = make(family, precision="bf16")
    sets = {"sts": train}
    assert training_config(bf16) == training_config(fp32) and "precision" not in training_config(bf16)
    assert predict_config(fp32) == {} and predict_config(bf16) == {"precision": "bf16"}
    assert training_key(bf16, sets, 0) == training_key(fp32, sets, 0)
    keys = {p: unit_key("x", m, 0, sets, sets, None, 64, "cpu") for p, m in (("fp32", fp32), ("bf16", bf16))}
    assert keys["fp32"] != keys["bf16"]
    saved = torch.load(path, weights_only=True)
    assert "precision" not in saved["config"] and saved["config_hash"] == config_hash(training_config(bf16))


def test_at_fp32_the_keys_are_those_from_before_the_setting(trained):
    """A method object without predict-only settings and the config of before (no ``precision``) gets the same
    training and unit keys as today's fp32 method: finished units and cached models are still found."""
    family, fp32, _, train, _ = trained

    class Before:
        def __init__(self) -> None:
            self.family = family
            self.config = {k: v for k, v in fp32.config.items() if k != "precision"}

    sets = {"sts": train}
    assert training_key(Before(), sets, 0) == training_key(fp32, sets, 0)
    assert unit_key("x", Before(), 0, sets, sets, 8, 64, "cpu") == unit_key("x", fp32, 0, sets, sets, 8, 64, "cpu")


def test_a_model_file_from_before_the_setting_loads_at_either_precision(trained, tmp_path):
    family, fp32, path, _, batch = trained
    old = {k: v for k, v in fp32.config.items() if k != "precision"}
    data = torch.load(path, weights_only=True) | {"config": old, "config_hash": config_hash(old)}
    torch.save(data, tmp_path / "old.model")
    expected = fp32.predict(batch).joints3d
    for precision in ("fp32", "bf16"):
        method = make(family, precision=precision)
        method.load(tmp_path / "old.model")
        got = method.predict(batch).joints3d
        if precision == "fp32":
            torch.testing.assert_close(got, expected, atol=0, rtol=0, equal_nan=True)
        else:
            assert root_aligned_mm(got, expected) < 1.0


def test_a_bf16_runtime_unit_is_a_unit_of_its_own(trained, monkeypatch):
    """``hmrbench runtime`` keys its units by the method's training config plus the predict-only settings that
    differ from their defaults: a bf16 timing is not taken for the fp32 one (nor the reverse)."""
    import bench.run.units as units
    from bench.run.runtime import runtime

    family, _, _, train, _ = trained
    monkeypatch.setattr(units, "load_dataset_spec", lambda spec, **kw: train)
    small = {"proposed": "hidden=48,rank=16,gcn_hidden=8", "lifter": "width=64"}[family]
    specs = [f"{family}[{small}]", f"{family}[{small},precision=bf16]"]
    timed = runtime(specs, dataset="sts", batch_sizes=(1,), repeats=5, warmup=0)
    keys = {row["variant"]: row["unit"] for row in timed.rows}
    assert len(keys) == 2 and len(set(keys.values())) == 2
