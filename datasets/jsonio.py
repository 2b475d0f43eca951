"""JSON files of the dataset formats: reading with errors that name the file, writing exact float64."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.errors import DataFileError


def load_json(path: Path) -> Any:
    """Parse a JSON file; a missing, unreadable or malformed file raises DataFileError naming it."""
    try:
        with path.open(encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise DataFileError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise DataFileError(f"{path}: cannot read: {e}") from None
    except json.JSONDecodeError as e:
        raise DataFileError(f"{path}: malformed JSON: {e}") from None


def dump_json(path: Path, data: Any) -> None:
    """Write `data` (creating parent folders); float repr round-trips float64 exactly; NaN is refused."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        json.dump(data, f, allow_nan=False)
