"""Paired comparisons: units pair by sample identity (never by position), the verdict is over training seeds, per
sample intervals resample bodies, and the null check (one variant against itself with another seed) holds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bench.errors import ConfigError
from bench.run.results import SAMPLE_FIELDS, sample_ids
from bench.run.units import limit_index
from reports.paired import compare, null_check, paired_table
from reports.rows import validate_per_sample

D2S, WPP, PP = "proposed[projection=d2s]", "proposed[projection=wpp]", "proposed[projection=pp]"
VIEWS = ("54138969", "55011271", "58860488", "60457274")
FRAMES = 10


def _ids() -> dict[str, np.ndarray]:
    """An H36M-like set in the adapter's order: 2 subjects x FRAMES frames x 4 views (80 samples, 20 bodies)."""
    rows = [(s, f, v) for s in ("S9", "S11") for f in range(FRAMES) for v in VIEWS]
    subject, frame, view = (np.array(c) for c in zip(*rows, strict=True))
    n = len(rows)
    return {"subject": subject, "sequence": np.full(n, "Walking 1"), "action": np.full(n, "Walking"),
            "frame": frame * 5, "view": view, "person": np.zeros(n, int)}  # fmt: skip


IDS = _ids()
N = len(IDS["view"])
# per-sample difficulty, shared by every model; it grows along the set (later frames harder), as real sets drift
BASE = np.linspace(40.0, 200.0, N) + np.random.default_rng(1).normal(0.0, 10.0, N)


def _unit(variant: str, seed: int, errors: np.ndarray, *, limit: int | None = None, experiment: str = "table1",
          data_seed: int = 0, dataset: str = "h36m[protocol=p1]") -> pd.DataFrame:  # fmt: skip
    """The per-sample frame a unit scored with ``--limit limit`` writes: ``index`` is the position in the scored
    (limited) set, the identity that of the sample; ``errors``: per sample of the full set."""
    keep = limit_index(N, limit)
    sample_id, body_id = sample_ids({k: v[keep] for k, v in IDS.items()})
    frame = pd.DataFrame({
        "unit": f"{experiment}-{variant}-{seed}-{limit}", "experiment": experiment, "method": "proposed",
        "variant": variant, "dataset": dataset, "seed": seed, "data_seed": data_seed, "index": np.arange(len(keep)),
        "sample_id": sample_id, "body_id": body_id, "view": IDS["view"][keep], "distance_m": 4.0,
        "mpjpe_mm": errors[keep], "pa_mpjpe_mm": 0.5 * errors[keep], "failed": False,
    })  # fmt: skip
    return frame[list(SAMPLE_FIELDS)]


def _frames(*units: pd.DataFrame) -> pd.DataFrame:
    return validate_per_sample(pd.concat(units, ignore_index=True))


def test_units_scored_with_different_limits_pair_by_identity():
    """PP is 1 mm worse than D2S on every sample. D2S was scored twice (limit 20 under table1, 50 under table2),
    PP once (limit 50). Pairing by position (the old code) pairs different samples; by identity gives -1 exactly."""
    units = []
    for seed in (0, 1, 2):
        units += [_unit(D2S, seed, BASE, limit=20), _unit(D2S, seed, BASE, limit=50, experiment="table2"),
                  _unit(PP, seed, BASE + 1.0, limit=50, experiment="table2")]  # fmt: skip
    frames = _frames(*units)
    result = compare(frames, D2S, PP, metric="mpjpe_mm", dataset="h36m[protocol=p1]")
    assert [d for _, d, _ in result.per_seed] == pytest.approx([-1.0] * 3)
    assert [n for _, _, n in result.per_seed] == [50] * 3  # only the samples both scored
    shared = np.intersect1d(limit_index(N, 20), limit_index(N, 50))
    assert result.unpaired == 3 * (20 - len(shared))  # D2S's limit-20 samples PP never scored
    assert result.seeds.mean == pytest.approx(-1.0) and result.seeds.excludes_zero
    # the defect this replaces (the old pairing): per position in the scored set, the D2S units averaged
    means = frames[frames["seed"] == 0].groupby(["variant", "index"])["mpjpe_mm"].mean()
    by_position = (means.loc[D2S] - means.loc[PP]).dropna()
    assert len(by_position) == 50 and abs(by_position.mean() + 1.0) > 5.0


def test_other_data_seeds_and_datasets_never_pair():
    frames = _frames(_unit(D2S, 0, BASE), _unit(PP, 0, BASE + 1.0, data_seed=1),
                     _unit(PP, 0, BASE + 2.0, dataset="h36m[protocol=p2]"))  # fmt: skip
    assert compare(frames, D2S, PP, metric="mpjpe_mm", dataset="h36m[protocol=p1]") is None
    assert paired_table(frames) is None


def _seeded(variant: str, seed: int, effect: float, noise: float = 0.2) -> pd.DataFrame:
    """A unit whose errors are the shared difficulty, a per-model offset ``effect`` and per-sample noise."""
    rng = np.random.default_rng(100 + seed + 1000 * hash(variant) % 7)
    return _unit(variant, seed, BASE + effect + rng.normal(0.0, noise, N))


def test_the_verdict_is_over_seeds_not_over_samples():
    """D2S - WPP flips sign from seed to seed: each seed alone is 'significant' over bodies, over seeds it is not;
    a consistent difference is."""
    flips = {0: 2.0, 1: -1.5, 2: 0.8}
    frames = _frames(*[_seeded(D2S, s, 0.0) for s in flips], *[_seeded(WPP, s, -e) for s, e in flips.items()],
                     *[_seeded(PP, s, 3.0 + 0.3 * s) for s in flips])  # fmt: skip
    for seed in flips:  # one seed at a time, the body-clustered interval excludes 0 every time
        single = compare(frames[frames["seed"] == seed], D2S, WPP, metric="mpjpe_mm", dataset="h36m[protocol=p1]")
        assert single.bodies.excludes_zero and single.bodies.basis == "bodies" and single.bodies.n == 2 * FRAMES
        assert not single.seeds.has_interval  # one seed: no interval over seeds
    wpp = compare(frames, D2S, WPP, metric="mpjpe_mm", dataset="h36m[protocol=p1]")
    assert wpp.seeds.basis == "seeds" and wpp.seeds.n == 3 and not wpp.seeds.excludes_zero
    pp = compare(frames, D2S, PP, metric="mpjpe_mm", dataset="h36m[protocol=p1]")
    assert pp.seeds.excludes_zero and pp.seeds.high < 0
    table = paired_table(frames, n_boot=200)
    keys = zip(table.data["other_variant"], table.data["metric"], table.data["comparison"], strict=True)
    verdicts = dict(zip(keys, table.display["verdict (over seeds)"], strict=True))
    assert verdicts[(WPP, "mpjpe_mm", "projection")] == "no difference shown (interval includes 0)"
    assert verdicts[(PP, "mpjpe_mm", "projection")] == "D2S lower"
    assert verdicts[(D2S, "mpjpe_mm", "null")].startswith("no interval (1 seed pair")  # 3 seeds: one disjoint pair


def test_fewer_than_three_seeds_give_no_interval():
    frames = _frames(*[_seeded(D2S, s, 0.0) for s in (0, 1)], *[_seeded(PP, s, 3.0 + s) for s in (0, 1)])
    result = compare(frames, D2S, PP, metric="pa_mpjpe_mm", dataset="h36m[protocol=p1]")
    assert result.seeds.n == 2 and not result.seeds.has_interval and np.isfinite(result.seeds.mean)
    line = paired_table(frames, n_boot=100).display.iloc[0]
    assert line["verdict (over seeds)"] == "no interval (2 seed(s); needs ≥ 3 seeds)"


def test_null_check_passes_when_seeds_differ_by_noise_only():
    """Two seeds that differ by noise only: no interval from one pair, so never 'significant'; with six seeds the
    interval over the three disjoint pairs includes 0, while the per-sample interval of one pair does not."""
    rng = np.random.default_rng(5)
    offsets = rng.normal(0.0, 2.0, 6)  # what training randomness does to one model's error
    two = _frames(*[_seeded(D2S, s, offsets[s]) for s in (0, 1)])
    check = null_check(two, D2S, metric="mpjpe_mm", dataset="h36m[protocol=p1]")
    assert check.null and check.seeds.n == 1 and not check.seeds.excludes_zero and check.bodies.excludes_zero
    six = _frames(*[_seeded(D2S, s, offsets[s]) for s in range(6)])
    check = null_check(six, D2S, metric="mpjpe_mm", dataset="h36m[protocol=p1]")
    assert [label for label, _, _ in check.per_seed] == ["0 vs 1", "2 vs 3", "4 vs 5"]
    assert check.seeds.has_interval and not check.seeds.excludes_zero


def test_null_check_is_calibrated_and_can_fail():
    """Over 50 repetitions of pure training noise the null check's interval excludes 0 about 5% of the time;
    when one half of the seeds is systematically worse, it fails and the table says so."""
    ids = sample_ids(IDS)
    rng = np.random.default_rng(11)
    false_alarms = 0
    for _ in range(50):
        values = BASE[None, :] + rng.normal(0.0, 2.0, (6, 1)) + rng.normal(0.0, 0.5, (6, N))
        frame = pd.DataFrame({"variant": D2S, "dataset": "d", "data_seed": 0, "unit": np.repeat(range(6), N),
                              "seed": np.repeat(range(6), N), "sample_id": np.tile(ids[0], 6),
                              "body_id": np.tile(ids[1], 6), "mpjpe_mm": values.ravel()})  # fmt: skip
        false_alarms += null_check(frame, D2S, metric="mpjpe_mm", dataset="d", n_boot=20).seeds.excludes_zero
    assert false_alarms <= 7  # P(X >= 8) = 0.003 for Binomial(50, 0.05)
    biased = _frames(*[_seeded(D2S, s, 5.0 * (s % 2) + 0.1 * s) for s in range(6)],
                     *[_seeded(PP, s, 1.0) for s in range(6)])  # fmt: skip
    table = paired_table(biased, n_boot=100)
    null = table.display[table.data["comparison"] == "null"]
    assert set(null["verdict (over seeds)"]) == {"FAILS: interval excludes 0"}
    assert any(note.startswith("NULL CHECK FAILED") for note in table.notes)


def test_units_written_without_identity_are_left_out_and_said_so():
    """Per-sample files from before samples carried their identity cannot be paired: such units are left out (the
    note says how many)."""
    old = _unit(WPP, 2, BASE + 3.0).drop(columns=["sample_id", "body_id", "data_seed"])
    frame = validate_per_sample(old)
    assert set(frame["sample_id"]) == {""} and set(frame["data_seed"]) == {0}
    assert paired_table(frame) is None
    new = [_seeded(v, s, e) for s in (0, 1, 2) for v, e in ((D2S, 0.0), (PP, 2.0))]
    mixed = validate_per_sample(pd.concat([*new, old.assign(seed=0)], ignore_index=True))
    table = paired_table(mixed, n_boot=50)
    assert set(table.data["other_variant"]) == {PP, D2S}  # WPP had no identity: not paired
    assert any(note.startswith("1 unit(s) whose per-sample errors were written before") for note in table.notes)
    assert compare(mixed, D2S, WPP, metric="mpjpe_mm", dataset="h36m[protocol=p1]") is None  # never one '' sample
    with pytest.raises(ConfigError, match="metric"):
        compare(mixed, D2S, PP, metric="mpjpe", dataset="h36m[protocol=p1]")


def test_the_note_says_why_samples_were_left_out_failed_or_not_scored():
    """Samples without an error are not all failures: a sample whose ground truth has no valid root joint is not
    scored by any method (the rows count it as skipped, the tables' 'failed' does not), a failed one is the method's
    failure (counted in 'failed'), and one scored by one unit only is neither. The note tells them apart."""
    not_scored, failed = np.zeros(N, bool), np.zeros(N, bool)
    not_scored[[3, 7]] = True  # no valid ground-truth root: NaN for both methods, failed for neither
    failed[11] = True  # PP failed on this one
    units = []
    for seed in (0, 1, 2):
        d2s, pp = _unit(D2S, seed, BASE), _unit(PP, seed, BASE + 1.0, limit=N - 4)
        d2s.loc[not_scored, ["mpjpe_mm", "pa_mpjpe_mm"]] = np.nan
        keep = limit_index(N, N - 4)
        pp.loc[not_scored[keep], ["mpjpe_mm", "pa_mpjpe_mm"]] = np.nan
        pp.loc[failed[keep], ["mpjpe_mm", "pa_mpjpe_mm", "failed"]] = [np.nan, np.nan, True]
        units += [d2s, pp]
    frames = _frames(*units)
    result = compare(frames, D2S, PP, metric="mpjpe_mm", dataset="h36m[protocol=p1]")
    assert (result.left_out.not_scored, result.left_out.failed, result.left_out.one_side) == (3 * 2, 3 * 1, 3 * 4)
    assert result.unpaired == 3 * 7 and [n for _, _, n in result.per_seed] == [N - 7] * 3
    note = next(n for n in paired_table(frames, n_boot=50).notes if n.startswith("Left out of the pairs"))
    assert "21 sample(s)" in note and "6 not scored although no method failed on them" in note
    assert "3 failed by a method" in note and "12 scored by one unit only" in note
    assert "non-finite" not in note
