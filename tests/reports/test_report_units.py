"""The small pieces: row validation, seed statistics, spec reading, bin labels, LaTeX escaping, atomic writes."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from _report_rows import make_row

from bench.errors import ConfigError
from reports.files import write_text
from reports.labels import synthetic_parts, synthetic_warning
from reports.plots import bin_midpoint
from reports.render import latex_escape, table_markdown
from reports.rows import ROW_COLUMNS, by_distance, by_group, by_view, overall, validate_rows
from reports.stats import SeedSummary, format_summary, paired_test, seed_summary
from reports.table import Table, caption_with_warning, seed_note
from reports.variants import dataset_name, dataset_setting, method_label, projection, without_setting


def test_validate_rows_names_missing_columns_and_normalises():
    with pytest.raises(ConfigError, match="bin"):
        validate_rows(pd.DataFrame([make_row("smplifyx", "stb", 0, "mpjpe_mm", 1.0)]).drop(columns="bin"))
    with pytest.raises(ConfigError, match="DataFrame"):
        validate_rows([{"a": 1}])
    raw = pd.DataFrame([make_row("smplifyx", float("nan"), 0, "mpjpe_mm", 1.0, synthetic="True", n=None)])
    rows = validate_rows(raw)
    assert rows.loc[0, "dataset"] == "" and bool(rows.loc[0, "synthetic"]) is True and rows.loc[0, "n"] == 0
    assert list(rows.columns[: len(ROW_COLUMNS)]) == list(ROW_COLUMNS)
    blank = validate_rows(pd.DataFrame([make_row("fhgr", "stb", 0, "mpjpe_mm", "", batch="", fit_seconds="")]))
    assert blank.loc[0, "batch"] == 0 and math.isnan(blank.loc[0, "fit_seconds"]) and math.isnan(blank.loc[0, "value"])
    with pytest.raises(ConfigError, match="'n'"):
        validate_rows(pd.DataFrame([make_row("fhgr", "stb", 0, "mpjpe_mm", 1.0, n="many")]))


def test_slices_partition_rows():
    rows = validate_rows(pd.DataFrame([
        make_row("fhgr", "stb", 0, "mpjpe_mm", 1.0),
        make_row("fhgr", "stb", 0, "mpjpe_mm", 1.0, view="00_01"),
        make_row("fhgr", "stb", 0, "mpjpe_mm", 1.0, group="hand"),
        make_row("fhgr", "stb", 0, "mpjpe_mm", 1.0, bin="0.5-1.0"),
    ]))  # fmt: skip
    assert [len(f(rows)) for f in (overall, by_view, by_group, by_distance)] == [1, 1, 1, 1]


def test_seed_summary_is_the_t_interval():
    values = [50.0, 54.0, 51.0]
    summary = seed_summary(values)
    expected = 4.302652729911275 * np.std(values, ddof=1) / math.sqrt(3)  # t_{0.975, 2}
    assert summary.k == 3 and math.isclose(summary.half_width, expected) and math.isclose(summary.mean, 155 / 3)
    assert seed_summary([50.0, float("nan")]) == SeedSummary(50.0, None, 1)
    assert format_summary(seed_summary([50.0])) == "50.0 (1 seed)"
    assert format_summary(seed_summary([])) == "–"


def test_paired_test_edge_cases():
    same = paired_test([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    assert same.mean_diff == 0 and math.isnan(same.t_p) and math.isnan(same.wilcoxon_p)
    one = paired_test([1.0, float("nan")], [2.0, 1.0])
    assert one.n == 1 and one.dropped == 1 and math.isnan(one.ci_low)
    with pytest.raises(ValueError, match="1-D"):
        paired_test([1.0, 2.0], [1.0])


def test_specs_and_labels():
    assert dataset_name("h36m[protocol=p2]") == "h36m" and dataset_setting("h36m", "protocol", "p1") == "p1"
    assert without_setting("h36m[protocol=p2,joints=14]", "protocol") == "h36m[joints=14]"
    assert projection("proposed") == "d2s" and projection("proposed[projection=wpp]") == "wpp"
    assert projection("smplifyx") is None
    assert method_label("fhgr") == "FHGR"
    assert method_label("fhgr[sts=true]") == "FHGR + STS (ours)"
    assert method_label("fhgr[sts=true,input=gt2d]") == "FHGR + STS*"
    with pytest.raises(ConfigError):
        dataset_name("h36m[protocol")


def test_bin_midpoint():
    assert bin_midpoint("2.5-3.0") == 2.75 and bin_midpoint(" 3 - 4 ") == 3.5
    assert bin_midpoint("far") is None and bin_midpoint("3.0-2.5") is None


def test_latex_escape():
    assert latex_escape("52.0 ± 1.2") == r"52.0 $\pm$ 1.2"
    assert latex_escape("a_b & 5% – {x}") == r"a\_b \& 5\% -- \{x\}"


def test_atomic_write_leaves_no_temporary(tmp_path):
    path = write_text(tmp_path / "a" / "x.md", "hello")
    assert path.read_text() == "hello" and [p.name for p in path.parent.iterdir()] == ["x.md"]
    with pytest.raises(TypeError):
        write_text(tmp_path / "a" / "y.md", None)  # type: ignore[arg-type]
    assert [p.name for p in path.parent.iterdir()] == ["x.md"]


def test_rows_of_older_files_get_a_data_seed_and_no_collapse_flag():
    old = pd.DataFrame([make_row("fhgr", "stb", 2, "mpjpe_mm", 1.0)])
    assert "data_seed" not in old and "collapsed" not in old
    rows = validate_rows(old)
    assert rows.loc[0, "data_seed"] == 0 and rows.loc[0, "collapsed"] == ""
    assert list(rows.columns[: len(ROW_COLUMNS)]) == list(ROW_COLUMNS)
    flags = pd.DataFrame([make_row("proposed[projection=pp]", "panoptic", s, "mpjpe_mm", 1.0, data_seed=1,
                                   collapsed=flag) for s, flag in enumerate((True, "False", "", float("nan")))])
    rows = validate_rows(flags)
    assert list(rows["collapsed"]) == ["true", "false", "", ""] and set(rows["data_seed"]) == {1}
    with pytest.raises(ConfigError, match="'collapsed' holds 'maybe'"):
        validate_rows(pd.DataFrame([make_row("fhgr", "stb", 0, "mpjpe_mm", 1.0, collapsed="maybe")]))


def _seed_rows(seeds: dict[str, tuple[int, ...]], data_seeds: tuple[int, ...] = (0,)) -> pd.DataFrame:
    return validate_rows(pd.DataFrame([make_row(v, "panoptic", s, "mpjpe_mm", 50.0, data_seed=d)
                                       for v, ss in seeds.items() for s in ss for d in data_seeds]))  # fmt: skip


def test_seed_note_says_which_seed_varies():
    d2s, pp = "proposed[projection=d2s]", "proposed[projection=pp]"
    three = _seed_rows({d2s: (0, 1, 2), pp: (0, 1, 2)})
    assert seed_note(three) == "± = 95% t interval over training seeds k=3 (0, 1, 2); test data fixed (data seed 0)."
    assert "k=1–3" in seed_note(_seed_rows({d2s: (0, 1, 2), pp: (0,)}))
    assert seed_note(_seed_rows({d2s: (4,)})) == "One training seed (4): no ± interval; test data fixed (data seed 0)."
    mixed = seed_note(_seed_rows({d2s: (0, 1)}, data_seeds=(0, 1)))
    assert "test data varies too (data seeds 0, 1)" in mixed and "fixed" not in mixed
    assert seed_note(three.iloc[:0]) == ""


def test_the_caption_carries_the_seed_note_before_the_warning():
    rows = _seed_rows({"proposed": (0, 1, 2)}, data_seeds=(7,))
    caption = caption_with_warning("Table I.", True, rows)
    warning = synthetic_warning(synthetic_parts(rows))
    assert caption == f"Table I. {seed_note(rows)} {warning}." and "data seed 7" in caption
    assert caption_with_warning("Table I.", False) == "Table I."
    table = Table("t", "T", caption, pd.DataFrame({"a": ["1"]}), pd.DataFrame({"a": [1]}), synthetic=True)
    assert "(data seed 7)" in table_markdown(table).splitlines()[0]
