"""The damage helpers do what the bad-input tests rely on: an unreadable file cannot be read by any of the
readers the suite uses (numpy, json, pathlib, scipy), even as root."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.io
from _corrupt import as_directory, assert_names, empty, garbage, truncate, unreadable


def test_unreadable_refuses_every_reader(tmp_path, monkeypatch):
    npz, js, mat = tmp_path / "a.npz", tmp_path / "a.json", tmp_path / "a.mat"
    np.savez(npz, x=np.zeros(3))
    js.write_text("{}")
    scipy.io.savemat(mat, {"x": np.zeros(3)})
    other = tmp_path / "b.json"
    other.write_text("[]")
    for path in (npz, js, mat):
        unreadable(path, monkeypatch)
    with pytest.raises(PermissionError):
        np.load(npz)
    with pytest.raises(PermissionError):
        json.loads(js.read_text())
    with pytest.raises(OSError, match="Reader needs file name") as caught:  # scipy hides the cause's kind
        scipy.io.loadmat(mat)
    assert isinstance(caught.value.__cause__, PermissionError)
    assert json.loads(other.read_text()) == []  # only the named file is refused


def test_damage_helpers(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"0123456789")
    assert truncate(path, 0.3).read_bytes() == b"012"
    assert empty(path).stat().st_size == 0
    assert garbage(path).read_bytes()[:3] == b"\x00\x01\x02"
    assert as_directory(path).is_dir()
    assert_names(ValueError(f"{path}: key 'x'"), path, "'x'")
    with pytest.raises(AssertionError):
        assert_names("nothing here", path)
