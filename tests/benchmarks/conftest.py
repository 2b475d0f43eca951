"""Benchmarks run only with ``--benchmark-only`` (``nox -s bench``); a plain test run skips them."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _benchmark_only(request):
    if not request.config.getoption("benchmark_only", False):
        pytest.skip("benchmarks run only with --benchmark-only")
