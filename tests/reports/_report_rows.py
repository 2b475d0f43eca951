"""Small, hand-made result rows and per-sample errors for the report tests (no run of any method); the fixtures
in this folder's conftest.py serve them.

The rows follow the runner's tidy layout (``reports.rows.ROW_COLUMNS``): two seeds; the proposed regressor with
D2S / WPP / PP on Panoptic (overall, 3 views, 3 distance bins, 3 joint groups); proposed and SMPLify-X on
Human3.6M protocols 1 and 2; three FHGR variants on STB; runtime rows at batch 1 and 64. Values are chosen so
the tests can compute the expected cells by hand.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

SEEDS = (0, 1)
VIEWS = ("00_03", "00_16", "00_25")
BINS = {"2.0-2.5": 30, "2.5-3.0": 40, "3.0-3.5": 30}
GROUPS = ("body", "arms", "legs")
D2S, WPP, PP = "proposed[projection=d2s]", "proposed[projection=wpp]", "proposed[projection=pp]"

# (variant, dataset) -> {metric: (seed 0 value, seed 1 value)}, mm
OVERALL = {
    (D2S, "panoptic"): {"mpjpe_mm": (50.0, 54.0), "pa_mpjpe_mm": (38.0, 40.0)},
    (WPP, "panoptic"): {"mpjpe_mm": (57.0, 58.0), "pa_mpjpe_mm": (41.0, 42.0)},
    (PP, "panoptic"): {"mpjpe_mm": (61.0, 63.0), "pa_mpjpe_mm": (43.0, 44.0)},
    (D2S, "h36m[protocol=p1]"): {"mpjpe_mm": (66.0, 68.0), "pa_mpjpe_mm": (51.0, 53.0)},
    (D2S, "h36m[protocol=p2]"): {"mpjpe_mm": (64.0, 65.0), "pa_mpjpe_mm": (50.0, 50.5)},
    ("smplifyx", "h36m[protocol=p1]"): {"mpjpe_mm": (110.0, 112.0), "pa_mpjpe_mm": (74.0, 76.0)},
    ("smplifyx", "h36m[protocol=p2]"): {"mpjpe_mm": (108.0, 109.0), "pa_mpjpe_mm": (73.0, 75.0)},
    ("fhgr", "stb"): {"mpjpe_mm": (14.0, 15.0), "pa_mpjpe_mm": (9.0, 9.5)},
    ("fhgr[sts=true]", "stb"): {"mpjpe_mm": (12.0, 12.5), "pa_mpjpe_mm": (8.0, 8.2)},
    ("fhgr[sts=true,input=gt2d]", "stb"): {"mpjpe_mm": (9.0, 9.4), "pa_mpjpe_mm": (6.0, 6.1)},
}
RUNTIME = {(D2S, 1): 0.02, (D2S, 64): 0.001, ("smplifyx", 1): 30.0, ("smplifyx", 64): 2.5}


def _family(variant: str) -> str:
    return variant.split("[", 1)[0]


def _unit(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:16]


def make_row(variant: str, dataset: str, seed: int, metric: str, value: float, **fields: object) -> dict:
    """One tidy row with plausible defaults; ``fields`` override any column."""
    row = {
        "experiment": "table1", "unit": _unit(variant, dataset, seed), "method": _family(variant),
        "variant": variant, "dataset": dataset, "protocol": f"{dataset or 'runtime'}: test protocol",
        "view": "all", "group": "all", "bin": "all", "seed": seed, "metric": metric, "value": value, "n": 100,
        "skipped": 0, "failed": 0, "faults": 0, "skip_reason": "", "synthetic": True, "device": "cpu",
        "device_name": "AMD EPYC 9654", "batch": 1, "train": "h36m[split=train]", "model_cached": False,
        "fit_seconds": 1.0, "eval_seconds": 0.5,
    }  # fmt: skip
    row.update(fields)
    return row


def make_rows(seeds: tuple[int, ...] = SEEDS, synthetic: bool = True) -> pd.DataFrame:
    """The full fixture set of rows (see the module docstring)."""
    rows = []
    for (variant, dataset), metrics in OVERALL.items():
        for i, seed in enumerate(seeds):
            for metric, values in metrics.items():
                rows.append(make_row(variant, dataset, seed, metric, values[i]))
                if dataset != "panoptic":
                    continue
                for j, view in enumerate(VIEWS):
                    rows.append(make_row(variant, dataset, seed, metric, values[i] + 3.0 * j, view=view, n=33))
                for j, (label, n) in enumerate(BINS.items()):
                    rows.append(make_row(variant, dataset, seed, metric, values[i] + 2.0 * j, bin=label, n=n))
                for j, group in enumerate(GROUPS):
                    rows.append(make_row(variant, dataset, seed, metric, values[i] + 5.0 * j, group=group))
    for (variant, batch), seconds in RUNTIME.items():
        for i, seed in enumerate(seeds):
            rows.append(make_row(variant, "", seed, "seconds_per_image", seconds * (1 + 0.1 * i), batch=batch,
                                 experiment="table4", n=64, protocol="", device_name="NVIDIA H100"))  # fmt: skip
    frame = pd.DataFrame(rows)
    frame["synthetic"] = synthetic
    return frame


def make_per_sample(seeds: tuple[int, ...] = SEEDS, count: int = 40) -> pd.DataFrame:
    """Per-sample errors on Panoptic: D2S about 4 mm (MPJPE) lower than WPP and 7 mm lower than PP, per sample;
    WPP's sample 5 of seed 0 failed (NaN). Every seed scores the same test set (data seed 0)."""
    rng = np.random.default_rng(0)
    records = []
    for seed in seeds:
        base = rng.uniform(40.0, 70.0, count)
        for variant, shift in ((D2S, 0.0), (WPP, 4.0), (PP, 7.0)):
            mpjpe = base + shift + rng.normal(0.0, 2.0, count)
            pa = 0.7 * base + shift / 2 + rng.normal(0.0, 1.5, count)
            failed = np.zeros(count, bool)
            if variant == WPP and seed == 0:
                mpjpe[5] = pa[5] = np.nan
                failed[5] = True
            for index in range(count):
                records.append({
                    "unit": _unit(variant, "panoptic", seed), "experiment": "table1", "method": "proposed",
                    "variant": variant, "dataset": "panoptic", "seed": seed, "data_seed": 0, "index": index,
                    "sample_id": f"171204_pose1|171204_pose1||{index // 3}|{VIEWS[index % 3]}|0",
                    "body_id": f"171204_pose1|171204_pose1||{index // 3}|0",
                    "view": VIEWS[index % 3], "distance_m": 2.0 + index * 0.03, "mpjpe_mm": mpjpe[index],
                    "pa_mpjpe_mm": pa[index], "failed": failed[index],
                })  # fmt: skip
    return pd.DataFrame(records)
