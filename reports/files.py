"""Atomic file writes for the report folder.

Every file goes through ``bench.files.atomic_write`` (a temporary file beside it, moved over it with
``os.replace``), so a reader, or a crash half-way, never sees a half-written report file.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from matplotlib.figure import Figure

from bench.files import atomic_write

__all__ = ["copy_file", "save_figure", "write_text"]


_atomic = atomic_write  # bench.files: the one atomic write of the project


def write_text(path: Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns ``path``."""
    return _atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def save_figure(figure: Figure, path: Path, *, dpi: int = 120) -> Path:
    """Save ``figure`` as PNG to ``path`` atomically; returns ``path``."""
    return _atomic(path, lambda tmp: figure.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight"))


def copy_file(source: Path, path: Path) -> Path:
    """Copy ``source`` to ``path`` atomically (contents and modification time); returns ``path``."""
    return _atomic(path, lambda tmp: shutil.copy2(source, tmp))
