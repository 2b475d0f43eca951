"""End to end through the command line: `hmrbench data list|synth|check`."""

from __future__ import annotations

import json

import pytest

from bench.cli import main
from bench.registry import SYNTHETIC_MARKER


@pytest.fixture(scope="module")
def stb_tree(tmp_path_factory, embedded_cache):
    root = tmp_path_factory.mktemp("cli-data")
    assert main(["data", "synth", "stb", "--out", str(root / "stb"), "--frames", "2", "--seed", "3"]) == 0
    return root


def test_synth_writes_a_marked_synthetic_tree(stb_tree):
    marker = json.loads((stb_tree / "stb" / SYNTHETIC_MARKER).read_text())
    assert marker["synthetic"] is True and marker["dataset"] == "stb" and marker["seed"] == 3


def test_check_a_root_and_a_dataset_folder(stb_tree, capsys):
    assert main(["data", "check", str(stb_tree)]) == 0
    out = capsys.readouterr().out
    assert "stb (SYNTHETIC)" in out and "samples" in out
    assert main(["data", "check", str(stb_tree / "stb")]) == 0
    assert "stb (SYNTHETIC)" in capsys.readouterr().out


def test_list_names_every_dataset_and_its_source(stb_tree, capsys, monkeypatch):
    monkeypatch.delenv("HMRBENCH_DATA", raising=False)
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("panoptic", "h36m", "stb", "openpose"):
        assert f"{name}: " in out
    assert "synthetic default" in out
    assert main(["data", "list", "--data-root", str(stb_tree)]) == 0
    out = capsys.readouterr().out
    assert f"synthetic tree {stb_tree / 'stb'}" in out and f"no panoptic/ under {stb_tree}" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["data", "synth", "nope", "--out", "{tmp}/x"], "unknown dataset 'nope'"),
        (["data", "synth", "stb", "--out", "{root}/stb"], "not empty"),
        (["data", "synth", "stb", "--out", "{tmp}/y", "--frames", "0"], "--frames must be >= 1"),
        (["data", "check", "{tmp}/missing"], "not a folder"),
        (["data", "check", "{tmp}"], "no dataset folder"),
        (["data", "list", "--data-root", "{tmp}/missing"], "from --data-root"),
    ],
)
def test_bad_arguments_give_a_clear_error_and_exit_2(stb_tree, tmp_path, capsys, argv, message):
    argv = [a.format(tmp=tmp_path, root=stb_tree) for a in argv]
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_check_reports_a_malformed_file_by_name(stb_tree, tmp_path, capsys):
    import shutil

    broken = tmp_path / "stb"
    shutil.copytree(stb_tree / "stb", broken)
    victim = sorted(broken.rglob("*.mat"))[0]
    victim.write_bytes(b"garbage")
    assert main(["data", "check", str(broken)]) == 2
    assert victim.name in capsys.readouterr().err
