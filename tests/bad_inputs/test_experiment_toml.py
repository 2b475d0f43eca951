"""Bad experiment files (TOML): each is a ConfigError naming the file and the key, table or value at fault, raised
when the file is loaded - before any output folder, store or model exists."""

from __future__ import annotations

import pytest
from _corrupt import as_directory, assert_names, empty, garbage, truncate, unreadable

from bench.errors import ConfigError
from bench.run.experiments import load_experiment

GOOD = """
title = "A user's ablation"
seeds = [0]

[[group]]
methods = ["proposed[w_2d=3]", "proposed[w_2d=12]"]
datasets = ["h36m[protocol=p1]"]
train = ["h36m[split=train]"]
limit = 64

[quick]
limit = 16
[quick.params.proposed]
iterations = 10
"""


@pytest.fixture
def toml(tmp_path):
    def write(text: str = GOOD, old: str | None = None, new: str = ""):
        path = tmp_path / "ablation.toml"
        path.write_text(text if old is None else text.replace(old, new))
        assert old is None or old in text
        return path

    return write


def load_error(path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_experiment(path)
    return str(caught.value)


def test_the_good_file_loads(toml):
    experiment = load_experiment(toml())
    assert experiment.title == "A user's ablation" and experiment.groups[0].limit == 64
    assert experiment.quick_version().groups[0].methods == ("proposed[iterations=10,w_2d=3]",
                                                            "proposed[iterations=10,w_2d=12]")  # fmt: skip


@pytest.mark.parametrize(
    ("old", "new", "names"),
    [
        ('"h36m[protocol=p1]"', '"h36m[protocol=p3]"', ["[[group]] 1", "protocol='p3'", "p1|p2"]),
        ('"proposed[w_2d=3]"', '"proposed[projection=xyz]"', ["[[group]] 1", "projection='xyz'"]),
        ('"proposed[w_2d=3]"', '"proposed[iterations=-1]"', ["iterations=-1", ">= 0"]),
        ('"proposed[w_2d=3]"', '"proposd[w_2d=3]"', ["unknown method 'proposd'"]),
        ('"h36m[split=train]"', '"h36m[spilt=train]"', ["unknown setting(s) ['spilt']"]),
        ("[quick.params.proposed]", "[quick.params.proposd]", ["[quick.params.proposd]", "names no method family"]),
        ("iterations = 10", "iterations = -10", ["with the [quick] overrides", "iterations=-10"]),
        ("iterations = 10", "iteratons = 10", ["with the [quick] overrides", "unknown parameter(s) ['iteratons']"]),
        ("limit = 64", "limit = -5", ["'limit'", ">= 1", "-5"]),
        ("limit = 64", "limit = 0", ["'limit'", ">= 1"]),
        ("limit = 16", "limit = 0", ["[quick]", "'limit'"]),
        ("limit = 64", "batch_size = 0", ["'batch_size'", ">= 1"]),
        ("limit = 64", 'limit = "all"', ["'limit'", "must be a int"]),
        ("seeds = [0]", "seeds = [0.5]", ["'seeds'", "integers"]),
        ("seeds = [0]", "colour = 'red'", ["unknown key 'colour'"]),
        ('methods = ["proposed[w_2d=3]", "proposed[w_2d=12]"]', "methods = []", ["'methods'"]),
        ('"proposed[w_2d=3]"', '"proposed[w_2d=3"', ["[[group]] 1", "proposed[w_2d=3"]),
    ],
)
def test_bad_values_name_the_file_and_the_key(toml, old, new, names):
    path = toml(old=old, new=new)
    assert_names(load_error(path), path, *names)


@pytest.mark.parametrize("damage", [truncate, garbage])
def test_damaged_file(toml, damage):
    path = damage(toml(), *(() if damage is garbage else (0.37,)))
    assert_names(load_error(path), path, "not valid TOML")


def test_empty_file_has_no_group(toml):
    path = empty(toml())
    assert_names(load_error(path), path, "no [[group]]")


def test_directory_and_unreadable_file(toml, tmp_path, monkeypatch):
    folder = as_directory(tmp_path / "folder.toml")
    assert_names(load_error(folder), "folder.toml", "not a shipped experiment")
    path = unreadable(toml(), monkeypatch)
    assert_names(load_error(path), path, "cannot read the experiment file", "Permission denied")


def test_missing_file_names_the_shipped_ones(tmp_path):
    assert_names(load_error(tmp_path / "nope.toml"), "nope.toml", "table2")
