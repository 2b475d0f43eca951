"""End to end: MLflow tracking of runs (params, metrics, tags, artifacts), failures recorded while the other units go
on, a killed run resumed by the next invocation, an unreachable tracking server refused before any training, and an
output folder moved to another place resumed and reported from there."""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.cli import main
from bench.run.tracking import Tracker

TINY = "iterations=6,hidden=32,rank=16,gcn_hidden=8,face_hidden=8,sts_pool=64,log_every=3,pretrain_iterations=2"


def _experiment(path: Path, second: str) -> Path:
    path.write_text(f"""
title = "two units"
[[group]]
methods = ["proposed[{TINY}]"]
datasets = ["h36m"]
train = ["h36m[split=train]"]
limit = 4
[[group]]
methods = ["{second}"]
datasets = ["h36m"]
train = ["h36m[split=train]"]
limit = 4
""")
    return path


def _runs(out: Path) -> list:
    tracker = Tracker(out).connect()
    return tracker.client.search_runs([tracker.experiment_id], "", max_results=100)


def test_units_are_child_runs_with_config_metrics_tags_and_artifacts(root, tmp_path):
    exp = _experiment(tmp_path / "two.toml", f"proposed[projection=wpp,{TINY}]")
    assert main(["run", str(exp), "--data-root", str(root), "--out", str(tmp_path / "out")]) == 0
    runs = _runs(tmp_path / "out")
    parents = [r for r in runs if r.data.tags.get("hmrbench.kind") == "experiment"]
    units = [r for r in runs if r.data.tags.get("hmrbench.kind") == "unit"]
    assert len(parents) == 1 and len(units) == 2 and parents[0].info.status == "FINISHED"
    assert all(u.data.tags["mlflow.parentRunId"] == parents[0].info.run_id for u in units)
    unit = next(u for u in units if "wpp" in u.data.params["method"])
    assert unit.info.status == "FINISHED" and unit.data.params["config.projection"] == "wpp"
    assert unit.data.params["config.iterations"] == "6" and unit.data.params["seed"] == "0"
    tags = unit.data.tags
    assert tags["synthetic"] == "true" and len(tags["model_sha256"]) == 64 and tags["hmrbench.experiment"] == "two"
    assert tags["hmrbench.git_commit"] and tags["torch"] and tags["device"] == "cpu" and tags["device_name"]
    assert "protocol.h36m" in tags and "data_source.h36m[split=train]" in tags
    metrics = unit.data.metrics
    assert metrics["mpjpe_mm/h36m"] > 0 and "pa_mpjpe_mm/h36m/group/legs" in metrics
    assert any(k.startswith("mpjpe_mm/h36m/view/") for k in metrics)
    assert any(k.startswith("mpjpe_mm/h36m/distance/") for k in metrics)
    rows_csv = list(csv.DictReader((tmp_path / "out" / "two.csv").open()))
    overall = next(r for r in rows_csv if r["variant"] == unit.data.params["variant"] and r["metric"] == "mpjpe_mm"
                   and r["view"] == r["group"] == r["bin"] == "all")  # fmt: skip
    assert float(overall["value"]) == pytest.approx(metrics["mpjpe_mm/h36m"])
    names = {a.path for a in Tracker(tmp_path / "out").connect().client.list_artifacts(unit.info.run_id)}
    assert {"rows.csv", "per_sample.csv.gz", "predictions.npz", "model", "fit_summary.json"} <= names
    # the method's collapse flag: a tag of the unit and a column of every row of it
    assert tags["collapsed"] in ("true", "false")
    assert {r["collapsed"].lower() for r in rows_csv if r["variant"] == unit.data.params["variant"]} == {
        tags["collapsed"]
    }
    assert unit.data.params["data_seed"] == "0" and {r["data_seed"] for r in rows_csv} == {"0"}
    models = sorted((tmp_path / "out" / "models").glob("*.model"))
    assert len(models) == 2 and all(m.with_suffix(".fit.json").is_file() for m in models)
    # the training curves as step metrics (iterations=6, log_every=3: steps 3 and 6), each loss term and the rate
    client = Tracker(tmp_path / "out").connect().client
    total = client.get_metric_history(unit.info.run_id, "train/total")
    assert [m.step for m in sorted(total, key=lambda m: m.step)] == [3, 6] and all(m.value > 0 for m in total)
    for term in ("train/j2d", "train/r", "train/samples_per_s", "pretrain/total", "pretrain/samples_per_s"):
        assert len(client.get_metric_history(unit.info.run_id, term)) >= 1, term


def test_a_cached_model_keeps_its_collapse_flag(root, tmp_path, capsys, monkeypatch):
    """A unit whose model comes from the cache carries the flag its training reported (kept beside the model); a
    method whose fit summary has no flag gives ''."""
    from methods.proposed.method import ProposedMethod

    original = ProposedMethod.fit

    def fit(self, train_sets):
        return {**original(self, train_sets), "collapsed": self.cfg.projection == "pp"}

    monkeypatch.setattr(ProposedMethod, "fit", fit)
    out = tmp_path / "out"
    argv = ["run", "-m", f"proposed[projection=pp,{TINY}]", "-d", "h36m", "--train", "h36m[split=train]",
            "--data-root", str(root), "--out", str(out)]  # fmt: skip
    assert main([*argv, "--limit", "3"]) == 0
    monkeypatch.setattr(ProposedMethod, "fit", lambda self, sets: {"iterations": 0})  # never called from here on
    assert main([*argv, "--limit", "4"]) == 0
    assert "loaded the trained model" in capsys.readouterr().err
    rows = [r for r in csv.DictReader((out / "run.csv").open()) if r["view"] == r["group"] == r["bin"] == "all"]
    assert {(r["model_cached"], r["collapsed"]) for r in rows} == {("True", "True")}
    units = [r for r in _runs(out) if r.data.tags.get("hmrbench.kind") == "unit"]
    assert len(units) == 2 and {u.data.tags["collapsed"] for u in units} == {"true"}
    assert main(["run", "-m", f"proposed[projection=wpp,{TINY}]", "-d", "h36m", "--data-root", str(root),
                 "--limit", "2", "--out", str(tmp_path / "other")]) == 0  # fmt: skip
    rows = list(csv.DictReader((tmp_path / "other" / "run.csv").open()))
    assert {r["collapsed"] for r in rows} == {""}  # the patched fit reports no flag


def test_a_failing_unit_is_recorded_and_the_others_go_on(root, tmp_path, capsys, monkeypatch):
    from methods.proposed.method import ProposedMethod

    exp = _experiment(tmp_path / "two.toml", f"proposed[projection=pp,{TINY}]")
    original = ProposedMethod.predict

    def predict(self, batch):
        if self.cfg.projection == "pp":
            raise RuntimeError("boom in pp")
        return original(self, batch)

    monkeypatch.setattr(ProposedMethod, "predict", predict)
    argv = ["run", str(exp), "--data-root", str(root), "--out", str(tmp_path / "out")]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "FAILED" in err and "boom in pp" in err and "1 unit(s) failed" in err
    rows = list(csv.DictReader((tmp_path / "out" / "two.csv").open()))
    assert rows and {r["variant"] for r in rows} == {f"proposed[{TINY}]"}  # the finished unit's rows are kept
    runs = _runs(tmp_path / "out")
    failed = [r for r in runs if r.info.status == "FAILED" and r.data.tags.get("hmrbench.kind") == "unit"]
    assert len(failed) == 1 and "boom in pp" in failed[0].data.tags["hmrbench.error"]

    monkeypatch.setattr(ProposedMethod, "predict", original)  # fixed: the next invocation redoes only that unit
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "1 unit(s) run, 1 taken from the store" in err
    assert len({r["variant"] for r in csv.DictReader((tmp_path / "out" / "two.csv").open())}) == 2


def test_a_killed_run_is_continued_by_the_next_invocation(root, tmp_path, capsys):
    long = TINY.replace("iterations=6", "iterations=300")
    exp = _experiment(tmp_path / "two.toml", f"proposed[projection=wpp,{long}]")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "bench", "run", str(exp), "--data-root", str(root), "--out", str(out)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    seen = []
    try:
        for line in proc.stderr:  # the first unit finishes, the second starts training: kill it hard
            seen.append(line)
            if "it 3/300 " in line:
                break
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert any("it 3/300 " in line for line in seen), "".join(seen)
    units = [r for r in _runs(out) if r.data.tags.get("hmrbench.kind") == "unit"]
    assert sorted(r.info.status for r in units) == ["FINISHED", "RUNNING"]  # killed hard: nothing could mark it

    # the next invocation takes the finished unit from the store, marks the abandoned one KILLED and redoes it
    assert main(["run", str(exp), "--data-root", str(root), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "finished earlier" in err and "stopped before it finished (marked KILLED); redoing it" in err
    assert "1 unit(s) run, 1 taken from the store" in err
    units = [r for r in _runs(out) if r.data.tags.get("hmrbench.kind") == "unit"]
    assert sorted(r.info.status for r in units) == ["FINISHED", "FINISHED", "KILLED"]
    assert len({r["variant"] for r in csv.DictReader((out / "two.csv").open())}) == 2


@pytest.mark.parametrize("how", ["flag", "env"])
def test_an_unreachable_tracking_server_fails_fast_before_training(root, tmp_path, capsys, monkeypatch, how):
    uri = "http://127.0.0.1:9"  # the discard port: nothing listens
    argv = ["run", "-m", f"proposed[{TINY}]", "-d", "h36m", "--data-root", str(root), "--out", str(tmp_path / "o")]
    if how == "flag":
        argv += ["--tracking-uri", uri]
    else:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    start = time.monotonic()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert uri in err and "cannot be reached" in err and "it 3/6" not in err
    assert time.monotonic() - start < 15 and not (tmp_path / "o" / "models").exists()


def test_files_from_before_the_data_seed_read_their_training_seed_as_data_seed(tmp_path):
    """Before the data seed existed the runner loaded every set with the training seed: a unit's rows from then
    say so when read back from the store (not data seed 0, which would claim one fixed test set)."""
    import pandas as pd

    tracker = Tracker(tmp_path).connect()
    run_id = tracker.start("old unit", {"hmrbench.unit": "old"}, {})
    old = pd.DataFrame([{"unit": "old", "variant": "proposed", "dataset": "h36m", "seed": 2, "metric": "mpjpe_mm",
                         "value": 90.0}])  # fmt: skip
    old.to_csv(tmp_path / "rows.csv", index=False)
    tracker.log_files(run_id, [tmp_path / "rows.csv"])
    tracker.end(run_id)
    rows, samples = tracker.load_tables([run_id])
    assert list(rows["data_seed"]) == [2] and samples.empty
    assert [list(rows[k]) for k in ("threads", "cores", "load_avg")] == [[""]] * 3  # not recorded then: blank


def test_a_store_from_before_threads_were_recorded_still_reports(root, tmp_path, monkeypatch):
    """Rows files logged before the ``threads`` / ``cores`` / ``load_avg`` columns existed read them as blank, and
    the report is built from them (it used to require every column of ``ROW_FIELDS``)."""
    import pandas as pd

    from bench.run.pipeline import report
    from bench.run.runner import run

    tracker = Tracker(tmp_path).connect()
    run(["lifter[iterations=4]"], ["h36m"], data_root=root, limit=2, tracker=tracker, experiment="old")
    (unit,) = tracker.unit_runs()
    folder = Path(tracker.download(unit.info.run_id, "rows.csv", tmp_path / "dl")).parent
    old = pd.read_csv(folder / "rows.csv").drop(columns=["threads", "cores", "load_avg"])
    old.to_csv(tmp_path / "rows.csv", index=False)
    tracker.log_files(unit.info.run_id, [tmp_path / "rows.csv"])  # the unit's rows.csv replaced by the old form
    written = report(tracker, tmp_path)
    assert (tmp_path / "report" / "index.html").is_file() and written


def test_a_moved_output_folder_resumes_and_reports_from_its_new_place(root, tmp_path, capsys):
    """MLflow records artifact locations as absolute paths: after ``mv hmrbench-out results-v1`` the report found
    "1 finished unit(s), 0 rows" and a run took its units from the store with no rows and wrote no table."""
    argv = ["run", "-m", f"proposed[{TINY}]", "-d", "h36m", "--train", "h36m[split=train]", "--data-root", str(root),
            "--limit", "2"]  # fmt: skip
    first = tmp_path / "hmrbench-out"
    assert main([*argv, "--out", str(first)]) == 0
    before = list(csv.DictReader((first / "run.csv").open()))
    moved = Path(shutil.move(first, tmp_path / "results-v1"))
    capsys.readouterr()
    assert main([*argv, "--out", str(moved)]) == 0
    assert "0 unit(s) run, 1 taken from the store" in capsys.readouterr().err
    assert list(csv.DictReader((moved / "run.csv").open())) == before
    assert main(["report", "--out", str(moved)]) == 0
    assert f"1 finished unit(s), {len(before)} rows" in capsys.readouterr().err
    assert not first.exists()  # nothing written to the old place
