"""Command line: thin verbs over same-named Python functions (tests call those functions directly).

`list`, `run` (``bench.run.runner``), `sweep` (``bench.run.sweep``), `report` and `paper`
(``bench.run.pipeline``), `runtime` (the table4 experiment, ``bench.run.runtime``), `data list|synth|check` and
`model info`. Everything a verb writes goes under one folder (``--out``, default ./hmrbench-out, printed at
start); the tracking store is there too unless ``--tracking-uri`` / ``$MLFLOW_TRACKING_URI`` name another.

A verb checks everything it can before it creates that folder or the store (``_check_before_writing``: specs and
their values, experiment files after ``--quick``, counts >= 1, the device, each set's data), then that the folder
and the store can be written, before anything is trained: a bad value is one line naming it and exit code 2, with
nothing written.

`run`, `paper` and `runtime` run their units in this process one after another with one torch thread, or as tasks
on Dask (``--workers N``: a local cluster of N worker processes; ``--scheduler ADDRESS``: an existing scheduler;
``bench.run.executors``), printing units done / running / failed and an ETA as they finish. ``--threads T``: torch
threads per process (default ``$OMP_NUM_THREADS``, else 1).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import __version__
from bench.errors import HmrbenchError


def model_info_command(args: argparse.Namespace) -> int:
    from bench.body.body_model import model_info

    info = model_info(args.model_path)
    width = max(len(k) for k in info)
    for key, value in info.items():
        print(f"{key:<{width}}  {value}")
    if info["synthetic"]:
        print(
            "\nNOTE: this is the embedded, procedurally generated SMPL-X-format model, not SMPL-X; results "
            "computed with it are synthetic. Give --model-path or SMPLX_MODEL_PATH to use the real model."
        )
    return 0


def _settings(declared) -> str:
    """Each setting as ``name=default (choices or range)`` (``bench.settings``)."""
    from bench.settings import describe_settings

    return describe_settings(dict(declared))


def data_list_command(args: argparse.Namespace) -> int:
    from bench.registry import dataset_names, dataset_source, get_dataset

    for name in dataset_names():
        spec = get_dataset(name)
        print(f"{name}: {spec.description}")
        print(f"    source:   {dataset_source(name, args.data_root)[0]}")
        print(f"    settings: {_settings(spec.declared)}")
    return 0


def list_command(args: argparse.Namespace) -> int:
    """Every registered method with its parameters, every dataset with its settings and whether its data is
    available."""
    from bench.registry import dataset_names, dataset_source, get_dataset, get_method, method_names, resolve_data_root

    resolve_data_root(args.data_root)  # a bad root is an error before anything is printed
    print("methods (use as -m 'name[key=value,...]'):")
    for name in method_names():
        entry = get_method(name)
        print(f"  {name}: {entry.description}")
        print(f"      parameters: {_settings(entry.declared)}")
    print("\ndatasets (use as -d 'name[key=value,...]'):")
    for name in dataset_names():
        source, available = dataset_source(name, args.data_root)
        print(f"  {name}: {get_dataset(name).description}")
        print(f"      data:     {'available' if available else 'NOT available'} ({source})")
        print(f"      settings: {_settings(get_dataset(name).declared)}")
    return 0


def data_synth_command(args: argparse.Namespace) -> int:
    from bench.errors import ConfigError
    from bench.registry import get_dataset

    spec = get_dataset(args.dataset)
    if spec.synthesize is None:
        raise ConfigError(f"dataset {args.dataset!r} has no synthetic generator")
    out = Path(args.out)
    if out.exists() and any(out.iterdir()) and not args.force:
        raise ConfigError(f"{out}: folder exists and is not empty; choose another --out or pass --force")
    if args.frames is not None and args.frames < 1:
        raise ConfigError(f"--frames must be >= 1, got {args.frames}")
    print(
        f"writing a synthetic {args.dataset} set to {out} (seed {args.seed}, noise {args.noise}) ...",
        file=sys.stderr,
        flush=True,
    )
    start = time.perf_counter()
    summary = spec.synthesize(out, frames=args.frames, seed=args.seed, noise=args.noise)
    seconds = time.perf_counter() - start
    _print_tree(summary)
    print(
        f"done in {seconds:.1f} s. It is SYNTHETIC data. Check it with 'hmrbench data check {out}'; read it with "
        f"--data-root {out.parent}" + ("" if out.name == args.dataset else f" once renamed to {args.dataset}/")
    )
    return 0


def _print_tree(tree: dict, indent: str = "") -> None:
    for key, value in tree.items():
        if isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
            print(f"{indent}{key}:")
            _print_tree(value, indent + "  ")
        else:
            print(f"{indent}{key}: {value}")


def _check_targets(folder: Path, dataset: str | None) -> list[tuple[str, Path]]:
    from bench.errors import ConfigError, DataFileError
    from bench.registry import dataset_names, get_dataset, read_synthetic_marker

    if not folder.is_dir():
        raise DataFileError(f"{folder}: not a folder")
    if dataset is not None:
        get_dataset(dataset)
        return [(dataset, folder)]
    marker = read_synthetic_marker(folder)
    if marker is not None and marker.get("dataset") in dataset_names():
        return [(marker["dataset"], folder)]
    if folder.name in dataset_names():
        return [(folder.name, folder)]
    below = [(name, folder / name) for name in dataset_names() if (folder / name).is_dir()]
    if below:
        return below
    raise ConfigError(
        f"{folder}: no dataset folder ({', '.join(dataset_names())}) below it; "
        "pass --dataset NAME to check the folder as that dataset"
    )


def data_check_command(args: argparse.Namespace) -> int:
    from bench.registry import get_dataset, read_synthetic_marker

    for name, folder in _check_targets(Path(args.folder), args.dataset):
        rows = get_dataset(name).check(folder)
        label = "SYNTHETIC" if read_synthetic_marker(folder) is not None else "real"
        groups: dict[tuple[str, ...], list[dict]] = {}  # rows with the same id fields form one table
        for row in rows:
            groups.setdefault(tuple(k for k in row if k != "samples"), []).append(row)
        tables = list(groups.items())
        total = sum(int(r.get("samples", 0)) for r in tables[0][1]) if tables else 0
        print(f"{name} ({label}) at {folder}: OK, {total} samples")
        for keys, group in tables:
            widths = {k: max(len(k), *(len(str(r[k])) for r in group)) for k in keys}
            print("  " + "  ".join(f"{k:<{widths[k]}}" for k in keys) + "  samples")
            for r in group:
                print("  " + "  ".join(f"{str(r[k]):<{widths[k]}}" for k in keys) + f"  {r.get('samples', 0)}")
    return 0


def _format(value) -> str:
    if isinstance(value, float):
        return "nan" if value != value else f"{value:.1f}"
    return "" if value is None else str(value)


def _seeds(text: str | None) -> tuple[int, ...] | None:
    from bench.errors import ConfigError

    if text is None:
        return None
    try:
        seeds = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise ConfigError(f"--seeds: expected integers separated by commas, e.g. 0,1,2; got {text!r}") from None
    if not seeds:
        raise ConfigError("--seeds: no seed given")
    return seeds


def _out_folder(text: str) -> Path:
    """``--out`` resolved, created and checked writable before anything is written there or trained
    (``bench.run.tracking.out_folder``: a ConfigError naming it otherwise, nothing left behind)."""
    from bench.run.tracking import out_folder

    return out_folder(text)


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _tracker(out: Path, uri: str | None):  # noqa: ANN202
    """The connected tracking store (fails fast, naming the URI, when it cannot be reached; naming the folder when
    the store or its artifact folder cannot be written, before anything is trained)."""
    from bench.run.tracking import Tracker

    tracker = Tracker(out, uri).connect()
    tracker.check_writable()
    _progress(f"hmrbench: results, trained models and reports under {out}")
    _progress(f"hmrbench: tracking store {tracker.uri}" + (f" (view it: mlflow ui --backend-store-uri {tracker.uri})"
                                                           if tracker.local else ""))  # fmt: skip
    return tracker


def _overall(row: dict) -> bool:
    return row["view"] == "all" and row["group"] == "all" and row["bin"] == "all"


def print_rows(rows: list[dict]) -> None:
    """The overall MPJPE / PA-MPJPE per experiment, variant, dataset and seed (every line names its experiment:
    one invocation may run several), the runtime rows, the protocol of every scored set, the skipped sets with
    their reasons, and which parts of the numbers are synthetic (data, body model, 2D)."""
    from bench.run.results import synthetic_parts

    table: dict[tuple, dict] = {}
    protocols: dict[tuple[str, str], None] = {}
    for r in rows:
        if _overall(r) and r["metric"] != "seconds_per_image":
            cell = table.setdefault((r["experiment"], r["variant"], r["dataset"], r["seed"]),
                                    {"n": r["n"], "failed": r["failed"], "skipped": r["skip_reason"]})  # fmt: skip
            cell[r["metric"]] = r["value"]
            if r.get("protocol"):
                protocols[(str(r["dataset"]), str(r["protocol"]))] = None
    shown = ("experiment", "variant", "dataset", "seed", "mpjpe_mm", "pa_mpjpe_mm", "n", "failed", "skipped")
    accuracy = [shown] + [
        tuple(_format(v) for v in (*key, c.get("mpjpe_mm"), c.get("pa_mpjpe_mm"), c["n"], c["failed"], c["skipped"]))
        for key, c in table.items()
    ]
    timed = [r for r in rows if r["metric"] == "seconds_per_image"]
    runtime = [("experiment", "variant", "batch", "ms_per_image", "device_name", "threads", "load", "skipped")] + [
        (r["experiment"], r["variant"], str(r["batch"]), f"{1000 * float(r['value']):.2f}", r["device_name"],
         _format(r.get("threads")), _format(r.get("load_avg")), _format(r["skip_reason"]))
        for r in timed]  # fmt: skip
    for lines in (accuracy, runtime):
        if len(lines) == 1:
            continue
        widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
        for line in lines:
            print("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())
        print()
    if protocols:
        print("sets scored (dataset: protocol):")
        for dataset, protocol in protocols:
            print(f"  {dataset}: {protocol}")
        print()
    reasons: dict[str, int] = {}
    for cell in table.values():
        if cell["skipped"]:
            reasons[cell["skipped"]] = reasons.get(cell["skipped"], 0) + 1
    for reason, count in reasons.items():
        print(f"{count} row(s) skipped: {reason}")
    parts = synthetic_parts(rows)
    if parts:
        print(f"\nSYNTHETIC ({', '.join(parts)}): these numbers are computed with synthetic parts and are not "
              "comparable with the paper's. Real data, a real SMPL-X model (--model-path / SMPLX_MODEL_PATH) and "
              "2D detections make them real.")  # fmt: skip


class _RowsFile:
    """The rows CSV of an invocation, rewritten (atomically) after every finished unit: nothing finished is lost
    when a later unit fails or the process is stopped. A write that fails (a full or read-only disk) is said once
    and does not stop the run (the rows stay in the tracking store); ``written`` says whether the file holds the
    rows of every unit so far."""

    def __init__(self, path: Path) -> None:
        self.path, self.rows = path, []
        self.written, self.error = False, ""

    def rewrite(self, rows: list[dict]) -> None:
        """The file again with ``rows`` (the run's rows in plan order, once units that finished in another order
        are all in)."""
        from bench.run.units import Results

        self.rows = []
        self(Results(rows=list(rows)))

    def __call__(self, unit) -> None:  # noqa: ANN001
        from bench.run.results import ROW_FIELDS, write_table

        self.rows += unit.rows
        if not self.rows:
            return
        try:
            write_table(self.rows, ROW_FIELDS, self.path)
        except OSError as exc:
            if not self.error:
                _progress(f"hmrbench: cannot write the rows file {self.path} ({exc.strerror or exc}); the finished "
                          "units are kept in the tracking store")  # fmt: skip
            self.written, self.error = False, f"cannot write {self.path} ({exc.strerror or exc})"
        else:
            self.written, self.error = True, ""


def _finish(results, rows_file: _RowsFile) -> int:  # noqa: ANN001
    print_rows(results.rows)
    counts = f"{results.redone} unit(s) run, {results.reused} taken from the store"
    if rows_file.written:
        _progress(f"rows written to {rows_file.path} ({counts})")
    else:
        _progress(f"no rows file written: {rows_file.error or 'no unit gave rows'} ({counts})")
    code = 0
    if results.failures:
        for name, error in results.failures:
            _progress(f"hmrbench: FAILED unit {name}: {error}")
        _progress(f"hmrbench: {len(results.failures)} unit(s) failed (recorded in the tracking store); run the same "
                  "command again to retry them")  # fmt: skip
        code = 1
    if results.untracked:
        for name, where in results.untracked:
            _progress(f"hmrbench: NOT IN THE TRACKING STORE: {name}: {where}")
        rows = f"they are in {rows_file.path} and " if rows_file.written else ""
        _progress(f"hmrbench: {len(results.untracked)} unit(s) finished but are not in the tracking store (it "
                  f"stopped answering); {rows}their rows are saved as listed above. Run the same command again once "
                  "the store is back: they are redone (their trained models are loaded from the model cache) and "
                  "logged")  # fmt: skip
        code = 1
    return code


def _check_before_writing(
    experiments: Sequence[Any] = (), *, quick: bool = False, device: str = "cpu", data_root: Any = None,
    methods: Sequence[str] = (), datasets: Sequence[str] = (), train: Sequence[str] = (), limit: int | None = None,
    batch_size: int = 256,
) -> None:  # fmt: skip
    """Everything a verb would fail on before its first unit trains, checked before the output folder or the
    tracking store is created, so that a bad value writes nothing: each experiment (a name, a path or an
    ``Experiment``; ``--quick``'s overrides applied) with ``bench.run.runner.check_experiment``, or the ``-m``/``-d``
    selection with ``check_selection``; the device; and that every set's data is there (``check_sources``)."""
    from bench.run.experiments import Experiment, load_experiment
    from bench.run.runner import check_experiment, check_selection, check_sources
    from bench.run.units import check_device

    for given in experiments:
        exp = given if isinstance(given, Experiment) else load_experiment(given)
        check_experiment(exp.quick_version() if quick else exp, device=device, data_root=data_root)
    if methods or datasets:
        check_selection(methods, datasets, train=train, limit=limit, batch_size=batch_size)
        check_sources([*datasets, *train], data_root)
    check_device(device)


def _early_stop(args: argparse.Namespace):  # noqa: ANN202
    """--early-stop parsed before anything is written (``bench.run.validation.parse_stopping``); None when not
    given (each experiment file's ``stopping``, else the default rule)."""
    from bench.run.validation import parse_stopping

    return None if args.early_stop is None else parse_stopping(args.early_stop)


def run_command(args: argparse.Namespace) -> int:
    from bench.errors import ConfigError
    from bench.run.runner import run, run_experiment
    from bench.run.units import Results, check_at_least_one

    seeds, data_seed = _seeds(args.seeds), _data_seed(args.data_seed)
    if args.experiment is not None:
        if args.method or args.dataset or args.train:
            raise ConfigError("run: give an experiment file or -m/-d/--train selections, not both")
    else:
        if not args.method or not args.dataset:
            raise ConfigError("run: give an experiment (e.g. 'hmrbench run table2') or at least one -m and one -d")
        if args.quick:
            raise ConfigError("run: --quick applies to experiment files (their [quick] table)")
    check_at_least_one("--limit", args.limit, optional=True)
    check_at_least_one("--batch-size", args.batch_size)
    stopping = _early_stop(args)
    _check_workers(args)  # the arguments first, then the data they name
    if args.experiment is not None:
        _check_before_writing([args.experiment], quick=args.quick, device=args.device, data_root=args.data_root)
    else:
        _check_before_writing(device=args.device, data_root=args.data_root, methods=args.method, datasets=args.dataset,
                              train=args.train or (), limit=args.limit, batch_size=args.batch_size)  # fmt: skip
    out = _out_folder(args.out)
    tracker = _tracker(out, args.tracking_uri)
    name = Path(args.experiment).stem if args.experiment is not None else "run"
    rows_file = _RowsFile(out / f"{name}{'-quick' if args.quick else ''}.csv")
    common = {"device": args.device, "data_root": args.data_root, "models": out / "models", "force": args.force,
              "stopping": stopping}  # fmt: skip
    with _executor(args) as executor:
        if args.experiment is not None:
            results = run_experiment(args.experiment, quick=args.quick, seeds=seeds, data_seed=data_seed,
                                     progress=_progress, tracker=tracker, sink=rows_file, executor=executor,
                                     **common)  # fmt: skip
        elif executor is not None:
            from bench.run.runner import unit_calls

            calls = [c for seed in seeds or (0,) for c in unit_calls(
                "run", args.method, None, "run", seed, datasets=args.dataset, train=args.train or (),
                data_seed=data_seed or 0, limit=args.limit, batch_size=args.batch_size, **common)]  # fmt: skip
            results = Results()
            for unit in executor.map(calls, tracker=tracker, sink=rows_file):
                results.extend(unit)
        else:
            results = Results()
            for seed in seeds or (0,):
                results.extend(run(args.method, args.dataset, train=args.train or (), seed=seed,
                                   data_seed=data_seed or 0, limit=args.limit, batch_size=args.batch_size,
                                   progress=_progress, tracker=tracker, sink=rows_file, **common))  # fmt: skip
    if executor is not None:
        rows_file.rewrite(results.rows)
    return _finish(results, rows_file)


def _check_workers(args: argparse.Namespace) -> None:
    """--workers, --scheduler and --threads checked before anything is written
    (``bench.run.executors.check_workers``)."""
    from bench.run.executors import check_workers

    check_workers(args.workers, args.scheduler, args.threads)


def _executor(args: argparse.Namespace):  # noqa: ANN202
    """A started Dask executor for --workers / --scheduler (a context manager), else None: this process runs the
    units with --threads torch threads (``bench.run.executors.executor_for``)."""
    from bench.run.executors import executor_for

    return executor_for(args.workers, args.scheduler, args.threads, _progress)


def report_command(args: argparse.Namespace) -> int:
    from bench.run.pipeline import report

    out = _out_folder(args.out)
    tracker = _tracker(out, args.tracking_uri)
    experiments = [e for e in (args.experiments or "").split(",") if e.strip()] or None
    report(tracker, out, experiments=experiments, command="hmrbench " + " ".join(sys.argv[1:]), progress=_progress)
    return 0


def runtime_command(args: argparse.Namespace) -> int:
    from bench.run.experiments import Group, load_experiment
    from bench.run.runner import run_experiment

    exp = load_experiment(args.experiment)
    if args.method:  # the given methods instead of the file's, with the file's first input set
        first = exp.groups[0]
        group = Group(methods=tuple(args.method), datasets=first.datasets, batch_sizes=first.batch_sizes,
                      repeats=first.repeats)  # fmt: skip
        exp = type(exp)(exp.name, exp.path, exp.title, (group,), exp.seeds, exp.description, exp.quick, exp.kind)
    if exp.kind != "runtime":
        from bench.errors import ConfigError

        raise ConfigError(f"runtime: {exp.path} is not a runtime experiment (kind = \"runtime\")")
    _check_workers(args)
    _check_before_writing([exp], quick=args.quick, device=args.device, data_root=args.data_root)
    out = _out_folder(args.out)
    tracker = _tracker(out, args.tracking_uri)
    rows_file = _RowsFile(out / f"{exp.name}{'-quick' if args.quick else ''}-{args.device.replace(':', '')}.csv")
    with _executor(args) as executor:
        results = run_experiment(exp, quick=args.quick, device=args.device, data_root=args.data_root,
                                 force=args.force, progress=_progress, tracker=tracker, sink=rows_file,
                                 executor=executor)  # fmt: skip
    if executor is not None:
        rows_file.rewrite(results.rows)
    return _finish(results, rows_file)


def paper_command(args: argparse.Namespace) -> int:
    import time as clock

    from bench.run.pipeline import PAPER_EXPERIMENTS, paper

    seeds, data_seed = _seeds(args.seeds), _data_seed(args.data_seed)  # checked before anything is written
    stopping = _early_stop(args)
    _check_workers(args)
    _check_before_writing(PAPER_EXPERIMENTS, quick=args.quick, device=args.device, data_root=args.data_root)
    out = _out_folder(args.out)
    tracker = _tracker(out, args.tracking_uri)
    start = clock.perf_counter()
    rows_file = _RowsFile(out / f"paper{'-quick' if args.quick else ''}.csv")
    with _executor(args) as executor:
        results, written = paper(tracker, out, quick=args.quick, seeds=seeds, data_seed=data_seed,
                                 device=args.device, data_root=args.data_root, force=args.force, progress=_progress,
                                 sink=rows_file, command="hmrbench " + " ".join(sys.argv[1:]),
                                 executor=executor, stopping=stopping)  # fmt: skip
    if executor is not None:
        rows_file.rewrite(results.rows)
    code = _finish(results, rows_file)
    where = f"report: {out / 'report' / 'index.html'}" if written else "no report (see above)"
    _progress(f"hmrbench paper{' --quick' if args.quick else ''}: done in {clock.perf_counter() - start:.0f} s; "
              f"{where}")  # fmt: skip
    return code


def sweep_command(args: argparse.Namespace) -> int:
    from bench.run.sweep import check_sweep, sweep

    data_seed = _data_seed(args.data_seed) or 0
    train = tuple(args.train or ("h36m[split=train]",))
    check_sweep(args.method, trials=args.trials, train=train, validation=args.validation, val_limit=args.val_limit,
                iterations=args.iterations, report_every=args.report_every, device=args.device,
                data_root=args.data_root)  # fmt: skip
    out = _out_folder(args.out)
    tracker = _tracker(out, args.tracking_uri)
    result = sweep(args.method, trials=args.trials, out=out, study=args.study, storage=args.storage, train=train,
                   validation=args.validation, val_limit=args.val_limit, iterations=args.iterations,
                   report_every=args.report_every, seed=args.seed, data_seed=data_seed, worker=args.worker,
                   device=args.device, data_root=args.data_root, tracker=tracker, progress=_progress)  # fmt: skip
    print(f"study {result.study}: {result.n_trials} trial(s) in all, {len(result.ran_here)} here; best validation "
          f"MPJPE {result.best_value:.1f} mm with {result.best_spec}")  # fmt: skip
    for key, path in result.files.items():
        print(f"  {key}: {path}")
    return 0


def _data_seed(text: str | None) -> int | None:
    """--data-seed as an integer >= 0 (None when not given: the experiment's own)."""
    from bench.errors import ConfigError

    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"--data-seed: expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise ConfigError(f"--data-seed: expected an integer >= 0, got {value}")
    return value


def _data_seed_arg(parser: argparse.ArgumentParser) -> None:
    """--data-seed: the seed of the test and training data, apart from the training seeds (--seeds)."""
    parser.add_argument("--data-seed", default=None, metavar="N",
                        help="seed the datasets are loaded (synthetic sets generated) with, the same for every "
                        "training seed (default: the experiment's data_seed, else 0)")  # fmt: skip


def _early_stop_arg(parser: argparse.ArgumentParser) -> None:
    """--early-stop: the training-length rule of every trained method (``bench.run.validation``)."""
    parser.add_argument("--early-stop", default=None, metavar="RULE",
                        help="training length: 'on' (default: score a held-out subject every log step, stop after "
                        "10 checks without a 0.1 mm gain, keep the best weights), 'off' (train every iteration), "
                        "or settings such as 'patience=5,min_delta_mm=0.2,val_limit=128' (default: the "
                        "experiment file's 'stopping', else on)")  # fmt: skip


def _output_args(parser: argparse.ArgumentParser) -> None:
    """--out and --tracking-uri, the same for every verb that writes results."""
    parser.add_argument("--out", default="hmrbench-out", metavar="DIR",
                        help="folder for everything written: rows (NAME.csv), trained models (models/), the tracking "
                        "store (mlflow.db, mlartifacts/), sweeps, report/; default ./hmrbench-out")  # fmt: skip
    parser.add_argument("--tracking-uri", default=None, metavar="URI",
                        help="MLflow tracking URI (default $MLFLOW_TRACKING_URI, else sqlite under --out)")


def _parallel_args(parser: argparse.ArgumentParser) -> None:
    """--workers, --scheduler and --threads, the same for every verb that runs units."""
    parser.add_argument("--workers", type=int, default=None, metavar="N", help="run the units on a local Dask "
                        "cluster of N worker processes (pip install -e '.[cluster]'); default: in this process")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS", help="run the units on an existing Dask "
                        "scheduler, e.g. tcp://host:8786 (one from dask-jobqueue's SLURMCluster on Slurm)")
    parser.add_argument("--threads", type=int, default=None, metavar="T", help="torch threads per process "
                        "(default $OMP_NUM_THREADS, else 1); workers x threads may not exceed the cores")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hmrbench",
        description="Benchmark suite for monocular whole-body human mesh recovery "
        "(Sun et al., 'Synthetic Training for Monocular Human Mesh Recovery').",
    )
    parser.add_argument("--version", action="version", version=f"hmrbench {__version__}")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)

    model = verbs.add_parser("model", help="the SMPL-X body model in use (real or embedded)")
    model_verbs = model.add_subparsers(dest="model_verb", metavar="ACTION", required=True)
    info = model_verbs.add_parser("info", help="which model is in use: path, hash, sizes, synthetic or not")
    info.add_argument(
        "--model-path",
        default=None,
        help="SMPL-X .npz/.pkl file or a folder laid out as smplx.create expects "
        "(default: $SMPLX_MODEL_PATH, else the embedded synthetic model)",
    )
    info.set_defaults(func=model_info_command)

    lst = verbs.add_parser("list", help="every method and dataset, their parameters, whether the data is there")
    lst.add_argument("--data-root", default=None, help="data root (default $HMRBENCH_DATA, else synthetic)")
    lst.set_defaults(func=list_command)

    run_p = verbs.add_parser(
        "run", help="train methods, score them on datasets, print MPJPE / PA-MPJPE (mm)",
        description="Run an experiment file (hmrbench run table2), or train each method (-m) on the training sets "
        "(--train) and score it on each dataset (-d). Specs are name[key=value,...], e.g. "
        "-m 'proposed[projection=wpp,iterations=2000]' -d 'h36m[protocol=p2]'.",
    )  # fmt: skip
    run_p.add_argument("experiment", nargs="?", metavar="EXPERIMENT",
                       help="a shipped experiment (table1-4, fig6, distance) or a TOML file; or use -m/-d")  # fmt: skip
    run_p.add_argument("-m", "--method", action="append", metavar="SPEC", help="method (repeatable)")
    run_p.add_argument("-d", "--dataset", action="append", metavar="SPEC", help="test set (repeatable)")
    run_p.add_argument("--train", action="append", metavar="SPEC", help="training set (repeatable; default none: "
                       "each method's own default, e.g. STS only for proposed, STB train for fhgr)")  # fmt: skip
    run_p.add_argument("--seeds", default=None, metavar="LIST",
                       help="training seeds, comma-separated (default: the experiment's, else 0)")  # fmt: skip
    _data_seed_arg(run_p)
    run_p.add_argument("--quick", action="store_true", help="the experiment's [quick] settings: fewer iterations")
    run_p.add_argument("--device", default="cpu", help="cpu (default) or cuda[:N]")
    run_p.add_argument("--limit", type=int, default=None, help="score at most N samples per set, evenly spaced")
    run_p.add_argument("--batch-size", type=int, default=256, help="prediction batch size (default 256)")
    run_p.add_argument("--data-root", default=None, help="data root (default $HMRBENCH_DATA, else synthetic)")
    _early_stop_arg(run_p)
    _output_args(run_p)
    run_p.add_argument("--force", action="store_true", help="redo finished units and retrain models that are "
                       "already in DIR/models")  # fmt: skip
    _parallel_args(run_p)
    run_p.set_defaults(func=run_command)

    rep = verbs.add_parser("report", help="tables, figures and index.html from the tracked results (runs nothing)",
                           description="Build OUT/report (Tables I-IV as Markdown, LaTeX and CSV with the paper's "
                           "numbers, paired tests, figures, sweeps, index.html) from the finished units in the "
                           "tracking store.")  # fmt: skip
    rep.add_argument("--experiments", default=None, metavar="LIST", help="only these experiments, comma-separated "
                     "(e.g. table1-quick,table2-quick; default every finished unit in the store)")  # fmt: skip
    _output_args(rep)
    rep.set_defaults(func=report_command)

    rt = verbs.add_parser("runtime", help="time each method per image at batch 1 and batched (Table IV)",
                          description="Runs the table4 runtime experiment (or EXPERIMENT): each method's predict on "
                          "given 2D keypoints, median of >= 5 timed calls after a warm-up, synchronised on a GPU.")
    rt.add_argument("experiment", nargs="?", default="table4", metavar="EXPERIMENT",
                    help="a runtime experiment file (default table4)")  # fmt: skip
    rt.add_argument("-m", "--method", action="append", metavar="SPEC", help="time these methods instead (repeatable)")
    rt.add_argument("--device", default="cpu", help="cpu (default) or cuda[:N]")
    rt.add_argument("--quick", action="store_true", help="the experiment's [quick] settings")
    rt.add_argument("--data-root", default=None, help="data root of the input samples (default $HMRBENCH_DATA, "
                    "else synthetic)")  # fmt: skip
    rt.add_argument("--force", action="store_true", help="time again even when the store has the same unit")
    _parallel_args(rt)
    _output_args(rt)
    rt.set_defaults(func=runtime_command)

    pp = verbs.add_parser("paper", help="regenerate Tables I-IV, Fig. 6 and the distance study, then the report",
                          description="Runs table1, table2, table3, fig6, distance and table4 (tracked, resumable: "
                          "run it again after an interruption and it continues), then builds OUT/report/index.html.")
    pp.add_argument("--quick", action="store_true", help="each experiment's [quick] settings (minutes, not the "
                    "paper's training length)")  # fmt: skip
    pp.add_argument("--seeds", default=None, metavar="LIST", help="training seeds, comma-separated (default: each "
                    "file's)")  # fmt: skip
    _data_seed_arg(pp)
    pp.add_argument("--device", default="cpu", help="cpu (default) or cuda[:N]")
    pp.add_argument("--data-root", default=None, help="data root (default $HMRBENCH_DATA, else synthetic)")
    pp.add_argument("--force", action="store_true", help="redo finished units and retrain cached models")
    _early_stop_arg(pp)
    _parallel_args(pp)
    _output_args(pp)
    pp.set_defaults(func=paper_command)

    sw = verbs.add_parser(
        "sweep", help="tune a method's loss weights and STS period with Optuna on a validation split",
        description="Optuna (seeded TPE, median pruning on the validation MPJPE) over w_pm, w_3d, w_2d, w_r and "
        "sts_period. Several processes given the same --study and --storage share one study (give each its own "
        "--worker). Writes DIR/sweeps/STUDY/best.toml and plots; every trial is an MLflow child run.",
    )  # fmt: skip
    sw.add_argument("method", metavar="METHOD", help="method spec; its values are the fixed part, e.g. "
                    "'proposed[iterations=2000]'")  # fmt: skip
    sw.add_argument("--trials", type=int, default=20, help="trials this process runs (default 20)")
    sw.add_argument("--study", default=None, help="study name (default: from the method, sets and seed)")
    sw.add_argument("--storage", default=None, metavar="URL", help="Optuna storage (default sqlite under --out; "
                    "any RDB URL, e.g. postgresql://..., to share a study between machines)")  # fmt: skip
    sw.add_argument("--train", action="append", metavar="SPEC", help="training set (repeatable; default "
                    "h36m[split=train])")  # fmt: skip
    sw.add_argument("--validation", default=None, metavar="SPEC", help="validation set (default: the last "
                    "subject of the first training set, held out of training)")  # fmt: skip
    sw.add_argument("--val-limit", type=int, default=256, help="validation samples, evenly spaced (default 256)")
    sw.add_argument("--iterations", type=int, default=None, help="training iterations per trial (default: the "
                    "method's)")  # fmt: skip
    sw.add_argument("--report-every", type=int, default=None, help="iterations between validation scores for "
                    "pruning (default a fifth of the training)")  # fmt: skip
    sw.add_argument("--seed", type=int, default=0, help="seed of the training and of the sampler")
    _data_seed_arg(sw)
    sw.add_argument("--worker", type=int, default=0, help="worker number when several processes share a study")
    sw.add_argument("--device", default="cpu", help="cpu (default) or cuda[:N]")
    sw.add_argument("--data-root", default=None, help="data root (default $HMRBENCH_DATA, else synthetic)")
    _output_args(sw)
    sw.set_defaults(func=sweep_command)

    data = verbs.add_parser("data", help="datasets: list them, write synthetic sets, check a data root")
    data_verbs = data.add_subparsers(dest="data_verb", metavar="ACTION", required=True)
    dlist = data_verbs.add_parser("list", help="registered datasets, their settings and where their data comes from")
    dlist.add_argument(
        "--data-root",
        default=None,
        help="real-data root holding panoptic/, h36m/, stb/ (default: $HMRBENCH_DATA, else synthetic)",
    )
    dlist.set_defaults(func=data_list_command)
    synth = data_verbs.add_parser("synth", help="write a synthetic set in a dataset's real file format")
    synth.add_argument("dataset", metavar="DATASET", help="panoptic, h36m or stb (see 'hmrbench data list')")
    synth.add_argument("--out", required=True, help="folder to write (the dataset's own folder, e.g. DATA/panoptic)")
    synth.add_argument("--frames", type=int, default=None, help="frames per sequence (default: the dataset's default)")
    synth.add_argument("--seed", type=int, default=0, help="random seed (same seed, same files)")
    synth.add_argument(
        "--noise",
        choices=("detector", "none"),
        default="detector",
        help="2D inputs: detector-noise model (default) or exact projections",
    )
    synth.add_argument("--force", action="store_true", help="write into a non-empty folder")
    synth.set_defaults(func=data_synth_command)
    check = data_verbs.add_parser("check", help="validate a data root (or one dataset folder) and print counts")
    check.add_argument("folder", metavar="DIR", help="a data root or one dataset folder")
    check.add_argument("--dataset", default=None, help="check DIR as this dataset (when its name does not say)")
    check.set_defaults(func=data_check_command)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except HmrbenchError as exc:
        print(f"hmrbench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("hmrbench: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return 0
