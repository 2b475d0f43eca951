"""The shared ``.npz`` reader (``bench.npzio.read_npz``, used by the H36M and SMPL-X ground-truth readers): every
failure names the file, what it was meant to be and, where one is at fault, the key."""

from __future__ import annotations

import numpy as np
import pytest
from _corrupt import as_directory, assert_names, empty, garbage, truncate, unreadable

from bench.errors import DataFileError
from bench.npzio import read_npz, write_npz


@pytest.fixture
def npz(tmp_path):
    path = tmp_path / "a.npz"
    write_npz(path, {"S": np.zeros((4, 17, 3)), "part": np.ones((4, 17, 3))})
    return path


def error(path) -> str:
    with pytest.raises(DataFileError) as caught:
        read_npz(path, "annotation npz")
    return str(caught.value)


def test_good_file(npz):
    assert set(read_npz(npz, "annotation npz")) == {"S", "part"}


def test_object_array_names_the_key(tmp_path):
    path = tmp_path / "o.npz"
    np.savez(path, good=np.zeros(2), imgname=np.array([{"a": 1}], dtype=object))
    assert_names(error(path), path, "annotation npz", "key 'imgname'", "allow_pickle")


@pytest.mark.parametrize("damage", [truncate, empty, garbage, as_directory])
def test_damaged_file(npz, damage):
    path = damage(npz)
    assert_names(error(path), path, "cannot read annotation npz")


def test_unreadable(npz, monkeypatch):
    assert_names(error(unreadable(npz, monkeypatch)), npz, "Permission denied")
