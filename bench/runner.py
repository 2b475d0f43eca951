"""Runs: build each method, train it (``fit``) on the training sets, score it on every evaluation set
(``bench.evaluate``) and return one tidy row per (method, dataset).

This is the runner's first form: selections on the command line or in Python, results returned (and written to a
CSV by the CLI); experiment files, MLflow tracking, resuming and seeds sweeps build on it.

Selections are ``name[k=v,...]`` specs for methods (``bench.registry.create_method``) and datasets (the adapter's
settings, ``bench.registry.load_dataset``), e.g. ``proposed[projection=wpp]`` or ``h36m[split=train]``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import ConfigError
from bench.evaluate import evaluate
from bench.method import MethodContext, config_hash, parse_spec
from bench.registry import check_dataset_settings, check_method_spec, create_method, load_dataset
from bench.samples import SampleSet

__all__ = ["ROW_FIELDS", "load_dataset_spec", "parse_dataset_spec", "run", "run_experiment", "training_key"]

ROW_FIELDS = ("experiment", "method", "dataset", "train", "seed", "device", "mpjpe_mm", "pa_mpjpe_mm", "n",
              "samples", "failed", "skipped", "model_cached", "synthetic", "protocol", "fit_seconds",
              "eval_seconds")  # fmt: skip


def parse_dataset_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``'h36m[protocol=p2]'`` -> ('h36m', {'protocol': 'p2'}), the name registered and the setting names known
    (ConfigError otherwise); nothing is loaded."""
    try:
        name, settings = parse_spec(spec)
    except ValueError as exc:
        raise ConfigError(str(exc).replace("method spec", "dataset spec")) from None
    check_dataset_settings(name, settings)
    return name, settings


def load_dataset_spec(spec: str, *, data_root: Any = None, seed: int = 0, limit: int | None = None) -> SampleSet:
    """``'h36m[protocol=p2,split=test]'`` -> that SampleSet; ``limit`` keeps that many samples evenly spaced over
    the set (every view and sequence stays represented), and says so in ``info['protocol']``."""
    name, settings = parse_dataset_spec(spec)
    samples = load_dataset(name, data_root=data_root, seed=seed, **settings)
    if limit is not None and 0 < limit < len(samples):
        keep = np.unique(np.linspace(0, len(samples) - 1, limit).round().astype(int))
        total = len(samples)
        samples = samples.subset(keep)
        samples.info["protocol"] = f"{samples.info.get('protocol', '')}; limit={len(keep)} of {total} (evenly spaced)"
    return samples


def training_key(method: Any, train_sets: dict[str, SampleSet], seed: int, model_path: Any = None) -> str:
    """Hash of everything a trained model depends on: the method's resolved config, the seed, the training sets
    (spec, source, synthetic or not, size) and the body model file (its sha256)."""
    from bench.body_model import resolve_model

    return config_hash({
        "family": getattr(method, "family", getattr(method, "name", "")), "config": dict(method.config), "seed": seed,
        "train": {spec: [str(s.info.get("source", "")), bool(s.info.get("synthetic", False)), len(s)]
                  for spec, s in sorted(train_sets.items())},
        "body_model": resolve_model(model_path).sha256,  # the file's hash, without building the model again
    })  # fmt: skip


def _build(spec: str, context: MethodContext) -> Any:
    try:
        return create_method(spec, context)
    except (TypeError, ValueError) as exc:  # a factory's own check of a value (e.g. projection=xyz)
        raise ConfigError(f"method {spec!r}: {exc}") from None


def run(
    methods: Sequence[str],
    datasets: Sequence[str],
    *,
    train: Sequence[str] = (),
    seed: int = 0,
    device: str = "cpu",
    limit: int | None = None,
    batch_size: int = 256,
    data_root: Any = None,
    models: Any = None,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Train every method in ``methods`` on the ``train`` sets and score it on every set of ``datasets``.

    All names are checked (methods built, sets loaded) before any training starts. Returns rows with
    ``ROW_FIELDS`` (errors in mm over the scored samples; ``skipped`` holds the method's reason when it cannot run
    on a set). ``models``: a folder of trained models; a method whose training key (``training_key``) is there is
    loaded instead of trained (``force`` retrains), and each newly trained one is saved there.
    """
    if not methods or not datasets:
        raise ConfigError("run: give at least one method and one dataset")
    say = progress or (lambda message: None)
    if str(device).startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ConfigError(f"device {device!r}: CUDA is not available here (torch {torch.__version__}); use cpu")
    for spec in [*datasets, *train]:  # every name and setting key, before anything is built or written
        parse_dataset_spec(spec)
    context = MethodContext(device=device, seed=seed, progress=progress)
    built = [(spec, _build(spec, context)) for spec in methods]
    eval_sets = {spec: load_dataset_spec(spec, data_root=data_root, seed=seed, limit=limit) for spec in datasets}
    train_sets = {spec: load_dataset_spec(spec, data_root=data_root, seed=seed) for spec in train}
    rows = []
    for spec, method in built:
        start = time.perf_counter()
        path = None
        if models is not None:
            key = training_key(method, train_sets, seed, context.model_path)
            path = Path(models) / f"{getattr(method, 'family', spec.split('[')[0])}-{key[:16]}.model"
        cached = path is not None and path.is_file() and not force
        if cached:
            method.load(path)
            say(f"{spec}: loaded the trained model {path} (same training key; --force retrains)")
        else:
            method.fit(train_sets)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name(path.name + ".tmp")
                method.save(tmp)
                os.replace(tmp, path)  # atomic: an interrupted save never looks finished
        fit_seconds = time.perf_counter() - start
        for name, samples in eval_sets.items():
            result = evaluate(method, samples, batch_size=batch_size, device=device, progress=progress)
            row = {**result.summary(), "experiment": "", "method": spec, "dataset": name, "train": ",".join(train),
                   "seed": seed, "device": device, "synthetic": bool(samples.info.get("synthetic", False)),
                   "protocol": samples.info.get("protocol", ""), "fit_seconds": fit_seconds, "model_cached": cached,
                   "eval_seconds": result.seconds}  # fmt: skip
            rows.append({k: row[k] for k in ROW_FIELDS})
            if result.skipped:
                say(f"{spec} on {name}: skipped ({result.skipped})")
            else:
                say(f"{spec} on {name}: MPJPE {row['mpjpe_mm']:.1f} mm, PA-MPJPE {row['pa_mpjpe_mm']:.1f} mm "
                    f"over {row['n']} samples ({row['failed']} failed), fit {fit_seconds:.0f} s, "
                    f"eval {result.seconds:.1f} s")  # fmt: skip
    return rows


def run_experiment(
    experiment: Any,
    *,
    quick: bool = False,
    seeds: Sequence[int] | None = None,
    device: str = "cpu",
    data_root: Any = None,
    models: Any = None,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Run an experiment (``bench.experiments.Experiment``, a shipped name or a TOML path): every group for every
    seed (``seeds`` overrides the file's). All groups' names are checked before the first one trains."""
    from bench.experiments import Experiment, load_experiment

    exp = experiment if isinstance(experiment, Experiment) else load_experiment(experiment)
    if quick:
        exp = exp.quick_version()
    for group in exp.groups:  # fail on any name before training anything (values: when the group is built)
        for spec in [*group.datasets, *group.train]:
            parse_dataset_spec(spec)
        for spec in group.methods:
            check_method_spec(spec)
    say = progress or (lambda message: None)
    say(f"experiment {exp.name}: {exp.title}; {len(exp.groups)} group(s), seeds {list(seeds or exp.seeds)}")
    rows = []
    for seed in seeds or exp.seeds:
        for group in exp.groups:
            found = run(group.methods, group.datasets, train=group.train, seed=seed, device=device, limit=group.limit,
                        batch_size=group.batch_size, data_root=data_root, models=models, force=force,
                        progress=progress)  # fmt: skip
            rows.extend({**row, "experiment": exp.name} for row in found)
    return rows
