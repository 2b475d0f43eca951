"""Tests of the STS-value table (reports/sts_study.py) from hand-made rows with known per-seed values, and of the
shipped experiment that feeds it (bench/run/experiments/sts_value.toml)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from _report_rows import make_row
from scipy import stats

from bench.method import parse_spec
from bench.run.experiments import load_experiment
from bench.run.units import parse_dataset_spec
from reports.labels import NOT_COMPARABLE
from reports.rows import validate_rows
from reports.sts_study import sts_value_table, training_label

ONE = "stb[split=train,sequences=1]"
SHIFT = "stb[split=train,sequences=Counting]"
RANDOM = "stb[split=test,sequences=Random]"
BASE, STS = "fhgr[iterations=4000]", "fhgr[iterations=4000,sts=true]"
# (variant, train, dataset) -> per-seed MPJPE (PA-MPJPE = MPJPE / 2); NaN: that seed has no value
VALUES = {
    (BASE, ONE, "stb"): (30.0, 32.0, 34.0),
    (STS, ONE, "stb"): (27.0, 30.0, 30.0),  # differences -3, -2, -4
    (BASE, SHIFT, RANDOM): (40.0, 41.0, 45.0),
    (STS, SHIFT, RANDOM): (38.0, 42.0, math.nan),  # seed 2 missing: paired over seeds 0, 1 (-2, +1)
    # another STS stream: its own line, against the same no-STS arm
    ("fhgr[iterations=4000,sts=true,sts_view=any]", ONE, "stb"): (35.0, 36.0, 37.0),
    ("fhgr", "stb[split=train]", "stb"): (20.0, 21.0, 22.0),  # not a study setting (no sequences)
    ("proposed", ONE, "stb"): (50.0, 50.0, 50.0),  # not fhgr
}


def rows(synthetic: bool = True) -> pd.DataFrame:
    out = []
    for (variant, train, dataset), values in VALUES.items():
        for seed, value in enumerate(values):
            if math.isnan(value):
                continue
            for metric, v in (("mpjpe_mm", value), ("pa_mpjpe_mm", value / 2)):
                out.append(make_row(variant, dataset, seed, metric, v, train=train, experiment="sts_value",
                                    synthetic=synthetic, unit=f"{variant}|{train}|{dataset}|{seed}"))  # fmt: skip
                out.append(make_row(variant, dataset, seed, metric, v + 100, train=train, view="SK",
                                    unit=f"{variant}|{train}|{dataset}|{seed}"))  # a per-view slice: ignored
    return validate_rows(pd.DataFrame(out))


def half(values) -> float:
    values = np.asarray(values, dtype=float)
    return float(stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values)))


def line(table, train: str, stream: str = "defaults") -> tuple[pd.Series, pd.Series]:
    i = [k for k in range(len(table.data)) if table.data["train"][k] == train
         and table.display["STS stream"][k] == stream]  # fmt: skip
    assert len(i) == 1
    return table.display.iloc[i[0]], table.data.iloc[i[0]]


def test_difference_and_interval_per_setting():
    table = sts_value_table(rows())
    assert table is not None and table.name == "sts_value" and len(table.display) == 3
    shown, data = line(table, ONE)
    assert data["mpjpe_mm_no_sts_mean"] == pytest.approx(32.0)
    assert data["mpjpe_mm_no_sts_ci95"] == pytest.approx(half([30, 32, 34]))
    assert data["mpjpe_mm_sts_mean"] == pytest.approx(29.0)
    assert data["mpjpe_mm_diff_mean"] == pytest.approx(-3.0)
    assert data["mpjpe_mm_diff_ci95"] == pytest.approx(half([-3, -2, -4]))  # 4.303 / sqrt(3) = 2.48
    assert shown["MPJPE, STS − no STS (mm)"] == "-3.0 ± 2.5"
    assert data["pa_mpjpe_mm_diff_mean"] == pytest.approx(-1.5)
    assert shown["training set"] == "STB train, first 1 sequence" and shown["method"] == BASE
    assert shown["seeds (no STS / STS / paired)"] == "3 / 3 / 3"


def test_missing_seed_is_left_out_of_the_pairing():
    shown, data = line(sts_value_table(rows()), SHIFT)
    assert data["dataset"] == RANDOM and shown["training set"] == "STB train, Counting sequences"
    assert data["mpjpe_mm_diff_mean"] == pytest.approx(-0.5) and data["mpjpe_mm_diff_seeds"] == 2
    assert data["mpjpe_mm_diff_ci95"] == pytest.approx(half([-2, 1]))
    assert data["mpjpe_mm_sts_mean"] == pytest.approx(40.0) and data["mpjpe_mm_no_sts_mean"] == pytest.approx(42.0)
    assert shown["seeds (no STS / STS / paired)"] == "3 / 2 / 2"


def test_other_sts_stream_is_its_own_line_against_the_same_baseline():
    shown, data = line(sts_value_table(rows()), ONE, "sts_view=any")
    assert data["mpjpe_mm_diff_mean"] == pytest.approx(4.0)  # 36 - 32: this stream hurts
    assert data["mpjpe_mm_diff_ci95"] == pytest.approx(half([5, 4, 3]))


def test_synthetic_label_and_nothing_to_show():
    assert NOT_COMPARABLE in sts_value_table(rows(True)).caption
    plain = sts_value_table(rows(False))
    assert NOT_COMPARABLE not in plain.caption and not plain.synthetic
    some = rows()
    assert sts_value_table(some[some["train"] == "stb[split=train]"]) is None
    one_seed = some[some["seed"] == 0]
    shown, data = line(sts_value_table(one_seed), ONE)
    assert shown["MPJPE, STS − no STS (mm)"] == "-3.0 (1 seed)" and np.isnan(data["mpjpe_mm_diff_ci95"])


def test_training_labels():
    assert training_label("stb[split=train,sequences=3]") == "STB train, first 3 sequences"
    named = training_label("stb[split=train,sequences=B2Counting+B4Random]")
    assert named == "STB train, sequences B2Counting, B4Random"
    assert training_label("h36m[split=train]") == "h36m[split=train]"


def test_shipped_experiment_covers_the_study():
    exp = load_experiment("sts_value")
    assert exp.seeds == (0, 1, 2)
    trains = {g.train: g for g in exp.groups}
    assert set(trains) == {(f"stb[split=train,sequences={n}]",) for n in (1, 3, 10)} | {(SHIFT,)}
    assert trains[(SHIFT,)].datasets == (RANDOM,)
    for group in exp.groups:
        (name_a, a), (name_b, b) = (parse_spec(m) for m in group.methods)
        assert name_a == name_b == "fhgr" and sorted([a.pop("sts", False), b.pop("sts", False)]) == [False, True]
        assert a == b  # the two arms differ only in STS
        for spec in (*group.datasets, *group.train):
            parse_dataset_spec(spec)
    quick = exp.quick_version()
    assert quick.seeds == (0,) and all("iterations=150" in m for g in quick.groups for m in g.methods)
