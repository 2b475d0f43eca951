"""Threads per process: units are dominated by the overhead of small tensor operations, so one torch thread per
process is the deliberate default (``choose_threads``); on a busy 2-core machine two torch threads made 400
training iterations take 199-361 s against 15 s with one. ``--threads T`` (or ``$OMP_NUM_THREADS``) changes it;
on this machine processes x threads may not exceed the cores. Every row records the threads, the cores and the
load average when its unit finished (``thread_fields``).
"""

from __future__ import annotations

import math
import os
from typing import Any

from bench.errors import ConfigError

__all__ = ["THREAD_VARIABLES", "available_cores", "choose_threads", "positive_int", "set_threads", "thread_fields"]


THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def available_cores() -> int:
    """The CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name} must be >= 1 (an integer), got {value!r}")
    return value


def choose_threads(threads: int | None = None, workers: int = 1, *, local: bool = True) -> int:
    """Torch threads per process: ``threads``, else ``$OMP_NUM_THREADS`` when set, else 1 (module docstring).
    On this machine (``local``) ``workers`` x threads may not exceed ``available_cores()``: a ConfigError naming
    the numbers otherwise."""
    if threads is None:
        given = os.environ.get("OMP_NUM_THREADS", "").strip()
        try:
            threads = int(given) if given else 1
        except ValueError:
            raise ConfigError(f"$OMP_NUM_THREADS must be an integer >= 1, got {given!r}") from None
        name = "$OMP_NUM_THREADS" if given else "threads"
    else:
        name = "--threads"
    positive_int(name, threads)
    cores = available_cores()
    if local and workers * threads > cores:
        raise ConfigError(f"{workers} process(es) x {threads} thread(s) ({name}) = {workers * threads} threads "
                          f"on {cores} core(s) would oversubscribe them; keep --workers x --threads <= {cores}")
    return threads


def set_threads(threads: int) -> None:
    """This process computes with ``threads`` torch threads; processes it starts inherit the same OpenMP / MKL /
    OpenBLAS settings."""
    import torch

    torch.set_num_threads(threads)
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)


def thread_fields() -> dict[str, Any]:
    """A row's ``threads`` (torch's, in this process), ``cores`` (``available_cores``) and ``load_avg`` (the
    machine's 1-minute load average now; NaN where the OS has none)."""
    import torch

    try:
        load = round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        load = math.nan
    return {"threads": torch.get_num_threads(), "cores": available_cores(), "load_avg": load}
