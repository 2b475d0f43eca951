"""Ways to damage an input file, shared by the bad-input tests (``tests/bad_inputs/test_<format>.py``).

Each helper changes one file in place (the tests work on copies in ``tmp_path``). ``unreadable`` works when the
tests run as root too, where ``chmod 000`` does not stop a read: it makes opening that one path raise
PermissionError, the error a user without read permission gets.
"""

from __future__ import annotations

import builtins
import io
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

__all__ = ["JSON_DAMAGE", "as_directory", "assert_names", "empty", "garbage", "truncate", "unreadable"]

GARBAGE = bytes(range(256)) * 4  # not text, not JSON, not a zip, not a pickle, not a MAT file


def truncate(path: Path, fraction: float = 0.5) -> Path:
    """Keep the first ``fraction`` of the file's bytes (a download or copy cut short)."""
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[: int(len(data) * fraction)])
    return Path(path)


def empty(path: Path) -> Path:
    """A zero-byte file."""
    Path(path).write_bytes(b"")
    return Path(path)


def garbage(path: Path) -> Path:
    """Bytes that are no known format."""
    Path(path).write_bytes(GARBAGE)
    return Path(path)


def as_directory(path: Path) -> Path:
    """The file replaced by an (empty) folder of the same name."""
    path = Path(path)
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()
    path.mkdir(parents=True)
    return path


def unreadable(path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Reading ``path`` raises PermissionError (mode 000, and ``open`` refuses it, so this holds as root)."""
    path = Path(path)
    target = os.path.realpath(path)
    os.chmod(path, 0)
    real_open, real_os_open = builtins.open, os.open

    def refuse(file: Any) -> None:
        if isinstance(file, str | bytes | os.PathLike) and os.path.realpath(os.fsdecode(file)) == target:
            raise PermissionError(13, "Permission denied", os.fsdecode(file))

    def guarded_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        refuse(file)
        return real_open(file, *args, **kwargs)

    def guarded_os_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        refuse(file)
        return real_os_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded_open)
    monkeypatch.setattr(io, "open", guarded_open)
    monkeypatch.setattr(os, "open", guarded_os_open)
    return path


def assert_names(error: BaseException | str, *parts: str | os.PathLike) -> None:
    """The message of ``error`` contains every one of ``parts`` (a file, a field, a value)."""
    text = str(error)
    for part in parts:
        assert os.fspath(part) in text, f"message does not name {os.fspath(part)!r}: {text}"


# Every way a JSON file can be damaged, with what the reader's message must say: for
# ``@pytest.mark.parametrize(("damage", "parts"), JSON_DAMAGE)``, ``damage(path, monkeypatch)``.
JSON_DAMAGE = [
    pytest.param(lambda p, mp: truncate(p), ("malformed JSON",), id="truncated"),
    pytest.param(lambda p, mp: empty(p), ("empty file",), id="empty"),
    pytest.param(lambda p, mp: garbage(p), ("not UTF-8 text",), id="garbage"),
    pytest.param(lambda p, mp: as_directory(p), ("cannot read", "Is a directory"), id="directory"),
    pytest.param(lambda p, mp: unreadable(p, mp), ("cannot read", "Permission denied"), id="unreadable"),
]
