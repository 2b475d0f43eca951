"""Optuna sweeps of a method's loss weights (w_pm, w_3d, w_2d, w_r) and STS period on a validation split.

- Sampler: TPE seeded with ``seed * 1000 + worker`` (one worker with the same seed proposes the same trials;
  several workers on one study pass ``--worker 0``, ``1``, ... so that they do not propose the same points).
- Pruning: median pruner on the intermediate validation MPJPE, reported at every ``report_every`` iterations
  through ``MethodContext.checkpoint``.
- Storage: ``OUT/optuna.db`` (SQLite) by default, or any RDB URL (``--storage postgresql://...``, with the installed
  driver: ``bench.run.tracking.database_url``): every ``hmrbench sweep`` process given the same study name and storage
  works on the same study, on one machine or many. On a database server each worker's running trial has a
  heartbeat (``heartbeat`` seconds, default 60): a trial whose worker died is marked FAIL by the next worker to
  start a trial once it has missed two heartbeats, never left RUNNING. The database lost mid-sweep is one
  ``ConfigError`` naming the URL and the trials this worker finished (each finished trial is committed when it
  ends, so none is lost).
- Progress: a line per trial started, and per trial finished, pruned or failed.
- Data: every set is loaded with the data seed (``data_seed``, default 0), apart from the training seed (``seed``),
  as in ``bench.run.runner``.
- Validation: the last subject (sorted) of the first training set that has more than one (with 3D ground truth) is
  held out of training and scored (``bench.run.validation.holdout``, the runner's split too); or ``validation``
  names a set. Never the test split unless the user names it.
- Tracking: one MLflow parent run per study (``sweep <study>``), one child run per trial with its parameters, the
  intermediate validation MPJPE as a metric history and its final state.
- Output (``OUT/sweeps/<study>/``): ``best.toml`` (the best config: the method spec to paste into ``-m``, the
  swept values, the study's summary and ``synthetic`` / ``synthetic_parts``), ``sweep.json`` (for reports, with the
  same two keys) and the plots: optimisation history,
  parameter importances (once two trials are complete) and parallel coordinates. Their value axis is the
  validation MPJPE in mm (``TARGET``); their title names the study and the validation set and, when any part of
  the validation score is synthetic (``bench.run.results.data_labels``: data, body model, 2D), says SYNTHETIC
  with those parts (``plot_title``).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.errors import ConfigError
from bench.files import atomic_write
from bench.method import MethodContext, config_hash, format_spec, parse_spec
from bench.run.results import synthetic_parts
from bench.run.tracking import database_url, file_lock
from bench.run.validation import holdout, spread

__all__ = ["SPACE", "TARGET", "SweepResult", "check_sweep", "holdout", "plot_title", "resolve_storage", "sweep"]

HEARTBEAT_SECONDS = 60.0  # a trial on a database server: its worker is dead after two missed heartbeats

# name -> (kind, low, high, log scale); the paper's values: w_pm 20, w_3d 60, w_2d 6, w_r 0.5, STS every 5
SPACE: dict[str, tuple[str, float, float, bool]] = {
    "w_pm": ("float", 1.0, 100.0, True), "w_3d": ("float", 5.0, 300.0, True), "w_2d": ("float", 0.5, 50.0, True),
    "w_r": ("float", 0.05, 5.0, True), "sts_period": ("int", 1, 10, False),
}  # fmt: skip


@dataclass
class SweepResult:
    study: str
    storage: str
    method: str
    best_value: float
    best_params: dict[str, Any]
    best_spec: str
    n_trials: int  # in the study, all workers
    ran_here: list[int] = field(default_factory=list)  # trial numbers this process ran
    files: dict[str, Path] = field(default_factory=dict)


def resolve_storage(out: str | os.PathLike, storage: str | None = None) -> str:
    """``storage`` with the installed PostgreSQL driver (``bench.run.tracking.database_url``), else SQLite under out."""
    return database_url(storage) if storage else f"sqlite:///{(Path(out).resolve() / 'optuna.db').as_posix()}"


def _space(method: str) -> dict[str, tuple[str, float, float, bool]]:
    from bench.registry import check_method_spec

    entry, _ = check_method_spec(method)
    space = {k: v for k, v in SPACE.items() if k in entry.params}
    if not space:
        raise ConfigError(f"sweep: method {method!r} has none of the swept parameters ({', '.join(SPACE)})")
    return space


def _atomic_text(path: Path, text: str) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text))


TARGET = "validation MPJPE (mm)"  # what a trial's value is: the plots' axis, in place of Optuna's "Objective Value"


def plot_title(study: str, validation: str, labels: Mapping[str, Any] | None) -> str:
    """The line(s) above each sweep plot: the study, the validation set its values are scored on and, when any part
    of that score is synthetic (``labels``: ``bench.run.results.data_labels`` of the validation set), 'SYNTHETIC'
    with the parts, in the words of the report's figures."""
    lines = [f"study {study}: {TARGET} on {validation}"]
    if labels is not None and labels.get("synthetic"):
        parts = synthetic_parts([{**labels, "synthetic": "True"}])
        lines.append(f"SYNTHETIC{' (' + ', '.join(parts) + ')' if parts else ''}: not comparable with the paper")
    return "\n".join(lines)


def _plots(study: Any, folder: Path, title: str) -> dict[str, Path]:
    """Optimisation history, parameter importances and parallel coordinates as PNG (skipped when the study has
    too few complete trials for one of them); the value axis says ``TARGET``, each figure carries ``title``
    (``plot_title``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import optuna
    from optuna.visualization import matplotlib as ovm

    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    makers = {"history": ovm.plot_optimization_history, "parallel_coordinates": ovm.plot_parallel_coordinate}
    if len(complete) >= 2:
        makers["importances"] = ovm.plot_param_importances
    files = {}
    for name, make in makers.items():
        if not complete:
            break
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # optuna's ExperimentalWarning for the matplotlib backend
            try:
                ax = make(study, target_name=TARGET)
            except (ValueError, RuntimeError, ZeroDivisionError):  # e.g. importances of a constant objective
                continue
        fig = (ax.flat[0] if hasattr(ax, "flat") else ax).figure
        fig.set_size_inches(8, 5.5)
        fig.suptitle(title, fontsize=10, color="firebrick" if "SYNTHETIC" in title else "black")
        fig.tight_layout()
        files[name] = atomic_write(folder / f"{name}.png", lambda tmp, fig=fig: fig.savefig(tmp, format="png", dpi=100))
        plt.close(fig)
    return files


def check_sweep(method: str, *, trials: int, train: Sequence[str], validation: str | None, val_limit: int,
                iterations: int | None, report_every: int | None, device: str, data_root: Any) -> None:  # fmt: skip
    """Everything ``sweep`` would fail on before its first trial, checked before anything is written: the method
    spec and its swept parameters, the set specs and their data, the counts (>= 1) and the device."""
    from bench.run.runner import check_sources
    from bench.run.units import check_at_least_one, check_device, parse_dataset_spec

    check_at_least_one("sweep: --trials", trials)
    check_at_least_one("sweep: --val-limit", val_limit)
    check_at_least_one("sweep: --iterations", iterations, optional=True)
    check_at_least_one("sweep: --report-every", report_every, optional=True)
    _space(method)
    sets = [*train, *([validation] if validation else [])]
    for spec in sets:
        parse_dataset_spec(spec)
    check_device(device)
    check_sources(sets, data_root)


def sweep(
    method: str,
    *,
    trials: int,
    out: str | os.PathLike,
    study: str | None = None,
    storage: str | None = None,
    train: Sequence[str] = ("h36m[split=train]",),
    validation: str | None = None,
    val_limit: int = 256,
    iterations: int | None = None,
    report_every: int | None = None,
    seed: int = 0,
    data_seed: int = 0,
    worker: int = 0,
    device: str = "cpu",
    data_root: Any = None,
    tracker: Any = None,
    progress: Callable[[str], None] | None = None,
    heartbeat: float = HEARTBEAT_SECONDS,
) -> SweepResult:
    """Run ``trials`` trials of a study of ``method`` (a spec; its own values are the fixed part) and write the
    best config and the plots (module docstring). ``iterations`` overrides the method's training length. ``seed``
    is the training seed (and the sampler's), ``data_seed`` the one every set is loaded with (``bench.run.runner``)."""
    import optuna

    from bench.body.body_model import resolve_model
    from bench.run.evaluate import evaluate
    from bench.run.results import data_labels
    from bench.run.units import body_model_label, build_method, load_dataset_spec

    check_sweep(method, trials=trials, train=train, validation=validation, val_limit=val_limit,
                iterations=iterations, report_every=report_every, device=device, data_root=data_root)  # fmt: skip
    name, base = parse_spec(method)
    space = _space(method)
    if iterations is not None:
        base["iterations"] = iterations
    from bench.registry import get_method

    total = int(base.get("iterations", get_method(name).params.get("iterations", 0)))
    report_every = max(1, report_every or total // 5)
    base["log_every"] = report_every
    say = progress or (lambda message: None)
    train_sets = {spec: load_dataset_spec(spec, data_root=data_root, seed=data_seed) for spec in train}
    if validation:
        val, val_text = load_dataset_spec(validation, data_root=data_root, seed=data_seed, limit=val_limit), validation
    else:
        train_sets, val, val_text = holdout(train_sets)
        val = spread(val, val_limit)
    labels = data_labels(val, body_model_label(resolve_model(None)))  # what is synthetic in a trial's value
    described = {"method": format_spec(name, base), "train": list(train), "val": val_text, "seed": seed,
                 # sweeps once loaded their sets with the training seed: a study on those same sets keeps its name
                 **({"data_seed": data_seed} if data_seed != seed else {})}  # fmt: skip
    study_name = study or f"{name}-{config_hash(described)[:8]}"
    storage_url = resolve_storage(out, storage)
    local = storage_url.startswith("sqlite:///")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        with file_lock(storage_url[len("sqlite:///") :] + ".lock") if local else contextlib.nullcontext():
            the_study = optuna.create_study(
                study_name=study_name, storage=_storage(storage_url, heartbeat, say), direction="minimize",
                load_if_exists=True,
                sampler=optuna.samplers.TPESampler(seed=seed * 1000 + worker),
                pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=0),
            )  # fmt: skip
    except Exception as exc:  # noqa: BLE001  (bad URL, unreachable database: name it)
        raise ConfigError(f"sweep: optuna storage {storage_url}: {type(exc).__name__}: {exc}") from None
    say(f"sweep: study {study_name!r} in {storage_url}; {len(the_study.trials)} trial(s) there already; "
        f"validation: {val_text}, {len(val)} samples; {trials} trial(s) here (worker {worker})")  # fmt: skip
    parent = None
    if tracker is not None:
        from bench.run.tracking import environment_tags

        parent = tracker.parent(config_hash({"study": study_name, "storage": storage_url}), f"sweep {study_name}",
                                {"method": method, "train": ",".join(train), "validation": val_text,
                                 "data_seed": data_seed,
                                 "storage": storage_url, "space": json.dumps(space)},
                                {**environment_tags(device), "hmrbench.experiment": "sweep",
                                 "optuna.study": study_name})  # fmt: skip
    ran: list[int] = []

    def objective(trial: optuna.Trial) -> float:
        values = {}
        for key, (kind, low, high, log) in space.items():
            values[key] = (trial.suggest_int(key, int(low), int(high)) if kind == "int"
                           else trial.suggest_float(key, low, high, log=log))  # fmt: skip
        spec = format_spec(name, {**base, **values})
        run_id = None
        if tracker is not None:
            run_id = tracker.start(f"trial {trial.number}", {"optuna.study": study_name,
                                   "optuna.trial": str(trial.number), "hmrbench.experiment": "sweep"},
                                   {"method": spec, **values}, parent=parent, kind="trial")  # fmt: skip
        ran.append(trial.number)
        start = time.perf_counter()
        say(f"trial {trial.number}: started, " + ", ".join(f"{k}={v:.3g}" for k, v in values.items()))

        def score(method_obj: Any) -> float:
            mm = evaluate(method_obj, val, batch_size=256, device=device).summary()["mpjpe_mm"]
            return mm if math.isfinite(mm) else float("inf")

        holder: dict[str, Any] = {}

        def checkpoint(iteration: int) -> None:
            value = score(holder["method"])
            trial.report(value, iteration)
            if run_id is not None:
                tracker.log_metrics(run_id, {"val_mpjpe_mm": value}, step=iteration)
            if trial.should_prune():
                raise optuna.TrialPruned(f"validation MPJPE {value:.1f} mm at iteration {iteration}")

        try:
            holder["method"] = build_method(spec, MethodContext(device=device, seed=seed, checkpoint=checkpoint))
            holder["method"].fit(train_sets)
            value = score(holder["method"])
        except optuna.TrialPruned as exc:
            say(f"trial {trial.number}: pruned ({exc}) after {time.perf_counter() - start:.0f} s")
            if run_id is not None:
                tracker.set_tags(run_id, {"optuna.state": "PRUNED"})
                tracker.end(run_id, "FINISHED")
            raise
        except Exception as exc:
            say(f"trial {trial.number}: failed ({type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0]})")
            if run_id is not None:
                tracker.end(run_id, "FAILED", f"{type(exc).__name__}: {exc}")
            raise
        if run_id is not None:
            tracker.log_metrics(run_id, {"val_mpjpe_mm": value}, step=total)
            tracker.set_tags(run_id, {"optuna.state": "COMPLETE"})
            tracker.end(run_id, "FINISHED")
        shown = ", ".join(f"{k}={v:.3g}" for k, v in values.items())
        say(f"trial {trial.number}: {shown} -> validation MPJPE {value:.1f} mm ({time.perf_counter() - start:.0f} s)")
        return value

    finished: list[int] = []
    try:
        with _database_errors(storage_url, finished):
            the_study.optimize(objective, n_trials=trials, catch=(RuntimeError, ValueError, ArithmeticError),
                               callbacks=[lambda _study, trial: finished.append(trial.number)])  # fmt: skip
            if parent is not None:
                tracker.end(parent, "FINISHED")
            return _write_outputs(the_study, name, base, method, storage_url, Path(out), ran, val_text, labels)
    finally:
        optuna.logging.get_logger("optuna").removeFilter(_QUIET_STORAGE)


def _storage(url: str, heartbeat: float, say: Callable[[str], None]) -> Any:
    """SQLite as a URL (Optuna opens it); a database server as an ``RDBStorage`` with a heartbeat on each running
    trial, and a line said for each trial of a dead worker marked FAIL."""
    import optuna

    if url.startswith("sqlite:"):
        return url

    every = max(1, round(heartbeat))

    def failed(_study: Any, trial: Any) -> None:
        say(f"trial {trial.number}: marked FAIL, its worker stopped (no heartbeat for {2 * every} s)")

    import inspect

    # optuna >= 4.9 names the callback heartbeat_stale_trial_callback (failed_trial_callback is deprecated)
    named = ("heartbeat_stale_trial_callback" if "heartbeat_stale_trial_callback"
             in inspect.signature(optuna.storages.RDBStorage).parameters else "failed_trial_callback")  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RDBStorage(url, heartbeat_interval=every, grace_period=2 * every, **{named: failed})


class _QuietStorage:
    """A logging filter dropping Optuna's per-trial warning (with its traceback) when the database failed: the
    ``ConfigError`` of ``_database_errors`` says it in one line."""

    def filter(self, record: Any) -> bool:
        return "OperationalError" not in record.getMessage() and "DBAPIError" not in record.getMessage()


_QUIET_STORAGE = _QuietStorage()


@contextlib.contextmanager
def _database_errors(url: str, finished: list[int]) -> Any:
    """The storage's database lost mid-sweep (SQLAlchemy's errors, and the ``UnboundLocalError`` Optuna raises
    after one) as one ``ConfigError`` naming the URL and the trials this worker finished (kept in the study)."""
    import optuna

    optuna.logging.get_logger("optuna").addFilter(_QUIET_STORAGE)
    try:
        yield
    except Exception as exc:  # noqa: BLE001
        cause = _database_cause(exc)
        if cause is None:
            raise
        first = (str(cause).strip().splitlines() or [""])[0]
        kept = f"trial(s) {', '.join(map(str, finished))} finished here, kept" if finished else "none finished here"
        raise ConfigError(f"sweep: optuna storage {url} failed: {type(cause).__name__}: {first}; {kept}; "
                          "start the database again and rerun the same command to go on") from None  # fmt: skip


def _database_cause(exc: BaseException) -> BaseException | None:
    """The SQLAlchemy error ``exc`` is, or came from, else None."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if type(exc).__module__.startswith("sqlalchemy"):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def _write_outputs(study: Any, name: str, base: dict, method: str, storage_url: str, out: Path, ran: list[int],
                   val_text: str, labels: Mapping[str, Any]) -> SweepResult:  # fmt: skip

    folder = out / "sweeps" / study.study_name
    folder.mkdir(parents=True, exist_ok=True)
    with file_lock(folder / ".lock"):  # workers finishing together write one after the other
        return _write_locked(study, name, base, method, storage_url, folder, ran, val_text, labels)


def _write_locked(study: Any, name: str, base: dict, method: str, storage_url: str, folder: Path, ran: list[int],
                  val_text: str, labels: Mapping[str, Any]) -> SweepResult:  # fmt: skip
    import optuna

    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        raise ConfigError(f"sweep: study {study.study_name!r} has no complete trial yet (all pruned or failed); "
                          "run more trials")  # fmt: skip
    best = study.best_trial
    # log_every only paced the validation during the sweep: not part of the config to reuse
    spec = format_spec(name, {**{k: v for k, v in base.items() if k != "log_every"}, **best.params})
    states = {s.name: sum(t.state == s for t in study.trials) for s in optuna.trial.TrialState}
    synthetic = bool(labels.get("synthetic"))
    parts = synthetic_parts([{**labels, "synthetic": "True"}]) if synthetic else []
    warning = [f"# SYNTHETIC ({', '.join(parts) or 'data'}): the validation score is not comparable with the paper"]
    lines = [f"# best trial of the Optuna study {study.study_name!r} ({storage_url})", *(warning if synthetic else []),
             f"# validation: {val_text}; swept from {method!r}", f"# use it as: hmrbench run -m '{spec}' -d ...",
             f'method = "{spec}"', f"validation_mpjpe_mm = {best.value:.3f}", f"trial = {best.number}",
             f"trials = {len(study.trials)}", f"synthetic = {str(synthetic).lower()}",
             f"synthetic_parts = {json.dumps(parts)}", "", "[params]",
             *(f"{k} = {v!r}" if isinstance(v, int) else f"{k} = {v:.6g}" for k, v in best.params.items())]  # fmt: skip
    files = {"best_config": _atomic_text(folder / "best.toml", "\n".join(lines) + "\n")}
    files.update(_plots(study, folder, plot_title(study.study_name, val_text, labels)))
    summary = {"name": study.study_name, "method": method, "best_value": best.value, "best_spec": spec,
               "n_trials": len(study.trials), "states": {k: v for k, v in states.items() if v},
               "best_config": str(files["best_config"]), "storage": storage_url, "validation": val_text,
               "synthetic": synthetic, "synthetic_parts": parts,
               "plots": [str(p) for k, p in files.items() if k != "best_config"]}  # fmt: skip
    files["summary"] = _atomic_text(folder / "sweep.json", json.dumps(summary, indent=2))
    return SweepResult(study=study.study_name, storage=storage_url, method=method, best_value=best.value,
                       best_params=dict(best.params), best_spec=spec, n_trials=len(study.trials), ran_here=ran,
                       files=files)  # fmt: skip
