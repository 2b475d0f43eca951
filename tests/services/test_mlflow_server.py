"""`hmrbench run` and `report` against an MLflow tracking server on PostgreSQL (``.ci/services.sh``): every unit,
its params, metrics and artifacts on the server; a second invocation from another output folder takes the unit from
the server; a report built from the server alone."""

from __future__ import annotations

import csv
import time

import pytest

from bench.cli import main
from bench.run.tracking import Tracker

pytestmark = pytest.mark.services

TINY = "iterations=6,hidden=32,rank=16,gcn_hidden=8,face_hidden=8,sts_pool=64,log_every=3,pretrain_iterations=2"


def test_run_resume_and_report_through_the_tracking_server(root, tmp_path, capsys, mlflow_uri, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    method = f"proposed[{TINY}]"
    started = time.time() * 1000  # the shared server keeps the runs of earlier test sessions
    argv = ["run", "-m", method, "-d", "h36m", "--train", "h36m[split=train]", "--data-root", str(root),
            "--limit", "3", "--tracking-uri", mlflow_uri]  # fmt: skip
    # --force: the server outlives the test (a rerun here would find the unit done)
    assert main([*argv, "--out", str(tmp_path / "a"), "--force"]) == 0
    err = capsys.readouterr().err
    assert f"tracking store {mlflow_uri}" in err and "it 3/6" in err
    rows = list(csv.DictReader((tmp_path / "a" / "run.csv").open()))

    tracker = Tracker(tmp_path / "fresh", mlflow_uri).connect()
    ours = [r for r in tracker.unit_runs() if r.data.params.get("method") == method and r.info.start_time >= started]
    assert len(ours) == 1
    unit = ours[0]
    assert unit.info.status == "FINISHED" and unit.data.params["config.iterations"] == "6"
    assert unit.data.tags["synthetic"] == "true" and unit.data.metrics  # final metrics
    artifacts = {a.path for a in tracker.client.list_artifacts(unit.info.run_id)}
    assert "rows.csv" in artifacts  # served by the server's artifact store
    table, _per_sample = tracker.load_tables([unit.info.run_id])
    assert len(table) == len(rows)

    # another output folder, the same server: the unit is taken from the server, nothing trained
    assert main([*argv, "--out", str(tmp_path / "b")]) == 0
    err = capsys.readouterr().err
    assert "1 taken from the store" in err and "it 3/6" not in err
    assert list(csv.DictReader((tmp_path / "b" / "run.csv").open())) == rows

    # a report from the server alone (a fresh folder with no rows file of its own)
    assert main(["report", "--out", str(tmp_path / "c"), "--tracking-uri", mlflow_uri]) == 0
    assert "finished unit(s)" in capsys.readouterr().err
    assert (tmp_path / "c" / "report" / "index.html").stat().st_size > 0
    assert not (tmp_path / "c" / "run.csv").exists()
