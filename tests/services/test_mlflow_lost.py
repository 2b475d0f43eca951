"""A tracking server that goes away for good in the middle of a run loses nothing and stops nothing. Before, the
unit that had trained (97 s) and scored was lost at "log metrics failed ... Connection refused", no rows file was
written and the next method never ran. Now: the finished unit's rows are saved beside the output, the next unit
runs untracked, both are in the rows file, and the summary says which units are not on the server (exit 1).

The run reaches the shared server through a TCP relay (``_relay.Relay``) that this test closes right after the
first unit's run is created on the server; the retries are shortened so that the test does not wait 14 s."""

from __future__ import annotations

import urllib.parse

import pandas as pd
import pytest
from _relay import Relay

import bench.run.tracking as tracking
from bench.cli import main

pytestmark = pytest.mark.services

TINY = (
    "proposed[iterations=4,hidden=32,rank=16,gcn_hidden=8,face_hidden=8,sts_pool=64,log_every=2,pretrain_iterations=1]"
)
LIFTER = "lifter[iterations=4,width=16,blocks=1]"


def test_a_server_gone_for_good_mid_run_keeps_every_unit_locally(root, tmp_path, mlflow_uri, monkeypatch, capfd):
    server = urllib.parse.urlsplit(mlflow_uri)
    relay = Relay((server.hostname, server.port))
    relay.open()
    monkeypatch.setattr(tracking, "SERVER_RETRY_SECONDS", 0.05)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    start = tracking.Tracker.start
    units = []

    def start_then_lose_the_server(self, name, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        run_id = start(self, name, *args, **kwargs)
        if "hmrbench.unit" in (args[0] if args else kwargs.get("tags", {})):  # a unit's run, not the parent's
            units.append(name)
            relay.close()  # for good: the unit trains and scores, then cannot log anything
        return run_id

    monkeypatch.setattr(tracking.Tracker, "start", start_then_lose_the_server)
    out = tmp_path / "out"
    try:
        code = main(["run", "-m", TINY, "-m", LIFTER, "-d", "h36m", "--train", "h36m[split=train]", "--data-root",
                     str(root), "--limit", "3", "--tracking-uri", f"http://127.0.0.1:{relay.port}", "--out", str(out),
                     "--force"])  # fmt: skip
    finally:
        relay.close()
    err = capfd.readouterr().err
    assert code == 1, err
    assert len(units) == 1 and "proposed" in units[0], err  # the second unit never reached the server
    assert "Traceback" not in err, err
    lost = [line for line in err.splitlines() if "finished, but not logged" in line]
    assert len(lost) == 1 and f"127.0.0.1:{relay.port}" in lost[0], err
    assert any(line.startswith("run: lifter") and "runs untracked" in line for line in err.splitlines()), err
    summary = [line for line in err.splitlines() if "NOT IN THE TRACKING STORE" in line]
    assert len(summary) == 2 and "proposed" in summary[0] and "lifter" in summary[1], err
    saved = sorted((out / "untracked").glob("*.rows.csv"))
    assert len(saved) == 2 and all(f"rows were saved to {path}" in err for path in saved), err
    table = pd.read_csv(out / "run.csv")
    assert set(table["method"]) == {"proposed", "lifter"} and table["value"].notna().all()
