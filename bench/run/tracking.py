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
- An existing SQLite store file is checked before MLflow opens it (``check_store_file``): an empty, foreign or
  damaged ``mlflow.db`` is an error naming the file and the ways out, never silently recreated.
- A folder the store cannot write (read-only, full, not a folder) is one error naming the path and the OS's reason;
  MLflow's own log lines and tracebacks are held back (``Tracker.check_writable`` probes before any training).
- An output folder can be moved or copied: the default store's artifact locations (absolute in MLflow) are
  repointed to ``OUT/mlartifacts`` when opened, and read from there when the recorded path is gone.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import platform
import sqlite3
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from bench import __version__
from bench.errors import ConfigError, TrackingError

__all__ = [
    "Tracker", "check_store_file", "check_writable", "database_url", "device_name", "environment_tags", "file_lock",
    "out_folder", "resolve_tracking_uri",
]  # fmt: skip

UNIT_TAG = "hmrbench.unit"
KIND_TAG = "hmrbench.kind"
PARENT_TAG = "hmrbench.parent_key"
_PROBE_SECONDS = 5.0
SERVER_RETRIES = 3  # a tracking server that refused a call: tried again this often (Tracker._call)
SERVER_RETRY_SECONDS = 2.0  # first wait, doubling: 2 + 4 + 8 s
_REFUSED = ("connection refused", "failed to establish a new connection")
_UNREACHABLE = ("max retries exceeded", "connection aborted", "connection reset", "remote end closed", "timed out",
                "too many 500 error responses", "too many 502 error", "too many 503 error", "too many 504 error")
_SQLITE_MAGIC = b"SQLite format 3\x00"
_MLFLOW_LOGGERS = ("mlflow", "alembic", "sqlalchemy.engine")
# What SQLite says when the OS refuses a write to the store file, and the reason to show for it.
_SQLITE_WRITE_ERRORS = {
    "readonly database": os.strerror(errno.EROFS).lower() + " or no write permission",
    "database or disk is full": os.strerror(errno.ENOSPC).lower(),
    "unable to open database file": "cannot be opened or created",
    "disk i/o error": os.strerror(errno.EIO).lower(),
}
# OS errors that mean a file or folder cannot be written (a missing file, read back, is not one of them)
_WRITE_ERRNOS = {errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT, errno.ENOTDIR, errno.EISDIR,
                 errno.EIO}  # fmt: skip


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


def database_url(url: str) -> str:
    """A ``postgresql://`` URL with the driver that is installed: SQLAlchemy 2.1 reads a bare ``postgresql://`` as
    psycopg 3, so with only psycopg2 (the ``cluster`` extra's ``psycopg2-binary``) it is rewritten to
    ``postgresql+psycopg2://``. Any other URL, or one naming its driver, is returned as given."""
    import importlib.util

    scheme, sep, rest = url.partition("://")
    if sep and scheme.lower() == "postgresql" and importlib.util.find_spec("psycopg") is None:
        if importlib.util.find_spec("psycopg2") is not None:
            return f"postgresql+psycopg2://{rest}"
    return url


def resolve_tracking_uri(out: str | os.PathLike, uri: str | None = None) -> str:
    """``uri``, else ``$MLFLOW_TRACKING_URI``, else the SQLite store under ``out``; a PostgreSQL store's URL with
    the installed driver (``database_url``)."""
    found = uri or os.environ.get("MLFLOW_TRACKING_URI")
    if found:
        return database_url(found)
    return f"sqlite:///{(Path(out).resolve() / 'mlflow.db').as_posix()}"


def _sqlite_file(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI, else None."""
    return Path(uri[len("sqlite:///") :].split("?", 1)[0]) if uri.startswith("sqlite:///") else None


def _file_path(uri: str) -> Path:
    """The local path of a ``file:`` URI."""
    return Path(urllib.request.url2pathname(urllib.parse.urlparse(uri).path))


def _store_refused(path: Path, what: str) -> TrackingError:
    return TrackingError(
        f"tracking store {path} {what}. It was left as it is and nothing was run; the results beside it (the CSV "
        f"files, mlartifacts/, models/, report/) are not touched. Restore {path.name} from a backup, or move it aside "
        f"(mv {path} {path}.damaged) to start a new store there (finished units are then redone; their CSV rows "
        "stay), or use another --out"
    )


def check_store_file(path: str | os.PathLike) -> None:
    """An existing SQLite store file MLflow cannot use, or would silently start afresh over (an empty file): a
    ``TrackingError`` naming the file, what is wrong with it and the ways out. A file that does not exist yet is
    fine (MLflow creates it). ``PRAGMA quick_check`` reads each page once: milliseconds for a store of a few MB."""
    path = Path(path)
    if not path.exists():
        return
    if path.is_dir():
        raise _store_refused(path, "is a folder, not an SQLite database file")
    if not path.is_file():  # a pipe or a device: reading it could wait forever
        raise _store_refused(path, "is not a regular file (a pipe or a device?)")
    try:
        with path.open("rb") as handle:
            head = handle.read(len(_SQLITE_MAGIC))
    except OSError as exc:
        raise _store_refused(path, f"cannot be read ({exc.strerror or exc})") from None
    if not head:
        raise _store_refused(path, "is empty (0 bytes): the runs it recorded are gone (a full disk, a copy cut short?)")
    if head != _SQLITE_MAGIC:
        raise _store_refused(path, "is not an SQLite database (it does not start with the SQLite header)")
    try:
        # mode=rw never creates a file; it opens read-only where the file or disk cannot be written
        con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True, timeout=30)
        try:
            found = [str(row[0]) for row in con.execute("PRAGMA quick_check")]
            tables = {row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            con.close()
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            return  # another process is writing it: not damage (MLflow waits for it)
        raise _store_refused(path, f"cannot be read as a database ({exc})") from None
    except sqlite3.DatabaseError as exc:
        raise _store_refused(path, f"is damaged ({exc})") from None
    if found != ["ok"]:
        raise _store_refused(path, f"is damaged (SQLite's quick_check: {'; '.join(found[:3])})")
    if tables and "experiments" not in tables:
        raise _store_refused(path, "is an SQLite database but not an MLflow store (it has no 'experiments' table)")


@contextlib.contextmanager
def _mlflow_logs_held() -> Iterator[None]:
    """MLflow's (and alembic's, SQLAlchemy's) log records held back while a call runs: passed on when it succeeds,
    dropped when it fails, where the ``TrackingError`` says what failed in one line (MLflow logs a database error
    at ERROR level with its traceback, then raises it)."""
    held: list[logging.LogRecord] = []

    class _Hold(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            held.append(record)

    hold = _Hold()
    loggers = [logging.getLogger(name) for name in _MLFLOW_LOGGERS]
    saved = [(logger.handlers, logger.propagate) for logger in loggers]
    for logger in loggers:
        logger.handlers, logger.propagate = [hold], False
    succeeded = False
    try:
        yield
        succeeded = True
    finally:
        for logger, (handlers, propagate) in zip(loggers, saved, strict=True):
            logger.handlers, logger.propagate = handlers, propagate
        for record in held if succeeded else ():
            owner = next(lg for lg in loggers if record.name == lg.name or record.name.startswith(lg.name + "."))
            owner.handle(record)


def _refused(exc: BaseException) -> bool:
    """Whether ``exc`` (or an exception it came from) is a server refusing the connection."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, ConnectionRefusedError) or any(phrase in str(exc).lower() for phrase in _REFUSED):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` (or an exception it came from) is the connection to a server failing: reset, aborted, timed
    out, or a server error (5xx) after MLflow's own retries."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        text = str(exc).lower()
        if isinstance(exc, (ConnectionError, TimeoutError)) or any(p in text for p in _UNREACHABLE):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _os_failure(exc: BaseException, store: Path | None) -> tuple[str, str, bool] | None:
    """(path, the OS's reason, whether it is a refused write) when ``exc`` or an exception it came from is the
    operating system failing on a file: an OSError naming its file, or SQLite failing to write the store file
    ``store``; else None."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno is not None and exc.filename:
            return os.fsdecode(exc.filename), (exc.strerror or str(exc)).lower(), exc.errno in _WRITE_ERRNOS
        text = str(exc).lower()
        for phrase, reason in _SQLITE_WRITE_ERRORS.items():
            if store is not None and phrase in text:
                return str(store), reason, True
        exc = exc.__cause__ or exc.__context__
    return None


def _probe(folder: Path) -> str | None:
    """None when ``folder`` (created with its parents when missing) takes a new file (a small one is written,
    synced to disk and removed); else what is wrong, to follow the folder's name in a message, and the folders
    created for the check are removed again."""
    above = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if above is not None and not above.is_dir():
        return "is a file, not a folder" if above == folder else f"lies under {above}, a file, not a folder"
    created = [p for p in (folder, *folder.parents) if not p.exists()]  # deepest first
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        wrong = f"cannot be created ({(exc.strerror or str(exc)).lower()})"
    else:
        try:
            handle, name = tempfile.mkstemp(prefix=".hmrbench-write-check-", dir=folder)
            try:
                os.write(handle, b"hmrbench write check\n")
                os.fsync(handle)  # a full disk may refuse only here
            finally:
                os.close(handle)
                os.unlink(name)
            return None
        except OSError as exc:
            wrong = f"cannot be written ({(exc.strerror or str(exc)).lower()})"
    for made in created:
        with contextlib.suppress(OSError):
            made.rmdir()
    return wrong


def check_writable(folder: str | os.PathLike, what: str = "folder") -> Path:
    """``folder`` (created with its parents when missing) resolved, after a small file was written in it and
    removed; a ``TrackingError`` naming ``what``, the folder and the OS's reason otherwise (read-only, no
    permission, no space, a file). Call it before anything is trained: a trained model then never waits on a
    folder it cannot be saved to."""
    folder = Path(folder).expanduser().resolve()
    wrong = _probe(folder)
    if wrong is not None:
        raise TrackingError(f"{what} {folder} {wrong}; make it writable (or free space), or use another --out")
    return folder


def out_folder(text: str | os.PathLike) -> Path:
    """The output folder ``--out text`` resolved, created and checked writable; a ``ConfigError`` naming it when it
    is a file, lies under a file, cannot be created (``/proc/x``, a read-only disk) or cannot be written."""
    out = Path(text).expanduser().resolve()
    wrong = _probe(out)
    if wrong is not None:
        shown = str(text) if Path(str(text)) == out else f"{text} ({out})"
        raise ConfigError(f"--out {shown} {wrong}; give a folder that can be created and written")
    return out


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
    ``TrackingError`` that names the URI, or the path and the OS's reason when a file could not be written or read.
    ``relocated_from``: the artifact location the default store recorded before its output folder was moved or
    copied (repointed to ``OUT/mlartifacts`` by ``connect``), else None."""

    def __init__(self, out: str | os.PathLike, uri: str | None = None, experiment: str = "hmrbench") -> None:
        self.out = Path(out).resolve()
        self.uri = resolve_tracking_uri(self.out, uri)
        self.experiment = experiment
        self.local = self.uri.startswith("sqlite:///") and uri is None and "MLFLOW_TRACKING_URI" not in os.environ
        self._client: Any = None
        self._store_file = _sqlite_file(self.uri)
        self.experiment_id = ""
        self.artifact_location = ""
        self.relocated_from: str | None = None
        self.lost: str | None = None  # why the store stopped taking calls in this process (``_call``), else None

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
        lock = file_lock(f"{self._store_file}.lock") if self._store_file else contextlib.nullcontext()
        try:
            with lock:
                if self._store_file is not None:
                    check_store_file(self._store_file)  # before MLflow, which would start afresh over an empty file
                    if self.local:
                        self._repoint()
                with _mlflow_logs_held():
                    self._open()
        except TrackingError:
            raise
        except Exception as exc:  # noqa: BLE001  (any MLflow/SQLAlchemy/OS failure: say which store or path)
            raise self._error("open", exc) from None
        return self

    def _open(self) -> None:
        from mlflow.tracking import MlflowClient

        self._client = MlflowClient(tracking_uri=self.uri)  # a new SQLite store gets its tables on first use
        found = self._client.get_experiment_by_name(self.experiment)
        if found is None:
            artifacts = (self.out / "mlartifacts").as_uri() if self.uri.startswith("sqlite:") else None
            self.experiment_id = self._client.create_experiment(self.experiment, artifact_location=artifacts)
            found = self._client.get_experiment(self.experiment_id)
        self.experiment_id = found.experiment_id
        self.artifact_location = found.artifact_location or ""

    def _repoint(self) -> None:
        """The default store keeps its artifacts in ``OUT/mlartifacts``, but MLflow records that folder as an
        absolute URI (the experiment's, and each run's below it): in a moved or copied output folder MLflow would
        read, and write, the old place. Rewrite this experiment's recorded locations to ``OUT/mlartifacts`` (one
        SQLite transaction; nothing else changes). A store that cannot be written keeps them, and reads map the old
        paths instead (``_artifact_uri``)."""
        if self._store_file is None or not self._store_file.is_file():
            return
        want = (self.out / "mlartifacts").as_uri()
        con = sqlite3.connect(self._store_file, timeout=30)
        try:
            with con:
                found = con.execute("SELECT experiment_id, artifact_location FROM experiments WHERE name = ?",
                                    (self.experiment,)).fetchall()  # fmt: skip
                for experiment_id, old in found:
                    if not old or old == want:
                        continue
                    con.execute("UPDATE experiments SET artifact_location = ? WHERE experiment_id = ?",
                                (want, experiment_id))  # fmt: skip
                    con.execute("UPDATE runs SET artifact_uri = ? || substr(artifact_uri, ?) WHERE experiment_id = ? "
                                "AND substr(artifact_uri, 1, ?) = ?",
                                (want, len(old) + 1, experiment_id, len(old) + 1, f"{old}/"))  # fmt: skip
                    self.relocated_from = old
        except sqlite3.OperationalError:  # a store without tables yet, or one that cannot be written: reads map
            self.relocated_from = None
        finally:
            con.close()

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
        """``fn(*args, **kwargs)`` (an MLflow call); its failure as one ``TrackingError``, MLflow's logs held back.
        A tracking server that refused the connection (down or restarting) is tried again ``SERVER_RETRIES`` times,
        ``SERVER_RETRY_SECONDS`` apart, doubling: a refused request never reached the server, so repeating it
        cannot log anything twice. A local store is not retried. A call that still fails sets ``lost``: the
        runner then does the remaining units untracked (``bench.run.units.tracked_unit``)."""
        server = self.uri.startswith(("http://", "https://"))
        for attempt in range(SERVER_RETRIES + 1):
            try:
                with _mlflow_logs_held():
                    return fn(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001
                if not (server and attempt < SERVER_RETRIES and _refused(exc)):
                    error = self._error(what, exc)
                    if self._gone(exc, server):
                        self.lost = str(error)
                    raise error from None
            time.sleep(SERVER_RETRY_SECONDS * 2**attempt)

    def _gone(self, exc: BaseException, server: bool) -> bool:
        """Whether ``exc`` says the store stopped taking calls (not that one call was wrong): a server that cannot
        be reached or cut the connection, or the OS refusing a write to the store (read-only, full)."""
        if server and (_refused(exc) or _unreachable(exc)):
            return True
        found = _os_failure(exc, self._store_file)
        return found is not None and found[2]

    def _error(self, what: str, exc: BaseException) -> TrackingError:
        """The one-line error for a failed MLflow call: the path and the OS's reason when a file could not be
        written or read (the artifact folder, mlflow.db), else the URI and the error's first line."""
        found = _os_failure(exc, self._store_file)
        if found is None:
            first = (str(exc).strip().splitlines() or [""])[0]
            return TrackingError(f"tracking store {self.uri}: {what} failed: {type(exc).__name__}: {first}")
        path, reason, write = found
        if write:
            return TrackingError(f"cannot write {path} ({reason}): {what} failed in the tracking store {self.uri}; "
                                 "make that folder writable (or free space), or use another --out")  # fmt: skip
        return TrackingError(f"{path}: {reason}: {what} failed in the tracking store {self.uri}")

    def check_writable(self) -> None:
        """Before anything is trained: the output folder, the SQLite store's folder and file and a local artifact
        folder take new files; a ``TrackingError`` naming the first that does not (``check_writable``)."""
        folders = [(self.out, "output folder")]
        if self._store_file is not None:
            folders.append((self._store_file.parent, "tracking store folder"))
        if self.artifact_location.startswith("file:"):
            folders.append((_file_path(self.artifact_location), "artifact folder"))
        elif not self.artifact_location and self._store_file is not None:
            folders.append((self.out / "mlartifacts", "artifact folder"))
        named: dict[Path, str] = {}
        for folder, what in folders:  # the default store's folder is the output folder: probed once
            named.setdefault(folder, what)
        for folder, what in named.items():
            check_writable(folder, what)
        if self._store_file is not None and self._store_file.is_file():
            try:
                self._store_file.open("ab").close()  # opened for writing, nothing written
            except OSError as exc:
                raise TrackingError(f"tracking store {self._store_file} cannot be written "
                                    f"({(exc.strerror or str(exc)).lower()}); make it writable, or use another "
                                    "--out") from None  # fmt: skip

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

    def get_run(self, run_id: str) -> Any:
        """The MLflow run ``run_id`` (its info, params, tags, metrics)."""
        return self._call(f"get run {run_id}", self.client.get_run, run_id)

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

    def log_curve(self, run_id: str, history: Sequence[Mapping[str, Any]], prefix: str = "train/") -> int:
        """A method's training history (``fit``'s ``history``: entries ``{"iteration": i, "total": ..., <each loss
        term>, "samples_per_s": ...}``) as step metrics ``<prefix><key>`` at step ``i``, so that ``mlflow ui`` draws
        each curve (a collapsing run shows in its loss terms). Non-numeric and non-finite values are left out;
        returns how many points were logged."""
        import math
        import time

        from mlflow.entities import Metric

        stamp = int(time.time() * 1000)
        items = []
        for entry in history:
            step = int(entry.get("iteration", 0))
            for key, value in entry.items():
                if key == "iteration" or isinstance(value, bool) or not isinstance(value, (int, float)):
                    continue
                if math.isfinite(value):
                    items.append(Metric(_clean_key(f"{prefix}{key}"), float(value), stamp, step))
        for i in range(0, len(items), 500):
            self._call("log curve", self.client.log_batch, run_id, metrics=items[i : i + 500])
        return len(items)

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

    def _artifact_uri(self, run_id: str) -> str:
        """Where run ``run_id``'s artifacts are: as recorded, except in the default store whose output folder was
        moved without the store being repointed (read-only): the same place under ``OUT/mlartifacts``."""
        uri = self.get_run(run_id).info.artifact_uri
        if self.local and uri.startswith("file:"):
            recorded = _file_path(uri)
            if not recorded.exists() and "mlartifacts" in recorded.parts:
                below = recorded.parts[len(recorded.parts) - recorded.parts[::-1].index("mlartifacts") :]
                moved = self.out.joinpath("mlartifacts", *below)
                if moved.exists():
                    return moved.as_uri()
        return uri

    def download(self, run_id: str, path: str, dst: str | os.PathLike, artifact_uri: str | None = None) -> Path:
        """Artifact ``path`` of run ``run_id`` copied into ``dst`` (``artifact_uri``: the run's, when known)."""
        import mlflow.artifacts

        uri = artifact_uri or self._artifact_uri(run_id)
        return Path(self._call(f"download {path}", mlflow.artifacts.download_artifacts, artifact_uri=f"{uri}/{path}",
                               dst_path=str(dst), tracking_uri=self.uri))  # fmt: skip

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
        with it then). A run without ``rows.csv`` (every finished unit logs one) is a ``TrackingError`` naming the
        run and the place its artifacts should be."""
        import mlflow.artifacts
        import pandas as pd

        from bench.run.results import read_rows

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
                uri = self._artifact_uri(run_id)
                listed = self._call("list artifacts", mlflow.artifacts.list_artifacts, artifact_uri=uri,
                                    tracking_uri=self.uri)  # fmt: skip
                names = {a.path.rsplit("/", 1)[-1] for a in listed}  # listed relative to the folder above
                if "rows.csv" not in names:
                    where = _file_path(uri) if uri.startswith("file:") else uri
                    raise TrackingError(
                        f"MLflow run {run_id} is recorded finished but its rows.csv is missing from {where} (were "
                        f"the artifacts moved or deleted?): restore that folder, or redo the unit with --force "
                        f"(tracking store {self.uri})"
                    )
                rows.append(read(self.download(run_id, "rows.csv", dst, uri)))
                if "per_sample.csv.gz" in names:
                    samples.append(read(self.download(run_id, "per_sample.csv.gz", dst, uri)))
        cat = lambda frames: pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()  # noqa: E731
        return cat(rows), cat(samples)
