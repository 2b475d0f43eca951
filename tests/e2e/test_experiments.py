"""Experiment files (bench/run/experiments.py, bench/run/experiments/*.toml): the shipped ones load and name valid
methods and datasets, --quick applies their [quick] table, a user file runs end to end with several seeds, and
every malformed file is an error naming the key and the file."""

from __future__ import annotations

import csv

import pytest

from bench.cli import main
from bench.errors import ConfigError
from bench.method import parse_spec
from bench.registry import get_method
from bench.run.experiments import load_experiment, shipped_experiments
from bench.run.units import parse_dataset_spec

TINY = "iterations=4,hidden=32,rank=16,gcn_hidden=8,face_hidden=8,sts_pool=64,pretrain_iterations=2"


def test_shipped_experiments_are_valid_and_quick_applies_their_overrides():
    assert {"table1", "table2", "table3", "table4", "fig6", "distance"} <= set(shipped_experiments())
    for name in shipped_experiments():
        exp = load_experiment(name)
        quick = exp.quick_version()
        assert exp.groups and quick.title.endswith("(quick)") and quick.data_seed == exp.data_seed
        for group in quick.groups:
            for spec in group.methods:
                family, params = parse_spec(spec)
                assert set(params) <= set(get_method(family).params), spec
                for key, value in exp.quick.get("params", {}).get(family, {}).items():
                    assert params[key] == value  # the quick override is in the spec
            for spec in [*group.datasets, *group.train]:
                parse_dataset_spec(spec)
            if "limit" in exp.quick:
                assert group.limit is not None and group.limit <= exp.quick["limit"]


def test_a_user_experiment_runs_for_each_seed_and_writes_its_rows(root, tmp_path, capsys):
    path = tmp_path / "mine.toml"
    path.write_text(f"""
title = "mine"
seeds = [0]
data_seed = 0

[[group]]
methods = ["proposed[{TINY}]"]
datasets = ["h36m"]
train = ["h36m[split=train]"]
limit = 6

[quick]
limit = 3
[quick.params.proposed]
iterations = 2
""")
    assert main(["run", str(path), "--quick", "--seeds", "0,1", "--data-root", str(root), "--out", str(tmp_path)]) == 0
    out = tmp_path / "mine-quick.csv"
    assert "experiment mine" in capsys.readouterr().err
    rows = [r for r in csv.DictReader(out.open()) if r["metric"] == "mpjpe_mm" and r["view"] == r["group"] == "all"
            and r["bin"] == "all"]  # fmt: skip
    assert [(r["experiment"], r["seed"], r["data_seed"], r["n"]) for r in rows] == [
        ("mine-quick", "0", "0", "3"), ("mine-quick", "1", "0", "3")]  # two training seeds, one data seed
    assert all(r["variant"] == f"proposed[{TINY}]" for r in rows)  # the spec as written, before --quick
    assert len({r["unit"] for r in rows}) == 2


@pytest.mark.parametrize(
    "text, message",
    [
        ("titel = 'x'\n[[group]]\nmethods=['proposed']\ndatasets=['h36m']", "unknown key 'titel' in the top level"),
        ("[[group]]\nmethods=['proposed']\ndatasets=['h36m']\nlimt=3", "unknown key 'limt' in [[group]] 1"),
        ("[[group]]\nmethods=['proposed']", "[[group]] 1 has no 'datasets' list"),
        ("[[group]]\nmethods='proposed'\ndatasets=['h36m']", "key 'methods' must be a list"),
        ("[[group]]\nmethods=['proposed']\ndatasets=['h36m']\nlimit=true", "key 'limit' must be a int"),
        ("seeds = []\n[[group]]\nmethods=['proposed']\ndatasets=['h36m']", "'seeds' must be a non-empty list"),
        ("title = 'no groups'", "no [[group]] table"),
        ("[[group]\nmethods=", "not valid TOML"),
        ("[[group]]\nmethods=['proposed']\ndatasets=['h36m']\n[quick]\nfast=1", "unknown key 'fast' in [quick]"),
        ("data_seed = -1\n[[group]]\nmethods=['proposed']\ndatasets=['h36m']", "'data_seed' must be an integer >= 0"),
        ("data_seed = '1'\n[[group]]\nmethods=['proposed']\ndatasets=['h36m']", "key 'data_seed' must be a int"),
    ],
)
def test_malformed_files_name_the_key_and_the_file(tmp_path, capsys, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="bad.toml") as exc:
        load_experiment(path)
    assert message in str(exc.value)
    assert main(["run", str(path)]) == 2
    assert message in capsys.readouterr().err


def test_unknown_names_in_a_file_fail_before_training(tmp_path, capsys):
    path = tmp_path / "names.toml"
    path.write_text("[[group]]\nmethods=['proposed', 'nope']\ndatasets=['h36m']\n")
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert "unknown method 'nope'" in err and "it 1/" not in err
    assert main(["run", "no-such-experiment"]) == 2
    err = capsys.readouterr().err
    assert f"not a shipped experiment ({', '.join(shipped_experiments())}) and not a file" in err
