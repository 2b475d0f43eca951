"""Settings typed by their declarations (bench.settings), and every registered method and dataset declaring its
choices and ranges so a bad value is refused before anything is built."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

import pytest

from bench.errors import ConfigError
from bench.method import parse_spec
from bench.registry import (
    check_method_spec,
    dataset_names,
    get_dataset,
    get_method,
    method_names,
    typed_dataset_settings,
)
from bench.settings import OneOf, PositiveInt, Range, declared_settings, guess_value, typed_settings

MODES = ("fast", "slow")


@dataclass(frozen=True)
class _Config:
    mode: Annotated[str, OneOf(MODES)] = "fast"
    kind: Literal["a", "b"] = "a"
    steps: PositiveInt = 10
    rate: Annotated[float, Range(0, 1, open_max=True)] = 0.5
    names: tuple[str, ...] | None = None
    count: str | int = "all"
    flag: bool = True
    free = None  # not a field


def _load(folder, *, views: tuple[str, ...] | None = None, person: int | None = None, scale=1.0) -> None:
    """A dataset-style load function: keyword-only settings; one without an annotation."""


DECLARED = declared_settings(_Config)


def typed(**values):
    return typed_settings("toy", DECLARED, values)


def test_text_from_a_spec_becomes_the_declared_type():
    name, raw = parse_spec("toy[mode=slow,kind=b,steps=3,rate=0.25,names=00_16+00_30,count=3,flag=false]")
    assert typed(**raw) == {"mode": "slow", "kind": "b", "steps": 3, "rate": 0.25, "names": ("00_16", "00_30"),
                            "count": 3, "flag": False}  # fmt: skip
    assert typed(names="00_16") == {"names": ("00_16",)}  # int('00_16') == 16: never guessed as a number
    assert typed(count="Counting") == {"count": "Counting"}
    assert typed(names="none") == {"names": None}


def test_guess_keeps_what_was_written():
    assert guess_value("00_16") == "00_16" and guess_value("1_000") == "1_000" and guess_value("007") == "007"
    assert guess_value("16") == 16 and guess_value("-3") == -3 and guess_value("2.5") == 2.5
    assert guess_value("1e-4") == 1e-4 and guess_value("True") is True and guess_value("d2s") == "d2s"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"mode": "medium"}, "mode='medium': expected one of fast|slow (default 'fast')"),
        ({"kind": "c"}, "kind='c': expected one of a|b"),
        ({"steps": 0}, "steps=0: expected >= 1 (default 10)"),
        ({"steps": -1}, "steps=-1: expected >= 1"),
        ({"steps": "2.5"}, "steps='2.5': expected int"),
        ({"steps": True}, "steps=True: expected int"),
        ({"rate": 1.0}, "rate=1.0: expected in [0, 1)"),
        ({"rate": float("nan")}, "rate=nan: expected a finite number"),
        ({"flag": "yes"}, "flag='yes': expected bool"),
        ({"names": 16}, "names=16: expected a non-empty list"),
        ({"colour": "red"}, "unknown setting(s) ['colour']; valid settings: mode='fast' (fast|slow)"),
    ],
)
def test_a_bad_value_names_the_setting_and_what_it_may_be(values, message):
    with pytest.raises(ConfigError) as caught:
        typed(**values)
    assert message in str(caught.value) and str(caught.value).startswith("toy: ")


def test_undeclared_settings_typed_by_their_default():
    declared = declared_settings(_load)
    assert set(declared) == {"views", "person", "scale"}
    assert typed_settings("d", declared, {"scale": "2", "person": "3", "views": "a+b"}) == {
        "scale": 2.0, "person": 3, "views": ("a", "b")}  # fmt: skip
    with pytest.raises(ConfigError, match="scale='x': expected float"):
        typed_settings("d", declared, {"scale": "x"})


def test_describe_shows_choices_and_ranges():
    text = {name: s.describe() for name, s in DECLARED.items()}
    assert text["mode"] == "mode='fast' (fast|slow)" and text["kind"] == "kind='a' (a|b)"
    assert text["steps"] == "steps=10 (>= 1)" and text["rate"] == "rate=0.5 (in [0, 1))"
    assert text["flag"] == "flag=True"


def test_panoptic_view_selectable_from_a_spec():
    """The defect: panoptic[views=00_16] became views=16 and a TypeError in the adapter."""
    assert typed_dataset_settings("panoptic", parse_spec("panoptic[views=00_16]")[1]) == {"views": ("00_16",)}
    assert typed_dataset_settings("panoptic", {"views": ["00_16", "00_30"]}) == {"views": ("00_16", "00_30")}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("proposed[projection=xyz]", "projection='xyz': expected one of"),
        ("proposed[iterations=-1]", "iterations=-1: expected >= 0"),
        ("proposed[camera_supervision=xyz]", "camera_supervision='xyz': expected one of none|gt"),
        ("lifter[batch_size=1]", "batch_size=1: expected >= 2"),
        ("fhgr[input=rgb]", "input='rgb': expected one of detected|gt2d"),
        ("smplifyx[num_pca_comps=60]", "num_pca_comps=60: expected in [1, 45]"),
    ],
)
def test_method_values_refused_before_anything_is_built(spec, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("(", r"\(")):
        check_method_spec(spec)


def test_every_fixed_set_of_values_is_declared():
    """`hmrbench list` can show the choices of every text setting whose values are a fixed set."""
    for name in method_names():
        declared = get_method(name).declared
        assert all(s.choices() for key, s in declared.items() if key in ("projection", "input", "sts_view"))
    for name in dataset_names():
        declared = get_dataset(name).declared
        for key in ("split", "noise", "visibility", "root", "protocol", "variant", "keypoints", "camera"):
            if key in declared:
                assert declared[key].choices(), f"dataset {name!r}: setting {key!r} declares no choices"


def test_hmrbench_list_shows_the_choices(capsys):
    """`hmrbench list` showed projection='d2s' but not that wpp and pp exist."""
    from bench.cli import main

    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "projection='d2s' (wpp|d2s|pp)" in out and "protocol='p1' (p1|p2)" in out
    assert "visibility='strict' (strict|partial|inside|none)" in out and "iterations=20000 (>= 0)" in out
