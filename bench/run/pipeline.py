"""The suite's main jobs over the tracked results: ``report`` (tables, figures, HTML from the store alone) and
``paper`` (every experiment of the paper, then the report).

``paper`` runs, in order: table1, table2, table3, sts_value, fig6, distance (accuracy) and table4 (runtime), each
tracked and resumable (finished units are taken from the store, trained models from ``OUT/models``), then builds
the report from the store. With ``quick`` each experiment's ``[quick]`` settings are used and the experiment names
carry ``-quick``, so quick and full results never mix in one table. With an ``executor``
(``bench.run.executors.DaskExecutor``: ``--workers`` / ``--scheduler``) the units of every experiment are tasks
submitted at once, so the workers stay busy across experiments; the report waits for all of them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.errors import ConfigError
from bench.registry import report_builder

__all__ = ["PAPER_EXPERIMENTS", "paper", "report"]

PAPER_EXPERIMENTS = ("table1", "table2", "table3", "sts_value", "fig6", "distance", "table4")


def _sweeps(out: Path) -> list[dict[str, Any]]:
    found = []
    for path in sorted((out / "sweeps").glob("*/sweep.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"{path}: unreadable sweep summary: {exc}") from None
        found.append({k: data[k] for k in ("name", "method", "best_value", "n_trials", "best_config", "plots")
                      if k in data})  # fmt: skip
    return found


def _titles(tracker: Any, runs: Sequence[Any]) -> dict[str, str]:
    """Experiment name -> its title, read from the ``title`` param of the parent run of its units (the runner logs
    the experiment file's title there); an experiment whose title cannot be read is left out (the report then
    names it by its name)."""
    parents: dict[str, str] = {}
    for run in runs:
        name, parent = run.data.tags.get("hmrbench.experiment", ""), run.data.tags.get("mlflow.parentRunId", "")
        if name and parent:
            parents.setdefault(name, parent)
    titles = {}
    for name, parent in parents.items():
        try:
            title = tracker.get_run(parent).data.params.get("title", "")
        except Exception:  # noqa: BLE001 - a parent run that cannot be read costs the title only, not the report
            continue
        if title:
            titles[name] = str(title)
    return titles


def report(
    tracker: Any,
    out: str | os.PathLike,
    *,
    experiments: Sequence[str] | None = None,
    command: str = "",
    progress: Callable[[str], None] | None = None,
) -> dict[str, Path]:
    """Build the report in ``OUT/report`` from the finished units in the tracking store (nothing is run):
    ``experiments`` keeps those experiments' units only (default: every unit in the store). Each experiment's title
    comes from its parent run (a user's own experiment is shown under it). ConfigError when there is nothing to
    draw: no finished unit, or finished units whose rows files hold no row."""
    say = progress or (lambda message: None)
    out = Path(out)
    runs = tracker.unit_runs(experiments)
    which = f" of {', '.join(experiments)}" if experiments else ""
    if not runs:
        raise ConfigError(f"report: no finished unit{which} in the tracking store {tracker.uri}; run an experiment "
                          "first (e.g. hmrbench paper --quick)")  # fmt: skip
    rows, samples = tracker.load_tables([r.info.run_id for r in runs])
    say(f"report: {len(runs)} finished unit(s), {len(rows)} rows from {tracker.uri}")
    if len(rows) == 0:
        raise ConfigError(f"report: nothing to draw: the {len(runs)} finished unit(s){which} in the tracking store "
                          f"{tracker.uri} hold no result row (their rows.csv files are empty); redo them with "
                          "--force")  # fmt: skip
    tags = runs[0].data.tags
    sources = sorted({v for r in runs for k, v in r.data.tags.items() if k.startswith("data_source.") and v})
    settings = {
        "command": command or "hmrbench report", "tracking store": tracker.uri,
        "experiments": ", ".join(sorted({r.data.tags.get("hmrbench.experiment", "") for r in runs})),
        "units": str(len(runs)), "data sources": "; ".join(sources) or "-",
        "body model sha256": ", ".join(sorted({r.data.tags.get("model_sha256", "") for r in runs} - {""})) or "-",
        "hmrbench commit": ", ".join(sorted({r.data.tags.get("hmrbench.git_commit", "") for r in runs})),
        "torch / mlflow / optuna": f"{tags.get('torch', '')} / {tags.get('mlflow', '')} / {tags.get('optuna', '')}",
    }  # fmt: skip
    build = report_builder()
    written = build(rows, out / "report", per_sample=samples if len(samples) else None, sweeps=_sweeps(out),
                    settings=settings, titles=_titles(tracker, runs))  # fmt: skip
    run_id = tracker.start("report", {"hmrbench.experiment": "report"}, {"experiments": settings["experiments"],
                           "units": len(runs)}, kind="report")  # fmt: skip
    tracker.log_files(run_id, [written[name] for name in sorted(written)], "report")
    tracker.end(run_id, "FINISHED")
    say(f"report: {len(written)} files in {out / 'report'} (also logged to MLflow run {run_id}); open "
        f"{out / 'report' / 'index.html'}")  # fmt: skip
    return written


def paper(
    tracker: Any,
    out: str | os.PathLike,
    *,
    quick: bool = False,
    experiments: Sequence[Any] = PAPER_EXPERIMENTS,
    seeds: Sequence[int] | None = None,
    data_seed: int | None = None,
    device: str = "cpu",
    data_root: Any = None,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
    sink: Callable[[Any], None] | None = None,
    command: str = "",
    executor: Any = None,
    stopping: Any = None,
) -> tuple[Any, dict[str, Path]]:
    """Run the paper's experiments (or ``experiments``: names, paths or ``Experiment`` objects) and build the
    report from the store; returns (``bench.run.units.Results``, the report's files). ``seeds``: the training seeds,
    ``data_seed``: the seed of every dataset (default: each file's). Failed units are recorded and reported; the
    report is built from whatever finished. ``executor``: where the units run (module docstring). ``stopping``: the
    training-length rule of every unit (``bench.run.validation.parse_stopping``; None: each file's, else on)."""
    from bench.run.experiments import Experiment, load_experiment
    from bench.run.runner import run_experiments

    loaded = [e if isinstance(e, Experiment) else load_experiment(e) for e in experiments]
    if quick:
        loaded = [e.quick_version() for e in loaded]
    # all files are loaded (and so checked) before the first one runs
    results = run_experiments(loaded, seeds=seeds, data_seed=data_seed, device=device, data_root=data_root,
                              models=Path(out) / "models", force=force, progress=progress, tracker=tracker, sink=sink,
                              executor=executor, stopping=stopping)  # fmt: skip
    if tracker.lost is not None:  # the report is built from the store, which holds only part of the units
        (progress or print)(f"paper: no report: the tracking store stopped answering ({tracker.lost}); run "
                            "`hmrbench report` once it is back and the missing units are logged")  # fmt: skip
        return results, {}
    written = report(tracker, out, experiments=[e.name for e in loaded], command=command, progress=progress)
    return results, written
