"""`hmrbench sweep` on PostgreSQL (``.ci/services.sh``): the documented ``postgresql://`` URL with the psycopg2
driver, two worker processes on one study (every trial numbered once, none lost), a dead worker's trial marked
FAIL by the heartbeat, and the database stopped mid-sweep (one error line naming the URL; finished trials kept)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import tomllib
import uuid

import optuna
import pytest

from bench.run.sweep import sweep
from bench.run.tracking import database_url

pytestmark = pytest.mark.services

TINY = "proposed[hidden=32,rank=16,gcn_hidden=8,face_hidden=8,sts_pool=64,pretrain_iterations=2]"
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _argv(root, out, storage: str, study: str, trials: int) -> list[str]:
    return [sys.executable, "-m", "bench", "sweep", TINY, "--iterations", "6", "--report-every", "3", "--trials",
            str(trials), "--val-limit", "8", "--study", study, "--storage", storage, "--data-root", str(root),
            "--out", str(out)]  # fmt: skip


def test_two_workers_share_one_study_on_postgresql(root, tmp_path, postgres_url):
    assert postgres_url.startswith("postgresql://")  # the documented form: the driver is chosen by hmrbench
    study = f"two-{uuid.uuid4().hex[:8]}"
    base = _argv(root, tmp_path / "out", postgres_url, study, 2)
    procs = [subprocess.Popen([*base, "--worker", str(w)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=ENV) for w in (0, 1)]  # fmt: skip
    outputs = [p.communicate(timeout=300) for p in procs]
    for p, (_stdout, stderr) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, stderr
        assert re.search(r"^trial \d+: started, w_pm=", stderr, re.M)  # a line per trial started and finished
        assert re.search(r"^trial \d+: .* -> validation MPJPE [\d.]+ mm", stderr, re.M) or "pruned" in stderr
    loaded = optuna.load_study(study_name=study, storage=database_url(postgres_url))
    assert sorted(t.number for t in loaded.trials) == [0, 1, 2, 3]  # 2 + 2: none lost, none counted twice
    assert all(t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED) for t in loaded.trials)
    assert len({tuple(sorted(t.params.items())) for t in loaded.trials}) == 4
    best = tomllib.loads((tmp_path / "out" / "sweeps" / study / "best.toml").read_text())
    assert best["trials"] == 4 and best["method"].startswith("proposed[")
    assert "log_every" not in best["method"]  # it paced the sweep's validation; not part of the config to reuse
    header = (tmp_path / "out" / "sweeps" / study / "best.toml").read_text().splitlines()[0]
    assert "postgresql+psycopg2://" in header  # the storage as opened, with the driver


@pytest.mark.filterwarnings("ignore:Heartbeat of storage:UserWarning", "ignore::optuna.exceptions.ExperimentalWarning")
def test_a_dead_workers_trial_is_marked_fail_by_the_next_worker(root, tmp_path, postgres_url):
    """A trial left RUNNING by a worker that died (its heartbeat stopped) is FAIL once the next worker starts a
    trial, with a line saying so; without the heartbeat it stayed RUNNING forever."""
    study = f"dead-{uuid.uuid4().hex[:8]}"
    url = database_url(postgres_url)
    storage = optuna.storages.RDBStorage(url, heartbeat_interval=1, grace_period=2)
    dead = optuna.create_study(study_name=study, storage=storage, direction="minimize").ask()
    storage.record_heartbeat(dead._trial_id)  # its worker's last heartbeat, then the worker is gone
    time.sleep(2.5)
    said: list[str] = []
    result = sweep(TINY, trials=1, out=tmp_path, study=study, storage=postgres_url, iterations=4, val_limit=8,
                   data_root=root, heartbeat=1, progress=said.append)  # fmt: skip
    states = {t.number: t.state for t in optuna.load_study(study_name=study, storage=url).trials}
    assert states[dead.number] == optuna.trial.TrialState.FAIL and len(states) == 2
    assert f"trial {dead.number}: marked FAIL, its worker stopped (no heartbeat for 2 s)" in said
    assert result.ran_here == [1]


def test_the_database_stopped_mid_sweep_is_one_error_naming_it_and_keeps_finished_trials(root, tmp_path,
                                                                                         private_postgres):  # fmt: skip
    server = private_postgres
    proc = subprocess.Popen([*_argv(root, tmp_path / "out", server.url, "stopped", 40)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=ENV)  # fmt: skip
    lines: list[str] = []
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:  # until a trial has finished (or been pruned) and the next one started
        line = proc.stderr.readline()
        assert line, "".join(lines)
        lines.append(line)
        if re.match(r"trial [1-9]\d*: started", line):
            break
    finished = [int(m.group(1)) for m in map(re.compile(r"trial (\d+): (?!started).*").match, lines) if m]
    assert finished, "".join(lines)
    server.stop("immediate")
    _stdout, rest = proc.communicate(timeout=180)
    assert proc.returncode == 2, rest
    assert "Traceback" not in rest and len(rest.strip().splitlines()) <= 3, rest
    last = rest.strip().splitlines()[-1]
    assert f"optuna storage {database_url(server.url)} failed" in last and "start the database again" in last
    server.start()
    trials = optuna.load_study(study_name="stopped", storage=database_url(server.url)).trials
    kept = {t.number for t in trials if t.state.is_finished()}
    assert set(finished) <= kept  # no finished trial lost
