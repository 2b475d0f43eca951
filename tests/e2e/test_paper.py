"""End to end: the main job, `hmrbench paper`, on tiny settings (the CI smoke test of the suite's main job): every
shipped experiment runs tracked (one seed each, to keep it short), the report (claims, Tables I-IV, the STS-value
table, figures, index.html) is built from MLflow, a second invocation redoes nothing, and the report can be rebuilt
from the store alone. Behaviour only: how long it takes is a benchmark's business, not this test's."""

from __future__ import annotations

import csv
import dataclasses

from bench.cli import main
from bench.method import format_spec, parse_spec
from bench.run.experiments import load_experiment
from bench.run.pipeline import PAPER_EXPERIMENTS, paper, report
from bench.run.tracking import Tracker

TINY = {
    "proposed": {"iterations": 6, "hidden": 32, "rank": 16, "gcn_hidden": 8, "face_hidden": 8, "sts_pool": 64,
                 "pretrain_iterations": 2},
    "lifter": {"iterations": 6, "width": 64, "sts_pool": 64},
    "fhgr": {"iterations": 6, "gcn_hidden": 8, "sts_pool": 64},
    "smplifyx": {"iterations": 2, "camera_iterations": 2, "prior_samples": 500, "prior_iters": 5},
    "meanpose": {},
}  # fmt: skip
TINY["gtsub"] = TINY["proposed"]  # the wrapped proposed: its model is the plain proposed's


def tiny(name: str):
    """A shipped experiment with tiny training, few samples, small runtime batches and one seed (same groups and
    names)."""
    exp = load_experiment(name)

    def method(spec: str) -> str:
        family, params = parse_spec(spec)
        return format_spec(family, {**params, **TINY[family]})

    groups = tuple(dataclasses.replace(g, methods=tuple(method(m) for m in g.methods), variants=g.methods, limit=6,
                                       batch_sizes=(1, 4), repeats=5) for g in exp.groups)  # fmt: skip
    return dataclasses.replace(exp, groups=groups, seeds=(0,))


def test_paper_runs_every_experiment_and_builds_the_report_from_the_store(root, tmp_path, capsys):
    out = tmp_path / "out"
    tracker = Tracker(out).connect()
    experiments = [tiny(name) for name in PAPER_EXPERIMENTS]
    results, written = paper(tracker, out, experiments=experiments, data_root=root)
    units = sum(len(g.methods) for e in experiments for g in e.groups)
    assert units == 38  # table1 10, table2 9, table3 3, sts_value 8, fig6 3, distance 3, table4 2
    assert not results.failures and results.redone == units and results.reused == 0
    for name in ("claims", "table1", "table2", "table3", "sts_value", "table4"):
        for ext in ("md", "tex", "csv"):
            assert (out / "report" / f"{name}.{ext}").stat().st_size > 100, name
    for figure in ("fig6_per_view.png", "distance.png", "runtime.png", "groups.png"):
        assert (out / "report" / figure).stat().st_size > 5000, figure
    page = (out / "report" / "index.html").read_text()
    assert "SYNTHETIC" in page and "Table I" in page and "Table IV" in page and "82.72" in page and "Claims" in page
    assert "53.2" in (out / "report" / "table1.md").read_text()  # the paper's number beside ours
    assert not list((out / "report").glob("*.tmp"))
    logged = tracker.client.search_runs([tracker.experiment_id], "tags.`hmrbench.kind` = 'report'")
    assert len(logged) == 1 and "report/index.html" in {a.path for a in tracker.client.list_artifacts(
        logged[0].info.run_id, "report")}  # fmt: skip

    # a second invocation redoes nothing: every unit comes from the store
    capsys.readouterr()
    results, _ = paper(tracker, out, experiments=experiments, data_root=root, progress=print)
    assert results.redone == 0 and results.reused == units
    assert "it 3/6" not in capsys.readouterr().out

    # the report is rebuilt from the store alone (a fresh connection, nothing run), with the same tables
    before = (out / "report" / "table2.csv").read_text()
    (out / "report" / "table2.csv").unlink()
    report(Tracker(out).connect(), out, experiments=[e.name for e in experiments])
    assert (out / "report" / "table2.csv").read_text() == before


def test_report_cli_and_its_errors(root, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["report", "--out", str(out)]) == 2
    assert "no finished unit" in capsys.readouterr().err
    argv = ["run", "-m", format_spec("proposed", TINY["proposed"]), "-d", "h36m", "--limit", "4", "--data-root",
            str(root), "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    assert main(["report", "--out", str(out)]) == 0
    # an ad-hoc run is the user's experiment: its own table, never the paper's Table II
    assert (out / "report" / "experiment_run.md").is_file() and (out / "report" / "index.html").is_file()
    assert not (out / "report" / "table2.md").exists()
    assert main(["report", "--out", str(out), "--experiments", "table9"]) == 2
    assert "no finished unit of table9" in capsys.readouterr().err


def test_runtime_cli_times_each_method_at_two_batch_sizes(root, tmp_path, capsys):
    spec = format_spec("proposed", TINY["proposed"])
    assert main(["runtime", "-m", spec, "--out", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert "batch 1:" in captured.err and "ms per image (median of 7 calls" in captured.err
    rows = list(csv.DictReader((tmp_path / "table4-cpu.csv").open()))
    assert [r["batch"] for r in rows] == ["1", "256"] and all(float(r["value"]) > 0 for r in rows)
    assert rows[0]["metric"] == "seconds_per_image" and rows[0]["device_name"]
    assert main(["runtime", "table2", "--out", str(tmp_path)]) == 2
    assert "not a runtime experiment" in capsys.readouterr().err
