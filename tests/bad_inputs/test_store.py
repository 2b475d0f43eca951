"""A bad MLflow store or output folder: every case is one error naming the file or folder, never a traceback,
never MLflow's own log lines, and never a store silently started afresh.

- ``OUT/mlflow.db`` empty, garbage, cut in half, a folder, or another program's SQLite file: refused by
  ``Tracker.connect`` before MLflow opens it (an empty file used to be recreated without a word, half a file gave
  "database disk image is malformed" with no way out), and the file is left as it was.
- A folder that cannot be written (simulated for root, who may write anywhere: creating or opening a file for
  writing under it raises EROFS, and SQLite refuses every write to the store): the error names the folder or
  ``mlflow.db`` and the OS's reason, in one line, also when the disk turns read-only after a unit was trained.
- ``--out`` that cannot be a folder (a file, a path under a file, ``/proc/x``): a ``ConfigError`` naming it.
- A moved output folder: its runs' rows are read from the new place (MLflow recorded absolute paths); a finished
  run whose artifacts are gone is an error naming the run and the folder, not 0 rows.

One small store (one finished unit with a ``rows.csv``) is made once per module and copied per test.
"""

from __future__ import annotations

import builtins
import errno
import io
import os
import re
import shutil
import sqlite3
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from _corrupt import as_directory, assert_names, empty, garbage, truncate

from bench.cli import main
from bench.errors import ConfigError, TrackingError
from bench.run.tracking import Tracker, check_store_file, check_writable, out_folder

TINY = "iterations=6,hidden=32,rank=16,gcn_hidden=8,face_hidden=8,sts_pool=64,log_every=3,pretrain_iterations=2"
MLFLOW_LOG_LINE = re.compile(r"(DEBUG|INFO|WARNING|ERROR|CRITICAL) (mlflow|alembic|sqlalchemy)")
ROWS = pd.DataFrame([{"unit": "u1", "variant": "proposed", "dataset": "h36m", "seed": 0, "data_seed": 0,
                      "metric": "mpjpe_mm", "value": 91.5}])  # fmt: skip


def _rows(folder: Path) -> Path:
    ROWS.to_csv(folder / "rows.csv", index=False)
    return folder / "rows.csv"


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> tuple[Path, str]:
    """An output folder holding one FINISHED unit run with its rows.csv; (folder, run id). Copy it, never change it."""
    out = tmp_path_factory.mktemp("store") / "out"
    tracker = Tracker(out).connect()
    run_id = tracker.start("unit one", {"hmrbench.unit": "u1"}, {"seed": 0})
    tracker.log_files(run_id, [_rows(out.parent)])
    tracker.end(run_id)
    return out, run_id


@pytest.fixture
def out(store, tmp_path) -> Path:
    """A fresh copy of the module's output folder."""
    return Path(shutil.copytree(store[0], tmp_path / "out"))


def _read_only(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Creating a folder or opening a file for writing anywhere under ``folder`` raises EROFS (a read-only disk):
    as root, chmod would not stop the write."""
    inside = os.path.realpath(folder)

    def refuse(path) -> None:  # noqa: ANN001
        if isinstance(path, str | bytes | os.PathLike):
            real = os.path.realpath(os.fsdecode(path))
            if real == inside or real.startswith(inside + os.sep):
                raise OSError(errno.EROFS, os.strerror(errno.EROFS), os.fsdecode(path))

    real_open, real_os_open, real_mkdir = builtins.open, os.open, os.mkdir

    def guarded_open(file, mode="r", *args, **kwargs):  # noqa: ANN001, ANN202
        if any(c in mode for c in "wax+"):
            refuse(file)
        return real_open(file, mode, *args, **kwargs)

    def guarded_os_open(path, flags, *args, **kwargs):  # noqa: ANN001, ANN202
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            refuse(path)
        return real_os_open(path, flags, *args, **kwargs)

    def guarded_mkdir(path, *args, **kwargs):  # noqa: ANN001, ANN202
        refuse(path)
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded_open)
    monkeypatch.setattr(io, "open", guarded_open)
    monkeypatch.setattr(os, "open", guarded_os_open)
    monkeypatch.setattr(os, "mkdir", guarded_mkdir)


def _refuse_store_writes(tracker: Tracker) -> None:
    """SQLite refuses every write to the tracker's store, as it does on a read-only disk."""
    from sqlalchemy import event

    def refuse(conn, cursor, statement, *args) -> None:  # noqa: ANN001
        if statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            raise sqlite3.OperationalError("attempt to write a readonly database")

    event.listen(tracker.client._tracking_client.store.engine, "before_cursor_execute", refuse)


# --- a damaged store ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("damage", "says"),
    [
        (empty, "is empty (0 bytes)"),
        (garbage, "is not an SQLite database"),
        (lambda path: truncate(path, 0.5), "is damaged"),
        (as_directory, "is a folder"),
    ],
    ids=["empty", "garbage", "half", "directory"],
)
def test_a_damaged_store_is_refused_naming_the_file_and_left_as_it_is(out, damage, says, capfd):
    db = out / "mlflow.db"
    damage(db)
    before = db.read_bytes() if db.is_file() else None
    with pytest.raises(TrackingError) as caught:
        Tracker(out).connect()
    assert_names(caught.value, db, says, "backup", "move it aside", "another --out", "not touched")
    assert (db.read_bytes() if db.is_file() else None) == before  # never recreated over
    assert "Traceback" not in capfd.readouterr().err


def test_a_damaged_store_through_the_cli_is_one_line_exit_2(out, capfd):
    truncate(out / "mlflow.db", 0.5)
    assert main(["report", "--out", str(out)]) == 2
    err = capfd.readouterr().err
    assert_names(err, out / "mlflow.db", "is damaged")
    assert "Traceback" not in err and not MLFLOW_LOG_LINE.search(err) and len(err.strip().splitlines()) == 1


def test_a_pipe_named_mlflow_db_is_refused_without_waiting(tmp_path):
    os.mkfifo(tmp_path / "mlflow.db")
    with pytest.raises(TrackingError) as caught:
        check_store_file(tmp_path / "mlflow.db")
    assert_names(caught.value, tmp_path / "mlflow.db", "not a regular file")


def test_another_programs_sqlite_file_is_not_taken_over(tmp_path):
    db = tmp_path / "mlflow.db"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE notes (text TEXT)")
    con.close()
    with pytest.raises(TrackingError) as caught:
        Tracker(tmp_path).connect()
    assert_names(caught.value, db, "not an MLflow store")
    with sqlite3.connect(db) as con:
        assert [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")] == ["notes"]
    con.close()


def test_a_sound_store_passes_the_check(out):
    check_store_file(out / "mlflow.db")
    check_store_file(out / "absent.db")  # a store not made yet: MLflow creates it


# --- a folder that cannot be written -----------------------------------------------------------------------------
def test_check_writable_names_a_read_only_folder(tmp_path, monkeypatch):
    assert check_writable(tmp_path / "new" / "folder") == (tmp_path / "new" / "folder").resolve()
    assert not list((tmp_path / "new" / "folder").iterdir())  # the probe file is removed
    (tmp_path / "ro").mkdir()
    _read_only(tmp_path / "ro", monkeypatch)
    with pytest.raises(TrackingError) as caught:
        check_writable(tmp_path / "ro", "artifact folder")
    assert_names(caught.value, "artifact folder", tmp_path / "ro", "read-only file system")

    def disk_full(fd: int) -> None:  # a full disk often refuses only when the data is synced
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(TrackingError) as caught:
        check_writable(tmp_path / "full" / "out", "output folder")
    assert_names(caught.value, tmp_path / "full" / "out", "no space left on device")
    assert not (tmp_path / "full").exists()  # the folders made for the check are removed again


def test_tracker_check_writable_probes_the_artifact_folder(out, monkeypatch):
    tracker = Tracker(out).connect()
    tracker.check_writable()
    _read_only(out / "mlartifacts", monkeypatch)
    with pytest.raises(TrackingError) as caught:
        tracker.check_writable()
    assert_names(caught.value, out / "mlartifacts", "read-only file system")


def test_an_artifact_folder_made_read_only_mid_run_is_one_line(out, tmp_path, monkeypatch, capfd):
    tracker = Tracker(out).connect()
    run_id = tracker.start("unit two", {"hmrbench.unit": "u2"}, {})
    rows = _rows(tmp_path)
    _read_only(out / "mlartifacts", monkeypatch)
    with pytest.raises(TrackingError) as caught:
        tracker.log_files(run_id, [rows])
    assert_names(caught.value, "cannot write", out / "mlartifacts", "read-only file system", "another --out")
    assert "\n" not in str(caught.value)
    assert not capfd.readouterr().err  # MLflow's own logging held back


def test_a_store_that_cannot_be_written_is_one_line_naming_mlflow_db(out, capfd):
    tracker = Tracker(out).connect()
    run_id = tracker.start("unit two", {"hmrbench.unit": "u2"}, {})
    _refuse_store_writes(tracker)
    with pytest.raises(TrackingError) as caught:
        tracker.set_tags(run_id, {"collapsed": "false"})
    assert_names(caught.value, "cannot write", out / "mlflow.db", "read-only")
    assert "\n" not in str(caught.value)
    err = capfd.readouterr().err
    assert "Traceback" not in err and "SQLAlchemy" not in err and not err  # MLflow logs this with a traceback


@pytest.fixture(scope="module")
def h36m_root(tmp_path_factory, embedded_cache) -> Path:
    """A tiny synthetic data root (h36m, one frame per sequence)."""
    root = tmp_path_factory.mktemp("root")
    assert main(["data", "synth", "h36m", "--out", str(root / "h36m"), "--frames", "1", "--seed", "0"]) == 0
    return root


def test_a_store_made_read_only_mid_run_loses_no_unit_through_the_cli(h36m_root, tmp_path, capfd, monkeypatch):
    """The first unit trained and scored, then the disk under the store turned read-only: MLflow used to log the
    database error with its traceback (three of them in a real run), the message blamed "the tracking store", and
    the run stopped there (the next method never ran). Now the unit's rows are saved beside the output, the next
    unit runs untracked, both are in the rows file, and the summary names each unit not in the store (exit 1)."""
    original = Tracker.log_metrics

    def log_metrics(self: Tracker, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        _refuse_store_writes(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(Tracker, "log_metrics", log_metrics)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))  # the fallback folders, inside this test
    out = tmp_path / "out"
    argv = ["run", "-m", f"proposed[{TINY}]", "-m", "lifter[iterations=4,width=16]", "-d", "h36m", "--data-root",
            str(h36m_root), "--limit", "2", "--out", str(out)]  # fmt: skip
    assert main(argv) == 1
    err = capfd.readouterr().err
    assert "Traceback" not in err and not MLFLOW_LOG_LINE.search(err), err
    lost = [line for line in err.splitlines() if "finished, but not logged" in line]
    assert len(lost) == 1, err
    assert_names(lost[0], "proposed", out / "mlflow.db", "read-only")
    assert any(line.startswith("run: lifter") and "runs untracked" in line for line in err.splitlines()), err
    summary = [line for line in err.splitlines() if "NOT IN THE TRACKING STORE" in line]
    assert len(summary) == 2 and "proposed" in summary[0] and "lifter" in summary[1], err
    assert "2 unit(s) finished but are not in the tracking store" in err
    # the units finished: their rows are not lost with the store, beside the output and in the rows file
    saved = sorted((out / "untracked").glob("*.rows.csv"))
    assert len(saved) == 2 and all(f"rows were saved to {path}" in err for path in saved), err
    assert len(list((out / "untracked").glob("*.per_sample.csv.gz"))) == 2
    for path in saved:
        rows = pd.read_csv(path)
        assert set(rows["metric"]) >= {"mpjpe_mm", "pa_mpjpe_mm"} and rows["value"].notna().all()
    table = pd.read_csv(out / "run.csv")
    assert set(table["method"]) == {"proposed", "lifter"}
    assert not (tmp_path / "tmp" / "hmrbench-results").exists()  # the output folder took them


def test_rows_go_to_the_temp_folder_when_the_output_folder_refuses_them_too(tmp_path, monkeypatch):
    from bench.run.units import Results, _rescue_rows

    class Lost:
        out = tmp_path / "out"

    Lost.out.mkdir()
    (Lost.out / "untracked").write_text("a file where the folder should be")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    unit = Results(rows=[{"metric": "mpjpe_mm", "value": 1.0}])
    said = _rescue_rows(unit, "exp: m seed 0", "abcdef0123456789", Lost())
    (saved,) = (tmp_path / "tmp" / "hmrbench-results").glob("*.rows.csv")
    assert said == f"the unit finished: its rows were saved to {saved}"
    monkeypatch.setattr(tempfile, "tempdir", str(Lost.out / "untracked" / "tmp"))  # under a file: refused too
    said = _rescue_rows(unit, "exp: m seed 0", "abcdef0123456789", Lost())
    assert_names(said, "could not be saved anywhere", Lost.out / "untracked")


@pytest.mark.parametrize("where", ["file", "under a file", "proc"])
def test_an_out_that_cannot_be_a_folder_is_a_config_error(tmp_path, where, capfd):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    out, says = {"file": (a_file, "is a file, not a folder"),
                 "under a file": (a_file / "sub" / "out", f"lies under {a_file}, a file"),
                 "proc": (Path("/proc/hmrbench-x"), "cannot be created")}[where]  # fmt: skip
    with pytest.raises(ConfigError) as caught:
        out_folder(out)
    assert_names(caught.value, "--out", out, says)
    assert a_file.read_text() == "x"


# --- a moved output folder ---------------------------------------------------------------------------------------
def test_a_moved_output_folder_reads_its_rows_and_writes_below_itself(out, tmp_path):
    moved = Path(shutil.move(out, tmp_path / "results-v1"))
    tracker = Tracker(moved).connect()
    run_id = tracker.finished_unit("u1")
    rows, _ = tracker.load_tables([run_id])
    assert rows[list(ROWS.columns)].to_dict("records") == ROWS.to_dict("records")  # + columns filled for old rows
    assert tracker.relocated_from is not None and "results-v1" not in tracker.relocated_from
    new = tracker.start("unit two", {"hmrbench.unit": "u2"}, {})  # a new run's artifacts go below the new folder
    tracker.log_files(new, [_rows(tmp_path)])
    assert (moved / "mlartifacts" / new / "artifacts" / "rows.csv").is_file()
    assert not out.exists()  # MLflow would have recreated the old folder for it


def test_a_moved_store_that_could_not_be_repointed_still_reads_from_the_new_place(out, tmp_path, monkeypatch):
    moved = Path(shutil.move(out, tmp_path / "results-v1"))
    monkeypatch.setattr(Tracker, "_repoint", lambda self: None)  # as when mlflow.db cannot be written
    tracker = Tracker(moved).connect()
    rows, _ = tracker.load_tables([tracker.finished_unit("u1")])
    assert rows[list(ROWS.columns)].to_dict("records") == ROWS.to_dict("records")  # + columns filled for old rows


def test_a_finished_run_without_its_artifacts_is_an_error_naming_run_and_folder(out):
    shutil.rmtree(out / "mlartifacts")
    tracker = Tracker(out).connect()
    run_id = tracker.finished_unit("u1")
    with pytest.raises(TrackingError) as caught:
        tracker.load_tables([run_id])
    assert_names(caught.value, run_id, "rows.csv", out / "mlartifacts" / run_id / "artifacts", "--force")
