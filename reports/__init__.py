"""reports of hmrbench (uses bench/, never the reverse except through the registry).

Tables I-IV, the paired tests, the claims and the figures of the paper (from the shipped experiments' rows), a
table and figures per user experiment under its own title, and one HTML page, built from tidy result rows alone:
:func:`build_report` writes them all; :func:`validate_rows` checks the rows' columns (ConfigError naming any
missing one).
"""

from __future__ import annotations

from reports.build import build_report
from reports.rows import validate_per_sample, validate_rows

__all__ = ["build_report", "validate_per_sample", "validate_rows"]
