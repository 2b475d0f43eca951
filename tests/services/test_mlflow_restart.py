"""A tracking server that goes away while a unit trains and comes back (a restart) loses nothing: the unit's
logging, refused meanwhile, is tried again (``Tracker._call``) and the unit ends FINISHED on the server with its
rows. The run reaches the shared server through a small TCP relay of this test, which is closed (connections
refused, open ones cut) and opened again: the shared server itself is never stopped, and no server start is paid."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.parse

import pytest
from _relay import Relay

from bench.run.tracking import Tracker

pytestmark = pytest.mark.services

TINY = (
    "proposed[iterations=6,hidden=32,rank=16,gcn_hidden=8,face_hidden=8,sts_pool=64,log_every=3,pretrain_iterations=2]"
)


def test_a_server_gone_mid_unit_and_back_keeps_the_unit(root, tmp_path, mlflow_uri):
    server = urllib.parse.urlsplit(mlflow_uri)
    relay = Relay((server.hostname, server.port))
    relay.open()
    uri = f"http://127.0.0.1:{relay.port}"
    method = TINY.replace("pretrain_iterations=2", "pretrain_iterations=3")  # a unit of this test alone
    started = time.time() * 1000  # the shared server keeps the runs of earlier test sessions
    run = subprocess.Popen([sys.executable, "-m", "bench", "run", "-m", method, "-d", "h36m", "--train",
                            "h36m[split=train]", "--data-root", str(root), "--limit", "3", "--tracking-uri", uri,
                            "--out", str(tmp_path / "out"), "--force"], stderr=subprocess.PIPE,
                           stdout=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})  # fmt: skip
    try:
        seen = []
        while not any("it 3/6" in line for line in seen):  # training: the unit's run is on the server already
            line = run.stderr.readline()
            assert line, "".join(seen)
            seen.append(line)
        relay.close()  # the unit finishes training and scoring while the server cannot be reached
        time.sleep(4)
        relay.open()
        _stdout, rest = run.communicate(timeout=180)
        assert run.returncode == 0, "".join(seen) + rest
    finally:
        if run.poll() is None:
            run.kill()
        relay.close()
    tracker = Tracker(tmp_path / "fresh", mlflow_uri).connect()
    (unit,) = [r for r in tracker.unit_runs() if r.data.params.get("method") == method and r.info.start_time >= started]
    assert unit.info.status == "FINISHED" and unit.data.metrics
    table, _ = tracker.load_tables([unit.info.run_id])
    assert len(table) > 0
