"""Whose rows a table holds: the paper's tables, figures and claims hold the shipped experiments only; a user's own
experiment (the README's ``w_2d=3`` vs ``w_2d=12`` ablation, an ad-hoc ``hmrbench run``) gets its own table and
figures under its own title with no paper number; and every table and figure built from ``--quick`` experiments
says so."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from _report_rows import GROUPS, make_row, make_rows

from reports import build_report
from reports.build import AD_HOC_TITLE
from reports.labels import QUICK_TITLE
from reports.render import latex_escape
from reports.selection import is_shipped, split_experiments

W3, W12 = "proposed[projection=d2s,w_2d=3]", "proposed[projection=d2s,w_2d=12]"
ABLATION = "my ablation: the 2D weight"


def _ablation(experiment: str = "ablation", *, groups: bool = False) -> pd.DataFrame:
    """The README's own experiment: w_2d=3 against w_2d=12 on H36M protocol 2, two seeds."""
    rows = []
    for variant, base in ((W3, 70.0), (W12, 60.0)):
        for seed in (0, 1):
            for metric, value in (("mpjpe_mm", base + seed), ("pa_mpjpe_mm", base / 2 + seed)):
                rows.append(make_row(variant, "h36m[protocol=p2]", seed, metric, value, experiment=experiment,
                                     unit=f"{experiment}-{variant}-{seed}"))  # fmt: skip
                if groups:
                    rows += [make_row(variant, "h36m[protocol=p2]", seed, metric, value + i, group=g,
                                      experiment=experiment, unit=f"{experiment}-{variant}-{seed}")
                             for i, g in enumerate(GROUPS)]  # fmt: skip
    return pd.DataFrame(rows)


def _overall(rows: pd.DataFrame) -> pd.DataFrame:
    """The overall accuracy rows only: every accuracy table, no figure (keeps these tests fast)."""
    return rows[(rows["view"] == "all") & (rows["group"] == "all") & (rows["bin"] == "all")
                & (rows["metric"] != "seconds_per_image")]  # fmt: skip


def test_shipped_names_and_their_quick_versions_only():
    assert is_shipped("table2") and is_shipped("table2-quick") and is_shipped("distance-quick")
    assert not is_shipped("ablation") and not is_shipped("run") and not is_shipped("table9-quick")
    rows = pd.concat([_overall(make_rows()), _ablation()], ignore_index=True)
    paper, user = split_experiments(rows)
    assert set(paper["experiment"]) == {"table1"} and list(user) == ["ablation"]


def test_a_users_experiment_is_not_drawn_as_table_ii(tmp_path):
    written = build_report(_ablation(), tmp_path, titles={"ablation": ABLATION})
    assert "table2.md" not in written and "claims.md" not in written  # no paper table, no paper claim
    markdown = written["experiment_ablation.md"].read_text(encoding="utf-8")
    assert markdown.startswith(f"**{ABLATION}.**")
    assert "paper (reported)" not in markdown and "67.4" not in markdown and "52.0" not in markdown
    for variant, mean in ((W3, "70.5 ±"), (W12, "60.5 ±")):
        assert any(variant in line and mean in line for line in markdown.splitlines())
    csv = pd.read_csv(written["experiment_ablation.csv"])
    assert not any(c.startswith("paper") for c in csv.columns)
    assert ABLATION in written["experiment_ablation.tex"].read_text(encoding="utf-8").replace("\\_", "_")
    page = written["index.html"].read_text(encoding="utf-8")
    assert "Your experiments" in page and ABLATION in page and 'href="experiment_ablation.md"' in page
    assert "Table II not built" in page and "under &#x27;Your experiments&#x27;" in page


def test_paper_tables_keep_the_shipped_rows_beside_a_users_rows(tmp_path):
    rows = pd.concat([_overall(make_rows()), _ablation()], ignore_index=True)
    written = build_report(rows, tmp_path, titles={"ablation": ABLATION})
    table2 = written["table2.md"].read_text(encoding="utf-8")
    assert "w_2d" not in table2 and "67.4" in table2  # the paper's number beside the shipped rows only
    assert "w_2d" not in written["claims.md"].read_text(encoding="utf-8")
    assert "w_2d=12" in written["experiment_ablation.md"].read_text(encoding="utf-8")


def test_a_users_experiment_gets_its_figures_under_its_title(tmp_path):
    written = build_report(_ablation(groups=True), tmp_path, titles={"ablation": ABLATION})
    assert "experiment_ablation_groups.png" in written and "groups.png" not in written
    page = written["index.html"].read_text(encoding="utf-8")
    assert f"{ABLATION}: error per joint group" in page and '<img src="experiment_ablation_groups.png"' in page
    # a rebuild without that experiment removes its files
    rebuilt = build_report(_overall(make_rows()), tmp_path)
    assert not list(tmp_path.glob("experiment_*")) and "table1.md" in rebuilt


def test_an_untitled_experiment_is_named_and_the_ad_hoc_run_says_what_it_is(tmp_path):
    rows = pd.concat([_ablation("mine"), _ablation("run")], ignore_index=True)
    written = build_report(rows, tmp_path)
    assert written["experiment_mine.md"].read_text(encoding="utf-8").startswith("**Experiment mine.**")
    assert written["experiment_run.md"].read_text(encoding="utf-8").startswith(f"**{AD_HOC_TITLE}.**")


def test_a_users_runtime_experiment_has_no_paper_seconds(tmp_path):
    rows = make_rows()
    runtime = rows[rows["metric"] == "seconds_per_image"].assign(experiment="speed")
    written = build_report(runtime, tmp_path, titles={"speed": "my timing"})
    assert "table4.md" not in written and "runtime.png" not in written
    markdown = written["experiment_speed.md"].read_text(encoding="utf-8")
    assert markdown.startswith("**my timing.**") and "batch 1 (s/image)" in markdown
    assert "paper (reported)" not in markdown and "82.72" not in markdown


def _no_png(figure: object, path: Path) -> Path:
    path.write_bytes(b"")
    return path


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory) -> tuple[dict, dict]:
    """Reports of the fixture rows named as full experiments (tables only) and as quick ones (with figures)."""
    rows = make_rows()
    quick = rows.assign(experiment=rows["experiment"] + "-quick")
    full = rows[(rows["view"] == "all") & (rows["group"] == "all") & (rows["bin"] == "all")]
    full_dir, quick_dir = tmp_path_factory.mktemp("full"), tmp_path_factory.mktemp("quick")
    with pytest.MonkeyPatch.context() as patch:  # captions are the point here, not the PNGs (seconds each)
        patch.setattr("reports.build.save_figure", _no_png)
        return build_report(full, full_dir), build_report(quick, quick_dir)


def test_every_table_and_figure_of_quick_experiments_says_so(quick_report):
    full, quick = quick_report
    for name in ("table1", "table2", "table3", "table4", "claims"):
        for ext in (".md", ".tex"):
            text = quick[name + ext].read_text(encoding="utf-8")
            said = latex_escape(QUICK_TITLE) if ext == ".tex" else QUICK_TITLE
            assert said in text and f"{'table4' if name == 'table4' else 'table1'}-quick" in text, name + ext
            assert said not in full[name + ext].read_text(encoding="utf-8"), name + ext
    page = quick["index.html"].read_text(encoding="utf-8")
    assert page.count(QUICK_TITLE) >= 4 + 5  # the banner, the tables and every figure's caption
    assert 'class="quick"' in page and "(quick settings)</title>" in page
    assert QUICK_TITLE not in full["index.html"].read_text(encoding="utf-8")
