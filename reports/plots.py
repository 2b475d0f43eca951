"""The report's figures, drawn from result rows: Fig. 6 (error per Panoptic view), error against camera distance,
runtime on a log scale, and error per joint group.

Each builder takes validated rows and returns a ``matplotlib.figure.Figure`` (no pyplot: nothing global, no
window, any backend) or None when no row feeds it. Values are means over seeds; error bars are the 95% t interval
over seeds and are drawn only where there is one (two seeds or more and a non-zero width: no zero-length caps).
Legends name variants by their spec (``proposed[projection=wpp]``), the string used everywhere else. A figure built
from any synthetic row carries a red "SYNTHETIC" line naming the synthetic parts, and one built from ``--quick``
experiments says so (:mod:`reports.labels`). ``distance_figure`` and ``groups_figure`` take a ``title`` for a user's
own experiment.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from reports import paper
from reports.labels import figure_labels
from reports.rows import ERROR_METRICS, RUNTIME_METRIC, by_distance, by_group, by_view, per_seed
from reports.stats import seed_summary
from reports.variants import dataset_name, projection

__all__ = ["bin_edges", "bin_midpoint", "distance_figure", "fig6_per_view", "groups_figure", "runtime_figure"]

_METRIC_LABELS = {"mpjpe_mm": "MPJPE (mm)", "pa_mpjpe_mm": "PA-MPJPE (mm)"}
_PROJECTION_ORDER = {"d2s": 0, "wpp": 1, "pp": 2}
_BIN = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*-\s*(\d+(?:\.\d*)?)\s*$")


def _mark(figure: Figure, rows: pd.DataFrame) -> None:
    """Above the figure: which parts of ``rows`` are synthetic, and that they come from quick settings, if so."""
    text = figure_labels(rows)
    if text:
        figure.text(0.5, 1.0, text, ha="center", va="bottom", color="red", fontsize=10, fontweight="bold")


def _interval_bars(ax: Axes, x: np.ndarray, stats: pd.DataFrame, **style: object) -> None:
    """Error bars of the 95% interval over seeds (``stats``' ``half``) at ``x``, only where there is one (two seeds
    or more and a non-zero width): a single seed gets no bar and no zero-length cap."""
    has = ((stats["k"] > 1) & (stats["half"] > 0)).to_numpy()
    if has.any():
        ax.errorbar(np.asarray(x)[has], stats["mean"].to_numpy()[has], yerr=stats["half"].to_numpy()[has], fmt="none",
                    **{"capsize": 3, **style})  # fmt: skip


def _over_seeds(rows: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Per (keys...): ``mean`` over seeds, ``half`` the 95% interval half width (0 below two seeds), ``k``
    seeds with a finite value and ``n`` the mean samples per seed."""
    seeds = per_seed(rows, keys)
    seeds = seeds[np.isfinite(seeds["value"])]
    out = []
    for key, part in seeds.groupby(keys, sort=True):
        s = seed_summary(part["value"].to_numpy())
        out.append((*key, s.mean, s.half_width or 0.0, s.k, float(part["n"].mean())))
    return pd.DataFrame(out, columns=[*keys, "mean", "half", "k", "n"])


def _series_order(series: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """(variant, dataset) pairs, D2S / WPP / PP first in that order, then the rest by name."""
    return sorted(series, key=lambda s: (_PROJECTION_ORDER.get(projection(s[0]) or "", 9), s))


def _legend_name(variant: str, dataset: str, several_datasets: bool) -> str:
    return f"{variant} on {dataset}" if several_datasets else variant


def _interval_note(stats: pd.DataFrame) -> str:
    k = int(stats["k"].max()) if len(stats) else 0
    if k >= 2:
        return f"mean over up to {k} seeds; error bars: 95% t interval over seeds"
    return "one seed: no interval drawn"


def fig6_per_view(rows: pd.DataFrame) -> Figure | None:
    """The paper's Fig. 6: MPJPE and PA-MPJPE per Panoptic view (x) for each variant, two panels."""
    sel = by_view(rows)
    sel = sel[sel["metric"].isin(ERROR_METRICS) & (sel["dataset"].map(dataset_name) == "panoptic")]
    stats = _over_seeds(sel, ["variant", "dataset", "view", "metric"])
    if stats.empty:
        return None
    views = sorted(stats["view"].unique())
    series = _series_order(list(stats[["variant", "dataset"]].drop_duplicates().itertuples(index=False, name=None)))
    several = stats["dataset"].nunique() > 1
    figure = Figure(figsize=(min(16.0, max(8.0, 0.4 * len(views) + 3)), 8.0), layout="constrained")
    axes = figure.subplots(2, 1)  # stacked: 31 Panoptic views side by side in two panels would be unreadable
    width = 0.5 / max(len(series), 1)
    for ax, metric in zip(axes, ERROR_METRICS, strict=True):
        for i, (variant, dataset) in enumerate(series):
            part = stats[(stats["variant"] == variant) & (stats["dataset"] == dataset) & (stats["metric"] == metric)]
            x = np.array([views.index(v) for v in part["view"]]) + (i - (len(series) - 1) / 2) * width
            (line,) = ax.plot(x, part["mean"], marker="o", label=_legend_name(variant, dataset, several))
            _interval_bars(ax, x, part, ecolor=line.get_color())
        ax.set_xticks(range(len(views)), views, rotation=45, ha="right")
        ax.set_xlabel("camera view (Panoptic HD camera id)")
        ax.set_ylabel(_METRIC_LABELS[metric])
        ax.set_title(_METRIC_LABELS[metric].replace(" (mm)", "") + " per view")
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=8)
    figure.suptitle(f"Fig. 6 (rebuilt): error per view on CMU Panoptic — {_interval_note(stats)}", fontsize=10)
    _mark(figure, sel)
    return figure


def bin_edges(label: str) -> tuple[float, float] | None:
    """(low, high) in metres of a distance bin written ``'2.5-3.0'``; None for a label not of that form."""
    match = _BIN.match(label)
    if not match:
        return None
    low, high = float(match.group(1)), float(match.group(2))
    return (low, high) if high > low else None


def bin_midpoint(label: str) -> float | None:
    """Midpoint in metres of a distance bin written ``'2.5-3.0'``; None for a label not of that form."""
    edges = bin_edges(label)
    return None if edges is None else (edges[0] + edges[1]) / 2


_DATASET_MARKERS = ("o", "s", "^", "D", "v")
_DATASET_LINES = ("-", "--", ":", "-.")


def distance_figure(rows: pd.DataFrame, *, title: str = "") -> Figure | None:
    """MPJPE and PA-MPJPE against camera distance, and the samples per bin, in three panels over one x axis.

    x: camera distance of the root joint (m); each populated bin is a tick at its midpoint, labelled with the
    bin, and the axis runs from the first populated bin's low edge to the last one's high edge (no empty bins
    before the data). Bins with no scored sample are left out (a gap inside the range stays visible). One colour
    per variant, one marker and line style per dataset. The counts (one seed's samples per bin, the largest over
    the variants scored on a dataset) are bars in the bottom panel, the datasets' bars side by side within each
    bin. The legend sits outside the panels, below them, so it never covers data. ``title``: put before the
    figure's own title (a user experiment's title).
    """
    sel = by_distance(rows)
    sel = sel[sel["metric"].isin(ERROR_METRICS) & (sel["n"] >= 1) & np.isfinite(sel["value"])].copy()
    edges = sel["bin"].map(bin_edges)
    unreadable = sorted(set(sel.loc[edges.isna(), "bin"]))
    sel = sel[edges.notna()]
    sel["mid"] = sel["bin"].map(bin_midpoint)
    stats = _over_seeds(sel, ["variant", "dataset", "bin", "mid", "metric"])
    if stats.empty:
        return None
    series = _series_order(list(stats[["variant", "dataset"]].drop_duplicates().itertuples(index=False, name=None)))
    datasets = sorted(stats["dataset"].unique())
    variants = list(dict.fromkeys(v for v, _ in series))
    bins = sorted(set(stats["bin"]), key=lambda b: bin_edges(b))
    low = {b: bin_edges(b)[0] for b in bins}
    high = {b: bin_edges(b)[1] for b in bins}
    figure = Figure(figsize=(11, 9), layout="constrained")
    axes = figure.subplots(3, 1, sharex=True, height_ratios=(3, 3, 2))
    for ax, metric in zip(axes[:2], ERROR_METRICS, strict=True):
        for i, (variant, dataset) in enumerate(series):
            part = stats[(stats["variant"] == variant) & (stats["dataset"] == dataset) & (stats["metric"] == metric)]
            part = part.sort_values("mid")
            width = np.array([high[b] - low[b] for b in part["bin"]])
            x = part["mid"].to_numpy() + (i - (len(series) - 1) / 2) * 0.04 * width  # error bars side by side
            d = datasets.index(dataset)
            color = f"C{variants.index(variant) % 10}"
            ax.plot(x, part["mean"], color=color, marker=_DATASET_MARKERS[d % len(_DATASET_MARKERS)],
                    linestyle=_DATASET_LINES[d % len(_DATASET_LINES)],
                    label=_legend_name(variant, dataset, len(datasets) > 1))  # fmt: skip
            _interval_bars(ax, x, part, ecolor=color)
        ax.set_ylabel(_METRIC_LABELS[metric])
        ax.set_title(_METRIC_LABELS[metric].replace(" (mm)", "") + " against camera distance", fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    counts = axes[2]
    for j, dataset in enumerate(datasets):
        n = stats[stats["dataset"] == dataset].groupby("bin")["n"].max()
        width = np.array([(high[b] - low[b]) * 0.8 / len(datasets) for b in n.index])
        left = np.array([low[b] + (high[b] - low[b]) * 0.1 for b in n.index]) + j * width
        bars = counts.bar(left, n.to_numpy(), width=width, align="edge", color=f"0.{3 + 3 * (j % 2)}",
                          edgecolor="black", linewidth=0.5, hatch=("", "//", "..")[j % 3],
                          label=f"samples per bin ({dataset})")  # fmt: skip
        counts.bar_label(bars, fmt="%.0f", fontsize=7)
    counts.set_ylabel("samples per bin\n(per seed)")
    counts.margins(y=0.2)
    counts.grid(axis="y", alpha=0.3)
    counts.set_xlabel("camera distance of the root joint (m; ticks at bin midpoints)")
    counts.set_xticks([(low[b] + high[b]) / 2 for b in bins], bins, rotation=45 if len(bins) > 8 else 0)
    counts.set_xlim(min(low.values()), max(high.values()))
    handles, labels = _legend_entries(axes)
    figure.legend(handles, labels, loc="outside lower center", ncols=min(len(datasets) + 1, 3), fontsize=8)
    title = f"{title + ': ' if title else ''}Error against camera distance — {_interval_note(stats)}"
    if unreadable:
        title += f"; bins not of the form 'a-b' left out: {', '.join(unreadable)}"
    figure.suptitle(title, fontsize=10)
    _mark(figure, sel)
    return figure


def _legend_entries(axes) -> tuple[list, list[str]]:
    """(handles, labels) of every labelled artist of ``axes``, each label once, in drawing order."""
    seen: dict[str, object] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            seen.setdefault(label, handle)
    return list(seen.values()), list(seen.keys())


def _runtime_category(variant: str, family: str) -> str | None:
    """The paper runtime row a variant of ours stands beside (the family, proposed only with D2S)."""
    if family == "proposed":
        return "proposed" if projection(variant, family) == "d2s" else None
    return family


def runtime_figure(rows: pd.DataFrame) -> Figure | None:
    """Seconds per image on a log scale: ours per variant and batch size (median over runs), the paper's Table IV
    values and the values of its text (which disagree) as two other marker kinds."""
    sel = rows[(rows["metric"] == RUNTIME_METRIC) & np.isfinite(rows["value"]) & (rows["value"] > 0)]
    if sel.empty:
        return None
    ours = sel.groupby(["variant", "method", "batch"])["value"].median().reset_index()
    categories = sorted(ours["variant"].unique(), key=lambda v: (_PROJECTION_ORDER.get(projection(v) or "", 9), v))
    families = dict(zip(ours["variant"], ours["method"], strict=False))
    paper_at: list[tuple[float, paper.PaperRuntime]] = []
    for prow in paper.TABLE4:
        mine = [c for c in families if prow.match and _runtime_category(c, families[c]) == prow.match]
        mine.sort(key=categories.index)
        if not mine:
            categories.append(f"{prow.label} (paper only)")
            mine = [categories[-1]]
        paper_at.append((float(categories.index(mine[0])), prow))
    figure = Figure(figsize=(max(7.0, 1.3 * len(categories) + 2), 4.8), layout="constrained")
    ax: Axes = figure.subplots()
    batches = sorted(ours["batch"].unique())
    step = 0.3 / max(len(batches), 1)
    for i, batch in enumerate(batches):
        part = ours[ours["batch"] == batch]
        x = np.array([categories.index(v) for v in part["variant"]]) - 0.2 + i * step
        ax.scatter(x, part["value"], marker="o", s=40, zorder=3, label=f"ours, batch {batch}")
    x_paper = np.array([x for x, _ in paper_at]) + 0.25
    ax.scatter(x_paper, [p.table_s for _, p in paper_at], marker="s", s=60, facecolors="none", edgecolors="red",
               zorder=3, label="paper (reported), Table IV")
    ax.scatter(x_paper + 0.08, [p.text_s for _, p in paper_at], marker="^", s=50, color="black", zorder=3,
               label="paper (reported), text of Sec. IV-E")  # fmt: skip
    ax.set_yscale("log")
    ax.set_xticks(range(len(categories)), categories, rotation=20, ha="right", fontsize=8)
    ax.set_xlim(-0.6, len(categories) - 0.4)
    ax.set_ylabel("seconds per image (s, log scale)")
    ax.set_xlabel("method variant")
    ax.grid(axis="y", which="both", alpha=0.3)
    ax.legend(fontsize=8)
    devices = ", ".join(sorted({d for d in sel["device_name"] if d})) or "unknown device"
    ax.set_title(f"Runtime per image — ours on {devices}; paper on Tesla P40\n"
                 "(the paper's table and text disagree for SMPLify-X and MTC: both shown)", fontsize=9)  # fmt: skip
    _mark(figure, sel)
    return figure


def groups_figure(rows: pd.DataFrame, *, title: str = "") -> Figure | None:
    """MPJPE per joint group (x) for each variant, one panel per dataset spec, bars with 95% seed intervals where
    there are any. ``title``: put before the figure's own title (a user experiment's title)."""
    sel = by_group(rows)
    sel = sel[sel["metric"] == "mpjpe_mm"]
    stats = _over_seeds(sel, ["dataset", "variant", "group"])
    if stats.empty:
        return None
    datasets = sorted(stats["dataset"].unique())
    colours = {v: f"C{i % 10}" for i, (v, _) in enumerate(_series_order([(v, "") for v in stats["variant"].unique()]))}
    figure = Figure(figsize=(max(6.0, 4.5 * len(datasets)), 4.8), layout="constrained")
    axes = np.atleast_1d(figure.subplots(1, len(datasets), squeeze=False)[0])
    for ax, dataset in zip(axes, datasets, strict=True):
        part = stats[stats["dataset"] == dataset]
        groups = sorted(part["group"].unique())
        variants = [v for v, _ in _series_order([(v, dataset) for v in part["variant"].unique()])]
        width = 0.8 / len(variants)
        for i, variant in enumerate(variants):
            one = part[part["variant"] == variant]
            x = np.array([groups.index(g) for g in one["group"]]) + (i - (len(variants) - 1) / 2) * width
            ax.bar(x, one["mean"], width=width, color=colours[variant], label=variant)
            _interval_bars(ax, x, one, ecolor="black", capsize=2)
        ax.set_xticks(range(len(groups)), groups, rotation=30, ha="right")
        ax.set_xlabel("joint group")
        ax.set_ylabel("MPJPE (mm)")
        ax.set_title(dataset, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    handles, labels = _legend_entries(axes)  # below the panels, one colour per variant in all: never over a bar
    figure.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 3), fontsize=7)
    figure.suptitle(f"{title + ': ' if title else ''}MPJPE per joint group — {_interval_note(stats)}", fontsize=10)
    _mark(figure, sel)
    return figure
