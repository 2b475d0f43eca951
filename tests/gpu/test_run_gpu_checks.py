"""The prepared GPU script (``tests/gpu/run_gpu_checks.sh``) checked without a GPU, so a lent GPU's minutes are not
spent on its plumbing: its shell syntax, its usage error, its stop with a clear reason where there is no CUDA (exit
2, nothing else run), and a whole run on the CPU in its smoke mode (``HMRBENCH_GPU_CHECKS_DEVICE=cpu``,
``HMRBENCH_GPU_CHECKS_SMOKE=1``: no install, a few of the gpu tests on the CPU, the lifter's runtime, the report)
with every file it promises in OUTDIR. Not marked ``gpu``: it runs in CI (about 50 s on 2 cores).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "gpu" / "run_gpu_checks.sh"
FETCH = ROOT / "tests" / "gpu" / "fetch_wheels.sh"
TOP_FILES = {"summary.txt", "env.log", "install.log", "pytest.log", "pytest-junit.xml", "runtime.log", "report.log",
             "hmrbench-out.tar.gz"}  # fmt: skip


def run(args: list[str], env: dict[str, str], timeout: float = 150) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT), *args], cwd=ROOT, env={**os.environ, **env}, capture_output=True,
                          text=True, timeout=timeout)  # fmt: skip


@pytest.mark.parametrize("script", [SCRIPT, FETCH])
def test_scripts_parse(script):
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True).returncode == 0


def test_usage_without_outdir():
    done = run([], {})
    assert done.returncode == 64 and "usage:" in done.stderr


def test_no_cuda_stops_with_the_reason_and_exit_2(tmp_path):
    done = run([str(tmp_path / "out")], {"HMRBENCH_GPU_PYTHON": sys.executable, "HMRBENCH_GPU_CHECKS_DEVICE": "cuda",
                                         "PATH": f"{tmp_path}:{os.environ['PATH']}"}, timeout=60)  # fmt: skip
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    summary = (tmp_path / "out" / "summary.txt").read_text()
    assert done.returncode == 2, done.stdout + done.stderr
    assert "NO CUDA" in summary and "torch.cuda.is_available() is False" in summary
    assert not (tmp_path / "out" / "pytest.log").exists()  # nothing else was run


def test_a_cpu_smoke_run_goes_through_every_step(tmp_path, embedded_cache):
    """As on the device tool: OUTDIR is what comes back (8 files), the output folder is elsewhere."""
    out, store = tmp_path / "gpu checks", tmp_path / "store"  # a space in the path on purpose
    done = run([str(out)], {"HMRBENCH_GPU_CHECKS_DEVICE": "cpu", "HMRBENCH_GPU_CHECKS_SMOKE": "1",
                            "HMRBENCH_GPU_PYTHON": sys.executable, "OMP_NUM_THREADS": "1",
                            "HMRBENCH_GPU_STORE": str(store)})  # fmt: skip
    summary = (out / "summary.txt").read_text()
    assert done.returncode == 0, summary + done.stderr
    assert {p.name for p in out.iterdir()} == TOP_FILES and (store / "report" / "table4.md").is_file()
    for step in ("versions", "pytest", "runtime", "report"):
        assert any(line.startswith(step) and "rc=0" in line for line in summary.splitlines()), step
    assert "install          skipped" in summary and "all steps passed" in summary
    assert "testsuite" in (out / "pytest-junit.xml").read_text()
    assert "lifter: batch 1:" in summary and "ms per image" in summary
    assert "Table IV: runtime" in summary  # the report's table copied into the summary
    with tarfile.open(out / "hmrbench-out.tar.gz") as tar:
        names = tar.getnames()
    assert "store/report/table4.md" in names and "store/mlflow.db" in names


def test_a_failed_step_does_not_stop_the_others_and_the_exit_code_says_so(tmp_path, embedded_cache):
    """The install step fails (a venv that sees no site-packages, no wheel folder: the packages are missing) and
    runtime and report run out of time (1 s limits); the tests still run on the python given, and the script exits 1
    naming the failed steps."""
    out = tmp_path / "out"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "venv")], check=True)  # reused
    done = run([str(out)], {"HMRBENCH_GPU_CHECKS_DEVICE": "cpu", "HMRBENCH_GPU_CHECKS_SMOKE": "1",
                            "HMRBENCH_GPU_CHECKS_INSTALL": "1", "HMRBENCH_GPU_VENV": str(tmp_path / "venv"),
                            "HMRBENCH_GPU_WHEELS": str(tmp_path / "no-wheels"), "HMRBENCH_GPU_PYTHON": sys.executable,
                            "OMP_NUM_THREADS": "1", "T_RUNTIME": "1", "T_REPORT": "1"})  # fmt: skip
    summary = (out / "summary.txt").read_text()
    assert done.returncode == 1, summary
    assert "MISSING PACKAGES" in summary and "fetch_wheels.sh" in summary
    assert "runtime          rc=124" in summary and "(time limit 1 s)" in summary
    assert "FAILED: install runtime report" in summary
    assert any(line.startswith("pytest") and "rc=0" in line for line in summary.splitlines())


def test_the_run_stops_within_its_budget(tmp_path):
    """HMRBENCH_GPU_CHECKS_BUDGET cuts each step's limit to what is left and runs no step once it is spent."""
    out = tmp_path / "out"
    done = run([str(out)], {"HMRBENCH_GPU_CHECKS_DEVICE": "cpu", "HMRBENCH_GPU_PYTHON": sys.executable,
                            "HMRBENCH_GPU_CHECKS_BUDGET": "11"}, timeout=60)  # fmt: skip
    summary = (out / "summary.txt").read_text()
    assert done.returncode == 1, summary
    assert "not run: the budget of 11 s is spent" in summary and "FAILED:" in summary and "pytest" in summary
    assert not (out / "pytest.log").exists()
