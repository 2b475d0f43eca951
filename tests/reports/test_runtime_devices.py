"""Table IV with runtime rows of two devices in the store (issue 14: a CPU run and a GPU run of ``hmrbench runtime``):
each variant gets one line per device, the lines of one variant next to each other, each with its device's name and
its own medians (never pooled across devices), the paper's figures beside every line, and the caption naming both
devices. Fabricated rows, no run of any method.
"""

from __future__ import annotations

import math

import pandas as pd
from _report_rows import D2S, make_row

from reports.render import table_markdown
from reports.rows import validate_rows
from reports.tables import table4

CPU, GPU = "AMD EPYC 9654 (2 cores)", "NVIDIA H200"
# (variant, device name) -> {batch: (run 1, run 2)} seconds per image
TIMES = {
    (D2S, CPU): {1: (0.0030, 0.0034), 256: (0.00008, 0.00010)},
    (D2S, GPU): {1: (0.0009, 0.0011), 256: (0.000004, 0.000006)},
    ("smplifyx", CPU): {1: (1.4, 1.6), 64: (0.09, 0.11)},
    ("smplifyx", GPU): {1: (0.6, 0.8), 64: (0.02, 0.04)},
    ("lifter", GPU): {1: (0.0004, 0.0006), 256: (0.000001, 0.000003)},  # timed on the GPU only
}


def rows() -> pd.DataFrame:
    out = []
    for (variant, device_name), batches in TIMES.items():
        device = "cuda" if device_name == GPU else "cpu"
        for batch, values in batches.items():
            for run, value in enumerate(values):
                out.append(make_row(variant, "h36m[protocol=p1]", 0, "seconds_per_image", value, batch=batch,
                                    experiment="table4", device=device, device_name=device_name, n=7, train="",
                                    unit=f"{variant}-{device}-{run}"))  # fmt: skip
    return validate_rows(pd.DataFrame(out))


def test_cpu_and_gpu_runtime_rows_are_side_by_side_per_variant():
    table = table4(rows())
    display, data = table.display, table.data
    mine = display[display["variant"] != "–"]
    pairs = list(zip(mine["variant"], mine["device"], strict=True))
    assert set(pairs) == set(TIMES)  # one line per (variant, device), nothing pooled or lost
    for variant in {v for v, _ in TIMES}:
        where = [i for i, (v, _) in enumerate(pairs) if v == variant]
        assert where == list(range(where[0], where[0] + len(where))), f"{variant}'s devices are not next to each other"
    for (variant, device_name), batches in TIMES.items():
        record = data[(data["variant"] == variant) & (data["device_name"] == device_name)].iloc[0]
        largest = max(batches)
        assert math.isclose(record["batch1_s_per_image"], sum(batches[1]) / 2)  # this device's median only
        assert math.isclose(record["batched_s_per_image"], sum(batches[largest]) / 2) and record["batch"] == largest
        assert record["runs"] == 2 * len(batches)
    paper = display.columns[display.columns.str.startswith("Table IV, paper")][0]
    ours = display[display["variant"] == D2S]
    assert len(ours) == 2 and (ours[paper] == "0.09").all()  # the paper's figure beside both devices' lines
    smplifyx = display[display["variant"] == "smplifyx"]
    assert (smplifyx[paper] == "12").all()
    markdown = table_markdown(table)
    assert CPU in markdown and GPU in markdown
    assert f"Ours: {CPU}, {GPU};" in " ".join(table.notes)
