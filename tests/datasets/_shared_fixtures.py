"""Where the real sample files live: $HMRBENCH_FIXTURES, else ``../shared/fixtures`` beside the repository.

Tests that read them skip with a reason when the folder (or the file they need) is absent; the files are never
copied into the repository (imported by the dataset tests of this folder).
"""

from __future__ import annotations

import os
from pathlib import Path

FIXTURES = Path(os.environ.get("HMRBENCH_FIXTURES") or Path(__file__).resolve().parents[3] / "shared" / "fixtures")
