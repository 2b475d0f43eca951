"""Training length by a validation rule (``bench.run.validation``, issue 15): a run holds out a training subject,
stops a method whose validation MPJPE stops improving before its ``iterations``, keeps and scores the best weights,
reports the iterations used in the fit summary and the rows, says why a run without a held-out set trained to the
end, gives the same length twice for the same config and seed, and keys the model by the rule's settings."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from bench.cli import main
from bench.errors import ConfigError
from bench.method import MethodContext
from bench.run.evaluate import evaluate
from bench.run.experiments import load_experiment
from bench.run.runner import _fit, run, run_experiment
from bench.run.tracking import Tracker
from bench.run.units import build_method, load_dataset_spec, training_key
from bench.run.validation import DEFAULT_RULE, StoppingRule, find_holdout, parse_stopping, spread
from reports.rows import validate_rows

# STS off where a training set is given (the stream is what costs time here); batch 8
LIFTER = "lifter[iterations=40,width=16,blocks=1,log_every=5,sts=false,batch_size=8]"
STS_ONLY = "lifter[iterations=10,width=16,blocks=1,log_every=5,sts_pool=64,batch_size=4]"
TRAIN = "h36m[split=train]"
# min_delta_mm far above any change: no check after the first is an improvement, so patience 1 stops at the second
PLATEAU = StoppingRule(patience=1, min_delta_mm=1e6)


def _train_sets(root, *specs):
    return {s: load_dataset_spec(s, data_root=root, seed=0) for s in specs}


def _fit_one(spec, train_sets, rule, seed=0):
    method = build_method(spec, MethodContext(seed=seed))
    summary = _fit(method, spec, train_sets, rule, MethodContext(seed=seed), 64, lambda message: None)
    return method, summary


def test_a_plateau_stops_training_before_iterations_and_rows_say_so(root, tmp_path):
    units = []
    tracker = Tracker(tmp_path / "store").connect()
    results = run([LIFTER], ["h36m"], train=[TRAIN], data_root=root, limit=4, stopping=PLATEAU, sink=units.append,
                  tracker=tracker)  # fmt: skip
    summary = units[0].fit_summary
    assert summary["iterations"] == 40  # the maximum, as configured
    assert summary["iterations_used"] == 10 and summary["stopped"] == "patience" and summary["best_iteration"] == 5
    assert summary["validation"].startswith("subject ") and "held out of training" in summary["validation"]
    # the validation curve sits in the history (MLflow's train/val_mpjpe_mm), at each validation point
    assert [e["iteration"] for e in summary["history"]] == [5, 10]
    assert all(math.isfinite(e["val_mpjpe_mm"]) for e in summary["history"])
    assert summary["val_mpjpe_mm"] == summary["history"][0]["val_mpjpe_mm"]
    assert {r["iterations_used"] for r in results.rows} == {10}
    # the validation curve in MLflow, beside the loss, and the rule among the unit's parameters
    (unit,) = tracker.client.search_runs([tracker.experiment_id], "tags.`hmrbench.kind` = 'unit'")
    curve = tracker.client.get_metric_history(unit.info.run_id, "train/val_mpjpe_mm")
    assert sorted((m.step, m.value) for m in curve) == [(e["iteration"], e["val_mpjpe_mm"]) for e in summary["history"]]
    assert unit.data.params["stopping.patience"] == "1"
    # rows written before the column existed read it as blank
    older = pd.DataFrame(results.rows).drop(columns=["iterations_used"])
    assert set(validate_rows(older)["iterations_used"]) == {""}


def test_the_scored_model_is_the_best_checkpoint(root):
    train_sets = _train_sets(root, TRAIN)
    method, summary = _fit_one(LIFTER, train_sets, PLATEAU)
    curve = [e["val_mpjpe_mm"] for e in summary["history"]]
    assert curve[0] != curve[1]  # the last weights score differently: restoring the best is visible
    _, val, _ = find_holdout(train_sets)
    now = evaluate(method, spread(val, PLATEAU.val_limit), batch_size=64).summary()["mpjpe_mm"]
    assert now == pytest.approx(summary["val_mpjpe_mm"]) and now == pytest.approx(curve[0])


def test_without_a_held_out_set_training_runs_to_the_end_and_says_why(root):
    h36m = _train_sets(root, TRAIN)[TRAIN]
    one_subject = {"h36m S1": h36m.subset(h36m.ids["subject"].astype(str) == "S1")}
    for spec, train_sets in ((LIFTER, one_subject), (STS_ONLY, {})):  # no training set: STS alone
        _, summary = _fit_one(spec, train_sets, PLATEAU)
        assert summary["stopped"] == "no held-out set", spec
        assert summary["iterations_used"] == summary["iterations"] and summary["best_iteration"] is None
        assert summary["val_mpjpe_mm"] is None and not any("val_mpjpe_mm" in e for e in summary["history"])


def test_the_rule_off_trains_on_every_set_to_the_end(root):
    _, summary = _fit_one(LIFTER, _train_sets(root, TRAIN), StoppingRule(on=False))
    assert summary["iterations_used"] == 40 and summary["stopped"] == "off"
    assert len(summary["history"]) == 8 and not any("val_mpjpe_mm" in e for e in summary["history"])


def test_same_config_and_seed_same_length(root):
    train_sets = _train_sets(root, TRAIN)
    rule = StoppingRule(patience=2, min_delta_mm=0.0)
    first, second = (_fit_one(LIFTER, train_sets, rule, seed=3)[1] for _ in range(2))
    assert first["iterations_used"] == second["iterations_used"] and first["stopped"] == second["stopped"]
    assert [e["val_mpjpe_mm"] for e in first["history"]] == [e["val_mpjpe_mm"] for e in second["history"]]


def test_the_training_key_follows_the_rule(root):
    train_sets = _train_sets(root, TRAIN)
    lifter = build_method(LIFTER, MethodContext())
    keys = {name: training_key(lifter, train_sets, 0, None, rule.key_part(lifter))
            for name, rule in {"default": DEFAULT_RULE, "patience": StoppingRule(patience=9),
                               "delta": StoppingRule(min_delta_mm=2.0), "cap": StoppingRule(val_limit=8),
                               "off": StoppingRule(on=False)}.items()}  # fmt: skip
    assert len(set(keys.values())) == len(keys)
    assert keys["off"] == training_key(lifter, train_sets, 0)  # off: the key from before the rule
    untrained = build_method("lifter[iterations=0]", MethodContext())  # no training length: the rule is no part
    assert DEFAULT_RULE.key_part(untrained) is None


@pytest.mark.parametrize(
    "spec",
    ["proposed[iterations=20,hidden=32,rank=16,gcn_hidden=8,face_hidden=8,sts_pool=64,log_every=2,"
     "pretrain_iterations=0,sts=false]", "fhgr[iterations=20,log_every=2]",
     LIFTER.replace("log_every=5", "log_every=2")],
    ids=["proposed", "fhgr", "lifter"],
)  # fmt: skip
def test_a_true_checkpoint_stops_each_training_loop(root, spec):
    calls = []
    method = build_method(spec, MethodContext(checkpoint=lambda it: calls.append(it) or it >= 4))
    summary = method.fit(_train_sets(root, "stb[split=train]" if spec.startswith("fhgr") else TRAIN))
    assert calls == [2, 4] and [e["iteration"] for e in summary["history"]] == [2, 4]
    assert summary["iterations"] == method.config["iterations"]  # the maximum, as configured


@pytest.mark.parametrize(
    ("text", "named"),
    [("patience=0", "patience=0"), ("min_delta_mm=-1", "min_delta_mm=-1"), ("val_limit=x", "val_limit='x'"),
     ("speed=3", "'speed=3'"), ("on=maybe", "on='maybe'")],
)  # fmt: skip
def test_a_bad_rule_is_named(text, named):
    with pytest.raises(ConfigError) as exc:
        parse_stopping(text)
    assert named in str(exc.value)


def test_rule_texts():
    assert parse_stopping(None) == parse_stopping("on") == DEFAULT_RULE
    assert parse_stopping("off") == StoppingRule(on=False)
    assert parse_stopping("patience=3,min_delta_mm=0.2") == StoppingRule(patience=3, min_delta_mm=0.2)


def test_sweeps_and_runs_share_one_holdout():
    from bench.run import sweep, validation

    assert sweep.holdout is validation.holdout


def test_the_rule_comes_from_the_command_line_else_the_experiment_file(root, tmp_path):
    """``--early-stop`` (run, paper) and an experiment file's ``stopping`` / ``[quick] stopping`` set the rule; the
    command line wins over the file, and the file over the default."""
    plateau = "patience=1,min_delta_mm=1e6"
    argv = ["run", "-m", LIFTER, "-d", "h36m", "--train", TRAIN, "--limit", "4", "--data-root", str(root)]
    assert main([*argv, "--early-stop", plateau, "--out", str(tmp_path / "cli")]) == 0
    assert set(pd.read_csv(tmp_path / "cli" / "run.csv")["iterations_used"]) == {10}
    path = tmp_path / "mine.toml"
    path.write_text(f"stopping = '{plateau}'\n[[group]]\nmethods = ['{LIFTER}']\ndatasets = ['h36m']\n"
                    f"train = ['{TRAIN}']\nlimit = 4\n[quick]\nstopping = 'off'\n")  # fmt: skip
    assert load_experiment(path).stopping == plateau and load_experiment(path).quick_version().stopping == "off"
    used = lambda results: {r["iterations_used"] for r in results.rows}  # noqa: E731
    assert used(run_experiment(path, data_root=root, models=tmp_path / "m")) == {10}
    assert used(run_experiment(path, data_root=root, models=tmp_path / "m", quick=True)) == {40}
    assert used(run_experiment(path, data_root=root, models=tmp_path / "m", stopping="off")) == {40}
    argv = ["run", str(path), "--data-root", str(root), "--early-stop", "off", "--out", str(tmp_path / "file")]
    assert main(argv) == 0
    assert set(pd.read_csv(tmp_path / "file" / "mine.csv")["iterations_used"]) == {40}
