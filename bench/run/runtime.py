"""Runtime per image (Table IV): each method timed on given 2D keypoints at batch 1 and batched.

For each method and batch size: ``warmup`` calls first (not timed: allocator, caches, lazy builds), then
``repeats`` timed calls of ``predict`` on the same batch; the row's value is the median of the per-call times
divided by the batch size (seconds per image). On a GPU each call is synchronised before the clock stops. A trained
model is not needed: the weights do not change the amount of work, so networks are timed as built (their training
is not part of Table IV either); iterative methods (the SMPLify-X-style optimiser) run their full schedule.

Every row records the torch threads of the process that timed it, the machine's cores and its 1-minute load
average right after the timed calls (``bench.run.threads.thread_fields``): a time per image means little without
them (two threads on a busy 2-core machine timed 75.6 ms per image where one thread timed 10.2 ms). The threads
are part of the unit's key: timing again with other threads is a new unit.

A runtime unit is tracked like any other (``bench.run.units.tracked_unit``): rows with metric ``seconds_per_image``,
MLflow metrics ``seconds_per_image/batch_B`` (median) and every timed call as a metric history.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from bench.errors import ConfigError
from bench.method import MethodContext, config_hash, predict_config, training_config
from bench.run.results import ROW_FIELDS
from bench.run.threads import thread_fields

__all__ = ["check_timing", "runtime", "time_predict"]


def _sync(device: str) -> None:
    if str(device).startswith("cuda"):
        torch.cuda.synchronize(torch.device(device))


def time_predict(method: Any, batch: Any, *, repeats: int, warmup: int, device: str) -> list[float]:
    """Seconds per ``predict`` call, ``repeats`` of them after ``warmup`` untimed ones."""
    for _ in range(warmup):
        method.predict(batch)
    _sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        method.predict(batch)
        _sync(device)
        times.append(time.perf_counter() - start)
    return times


def check_timing(batch_sizes: Sequence[int], repeats: int) -> None:
    """ConfigError unless every batch size is an integer >= 1 and ``repeats`` >= 5 (the median of at least 5
    timed calls)."""
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 5:
        raise ConfigError(f"runtime: repeats must be >= 5 (the median of at least 5 timed calls), got {repeats!r}")
    if not batch_sizes or any(isinstance(b, bool) or not isinstance(b, int) or b < 1 for b in batch_sizes):
        raise ConfigError(f"runtime: batch sizes must be integers >= 1, got {list(batch_sizes)}")


def runtime(
    methods: Sequence[str],
    *,
    dataset: str = "h36m[protocol=p1]",
    batch_sizes: Sequence[int] = (1, 64),
    repeats: int = 5,
    warmup: int = 1,
    device: str = "cpu",
    data_root: Any = None,
    seed: int = 0,
    data_seed: int = 0,
    experiment: str = "runtime",
    variants: Sequence[str] | None = None,
    tracker: Any = None,
    parent: str | None = None,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
    sink: Callable[[Any], None] | None = None,
) -> Any:
    """Time every method (one unit each) on the first samples of ``dataset`` (module docstring); returns
    ``bench.run.units.Results`` with one row per method and batch size. ``seed`` is the methods' (training) seed,
    ``data_seed`` the one the input set is loaded with (``bench.run.runner``)."""
    from bench.body.body_model import resolve_model
    from bench.run.results import data_labels, label_tags
    from bench.run.tracking import environment_tags
    from bench.run.units import Results, body_model_label, build_method, check_device, load_dataset_spec, tracked_unit

    check_timing(batch_sizes, repeats)
    check_device(device)
    say = progress or (lambda message: None)
    variants = list(variants or methods)
    context = MethodContext(device=device, seed=seed)
    built = [(spec, build_method(spec, context)) for spec in methods]
    samples = load_dataset_spec(dataset, data_root=data_root, seed=data_seed)
    if len(samples) < max(batch_sizes):
        raise ConfigError(f"runtime: {dataset} has {len(samples)} samples, fewer than the batch size "
                          f"{max(batch_sizes)}")  # fmt: skip
    env = environment_tags(device)
    labels = data_labels(samples, body_model_label(resolve_model(context.model_path)))
    results = Results()
    for (spec, method), variant in zip(built, variants, strict=True):
        reason = method.supports(samples)
        predict = predict_config(method)  # precision=bf16 & co: a new unit; at the defaults the key is as before
        key = config_hash({"experiment": experiment, "kind": "runtime", "config": training_config(method),
                           "family": getattr(method, "family", spec), "dataset": dataset, "batches": list(batch_sizes),
                           "repeats": repeats, "warmup": warmup, "device": str(device),
                           "device_name": env["device_name"], "threads": torch.get_num_threads(),
                           # absent for data seed 0: units timed before the data seed was kept apart stay found
                           **({"data_seed": data_seed} if data_seed else {}),
                           **({"predict": predict} if predict else {})})  # fmt: skip

        def work(method=method, spec=spec, variant=variant, key=key, reason=reason) -> tuple[Any, list[tuple[Path, str]]]:  # noqa: E501
            unit = Results()
            for size in batch_sizes:
                base = {"experiment": experiment, "unit": key, "method": getattr(method, "family", spec.split("[")[0]),
                        "variant": variant, "dataset": dataset, "protocol": samples.info.get("protocol", ""),
                        "view": "all", "group": "all", "bin": "all", "seed": seed, "data_seed": data_seed,
                        "metric": "seconds_per_image", "device": device, "device_name": env["device_name"],
                        "batch": size, "train": "", "model_cached": False, **labels, "faults": 0,
                        "failed": 0}  # fmt: skip
                if reason is not None:
                    unit.rows.append({k: base.get(k, "") for k in ROW_FIELDS} | thread_fields() | {
                        "value": float("nan"), "n": 0, "skipped": repeats, "skip_reason": reason})  # fmt: skip
                    say(f"{variant}: not timed ({reason})")
                    continue
                batch = next(iter(samples.subset(torch.arange(size).numpy()).batches(size, device=device)))
                times = time_predict(method, batch, repeats=repeats, warmup=warmup, device=device)
                per_image = statistics.median(times) / size
                machine = thread_fields()
                unit.rows.append({k: base.get(k, "") for k in ROW_FIELDS} | machine | {
                    "value": per_image, "n": repeats, "skipped": 0, "skip_reason": "", "fit_seconds": 0.0,
                    "eval_seconds": sum(times)})  # fmt: skip
                say(f"{variant}: batch {size}: {per_image * 1000:.2f} ms per image (median of {repeats} calls, "
                    f"{min(times) / size * 1000:.2f}-{max(times) / size * 1000:.2f} ms) on {env['device_name']}, "
                    f"{machine['threads']} thread(s), load {machine['load_avg']} on {machine['cores']} core(s)")
            return unit, []

        tags = {**env, "hmrbench.experiment": experiment, "hmrbench.variant": variant, **label_tags([labels])}
        params = {"method": spec, "variant": variant, "dataset": dataset, "data_seed": data_seed,
                  "batch_sizes": list(batch_sizes),
                  "repeats": repeats, "warmup": warmup, "device": device,
                  **{f"config.{k}": v for k, v in dict(method.config).items()}}  # fmt: skip
        unit = tracked_unit(tracker, key, f"{experiment}: {variant} runtime", work, tags=tags, params=params,
                            parent=parent, force=force, say=say)  # fmt: skip
        results.extend(unit)
        if sink is not None:
            sink(unit)
    return results
