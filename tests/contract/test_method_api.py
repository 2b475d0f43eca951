"""The method contract pieces: spec parsing, Prediction validation, the method registry."""

from __future__ import annotations

import re

import pytest
import torch

from bench import registry
from bench.errors import ConfigError
from bench.method import PARAM_WIDTHS, MethodContext, Prediction, config_hash, format_spec, parse_spec


def test_spec_round_trip_and_value_types():
    name, params = parse_spec("proposed[projection=wpp, sts=true, lr=1e-4, iters=3]")
    assert name == "proposed" and params == {"projection": "wpp", "sts": True, "lr": 1e-4, "iters": 3}
    assert format_spec(name, params) == "proposed[iters=3,lr=0.0001,projection=wpp,sts=true]"
    assert parse_spec(format_spec(name, params)) == (name, params)
    assert parse_spec("smplifyx") == ("smplifyx", {})
    for bad in ("proposed[projection]", "proposed[a=1", "p[a=1][b=2]"):
        with pytest.raises(ValueError, match="method spec"):
            parse_spec(bad)


def test_config_hash_ignores_key_order_and_sees_values():
    assert config_hash({"a": 1, "b": 2}) == config_hash({"b": 2, "a": 1})
    assert config_hash({"a": 1}) != config_hash({"a": 2}) and len(config_hash({})) == 16


def _prediction(b: int = 2, **changes) -> Prediction:
    kwargs = dict(
        params={k: torch.zeros(b, w) for k, w in PARAM_WIDTHS.items()},
        joints3d=torch.zeros(b, 144, 3), keypoints2d=torch.zeros(b, 137, 2),
    )  # fmt: skip
    kwargs.update(changes)
    return Prediction(**kwargs)


def test_prediction_checks_shapes_and_defaults_failed():
    p = _prediction()
    assert p.failed.tolist() == [False, False]
    with pytest.raises(ValueError, match="joints3d"):
        _prediction(joints3d=torch.zeros(2, 127, 3))
    params = {k: torch.zeros(2, w) for k, w in PARAM_WIDTHS.items() if k != "expression"}
    with pytest.raises(ValueError, match="missing 'expression'"):
        _prediction(params=params)


def _joints_only(b: int = 3, predicted: tuple[int, ...] = (0, 1, 2), **changes) -> Prediction:
    joints = torch.full((b, 144, 3), float("nan"))
    joints[:, list(predicted)] = torch.randn(b, len(predicted), 3)
    kwargs = dict(params=None, joints3d=joints, keypoints2d=None)
    kwargs.update(changes)
    return Prediction(**kwargs)


def test_a_joints_only_prediction_is_accepted_and_says_what_it_lacks():
    p = _joints_only()
    assert p.joints_only and p.failed.tolist() == [False] * 3
    assert "no SMPL-X parameters" in p.missing("params") and p.missing("mesh") == p.missing("params")
    assert p.missing("keypoints2d") == "the method returns no 2D reprojection" and p.missing() is None
    with pytest.raises(ValueError, match="unknown field"):
        p.missing("vertices")
    full = _prediction()
    assert not full.joints_only and full.missing("params", "mesh", "keypoints2d") is None
    # a failed sample may be anything (here all NaN); an all-failed batch predicts nothing at all
    joints = _joints_only().joints3d
    joints[1] = float("nan")
    assert _joints_only(joints3d=joints, failed=torch.tensor([False, True, False])).failed.tolist()[1]
    _joints_only(joints3d=torch.full((2, 144, 3), float("nan")), failed=torch.ones(2, dtype=torch.bool))
    # 2D reprojection kept when given
    assert _joints_only(keypoints2d=torch.zeros(3, 137, 2)).missing("keypoints2d") is None


def test_a_malformed_joints_only_prediction_is_rejected():
    with pytest.raises(ValueError, match=r"joints3d: expected \(3, 144, 3\)"):
        _joints_only(joints3d=torch.zeros(3, 127, 3))
    with pytest.raises(ValueError, match="predicts no joint"):
        _joints_only(joints3d=torch.full((3, 144, 3), float("nan")))
    joints = _joints_only().joints3d
    joints[1, 2] = float("nan")  # one sample leaves out a joint the others predict: not one joint set
    with pytest.raises(ValueError, match="the same joints in every sample"):
        _joints_only(joints3d=joints)
    with pytest.raises(ValueError, match=r"keypoints2d: expected \(3, 137, 2\)"):
        _joints_only(keypoints2d=torch.zeros(3, 25, 2))
    with pytest.raises(ValueError, match="params: expected a dict"):
        _joints_only(params=torch.zeros(3, 10))
    with pytest.raises(ValueError, match=r"failed: expected \(3,\) bool"):
        _joints_only(failed=torch.zeros(3))
    with pytest.raises(ValueError, match="missing 'expression'"):  # params given: still all of them
        _joints_only(params={k: torch.zeros(3, w) for k, w in PARAM_WIDTHS.items() if k != "expression"})


def test_method_registry_builds_variants_and_rejects_unknown_parameters(monkeypatch):
    monkeypatch.setattr(registry, "_METHODS", dict(registry._METHODS))
    monkeypatch.setattr(registry, "_discovered", True)

    @registry.register_method("toy_method", description="test only")
    def make(context, *, projection="d2s", sts=False):
        return {"context": context, "projection": projection, "sts": sts}

    built = registry.create_method("toy_method[projection=wpp]", MethodContext(seed=3), sts=True)
    assert built["projection"] == "wpp" and built["sts"] is True and built["context"].seed == 3
    assert registry.get_method("toy_method").params == {"projection": "d2s", "sts": False}
    with pytest.raises(ConfigError, match=r"unknown parameter\(s\) \['proj'\]; valid parameters: projection='d2s'"):
        registry.create_method("toy_method[proj=wpp]")
    with pytest.raises(ConfigError, match="unknown method 'nope'"):
        registry.create_method("nope")
    with pytest.raises(ConfigError, match="method spec"):
        registry.create_method("toy_method[x")


def test_method_parameters_can_come_from_a_config_dataclass(monkeypatch):
    import dataclasses

    monkeypatch.setattr(registry, "_METHODS", dict(registry._METHODS))
    monkeypatch.setattr(registry, "_discovered", True)

    @dataclasses.dataclass(frozen=True)
    class ToyConfig:
        width: int = 8
        sts: bool = True

    @registry.register_method("toy_config", description="test only", config=ToyConfig)
    def make(context, **params):
        return ToyConfig(**params)

    assert registry.get_method("toy_config").params == {"width": 8, "sts": True}
    assert registry.create_method("toy_config[width=3]") == ToyConfig(width=3)
    with pytest.raises(ConfigError, match=r"unknown parameter\(s\) \['depth'\]; valid parameters: width=8, sts=True"):
        registry.create_method("toy_config[depth=3]")


def test_method_parameter_values_are_checked_against_the_default_type(monkeypatch):
    """A value of the wrong type is named before anything is built (``lifter[width=abc]`` used to reach the
    factory and fail with "'>=' not supported between 'str' and 'int'"); an int is accepted where a float is
    expected, and becomes one."""
    import dataclasses

    monkeypatch.setattr(registry, "_METHODS", dict(registry._METHODS))
    monkeypatch.setattr(registry, "_discovered", True)

    @dataclasses.dataclass(frozen=True)
    class TypedConfig:
        width: int = 8
        lr: float = 1e-4
        sts: bool = True
        mode: str = "a"

    @registry.register_method("toy_typed", description="test only", config=TypedConfig)
    def make(context, **params):
        return TypedConfig(**params)

    built = registry.create_method("toy_typed[lr=1,width=3,mode=b]")
    assert built == TypedConfig(width=3, lr=1.0, mode="b") and isinstance(built.lr, float)
    for spec, message in (("toy_typed[width=abc]", "width='abc': expected int (default 8)"),
                          ("toy_typed[width=2.5]", "width=2.5: expected int"),
                          ("toy_typed[sts=3]", "sts=3: expected bool (default True)"),
                          ("toy_typed[lr=true]", "lr=True: expected float"),
                          ("toy_typed[mode=false]", "mode=False: expected str")):  # fmt: skip
        with pytest.raises(ConfigError, match=re.escape(message)):
            registry.create_method(spec)
