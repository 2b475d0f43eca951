"""Units as Dask tasks: the same rows as one process, resume from the store, one training per training key when two
workers want the same model at once; the checks of --workers / --threads, which need no Dask, and of --scheduler
(nothing is written when they fail).

One Dask cluster for the module (``cluster``: ``DaskExecutor(workers=2)``, the object ``--workers 2`` makes, a
real local cluster of two worker processes): starting one costs about 13 s on 2 cores, so the tests share it, the
``paper`` test as that executor, the CLI tests through ``--scheduler`` and its address (a real scheduler, the path of
an existing cluster)."""

from __future__ import annotations

import csv
import importlib.util
import math
import os
import socket

import pytest

import bench.run.executors as bench_executors
import bench.run.threads as bench_threads
from bench.cli import main

TINY = "hidden=32,rank=16,gcn_hidden=8,face_hidden=8,sts_pool=64,log_every=3,pretrain_iterations=2"
VALUES = ("experiment", "method", "variant", "dataset", "seed", "data_seed", "view", "group", "bin", "metric", "value",
          "n", "skipped", "failed")  # fmt: skip


@pytest.fixture
def one_thread(monkeypatch):
    """This process and the workers it starts with one thread (set_threads changes the environment: restored)."""
    import torch

    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        monkeypatch.setenv(name, "1")
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def cluster(root):
    """A started ``DaskExecutor(workers=2)`` (after the session's data root and cache exist: the workers inherit the
    environment, their threads set by the executor), its own progress lines in ``cluster.said``."""
    pytest.importorskip("distributed", reason='dask.distributed is not installed (pip install -e ".[cluster]")')
    from bench.run.executors import DaskExecutor

    said: list[str] = []
    with DaskExecutor(workers=2, threads=1, progress=said.append) as executor:
        executor.said = said
        yield executor


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _experiment(path):
    """Two groups whose proposed units share one training key (the second scores a smaller limit), so the two
    workers start both at once; a lifter after them."""
    proposed = f"proposed[iterations=20,{TINY}]"
    path.write_text(
        f'title = "workers"\nseeds = [0]\n\n[[group]]\nmethods = ["{proposed}"]\ndatasets = ["h36m"]\n'
        f'train = ["h36m[split=train]"]\nlimit = 4\n\n[[group]]\nmethods = ["{proposed}"]\ndatasets = ["h36m"]\n'
        f'train = ["h36m[split=train]"]\nlimit = 3\n\n[[group]]\nmethods = ["lifter[iterations=6]"]\n'
        f'datasets = ["h36m"]\ntrain = ["h36m[split=train]"]\nlimit = 4\n'
    )
    return path


def _rows(path):
    return list(csv.DictReader(path.open()))


def test_the_local_cluster_has_one_thread_per_worker(cluster):
    """What ``--workers 2`` starts: two worker processes of one task slot each, their torch threads set through the
    environment (``choose_threads``), said in the progress line."""
    assert (
        cluster.said[0] == "hmrbench: units run on a local Dask cluster of 2 worker process(es), 1 torch thread(s) each"
    )
    workers = cluster._client.scheduler_info()["workers"]
    assert len(workers) == 2 and {w["nthreads"] for w in workers.values()} == {1}
    threads = cluster._client.run(lambda: {n: os.environ.get(n) for n in bench_threads.THREAD_VARIABLES})
    assert all(set(env.values()) == {"1"} for env in threads.values()) and len(threads) == 2


def test_two_workers_give_the_rows_of_one_process_and_resume_from_the_store(root, tmp_path, capfd, one_thread,
                                                                              cluster):  # fmt: skip
    """Through ``--scheduler`` (the module's cluster), as on a cluster started by someone else."""
    exp = _experiment(tmp_path / "workers.toml")
    common = ["run", str(exp), "--data-root", str(root)]
    assert main([*common, "--out", str(tmp_path / "one")]) == 0
    alone = _rows(tmp_path / "one" / "workers.csv")
    capfd.readouterr()

    argv = [*common, "--out", str(tmp_path / "two"), "--scheduler", cluster.address]
    assert main(argv) == 0
    err = capfd.readouterr().err
    assert f"units run on the Dask scheduler {cluster.address} (2 workers), 1 torch thread(s) each" in err
    assert "[3/3 units done, 0 running, 0 failed]" in err and "ETA" in err
    rows = _rows(tmp_path / "two" / "workers.csv")
    assert [tuple(r[k] for k in VALUES) for r in rows] == [tuple(r[k] for k in VALUES) for r in alone]
    assert {r["threads"] for r in rows} == {"1"} and all(math.isfinite(float(r["load_avg"])) for r in rows)
    # the two proposed units share a training key: trained once (by one worker), loaded by the other
    proposed = {r["unit"]: r["model_cached"] for r in rows if r["method"] == "proposed"}
    assert sorted(proposed.values()) == ["False", "True"]
    assert len(list((tmp_path / "two" / "models").glob("proposed-*.model"))) == 1

    assert main(argv[:-2]) == 0  # resume (in this process): every unit from the store, the same rows
    err = capfd.readouterr().err
    assert "0 unit(s) run, 3 taken from the store" in err
    assert [tuple(r[k] for k in VALUES) for r in _rows(tmp_path / "two" / "workers.csv")] == [
        tuple(r[k] for k in VALUES) for r in rows
    ]


def test_one_process_computes_with_one_thread_unless_told(root, tmp_path, monkeypatch, one_thread):
    """The in-process default is one torch thread (not torch's one per core); --threads changes it; every row
    records it with the cores and the load average."""
    import torch

    monkeypatch.delenv("OMP_NUM_THREADS")
    torch.set_num_threads(2)
    argv = ["run", "-m", "lifter[iterations=4]", "-d", "h36m", "--data-root", str(root), "--limit", "2"]
    assert main([*argv, "--out", str(tmp_path / "a")]) == 0
    assert torch.get_num_threads() == 1
    (row, *_) = _rows(tmp_path / "a" / "run.csv")
    assert (row["threads"], row["cores"]) == ("1", str(bench_threads.available_cores()))
    monkeypatch.setattr(bench_threads, "available_cores", lambda: 4)
    assert main([*argv, "--out", str(tmp_path / "b"), "--threads", "2"]) == 0
    assert _rows(tmp_path / "b" / "run.csv")[0]["threads"] == "2"


def test_runtime_rows_record_threads_and_load(root, one_thread):
    from bench.run.runtime import runtime

    timed = runtime(["lifter"], dataset="h36m", batch_sizes=(1,), repeats=5, data_root=root)
    (row,) = timed.rows
    assert row["threads"] >= 1 and row["cores"] == bench_threads.available_cores() and row["load_avg"] >= 0


@pytest.mark.parametrize(("argv", "message"), [
    (["--workers", "0"], "--workers must be >= 1"),
    (["--workers", "3"], "3 process(es) x 1 thread(s) (threads) = 3 threads on 2 core(s) would oversubscribe"),
    (["--workers", "2", "--threads", "2"], "keep --workers x --threads <= 2"),
    (["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "not both"),
    (["--threads", "0"], "--threads must be >= 1"),
])  # fmt: skip
def test_bad_workers_or_threads_write_nothing(root, tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(bench_threads, "available_cores", lambda: 2)
    out = tmp_path / "out"
    code = main(["run", "-m", "lifter[iterations=4]", "-d", "h36m", "--data-root", str(root), "--out", str(out),
                 *argv])  # fmt: skip
    assert code == 2 and message in capsys.readouterr().err and not out.exists()


def test_workers_without_dask_say_how_to_install_it(root, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(bench_threads, "available_cores", lambda: 2)
    find = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "distributed" else find(name, *a))
    out = tmp_path / "out"
    for verb in (["run", "-m", "lifter", "-d", "h36m"], ["paper", "--quick"], ["runtime", "-m", "lifter"]):
        code = main([*verb, "--data-root", str(root), "--out", str(out), "--workers", "2"])
        err = capsys.readouterr().err
        assert code == 2 and 'dask.distributed, which is not installed: pip install -e ".[cluster]"' in err, verb
    assert not out.exists()


def test_paper_on_workers_runs_accuracy_and_runtime_units_then_reports(root, tmp_path, one_thread, cluster,
                                                                       monkeypatch):  # fmt: skip
    """``paper`` with an executor: every unit of every experiment a task (the runtime ones too), the rows in the
    order of the experiments, each experiment's parent run ended, the report built from the store."""
    from bench.run.pipeline import paper
    from bench.run.tracking import Tracker

    accuracy = tmp_path / "acc.toml"
    accuracy.write_text('title = "acc"\nseeds = [0, 1]\n\n[[group]]\nmethods = ["lifter[iterations=4]"]\n'
                        'datasets = ["h36m"]\nlimit = 3\n')  # fmt: skip
    timing = tmp_path / "timing.toml"
    timing.write_text('title = "timing"\nkind = "runtime"\n\n[[group]]\nmethods = ["lifter"]\ndatasets = ["h36m"]\n'
                      "batch_sizes = [1]\nrepeats = 5\n")  # fmt: skip
    tracker = Tracker(tmp_path / "out").connect()
    said = []
    monkeypatch.setattr(cluster, "say", said.append)
    results, written = paper(tracker, tmp_path / "out", experiments=[accuracy, timing], data_root=root,
                             executor=cluster, progress=said.append)  # fmt: skip
    assert not results.failures and results.redone == 3 and (tmp_path / "out" / "report" / "index.html").is_file()
    units = list(dict.fromkeys((r["experiment"], r["seed"]) for r in results.rows))
    assert units == [("acc", 0), ("acc", 1), ("timing", 0)]  # plan order, whatever order the units finished in
    timed = [r for r in results.rows if r["metric"] == "seconds_per_image"]
    assert len(timed) == 1 and timed[0]["threads"] == 1 and timed[0]["value"] > 0
    parents = tracker.client.search_runs([tracker.experiment_id], "tags.`hmrbench.kind` = 'experiment'")
    assert sorted((p.info.run_name, p.info.status) for p in parents) == [("acc", "FINISHED"), ("timing", "FINISHED")]
    assert any("[3/3 units done, 0 running, 0 failed]" in line for line in said)


def test_a_scheduler_nobody_listens_on_is_one_line_and_writes_nothing(root, tmp_path, capsys):
    pytest.importorskip("distributed", reason='dask.distributed is not installed (pip install -e ".[cluster]")')
    address = f"tcp://127.0.0.1:{_free_port()}"
    out = tmp_path / "out"
    code = main(["run", "-m", "lifter[iterations=4]", "-d", "h36m", "--data-root", str(root), "--out", str(out),
                 "--scheduler", address])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and not out.exists()
    (line,) = err.strip().splitlines()  # one line, no traceback, at once (no client timeout waited out)
    assert line.startswith(f"hmrbench: error: --scheduler {address}: no Dask scheduler listens there "
                           "(ConnectionRefusedError")  # fmt: skip
    assert line.endswith("start one (dask scheduler) or check the address")


def test_a_scheduler_address_that_never_answers_or_is_no_scheduler_is_one_line(root, tmp_path, capsys, monkeypatch,
                                                                                 cluster):  # fmt: skip
    """A port that accepts but never speaks Dask (the client alone would wait there forever) gives up after
    ``SCHEDULER_TIMEOUT_S`` (lowered here); a worker's address is not a scheduler's."""
    monkeypatch.setattr(bench_executors, "SCHEDULER_TIMEOUT_S", 0.5)
    worker = next(iter(cluster._client.scheduler_info()["workers"]))
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        quiet = f"tcp://127.0.0.1:{silent.getsockname()[1]}"
        for address, message in ((quiet, "no Dask scheduler answered within 0.5 s (TimeoutError)"),
                                 (worker, "what answers there is not a Dask scheduler (Worker)"),
                                 ("nope://x", "not a Dask scheduler address (unknown protocol 'nope'")):  # fmt: skip
            out = tmp_path / "out"
            code = main(["run", "-m", "lifter[iterations=4]", "-d", "h36m", "--data-root", str(root), "--out",
                         str(out), "--scheduler", address])  # fmt: skip
            err = capsys.readouterr().err.strip().splitlines()
            assert code == 2 and not out.exists(), address
            assert len(err) == 1 and f"--scheduler {address}: {message}" in err[0], err
