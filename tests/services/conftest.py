"""Fixtures for the tests against real services: the PostgreSQL server and MLflow tracking server that
``.ci/services.sh start`` runs (their URLs in ``HMRBENCH_TEST_POSTGRES_URL`` / ``HMRBENCH_TEST_MLFLOW_URI``; the
tests that need one skip with a reason when it is unset), a private PostgreSQL server a test may stop
(``private_postgres``; skipped without the server binaries or psycopg2), and a tiny synthetic h36m data root."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from bench.cli import main

PG_ENV = "HMRBENCH_TEST_POSTGRES_URL"
MLFLOW_ENV = "HMRBENCH_TEST_MLFLOW_URI"


@pytest.fixture(scope="session")
def postgres_url() -> str:
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"no PostgreSQL server: {PG_ENV} is unset (.ci/services.sh start, then source its env file)")
    pytest.importorskip("psycopg2", reason="the cluster extra (psycopg2-binary) is not installed")
    return url


@pytest.fixture(scope="session")
def mlflow_uri() -> str:
    uri = os.environ.get(MLFLOW_ENV)
    if not uri:
        pytest.skip(f"no MLflow tracking server: {MLFLOW_ENV} is unset (.ci/services.sh start, then source its env)")
    return uri


@pytest.fixture(scope="session")
def root(tmp_path_factory, embedded_cache) -> Path:
    """A tiny synthetic data root: h36m, one frame per sequence, seed 0 (as the end-to-end tests' root)."""
    root = tmp_path_factory.mktemp("services-root")
    assert main(["data", "synth", "h36m", "--out", str(root / "h36m"), "--frames", "1", "--seed", "0"]) == 0
    return root


def _pg_bin() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    return Path(dirs[-1]) if dirs and Path(dirs[-1], "initdb").exists() else None


class PrivatePostgres:
    """A PostgreSQL server of one test (its own data folder and port), which it may stop and start again. As root
    the server runs as the user ``postgres`` (it refuses root), as in ``.ci/services.sh``."""

    def __init__(self, folder: Path, bin_dir: Path) -> None:
        self.folder, self.bin = folder, bin_dir
        self.data = folder / "pgdata"
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"postgresql://hmrbench@127.0.0.1:{self.port}/postgres"

    def _as_owner(self, *argv: str, **kwargs) -> subprocess.CompletedProcess:  # noqa: ANN003
        cmd = ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else list(argv)
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120, **kwargs)

    def init(self) -> None:
        self.data.mkdir(parents=True)
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres")
            shutil.chown(self.data, "postgres")
        done = self._as_owner(str(self.bin / "initdb"), "-D", str(self.data), "-U", "hmrbench", "--auth=trust",
                              "--no-sync")  # fmt: skip
        assert done.returncode == 0, done.stderr

    def start(self) -> None:
        options = f"-h 127.0.0.1 -p {self.port} -k {self.data} -F"
        done = self._as_owner(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.folder / "pg.log"),
                              "-w", "-t", "60", "-o", options, "start")  # fmt: skip
        assert done.returncode == 0, done.stderr + (self.folder / "pg.log").read_text()

    def stop(self, mode: str = "fast") -> None:
        self._as_owner(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")


@pytest.fixture
def private_postgres():
    bin_dir = _pg_bin()
    if bin_dir is None:
        pytest.skip("no PostgreSQL server binaries (initdb) on this machine")
    pytest.importorskip("psycopg2", reason="the cluster extra (psycopg2-binary) is not installed")
    # not under pytest's tmp_path: as root that folder is closed to the user `postgres`
    folder = Path(tempfile.mkdtemp(prefix="hmrbench-pg-"))
    server = PrivatePostgres(folder, bin_dir)
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.stop("immediate")
        shutil.rmtree(folder, ignore_errors=True)
