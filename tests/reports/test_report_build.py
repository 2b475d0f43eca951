"""build_report end to end on the fixture rows: which files appear, the page, atomic writes, partial inputs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from _report_rows import make_per_sample, make_row, make_rows

from bench.errors import ConfigError
from reports import build_report

TABLE_FILES = [f"table{i}.{ext}" for i in (1, 2, 3, 4) for ext in ("md", "tex", "csv")]
CLAIM_FILES = ["claims.md", "claims.tex", "claims.csv"]
FIGURES = ["fig6_per_view.png", "distance.png", "runtime.png", "groups.png"]


def test_every_file_is_written_and_non_empty(full_report):
    out, written = full_report
    expected = {*TABLE_FILES, *CLAIM_FILES, "paired.md", "paired.csv", *FIGURES, "index.html"}
    assert set(written) == expected
    for name, path in written.items():
        assert path == out / name
        assert path.is_file() and path.stat().st_size > 0, name
    for name in FIGURES:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_no_temporary_file_is_left(full_report):
    out, _ = full_report
    assert not list(out.rglob("*.tmp"))


def test_page_shows_banner_tables_figures_and_links(full_report):
    out, written = full_report
    page = (out / "index.html").read_text(encoding="utf-8")
    assert 'class="banner"' in page and "SYNTHETIC data" in page
    assert "<script" not in page and "http://" not in page and "https://" not in page
    for title in ("Table I", "Table II", "Table III", "Table IV", "Paired tests"):
        assert title in page
    assert page.count("<table>") >= 6  # settings + four tables + paired
    for name in FIGURES:
        assert f'<img src="{name}"' in page
    for name in TABLE_FILES:
        assert f'href="{name}"' in page
    assert "hmrbench paper --quick" in page  # settings table


def _overall(rows: pd.DataFrame) -> pd.DataFrame:
    """Only the overall rows: every table, no figure but the runtime one (keeps these tests fast)."""
    return rows[(rows["view"] == "all") & (rows["group"] == "all") & (rows["bin"] == "all")]


def test_real_rows_carry_no_synthetic_warning(tmp_path):
    written = build_report(_overall(make_rows(synthetic=False)), tmp_path, per_sample=make_per_sample())
    page = written["index.html"].read_text(encoding="utf-8")
    assert 'class="banner"' not in page and "SYNTHETIC" not in page
    for name in ("table1.md", "table4.tex", "paired.md"):
        assert "SYNTHETIC" not in written[name].read_text(encoding="utf-8")


def test_synthetic_tables_say_so(full_report):
    out, _ = full_report
    for name in ("table1.md", "table2.md", "table3.md", "table4.md", "table1.tex"):
        assert "SYNTHETIC data: not comparable with the paper's numbers" in (out / name).read_text(encoding="utf-8")


def test_missing_column_is_a_config_error_naming_it(tmp_path):
    rows = make_rows().drop(columns=["seed", "skip_reason"])
    with pytest.raises(ConfigError, match="seed") as info:
        build_report(rows, tmp_path / "out")
    assert "skip_reason" in str(info.value)
    assert not (tmp_path / "out").exists()  # checked before anything is written


def test_per_sample_missing_column_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="distance_m"):
        build_report(make_rows(), tmp_path, per_sample=make_per_sample().drop(columns=["distance_m"]))


def test_only_panoptic_rows_give_table1_alone(tmp_path):
    rows = make_rows()
    rows = rows[(rows["dataset"] == "panoptic") & (rows["bin"] == "all") & (rows["group"] == "all")]
    written = build_report(rows, tmp_path)
    assert set(written) == {"table1.md", "table1.tex", "table1.csv", *CLAIM_FILES, "fig6_per_view.png", "index.html"}
    assert not any(name.startswith(("table2", "table3", "table4", "paired")) for name in written)
    assert "runtime.png" not in written
    page = written["index.html"].read_text(encoding="utf-8")
    assert "Table IV not built" in page and "No per-sample errors were given" in page


def test_a_rebuild_removes_parts_it_no_longer_has(tmp_path):
    rows = make_rows()
    groups = rows[(rows["view"] == "all") & (rows["bin"] == "all") & (rows["metric"] != "seconds_per_image")]
    build_report(groups, tmp_path)
    assert (tmp_path / "table2.md").exists() and (tmp_path / "groups.png").exists()
    (tmp_path / "notes.txt").write_text("mine")
    build_report(_overall(rows[rows["dataset"] == "panoptic"]), tmp_path)
    assert not (tmp_path / "table2.md").exists() and not (tmp_path / "groups.png").exists()
    assert (tmp_path / "table1.md").exists() and (tmp_path / "notes.txt").exists()


def test_empty_rows_give_a_page_and_nothing_else(tmp_path):
    written = build_report(make_rows().iloc[0:0], tmp_path)
    assert set(written) == {"index.html"}
    assert "No table could be built" in written["index.html"].read_text(encoding="utf-8")


def test_sweeps_are_copied_and_shown(tmp_path, sweep):
    rows = make_rows()
    missing_plot = Path(tmp_path / "nowhere.png")
    sweep["plots"] = [*sweep["plots"], missing_plot]
    written = build_report(rows[rows["dataset"] == "stb"], tmp_path / "out", sweeps=[sweep])
    assert "sweeps/lr_sweep/best.toml" in written and "sweeps/lr_sweep/history.png" in written
    page = written["index.html"].read_text(encoding="utf-8")
    assert "lr = 0.0001" in page and "51.25" in page and 'src="sweeps/lr_sweep/history.png"' in page
    assert "plot file not found" in page


def test_sweep_missing_a_key_is_a_config_error(tmp_path, sweep):
    del sweep["best_config"]
    with pytest.raises(ConfigError, match="best_config"):
        build_report(make_rows(), tmp_path, sweeps=[sweep])


def test_text_from_rows_is_escaped(tmp_path):
    rows = pd.DataFrame([make_row("proposed[projection=d2s]", "panoptic", 0, "mpjpe_mm", 50.0,
                                  protocol="<script>alert(1)</script>")])  # fmt: skip
    page = build_report(rows, tmp_path, settings={"<b>key</b>": "a & b"})["index.html"].read_text(encoding="utf-8")
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "&lt;b&gt;key&lt;/b&gt;" in page and "a &amp; b" in page


def test_each_table_uses_its_own_experiment_rows_when_present(tmp_path):
    import pandas as pd

    from reports.selection import own_rows

    rows = pd.DataFrame({"experiment": ["table2", "distance", "table2-quick", "mine"], "value": [1.0, 2.0, 3.0, 4.0]})
    assert list(own_rows(rows, "table2")["value"]) == [1.0]  # not the distance study's rows, not the quick ones
    assert list(own_rows(rows[rows["experiment"] != "table2"], "table2")["value"]) == [3.0]
    assert list(own_rows(rows[rows["experiment"] == "mine"], "table2")["value"]) == [4.0]  # a user's own names
