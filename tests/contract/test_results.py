"""Tidy rows (bench/run/results.py): the overall rows agree with the evaluation's summary, every slice (view, joint
group, distance bin) is computed over the samples it names, and the per-sample table lines up with the set."""

from __future__ import annotations

import numpy as np
import pytest
from _oracle import Oracle

from bench.run.evaluate import evaluate
from bench.run.results import ROW_FIELDS, distance_bins, evaluation_rows, joint_groups, per_sample_frame


@pytest.fixture(scope="module")
def scored(tiny_sets):
    from bench.body.skeletons import get_skeleton

    s = tiny_sets["h36m"]
    s = s.subset(np.flatnonzero(s.smplx_valid))
    wrist = get_skeleton("smplx_144").joints.index("right_wrist")
    return s, evaluate(Oracle(offset=0.017, joint=wrist, fail=(1,)), s)


def _pick(rows, metric="mpjpe_mm", **where):
    want = {"view": "all", "group": "all", "bin": "all", **where}
    found = [r for r in rows if r["metric"] == metric and all(r[k] == v for k, v in want.items())]
    assert len(found) == 1, (metric, where)
    return found[0]


def test_overall_rows_match_the_summary_and_carry_the_base_fields(scored):
    s, ev = scored
    rows = evaluation_rows(ev, s, {"experiment": "x", "unit": "u", "variant": "oracle", "seed": 3})
    assert all(list(r) == list(ROW_FIELDS) for r in rows)
    summary = ev.summary()
    overall = _pick(rows)
    assert overall["value"] == pytest.approx(summary["mpjpe_mm"]) and overall["n"] == summary["n"] == len(s) - 1
    assert _pick(rows, "pa_mpjpe_mm")["value"] == pytest.approx(summary["pa_mpjpe_mm"])
    assert overall["failed"] == 1 and overall["skipped"] == 1 and overall["seed"] == 3 and overall["synthetic"]


def test_view_group_and_distance_slices(scored):
    s, ev = scored
    rows = evaluation_rows(ev, s, {})
    views = sorted(set(s.ids["view"].astype(str)))
    assert len(views) > 1 and sum(_pick(rows, view=v)["n"] for v in views) == _pick(rows)["n"]
    for v in views:
        sel = (s.ids["view"].astype(str) == v) & ev.scored
        assert _pick(rows, view=v)["value"] == pytest.approx(1000 * ev.mpjpe[sel].mean())
    # only the right wrist moved: the arms group carries the whole error, legs and torso none
    groups = joint_groups(s.skeleton)
    assert {"body", "torso", "arms", "legs"} <= set(groups)
    assert _pick(rows, group="legs")["value"] < 1e-2 and _pick(rows, group="torso")["value"] < 1e-2
    assert _pick(rows, group="arms")["value"] == pytest.approx(1000 * 0.017 / len(groups["arms"]), abs=1e-2)
    bins = distance_bins(ev.distance)
    labels = sorted(set(bins) - {""})
    assert labels and sum(_pick(rows, bin=b)["n"] for b in labels) == _pick(rows)["n"]
    lo, hi = map(float, labels[0].split("-"))
    d = ev.distance[bins == labels[0]]
    assert hi - lo == pytest.approx(0.5) and ((d >= lo - 1e-9) & (d < hi)).all()


def test_a_sample_without_a_root_is_left_out_of_both_errors(scored):
    s, ev = scored
    mp = ev.mpjpe.copy()
    mp[0] = np.nan  # root-aligned error undefined (no valid root); PA-MPJPE still finite
    from dataclasses import replace

    rows = evaluation_rows(replace(ev, mpjpe=mp), s, {})
    keep = np.isfinite(mp) & np.isfinite(ev.pa_mpjpe)
    assert _pick(rows, "pa_mpjpe_mm")["value"] == pytest.approx(1000 * ev.pa_mpjpe[keep].mean())
    assert _pick(rows, "pa_mpjpe_mm")["n"] == keep.sum()


def test_distance_bins_for_hands_are_finer_and_unknown_is_blank():
    assert list(distance_bins(np.array([0.31, 0.47, np.nan]))) == ["0.3-0.4", "0.4-0.5", ""]
    assert list(distance_bins(np.array([3.2, 4.9]))) == ["3.0-3.5", "4.5-5.0"]


def test_per_sample_table_lines_up_with_the_set(scored):
    s, ev = scored
    cols = per_sample_frame(ev, s, {"unit": "u", "dataset": "h36m"})
    assert len(cols["index"]) == len(s) and (cols["index"] == np.arange(len(s))).all()
    np.testing.assert_allclose(cols["mpjpe_mm"], 1000 * ev.mpjpe)
    assert (cols["view"] == s.ids["view"].astype(str)).all() and set(cols["unit"]) == {"u"}
    assert ev.predictions.shape == (len(s), 17, 3) and np.isfinite(ev.predictions).all()


def test_per_sample_identity_is_the_samples_own_and_survives_subsets(scored):
    """sample_id / body_id come from the set's ids, so a unit scored on a subset (another --limit) names each
    sample as a unit scored on the whole set does; body_id drops the view (the bootstrap's cluster)."""
    from bench.run.evaluate import evaluate as score
    from bench.run.results import SAMPLE_FIELDS, sample_ids
    from bench.run.units import limit_index

    s, ev = scored
    cols = per_sample_frame(ev, s, {"unit": "u", "dataset": "h36m", "data_seed": 2})
    assert list(cols) == list(SAMPLE_FIELDS) and set(cols["data_seed"]) == {2}
    assert len(set(cols["sample_id"])) == len(s)  # one identity per sample
    views = s.ids["view"].astype(str)
    for sid, bid, view in zip(cols["sample_id"], cols["body_id"], views, strict=True):
        assert sid.split("|")[4] == view and bid == "|".join(p for i, p in enumerate(sid.split("|")) if i != 4)
    if len(set(views)) > 1:
        assert len(set(cols["body_id"])) < len(s)  # the views of one body share its body_id
    keep = limit_index(len(s), 3)
    part = s.subset(keep)
    sub = per_sample_frame(score(Oracle(offset=0.017), part), part, {})
    assert list(sub["sample_id"]) == list(cols["sample_id"][keep]) and list(sub["index"]) == [0, 1, 2]
    assert list(sample_ids(part.ids)[0]) == list(sub["sample_id"])


def test_rows_carry_the_data_seed_and_the_collapse_flag(scored):
    s, ev = scored
    rows = evaluation_rows(ev, s, {"seed": 1, "data_seed": 0, "collapsed": True})
    assert {r["data_seed"] for r in rows} == {0} and {r["collapsed"] for r in rows} == {True}
    assert {r["collapsed"] for r in evaluation_rows(ev, s, {"seed": 1})} == {""}


@pytest.mark.parametrize(
    "synthetic, body_model, keypoints2d, expected",
    [
        (True, "smplx", "detections", True),  # synthetic data
        (False, "embedded", "detections", True),  # real data scored with the embedded model
        (False, "smplx", "simulated", True),  # real 3D, 2D by projection plus simulated detector noise
        (False, "smplx", "exact", True),
        (False, "smplx", None, True),  # the adapter does not say where its 2D comes from
        (False, "smplx", "detections", False),  # every part real
    ],
)
def test_what_is_synthetic_is_labelled_part_by_part(scored, synthetic, body_model, keypoints2d, expected):
    from bench.run.results import data_labels

    s, ev = scored
    s = s.subset(np.arange(len(s)))
    s.info["synthetic"] = synthetic
    s.info.pop("keypoints2d", None)
    if keypoints2d is not None:
        s.info["keypoints2d"] = keypoints2d
    labels = data_labels(s, body_model)
    assert labels == {"synthetic": expected, "data": "synthetic" if synthetic else "real", "body_model": body_model,
                      "keypoints2d": keypoints2d or "unknown"}  # fmt: skip
    rows = evaluation_rows(ev, s, {"experiment": "x", "body_model": body_model})
    assert all({k: r[k] for k in labels} == labels for r in rows)


def test_a_mistyped_2d_source_is_an_error_not_a_label(scored):
    from bench.errors import ConfigError
    from bench.run.results import data_labels

    s, _ = scored
    s = s.subset(np.arange(len(s)))
    s.info["keypoints2d"] = "detection"
    with pytest.raises(ConfigError, match="keypoints2d.*'detection'"):
        data_labels(s, "smplx")


def test_synthetic_parts_name_data_body_model_and_2d():
    from bench.run.results import synthetic_parts

    rows = [{"synthetic": True, "data": "real", "body_model": "embedded", "keypoints2d": "detections"},
            {"synthetic": True, "data": "real", "body_model": "smplx", "keypoints2d": "simulated"},
            {"synthetic": False, "data": "real", "body_model": "smplx", "keypoints2d": "detections"}]  # fmt: skip
    assert synthetic_parts(rows) == ["body model (embedded)", "2D (simulated)"]
    assert synthetic_parts(rows[2:]) == []
    assert synthetic_parts([{"synthetic": True}]) == ["data"]  # a row from before the labels: synthetic data


def test_an_empty_set_gives_skipped_rows_with_the_reason(scored):
    s, _ = scored
    empty = s.subset(np.zeros(0, dtype=int))
    ev = evaluate(Oracle(), empty)
    rows = evaluation_rows(ev, empty, {"experiment": "x"})
    assert [r["metric"] for r in rows] == ["mpjpe_mm", "pa_mpjpe_mm"]
    assert all(r["n"] == 0 and r["skip_reason"] == ev.skipped and "empty set" in r["skip_reason"] for r in rows)
