"""Bad command-line input (bench/cli.py, bench/run/runner.py): every bad value, flag or experiment file is one line
naming it and exit code 2, found before the output folder or the tracking store (``OUT/mlflow.db``) is created; a
trial found these 25-35 s in, after ``mlflow.db`` existed, or as tracebacks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from _corrupt import assert_names

from bench.cli import main
from bench.errors import ConfigError
from bench.run.runner import run

TINY = "proposed[iterations=2,hidden=32,rank=16,gcn_hidden=8,face_hidden=8,sts_pool=64,pretrain_iterations=1]"
NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without CUDA")


@pytest.fixture(autouse=True)
def _no_data_root(monkeypatch, embedded_cache):
    monkeypatch.delenv("HMRBENCH_DATA", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


def _refused(capsys, argv: list[str], *parts: str | os.PathLike) -> str:
    """``main(argv)`` exits 2 with one line on stderr naming every one of ``parts``; returns that line."""
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hmrbench: error: "), err
    assert_names(lines[0], *parts)
    return lines[0]


def _empty_root(tmp_path: Path) -> Path:
    """A data root with an stb/ folder and no h36m/."""
    (tmp_path / "root" / "stb").mkdir(parents=True)
    return tmp_path / "root"


@pytest.mark.parametrize(
    "method, dataset, extra, parts",
    [
        (TINY, "h36m", ["--device", "gpu"], ["'gpu'"]),
        pytest.param(TINY, "h36m", ["--device", "cuda"], ["'cuda'", "CUDA is not available"], marks=NO_CUDA),
        pytest.param(TINY, "h36m", ["--device", "cuda:1"], ["'cuda:1'"], marks=NO_CUDA),
        (TINY, "h36m", ["--limit", "0"], ["--limit", "0"]),
        (TINY, "h36m", ["--limit", "-5"], ["--limit", "-5"]),
        (TINY, "h36m", ["--batch-size", "0"], ["--batch-size", "0"]),
        (TINY, "h36m", ["--data-root", "{tmp}/missing"], ["{tmp}/missing", "not a folder"]),
        (TINY, "h36m", ["--data-root", "{empty}"], ["'h36m'", "no h36m/ under {empty}"]),
        (TINY, "h36m", ["--train", "openpose"], ["'openpose'", "--data-root"]),  # no synthetic default
        ("proposed[projection=xyz]", "h36m", [], ["projection", "'xyz'"]),
        ("proposed[iterations=-1]", "h36m", [], ["iterations", "-1"]),
        (TINY, "h36m[protocol=p3]", [], ["protocol", "p3"]),
        (TINY, "h36m", ["--early-stop", "patience=0"], ["early stopping", "patience=0"]),
        (TINY, "h36m", ["--early-stop", "sometimes"], ["early stopping", "'sometimes'"]),
    ],
)
def test_a_bad_run_argument_writes_nothing(tmp_path, capsys, method, dataset, extra, parts):
    """Each is refused before the output folder exists: no mlflow.db, no models, no rows."""
    fill = {"tmp": tmp_path, "empty": _empty_root(tmp_path)}
    extra = [e.format(**fill) for e in extra]
    argv = ["run", "-m", method, "-d", dataset, "--limit", "2", *extra, "--out", tmp_path / "out"]
    _refused(capsys, argv, *(p.format(**fill) for p in parts))
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "text, quick, parts",
    [
        ("[[group]]\nmethods=['{tiny}']\ndatasets=['h36m']\nlimit = -5", False, ["[[group]] 1", "limit", "-5"]),
        ("[[group]]\nmethods=['{tiny}']\ndatasets=['h36m']\nbatch_size = 0", False, ["batch_size", "0"]),
        ("[[group]]\nmethods=['{tiny}']\ndatasets=['h36m[protocol=p3]']", False, ["p3"]),
        ("[[group]]\nmethods=['proposed[projection=xyz]']\ndatasets=['h36m']", False, ["projection", "'xyz'"]),
        # a value that only the [quick] overrides bring in: checked on the specs --quick runs
        ("[[group]]\nmethods=['{tiny}']\ndatasets=['h36m']\n[quick.params.proposed]\niterations = -1", True,
         ["iterations", "-1"]),
        ("stopping = 'patience=-2'\n[[group]]\nmethods=['{tiny}']\ndatasets=['h36m']", False,
         ["the top level key 'stopping'", "patience=-2"]),
        ("[[group]]\nmethods=['{tiny}']\ndatasets=['h36m']\n[quick]\nstopping = 'min_delta_mm=x'", True,
         ["[quick] key 'stopping'", "min_delta_mm='x'"]),
    ],
)
def test_a_bad_value_inside_an_experiment_file_names_the_file_and_writes_nothing(tmp_path, capsys, text, quick,
                                                                                 parts):  # fmt: skip
    path = tmp_path / "mine.toml"
    path.write_text(text.format(tiny=TINY))
    _refused(capsys, ["run", path, *(["--quick"] if quick else []), "--out", tmp_path / "out"], path, *parts)
    assert not (tmp_path / "out").exists()


def test_a_runtime_batch_larger_than_its_set_is_refused_before_anything_runs(tmp_path, capsys):
    """The second group's batch is larger than its set (synthetic H36M P1, 720 samples): refused naming the file,
    the group, the set and both numbers before the first group is timed."""
    from bench.run.units import load_dataset_spec

    load_dataset_spec("h36m")  # the synthetic set written once to the cache (that line is not the error)
    capsys.readouterr()
    path = tmp_path / "times.toml"
    path.write_text(f'kind = "runtime"\n[[group]]\nmethods = ["{TINY}"]\ndatasets = ["h36m"]\nbatch_sizes = [1, 2]\n'
                    f'[[group]]\nmethods = ["{TINY}"]\ndatasets = ["h36m"]\nbatch_sizes = [1, 100000]\n')  # fmt: skip
    _refused(capsys, ["runtime", str(path), "--out", tmp_path / "out"], path, "[[group]] 2", "h36m has 720 samples",
             "fewer than the batch size 100000")  # fmt: skip
    assert not (tmp_path / "out").exists()


def test_an_output_folder_that_cannot_be_made_or_written_is_named(tmp_path, capsys, monkeypatch):
    _refused(capsys, ["run", "-m", TINY, "-d", "h36m", "--out", "/proc/hmrbench-out"], "--out /proc/hmrbench-out")
    assert not Path("/proc/hmrbench-out").exists()
    _refused(capsys, ["run", "-m", TINY, "-d", "h36m", "--out", "/proc"], "--out /proc", "cannot be written")
    # a folder made read-only (refused even as root, as a read-only mount would): checked before training
    locked = tmp_path / "locked"
    locked.mkdir()
    _read_only(locked, monkeypatch)
    _refused(capsys, ["run", "-m", TINY, "-d", "h36m", "--out", locked], f"--out {locked}", "permission denied")
    assert list(locked.iterdir()) == []  # no mlflow.db, no models, no rows
    # a new folder below it: nothing is left behind either
    _refused(capsys, ["run", "-m", TINY, "-d", "h36m", "--out", locked / "a" / "b"], f"--out {locked / 'a' / 'b'}")
    assert list(locked.iterdir()) == []


def _read_only(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Creating anything in ``folder`` (or below it) raises PermissionError, even as root."""
    real_open, real_mkdir, inside = os.open, os.mkdir, os.path.realpath(folder)

    def refuse(path) -> None:  # noqa: ANN001
        real = os.path.realpath(os.fsdecode(path))
        if real == inside or real.startswith(inside + os.sep):
            raise PermissionError(13, "Permission denied", os.fsdecode(path))

    def guarded_open(path, flags, *args, **kwargs):  # noqa: ANN001, ANN202
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            refuse(path)
        return real_open(path, flags, *args, **kwargs)

    def guarded_mkdir(path, *args, **kwargs):  # noqa: ANN001, ANN202
        refuse(path)
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", guarded_open)
    monkeypatch.setattr(os, "mkdir", guarded_mkdir)


@pytest.mark.parametrize(
    "argv, parts",
    [
        (["paper", "--quick", "--device", "gpu"], ["'gpu'"]),
        (["paper", "--quick", "--data-root", "{empty}"], ["no data", "under {empty}"]),
        (["paper", "--quick", "--early-stop", "val_limit=0"], ["early stopping", "val_limit=0"]),
        (["runtime", "--quick", "--device", "gpu"], ["'gpu'"]),
        (["runtime", "--quick", "--data-root", "{empty}"], ["under {empty}"]),
        (["sweep", TINY, "--val-limit", "0"], ["--val-limit", "0"]),
        (["sweep", TINY, "--iterations", "0"], ["--iterations", "0"]),
        (["sweep", TINY, "--device", "gpu"], ["'gpu'"]),
        (["sweep", TINY, "--data-root", "{empty}"], ["no h36m/ under {empty}"]),
    ],
)
def test_other_verbs_check_before_writing_too(tmp_path, capsys, argv, parts):
    fill = {"empty": _empty_root(tmp_path)}
    _refused(capsys, [*(a.format(**fill) for a in argv), "--out", tmp_path / "out"], *(p.format(**fill) for p in parts))
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("kwargs, name", [({"limit": 0}, "limit"), ({"limit": -5}, "limit"),
                                          ({"batch_size": 0}, "batch_size"), ({"device": "gpu"}, "gpu")])  # fmt: skip
def test_run_refuses_its_own_arguments_before_loading_anything(monkeypatch, kwargs, name):
    import bench.run.units as units

    monkeypatch.setattr(units, "load_dataset", lambda *a, **k: pytest.fail("a set was loaded"))
    with pytest.raises(ConfigError) as exc:
        run([TINY], ["h36m"], **kwargs)
    assert_names(exc.value, name)
