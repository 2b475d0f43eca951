"""The report page, ``index.html``: one self-contained file (inline CSS, no script, nothing fetched from the
network) that shows the banner saying which parts of the results are synthetic (data, body model, 2D input) and
whether they come from ``--quick`` settings, the verdict per claim of the paper (first: it is what a reader asks),
the run settings, every table of the paper as an HTML table, the paired tests, every figure (``<img>`` by relative
file name), the user's own experiments (each its own table and figures, under its own title, no paper numbers), the
sweeps and links to every written file.

All text from rows, settings and sweeps passes through ``html.escape``; links are percent-quoted file names.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote

from reports.table import Table

__all__ = ["ExperimentView", "FigureView", "Page", "SweepView", "render_page"]

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 1200px;
       padding: 0 1em; color: #222; line-height: 1.4; }
h1 { font-size: 1.6em; } h2 { border-bottom: 2px solid #ddd; padding-bottom: .2em; margin-top: 2em; }
.banner { background: #b00020; color: #fff; padding: 1em 1.2em; border-radius: 6px; font-size: 1.1em; }
.banner strong { font-size: 1.3em; display: block; margin-bottom: .3em; }
.warn { color: #b00020; font-weight: bold; }
table { border-collapse: collapse; margin: .6em 0; font-size: .9em; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
tr:nth-child(even) td { background: #fafafa; }
.caption { font-style: italic; } .notes { font-size: .85em; color: #444; } .files { font-size: .85em; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: .9em; color: #444; }
pre { background: #f6f6f6; padding: .6em; overflow-x: auto; font-size: .85em; }
.missing { color: #666; font-style: italic; }
.quick { background: #fff6d6; border: 1px solid #e0c060; padding: .8em 1.2em; border-radius: 6px; margin-top: .6em; }
td.verdict-supported { background: #e3f4e1 !important; } td.verdict-not-supported { background: #fbe3e3 !important; }
td.verdict-inconclusive { background: #fff6d6 !important; } td.verdict-not-measured { color: #666; }
"""


@dataclass(frozen=True)
class FigureView:
    """A written figure: file name relative to the page, heading and caption."""

    file: str
    title: str
    caption: str


@dataclass(frozen=True)
class SweepView:
    """A sweep as the page shows it: files relative to the page (config copy and plot copies); ``problems`` lists
    what could not be shown (a missing config or plot file)."""

    name: str
    method: str
    best_value: float
    n_trials: int
    config_file: str
    config_text: str
    plots: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExperimentView:
    """A user's own experiment as the page shows it: its name, its own title, its table (None: nothing to tabulate)
    and figures."""

    name: str
    title: str
    table: Table | None
    figures: Sequence[FigureView] = ()


@dataclass(frozen=True)
class Page:
    """Everything ``index.html`` shows. ``table_files`` maps a table name to its written file names; ``absent``
    lists the parts not built and why; ``paired_message`` replaces the paired table when there is none, and
    ``claims_message`` the claims table (:mod:`reports.claims`). ``synthetic_parts``: what is synthetic, in words
    (:func:`reports.labels.synthetic_parts`); ``quick``: the sentence saying which results come from ``--quick``
    settings ('' when none); ``experiments``: the user's own experiments."""

    synthetic: bool
    synthetic_rows: int
    row_count: int
    settings: Mapping[str, str]
    tables: Sequence[Table]
    table_files: Mapping[str, Sequence[str]]
    paired: Table | None
    paired_message: str
    figures: Sequence[FigureView]
    sweeps: Sequence[SweepView]
    absent: Sequence[str] = ()
    files: Sequence[str] = field(default_factory=tuple)
    claims: Table | None = None
    claims_message: str = ""
    synthetic_parts: Sequence[str] = ()
    quick: str = ""
    experiments: Sequence[ExperimentView] = ()


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _link(name: str) -> str:
    return f'<a href="{_e(quote(name))}">{_e(name)}</a>'


def _html_table(header: Sequence[str], rows: Sequence[Sequence[object]], classes: Sequence[str] = ()) -> str:
    """``classes``: per column, a CSS class prefix; a cell of such a column gets ``prefix-<its text>``."""
    head = "".join(f"<th>{_e(h)}</th>" for h in header)

    def cell(column: int, value: object) -> str:
        prefix = classes[column] if column < len(classes) else ""
        kind = f' class="{_e(prefix)}-{_e(str(value).replace(" ", "-"))}"' if prefix else ""
        return f"<td{kind}>{_e(value)}</td>"

    body = "".join("<tr>" + "".join(cell(i, v) for i, v in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _table_section(table: Table, files: Sequence[str], level: int = 3) -> str:
    parts = [f'<section id="{_e(table.name)}"><h{level}>{_e(table.title)}</h{level}>',
             f'<p class="caption">{_e(table.caption)}</p>']  # fmt: skip
    if table.synthetic:
        parts.append(f'<p class="warn">{_e(table.warning)}.</p>')
    rows = list(table.display.itertuples(index=False, name=None))
    columns = list(table.display.columns)
    parts.append(_html_table(columns, rows, ["verdict" if c == "verdict" else "" for c in columns]))
    if table.notes:
        parts.append('<ul class="notes">' + "".join(f"<li>{_e(n)}</li>" for n in table.notes) + "</ul>")
    if files:
        parts.append('<p class="files">Files: ' + ", ".join(_link(f) for f in files) + "</p>")
    parts.append("</section>")
    return "\n".join(parts)


def _banner(page: Page) -> str:
    parts = []
    if page.synthetic:
        what = ("".join(f"<li>{_e(p)}</li>" for p in page.synthetic_parts) if page.synthetic_parts
                else "<li>not recorded part by part in these rows</li>")  # fmt: skip
        parts.append(
            '<div class="banner" role="alert"><strong>SYNTHETIC</strong>'
            f"{_e(page.synthetic_rows)} of {_e(page.row_count)} result rows were computed with a synthetic part:"
            f"<ul>{what}</ul>These numbers test the pipeline; they are not comparable with the paper's numbers.</div>"
        )
    if page.quick:
        parts.append(f'<div class="quick" role="note"><strong>Quick settings</strong> {_e(page.quick)}</div>')
    return "\n".join(parts)


def _sweep_section(sweep: SweepView) -> str:
    summary = [sweep.method, f"{sweep.best_value:.6g}", sweep.n_trials, sweep.config_file or "–"]
    parts = [f"<h3>{_e(sweep.name)}</h3>", _html_table(["method", "best value", "trials", "best config"], [summary])]
    if sweep.config_text:
        parts.append(f"<pre>{_e(sweep.config_text)}</pre>")
    if sweep.config_file:
        parts.append(f'<p class="files">Config: {_link(sweep.config_file)}</p>')
    parts += [f'<figure><img src="{_e(quote(p))}" alt="{_e(p)}"><figcaption>{_e(p)}</figcaption></figure>'
              for p in sweep.plots]  # fmt: skip
    parts += [f'<p class="missing">{_e(problem)}</p>' for problem in sweep.problems]
    return "\n".join(parts)


def _figure(view: FigureView, level: int = 3) -> str:
    return (f'<figure><h{level}>{_e(view.title)}</h{level}><img src="{_e(quote(view.file))}" alt="{_e(view.title)}">'
            f"<figcaption>{_e(view.caption)} ({_link(view.file)})</figcaption></figure>")  # fmt: skip


def _experiment_section(view: ExperimentView, table_files: Mapping[str, Sequence[str]]) -> str:
    parts = [f'<section class="experiment"><h3>{_e(view.title)}</h3>',
             f'<p class="notes">Experiment <code>{_e(view.name)}</code>.</p>']  # fmt: skip
    if view.table is not None:
        parts.append(_table_section(view.table, table_files.get(view.table.name, ()), level=4))
    else:
        parts.append('<p class="missing">Its rows hold no overall error and no runtime value to tabulate.</p>')
    parts += [_figure(f, level=4) for f in view.figures]
    parts.append("</section>")
    return "\n".join(parts)


def render_page(page: Page) -> str:
    """The HTML text of the report page."""
    body = [
        "<h1>hmrbench report: Synthetic Training for Monocular Human Mesh Recovery (Sun et al.)</h1>",
        _banner(page),
        '<nav><a href="#claims">Claims</a> · <a href="#settings">Settings</a> · <a href="#tables">Tables</a> · '
        '<a href="#paired">Paired tests</a> · <a href="#figures">Figures</a> · '
        + ('<a href="#experiments">Your experiments</a> · ' if page.experiments else "")
        + '<a href="#sweeps">Sweeps</a> · <a href="#files">Files</a></nav>',
        '<h2 id="claims">Claims</h2>',
        _table_section(page.claims, page.table_files.get(page.claims.name, ())) if page.claims is not None
        else f'<p class="missing">{_e(page.claims_message or "No claim could be measured.")}</p>',
        '<h2 id="settings">Run settings</h2>',
        _html_table(["setting", "value"], list(page.settings.items())) if page.settings
        else '<p class="missing">No run settings were given.</p>',
        '<h2 id="tables">Tables of the paper</h2>',
        "<p>Built from the experiments shipped with hmrbench only. Columns marked <em>ours</em> are computed from "
        "the result rows; columns marked <em>paper (reported)</em> are the numbers printed in the paper, shown for "
        "context.</p>",
    ]
    body += [_table_section(t, page.table_files.get(t.name, ())) for t in page.tables]
    if not page.tables:
        body.append('<p class="missing">No table could be built from these rows.</p>')
    body += [f'<p class="missing">{_e(a)}</p>' for a in page.absent]
    body.append('<h2 id="paired">Paired tests</h2>')
    if page.paired is not None:
        body.append(_table_section(page.paired, page.table_files.get(page.paired.name, ())))
    else:
        body.append(f'<p class="missing">{_e(page.paired_message)}</p>')
    body.append('<h2 id="figures">Figures</h2>')
    body += [_figure(f) for f in page.figures]
    if not page.figures:
        body.append('<p class="missing">No figure could be drawn from these rows.</p>')
    if page.experiments:
        body.append('<h2 id="experiments">Your experiments</h2>')
        body.append("<p>Experiments that are not the paper's (not shipped with hmrbench): each under its own title, "
                    "with no paper row and no paper number beside it.</p>")  # fmt: skip
        body += [_experiment_section(x, page.table_files) for x in page.experiments]
    body.append('<h2 id="sweeps">Sweeps</h2>')
    body += [_sweep_section(s) for s in page.sweeps] or ['<p class="missing">No sweeps were given.</p>']
    body.append('<h2 id="files">Files</h2>')
    body.append("<ul>" + "".join(f"<li>{_link(f)}</li>" for f in page.files) + "</ul>")
    title = ("hmrbench report" + (" (SYNTHETIC)" if page.synthetic else "")
             + (" (quick settings)" if page.quick else ""))  # fmt: skip
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(part for part in body if part)
        + "\n</body>\n</html>\n"
    )
