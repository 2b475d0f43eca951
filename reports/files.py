"""Atomic file writes for the report folder.

Every file is written as ``<name>.tmp`` in its destination folder and then moved over ``<name>`` with
``os.replace`` (atomic on one file system), so a reader, or a crash half-way, never sees a half-written report
file; the temporary file is removed when writing fails.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from matplotlib.figure import Figure

__all__ = ["copy_file", "save_figure", "write_text"]


def _atomic(path: Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` then move ``tmp`` onto ``path``; the folder is created when missing."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def write_text(path: Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns ``path``."""
    return _atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def save_figure(figure: Figure, path: Path, *, dpi: int = 120) -> Path:
    """Save ``figure`` as PNG to ``path`` atomically; returns ``path``."""
    return _atomic(path, lambda tmp: figure.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight"))


def copy_file(source: Path, path: Path) -> Path:
    """Copy ``source`` to ``path`` atomically (contents and modification time); returns ``path``."""
    return _atomic(path, lambda tmp: shutil.copy2(source, tmp))
