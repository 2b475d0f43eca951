"""The error-against-distance figure (``reports.plots.distance_figure``) from hand-made rows: its x axis starts at
the first populated bin, two datasets' count bars stand side by side without overlapping, and the legend covers
no panel."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _report_rows import D2S, PP, WPP, make_row
from matplotlib.backends.backend_agg import FigureCanvasAgg

from reports.plots import bin_edges, distance_figure

PANOPTIC = {"0.5-1.0": 61, "1.0-1.5": 53, "1.5-2.0": 68, "2.5-3.0": 40}  # 2.0-2.5 missing: a gap in the data
H36M = {"3.5-4.0": 200, "4.0-4.5": 320, "1.0-1.5": 5}


def _rows(bins_by_dataset: dict[str, dict[str, int]], seeds: tuple[int, ...] = (0,)) -> pd.DataFrame:
    rows = []
    for dataset, bins in bins_by_dataset.items():
        for variant, shift in ((D2S, 0.0), (WPP, 3.0), (PP, 6.0)):
            for seed in seeds:
                for label, n in bins.items():
                    low = bin_edges(label)[0]
                    for metric, base in (("mpjpe_mm", 100.0), ("pa_mpjpe_mm", 60.0)):
                        rows.append(make_row(variant, dataset, seed, metric, base + shift + 5 * low + seed, bin=label,
                                             n=n, experiment="distance"))  # fmt: skip
                # a bin with no scored sample before the data: left out, and not where the axis starts
                rows.append(make_row(variant, dataset, seed, "mpjpe_mm", float("nan"), bin="0.0-0.5", n=0))
    return pd.DataFrame(rows)


def _bars(ax) -> dict[str, list[tuple[float, float, float]]]:
    """Per bar container (its label): (left, right, height) of each bar."""
    return {c.get_label(): [(p.get_x(), p.get_x() + p.get_width(), p.get_height()) for p in c.patches]
            for c in ax.containers if hasattr(c, "patches")}  # fmt: skip


def test_x_axis_starts_at_the_first_populated_bin():
    figure = distance_figure(_rows({"panoptic": PANOPTIC, "h36m[protocol=p1]": H36M}))
    counts = figure.axes[2]
    assert counts.get_xlim() == pytest.approx((0.5, 4.5))  # first bin's low edge .. last bin's high edge
    ticks = counts.get_xticks()
    labels = [t.get_text() for t in counts.get_xticklabels()]
    assert ticks[0] == pytest.approx(0.75) and labels[0] == "0.5-1.0"
    assert labels == ["0.5-1.0", "1.0-1.5", "1.5-2.0", "2.5-3.0", "3.5-4.0", "4.0-4.5"]  # populated bins only
    for ax in figure.axes[:2]:  # the error panels share the axis
        assert ax.get_xlim() == pytest.approx((0.5, 4.5))
        for line in ax.get_lines():
            x = line.get_xdata()
            assert len(x) == 0 or np.min(x) > 0.5


def test_far_data_starts_far():
    figure = distance_figure(_rows({"h36m[protocol=p1]": {"3.5-4.0": 200, "4.0-4.5": 320}}))
    assert figure.axes[2].get_xlim() == pytest.approx((3.5, 4.5))


def test_two_datasets_bars_side_by_side_without_overlap():
    figure = distance_figure(_rows({"panoptic": PANOPTIC, "h36m[protocol=p1]": H36M}))
    bars = _bars(figure.axes[2])
    pan, h36m = bars["samples per bin (panoptic)"], bars["samples per bin (h36m[protocol=p1])"]
    assert sorted(h for _, _, h in pan) == sorted(PANOPTIC.values())
    assert sorted(h for _, _, h in h36m) == sorted(H36M.values())
    for a_left, a_right, _ in pan:
        for b_left, b_right, _ in h36m:
            assert a_right <= b_left + 1e-9 or b_right <= a_left + 1e-9  # disjoint in x
    # each bar lies inside its own bin
    for bins, drawn in ((PANOPTIC, pan), (H36M, h36m)):
        edges = sorted(bin_edges(b) for b in bins)
        for (low, high), (left, right, _) in zip(edges, sorted(drawn), strict=True):
            assert low <= left < right <= high


def test_legend_covers_no_panel():
    figure = distance_figure(_rows({"panoptic": PANOPTIC, "h36m[protocol=p1]": H36M}, seeds=(0, 1)))
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    renderer = canvas.get_renderer()
    assert len(figure.legends) == 1 and not any(ax.get_legend() for ax in figure.axes)
    legend = figure.legends[0].get_window_extent(renderer)
    texts = [t.get_text() for t in figure.legends[0].get_texts()]
    assert f"{D2S} on panoptic" in texts and "samples per bin (panoptic)" in texts
    for ax in figure.axes:
        box = ax.get_window_extent(renderer)
        assert legend.x0 >= box.x1 or legend.x1 <= box.x0 or legend.y0 >= box.y1 or legend.y1 <= box.y0


def test_no_distance_rows_no_figure():
    rows = _rows({"panoptic": PANOPTIC})
    assert distance_figure(rows[rows["bin"] == "0.0-0.5"]) is None
