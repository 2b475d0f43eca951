"""Bad SMPL-X model files: every damaged or malformed file is a `ModelFileError` naming the file and the key or
field at fault, and `hmrbench model info` on it exits non-zero with one line, no traceback, and never hangs.

Each case is a copy of the embedded model's arrays (conftest's `embedded_arrays`, loaded once per session) with one
defect, written to tmp_path. A cycle in `kintree_table` used to make `model info` loop forever, NaN in
`hands_meanl` and inf in `lmk_bary_coords` passed (then every sample failed with NaN), and a face index out of range
gave an IndexError traceback or passed unnoticed.
"""

from __future__ import annotations

import os
import pickle
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse
from _corrupt import as_directory, assert_names, empty, garbage, truncate, unreadable

from bench.body.body_model import read_model_file, resolve_model
from bench.cli import main
from bench.errors import ModelFileError

Arrays = dict[str, np.ndarray]


def _changed(key: str, change: Callable[[np.ndarray], None]) -> Callable[[Arrays], Arrays]:
    """A corruption: a copy of `key`'s array changed in place by `change`."""

    def corrupt(arrays: Arrays) -> Arrays:
        value = arrays[key].copy()
        change(value)
        return {**arrays, key: value}

    return corrupt


def _replaced(key: str, make: Callable[[np.ndarray], np.ndarray]) -> Callable[[Arrays], Arrays]:
    return lambda arrays: {**arrays, key: make(arrays[key])}


def _without(key: str) -> Callable[[Arrays], Arrays]:
    return lambda arrays: {k: v for k, v in arrays.items() if k != key}


def _set(index, value) -> Callable[[np.ndarray], None]:
    def change(a: np.ndarray) -> None:
        a[index] = value

    return change


# name -> (corruption of the arrays, the parts the message must hold besides the file's path)
CASES: dict[str, tuple[Callable[[Arrays], Arrays], tuple[str, ...]]] = {
    "missing_key": (_without("lmk_bary_coords"), ("missing key", "'lmk_bary_coords'")),
    "wrong_shape": (_replaced("hands_meanl", lambda a: a[:44]), ("'hands_meanl'", "(44,)", "(45,)")),
    "wrong_shape_contour": (
        _replaced("dynamic_lmk_faces_idx", lambda a: a[:78]),
        ("'dynamic_lmk_faces_idx'", "(78, 17)", "(79, 17)"),
    ),
    "scalar_faces": (_replaced("f", lambda a: np.array(7)), ("'f'", "shape ()", "expected (N, 3)")),
    "float_faces": (_replaced("f", lambda a: a.astype(np.float64)), ("'f'", "float64", "integers")),
    "float_landmark_faces": (_replaced("lmk_faces_idx", lambda a: a.astype(np.float32)), ("'lmk_faces_idx'",)),
    "text_template": (_replaced("v_template", lambda a: a.astype(str)), ("'v_template'", "expected numbers")),
    "nan_hand_mean": (_changed("hands_meanl", _set(3, np.nan)), ("'hands_meanl'", "NaN or inf", "(3,)")),
    "inf_landmark_bary": (_changed("lmk_bary_coords", _set((2, 1), np.inf)), ("'lmk_bary_coords'", "(2, 1)")),
    "nan_contour_bary": (_changed("dynamic_lmk_bary_coords", _set((5, 2, 0), np.nan)), ("'dynamic_lmk_bary_coords'",)),
    "inf_hand_components": (_changed("hands_componentsr", _set((0, 7), -np.inf)), ("'hands_componentsr'",)),
    "nan_weights": (_changed("weights", _set((100, 3), np.nan)), ("'weights'",)),
    "face_index_out_of_range": (_changed("f", _set((10, 2), 10475)), ("'f'", "10475", "0..10474", "vertices")),
    "negative_face_index": (_changed("f", _set((4, 0), -1)), ("'f'", "-1")),
    "landmark_face_out_of_range": (_changed("lmk_faces_idx", _set(0, 20850)), ("'lmk_faces_idx'", "20850", "faces")),
    "negative_contour_face": (_changed("dynamic_lmk_faces_idx", _set((3, 4), -2)), ("'dynamic_lmk_faces_idx'", "-2")),
    # 3's parent is 6 and 6's parent is 3
    "kintree_cycle": (_changed("kintree_table", _set((0, 3), 6)), ("'kintree_table'", "cycle", "joint 3 (spine1)")),
    "kintree_self_parent": (_changed("kintree_table", _set((0, 9), 9)), ("'kintree_table'", "cycle", "joint 9")),
    "kintree_parent_after_child": (
        _changed("kintree_table", _set((0, 1), 5)),
        ("'kintree_table'", "joint 1 (left_hip)", "joint 5 (right_knee)", "listed after"),
    ),
    "kintree_second_root": (
        _changed("kintree_table", _set((0, 12), -1)),
        ("'kintree_table'", "joint 12 (neck)", "second root"),
    ),
    "kintree_parent_out_of_range": (
        _changed("kintree_table", _set((0, 20), 55)),
        ("'kintree_table'", "joint 20 (left_wrist)", "55", "out of range"),
    ),
    "kintree_root_with_parent": (_changed("kintree_table", _set((0, 0), 3)), ("'kintree_table'", "joint 0 (pelvis)")),
    "kintree_joint_ids_reordered": (_changed("kintree_table", _set((1, slice(1, 3)), [2, 1])), ("'kintree_table'",)),
}


def _write_npz(path: Path, arrays: Arrays) -> Path:
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("case", list(CASES))
def test_malformed_npz_names_the_file_and_the_key(embedded_arrays, tmp_path, case):
    corrupt, parts = CASES[case]
    path = _write_npz(tmp_path / f"{case}.npz", corrupt(embedded_arrays))
    with pytest.raises(ModelFileError) as err:
        read_model_file(path)
    assert_names(err.value, path, *parts)
    assert "\n" not in str(err.value)


DAMAGE = {
    "truncated": (lambda p, mp: truncate(p, 0.5), "cannot read"),
    "empty": (lambda p, mp: empty(p), "empty"),
    "garbage": (lambda p, mp: garbage(p), "cannot read"),
    "directory": (lambda p, mp: as_directory(p), "folder"),
    "unreadable": (lambda p, mp: unreadable(p, mp), "Permission denied"),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
@pytest.mark.parametrize("suffix", [".npz", ".pkl"])
def test_damaged_file_names_the_file(embedded_npz, embedded_arrays, tmp_path, monkeypatch, damage, suffix):
    path = tmp_path / f"SMPLX_NEUTRAL{suffix}"
    if suffix == ".npz":
        shutil.copyfile(embedded_npz, path)
    else:  # a real pickle of a dict of arrays (the large blend shapes left out: the damage is what matters)
        small = {k: v for k, v in embedded_arrays.items() if k not in ("posedirs", "shapedirs")}
        path.write_bytes(pickle.dumps(small))
    make, reason = DAMAGE[damage]
    make(path, monkeypatch)
    for read in (read_model_file, resolve_model):  # the path as given by the user, and the reader
        with pytest.raises(ModelFileError) as err:
            read(path)
        assert_names(err.value, path, reason)
        assert "\n" not in str(err.value)


def test_fifo_is_refused_without_blocking(tmp_path):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this platform")
    path = tmp_path / "model.npz"
    os.mkfifo(path)
    with pytest.raises(ModelFileError) as err:
        _promptly(lambda: read_model_file(path))
    assert_names(err.value, path, "not a regular file")


@pytest.mark.parametrize(
    "content, parts",
    [
        ([1, 2, 3], ("pickled list", "not the dict")),
        ("SMPLX", ("pickled str",)),
        ({"v_template": {"not": "an array"}}, ("missing key",)),
    ],
    ids=["list", "str", "dict_without_keys"],
)
def test_pkl_that_is_not_a_dict_of_arrays_is_refused(tmp_path, content, parts):
    path = tmp_path / "SMPLX_NEUTRAL.pkl"
    path.write_bytes(pickle.dumps(content))
    with pytest.raises(ModelFileError) as err:
        read_model_file(path)
    assert_names(err.value, path, *parts)


def test_pkl_value_numpy_cannot_hold_names_the_key(embedded_arrays, tmp_path):
    path = tmp_path / "SMPLX_NEUTRAL.pkl"
    path.write_bytes(pickle.dumps({**embedded_arrays, "hands_meanl": {"not": "an array"}}))
    with pytest.raises(ModelFileError) as err:
        read_model_file(path)
    assert_names(err.value, path, "'hands_meanl'")


def test_official_pkl_layout_is_accepted(embedded_arrays, tmp_path):
    """As the official SMPL-X .pkl stores them: uint32 faces and kinematic tree with the root's parent 2**32-1, and
    a scipy.sparse J_regressor. Validation must not refuse a valid real file."""
    arrays = dict(embedded_arrays)
    kintree = arrays["kintree_table"].astype(np.uint32)  # -1 wraps to 4294967295
    assert kintree[0, 0] == 2**32 - 1
    arrays.update(kintree_table=kintree, f=arrays["f"].astype(np.uint32))
    arrays["J_regressor"] = scipy.sparse.csc_matrix(arrays["J_regressor"])
    path = tmp_path / "SMPLX_NEUTRAL.pkl"
    path.write_bytes(pickle.dumps(arrays))
    data = read_model_file(path)
    assert set(data) == set(arrays)


def _promptly(call: Callable[[], object], seconds: float = 60.0) -> object:
    """`call()`'s result (or its exception), failing the test if it has not returned within `seconds`."""
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:  # re-raised in the test's thread
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds:.0f} s (a hang)"
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome.get("value")


@pytest.mark.parametrize(
    "case", ["kintree_cycle", "kintree_parent_after_child", "nan_hand_mean", "face_index_out_of_range"]
)
def test_cli_model_info_on_a_bad_file_is_one_line_and_prompt(embedded_cache, embedded_arrays, tmp_path, capsys, case):
    corrupt, parts = CASES[case]
    path = _write_npz(tmp_path / f"{case}.npz", corrupt(embedded_arrays))
    code = _promptly(lambda: main(["model", "info", "--model-path", str(path)]))
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hmrbench: error: "), captured.err
    assert_names(lines[0], path, *parts)


def test_cli_model_info_on_a_garbage_file_is_one_line(embedded_cache, tmp_path, capsys):
    path = garbage(tmp_path / "SMPLX_NEUTRAL.npz")
    assert main(["model", "info", "--model-path", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1, captured.err
    assert_names(captured.err, path)
