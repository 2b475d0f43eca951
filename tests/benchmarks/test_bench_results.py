"""Timing of the bookkeeping around a scored set (pytest-benchmark); runs only with `--benchmark-only`.

What a unit costs besides training and prediction: scoring the default synthetic Panoptic set (3,104 samples,
31 views) with a method that returns the ground truth, slicing the result into tidy rows (overall, 31 views,
joint groups, distance bins) and logging one unit to a fresh SQLite MLflow store. No target in the issue; kept so
that the overhead of the orchestration stays visible next to the methods' own cost.
"""

from __future__ import annotations

import pytest
from _oracle import Oracle

from bench.run.evaluate import evaluate
from bench.run.results import evaluation_rows
from bench.run.units import load_dataset_spec


@pytest.fixture(scope="module")
def panoptic():
    return load_dataset_spec("panoptic")


def test_evaluate_panoptic_with_ground_truth(benchmark, panoptic):
    oracle = Oracle()
    result = benchmark.pedantic(evaluate, args=(oracle, panoptic), rounds=5, warmup_rounds=1)
    assert result.summary()["n"] > 3000


def test_rows_of_a_panoptic_evaluation(benchmark, panoptic):
    ev = evaluate(Oracle(), panoptic)
    rows = benchmark.pedantic(evaluation_rows, args=(ev, panoptic, {"unit": "u"}), rounds=20, warmup_rounds=2)
    assert len({r["view"] for r in rows}) == 32  # 31 views and "all"
    benchmark.extra_info.update(rows=len(rows), samples=len(panoptic))


def test_log_one_unit_to_a_sqlite_store(benchmark, panoptic, tmp_path):
    from bench.run.tracking import Tracker
    from bench.run.units import Results, _log_unit

    ev = evaluate(Oracle(), panoptic)
    unit = Results(rows=evaluation_rows(ev, panoptic, {"unit": "u", "dataset": "panoptic"}))
    tracker = Tracker(tmp_path / "out").connect()

    def log() -> None:
        run_id = tracker.start("bench", {}, {"x": 1})
        _log_unit(tracker, run_id, unit, [])

    benchmark.pedantic(log, rounds=5, warmup_rounds=1)
    benchmark.extra_info.update(rows=len(unit.rows))
