"""JSON files of the dataset formats: reading with errors that name the file, writing exact float64."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.errors import DataFileError


def load_json(path: Path) -> Any:
    """Parse a JSON file; a missing, unreadable or malformed file raises DataFileError naming it."""
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise DataFileError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise DataFileError(f"{path}: cannot read: Is a directory (a folder, not a JSON file)") from None
    except UnicodeDecodeError as e:
        raise DataFileError(f"{path}: not UTF-8 text, so not JSON (byte {e.start}: {e.reason})") from None
    except OSError as e:
        raise DataFileError(f"{path}: cannot read: {e.strerror or e}") from None
    if not text.strip():
        raise DataFileError(f"{path}: empty file (JSON expected)")
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise DataFileError(f"{path}: malformed JSON (cut short or damaged?): {e}") from None


def dump_json(path: Path, data: Any) -> None:
    """Write `data` (creating parent folders); float repr round-trips float64 exactly; NaN is refused."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        json.dump(data, f, allow_nan=False)
