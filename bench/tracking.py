"""MLflow tracking: where every run's config, metrics, rows and artifacts are kept, and where resuming looks.

The store is, in order: ``--tracking-uri``, ``$MLFLOW_TRACKING_URI``, else a SQLite store ``OUT/mlflow.db`` with its
artifacts in ``OUT/mlartifacts`` (``mlflow ui --backend-store-uri sqlite:///OUT/mlflow.db`` shows it). All runs
go to one MLflow experiment (``hmrbench`` by default): one parent run per hmrbench experiment invocation (reused
when the same experiment is run again) and one child run per unit (a method trained and scored on its sets for one
seed), tagged ``hmrbench.unit`` with the unit's key.

- A unit whose key has a FINISHED run is done: the runner takes its rows from the store instead of redoing it.
- A unit that raised is ended FAILED (the error in the tag ``hmrbench.error``); an interrupted one KILLED. A run
  left RUNNING by a process that died is marked KILLED by the next invocation, which redoes the unit.
- A tracking server that cannot be reached is an error naming the URI before anything is trained
  (``Tracker.connect``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import subprocess
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from bench import __version__
from bench.errors import TrackingError

__all__ = ["Tracker", "device_name", "environment_tags", "file_lock", "resolve_tracking_uri"]

UNIT_TAG = "hmrbench.unit"
KIND_TAG = "hmrbench.kind"
PARENT_TAG = "hmrbench.parent_key"
_PROBE_SECONDS = 5.0


@contextlib.contextmanager
def file_lock(path: str | os.PathLike) -> Iterator[None]:
    """An exclusive lock on ``path`` (created) between processes on this machine: several processes creating one
    SQLite store at once (two sweep workers started together) would otherwise race on its tables."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock (start workers one after the other there)
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def resolve_tracking_uri(out: str | os.PathLike, uri: str | None = None) -> str:
    """``uri``, else ``$MLFLOW_TRACKING_URI``, else the SQLite store under ``out``."""
    found = uri or os.environ.get("MLFLOW_TRACKING_URI")
    if found:
        return found
    return f"sqlite:///{(Path(out).resolve() / 'mlflow.db').as_posix()}"


def device_name(device: str) -> str:
    """The CPU model or the GPU's name, as a report should print it."""
    if str(device).startswith("cuda"):
        import torch

        return torch.cuda.get_device_name(torch.device(device))
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} ({os.cpu_count()} cores)"
    except OSError:
        pass
    return f"{platform.processor() or platform.machine()} ({os.cpu_count()} cores)"


def _git_commit() -> str:
    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=5, check=True).stdout.strip()  # fmt: skip
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip()  # fmt: skip
        return head + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"


def environment_tags(device: str) -> dict[str, str]:
    """Tags every run carries: code version, library versions, device."""
    import mlflow
    import numpy
    import optuna
    import torch

    return {
        "hmrbench.git_commit": _git_commit(), "hmrbench.version": __version__, "torch": torch.__version__,
        "mlflow": mlflow.__version__, "optuna": optuna.__version__, "numpy": numpy.__version__,
        "python": platform.python_version(), "device": str(device), "device_name": device_name(device),
    }  # fmt: skip


def _clean_key(text: str) -> str:
    """An MLflow metric/param key: letters, digits and ``_-. /`` only."""
    return "".join(c if c.isalnum() or c in "_-. /" else "_" for c in text).strip("_") or "_"


class Tracker:
    """One MLflow store (module docstring). ``connect`` before anything else; every MLflow failure becomes a
    ``TrackingError`` that names the URI."""

    def __init__(self, out: str | os.PathLike, uri: str | None = None, experiment: str = "hmrbench") -> None:
        self.out = Path(out).resolve()
        self.uri = resolve_tracking_uri(self.out, uri)
        self.experiment = experiment
        self.local = self.uri.startswith("sqlite:///") and uri is None and "MLFLOW_TRACKING_URI" not in os.environ
        self._client: Any = None
        self.experiment_id = ""

    # --- connection ---------------------------------------------------------------------------------------------
    def connect(self) -> Tracker:
        """Reach the store (fail fast on an unreachable server), create the MLflow experiment if needed."""
        if self.uri.startswith(("http://", "https://")):
            self._probe()
            os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
            os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
        import mlflow  # noqa: F401  (imported here so that the log levels below stick)

        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        for name in ("mlflow", "alembic"):  # after the import, which sets mlflow's own levels
            logging.getLogger(name).setLevel(logging.WARNING)
        local = self.uri.startswith("sqlite:///")
        lock = file_lock(self.uri[len("sqlite:///"):] + ".lock") if local else contextlib.nullcontext()
        try:
            with lock:
                self._open()
        except Exception as exc:  # noqa: BLE001  (any MLflow/SQLAlchemy failure: say which store)
            raise TrackingError(f"tracking store {self.uri}: {type(exc).__name__}: {exc}") from None
        return self

    def _open(self) -> None:
        from mlflow.tracking import MlflowClient

        self._client = MlflowClient(tracking_uri=self.uri)  # a new SQLite store gets its tables on first use
        found = self._client.get_experiment_by_name(self.experiment)
        if found is None:
            artifacts = (self.out / "mlartifacts").as_uri() if self.uri.startswith("sqlite:") else None
            self.experiment_id = self._client.create_experiment(self.experiment, artifact_location=artifacts)
        else:
            self.experiment_id = found.experiment_id

    def _probe(self) -> None:
        url = self.uri.rstrip("/") + "/health"
        try:
            urllib.request.urlopen(url, timeout=_PROBE_SECONDS).close()
        except urllib.error.HTTPError:
            return  # the server answered (a proxy or an MLflow without /health): reachable
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise TrackingError(
                f"tracking server {self.uri} cannot be reached ({reason}); nothing was run. Start the server, or "
                "unset MLFLOW_TRACKING_URI / drop --tracking-uri to use the local store under --out"
            ) from None

    @property
    def client(self) -> Any:
        if self._client is None:
            raise RuntimeError("Tracker.connect() first")
        return self._client

    def _call(self, what: str, fn, *args, **kwargs):  # noqa: ANN001, ANN202
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001
            raise TrackingError(f"tracking store {self.uri}: {what} failed: {type(exc).__name__}: {exc}") from None

    # --- runs ---------------------------------------------------------------------------------------------------
    def _search(self, filter_string: str, max_results: int = 1000) -> list[Any]:
        return self._call("search", self.client.search_runs, [self.experiment_id], filter_string,
                          max_results=max_results, order_by=["attributes.start_time DESC"])  # fmt: skip

    def parent(self, key: str, name: str, params: Mapping[str, Any], tags: Mapping[str, str]) -> str:
        """The parent run of an experiment invocation: the existing one with the same key (set running again),
        else a new one."""
        found = self._search(f"tags.`{PARENT_TAG}` = '{key}'", max_results=1)
        if found:
            run_id = found[0].info.run_id
            self._call("update", self.client.update_run, run_id, status="RUNNING")
            return run_id
        run = self._call("create run", self.client.create_run, self.experiment_id, run_name=name,
                         tags={**tags, PARENT_TAG: key, KIND_TAG: "experiment"})  # fmt: skip
        self.log_params(run.info.run_id, params)
        return run.info.run_id

    def finished_unit(self, key: str) -> str | None:
        """The newest FINISHED run of unit ``key``, or None."""
        found = self._search(f"tags.`{UNIT_TAG}` = '{key}' and attributes.status = 'FINISHED'", max_results=1)
        return found[0].info.run_id if found else None

    def mark_abandoned(self, key: str) -> int:
        """Runs of unit ``key`` left RUNNING by a process that died: marked KILLED; returns how many."""
        stale = self._search(f"tags.`{UNIT_TAG}` = '{key}' and attributes.status = 'RUNNING'")
        for run in stale:
            self.end(run.info.run_id, "KILLED", "the process running it stopped before it finished")
        return len(stale)

    def start(self, name: str, tags: Mapping[str, str], params: Mapping[str, Any], parent: str | None = None,
              kind: str = "unit") -> str:  # fmt: skip
        """A new run (a child of ``parent`` when given)."""
        tags = {**tags, KIND_TAG: kind, **({"mlflow.parentRunId": parent} if parent else {})}
        run = self._call("create run", self.client.create_run, self.experiment_id, run_name=name, tags=tags)
        self.log_params(run.info.run_id, params)
        return run.info.run_id

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        from mlflow.entities import Param

        items = [Param(_clean_key(k), str(v)[:6000]) for k, v in params.items()]
        for i in range(0, len(items), 100):
            self._call("log params", self.client.log_batch, run_id, params=items[i : i + 100])

    def log_metrics(self, run_id: str, metrics: Mapping[str, float], step: int = 0) -> None:
        import math
        import time

        from mlflow.entities import Metric

        stamp = int(time.time() * 1000)
        items = [Metric(_clean_key(k), float(v), stamp, step) for k, v in metrics.items() if math.isfinite(float(v))]
        for i in range(0, len(items), 500):
            self._call("log metrics", self.client.log_batch, run_id, metrics=items[i : i + 500])

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        for k, v in tags.items():
            self._call("set tag", self.client.set_tag, run_id, k, str(v)[:5000])

    def log_files(self, run_id: str, files: Iterable[str | os.PathLike], folder: str | None = None) -> None:
        for f in files:
            self._call(f"log artifact {f}", self.client.log_artifact, run_id, str(f), folder)

    def end(self, run_id: str, status: str = "FINISHED", error: str | None = None) -> None:
        if error:
            self.set_tags(run_id, {"hmrbench.error": error})
        self._call("end run", self.client.set_terminated, run_id, status)

    def download(self, run_id: str, path: str, dst: str | os.PathLike) -> Path:
        return Path(self._call(f"download {path}", self.client.download_artifacts, run_id, path, str(dst)))

    # --- results ------------------------------------------------------------------------------------------------
    def unit_runs(self, experiments: Iterable[str] | None = None) -> list[Any]:
        """The newest FINISHED run of each unit key (optionally of some hmrbench experiments only)."""
        runs = self._search(f"tags.`{KIND_TAG}` = 'unit' and attributes.status = 'FINISHED'", max_results=50000)
        wanted = set(experiments) if experiments else None
        newest: dict[str, Any] = {}
        for run in runs:  # newest first
            key = run.data.tags.get(UNIT_TAG, run.info.run_id)
            if key not in newest and (wanted is None or run.data.tags.get("hmrbench.experiment") in wanted):
                newest[key] = run
        return list(newest.values())

    def load_tables(self, run_ids: Iterable[str]) -> tuple[Any, Any]:
        """(rows, per-sample errors) DataFrames read from the ``rows.csv`` / ``per_sample.csv.gz`` artifacts. A file
        written before the data seed existed gets its training seed as ``data_seed`` (the runner loaded the sets
        with it then)."""
        import pandas as pd

        from bench.results import read_rows

        def read(path: Path) -> Any:
            frame = read_rows(path)
            if "data_seed" not in frame and "seed" in frame:  # written before the data seed existed: the runner
                frame["data_seed"] = frame["seed"]  # loaded the sets with the training seed then
            return frame

        rows, samples = [], []
        with tempfile.TemporaryDirectory() as tmp:
            for i, run_id in enumerate(run_ids):
                dst = Path(tmp) / str(i)
                dst.mkdir()
                names = {a.path for a in self._call("list artifacts", self.client.list_artifacts, run_id)}
                if "rows.csv" in names:
                    rows.append(read(self.download(run_id, "rows.csv", dst)))
                if "per_sample.csv.gz" in names:
                    samples.append(read(self.download(run_id, "per_sample.csv.gz", dst)))
        cat = lambda frames: pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()  # noqa: E731
        return cat(rows), cat(samples)
