"""Where units run and with how many threads: in this process one after another (the default), or as tasks on a
Dask cluster (``--workers N``: a local cluster of N worker processes; ``--scheduler ADDRESS``: an existing
``dask.distributed`` scheduler, e.g. one started by dask-jobqueue's ``SLURMCluster``).

Why Dask: pure Python and pip-installable, a local cluster on one machine and the same code on many through a
scheduler address, Slurm / PBS / SGE through dask-jobqueue, and a task that fails or whose worker dies comes back
to the caller as an error instead of hanging the run. Dask is optional (``pip install -e ".[cluster]"``): without
``--workers`` / ``--scheduler`` it is never imported.

Each unit (one method, one seed, one group: ``bench.run.runner``) is one task (``UnitCall``). A worker trains or
loads the model, scores it and logs its child run in the tracking store itself; the parent collects each unit's
``Results`` as it finishes, hands it to the sink (the rows file) and prints units done / running / failed and an
ETA. The returned results are in plan order, whatever order the units finished in, so 1 or N workers give the same
rows. Two units sharing a training key never train it at the same time: ``bench.run.runner`` holds a file lock per
training key in the model cache folder while it trains or loads.

Threads: one torch thread per process by default, in this process as in each worker (``bench.run.threads``); on
this machine workers x threads may not exceed the cores.

A scheduler address is asked who it is before anything is written (``check_scheduler``): nothing listening there,
or something that is not a Dask scheduler, or no answer within ``SCHEDULER_TIMEOUT_S`` is one ``ConfigError``
naming the address (``distributed.Client`` alone retries a refused address until its timeout and waits forever on a
port that accepts but never answers).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import importlib.util
import os
import socket
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from bench.errors import ConfigError, HmrbenchError
from bench.run.runner import run
from bench.run.runtime import runtime
from bench.run.threads import THREAD_VARIABLES, choose_threads, positive_int, set_threads
from bench.run.units import Results, UnitCall, keep_loaded_sets

__all__ = ["CLUSTER_EXTRA", "SCHEDULER_TIMEOUT_S", "DaskExecutor", "check_scheduler", "check_workers", "executor_for",
           "run_call"]  # fmt: skip

CLUSTER_EXTRA = 'pip install -e ".[cluster]"'
SCHEDULER_TIMEOUT_S = 30.0  # a scheduler address must answer within this (check_scheduler, the client's connect)


def check_workers(workers: int | None, scheduler: str | None, threads: int | None = None) -> None:
    """Before anything is written: ConfigError unless ``workers`` is None or an integer >= 1, at most one of
    ``workers`` / ``scheduler`` is given, the threads fit the cores (``choose_threads``) and, with either,
    ``dask.distributed`` is installed (the error says how to install it)."""
    if workers is not None:
        positive_int("--workers", workers)
    if workers is not None and scheduler:
        raise ConfigError("give --workers N (a local cluster) or --scheduler ADDRESS (an existing one), not both")
    choose_threads(threads, workers or 1, local=not scheduler)
    if (workers is not None or scheduler) and importlib.util.find_spec("distributed") is None:
        raise ConfigError(f"--workers / --scheduler need dask.distributed, which is not installed: {CLUSTER_EXTRA}")
    if scheduler:
        check_scheduler(scheduler)


def check_scheduler(address: str, timeout: float | None = None) -> dict[str, Any]:
    """The identity of the Dask scheduler at ``address`` (its ``workers`` among others), asked over Dask's own
    protocol within ``timeout`` seconds (default ``SCHEDULER_TIMEOUT_S``); a ``ConfigError`` naming the address when
    nothing listens there (at once, for a plain TCP address), nothing answers in time, or what answers is not a
    scheduler (a worker's address, say). Addresses of other protocols (tls://, ucx://) are left to the client."""
    from distributed.comm import connect
    from distributed.comm.addressing import parse_address, parse_host_port
    from distributed.comm.registry import backends

    timeout = SCHEDULER_TIMEOUT_S if timeout is None else timeout
    try:
        scheme, location = parse_address(address)
        if scheme not in backends:
            raise ValueError(f"unknown protocol {scheme!r}, not one of {', '.join(sorted(backends))}")
        if scheme != "tcp":
            return {}
        host, port = parse_host_port(location, 8786)
    except ValueError as exc:
        raise ConfigError(f"--scheduler {address}: not a Dask scheduler address ({exc}); "
                          "give tcp://HOST:PORT") from None  # fmt: skip
    try:  # a refused connection at once (Dask's connect would retry it until its timeout)
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        raise ConfigError(f"--scheduler {address}: no Dask scheduler listens there ({type(exc).__name__}: {exc}); "
                          "start one (dask scheduler) or check the address") from None  # fmt: skip

    async def identity() -> Any:
        comm = await connect(address, timeout=timeout)
        try:
            await comm.write({"op": "identity"})
            return await comm.read()
        finally:
            await comm.close()

    # in a thread of its own: asyncio.run cannot run inside a caller's event loop (a notebook)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        try:
            info = pool.submit(asyncio.run, asyncio.wait_for(identity(), timeout)).result()
        except (OSError, TimeoutError, ValueError, EOFError) as exc:
            why = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            raise ConfigError(f"--scheduler {address}: no Dask scheduler answered within {timeout:g} s "
                              f"({why})") from None  # fmt: skip
    kind = info.get("type") if isinstance(info, dict) else None
    if kind != "Scheduler":
        raise ConfigError(f"--scheduler {address}: what answers there is not a Dask scheduler "
                          f"({kind or type(info).__name__}); give the scheduler's address") from None  # fmt: skip
    return info


def run_call(call: UnitCall, tracker: Any, progress: Callable[[str], None] | None, parent: str | None = None) -> Any:
    """Do one unit (``UnitCall``) in this process and return its ``bench.run.units.Results``."""
    fn = runtime if call.kind == "runtime" else run
    return fn(**call.kwargs, tracker=tracker, parent=parent, progress=progress)


# --- on a worker ----------------------------------------------------------------------------------------------------
_TRACKERS: dict[tuple[str, str | None], Any] = {}


def _worker_say(message: str) -> None:
    try:
        from distributed import get_worker

        who = get_worker().name
    except (ImportError, ValueError):
        who = os.getpid()
    print(f"[worker {who}] {message}", file=sys.stderr, flush=True)


def _worker_tracker(out: str | None, uri: str | None, expected: str | None) -> Any:
    """The tracking store of this worker process (connected once): ``uri``, or the default store under ``out``
    (the parent's own when it used the default); a TrackingError when it resolves to another store."""
    if out is None:
        return None
    from bench.errors import TrackingError
    from bench.run.tracking import Tracker

    key = (out, uri)
    if key not in _TRACKERS:
        tracker = Tracker(out, uri)
        if tracker.uri != expected:
            raise TrackingError(f"a worker resolves the tracking store to {tracker.uri}, the caller uses {expected}; "
                                "give --tracking-uri (or the same $MLFLOW_TRACKING_URI) to both")  # fmt: skip
        _TRACKERS[key] = tracker.connect()
    return _TRACKERS[key]


def _work(call: UnitCall, threads: int, store: tuple[str | None, str | None, str | None], parent: str | None) -> Any:
    """The task a worker runs: set its threads, keep loaded sets for the next unit, do the unit."""
    set_threads(threads)
    keep_loaded_sets(True)
    return run_call(call, _worker_tracker(*store), _worker_say, parent)


# --- on the caller --------------------------------------------------------------------------------------------------
def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


class DaskExecutor:
    """Units as Dask tasks (module docstring). Use as a context manager: ``with DaskExecutor(workers=2) as ex:
    ex.map(calls, tracker=..., sink=...)``. ``workers``: a local cluster of that many worker processes (one task at
    a time each); ``scheduler``: the address of an existing scheduler (its workers should run one thread each,
    ``--nthreads 1``); ``threads``: torch threads per worker (``choose_threads``)."""

    def __init__(self, workers: int | None = None, scheduler: str | None = None, threads: int | None = None,
                 progress: Callable[[str], None] | None = None) -> None:  # fmt: skip
        check_workers(workers, scheduler, threads)
        if workers is None and not scheduler:
            raise ConfigError("DaskExecutor: give workers or a scheduler address")
        self.workers, self.scheduler = workers, scheduler
        self.threads = choose_threads(threads, workers or 1, local=workers is not None)
        self.say = progress or (lambda message: None)
        self._client: Any = None
        self._cluster: Any = None

    def __enter__(self) -> DaskExecutor:
        try:
            import dask
            import distributed
        except ImportError:
            raise ConfigError(f"--workers / --scheduler need dask.distributed, which is not installed: "
                              f"{CLUSTER_EXTRA}") from None  # fmt: skip
        import logging

        logging.getLogger("distributed").setLevel(logging.ERROR)
        # one task per worker thread at a time: none waits on a busy worker while another is idle
        dask.config.set({"distributed.scheduler.worker-saturation": 1.0})
        if self.workers is not None:
            env = {name: str(self.threads) for name in THREAD_VARIABLES}
            self._cluster = distributed.LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                                     dashboard_address=None, env=env,
                                                     silence_logs=logging.ERROR)  # fmt: skip
            self._client = distributed.Client(self._cluster)
            where = f"a local Dask cluster of {self.workers} worker process(es)"
        else:
            try:
                self._client = distributed.Client(self.scheduler, timeout=SCHEDULER_TIMEOUT_S)
            except (OSError, TimeoutError, ValueError) as exc:
                raise ConfigError(f"--scheduler {self.scheduler}: cannot connect to the Dask scheduler "
                                  f"({type(exc).__name__}: {exc})") from None  # fmt: skip
            where = f"the Dask scheduler {self.scheduler} ({len(self._client.scheduler_info()['workers'])} workers)"
        self.say(f"hmrbench: units run on {where}, {self.threads} torch thread(s) each")
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            self._client.close()
        if self._cluster is not None:
            with contextlib.suppress(Exception):
                self._cluster.close()

    @property
    def address(self) -> str:
        """The scheduler's address (of the local cluster, or the one given), to pass on as ``--scheduler``."""
        return self._client.scheduler.address

    def _slots(self) -> int:
        try:
            return max(1, sum(w.get("nthreads", 1) for w in self._client.scheduler_info()["workers"].values()))
        except Exception:  # noqa: BLE001 - only for the progress line
            return self.workers or 1

    def map(self, calls: Sequence[UnitCall], *, tracker: Any = None, parents: dict[str, str | None] | None = None,
            sink: Callable[[Any], None] | None = None) -> list[Any]:  # fmt: skip
        """Do every call as a task; returns their ``Results`` in the order of ``calls``. ``parents``: the parent
        run of each experiment. A unit whose task raised (its worker died, ...) is a failed unit; an
        ``HmrbenchError`` (bad data, an unreachable store) stops the run, as it does in one process."""
        from distributed import as_completed

        if tracker is None:
            store = (None, None, None)
        else:
            store = (str(tracker.out), None if tracker.local else tracker.uri, tracker.uri)
        parents = parents or {}
        futures = {self._client.submit(_work, call, self.threads, store, parents.get(call.experiment), pure=False,
                                       key=f"unit-{i}-{call.name}"): i for i, call in enumerate(calls)}  # fmt: skip
        found: list[Any] = [None] * len(calls)
        done = failed = 0
        start = time.perf_counter()
        try:
            for future in as_completed(futures):
                i = futures[future]
                call = calls[i]
                try:
                    unit = future.result()
                except HmrbenchError:
                    raise
                except Exception as exc:  # noqa: BLE001  (the worker died, the task could not run: the unit failed)
                    unit = Results(failures=[(call.name, f"{type(exc).__name__}: {exc}")])
                found[i] = unit
                done += 1
                failed += bool(unit.failures)
                if sink is not None:
                    sink(unit)
                left = len(calls) - done
                elapsed = time.perf_counter() - start
                eta = f"; ETA {_minutes(elapsed / done * left)}" if left else ""
                what = "FAILED" if unit.failures else "taken from the store" if unit.reused else "done"
                self.say(f"hmrbench: [{done}/{len(calls)} units done, {min(left, self._slots())} running, {failed} "
                         f"failed{eta}] {call.name}: {what}")  # fmt: skip
        except BaseException:
            self._client.cancel(list(futures))
            raise
        return found


@contextlib.contextmanager
def executor_for(workers: int | None, scheduler: str | None, threads: int | None,
                 progress: Callable[[str], None] | None) -> Iterator[DaskExecutor | None]:  # fmt: skip
    """A started ``DaskExecutor`` when ``workers`` or ``scheduler`` is given, else None (units run in this
    process, which then computes with ``choose_threads(threads)`` torch threads)."""
    if workers is None and not scheduler:
        set_threads(choose_threads(threads))
        yield None
        return
    with DaskExecutor(workers, scheduler, threads, progress) as executor:
        yield executor
