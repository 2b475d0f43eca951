"""End to end through the command line: `hmrbench run` on tiny synthetic trees (train, score, table, CSV) and its
errors."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from bench.cli import main, print_rows
from bench.run.results import ROW_FIELDS
from bench.run.runner import run
from bench.run.tracking import Tracker

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
    # what is synthetic, part by part: the data, the embedded body model (and the 2D source, as the adapter says)
    assert (h36m["data"], h36m["body_model"]) == ("synthetic", "embedded") and h36m["keypoints2d"]
    assert "SYNTHETIC (data, body model (embedded)" in captured.out
    assert f"h36m: {h36m['protocol']}" in captured.out  # every scored set's protocol, on the console too
    assert "no body keypoints" in stb["skip_reason"] and stb["n"] == "0"  # a skipped row, not a crash
    assert {r["view"] for r in rows} > {"all"} and {"torso", "arms", "legs"} <= {r["group"] for r in rows}
    assert f"results, trained models and reports under {tmp_path / 'res'}" in captured.err
    assert (tmp_path / "res" / "mlflow.db").is_file() and "tracking store sqlite:///" in captured.err
    (unit,) = Tracker(tmp_path / "res").connect().unit_runs()
    tags = unit.data.tags
    assert (tags["synthetic"], tags["data"], tags["body_model"]) == ("true", "synthetic", "embedded")
    assert tags["keypoints2d"] == ",".join(sorted({h36m["keypoints2d"], stb["keypoints2d"]}))

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
    import bench.run.runner as runner
    import bench.run.units as units

    loads, contexts = [], []
    load, build = units.load_dataset, runner.build_method
    monkeypatch.setattr(units, "load_dataset", lambda name, **kw: loads.append(kw["seed"]) or load(name, **kw))
    monkeypatch.setattr(runner, "build_method",
                        lambda spec, context: contexts.append(context.seed) or build(spec, context))  # fmt: skip
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
        (["-m", "proposed[projection=xyz]", "-d", "h36m"], "projection='xyz'"),
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


def _without_test_subjects(root, tmp_path):
    """A copy of the tiny H36M tree holding only the training subjects (its test annotation file removed)."""
    import shutil

    data = tmp_path / "data"
    shutil.copytree(root / "h36m", data / "h36m")
    (data / "h36m" / "annotations" / "h36m_test.npz").unlink()
    return data


def test_an_empty_test_set_is_a_skipped_row_with_its_reason(root, tmp_path, capsys):
    """H36M data with training subjects only, scored with split=test: a skipped row naming the set's protocol, not
    a NaN with n = 0 and no reason; the unit is not FAILED, and the console says so."""
    argv = ["run", "-m", TINY_PROPOSED, "-d", "h36m", "-d", "h36m[split=train]", "--limit", "3",
            "--data-root", str(_without_test_subjects(root, tmp_path)), "--out", str(tmp_path / "res")]  # fmt: skip
    assert main(argv) == 0
    captured = capsys.readouterr()
    test, train = _overall(list(csv.DictReader((tmp_path / "res" / "run.csv").open())))
    assert test["n"] == "0" and test["skip_reason"].startswith("empty set: no samples to score (h36m p1")
    assert "split=test" in test["skip_reason"] and train["n"] == "3" and not train["skip_reason"]
    assert f"1 row(s) skipped: {test['skip_reason']}" in captured.out
    assert "FAILED" not in captured.err and "h36m: skipped (empty set" in captured.err


def test_rows_written_is_said_only_when_the_file_was_written(root, tmp_path, capsys, monkeypatch):
    import bench.run.results

    def full_disk(rows, fields, path):  # noqa: ANN001, ANN202
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(bench.run.results, "write_table", full_disk)  # the rows CSV only; the store writes its own
    argv = ["run", "-m", TINY_PROPOSED, "-d", "h36m", "--data-root", str(root), "--limit", "2",
            "--out", str(tmp_path)]  # fmt: skip
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "rows written" not in err and not (tmp_path / "run.csv").exists()
    assert f"cannot write the rows file {tmp_path / 'run.csv'} (No space left on device)" in err
    assert f"no rows file written: cannot write {tmp_path / 'run.csv'}" in err


@pytest.mark.parametrize("fallback_works", [True, False])
def test_a_model_that_cannot_be_saved_is_kept_and_its_unit_scored(root, tmp_path, monkeypatch, fallback_works):
    """The model cache on a full or read-only disk: the trained model stays in memory, the unit is scored, the
    model goes to the fallback folder (or, failing that too, is said to be kept in memory only), in one line
    naming the path that failed."""
    import bench.run.runner as runner

    models, fallback = tmp_path / "models", tmp_path / "fallback"
    build = runner.build_method

    def unsavable(spec, context):  # noqa: ANN001, ANN202
        method = build(spec, context)
        save = method.save

        def refuse(path):  # noqa: ANN001, ANN202
            if str(path).startswith(str(models)) or not fallback_works:
                raise OSError(30, "Read-only file system", str(path))
            return save(path)

        method.save = refuse
        return method

    monkeypatch.setattr(runner, "build_method", unsavable)
    monkeypatch.setattr(runner, "fallback_model_folder", lambda: fallback)
    said = []
    result = run([TINY_PROPOSED], ["h36m"], data_root=root, limit=2, models=models, progress=said.append)
    assert not result.failures and _overall(result.rows)[0]["n"] == 2  # scored with the model in memory
    (line,) = [m for m in said if "could not save the trained model" in m]
    assert str(models) in line and "Read-only file system" in line and "this unit is scored" in line
    saved = list(fallback.glob("*.model"))
    if fallback_works:
        assert len(saved) == 1 and f"saved it to {saved[0]} instead" in line
    else:
        assert saved == [] and f"nor to {fallback}" in line and "kept in memory" in line
    assert not list(models.glob("*.model"))
    if fallback_works:  # the next run finds the model where it went: the training is not lost
        said.clear()
        again = run([TINY_PROPOSED], ["h36m"], data_root=root, limit=2, models=models, progress=said.append)
        assert f"loaded the trained model {saved[0]}" in "\n".join(said)
        assert [r["value"] for r in again.rows] == [r["value"] for r in result.rows]


def test_each_printed_row_names_its_experiment_and_each_set_its_protocol(capsys):
    """paper --quick printed values of distance-quick with n of table2-quick: one line per experiment now."""
    base = {"view": "all", "group": "all", "bin": "all", "variant": "proposed", "dataset": "h36m", "seed": 0,
            "failed": 0, "skip_reason": "", "synthetic": False}  # fmt: skip
    rows = [{**base, "experiment": e, "metric": m, "value": v, "n": n, "protocol": f"h36m p1; limit={n}"}
            for e, n, v0 in (("table2-quick", 48, 70.0), ("distance-quick", 300, 90.0))
            for m, v in (("mpjpe_mm", v0), ("pa_mpjpe_mm", v0 / 2))]  # fmt: skip
    print_rows(rows)
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["experiment", "variant", "dataset", "seed"]
    assert lines[1].split() == ["table2-quick", "proposed", "h36m", "0", "70.0", "35.0", "48", "0"]
    assert lines[2].split() == ["distance-quick", "proposed", "h36m", "0", "90.0", "45.0", "300", "0"]
    assert "  h36m: h36m p1; limit=48" in lines and "  h36m: h36m p1; limit=300" in lines
    assert "SYNTHETIC" not in out


def test_runtime_and_sweep_load_their_sets_with_the_data_seed(root, tmp_path, monkeypatch):
    import bench.run.units as units
    from bench.run.runtime import runtime
    from bench.run.sweep import sweep

    loads = []
    load = units.load_dataset
    monkeypatch.setattr(units, "load_dataset", lambda name, **kw: loads.append(kw["seed"]) or load(name, **kw))
    timed = runtime([TINY_PROPOSED], dataset="h36m", batch_sizes=(1,), repeats=5, data_root=root, seed=4)
    assert loads == [0] and {(r["seed"], r["data_seed"]) for r in timed.rows} == {(4, 0)}
    loads.clear()
    sweep(TINY_PROPOSED, trials=1, out=tmp_path, train=("h36m[split=train]",), iterations=2, val_limit=4, seed=3,
          data_seed=1, data_root=root)  # fmt: skip
    assert loads == [1]
