"""Deterministic ``.npz`` writing: fixed zip timestamps and member order, so the same arrays give the same bytes
(``np.savez`` stamps the current time into the zip, which breaks byte-identical builds and generated trees)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

__all__ = ["npz_bytes", "read_npz", "write_npz"]

_EPOCH = (1980, 1, 1, 0, 0, 0)


def npz_bytes(arrays: Mapping[str, np.ndarray], *, compress: bool = True) -> bytes:
    """Serialise ``arrays`` to ``.npz`` bytes readable by ``np.load`` (members sorted by name; no pickles)."""
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=method) as zf:
        for name in sorted(arrays):
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_EPOCH)
            info.compress_type = method
            info.external_attr = 0o644 << 16
            payload = io.BytesIO()
            np.lib.format.write_array(payload, np.asarray(arrays[name]), allow_pickle=False)
            zf.writestr(info, payload.getvalue(), compresslevel=6 if compress else None)
    return buf.getvalue()


def write_npz(path: str | Path, arrays: Mapping[str, np.ndarray], *, compress: bool = False) -> None:
    """Write ``arrays`` to ``path`` deterministically (parent folders created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(npz_bytes(arrays, compress=compress))


def read_npz(path: str | Path, what: str) -> dict[str, np.ndarray]:
    """All arrays of an ``.npz`` (no pickles); any read failure is a DataFileError naming the file and ``what``
    it was meant to be (e.g. 'ground-truth SMPL-X npz')."""
    from bench.errors import DataFileError

    path = Path(path)
    key = None
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {}
            for key in npz.files:
                arrays[key] = npz[key]
            return arrays
    except Exception as exc:  # zip, numpy and OS errors all mean the same to the user
        where = f" (key {key!r})" if key is not None else ""
        raise DataFileError(f"{path}: cannot read {what}{where}: {type(exc).__name__}: {exc}") from None
