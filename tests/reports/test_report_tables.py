"""The table cells: our mean ± interval, the paper's numbers beside them, Table III and IV specifics, paired tests."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from _report_rows import D2S, PP, WPP, make_per_sample, make_row, make_rows

from reports.paired import paired_table
from reports.render import table_latex, table_markdown
from reports.rows import validate_per_sample, validate_rows
from reports.tables import table1, table2, table3, table4

T_975_1 = 12.706204736174698  # t_{0.975, 1}: two seeds


def _columns(markdown: str) -> list[str]:
    header = next(line for line in markdown.splitlines() if line.startswith("|"))
    return [c.strip() for c in header.strip().strip("|").split("|")]


def test_table1_holds_mean_and_interval_and_paper_number(full_report, md_row):
    out, _ = full_report
    markdown = (out / "table1.md").read_text(encoding="utf-8")
    columns = _columns(markdown)
    cells = dict(zip(columns, md_row(markdown, D2S), strict=True))
    half = T_975_1 * np.std([50.0, 54.0], ddof=1) / math.sqrt(2)
    assert cells["MPJPE, ours (mm)"] == f"52.0 ± {half:.1f}"
    half_pa = T_975_1 * np.std([38.0, 40.0], ddof=1) / math.sqrt(2)
    assert cells["PA-MPJPE, ours (mm)"] == f"39.0 ± {half_pa:.1f}"
    assert cells["MPJPE, paper (reported)"] == "53.2" and cells["PA-MPJPE, paper (reported)"] == "39.2"
    assert cells["seeds"] == "2" and cells["n per seed"] == "100"
    wpp = dict(zip(columns, md_row(markdown, WPP), strict=True))
    assert wpp["MPJPE, paper (reported)"] == "57.5" and wpp["PA-MPJPE, paper (reported)"] == "41.3"
    assert dict(zip(columns, md_row(markdown, PP), strict=True))["MPJPE, paper (reported)"] == "61.8"
    mtc = dict(zip(columns, md_row(markdown, "MTC"), strict=True))
    assert mtc["MPJPE, ours (mm)"] == "–" and mtc["MPJPE, paper (reported)"] == "63.0"
    assert mtc["PA-MPJPE, paper (reported)"] == "–"


def test_table1_csv_holds_numbers(full_report):
    out, _ = full_report
    data = pd.read_csv(out / "table1.csv")
    d2s = data[data["variant"] == D2S].iloc[0]
    assert d2s["mpjpe_mm_mean"] == 52.0
    assert math.isclose(d2s["mpjpe_mm_ci95"], T_975_1 * np.std([50.0, 54.0], ddof=1) / math.sqrt(2))
    assert d2s["paper_mpjpe_mm"] == 53.2 and d2s["seeds"] == 2


def test_one_seed_prints_no_interval(md_row):
    table = table1(validate_rows(make_rows(seeds=(0,))))
    markdown = table_markdown(table)
    line = md_row(markdown, D2S)
    assert "50.0 (1 seed)" in line and not any("±" in cell for cell in line)
    assert table.data.loc[table.data["variant"] == D2S, "mpjpe_mm_ci95"].isna().all()


def test_bare_proposed_maps_to_d2s():
    rows = pd.DataFrame([make_row("proposed", "panoptic", 0, "mpjpe_mm", 50.0)])
    display = table1(validate_rows(rows)).display
    line = display[display["variant"] == "proposed"].iloc[0]
    assert line["MPJPE, paper (reported)"] == "53.2"


def test_table2_has_protocol_columns_and_paper_pairs():
    table = table2(validate_rows(make_rows()))
    columns = list(table.display.columns)
    assert {"P1 MPJPE, ours (mm)", "P2 MPJPE, ours (mm)", "P1 PA-MPJPE, ours (mm)", "P2 PA-MPJPE, ours (mm)"} <= set(
        columns
    )
    by_method = table.display.set_index("method")
    assert by_method.loc["Proposed (D2S)", "P1 MPJPE, ours (mm)"].startswith("67.0 ± ")
    assert by_method.loc["Proposed (D2S)", "P2 MPJPE, ours (mm)"].startswith("64.5 ± ")
    assert by_method.loc["Proposed (D2S)", "MPJPE, paper (reported)"] == "67.4"
    assert by_method.loc["SMPLify-X", "MPJPE, paper (reported)"] == "–"
    assert by_method.loc["SMPLify-X", "PA-MPJPE, paper (reported)"] == "75.9"
    assert by_method.loc["HMR [4]", "P1 MPJPE, ours (mm)"] == "–"
    assert by_method.loc["HMR [4]", "MPJPE, paper (reported)"] == "87.9"


def test_table3_shows_no_paper_number():
    table = table3(validate_rows(make_rows()))
    paper = table.display["MPJPE, paper (reported)"]
    assert (paper == "not transcribed: see the paper's Table III").all()
    assert list(table.display["method"]) == ["FHGR", "FHGR + STS (ours)", "FHGR + STS*"]
    assert not any(c.startswith("paper") for c in table.data.columns)
    assert "not transcribed: see the paper's Table III" in table_markdown(table)


def test_table4_shows_both_paper_runtimes_and_the_discrepancy(full_report):
    out, _ = full_report
    markdown = (out / "table4.md").read_text(encoding="utf-8")
    assert "12 s" in markdown and "82.72 s" in markdown and "disagrees" in markdown
    table = table4(validate_rows(make_rows()))
    smplifyx = table.data[table.data["variant"] == "smplifyx"].iloc[0]
    assert smplifyx["paper_table_s"] == 12.0 and smplifyx["paper_text_s"] == 82.72
    assert smplifyx["batch"] == 64 and math.isclose(smplifyx["batch1_s_per_image"], 31.5)  # median of 30, 33
    assert "MTC [14]" in set(table.display["method"])
    assert "NVIDIA H100" in set(table.display["device"])
    assert "82.72 s" in table_latex(table)


def test_skipped_method_says_why():
    rows = pd.DataFrame([make_row("fhgr", "panoptic", 0, "mpjpe_mm", float("nan"), skip_reason="no hand data")])
    display = table1(validate_rows(rows)).display
    assert display.loc[display["variant"] == "fhgr", "MPJPE, ours (mm)"].iloc[0] == "skipped: no hand data"


def test_paired_differences_and_their_sign_are_right():
    """The fixture's per-sample errors through the paired table: each (other variant, metric) line of the
    projection comparison holds the mean over training seeds of the per-seed mean of D2S - other over the samples
    both scored (paired by sample identity), the pair count summed over seeds, and D2S has the lower error (the
    statistics themselves are tested in test_paired.py)."""
    samples = make_per_sample()
    data = paired_table(validate_per_sample(samples)).data
    data = data[data["comparison"] == "projection"]
    assert set(data["other_variant"]) == {WPP, PP} and set(data["data_seed"]) == {0}
    for (other, metric), line in data.groupby(["other_variant", "metric"]):
        per_seed, pairs = [], 0
        for seed in sorted(set(samples["seed"])):
            a = samples[(samples["variant"] == D2S) & (samples["seed"] == seed)].set_index("sample_id")[metric]
            b = samples[(samples["variant"] == other) & (samples["seed"] == seed)].set_index("sample_id")[metric]
            both = a.notna() & b.reindex(a.index).notna()
            diff = a[both] - b.reindex(a.index)[both]
            per_seed.append(float(diff.mean()))
            pairs += len(diff)
        assert line["n_pairs"].iloc[0] == pairs
        assert math.isclose(line["mean_diff_mm"].iloc[0], sum(per_seed) / len(per_seed))
        assert line["mean_diff_mm"].iloc[0] < 0 and line["body_high_mm"].iloc[0] < 0  # D2S has the lower error
    assert data[(data["other_variant"] == WPP) & (data["metric"] == "mpjpe_mm")]["n_pairs"].iloc[0] == 79  # 1 failed


def test_paired_needs_a_d2s_and_another_projection():
    samples = make_per_sample()
    assert paired_table(validate_per_sample(samples[samples["variant"] != D2S])) is None


def _with_lifter(rows: pd.DataFrame) -> pd.DataFrame:
    """The fixture rows plus a lifter (reference) on Panoptic and on H36M P1 / P2, two seeds."""
    values = {"panoptic": (45.0, 47.0), "h36m[protocol=p1]": (60.0, 62.0), "h36m[protocol=p2]": (58.0, 59.0)}
    extra = [make_row("lifter", dataset, seed, metric, v + (-10.0 if metric == "pa_mpjpe_mm" else 0.0))
             for dataset, pair in values.items() for seed, v in zip((0, 1), pair, strict=True)
             for metric in ("mpjpe_mm", "pa_mpjpe_mm")]  # fmt: skip
    return pd.concat([rows, pd.DataFrame(extra)], ignore_index=True)


LIFTER_LABEL = "Lifting MLP (Martinez et al. 2017), reference"


def test_the_lifter_is_a_reference_row_of_table1_without_a_paper_number():
    table = table1(validate_rows(_with_lifter(make_rows())))
    display = table.display
    assert display["method"].iloc[-1] == LIFTER_LABEL  # references come last
    line = display[display["variant"] == "lifter"].iloc[0]
    assert line["MPJPE, ours (mm)"].startswith("46.0 ± ") and line["PA-MPJPE, ours (mm)"].startswith("36.0 ± ")
    assert line["MPJPE, paper (reported)"] == "–" and line["PA-MPJPE, paper (reported)"] == "–"
    record = table.data[table.data["variant"] == "lifter"].iloc[0]
    assert record["paper_row"] == "" and np.isnan(record["paper_mpjpe_mm"]) and record["mpjpe_mm_mean"] == 46.0
    assert any(note.startswith(LIFTER_LABEL) and "no such row" in note for note in table.notes)
    assert not any(LIFTER_LABEL in note for note in table1(validate_rows(make_rows())).notes)
    # the paper's rows keep their numbers beside ours
    assert display.loc[display["variant"] == D2S, "MPJPE, paper (reported)"].iloc[0] == "53.2"


def test_the_lifter_is_a_reference_row_of_table2_on_both_protocols():
    table = table2(validate_rows(_with_lifter(make_rows())))
    by_method = table.display.set_index("method")
    assert table.display["method"].iloc[-1] == LIFTER_LABEL
    assert by_method.loc[LIFTER_LABEL, "P1 MPJPE, ours (mm)"].startswith("61.0 ± ")
    assert by_method.loc[LIFTER_LABEL, "P2 PA-MPJPE, ours (mm)"].startswith("48.5 ± ")
    assert by_method.loc[LIFTER_LABEL, "MPJPE, paper (reported)"] == "–"
    assert by_method.loc[LIFTER_LABEL, "PA-MPJPE, paper (reported)"] == "–"
    assert by_method.loc["Proposed (D2S)", "MPJPE, paper (reported)"] == "67.4"  # unchanged beside it
    assert any(note.startswith(LIFTER_LABEL) for note in table.notes)
