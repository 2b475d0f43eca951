"""The claims table (reports.claims) from constructed rows and per-sample errors with known effects: each verdict,
the interval's basis (bodies with one seed, seeds with several), pairing by sample identity, and the report's
Claims files and HTML section."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _report_rows import make_row

from reports import build_report
from reports.claims import MIN_CLOSE, claims_table, verdict
from reports.labels import NOT_COMPARABLE
from reports.rows import validate_per_sample, validate_rows
from reports.stats import Interval

D2S, WPP, PP = "proposed[projection=d2s]", "proposed[projection=wpp]", "proposed[projection=pp]"
VIEWS = ("00_03", "00_16")


def _unit(variant: str, dataset: str, seed: int, experiment: str) -> str:
    return f"{experiment}:{variant}:{dataset}:{seed}"


def _rows(variants, dataset="panoptic", seeds=(0,), experiment="table1", value=50.0, **fields) -> list[dict]:
    """Overall MPJPE and PA-MPJPE rows of each variant and seed (the values do not matter where per-sample errors
    are given; they are the effect where they are not)."""
    return [make_row(v, dataset, s, metric, value, unit=_unit(v, dataset, s, experiment), experiment=experiment,
                     **fields)
            for v in variants for s in seeds for metric in ("mpjpe_mm", "pa_mpjpe_mm")]  # fmt: skip


def _samples(variant, errors, *, seed=0, dataset="panoptic", experiment="table1", ids=None, distance=3.0,
             method="proposed") -> list[dict]:  # fmt: skip
    """Per-sample errors of one unit; sample ``i`` is body ``i // 2`` seen from view ``i % 2`` unless ``ids``
    names the samples (one per error); ``distance``: one value or one per error."""
    errors = np.asarray(errors, dtype=float)
    ids = list(range(len(errors))) if ids is None else list(ids)
    distance = np.broadcast_to(np.asarray(distance, dtype=float), errors.shape)
    return [{
        "unit": _unit(variant, dataset, seed, experiment), "experiment": experiment, "method": method,
        "variant": variant, "dataset": dataset, "seed": seed, "index": position,
        "sample_id": f"S1|seq|act|{i // 2}|{VIEWS[i % 2]}|0", "body_id": f"S1|seq|act|{i // 2}|0",
        "view": VIEWS[i % 2], "distance_m": distance[position], "mpjpe_mm": error, "pa_mpjpe_mm": error / 2,
        "failed": False,
    } for position, (i, error) in enumerate(zip(ids, errors, strict=True))]  # fmt: skip


def _table(rows: list[dict], samples: list[dict] | None = None, synthetic: bool = True):
    frame = validate_rows(pd.DataFrame(rows))
    per_sample = validate_per_sample(pd.DataFrame(samples)) if samples else None
    return claims_table(frame, per_sample, synthetic=synthetic)


def _line(table, claim: int, measured: str = "", metric: str = "MPJPE") -> dict:
    """The one data line of claim number ``claim`` whose 'measured as' holds ``measured``, for ``metric``."""
    data = table.data
    hits = data[(data["claim"] == claim) & data["measured_as"].str.contains(measured, regex=False)
                & (data["metric"] == metric)]  # fmt: skip
    assert len(hits) == 1, hits
    return hits.iloc[0].to_dict()


def _panoptic(shift: float, *, seeds=(0,), bodies: int = 40, noise: float = 1.0) -> tuple[list, list]:
    """D2S and WPP on Panoptic: WPP's error is D2S's plus ``shift`` plus noise, per sample (2 views per body)."""
    rng = np.random.default_rng(7)
    samples = []
    for seed in seeds:
        base = rng.uniform(40.0, 80.0, 2 * bodies)
        samples += _samples(D2S, base, seed=seed)
        samples += _samples(WPP, base + shift + rng.normal(0.0, noise, 2 * bodies), seed=seed)
    return _rows((D2S, WPP), seeds=seeds), samples


# ---------------------------------------------------------------------------------------------------- verdicts


@pytest.mark.parametrize(("low", "high", "lower", "expected"), [
    (-3.0, -1.0, True, "supported"), (1.0, 3.0, True, "not supported"), (-1.0, 1.0, True, "inconclusive"),
    (1.0, 3.0, False, "supported"), (-3.0, -1.0, False, "not supported"),
])  # fmt: skip
def test_verdict_reads_the_interval_against_the_claimed_direction(low, high, lower, expected):
    assert verdict(Interval((low + high) / 2, low, high, 3, "seeds"), lower=lower)[0] == expected


def test_verdict_without_interval_or_value():
    nan = float("nan")
    assert verdict(Interval(-2.0, nan, nan, 1, "seeds"), lower=True) == ("inconclusive", "no interval: only 1 seed")
    assert verdict(None, lower=True)[0] == "not measured"
    assert verdict(Interval(150.0, 120.0, 180.0, 3, "seeds"), lower=False, null=100.0)[0] == "supported"
    assert verdict(Interval(150.0, 90.0, 180.0, 3, "seeds"), lower=False, null=100.0)[0] == "inconclusive"


def test_d2s_lower_error_is_supported_over_bodies_with_one_seed():
    rows, samples = _panoptic(+5.0)
    line = _line(_table(rows, samples), 1, WPP)
    assert line["verdict"] == "supported"
    assert line["effect"] == pytest.approx(-5.0, abs=0.5)
    assert line["ci_low"] < -5.0 < line["ci_high"] < 0.0
    assert (line["basis"], line["basis_n"], line["n"]) == ("bodies", 40, "80 pairs")


def test_d2s_higher_error_is_not_supported():
    rows, samples = _panoptic(-5.0)
    line = _line(_table(rows, samples), 1, WPP, "PA-MPJPE")
    assert line["verdict"] == "not supported" and line["ci_low"] > 0.0


def test_an_interval_including_zero_is_inconclusive():
    rows, samples = _panoptic(0.0, noise=4.0)
    line = _line(_table(rows, samples), 1, WPP)
    assert line["verdict"] == "inconclusive" and line["ci_low"] < 0.0 < line["ci_high"]
    assert "includes 0" in line["why"]


def test_basis_switches_from_bodies_to_seeds_with_three_seeds():
    """Two seeds stay on the body bootstrap (the paired table's rule: a seed-level interval needs 3); three give the
    Student t interval over the per-seed effects."""
    rows, samples = _panoptic(+5.0, seeds=(0, 1))
    assert _line(_table(rows, samples), 1, WPP)["basis"] == "bodies"
    rows, samples = _panoptic(+5.0, seeds=(0, 1, 2))
    frame = pd.DataFrame(samples)
    per_seed = []
    for seed in (0, 1, 2):
        mine = frame[frame["seed"] == seed]
        d2s = mine[mine["variant"] == D2S].set_index("sample_id")["mpjpe_mm"]
        wpp = mine[mine["variant"] == WPP].set_index("sample_id")["mpjpe_mm"]
        per_seed.append((d2s - wpp).mean())
    line = _line(_table(rows, samples), 1, WPP)
    assert (line["basis"], line["basis_n"], line["n"]) == ("seeds", 3, "80 pairs per seed")
    assert line["effect"] == pytest.approx(np.mean(per_seed))
    half = 4.303 * np.std(per_seed, ddof=1) / np.sqrt(3)  # t_{0.975, 2}
    assert line["ci_high"] - line["effect"] == pytest.approx(half, rel=1e-3)


def test_pairs_by_sample_id_only_on_samples_both_scored():
    # D2S scored samples 0-59, WPP samples 20-79 (another limit, another order); per sample WPP = D2S + 3 mm, and
    # the error varies strongly from sample to sample, so pairing by position would not give -3
    base = {i: 40.0 + 7.0 * (i % 11) + i for i in range(80)}
    d2s_ids, wpp_ids = list(range(60)), list(range(79, 19, -1))
    samples = _samples(D2S, [base[i] for i in d2s_ids], ids=d2s_ids)
    samples += _samples(WPP, [base[i] + 3.0 for i in wpp_ids], ids=wpp_ids)
    line = _line(_table(_rows((D2S, WPP)), samples), 1, WPP)
    assert line["effect"] == pytest.approx(-3.0) and line["n"] == "40 pairs"
    assert (line["ci_low"], line["ci_high"], line["verdict"]) == (pytest.approx(-3.0), pytest.approx(-3.0), "supported")


# ---------------------------------------------------------------------------------------------------- claims 2-6


def _distance_study(close: int, far: int = 60, *, close_gain: float = 6.0, far_gain: float = 1.0) -> tuple:
    """The distance study on Panoptic: D2S - WPP is -close_gain on ``close`` samples under 2 m and -far_gain on
    ``far`` samples beyond (plus noise)."""
    rng = np.random.default_rng(3)
    n = close + far
    distance = np.r_[np.linspace(0.6, 1.9, close), np.linspace(2.1, 6.0, far)]
    base = rng.uniform(40.0, 80.0, n)
    gain = np.r_[np.full(close, close_gain), np.full(far, far_gain)]
    samples = _samples(D2S, base, experiment="distance", distance=distance)
    samples += _samples(WPP, base + gain + rng.normal(0.0, 0.5, n), experiment="distance", distance=distance)
    return _rows((D2S, WPP), experiment="distance"), samples


def test_close_range_advantage_is_measured_with_close_and_far_counts():
    rows, samples = _distance_study(close=40)
    line = _line(_table(rows, samples), 2, WPP)
    assert line["effect"] == pytest.approx(-5.0, abs=0.5)  # (-6) - (-1)
    assert line["verdict"] == "supported" and line["n"] == "40 close / 60 far pairs"


def test_close_range_names_the_sets_without_close_shots():
    rows, samples = _distance_study(close=40)
    h36m = dict(dataset="h36m[protocol=p1]", experiment="distance", distance=4.0)
    samples += _samples(D2S, np.full(20, 60.0), **h36m) + _samples(WPP, np.full(20, 61.0), **h36m)
    rows += _rows((D2S, WPP), dataset="h36m[protocol=p1]", experiment="distance")
    table = _table(rows, samples)
    line = _line(table, 2, "on panoptic")
    assert line["verdict"] == "supported" and "no sample under 2 m in h36m[protocol=p1]" in line["why"]
    assert len(table.data[(table.data["claim"] == 2) & table.data["measured_as"].str.contains("h36m")]) == 0


def test_close_range_with_too_few_close_samples_is_inconclusive():
    rows, samples = _distance_study(close=MIN_CLOSE - 10)
    line = _line(_table(rows, samples), 2, WPP)
    assert line["verdict"] == "inconclusive"
    assert f"{MIN_CLOSE - 10} < {MIN_CLOSE}" in line["why"]


def test_close_range_without_any_close_sample_says_so():
    rows, samples = _distance_study(close=0)
    line = _line(_table(rows, samples), 2, "WPP")
    assert line["verdict"] == "inconclusive" and "no sample under 2 m in panoptic" in line["why"]


def _stability_rows(pp_collapsed: tuple[str, ...], pp_mpjpe=(60.0, 61.0, 90.0)) -> list[dict]:
    rows = []
    for seed in range(3):
        rows += _rows((D2S,), seeds=(seed,), value=50.0 + 0.5 * seed, collapsed="false")
        rows += _rows((PP,), seeds=(seed,), value=pp_mpjpe[seed], collapsed=pp_collapsed[seed])
    return rows


def test_pp_collapsing_on_every_seed_supports_the_stability_claim():
    line = _line(_table(_stability_rows(("true", "true", "true"))), 3, "collapsed", "share of runs")
    assert line["verdict"] == "supported" and line["effect"] == 1.0
    assert line["n"] == "PP 3/3, D2S 0/3 collapsed"


def test_one_pp_collapse_in_three_seeds_is_inconclusive():
    table = _table(_stability_rows(("true", "false", "false"), pp_mpjpe=(60.0, 61.0, 63.0)))
    assert _line(table, 3, "collapsed", "share of runs")["verdict"] == "inconclusive"
    spread = _line(table, 3, "SD of MPJPE")  # SD ratio 1.53 / 0.5 = 3.1, but k = 3: F(2, 2) bounds are wide
    assert spread["effect"] == pytest.approx(np.std([60.0, 61.0, 63.0], ddof=1) / 0.5)
    assert spread["ci_low"] < 1.0 < spread["effect"] and spread["verdict"] == "inconclusive"


def test_a_much_larger_pp_spread_over_three_seeds_is_supported():
    spread = _line(_table(_stability_rows(("", "", ""), pp_mpjpe=(60.0, 61.0, 90.0))), 3, "SD of MPJPE")
    ratio = np.std([60.0, 61.0, 90.0], ddof=1) / 0.5
    assert spread["ci_low"] == pytest.approx(ratio / np.sqrt(39.0), rel=1e-6)  # F_{0.975}(2, 2) = 39
    assert spread["verdict"] == "supported"


def test_collapse_interval_is_newcombes_hybrid_score_interval():
    from reports.claims import _rate_difference

    # Newcombe (1998), Statistics in Medicine 17:873, Table II example (a): 56/70 - 48/80, method 10
    interval = _rate_difference(56, 70, 48, 80)
    assert (interval.mean, interval.low, interval.high) == pytest.approx((0.2, 0.0524, 0.3339), abs=1e-4)


def test_collapse_without_flags_is_not_measured():
    rows = _stability_rows(("", "", ""))
    assert _line(_table(rows), 3, "collapsed", "share of runs")["verdict"] == "not measured"


def test_sts_gain_on_stb_is_supported():
    rng = np.random.default_rng(5)
    base = rng.uniform(10.0, 30.0, 60)
    fhgr = dict(dataset="stb", experiment="table3", method="fhgr")
    samples = _samples("fhgr", base, **fhgr) + _samples("fhgr[sts=true]", base - 2.0 + rng.normal(0, .3, 60), **fhgr)
    rows = _rows(("fhgr", "fhgr[sts=true]", "fhgr[input=gt2d,sts=true]"), dataset="stb", experiment="table3",
                 method="fhgr", train="stb[split=train]")  # fmt: skip
    table = _table(rows, samples)
    lines = table.data[table.data["claim"] == 4]
    assert len(lines) == 1  # the gt2d variant has no counterpart without STS
    line = lines.iloc[0]
    assert line["verdict"] == "supported" and line["effect"] == pytest.approx(-2.0, abs=0.2)
    assert "trained on stb[split=train] (table3)" in line["measured_as"]


def _runtime(fit_seconds: tuple[float, ...], ours_seconds: tuple[float, ...]) -> list[dict]:
    rows = []
    for variant, seconds in (("smplifyx", fit_seconds), (D2S, ours_seconds)):
        for seed, value in enumerate(seconds):
            rows.append(make_row(variant, "h36m[protocol=p1]", seed, "seconds_per_image", value, batch=1,
                                 experiment="table4", unit=f"rt:{variant}:{seed}"))  # fmt: skip
    return rows


def test_speed_from_single_medians_is_a_point_verdict():
    table = _table(_runtime((30.0,), (0.02,)))
    line = _line(table, 5, "seconds per image", "speed-up, batch 1")
    assert line["effect"] == pytest.approx(1500.0) and np.isnan(line["ci_low"])
    assert line["verdict"] == "supported" and "single median per method, no interval" in line["why"]
    slow = _line(_table(_runtime((1.0,), (0.02,))), 5, "seconds per image", "speed-up, batch 1")
    assert slow["verdict"] == "not supported"  # 50x < 100x


def test_speed_over_repeated_timings_has_an_interval_over_seeds():
    line = _line(_table(_runtime((30.0, 31.0, 29.0), (0.02, 0.021, 0.019))), 5, "seconds", "speed-up, batch 1")
    assert line["basis"] == "seeds" and line["basis_n"] == 3
    assert 100.0 < line["ci_low"] < 1500.0 < line["ci_high"] and line["verdict"] == "supported"


def test_smplifyx_is_paired_on_its_subset_only():
    rng = np.random.default_rng(9)
    base = rng.uniform(50.0, 90.0, 100)
    h36m = dict(dataset="h36m[protocol=p1]", experiment="table2")
    samples = _samples(D2S, base, **h36m)
    subset = list(range(0, 100, 4))  # SMPLify-X scored every fourth sample only
    samples += _samples("smplifyx", base[subset] * 2 + 20.0, ids=subset, method="smplifyx", **h36m)
    rows = _rows((D2S,), **h36m) + _rows(("smplifyx",), method="smplifyx", **h36m)
    line = _line(_table(rows, samples), 6, "smplifyx", "PA-MPJPE")
    assert line["n"] == "25 pairs"
    assert line["effect"] == pytest.approx(-(base[subset] / 2 + 10.0).mean())  # PA-MPJPE is half the MPJPE here
    assert line["verdict"] == "supported"


def test_without_per_sample_errors_rows_give_seed_means():
    rows = _rows((D2S,), seeds=(0, 1), value=50.0) + _rows((WPP,), seeds=(0, 1), value=54.0)
    line = _line(_table(rows), 1, WPP)
    assert line["effect"] == pytest.approx(-4.0) and line["basis"] == "seeds"
    assert "not paired by sample" in line["why"]


def test_errors_without_sample_identity_fall_back_to_the_rows():
    rows = _rows((D2S,), seeds=(0, 1), value=50.0) + _rows((WPP,), seeds=(0, 1), value=54.0)
    samples = [dict(r, sample_id="", body_id="") for r in _panoptic(+1.0, seeds=(0, 1))[1]]
    table = _table(rows, samples)
    line = _line(table, 1, WPP)
    assert line["effect"] == pytest.approx(-4.0) and "not paired by sample" in line["why"]
    assert any("4 unit(s) whose per-sample errors carry no sample identity" in note for note in table.notes)


def test_claims_without_rows_are_not_measured_and_no_claim_gives_none():
    rows, samples = _panoptic(+5.0)
    table = _table(rows, samples)
    verdicts = table.data.groupby("claim")["verdict"].agg(set)
    for claim in (4, 5, 6):
        assert verdicts[claim] == {"not measured"}
    assert "not measured" in set(table.display["verdict"])
    assert _table(_rows(("lifter",), method="lifter")) is None


def test_synthetic_rows_carry_the_label_and_real_rows_do_not():
    rows, samples = _panoptic(+5.0)
    assert NOT_COMPARABLE in _table(rows, samples).caption
    real = [dict(r, synthetic=False) for r in rows]
    table = _table(real, samples, synthetic=False)
    assert NOT_COMPARABLE not in table.caption and not table.synthetic


def test_report_writes_claims_files_and_a_claims_section_first(tmp_path):
    rows, samples = _panoptic(+5.0)
    written = build_report(pd.DataFrame(rows), tmp_path, per_sample=pd.DataFrame(samples))
    assert {"claims.md", "claims.tex", "claims.csv"} <= set(written)
    markdown = written["claims.md"].read_text(encoding="utf-8")
    assert "D2S beats WPP and PP on Panoptic" in markdown and NOT_COMPARABLE in markdown
    page = written["index.html"].read_text(encoding="utf-8")
    assert '<h2 id="claims">Claims</h2>' in page
    assert page.index('id="claims"') < page.index('id="settings"') < page.index('id="tables"')
    assert 'class="verdict-supported"' in page and 'href="claims.csv"' in page
    csv = pd.read_csv(written["claims.csv"])
    assert {"effect", "ci_low", "ci_high", "basis", "verdict", "synthetic"} <= set(csv.columns)


def test_report_without_measurable_claims_says_so(tmp_path):
    written = build_report(pd.DataFrame(_rows(("lifter",), method="lifter")), tmp_path)
    assert "claims.md" not in written
    assert "No claim could be measured" in written["index.html"].read_text(encoding="utf-8")
