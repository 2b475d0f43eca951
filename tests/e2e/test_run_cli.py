"""End to end through the command line: `hmrbench run` on tiny synthetic trees (train, score, table, CSV) and its
errors."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from bench.cli import main
from bench.runner import ROW_FIELDS, run

TINY_PROPOSED = (
    "proposed[iterations=6,hidden=32,rank=16,gcn_hidden=8,face_hidden=8,sts_pool=64,log_every=3,pretrain_iterations=2]"
)


def _overall(rows: list[dict], metric: str = "mpjpe_mm") -> list[dict]:
    return [r for r in rows if (r["view"], r["group"], r["bin"], r["metric"]) == ("all", "all", "all", metric)]


def test_run_trains_scores_and_labels_synthetic_results(root, tmp_path, capsys):
    argv = ["run", "-m", TINY_PROPOSED, "-d", "h36m", "-d", "stb", "--train", "h36m[split=train]",
            "--data-root", str(root), "--limit", "5", "--out", str(tmp_path / "res")]  # fmt: skip
    assert main(argv) == 0
    out = tmp_path / "res" / "run.csv"
    captured = capsys.readouterr()
    assert "SYNTHETIC" in captured.out and "mpjpe_mm" in captured.out
    assert "it 3/6" in captured.err and "MPJPE" in captured.err  # training progress and a summary per set
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0]) == list(ROW_FIELDS)
    h36m, stb = _overall(rows)
    assert [h36m["dataset"], stb["dataset"]] == ["h36m", "stb"] and h36m["variant"] == TINY_PROPOSED
    assert h36m["n"] == "5" and np.isfinite(float(h36m["value"])) and h36m["method"] == "proposed"
    assert float(_overall(rows, "pa_mpjpe_mm")[0]["value"]) > 0
    assert h36m["synthetic"] == "True" and "limit=5 of" in h36m["protocol"] and h36m["train"] == "h36m[split=train]"
    assert "no body keypoints" in stb["skip_reason"] and stb["n"] == "0"  # a skipped row, not a crash
    assert {r["view"] for r in rows} > {"all"} and {"torso", "arms", "legs"} <= {r["group"] for r in rows}
    assert f"results, trained models and reports under {tmp_path / 'res'}" in captured.err
    assert (tmp_path / "res" / "mlflow.db").is_file() and "tracking store sqlite:///" in captured.err

    # a second invocation takes the finished unit from the store: nothing trained or scored again, same rows
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "finished earlier" in err and "it 3/6" not in err and "1 taken from the store" in err
    again = list(csv.DictReader(out.open()))
    assert again == rows
    assert h36m["model_cached"] == "False" and len(list((tmp_path / "res" / "models").glob("*.model"))) == 1
    # --force redoes the unit; the trained model is retrained too
    assert main([*argv, "--force"]) == 0 and "it 3/6" in capsys.readouterr().err
    # without --force, a unit with another limit is a new unit, its model comes from the model cache
    assert main([*argv[:-4], "--limit", "4", *argv[-2:]]) == 0
    err = capsys.readouterr().err
    assert "loaded the trained model" in err and "it 3/6" not in err
    assert _overall(list(csv.DictReader(out.open())))[0]["model_cached"] == "True"


def test_same_config_and_seed_give_the_same_numbers(root):
    kwargs = dict(train=["h36m[split=train]"], data_root=root, limit=4, seed=3)
    a = run([TINY_PROPOSED], ["h36m"], **kwargs).rows
    b = run([TINY_PROPOSED], ["h36m"], **kwargs).rows
    assert [r["value"] for r in a] == [r["value"] for r in b] and len(a) > 4


def test_the_data_seed_is_apart_from_the_training_seed(root, monkeypatch):
    """Every set is loaded with the data seed whatever the training seed; the method gets the training seed; the
    unit key and the rows carry both."""
    import bench.runner as runner

    loads, contexts = [], []
    load, build = runner.load_dataset, runner._build
    monkeypatch.setattr(runner, "load_dataset", lambda name, **kw: loads.append(kw["seed"]) or load(name, **kw))
    monkeypatch.setattr(runner, "_build", lambda spec, context: contexts.append(context.seed) or build(spec, context))
    common = dict(train=["h36m[split=train]"], data_root=root, limit=2)
    first = run([TINY_PROPOSED], ["h36m"], seed=5, **common)
    assert set(loads) == {0} and len(loads) == 2 and contexts == [5]  # test and training set, data seed 0
    assert {(r["seed"], r["data_seed"]) for r in first.rows} == {(5, 0)}
    assert {int(s) for s in first.samples[0]["data_seed"]} == {0} and {int(s) for s in first.samples[0]["seed"]} == {5}
    loads.clear()
    other = run([TINY_PROPOSED], ["h36m"], seed=5, data_seed=3, **common)
    assert set(loads) == {3} and {r["data_seed"] for r in other.rows} == {3}
    assert {r["unit"] for r in other.rows}.isdisjoint({r["unit"] for r in first.rows})


def test_data_seed_on_the_command_line(root, tmp_path):
    argv = ["run", "-m", TINY_PROPOSED, "-d", "h36m", "--data-root", str(root), "--limit", "2", "--seeds", "1",
            "--out", str(tmp_path)]  # fmt: skip
    assert main([*argv, "--data-seed", "2"]) == 0
    assert {(r["seed"], r["data_seed"]) for r in csv.DictReader((tmp_path / "run.csv").open())} == {("1", "2")}
    assert main([*argv, "--data-seed", "-1"]) == 2


@pytest.mark.parametrize(
    "argv, message",
    [
        (["-m", "nope", "-d", "h36m"], "unknown method 'nope'"),
        (["-m", "proposed[colour=red]", "-d", "h36m"], "unknown parameter(s) ['colour']"),
        (["-m", "proposed[projection=xyz]", "-d", "h36m"], "projection must be"),
        (["-m", "lifter[width=abc]", "-d", "h36m"], "width='abc': expected int"),
        (["-m", "proposed", "-d", "nope"], "unknown dataset 'nope'"),
        (["-m", "proposed", "-d", "h36m[protocol=p9]"], "p9"),
        (["-m", "proposed", "-d", "h36m[split=train"], "dataset spec"),
    ],
)
def test_bad_names_give_a_clear_error_and_exit_2(root, tmp_path, capsys, argv, message):
    assert main(["run", *argv, "--data-root", str(root), "--out", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err


def test_a_bad_training_spec_fails_before_any_set_is_written(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HMRBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("HMRBENCH_DATA", raising=False)
    assert main(["run", "-m", "proposed", "-d", "h36m", "--train", "h36m[split=train"]) == 2
    assert "dataset spec" in capsys.readouterr().err and not (tmp_path / "cache" / "synthetic").exists()
    assert main(["run", "-m", "proposed", "-d", "h36m", "--train", "stb[spilt=train]"]) == 2
    assert "unknown setting(s) ['spilt']" in capsys.readouterr().err and not (tmp_path / "cache" / "synthetic").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without CUDA")
def test_cuda_without_a_gpu_is_a_clear_error(root, capsys):
    assert main(["run", "-m", "proposed", "-d", "h36m", "--device", "cuda", "--data-root", str(root)]) == 2
    assert "CUDA is not available" in capsys.readouterr().err


def test_missing_selection_is_a_usage_error(capsys):
    assert main(["run", "-m", "proposed"]) == 2
    assert "at least one -m and one -d" in capsys.readouterr().err
    assert main(["run", "table2", "-m", "proposed"]) == 2
    assert "not both" in capsys.readouterr().err
    assert main(["run", "-m", "proposed", "-d", "h36m", "--quick"]) == 2
    assert "--quick applies to experiment files" in capsys.readouterr().err
    assert main(["run", "-m", "proposed", "-d", "h36m", "--seeds", "0,x"]) == 2
    assert "--seeds" in capsys.readouterr().err


def test_list_shows_every_method_and_dataset_with_parameters_and_availability(root, capsys, monkeypatch):
    from bench.registry import dataset_names, method_names

    monkeypatch.delenv("HMRBENCH_DATA", raising=False)
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in method_names():
        assert f"  {name}: " in out
    for name in dataset_names():
        assert f"  {name}: " in out
    assert "projection='d2s'" in out and "stages=<5 entries>" in out  # long values abbreviated
    assert "available (synthetic default)" in out and "NOT available (needs --data-root" in out  # openpose
    assert main(["list", "--data-root", str(root)]) == 0
    out = capsys.readouterr().out
    assert f"available (synthetic tree {root / 'h36m'})" in out and f"NOT available (no openpose/ under {root})" in out
    assert main(["list", "--data-root", str(root / "missing")]) == 2
    captured = capsys.readouterr()
    assert "not a folder" in captured.err and captured.out == ""


@pytest.mark.parametrize("argv", [["run", "tabel1"], ["run", "-m", "propsed", "-d", "h36m"],
                                  ["sweep", "proposed", "--trials", "0"], ["sweep", "proposed[x=1]"]])  # fmt: skip
def test_a_typo_writes_nothing(tmp_path, capsys, argv):
    assert main([*argv, "--out", str(tmp_path / "o")]) == 2
    assert "error" in capsys.readouterr().err and not (tmp_path / "o").exists()  # no folder, no tracking store
