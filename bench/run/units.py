"""One unit of work and what every unit shares, wherever it runs (``bench.run.runner`` for training and scoring,
``bench.run.runtime`` for timing, ``bench.run.executors`` for tasks on a cluster): the ``Results`` a unit returns, the
``UnitCall`` that describes it as a task, its keys (``training_key``, ``unit_key``), loading its sets
(``load_dataset_spec``, with a small cache for a worker's next unit), building its method, checking the device, and
tracking it (``tracked_unit``: taken from the store when finished earlier, else a child run that ends FINISHED,
FAILED or KILLED; a finished unit whose logging fails keeps its rows under ``fallback_results_folder()``).
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import tempfile
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.body.body_model import ModelSource, resolve_model
from bench.errors import ConfigError, TrackingError
from bench.method import MethodContext, config_hash, parse_spec, predict_config, training_config
from bench.registry import check_dataset_settings, create_method, load_dataset
from bench.run.results import ROW_FIELDS, SAMPLE_FIELDS, write_table
from bench.samples import SampleSet

__all__ = ["Results", "UnitCall", "body_model_label", "build_method", "check_at_least_one", "check_device",
           "collapsed_flag", "fallback_results_folder", "fit_summary_path", "jsonable", "keep_loaded_sets",
           "limit_index", "load_dataset_spec", "parse_dataset_spec", "rescue_folders", "tracked_unit", "training_key",
           "unit_key"]


@dataclass(frozen=True)
class UnitCall:
    """One unit as a task: ``bench.run.runner.run`` (``kind`` 'run') or ``bench.run.runtime.runtime`` ('runtime') with
    these keyword arguments and one method; ``name`` says it in progress lines; ``experiment``: the hmrbench
    experiment it belongs to."""

    kind: str
    name: str
    experiment: str
    kwargs: dict[str, Any]


@dataclass
class Results:
    """What a run returns: tidy rows (``bench.run.results.ROW_FIELDS``), per-sample error columns (one dict of
    arrays per scored set), and the units that failed as (unit name, error text)."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    samples: list[dict[str, Any]] = field(default_factory=list)
    predictions: dict[str, np.ndarray] = field(default_factory=dict)  # one unit's, for its artifact (not extended)
    fit_summary: dict[str, Any] = field(default_factory=dict)  # one unit's method fit summary (not extended)
    failures: list[tuple[str, str]] = field(default_factory=list)
    untracked: list[tuple[str, str]] = field(default_factory=list)  # finished, not in the store: (unit, what/where)
    redone: int = 0
    reused: int = 0

    def extend(self, other: Results) -> None:
        self.rows += other.rows
        self.samples += other.samples
        self.failures += other.failures
        self.untracked += other.untracked
        self.redone += other.redone
        self.reused += other.reused


def parse_dataset_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``'h36m[protocol=p2]'`` -> ('h36m', {'protocol': 'p2'}), the name registered and the setting names known
    (ConfigError otherwise); nothing is loaded."""
    try:
        name, settings = parse_spec(spec)
    except ValueError as exc:
        raise ConfigError(str(exc).replace("method spec", "dataset spec")) from None
    check_dataset_settings(name, settings)
    return name, settings


def limit_index(n: int, limit: int | None) -> np.ndarray:
    """Positions of the samples ``--limit`` keeps of a set of ``n``: ``limit`` evenly spaced (all when ``limit`` is
    None, not positive or not below ``n``)."""
    if limit is None or not 0 < limit < n:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, limit).round().astype(int))


_LOADED: dict[tuple, SampleSet] | None = None  # sets kept by keep_loaded_sets (a Dask worker's), newest last


_KEEP = 8


def keep_loaded_sets(keep: bool = True) -> None:
    """Keep the last few sets ``load_dataset_spec`` loaded (by spec, data root, seed and limit) and give them again
    instead of loading them anew: a Dask worker does one unit per task, and the units of a group share their sets."""
    global _LOADED
    if not keep:
        _LOADED = None
    elif _LOADED is None:
        _LOADED = {}


def load_dataset_spec(spec: str, *, data_root: Any = None, seed: int = 0, limit: int | None = None) -> SampleSet:
    """``'h36m[protocol=p2,split=test]'`` -> that SampleSet; ``limit`` keeps that many samples evenly spaced over
    the set (every view and sequence stays represented), and says so in ``info['protocol']``."""
    key = (spec, str(data_root), seed, limit)
    if _LOADED is not None and key in _LOADED:
        return _LOADED[key]
    samples = _load_dataset_spec(spec, data_root=data_root, seed=seed, limit=limit)
    if _LOADED is not None:
        _LOADED[key] = samples
        while len(_LOADED) > _KEEP:
            _LOADED.pop(next(iter(_LOADED)))
    return samples


def _load_dataset_spec(spec: str, *, data_root: Any, seed: int, limit: int | None) -> SampleSet:
    name, settings = parse_dataset_spec(spec)
    samples = load_dataset(name, data_root=data_root, seed=seed, **settings)
    if limit is not None and 0 < limit < len(samples):
        keep = limit_index(len(samples), limit)
        total = len(samples)
        samples = samples.subset(keep)
        samples.info["protocol"] = f"{samples.info.get('protocol', '')}; limit={len(keep)} of {total} (evenly spaced)"
    return samples


def _describe(sets: dict[str, SampleSet]) -> dict[str, list]:
    """What a key records of each set: spec -> [source, synthetic or not, size]."""
    return {spec: [str(s.info.get("source", "")), bool(s.info.get("synthetic", False)), len(s)]
            for spec, s in sorted(sets.items())}  # fmt: skip


def training_key(method: Any, train_sets: dict[str, SampleSet], seed: int, model_path: Any = None,
                 stopping: Mapping[str, Any] | None = None) -> str:  # fmt: skip
    """Hash of everything a trained model depends on: the method's resolved config without its predict-only
    settings (``bench.method.training_config``: a bf16 prediction uses the fp32-trained model), the seed, the
    training sets (spec, source, synthetic or not, size), the body model file (its sha256) and the training-length
    rule it was trained under (``stopping``: ``bench.run.validation.StoppingRule.key_part``; None, the rule off or a
    method without a training length, leaves the key as it was before the rule existed)."""
    described = {
        "family": getattr(method, "family", getattr(method, "name", "")), "config": training_config(method),
        "seed": seed,
        "train": _describe(train_sets),
        "body_model": resolve_model(model_path).sha256,  # the file's hash, without building the model again
    }  # fmt: skip
    if stopping is not None:
        described["stopping"] = dict(stopping)
    return config_hash(described)


def unit_key(experiment: str, method: Any, seed: int, train_sets: dict[str, SampleSet],
             eval_sets: dict[str, SampleSet], limit: int | None, batch_size: int, device: str,
             model_path: Any = None, data_seed: int = 0,
             stopping: Mapping[str, Any] | None = None) -> str:  # fmt: skip
    """Hash of everything a unit's rows depend on (module docstring); ``stopping`` as in ``training_key``. The
    method's predict-only settings that differ from their defaults (``bench.method.predict_config``, e.g.
    ``precision=bf16``) are part of it; at their defaults the key is the one from before they existed."""
    predict = predict_config(method)
    return config_hash({
        "experiment": experiment, "training": training_key(method, train_sets, seed, model_path, stopping),
        "data_seed": data_seed, "eval": _describe(eval_sets), "limit": limit, "batch_size": batch_size,
        "device": str(device), **({"predict": predict} if predict else {}),
    })  # fmt: skip


def build_method(spec: str, context: MethodContext) -> Any:
    try:
        return create_method(spec, context)
    except (TypeError, ValueError) as exc:  # a factory's own check of a value (e.g. projection=xyz)
        raise ConfigError(f"method {spec!r}: {exc}") from None


def check_device(device: str) -> str:
    """``device`` when this machine can run on it: ``cpu`` or ``cuda[:N]`` with CUDA available and GPU ``N``
    present; otherwise a ConfigError naming the value (a name torch does not know, e.g. ``gpu``, included)."""
    import torch

    try:
        parsed = torch.device(str(device))
    except (RuntimeError, ValueError):
        raise ConfigError(f"device {device!r}: not a device name; use cpu or cuda[:N]") from None
    if parsed.type == "cpu":
        return str(device)
    if parsed.type != "cuda":
        raise ConfigError(f"device {device!r}: only cpu and cuda[:N] are supported")
    if not torch.cuda.is_available():
        raise ConfigError(f"device {device!r}: CUDA is not available here (torch {torch.__version__}); use cpu")
    if parsed.index is not None and parsed.index >= torch.cuda.device_count():
        raise ConfigError(f"device {device!r}: this machine has {torch.cuda.device_count()} GPU(s) "
                          f"(cuda:0 to cuda:{torch.cuda.device_count() - 1})")  # fmt: skip
    return str(device)


def check_at_least_one(name: str, value: Any, *, optional: bool = False) -> None:
    """ConfigError naming ``name`` unless ``value`` is an integer >= 1 (or None when ``optional``): a limit or a
    batch size of 0 or less is never used as "everything"."""
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ConfigError(f"{name} must be >= 1 (an integer{', or left out' if optional else ''}), got {value!r}")


def _metrics(rows: list[dict[str, Any]]) -> dict[str, float]:
    """MLflow metric names for rows: metric/dataset[/view/V | /group/G | /distance/B]."""
    out = {}
    for r in rows:
        where = next((f"/{k}/{r[k]}" for k in ("view", "group", "bin") if r[k] != "all"), "")
        out[f"{r['metric']}/{r['dataset']}{where.replace('/bin/', '/distance/')}"] = r["value"]
    return out


def jsonable(value: Any) -> Any:
    """``value`` with numpy / torch scalars and arrays as plain numbers and lists, NaN as None (JSON has no NaN),
    anything else unknown as its text."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "tolist"):  # numpy / torch
        return jsonable(value.tolist())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return str(value)


def body_model_label(model: ModelSource) -> str:
    """A result's ``body_model`` label: 'embedded' (hmrbench's procedurally generated model) or 'smplx'."""
    return "embedded" if model.synthetic else "smplx"


def fit_summary_path(model_path: str | Path) -> Path:
    """Where the fit summary of the cached model ``model_path`` is kept: ``<model>.fit.json`` beside it."""
    return Path(model_path).with_suffix(".fit.json")


def collapsed_flag(summary: dict[str, Any] | None) -> bool | str:
    """The method's ``collapsed`` flag from its fit summary as a bool; ``''`` when the summary has none."""
    value = (summary or {}).get("collapsed", "")
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if value in ("", None):
        return ""
    raise ConfigError(f"fit summary: 'collapsed' must be true or false, got {value!r}")


def tracked_unit(
    tracker: Any,
    key: str,
    name: str,
    work: Callable[[], tuple[Results, list[tuple[Path, str]]]],
    *,
    tags: dict[str, str],
    params: dict[str, Any],
    parent: str | None,
    force: bool,
    say: Callable[[str], None],
) -> Results:
    """Do one unit ``work()`` (its results and the files to keep as artifacts, with their folder), tracked: taken
    from the store when a FINISHED run of ``key`` is there (unless ``force``), else a child run of ``parent``
    that ends FINISHED, FAILED (the error recorded, returned in ``failures``: the caller goes on) or KILLED.

    A store that stops answering (``tracker.lost``: a server down after its retries, a disk turned read-only) does
    not stop the run: the unit whose logging failed, and every unit after it, is done untracked, its rows and
    per-sample errors saved beside the output (``rescue_folders``) and returned in ``untracked`` with where they
    are, so the caller can say which units are not in the store."""
    run_id = None
    if tracker is not None and tracker.lost is None:
        try:
            done = None if force else tracker.finished_unit(key)
            if done is not None:
                rows, samples = tracker.load_tables([done])
                say(f"{name}: finished earlier (MLflow run {done}); not redone (--force redoes it)")
                return Results(rows=rows.to_dict("records"), reused=1,
                               samples=[{k: samples[k].to_numpy() for k in samples.columns}] if len(samples) else [])
            if tracker.mark_abandoned(key):
                say(f"{name}: an earlier attempt stopped before it finished (marked KILLED); redoing it")
            run_id = tracker.start(name, {**tags, "hmrbench.unit": key}, params, parent=parent)
        except TrackingError as exc:
            if tracker.lost is None:  # not the store going away (e.g. a damaged run): stop, as before
                raise
            say(f"{name}: {exc}; this unit and the next ones run untracked, their rows kept locally")
            run_id = None
    elif tracker is not None:
        say(f"{name}: runs untracked (the tracking store stopped answering earlier); its rows are kept locally")
    unit = None
    try:
        unit, files = work()
        unit.redone = 1
        if run_id is not None:
            _log_unit(tracker, run_id, unit, files)
        elif tracker is not None:  # the store was lost before this unit started
            unit.untracked.append((name, _rescue_rows(unit, name, key, tracker)))
        return unit
    except KeyboardInterrupt:
        if run_id is not None:
            with contextlib.suppress(TrackingError):
                tracker.end(run_id, "KILLED", "interrupted (Ctrl-C)")
        raise
    except TrackingError as exc:
        if unit is None or tracker.lost is None:
            raise
        where = _rescue_rows(unit, name, key, tracker)
        say(f"{name}: finished, but not logged ({exc}); {where}")
        unit.untracked.append((name, where))
        return unit
    except Exception as exc:  # noqa: BLE001  (one unit's failure is recorded; the others go on)
        text = f"{type(exc).__name__}: {exc}"
        say(f"{name}: FAILED: {text}")
        if run_id is not None:
            with contextlib.suppress(TrackingError):  # a lost store: the failure is still returned
                tracker.end(run_id, "FAILED", traceback.format_exc()[-4000:])
        return Results(failures=[(name, text)])


def fallback_results_folder() -> Path:
    """Where a finished unit's rows go when neither the store nor the output folder can take them:
    ``<temp>/hmrbench-results``."""
    return Path(tempfile.gettempdir()) / "hmrbench-results"


def rescue_folders(tracker: Any) -> list[Path]:
    """Where the rows of a unit the store could not take are saved, in order of preference: ``OUT/untracked``
    (beside the rows file), then ``fallback_results_folder()``."""
    out = getattr(tracker, "out", None)
    return ([Path(out) / "untracked"] if out is not None else []) + [fallback_results_folder()]


def _rescue_rows(unit: Results, name: str, key: str, tracker: Any = None) -> str:
    """Save the rows (and per-sample errors) of a unit that finished but could not be logged in the first of
    ``rescue_folders`` that takes them; returns what to tell the user (where they are, or that they are lost)."""
    stem = f"{re.sub(r'[^A-Za-z0-9._-]+', '_', name)[:80]}-{key[:12]}"
    failed = []
    for folder in rescue_folders(tracker):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            write_table(unit.rows, ROW_FIELDS, folder / f"{stem}.rows.csv")
            if unit.samples:
                merged = {k: np.concatenate([np.asarray(s[k]) for s in unit.samples]) for k in SAMPLE_FIELDS}
                write_table(merged, SAMPLE_FIELDS, folder / f"{stem}.per_sample.csv.gz")
        except OSError as exc:
            failed.append(f"{folder}: {exc.strerror or exc}")
            continue
        return f"the unit finished: its rows were saved to {folder / f'{stem}.rows.csv'}"
    return f"the unit's results could not be saved anywhere ({'; '.join(failed)})"


def _log_unit(tracker: Any, run_id: str, unit: Results, files: list[tuple[Path, str]]) -> None:
    """Metrics, the training curves (step metrics ``train/<term>``: ``Tracker.log_curve``), rows, per-sample
    errors, the fit summary and other files (e.g. the model weights) of a finished unit, its ``collapsed`` tag when
    the method reports one; then the run is FINISHED."""
    tracker.log_metrics(run_id, _metrics(unit.rows))
    summary = unit.fit_summary or {}
    tracker.log_curve(run_id, summary.get("history") or [])  # the training curves, as step metrics
    pretrain = summary.get("pretrain")
    if isinstance(pretrain, dict):
        tracker.log_curve(run_id, pretrain.get("history") or [], prefix="pretrain/")
    collapsed = collapsed_flag(unit.fit_summary)
    if collapsed != "":
        tracker.set_tags(run_id, {"collapsed": str(collapsed).lower()})
    with tempfile.TemporaryDirectory() as tmp:
        tables = [write_table(unit.rows, ROW_FIELDS, Path(tmp) / "rows.csv")]
        if unit.samples:
            merged = {k: np.concatenate([np.asarray(s[k]) for s in unit.samples]) for k in SAMPLE_FIELDS}
            tables.append(write_table(merged, SAMPLE_FIELDS, Path(tmp) / "per_sample.csv.gz"))
        if unit.fit_summary:
            summary_file = Path(tmp) / "fit_summary.json"
            summary_file.write_text(json.dumps(jsonable(unit.fit_summary), indent=1))
            tables.append(summary_file)
        if unit.predictions:  # predicted joints in each set's skeleton, camera frame, metres (key: dataset spec)
            np.savez_compressed(Path(tmp) / "predictions.npz", **unit.predictions)
            tables.append(Path(tmp) / "predictions.npz")
        tracker.log_files(run_id, tables)
    for path, folder in files:
        if Path(path).is_file():
            tracker.log_files(run_id, [path], folder)
    tracker.end(run_id, "FINISHED")
