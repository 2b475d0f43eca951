"""Runs: expand methods x datasets x seeds into units, train (or load) each unit's model, score it on every
evaluation set (``bench.run.evaluate``) and return tidy rows (``bench.run.results``).

A **unit** is one method spec trained on its training sets for one seed and scored on a group's evaluation sets.
Its key (``unit_key``) hashes everything its numbers depend on: the experiment, the method's resolved config, the
seed, the data seed, the training and evaluation sets (spec, source, size), the limit and batch size, the device,
the body model and the training-length rule (below).

Two seeds, kept apart: the **training seed** (``seed``) goes to the method only (initialisation, batch order, its
synthetic stream); the **data seed** (``data_seed``, default 0) is the seed every dataset is loaded with (the
synthetic sets are generated from it). Several training seeds over one data seed score one fixed test set, so
"± over seeds" is training randomness alone; rows carry both.

The method's fit summary is kept next to its cached model (``<model>.fit.json``), so a model loaded from the cache
keeps what its training reported; its ``collapsed`` flag (``True``/``False``, when the method reports one) goes
into every row of the unit and is tagged on the unit's run (``collapsed``).

With a tracker (``bench.run.tracking``):

- a unit whose key already has a FINISHED run is not redone: its rows come from the store (``force`` redoes it);
- each unit is a child run with its params, metrics, tags and artifacts (rows, per-sample errors, predictions,
  model weights);
- a unit that raises is recorded FAILED and the others go on (``Results.failures``); an interrupted one is
  recorded KILLED, and the next invocation redoes it (models already trained are loaded from ``models``).

Checked before anything is built, loaded or written (``check_selection``, ``check_experiment``; the CLI calls them
before it creates the output folder or the tracking store): every method and dataset spec with its values, every
group of an experiment after ``--quick``'s overrides (errors name the file and the group), limits and batch sizes
(integers >= 1), the device (``check_device``) and that every set's data is there (``check_sources``).

A trained model that cannot be saved in the model cache (a full or read-only disk) is not lost: the unit is
scored with the model in memory, and the model is saved under ``fallback_model_folder()`` instead, in one line
naming the path that failed.

Units run in this process one after another, or as tasks on a Dask cluster (``executor``: a
``bench.run.executors.DaskExecutor``; ``experiment_calls`` splits an experiment into one call per unit). While a unit
trains or loads a model it holds a file lock on that training key in the model cache folder (``<model>.lock``), so
two processes never train the same key at once: the second waits, then loads what the first saved.

Training length (``stopping``, a ``bench.run.validation.StoppingRule``, default on): a method with a training length
(``iterations`` in its config) trains on its training sets less one held-out subject (``find_holdout``) and stops
once its validation MPJPE there has not improved by ``min_delta_mm`` for ``patience`` logging steps; the best
weights are the ones saved and scored, ``iterations`` is only the maximum. Its fit summary says
``iterations_used``, ``best_iteration``, ``val_mpjpe_mm`` and ``stopped`` ('patience', 'max iterations', 'no
held-out set': trained to ``iterations`` on all its sets, 'off'), its history carries the validation curve
(``train/val_mpjpe_mm`` in MLflow), and every row of the unit its ``iterations_used``. The rule's settings are
part of the training key and the unit key.

Selections are ``name[k=v,...]`` specs for methods (``bench.registry.create_method``) and datasets (the adapter's
settings, ``bench.registry.load_dataset``), e.g. ``proposed[projection=wpp]`` or ``h36m[split=train]``.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.body.body_model import resolve_model
from bench.errors import ConfigError, DataFileError
from bench.files import atomic_write
from bench.method import MethodContext, config_hash
from bench.registry import check_method_spec
from bench.run.evaluate import evaluate
from bench.run.results import data_labels, evaluation_rows, label_tags, per_sample_frame
from bench.run.runtime import check_timing, runtime
from bench.run.threads import thread_fields
from bench.run.tracking import file_lock
from bench.run.units import (
    Results,
    UnitCall,
    body_model_label,
    build_method,
    check_at_least_one,
    check_device,
    collapsed_flag,
    fit_summary_path,
    jsonable,
    load_dataset_spec,
    parse_dataset_spec,
    tracked_unit,
    training_key,
    unit_key,
)
from bench.run.validation import (
    EarlyStopping,
    StoppingRule,
    find_holdout,
    parse_stopping,
    spread,
    trainable,
    unvalidated_summary,
)
from bench.samples import SampleSet

__all__ = ["check_experiment", "check_selection", "check_sources", "experiment_calls", "fallback_model_folder",
           "run", "run_experiment", "run_experiments", "unit_calls"]


def check_sources(specs: Sequence[str], data_root: Any = None) -> None:
    """DataFileError naming the dataset and where it was looked for, unless every set of ``specs`` has its data
    (``bench.registry.dataset_source``): a missing data root or dataset folder is found before anything is
    written, not when the set is loaded."""
    from bench.registry import dataset_source

    for spec in dict.fromkeys(specs):
        name, _ = parse_dataset_spec(spec)
        where, available = dataset_source(name, data_root)
        if not available:
            raise DataFileError(f"dataset {spec!r}: no data ({where}); give a --data-root holding {name}/ "
                                "(or none, for the synthetic default where the dataset has one)")  # fmt: skip


def check_selection(methods: Sequence[str], datasets: Sequence[str], *, train: Sequence[str] = (),
                    limit: int | None = None, batch_size: int = 256) -> None:  # fmt: skip
    """Every method spec (name, parameter names and values: ``bench.registry.check_method_spec``), dataset spec
    (``parse_dataset_spec``), the limit and the batch size of one group, checked without building, loading or
    writing anything (ConfigError naming the first bad one)."""
    if not methods or not datasets:
        raise ConfigError("run: give at least one method and one dataset")
    for spec in [*datasets, *train]:
        parse_dataset_spec(spec)
    for spec in methods:
        check_method_spec(spec)
    check_at_least_one("limit", limit, optional=True)
    check_at_least_one("batch_size", batch_size)


def check_experiment(exp: Any, *, device: str = "cpu", data_root: Any = None) -> None:
    """What ``run_experiment`` would fail on before its first unit trains and ``load_experiment`` has not checked
    already (it checks every spec, limit and batch size of the file and of its ``--quick`` version): runtime
    groups' timing settings, named with the file and the group; the device; and that every set's data is there
    (``check_sources``) and, for a runtime experiment, holds at least its largest batch. Nothing is written."""
    if exp.kind == "runtime":
        for i, group in enumerate(exp.groups, 1):
            try:
                check_timing(group.batch_sizes, group.repeats)
            except ConfigError as exc:
                raise ConfigError(f"{exp.path}: [[group]] {i}: {exc}") from None
    check_device(device)
    check_sources([s for g in exp.groups for s in (*g.datasets, *g.train)], data_root)
    if exp.kind == "runtime":  # a set smaller than a batch would fail only when its group is reached
        for i, group in enumerate(exp.groups, 1):
            n = len(load_dataset_spec(group.datasets[0], data_root=data_root, seed=exp.data_seed))
            if n < max(group.batch_sizes):
                raise ConfigError(f"{exp.path}: [[group]] {i}: {group.datasets[0]} has {n} samples, fewer than the "
                                  f"batch size {max(group.batch_sizes)}")  # fmt: skip


def _fit_or_load(method: Any, spec: str, train_sets: dict[str, SampleSet], seed: int, context: MethodContext,
                 models: Any, force: bool, say: Callable[[str], None], rule: StoppingRule | None = None,
                 batch_size: int = 256) -> tuple[bool, Path | None, dict[str, Any]]:  # fmt: skip
    """Load the cached model with the same training key (unless ``force``), else train it (``_fit``, under the
    training-length ``rule``, default ``bench.run.validation.DEFAULT_RULE``) and save it atomically.
    The cache is ``models``, then ``fallback_model_folder()`` (where a model goes that ``models`` could not take:
    the next run finds it there). Returns (loaded from the cache, the model file, the fit summary: the one saved
    with a cached model, ``{}`` for a cached model saved before summaries were kept). A method that wraps a trained
    one (``method.trained``, e.g. ``gtsub`` around ``proposed``) has that one trained or loaded, under its own training
    key: the same model file as the plain method of that config and seed, never trained twice."""
    rule = parse_stopping(rule)
    method = getattr(method, "trained", method)
    path = None
    if models is not None:
        key = training_key(method, train_sets, seed, context.model_path, rule.key_part(method))
        path = Path(models) / f"{getattr(method, 'family', spec.split('[')[0])}-{key[:16]}.model"
    with _training_lock(path):
        fit = lambda: _fit(method, spec, train_sets, rule, context, batch_size, say)  # noqa: E731
        return _fit_or_load_locked(method, spec, fit, path, force, say)


def _fit(method: Any, spec: str, train_sets: dict[str, SampleSet], rule: StoppingRule, context: MethodContext,
         batch_size: int, say: Callable[[str], None]) -> dict[str, Any]:  # fmt: skip
    """Train ``method`` under the training-length ``rule`` (module docstring) and return its fit summary with the
    rule's report; a method without a training length trains as it always did."""
    if not trainable(method):
        return _summary(method.fit(train_sets))
    if not rule.on:
        return unvalidated_summary(_summary(method.fit(train_sets)), rule, "off")
    found = find_holdout(train_sets)
    if found is None:
        say(f"{spec}: no held-out set (no training set with two subjects and 3D ground truth): trains to iterations "
            f"({dict(method.config)['iterations']}) without validation")  # fmt: skip
        return unvalidated_summary(_summary(method.fit(train_sets)), rule, "no held-out set")
    rest, val, text = found
    val = spread(val, rule.val_limit)
    most = dict(method.config)["iterations"]
    say(f"{spec}: validation on {text}, {len(val)} samples; stops after {rule.patience} checks without an "
        f"improvement of {rule.min_delta_mm:g} mm (at most {most} iterations)")  # fmt: skip
    owner = getattr(method, "context", context)  # the context the method calls back through
    previous = owner.checkpoint
    with EarlyStopping(method, val, rule, device=context.device, batch_size=batch_size, say=say) as stopper:
        owner.checkpoint = stopper
        try:
            fitted = method.fit(rest)
        finally:
            owner.checkpoint = previous
        summary = stopper.finish(_summary(fitted), text)
    say(f"{spec}: trained {summary['iterations_used']} iterations ({summary['stopped']}); best validation MPJPE "
        f"{summary['val_mpjpe_mm'] if summary['val_mpjpe_mm'] is not None else float('nan'):.1f} mm at iteration "
        f"{summary['best_iteration']} (those weights kept)")  # fmt: skip
    return summary


def _summary(fitted: Any) -> dict[str, Any]:
    """A fit's return value as a JSON-able dict (``{'summary': value}`` for a non-dict, ``{}`` for None)."""
    return jsonable(fitted if isinstance(fitted, dict) else {"summary": fitted} if fitted is not None else {})


@contextlib.contextmanager
def _training_lock(path: Path | None) -> Any:
    """Hold ``<model>.lock`` beside the cached model ``path`` (no lock without a model cache, or where the folder
    cannot take the lock file: a model cannot be shared through it either)."""
    stack = contextlib.ExitStack()
    if path is not None:
        try:
            stack.enter_context(file_lock(path.with_name(f"{path.name}.lock")))
        except OSError:
            pass
    with stack:
        yield


def _fit_or_load_locked(method: Any, spec: str, fit: Callable[[], dict[str, Any]], path: Path | None, force: bool,
                        say: Callable[[str], None]) -> tuple[bool, Path | None, dict[str, Any]]:  # fmt: skip
    if path is not None and not force:
        found = next((p for p in (path, fallback_model_folder() / path.name) if p.is_file()), None)
        if found is not None:
            method.load(found)
            say(f"{spec}: loaded the trained model {found} (same training key; --force retrains)")
            kept = fit_summary_path(found)
            summary = json.loads(kept.read_text()) if kept.is_file() else {}
            return True, found, summary
    summary = fit()
    if path is not None:
        try:
            _save_model(method, summary, path)
        except OSError as exc:  # a full or read-only disk must not lose the training: the model is still in memory
            path = _save_elsewhere(method, summary, path, exc, f"{spec}: ", say)
    return False, path, summary


def _save_model(method: Any, summary: dict[str, Any], path: Path) -> None:
    # the summary first: a model file never exists without its summary once both are written
    atomic_write(fit_summary_path(path), lambda tmp: Path(tmp).write_text(json.dumps(summary, indent=1)))
    atomic_write(path, method.save)  # an interrupted save never looks finished


def fallback_model_folder() -> Path:
    """Where a trained model goes when the model cache cannot be written: ``<temp>/hmrbench-models``."""
    return Path(tempfile.gettempdir()) / "hmrbench-models"


def _save_elsewhere(method: Any, summary: dict[str, Any], failed: Path, error: OSError, who: str,
                    say: Callable[[str], None]) -> Path | None:  # fmt: skip
    """Save a trained model that could not be saved at ``failed`` under ``fallback_model_folder()`` instead and
    say so in one line naming both paths; None (and that line) when that fails too. Either way the model stays
    in memory and its unit is scored."""
    reason = error.strerror or str(error)
    fallback = fallback_model_folder() / failed.name
    try:
        _save_model(method, summary, fallback)
    except OSError as again:
        say(f"{who}could not save the trained model to {failed} ({reason}) nor to {fallback} "
            f"({again.strerror or again}); it is kept in memory and this unit is scored, but it is not kept")
        return None
    say(f"{who}could not save the trained model to {failed} ({reason}); saved it to {fallback} instead; this unit "
        "is scored")  # fmt: skip
    return fallback


def run(
    methods: Sequence[str],
    datasets: Sequence[str],
    *,
    train: Sequence[str] = (),
    seed: int = 0,
    data_seed: int = 0,
    device: str = "cpu",
    limit: int | None = None,
    batch_size: int = 256,
    data_root: Any = None,
    models: Any = None,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
    experiment: str = "run",
    variants: Sequence[str] | None = None,
    tracker: Any = None,
    parent: str | None = None,
    sink: Callable[[Results], None] | None = None,
    stopping: StoppingRule | str | None = None,
) -> Results:
    """Train every method in ``methods`` on the ``train`` sets and score it on every set of ``datasets``: one unit
    per method (module docstring). ``seed``: the training seed (the method's); ``data_seed``: the seed every set
    is loaded (generated) with.

    Every spec, the limit, the batch size and the device are checked (``check_selection``, ``check_device``),
    methods built and sets loaded before any training starts; a training set without samples is an error, a test
    set without samples a skipped row (``bench.run.evaluate``). ``variants``: the specs as the
    user wrote them (rows carry them; default ``methods``). ``models``: a folder of trained models, loaded by
    training key instead of retraining (``force`` retrains). ``tracker``: a connected ``bench.run.tracking.Tracker``
    (finished units are taken from it; ``parent`` is the experiment's run). ``sink`` gets each finished unit's
    results as soon as they exist. ``stopping``: the training-length rule (``bench.run.validation.parse_stopping``:
    a ``StoppingRule``, 'on', 'off' or 'patience=3,...'; None: the default, on; module docstring).
    """
    from bench.run.tracking import environment_tags

    check_selection(methods, datasets, train=train, limit=limit, batch_size=batch_size)
    rule = parse_stopping(stopping)
    check_device(device)
    variants = list(variants or methods)
    say = progress or (lambda message: None)
    context = MethodContext(device=device, seed=seed, progress=progress)
    built = [(spec, build_method(spec, context)) for spec in methods]
    eval_sets = {spec: load_dataset_spec(spec, data_root=data_root, seed=data_seed, limit=limit) for spec in datasets}
    train_sets = {spec: load_dataset_spec(spec, data_root=data_root, seed=data_seed) for spec in train}
    for spec, samples in train_sets.items():  # a method cannot learn from nothing: say so before any training
        if len(samples) == 0:
            raise DataFileError(f"training set {spec!r} has no samples ({samples.info.get('protocol', '')}; "
                                f"{samples.info.get('source', '')})")  # fmt: skip
    env = environment_tags(device)
    model = resolve_model(context.model_path)
    body_model = body_model_label(model)
    labels = {s: data_labels(v, body_model) for s, v in eval_sets.items()}
    results = Results()
    for (spec, method), variant in zip(built, variants, strict=True):
        key = unit_key(experiment, method, seed, train_sets, eval_sets, limit, batch_size, device, context.model_path,
                       data_seed, rule.key_part(method))  # fmt: skip
        name = f"{experiment}: {variant} seed {seed}" + (f" data seed {data_seed}" if data_seed else "")
        sources = {s: str(v.info.get("source", "")) for s, v in {**eval_sets, **train_sets}.items()}
        tags = {**env, "hmrbench.variant": variant, **label_tags(labels.values()), "model_sha256": model.sha256,
                **{f"protocol.{s}": str(v.info.get("protocol", "")) for s, v in eval_sets.items()},
                **{f"data_source.{s}": src for s, src in sources.items()}}  # fmt: skip
        params = {"method": spec, "variant": variant, "seed": seed, "data_seed": data_seed, "train": ",".join(train),
                  "datasets": ",".join(datasets), "limit": limit, "batch_size": batch_size, "device": device,
                  **{f"config.{k}": v for k, v in dict(method.config).items()},
                  **({f"stopping.{k}": v for k, v in (rule.key_part(method) or {}).items()})}  # fmt: skip

        def work(method=method, spec=spec, variant=variant, key=key) -> tuple[Results, list[tuple[Path, str]]]:
            unit = Results()
            start = time.perf_counter()
            cached, model_file, summary = _fit_or_load(method, spec, train_sets, seed, context, models, force, say,
                                                       rule, batch_size)  # fmt: skip
            fit_seconds = time.perf_counter() - start
            unit.fit_summary = summary
            collapsed = collapsed_flag(summary)
            for ds, samples in eval_sets.items():
                result = evaluate(method, samples, batch_size=batch_size, device=device, progress=progress)
                base = {"experiment": experiment, "unit": key, "method": getattr(method, "family", spec.split("[")[0]),
                        "variant": variant, "dataset": ds, "seed": seed, "data_seed": data_seed, "device": device,
                        "device_name": env["device_name"], "batch": batch_size, "train": ",".join(train),
                        "model_cached": cached, "collapsed": collapsed, "fit_seconds": fit_seconds,
                        "iterations_used": summary.get("iterations_used", ""),
                        **labels[ds], **thread_fields()}  # fmt: skip
                unit.rows += evaluation_rows(result, samples, base)
                unit.samples.append(per_sample_frame(result, samples, base))
                if not result.skipped:
                    unit.predictions[ds] = result.predictions
                scores = result.summary()
                if result.skipped:
                    say(f"{variant} on {ds}: skipped ({result.skipped})")
                else:
                    say(f"{variant} on {ds}: MPJPE {scores['mpjpe_mm']:.1f} mm, PA-MPJPE "
                        f"{scores['pa_mpjpe_mm']:.1f} mm over {scores['n']} samples ({scores['failed']} failed), "
                        f"fit {fit_seconds:.0f} s, eval {result.seconds:.1f} s"
                        + (" (collapsed)" if collapsed is True else ""))  # fmt: skip
            return unit, [(model_file, "model")] if model_file is not None else []

        unit = tracked_unit(tracker, key, name, work, tags={**tags, "hmrbench.experiment": experiment},
                            params=params, parent=parent, force=force, say=say)  # fmt: skip
        results.extend(unit)
        if sink is not None:
            sink(unit)
    return results


def unit_calls(kind: str, methods: Sequence[str], variants: Sequence[str] | None, experiment: str, seed: int,
               **kwargs: Any) -> list[UnitCall]:  # fmt: skip
    """One ``bench.run.units.UnitCall`` per method of a ``run`` (``kind`` 'run') or ``runtime`` call with these
    keyword arguments: the same units, keys and rows as the call with every method, one task each."""
    variants = list(variants or methods)
    what = "runtime" if kind == "runtime" else f"seed {seed}"
    return [UnitCall(kind, f"{experiment}: {variant} {what}", experiment,
                     {**kwargs, "methods": [spec], "variants": [variant], "experiment": experiment, "seed": seed})
            for spec, variant in zip(methods, variants, strict=True)]  # fmt: skip


def experiment_calls(exp: Any, *, seeds: Sequence[int], data_seed: int, device: str = "cpu", data_root: Any = None,
                     models: Any = None, force: bool = False,
                     stopping: StoppingRule | str | None = None) -> list[UnitCall]:  # fmt: skip
    """The units of experiment ``exp`` (already checked, ``--quick`` applied) as calls, in the order
    ``run_experiment`` does them in one process: every group for every training seed."""
    rule = parse_stopping(exp.stopping if stopping is None else stopping)  # the CLI's rule, else the file's
    calls = []
    for seed in seeds:
        for group in exp.groups:
            if exp.kind == "runtime":
                calls += unit_calls("runtime", group.methods, group.variants or None, exp.name, seed,
                                    dataset=group.datasets[0], batch_sizes=group.batch_sizes, repeats=group.repeats,
                                    device=device, data_root=data_root, data_seed=data_seed,
                                    force=force)  # fmt: skip
            else:
                calls += unit_calls("run", group.methods, group.variants or None, exp.name, seed,
                                    datasets=group.datasets, train=group.train, data_seed=data_seed, device=device,
                                    limit=group.limit, batch_size=group.batch_size, data_root=data_root,
                                    models=models, force=force, stopping=rule)  # fmt: skip
    return calls


def _prepared(experiment: Any, quick: bool, seeds: Sequence[int] | None, data_seed: int | None, device: str,
              data_root: Any) -> tuple[Any, list[int], int]:  # fmt: skip
    """The experiment (loaded, ``--quick`` applied, checked: ``check_experiment``), its training seeds and data
    seed."""
    from bench.run.experiments import Experiment, load_experiment

    exp = experiment if isinstance(experiment, Experiment) else load_experiment(experiment)
    if quick:
        exp = exp.quick_version()
    check_experiment(exp, device=device, data_root=data_root)  # every group, before the first one trains
    return exp, list(seeds or exp.seeds), exp.data_seed if data_seed is None else data_seed


def _parent_run(tracker: Any, exp: Any, seeds: list[int], data_seed: int, quick: bool, device: str) -> str | None:
    """The experiment's parent run in the store (the same one again when the same experiment is run again)."""
    if tracker is None:
        return None
    from bench.run.tracking import environment_tags

    described = [[g.methods, g.datasets, g.train, g.limit, g.batch_size] for g in exp.groups]
    key = config_hash({"experiment": exp.name, "groups": described, "seeds": seeds, "data_seed": data_seed,
                       "device": device})  # fmt: skip
    return tracker.parent(key, exp.name, {"file": str(exp.path), "title": exp.title, "seeds": seeds,
                                          "data_seed": data_seed, "quick": quick, "device": device},
                          {**environment_tags(device), "hmrbench.experiment": exp.name})  # fmt: skip


def _end_parent(tracker: Any, parent: str | None, results: Results) -> None:
    if parent is not None and tracker.lost is None:  # a lost store: the CLI says which units are not in it
        tracker.end(parent, "FAILED" if results.failures else "FINISHED",
                    "; ".join(f"{n}: {e}" for n, e in results.failures) or None)  # fmt: skip


def run_experiments(
    experiments: Sequence[Any],
    *,
    quick: bool = False,
    seeds: Sequence[int] | None = None,
    data_seed: int | None = None,
    device: str = "cpu",
    data_root: Any = None,
    models: Any = None,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
    tracker: Any = None,
    sink: Callable[[Results], None] | None = None,
    executor: Any = None,
    stopping: StoppingRule | str | None = None,
) -> Results:
    """``run_experiment`` for each experiment in turn; with an ``executor`` (``bench.run.executors.DaskExecutor``)
    every unit of every experiment is one task, all submitted at once (each experiment checked and its parent run
    opened first), and the results come back in the order one process would give them."""
    if executor is None:
        results = Results()
        for exp in experiments:
            results.extend(run_experiment(exp, quick=quick, seeds=seeds, data_seed=data_seed, device=device,
                                          data_root=data_root, models=models, force=force, progress=progress,
                                          tracker=tracker, sink=sink, stopping=stopping))  # fmt: skip
        return results
    say = progress or (lambda message: None)
    prepared = [_prepared(e, quick, seeds, data_seed, device, data_root) for e in experiments]
    parents: dict[str, str | None] = {}
    calls: list[UnitCall] = []
    for exp, exp_seeds, exp_data_seed in prepared:
        say(f"experiment {exp.name}: {exp.title}; {len(exp.groups)} group(s), training seeds {exp_seeds}, data seed "
            f"{exp_data_seed}")  # fmt: skip
        parents[exp.name] = _parent_run(tracker, exp, exp_seeds, exp_data_seed, quick, device)
        calls += experiment_calls(exp, seeds=exp_seeds, data_seed=exp_data_seed, device=device, data_root=data_root,
                                  models=models, force=force, stopping=stopping)  # fmt: skip
    try:
        found = executor.map(calls, tracker=tracker, parents=parents, sink=sink)
    except KeyboardInterrupt:
        for parent in parents.values():
            if parent is not None:
                tracker.end(parent, "KILLED", "interrupted (Ctrl-C)")
        raise
    results = Results()
    for exp, _, _ in prepared:
        mine = Results()
        for call, unit in zip(calls, found, strict=True):
            if call.experiment == exp.name:
                mine.extend(unit)
        _end_parent(tracker, parents[exp.name], mine)
        results.extend(mine)
    return results


def run_experiment(
    experiment: Any,
    *,
    quick: bool = False,
    seeds: Sequence[int] | None = None,
    data_seed: int | None = None,
    device: str = "cpu",
    data_root: Any = None,
    models: Any = None,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
    tracker: Any = None,
    sink: Callable[[Results], None] | None = None,
    executor: Any = None,
    stopping: StoppingRule | str | None = None,
) -> Results:
    """Run an experiment (``bench.run.experiments.Experiment``, a shipped name or a TOML path): every group for every
    training seed (``seeds`` overrides the file's), all on the sets of one data seed (``data_seed`` overrides the
    file's). Every group is checked (``check_experiment``) before the first one trains. With a tracker, the
    experiment is one parent run (the same one again when the same experiment is run again). ``executor``: run
    the units as tasks on it (``run_experiments``). ``stopping``: the training-length rule of every unit (``run``;
    None: the file's ``stopping``, else the default)."""
    if executor is not None:
        return run_experiments([experiment], quick=quick, seeds=seeds, data_seed=data_seed, device=device,
                               data_root=data_root, models=models, force=force, progress=progress, tracker=tracker,
                               sink=sink, executor=executor, stopping=stopping)  # fmt: skip
    exp, seeds, data_seed = _prepared(experiment, quick, seeds, data_seed, device, data_root)
    rule = parse_stopping(exp.stopping if stopping is None else stopping)  # the CLI's rule, else the file's
    say = progress or (lambda message: None)
    say(f"experiment {exp.name}: {exp.title}; {len(exp.groups)} group(s), training seeds {seeds}, data seed "
        f"{data_seed}")  # fmt: skip
    parent = _parent_run(tracker, exp, seeds, data_seed, quick, device)
    results = Results()
    try:
        for seed in seeds:
            for group in exp.groups:
                if exp.kind == "runtime":
                    found = runtime(group.methods, dataset=group.datasets[0], batch_sizes=group.batch_sizes,
                                    repeats=group.repeats, device=device, data_root=data_root, seed=seed,
                                    data_seed=data_seed,
                                    experiment=exp.name, variants=group.variants or None, tracker=tracker,
                                    parent=parent, force=force, progress=progress, sink=sink)  # fmt: skip
                else:
                    found = run(group.methods, group.datasets, train=group.train, seed=seed, data_seed=data_seed,
                                device=device, limit=group.limit, batch_size=group.batch_size, data_root=data_root,
                                models=models, force=force, progress=progress, experiment=exp.name,
                                variants=group.variants or None, tracker=tracker, parent=parent,
                                sink=sink, stopping=rule)  # fmt: skip
                results.extend(found)
    except KeyboardInterrupt:
        if parent is not None:
            tracker.end(parent, "KILLED", "interrupted (Ctrl-C)")
        raise
    _end_parent(tracker, parent, results)
    return results
