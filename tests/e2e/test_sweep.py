"""End to end: `hmrbench sweep` - two worker processes sharing one SQLite study (no trial lost or duplicated,
one MLflow child run per trial), the best config, the plots (the value in mm, the validation set, the synthetic
label: their texts read back as they are saved), and its errors."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import optuna
import pytest

from bench.cli import main
from bench.run.sweep import TARGET, _plots, _write_outputs, plot_title, resolve_storage
from bench.run.tracking import Tracker, database_url, resolve_tracking_uri

TINY = "proposed[hidden=32,rank=16,gcn_hidden=8,face_hidden=8,sts_pool=64,pretrain_iterations=2]"


def test_two_workers_share_one_study_without_losing_or_duplicating_trials(root, tmp_path):
    out = tmp_path / "out"
    base = [sys.executable, "-m", "bench", "sweep", TINY, "--iterations", "8", "--trials", "2", "--val-limit", "16",
            "--study", "shared", "--data-root", str(root), "--out", str(out)]  # fmt: skip
    procs = [subprocess.Popen([*base, "--worker", str(w)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for w in (0, 1)]  # fmt: skip
    outputs = [p.communicate(timeout=300) for p in procs]
    for p, (_stdout, stderr) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, stderr
    study = optuna.load_study(study_name="shared", storage=f"sqlite:///{out / 'optuna.db'}")
    numbers = [t.number for t in study.trials]
    assert sorted(numbers) == list(range(4))  # 2 + 2: none lost, none counted twice
    assert all(t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED) for t in study.trials)
    params = [tuple(sorted(t.params.items())) for t in study.trials]
    assert len(set(params)) == 4  # the two workers' samplers did not propose the same points
    # each trial is one MLflow child run, under the study's parent run(s)
    tracker = Tracker(out).connect()
    runs = tracker.client.search_runs([tracker.experiment_id], "tags.`hmrbench.kind` = 'trial'", max_results=100)
    assert sorted(int(r.data.tags["optuna.trial"]) for r in runs) == list(range(4))
    assert all(r.info.status == "FINISHED" and "val_mpjpe_mm" in r.data.metrics for r in runs)
    best = tomllib.loads((out / "sweeps" / "shared" / "best.toml").read_text())
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert best["validation_mpjpe_mm"] == pytest.approx(min(t.value for t in complete), abs=1e-3)
    assert set(best["params"]) == {"w_pm", "w_3d", "w_2d", "w_r", "sts_period"}
    assert best["method"].startswith("proposed[") and f"w_pm={study.best_trial.params['w_pm']}" in best["method"]
    assert "log_every" not in best["method"]  # it paced the sweep's validation; not part of the config to reuse
    assert (out / "sweeps" / "shared" / "history.png").stat().st_size > 1000


@pytest.mark.parametrize(
    "installed, given, opened",
    [
        ({"psycopg2"}, "postgresql://u@h:5432/db", "postgresql+psycopg2://u@h:5432/db"),  # SQLAlchemy 2.1: psycopg 3
        ({"psycopg", "psycopg2"}, "postgresql://u@h/db", "postgresql://u@h/db"),  # psycopg 3 there: as given
        (set(), "postgresql://u@h/db", "postgresql://u@h/db"),  # no driver: SQLAlchemy's own error names it
        ({"psycopg2"}, "postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),  # a driver named: kept
        ({"psycopg2"}, "sqlite:///x.db", "sqlite:///x.db"),
    ],
)
def test_a_postgresql_url_is_opened_with_the_installed_driver(monkeypatch, tmp_path, installed, given, opened):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: object() if name in installed else None if name.startswith("psycopg")
                        else real(name, *a))  # fmt: skip
    assert database_url(given) == opened
    assert resolve_storage(tmp_path, given) == opened  # --storage
    assert resolve_tracking_uri(tmp_path, given) == opened  # --tracking-uri / $MLFLOW_TRACKING_URI


@pytest.fixture
def saved_figures(monkeypatch):
    """Every text of each figure matplotlib saves (by file stem): read back before it becomes pixels."""
    from matplotlib.figure import Figure
    from matplotlib.text import Text

    saved: dict[str, dict[str, object]] = {}
    real = Figure.savefig

    def savefig(fig, fname, *args, **kwargs):
        stem = Path(fname).name.split(".")[0]  # atomic_write saves to a temporary name beside the file
        saved[stem] = {"suptitle": fig._suptitle.get_text() if fig._suptitle else "",
                       "texts": [t.get_text() for t in fig.findobj(Text) if t.get_text()],
                       "ylabels": [ax.get_ylabel() for ax in fig.axes]}  # fmt: skip
        return real(fig, fname, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", savefig)
    return saved


def test_each_trial_says_when_it_starts_and_the_plots_say_what_they_show(root, tmp_path, capsys, saved_figures):
    assert main(["sweep", TINY, "--iterations", "4", "--trials", "1", "--val-limit", "8", "--data-root", str(root),
                 "--out", str(tmp_path), "--study", "labelled"]) == 0  # fmt: skip
    err = capsys.readouterr().err.splitlines()
    started = next(i for i, line in enumerate(err) if line.startswith("trial 0: started, w_pm="))
    assert any(line.startswith("trial 0: ") and "validation MPJPE" in line for line in err[started + 1 :])
    # the plots: the value is the validation MPJPE in mm on the held-out subject, and the synthetic tiny root says so
    assert set(saved_figures) == {"history", "parallel_coordinates"}  # importances need two complete trials
    held_out = next(line for line in err if "validation: subject" in line).split("validation: ")[1].split(", ")[0]
    for name, fig in saved_figures.items():
        assert fig["suptitle"].startswith(f"study labelled: validation MPJPE (mm) on {held_out}"), name
        assert "SYNTHETIC (data, body model (embedded), 2D (simulated)): not comparable" in fig["suptitle"], name
        assert not any("Objective Value" in text for text in fig["texts"]), name
    assert "validation MPJPE (mm)" in saved_figures["history"]["ylabels"]
    assert "validation MPJPE (mm)" in saved_figures["parallel_coordinates"]["texts"]  # the value axis, colour bar


@pytest.mark.parametrize("synthetic", [True, False])
def test_sweep_plots_name_the_value_and_label_a_synthetic_validation_set(tmp_path, saved_figures, synthetic):
    """All three plots (importances too) on a study of three trials: the value axis in mm, the validation set in the
    title, 'SYNTHETIC' there only when a part of the validation score is synthetic (``data_labels``)."""
    labels = {"synthetic": synthetic, "data": "synthetic" if synthetic else "real",
              "body_model": "smplx", "keypoints2d": "detections"}  # fmt: skip
    study = optuna.create_study(study_name="plots", sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(lambda t: 50 + t.suggest_float("w_pm", 1, 100) + t.suggest_int("sts_period", 1, 10), n_trials=3)
    files = _plots(study, tmp_path, plot_title("plots", "h36m[split=val]", labels))
    assert set(files) == set(saved_figures) == {"history", "parallel_coordinates", "importances"}
    assert all(path.stat().st_size > 1000 for path in files.values())
    for name, fig in saved_figures.items():
        assert fig["suptitle"].startswith("study plots: validation MPJPE (mm) on h36m[split=val]"), name
        assert ("SYNTHETIC (data): not comparable with the paper" in fig["suptitle"]) is synthetic, name
        assert not any("Objective Value" in text for text in fig["texts"]), name
        assert TARGET in fig["texts"], name  # history: the y axis; parallel coordinates: its axis; importances: legend
    # the best config and the summary say it too, so a pasted best.toml does not lose the label
    result = _write_outputs(study, "proposed", {}, "proposed", "sqlite://", tmp_path / "out", [0, 1, 2],
                            "h36m[split=val]", labels)  # fmt: skip
    text = result.files["best_config"].read_text()
    best, summary = tomllib.loads(text), json.loads(result.files["summary"].read_text())
    assert best["synthetic"] is summary["synthetic"] is synthetic
    assert best["synthetic_parts"] == summary["synthetic_parts"] == (["data"] if synthetic else [])
    assert ("# SYNTHETIC (data): the validation score is not comparable" in text) is synthetic


def test_the_same_seed_proposes_the_same_trials(root, tmp_path, capsys):
    argv = ["sweep", TINY, "--iterations", "10", "--trials", "2", "--val-limit", "8", "--data-root", str(root)]
    assert main([*argv, "--out", str(tmp_path / "a")]) == 0
    a = capsys.readouterr().err
    assert main([*argv, "--out", str(tmp_path / "b")]) == 0
    b = capsys.readouterr().err
    trials = lambda text: [line.split(" (")[0] for line in text.splitlines() if line.startswith("trial ")]  # noqa: E731
    assert trials(a) == trials(b) and len(trials(a)) == 4  # each trial started, then finished or pruned


@pytest.mark.parametrize(
    "argv, message",
    [
        (["smplifyx"], "has none of the swept parameters"),
        (["nope"], "unknown method 'nope'"),
        ([TINY, "--trials", "0"], "--trials must be >= 1"),
        ([TINY, "--validation", "h36m[split=nope]"], "nope"),
        ([TINY, "--storage", "notadb://x"], "optuna storage notadb://x"),
    ],
)
def test_sweep_errors(root, tmp_path, capsys, argv, message):
    assert main(["sweep", *argv, "--iterations", "2", "--data-root", str(root), "--out", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err
