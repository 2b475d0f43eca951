"""Atomic file writes, the one way every result, model, sweep output and report file is written.

``write(tmp)`` fills a temporary file beside the destination, named for this process (several sweep workers may
write the same output at once), which ``os.replace`` then moves over the destination: a reader, or a crash half-way,
never sees a half-written file. The temporary file is removed when writing fails.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

__all__ = ["atomic_write"]


def atomic_write(path: str | os.PathLike, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)``, then move ``tmp`` onto ``path`` (its folder created when missing); returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
