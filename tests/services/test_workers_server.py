"""``hmrbench run --workers 2`` against the MLflow tracking server (``.ci/services.sh``): each worker logs its own
units there (a FINISHED child run per unit with its params, metrics and rows artifact, under the experiment's
parent run); the rows are those of one process (apart from timings and the load average); the same command again
takes every unit from the server and trains nothing.

The experiment's name is unique to each test run (its units' keys include it): the shared server keeps earlier
sessions' runs, which would otherwise be found done."""

from __future__ import annotations

import csv
import uuid

import pytest

from bench.cli import main
from bench.run.tracking import Tracker

pytestmark = pytest.mark.services

TINY = "hidden=32,rank=16,gcn_hidden=8,face_hidden=8,sts_pool=64,log_every=3,pretrain_iterations=2"
METHODS = (f"proposed[iterations=6,{TINY}]", "lifter[iterations=6]")
# what may differ between one process and two workers: how long it took and how busy the machine was
VOLATILE = {"fit_seconds", "eval_seconds", "load_avg"}


def _rows(path):
    return list(csv.DictReader(path.open()))


def _stable(rows):
    return [{k: v for k, v in r.items() if k not in VOLATILE} for r in rows]


def test_two_workers_log_every_unit_on_the_server_and_resume_from_it(root, tmp_path, capfd, mlflow_uri,
                                                                      monkeypatch):  # fmt: skip
    pytest.importorskip("distributed", reason='dask.distributed is not installed (pip install -e ".[cluster]")')
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        monkeypatch.setenv(name, "1")
    name = f"workers-{uuid.uuid4().hex[:8]}"
    exp = tmp_path / f"{name}.toml"
    exp.write_text(f'title = "workers on the server"\nseeds = [0]\n\n[[group]]\n'
                   f"methods = [{', '.join(repr(m).replace(chr(39), chr(34)) for m in METHODS)}]\n"
                   'datasets = ["h36m"]\ntrain = ["h36m[split=train]"]\nlimit = 3\n')  # fmt: skip
    common = ["run", str(exp), "--data-root", str(root)]
    # one process, its own local store (units done on the server would be taken from there by the workers)
    assert main([*common, "--out", str(tmp_path / "one")]) == 0
    alone = _rows(tmp_path / "one" / f"{name}.csv")
    capfd.readouterr()

    argv = [*common, "--out", str(tmp_path / "two"), "--tracking-uri", mlflow_uri, "--workers", "2"]
    assert main(argv) == 0
    err = capfd.readouterr().err
    assert f"tracking store {mlflow_uri}" in err and "local Dask cluster of 2 worker process(es)" in err
    assert "[2/2 units done, 0 running, 0 failed]" in err and "it 3/6" in err
    rows = _rows(tmp_path / "two" / f"{name}.csv")
    assert len(rows) == len(alone) > 0 and {r["threads"] for r in rows} == {"1"}
    assert _stable(rows) == _stable(alone)

    # on the server: one FINISHED child run per unit, logged by the workers, under the experiment's parent
    tracker = Tracker(tmp_path / "fresh", mlflow_uri).connect()
    units = {r.data.params.get("method"): r for r in tracker.unit_runs([name])}
    assert sorted(units) == sorted(METHODS)
    parents = tracker.client.search_runs([tracker.experiment_id], f"tags.`hmrbench.kind` = 'experiment' and "
                                         f"attributes.run_name = '{name}'")  # fmt: skip
    assert [(p.info.status) for p in parents] == ["FINISHED"]
    for method, run in units.items():
        assert run.info.status == "FINISHED", method
        assert run.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id, method
        assert run.data.params["config.iterations"] == "6" and run.data.tags["synthetic"] == "true", method
        assert run.data.metrics, method
        assert "rows.csv" in {a.path for a in tracker.client.list_artifacts(run.info.run_id)}, method
    table, _per_sample = tracker.load_tables([r.info.run_id for r in units.values()])
    assert len(table) == len(rows)

    # the same command again, from a fresh output folder: every unit from the server, nothing trained
    again = [*argv[:4], "--out", str(tmp_path / "three"), *argv[6:]]
    assert main(again) == 0
    err = capfd.readouterr().err
    assert "it 3/6" not in err and "loaded the trained model" not in err
    assert "[2/2 units done, 0 running, 0 failed]" in err and err.count(": taken from the store") == 2
    assert _stable(_rows(tmp_path / "three" / f"{name}.csv")) == _stable(rows)
