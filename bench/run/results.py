"""Tidy result rows: one metric value per row, sliced overall, per view, per joint group and per camera distance.

A row says what was run (experiment, unit, method family, the variant as written, dataset spec, protocol, the
training ``seed`` and the ``data_seed`` of the sets it was trained and scored on), which slice it covers (``view``,
``group``, ``bin``: each ``"all"`` except the one the row slices by), the metric and its value (millimetres for
errors), how many samples it covers (``n`` scored, ``skipped`` not scored, ``failed`` by the method, ``faults``:
samples the adapter dropped for a per-sample fault), and where (what is synthetic, below; device, batch size, training
sets, cached model, seconds; ``threads``: the torch threads of the process that computed it, ``cores`` and
``load_avg``: the machine's cores and 1-minute load average then, which the seconds depend on). ``collapsed`` is the
method's own collapse flag from its fit summary (``True``/``False``; ``''`` when the method reports none);
``iterations_used`` the training iterations its model ran, as its training-length rule chose them
(``bench.run.validation``; ``''`` for a method without a training length).
Reports are built from these rows alone (``reports``).

What is synthetic, labelled apart (``data_labels``) and together:

- ``data``: 'synthetic' (a tree written by hmrbench's generator, ``bench.registry.SYNTHETIC_MARKER``) or 'real';
- ``body_model``: 'embedded' (hmrbench's procedurally generated SMPL-X-format model) or 'smplx' (a real model
  file), the model the method was built with;
- ``keypoints2d``: where the set's 2D inputs come from (``info['keypoints2d']``, set by the adapter):
  'detections' (read from a detector's output files), 'simulated' (ground truth projected, plus the detector-noise
  model), 'exact' (projected without noise), 'unknown' when the adapter does not say;
- ``synthetic``: True unless all three are real: real data, the real SMPL-X model and 2D detections. A number
  computed with any synthetic part is not comparable with the paper's.

An empty set (no sample left after loading and ``--limit``) gives its two overall rows with ``n`` 0 and the reason
in ``skip_reason``, like a set the method does not support.

- Views: one row per camera view when the set has more than one (Panoptic HD views, H36M cameras).
- Joint groups: the skeleton's parts (body, left_hand, ...); a body is further split into torso (pelvis, spine,
  neck, head), arms (shoulders to wrists) and legs (hips to feet); a hand into its fingers (the palm/wrist goes with
  no finger). A group's error is each sample's mean over the group's scored joints, averaged over samples; the
  PA alignment is the whole skeleton's.
- Distance: the norm of the ground-truth root in the camera frame, in bins of 0.5 m (0.1 m for close-up sets whose
  median distance is under 1.5 m, such as hands), labelled ``"lo-hi"`` in metres.

Per-sample errors (``per_sample_frame``) go with the rows for paired tests between methods on the same samples.
Each sample carries its identity (``sample_ids``): ``sample_id`` is ``subject|sequence|action|frame|view|person``
from the set's ids, the same whatever ``--limit`` or unit scored it, so two units pair on the samples both scored;
``body_id`` is the same without the view (one body at one instant seen by several cameras: the cluster of a
bootstrap, since its views are not independent samples).
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from bench.body.skeletons import get_skeleton
from bench.errors import ConfigError
from bench.files import atomic_write
from bench.run.evaluate import Evaluation
from bench.samples import ID_FIELDS, SampleSet

__all__ = ["BODY_MODELS", "KEYPOINTS2D_SOURCES", "ROW_FIELDS", "SAMPLE_FIELDS", "data_labels", "distance_bins",
           "evaluation_rows", "joint_groups", "label_tags", "per_sample_frame", "read_rows", "sample_ids",
           "synthetic_parts", "write_table"]

ROW_FIELDS = ("experiment", "unit", "method", "variant", "dataset", "protocol", "view", "group", "bin", "seed",
              "data_seed", "metric", "value", "n", "skipped", "failed", "faults", "skip_reason", "synthetic", "data",
              "body_model", "keypoints2d", "device", "device_name", "batch", "train", "model_cached", "collapsed",
              "fit_seconds", "eval_seconds", "threads", "cores", "load_avg", "iterations_used")  # fmt: skip
# columns added after rows files were first written: an older file reads them as blank (``read_rows``);
# iterations_used: the training iterations the unit's model ran (``bench.run.validation``), '' for an untrained method
_ADDED = ("threads", "cores", "load_avg", "iterations_used")
KEYPOINTS2D_SOURCES = ("detections", "simulated", "exact", "unknown")  # a row's keypoints2d (module docstring)
BODY_MODELS = ("embedded", "smplx")
SAMPLE_FIELDS = ("unit", "experiment", "method", "variant", "dataset", "seed", "data_seed", "index", "sample_id",
                 "body_id", "view", "distance_m", "mpjpe_mm", "pa_mpjpe_mm", "failed")  # fmt: skip
ID_SEPARATOR = "|"  # between the id fields of a sample_id / body_id

_ARMS = re.compile(r"shoulder|elbow|wrist")
_LEGS = re.compile(r"hip|knee|ankle|heel|toe|foot")
_FINGERS = ("thumb", "index", "middle", "ring", "pinky")


def joint_groups(skeleton: str) -> dict[str, np.ndarray]:
    """Group name -> joint indices of ``skeleton`` (module docstring); groups with no joint are left out."""
    sk = get_skeleton(skeleton)
    groups: dict[str, list[int]] = {}
    for i, (name, part) in enumerate(zip(sk.joints, sk.parts, strict=True)):
        groups.setdefault(part, []).append(i)
        if part == "body":
            sub = "arms" if _ARMS.search(name) else "legs" if _LEGS.search(name) else "torso"
            groups.setdefault(sub, []).append(i)
        elif part in ("left_hand", "right_hand"):
            finger = next((f for f in _FINGERS if f in name), None)
            if finger is not None:
                groups.setdefault(f"{part}_{finger}", []).append(i)
    return {k: np.asarray(v, dtype=np.int64) for k, v in groups.items()}


def distance_bins(distance: np.ndarray) -> np.ndarray:
    """Bin label (``"lo-hi"``, metres) per sample; ``""`` where the distance is unknown (NaN)."""
    ok = np.isfinite(distance)
    labels = np.full(len(distance), "", dtype=object)
    if not ok.any():
        return labels
    width = 0.1 if np.median(distance[ok]) < 1.5 else 0.5
    lo = np.floor(distance[ok] / width + 1e-9) * width
    labels[ok] = [f"{a:.1f}-{a + width:.1f}" for a in lo]
    return labels


def _mean_mm(values: np.ndarray) -> float:
    ok = np.isfinite(values)
    return float(1000.0 * values[ok].mean()) if ok.any() else math.nan


def _group_errors(joint_errors: np.ndarray, index: np.ndarray) -> np.ndarray:
    sub = joint_errors[:, index]
    ok = np.isfinite(sub)
    count = ok.sum(1)
    total = np.where(ok, sub, 0.0).sum(1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def data_labels(samples: SampleSet, body_model: str) -> dict[str, Any]:
    """What is synthetic in a result on ``samples`` computed with ``body_model`` ('embedded' or 'smplx'): the row
    fields ``data``, ``body_model``, ``keypoints2d`` and ``synthetic`` (module docstring)."""
    if body_model not in BODY_MODELS:
        raise ConfigError(f"body_model must be one of {', '.join(BODY_MODELS)}, got {body_model!r}")
    keypoints2d = str(samples.info.get("keypoints2d") or "unknown")
    if keypoints2d not in KEYPOINTS2D_SOURCES:  # an adapter's typo must not pass as a label
        raise ConfigError(f"{samples.name}: info['keypoints2d'] must be one of {', '.join(KEYPOINTS2D_SOURCES)}, "
                          f"got {keypoints2d!r}")  # fmt: skip
    data = "synthetic" if samples.info.get("synthetic", False) else "real"
    synthetic = data == "synthetic" or body_model == "embedded" or keypoints2d != "detections"
    return {"synthetic": synthetic, "data": data, "body_model": body_model, "keypoints2d": keypoints2d}


def label_tags(labels: Any) -> dict[str, str]:
    """MLflow tags of a unit scored on sets with these ``data_labels``: ``synthetic`` ('true' when any part of any
    set is), ``data``, ``body_model`` and ``keypoints2d`` (the distinct values, comma-separated)."""
    labels = list(labels)
    tags = {"synthetic": str(any(x["synthetic"] for x in labels)).lower()}
    for key in ("data", "body_model", "keypoints2d"):
        tags[key] = ",".join(sorted({str(x[key]) for x in labels}))
    return tags


def synthetic_parts(rows: Any) -> list[str]:
    """Which parts of these rows (dicts) are synthetic, in words: 'data', 'body model (embedded)', '2D
    (simulated)', ...; a synthetic row written before the labels existed (no ``data`` label) counts as synthetic
    data, which is what ``synthetic`` meant then."""
    parts: dict[str, None] = {}
    for r in rows:
        if str(r.get("synthetic", "")) != "True":
            continue
        if r.get("data") in ("synthetic", "", None):
            parts["data"] = None
        if r.get("body_model") == "embedded":
            parts["body model (embedded)"] = None
        if r.get("keypoints2d") not in (None, "", "detections"):
            parts[f"2D ({r['keypoints2d']})"] = None
    return list(parts)


def evaluation_rows(ev: Evaluation, samples: SampleSet, base: dict[str, Any]) -> list[dict[str, Any]]:
    """Tidy rows (``ROW_FIELDS``) of one evaluation: overall, per view, per joint group, per distance bin.

    ``base`` holds the fields that do not depend on the slice (experiment, unit, method, variant, dataset,
    seed, device, ``body_model``: 'embedded' when not given, ...); the labels of what is synthetic come from
    ``data_labels``. A set the method does not support, or an empty one, gives its two overall rows with NaN
    values, ``n`` 0 and the reason in ``skip_reason``.
    """
    faults = int(sum(samples.faults.counts.values())) if samples.faults is not None else 0
    labels = data_labels(samples, base.get("body_model", "embedded"))
    common = {**base, "protocol": samples.info.get("protocol", ""), "faults": 0, "skip_reason": "", **labels,
              "eval_seconds": ev.seconds}  # fmt: skip

    def row(metric: str, value: float, n: int, total: int, failed: int, **where: str) -> dict[str, Any]:
        slice_ = {"view": "all", "group": "all", "bin": "all", **where}
        r = {**common, **slice_, "metric": metric, "value": value, "n": n, "skipped": total - n, "failed": failed}
        if where == {}:
            r["faults"] = faults
        return {k: r.get(k, "") for k in ROW_FIELDS}

    if ev.skipped:
        rows = [row(m, math.nan, 0, ev.n_samples, 0) for m in ("mpjpe_mm", "pa_mpjpe_mm")]
        for r in rows:
            r["skip_reason"] = ev.skipped
        return rows

    def slice_rows(sel: np.ndarray, mp: np.ndarray, pa: np.ndarray, **where: str) -> list[dict[str, Any]]:
        m, p = mp[sel], pa[sel]
        both = np.isfinite(m) & np.isfinite(p)  # both means over the same samples, the n the row reports
        failed = int(ev.failed[sel].sum())
        return [row("mpjpe_mm", _mean_mm(m[both]), int(both.sum()), int(sel.sum()), failed, **where),
                row("pa_mpjpe_mm", _mean_mm(p[both]), int(both.sum()), int(sel.sum()), failed, **where)]  # fmt: skip

    every = np.ones(ev.n_samples, bool)
    rows = slice_rows(every, ev.mpjpe, ev.pa_mpjpe)
    views = np.asarray(samples.ids["view"]).astype(str)
    if len(np.unique(views)) > 1:
        for view in sorted(np.unique(views)):
            rows += slice_rows(views == view, ev.mpjpe, ev.pa_mpjpe, view=str(view))
    for name, index in joint_groups(samples.skeleton).items():
        rows += slice_rows(every, _group_errors(ev.joint_mpjpe, index), _group_errors(ev.joint_pa_mpjpe, index),
                           group=name)  # fmt: skip
    bins = distance_bins(ev.distance)
    for label in sorted({b for b in bins if b}, key=lambda b: float(b.split("-")[0])):
        rows += slice_rows(bins == label, ev.mpjpe, ev.pa_mpjpe, bin=label)
    return rows


def sample_ids(ids: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """``(sample_id, body_id)`` text per sample from a set's ``ids`` (``bench.samples.ID_FIELDS``): the fields
    joined by ``|`` in that order; ``body_id`` leaves out ``view``. A ``|`` inside a field is an error (it would
    make two identities one)."""
    text = {k: np.asarray(ids[k]).astype(str) for k in ID_FIELDS}
    for key, values in text.items():
        bad = np.char.find(values, ID_SEPARATOR) >= 0
        if bad.any():
            raise ValueError(f"sample ids: field {key!r} holds {ID_SEPARATOR!r} (in {values[bad][0]!r})")

    def join(keys: tuple[str, ...]) -> np.ndarray:
        parts = zip(*(text[k] for k in keys), strict=True)
        return np.array([ID_SEPARATOR.join(p) for p in parts], dtype=object)

    return join(ID_FIELDS), join(tuple(k for k in ID_FIELDS if k != "view"))


def per_sample_frame(ev: Evaluation, samples: SampleSet, base: dict[str, Any]) -> dict[str, np.ndarray]:
    """Columns (``SAMPLE_FIELDS``) of the per-sample errors (mm) of one evaluation; empty when it was skipped."""
    n = 0 if ev.skipped else ev.n_samples
    cols: dict[str, Any] = {k: np.full(n, base.get(k, ""), dtype=object) for k in SAMPLE_FIELDS}
    if n:
        sample_id, body_id = sample_ids(samples.ids)
        cols.update(index=np.arange(n), sample_id=sample_id, body_id=body_id,
                    view=np.asarray(samples.ids["view"]).astype(str), distance_m=ev.distance,
                    mpjpe_mm=1000.0 * ev.mpjpe, pa_mpjpe_mm=1000.0 * ev.pa_mpjpe, failed=ev.failed)  # fmt: skip
    return cols


_TEXT = ("experiment", "unit", "method", "variant", "dataset", "protocol", "view", "group", "bin", "skip_reason",
         "device", "device_name", "train", "sample_id", "body_id", "collapsed", "data", "body_model",
         "keypoints2d")  # fmt: skip


def write_table(columns_or_rows: Any, fields: tuple[str, ...], path: str | os.PathLike) -> Path:
    """Write rows (a list of dicts) or columns (a dict of arrays) as CSV (gzip when the name ends in .gz),
    atomically: a reader never sees half a file."""
    import pandas as pd

    frame = pd.DataFrame(columns_or_rows)
    frame = frame.reindex(columns=list(fields))
    gzip = "gzip" if Path(path).suffix == ".gz" else None
    return atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False, compression=gzip))


def read_rows(path: str | os.PathLike) -> Any:
    """A rows or per-sample CSV written by ``write_table`` as a DataFrame (text columns as text, '' for none)."""
    import pandas as pd

    frame = pd.read_csv(path, dtype={k: str for k in _TEXT})
    if "metric" in frame:  # a rows file (not per-sample errors) from before these columns: blank
        frame = frame.assign(**{k: "" for k in _ADDED if k not in frame})
    for key in _TEXT:
        if key in frame:
            frame[key] = frame[key].fillna("")
    return frame
