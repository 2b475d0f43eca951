"""The input contract of the reports: tidy result rows and per-sample errors (the columns ``bench.run.results``
writes), checked and normalised once.

Every other module of ``reports`` takes the frames returned here, so it can rely on the columns existing and on
their types (strings without NaN, integer counts, boolean ``synthetic``). A frame that lacks a column is a
:class:`bench.errors.ConfigError` naming the missing column(s), raised before anything is written.

Slices (a row says which by its ``view``, ``group`` and ``bin``; ``"all"`` means not sliced on that axis):

- overall: view, group and bin all ``"all"``;
- per view: view set, group = bin = ``"all"``;
- per joint group: group set, view = bin = ``"all"``;
- per camera distance: bin set (``"2.5-3.0"``, metres), view = group = ``"all"``.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from bench.errors import ConfigError
from bench.run.results import ROW_FIELDS, SAMPLE_FIELDS

__all__ = [
    "ALL",
    "COLLAPSED_VALUES",
    "ERROR_METRICS",
    "IDENTITY_COLUMNS",
    "PER_SAMPLE_COLUMNS",
    "ROW_COLUMNS",
    "RUNTIME_METRIC",
    "UNIT_VALUE_KEYS",
    "by_distance",
    "by_group",
    "by_view",
    "overall",
    "per_seed",
    "validate_per_sample",
    "validate_rows",
]

ALL = "all"  # the value of view/group/bin in a row that is not sliced on that axis
ERROR_METRICS = ("mpjpe_mm", "pa_mpjpe_mm")
IDENTITY_COLUMNS = ("sample_id", "body_id")  # a per-sample error's identity (bench.run.results.sample_ids)
RUNTIME_METRIC = "seconds_per_image"

# The runner's columns (bench.run.results writes them); one definition, so the two cannot drift apart.
ROW_COLUMNS = ROW_FIELDS
PER_SAMPLE_COLUMNS = SAMPLE_FIELDS

# The columns that identify one value of one unit: a unit listed under two experiments is one result, not two.
UNIT_VALUE_KEYS = ("unit", "variant", "dataset", "metric", "view", "group", "bin", "batch")

_ROW_TEXT = ("experiment", "unit", "method", "variant", "dataset", "protocol", "view", "group", "bin", "metric",
             "skip_reason", "device", "device_name", "train", "data", "body_model", "keypoints2d")  # fmt: skip
_ROW_INT = ("seed", "data_seed", "n", "skipped", "failed", "faults", "batch")
_ROW_FLOAT = ("value", "fit_seconds", "eval_seconds")
_ROW_BOOL = ("synthetic", "model_cached")
# Columns added after rows files were first written, with the value an older frame's rows get: no method reported
# a collapse; no sample carried its identity (such units cannot be paired); data seed 0; what is synthetic not
# labelled part by part ('': ``synthetic`` then meant the data, ``reports.labels``). (Files of the tracking store
# written before the data seed existed get their training seed as data seed when read, which is what the runner
# loaded their sets with: ``bench.run.tracking.Tracker.load_tables``.)
_ROW_ADDED = {"data_seed": 0, "collapsed": "", "data": "", "body_model": "", "keypoints2d": "", "threads": "",
              "cores": "", "load_avg": "", "iterations_used": ""}  # fmt: skip
_SAMPLE_ADDED = {"data_seed": 0, "sample_id": "", "body_id": ""}
COLLAPSED_VALUES = ("true", "false", "")  # a row's ``collapsed``: the method's flag, '' when it reports none


def _require(frame: object, columns: Iterable[str], what: str) -> pd.DataFrame:
    """``frame`` itself when it is a DataFrame holding every column of ``columns``; else ConfigError naming them."""
    if not isinstance(frame, pd.DataFrame):
        raise ConfigError(f"{what}: expected a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ConfigError(f"{what}: missing column(s) {', '.join(missing)}; expected columns: {', '.join(columns)}")
    return frame


def _text(series: pd.Series) -> pd.Series:
    """Strings with NaN/None as '' (a CSV round trip turns empty strings into NaN)."""
    return series.astype(object).where(series.notna(), "").astype(str).str.strip()


def _integer(series: pd.Series, column: str, what: str) -> pd.Series:
    """Integers; missing or blank -> 0 (the runner writes '' for a field it does not know)."""
    values = pd.to_numeric(series, errors="coerce")
    bad = (_text(series) != "") & values.isna()
    if bad.any():
        raise ConfigError(f"{what}: column {column!r} holds non-numeric value {series[bad].iloc[0]!r}")
    return values.fillna(0).astype(np.int64)


def _floating(series: pd.Series, column: str, what: str) -> pd.Series:
    """Floats; missing, blank or 'nan' -> NaN."""
    values = pd.to_numeric(series, errors="coerce")
    bad = ~_text(series).str.lower().isin(("", "nan")) & values.isna()
    if bad.any():
        raise ConfigError(f"{what}: column {column!r} holds non-numeric value {series[bad].iloc[0]!r}")
    return values.astype(float)


def _boolean(series: pd.Series) -> pd.Series:
    """True for True/1/'true'/'yes' (any case); False for everything else, NaN included."""
    if series.dtype == bool:
        return series
    return _text(series).str.lower().isin(("true", "1", "1.0", "yes"))


def _with_added(frame: object, added: dict[str, object]) -> object:
    """``frame`` with the columns added since older files were written filled in (``_ROW_ADDED``); others as is."""
    if not isinstance(frame, pd.DataFrame):
        return frame
    missing = {k: v for k, v in added.items() if k not in frame.columns}
    return frame.assign(**missing) if missing else frame


def _collapsed(series: pd.Series, what: str) -> pd.Series:
    """'true' / 'false' / '' (the method reports no flag) from a bool or its text; anything else a ConfigError."""
    text = _text(series).str.lower().replace({"1": "true", "0": "false", "1.0": "true", "0.0": "false",
                                              "nan": ""})  # fmt: skip
    bad = ~text.isin(COLLAPSED_VALUES)
    if bad.any():
        raise ConfigError(f"{what}: column 'collapsed' holds {series[bad].iloc[0]!r}; expected True, False or empty")
    return text


def validate_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Check the tidy result rows (columns :data:`ROW_COLUMNS`) and return a normalised copy, the row columns
    first in their order, extra columns after them as they are.

    Text columns become ``str`` ('' for missing), counts and seeds ``int64`` (missing -> 0), ``value`` and the
    timings ``float`` (NaN kept), ``synthetic``/``model_cached`` ``bool``, ``collapsed`` one of
    :data:`COLLAPSED_VALUES`. Rows without ``data_seed`` / ``collapsed`` / ``data`` / ``body_model`` /
    ``keypoints2d`` (frames from before they existed) get 0 / '' / '' / '' / ''.
    Raises ConfigError naming the missing column(s), or a column holding a non-numeric count or value.
    """
    what = "result rows"
    frame = _require(_with_added(rows, _ROW_ADDED), ROW_COLUMNS, what).copy()
    frame = frame[[*ROW_COLUMNS, *(c for c in frame.columns if c not in ROW_COLUMNS)]]
    for column in _ROW_TEXT:
        frame[column] = _text(frame[column])
    for column in _ROW_INT:
        frame[column] = _integer(frame[column], column, what)
    for column in _ROW_FLOAT:
        frame[column] = _floating(frame[column], column, what)
    for column in _ROW_BOOL:
        frame[column] = _boolean(frame[column])
    frame["collapsed"] = _collapsed(frame["collapsed"], what)
    return frame.reset_index(drop=True)


def validate_per_sample(per_sample: pd.DataFrame) -> pd.DataFrame:
    """Check the per-sample errors (columns :data:`PER_SAMPLE_COLUMNS`) and return a normalised copy
    (text columns ``str``, ``seed``/``data_seed``/``index`` ``int64``, errors and distance ``float``, ``failed``
    ``bool``). Samples of a file written before they carried their identity get ``sample_id`` / ``body_id`` ''
    (they cannot be paired: ``reports.paired`` leaves such units out and says so); ``data_seed`` missing: 0."""
    what = "per-sample errors"
    frame = _require(_with_added(per_sample, _SAMPLE_ADDED), PER_SAMPLE_COLUMNS, what).copy()
    for column in ("unit", "experiment", "method", "variant", "dataset", "view", *IDENTITY_COLUMNS):
        frame[column] = _text(frame[column])
    for column in ("seed", "data_seed", "index"):
        frame[column] = _integer(frame[column], column, what)
    for column in ("distance_m", "mpjpe_mm", "pa_mpjpe_mm"):
        frame[column] = _floating(frame[column], column, what)
    frame["failed"] = _boolean(frame["failed"])
    return frame.reset_index(drop=True)


def _slice(rows: pd.DataFrame, sliced: str | None) -> pd.DataFrame:
    """Rows sliced on axis ``sliced`` only (None: the overall rows)."""
    keep = pd.Series(True, index=rows.index)
    for axis in ("view", "group", "bin"):
        keep &= (rows[axis] != ALL) if axis == sliced else (rows[axis] == ALL)
    return rows[keep]


def overall(rows: pd.DataFrame) -> pd.DataFrame:
    """The overall rows: view, group and bin all ``'all'``."""
    return _slice(rows, None)


def by_view(rows: pd.DataFrame) -> pd.DataFrame:
    """The per-view rows: a view id set, group and bin ``'all'``."""
    return _slice(rows, "view")


def by_group(rows: pd.DataFrame) -> pd.DataFrame:
    """The per-joint-group rows: a group set, view and bin ``'all'``."""
    return _slice(rows, "group")


def by_distance(rows: pd.DataFrame) -> pd.DataFrame:
    """The per-camera-distance rows: a bin set, view and group ``'all'``."""
    return _slice(rows, "bin")


def per_seed(rows: pd.DataFrame, keys: Iterable[str]) -> pd.DataFrame:
    """One line per (keys..., seed): ``value`` the mean over that seed's units (NaN values skipped, NaN when none
    is finite) and ``n`` their largest sample count. A unit listed twice (two experiments) counts once."""
    keys = [*keys, "seed"]
    unique = rows.drop_duplicates(subset=list(UNIT_VALUE_KEYS))
    return unique.groupby(keys, sort=True).agg(value=("value", "mean"), n=("n", "max")).reset_index()
