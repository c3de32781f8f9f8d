"""Leaderboard files: CSV for machines, Markdown and a self-contained HTML page
(plots embedded) for people, plus per-benchmark and per-cell tables.

CSV files keep raw fractions (0..1); Markdown and HTML show percentages.
"""

import base64
import csv
import html
import re
import statistics
from dataclasses import dataclass
from pathlib import Path

from workflow.paths import trace_page
from workflow.report.cheating import COLUMNS as CHEATING_COLUMNS
from workflow.report.cheating import cheating_text
from workflow.report.scoring import BASE_FALLBACK, PENDING, REFERENCE, CellScore, Leaderboard, section_of

ROW_COLUMNS = [
    "section", "rank", "agent", "suite", "agent_base", "budget_hours", "scaffold", "agent_model", "mode",
    "complete", "score", "std", "score_published", "score_derived", "seeds", "cells", "cells_run", "cells_scored",
    "fallbacks",
    "n_failed", "n_missing", "n_flagged", "n_unjudged", "hours_mean", "agent_hours", "reprompts", "runs",
    "input_tokens", "cached_tokens", "output_tokens", "cost_usd", "cost_runs", "cost_per_run", "gpu_hours",
    *CHEATING_COLUMNS,
]  # fmt: skip
CELL_COLUMNS = [
    "agent", "model", "benchmark", "seed", "score", "source", "outcome", "reason", "seconds", "mode",
    "gpus", "gpu_hours", "input_tokens", "cached_tokens", "output_tokens", "cost_usd", "cost_source", "trace_page",
]  # fmt: skip
SECTION_TITLES = {
    "autonomous": "Autonomous agents",
    "reprompted": "Reprompted agents (resumed when they stopped early; not comparable with autonomous runs)",
    REFERENCE: "Reference rows (not agents)",
}
# One letter per fallback kind in the grid, so flags and fallbacks stand out.
MARKS = {"failed": "F", "missing": "M", "flagged": "X", "unjudged": "U", PENDING: "…"}
LEGEND = (
    "Cell marks: F evaluation failed, M no final_model, X flagged by the judge, U unjudged "
    "(each scored with the base model's zero-shot result), … not scored yet."
)
EXPLANATION = (
    "Scores in % of the benchmark's headline metric. Per benchmark: the mean over base models "
    "(and over seeds, ± the sample standard deviation across seeds); the score is the weighted sum over "
    "benchmarks. A cell whose evaluation failed, whose model is missing or that the judge flagged scores "
    "its base model's zero-shot result. An agent with cells not yet scored is shown as incomplete, "
    "with no score."
)


def pct(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{100 * value:.{digits}f}"


def dollars(value: float | None) -> str:
    return "—" if value is None else f"${value:,.2f}"


def count(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def _hours(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _csv_value(value):
    return "" if value is None else value


# --- CSV -------------------------------------------------------------------


def write_csv(board: Leaderboard, path: Path) -> None:
    columns = ROW_COLUMNS + [c for b in board.benchmarks for c in (b, f"{b}_std")]
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        for row in board.all_rows:
            full = {**row, "section": section_of(row)}
            writer.writerow([_csv_value(full.get(c)) for c in columns])


def write_benchmarks_csv(board: Leaderboard, path: Path) -> None:
    """Long format: one line per agent (or reference row) and benchmark."""
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(
            ["agent", "section", "benchmark", "weight", "mean", "std", "seeds_scored", "fallbacks", *board.models]
        )
        for row in board.rows:
            for bench, summary in row["_benchmarks"].items():
                per_model = [_csv_value(summary.per_model.get(m)) for m in board.models]
                writer.writerow([
                    row["agent"], section_of(row), bench, board.weights.get(bench, 0.0), _csv_value(summary.mean),
                    _csv_value(summary.std), len(summary.per_seed), summary.fallbacks, *per_model,
                ])  # fmt: skip
        for ref in board.references:
            for bench in board.benchmarks:
                per_model = [_csv_value(ref["_per_model"].get((m, bench))) for m in board.models]
                writer.writerow(
                    [
                        ref["agent"],
                        REFERENCE,
                        bench,
                        board.weights.get(bench, 0.0),
                        _csv_value(ref.get(bench)),
                        "",
                        "",
                        "",
                        *per_model,
                    ]
                )


def write_cells_csv(cells: list[CellScore], path: Path) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(CELL_COLUMNS)
        for c in cells:
            usage = c.usage or {}
            writer.writerow([
                c.cell.agent, c.cell.model, c.cell.benchmark, c.cell.seed, _csv_value(c.score), c.source,
                c.outcome, c.reason, _csv_value(c.seconds), _csv_value(c.mode), _csv_value(c.gpus),
                _csv_value(c.gpu_hours), *[_csv_value(c.tokens(k)) for k in ("input", "cached", "output")],
                _csv_value(c.cost_usd), _csv_value(usage.get("cost_source")),
                trace_page(c.cell) if c.seconds is not None else "",
            ])  # fmt: skip


# --- the agent x model x benchmark grid -----------------------------------------


@dataclass
class GridEntry:
    text: str  # the mean over seeds, with marks for fallbacks
    css: str  # ok | fallback | flagged | pending | absent
    reasons: list[str]


def grid_entry(scores: list[CellScore]) -> GridEntry:
    """One agent x model x benchmark entry: its seeds' cells together."""
    if not scores:
        return GridEntry("not in matrix", "absent", [])
    values = [s.score for s in scores if s.score is not None]
    text = pct(statistics.mean(values)) if values else "—"
    if len(values) > 1:
        text += f" ±{100 * statistics.stdev(values):.1f}"
    marks = [MARKS[s.outcome] for s in scores if s.outcome in MARKS]
    if marks:
        text += " " + "".join(marks)
    outcomes = {s.outcome for s in scores}
    if "flagged" in outcomes:
        css = "flagged"
    elif any(s.source == PENDING for s in scores):
        css = "pending"
    elif any(s.source == BASE_FALLBACK for s in scores):
        css = "fallback"
    else:
        css = "ok"
    reasons = [f"seed {s.cell.seed}: {s.reason}" for s in scores if s.reason]
    return GridEntry(text, css, reasons)


def grid(board: Leaderboard) -> dict[str, dict[str, dict[str, GridEntry]]]:
    """agent -> model -> benchmark -> entry."""
    by_key: dict[tuple[str, str, str], list[CellScore]] = {}
    for c in board.cells:
        by_key.setdefault((c.cell.agent, c.cell.model, c.cell.benchmark), []).append(c)
    return {
        row["agent"]: {
            m: {
                b: grid_entry(sorted(by_key.get((row["agent"], m, b), []), key=lambda s: s.cell.seed))
                for b in board.benchmarks
            }
            for m in board.models
        }
        for row in board.rows
    }


# --- tables as lists of strings (shared by Markdown and HTML) ---------------------


def _status_text(row: dict) -> str:
    if row["mode"] == REFERENCE:
        return "complete" if row["complete"] else "incomplete"
    subset = row["cells_run"] < row["cells"]
    if row["complete"]:
        return (
            f"complete (subset: {row['cells_run']}/{row['cells']} cells run, the rest at base)"
            if subset
            else "complete"
        )
    return f"incomplete ({row['cells_scored']}/{row['cells_run']} cells scored)"


def _fallback_text(row: dict) -> str:
    kinds = " ".join(
        f"{MARKS[k]}{row[f'n_{k}']}" for k in ("failed", "missing", "flagged", "unjudged") if row[f"n_{k}"]
    )
    return f"{row['fallbacks']}" + (f" ({kinds})" if kinds else "")


def leaderboard_table(board: Leaderboard, rows: list[dict]) -> tuple[list[str], list[list[str]]]:
    head = [
        "rank",
        "agent",
        "scaffold",
        "score",
        "± std",
        *board.benchmarks,
        "status",
        "fallbacks",
        "hours/run",
        "agent hours",
        "flagged (by kind)",
    ]
    body = []
    for row in rows:
        reference = row["mode"] == REFERENCE
        body.append([
            "-" if row.get("rank") is None else str(row["rank"]),
            row["agent"],
            row.get("scaffold") or "-",
            pct(row["score"]),
            pct(row["std"]),
            *[pct(row.get(b)) for b in board.benchmarks],
            _status_text(row),
            "-" if reference else _fallback_text(row),
            "-" if reference else _hours(row["hours_mean"]),
            "-" if reference else _hours(row["agent_hours"]),
            "-" if reference else cheating_text(row),
        ])  # fmt: skip
    return head, body


COST_NOTE = (
    "Tokens as the agent CLIs report them (input includes cached input). Dollars: what the CLI reported "
    "(Claude Code), else tokens priced with the config's `prices:`; a sum over fewer runs than were made "
    "says so. GPU hours: agent time × GPUs held."
)


def cost_table(rows: list[dict]) -> tuple[list[str], list[list[str]]]:
    """Tokens, dollars and GPU hours per agent (or budget of one); rows of one section."""
    head = ["agent", "budget (h)", "runs", "input tokens", "cached tokens", "output tokens", "$ total", "$ / run",
            "agent hours", "GPU hours"]  # fmt: skip
    body = []
    for row in rows:
        total = dollars(row["cost_usd"])
        if row["cost_usd"] is not None and row["cost_runs"] < row["runs"]:
            total += f" ({row['cost_runs']}/{row['runs']} runs)"
        body.append([
            row["agent"], f"{row['budget_hours']:g}", str(row["runs"]),
            *[count(row[f"{k}_tokens"]) for k in ("input", "cached", "output")],
            total, dollars(row["cost_per_run"]), _hours(row["agent_hours"]), _hours(row["gpu_hours"]),
        ])  # fmt: skip
    return head, body


def runs_table(board: Leaderboard) -> tuple[list[str], list[list[str]], list[str | None]]:
    """Every cell that has run: time, tokens, dollars; and the link to its trace page."""
    head = ["cell", "outcome", "score", "hours", "GPU h", "input tok", "cached tok", "output tok", "$"]
    body, links = [], []
    for c in board.cells:
        if c.seconds is None:
            continue
        body.append([
            c.cell.key, c.outcome, pct(c.score), _hours(c.seconds / 3600), _hours(c.gpu_hours),
            *[count(c.tokens(k)) for k in ("input", "cached", "output")], dollars(c.cost_usd),
        ])  # fmt: skip
        links.append(trace_page(c.cell))
    return head, body, links


def benchmark_table(board: Leaderboard) -> tuple[list[str], list[list[str]]]:
    head = ["agent", *board.benchmarks]
    body = []
    for row in board.rows:
        cells = []
        for bench in board.benchmarks:
            summary = row["_benchmarks"][bench]
            text = pct(summary.mean)
            if summary.std is not None:
                text += f" ± {pct(summary.std)}"
            cells.append(text)
        body.append([row["agent"], *cells])
    for ref in board.references:
        body.append([ref["agent"], *[pct(ref.get(b)) for b in board.benchmarks]])
    weights = ["weight", *[f"{board.weights[b]:.4f}" if b in board.weights else "—" for b in board.benchmarks]]
    return head, [weights, *body]


def weights_table(board: Leaderboard) -> tuple[list[str], list[list[str]]]:
    """The suite's published weights beside those derived from this run's baselines."""
    derived = board.weight_sets.get("derived")
    published = board.weight_sets.get("published") or {}
    head = ["benchmark", "published", "derived from these baselines", "used"]
    body = []
    for bench in board.benchmarks:
        used = board.weights.get(bench)
        body.append([
            bench if bench in published else f"{bench} (extra, not weighted)",
            f"{published[bench]:.4f}" if bench in published else "—",
            f"{derived[bench]:.4f}" if derived and bench in derived else "—",
            f"{used:.4f}" if used is not None else "—",
        ])  # fmt: skip
    return head, body


def suite_text(board: Leaderboard) -> str:
    derived_note = (
        "derived weights: not yet known (they need every base and instruct baseline)"
        if board.weight_sets.get("derived") is None
        else "derived weights: w ∝ 1/(mean instruct − mean base) over this run's baselines"
    )
    return (
        f"Suite {board.suite}; scores use the {board.score_weights} weights "
        f"(each row also shows its score under the other set; {derived_note})."
    )


def sections(board: Leaderboard) -> list[tuple[str, list[dict]]]:
    out = []
    for key in ("autonomous", "reprompted"):
        members = [r for r in board.rows if section_of(r) == key]
        if members:
            out.append((SECTION_TITLES[key], members))
    out.append((SECTION_TITLES[REFERENCE], board.references))
    return out


def noted_cells(board: Leaderboard) -> list[CellScore]:
    """Cells that do not count their own metric, for the list of reasons."""
    return [c for c in board.cells if c.reason]


# --- Markdown --------------------------------------------------------------------


def _md_table(head: list[str], body: list[list[str]]) -> list[str]:
    def esc(text: str) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(esc(h) for h in head) + " |", "|" + "---|" * len(head)]
    return lines + ["| " + " | ".join(esc(v) for v in line) + " |" for line in body]


def markdown(board: Leaderboard) -> str:
    lines = [f"# PostTrainBench leaderboard (suite {board.suite})", "", EXPLANATION, "", suite_text(board), ""]
    for title, rows in sections(board):
        lines += [f"## {title}", "", *_md_table(*leaderboard_table(board, rows)), ""]
        if rows and rows[0]["mode"] != REFERENCE:
            lines += ["Cost and compute:", "", *_md_table(*cost_table(rows)), ""]
    lines += [COST_NOTE, ""]
    lines += ["## Per benchmark (mean ± std over seeds)", "", *_md_table(*benchmark_table(board)), ""]
    lines += ["## Weights", "", *_md_table(*weights_table(board)), ""]
    lines += ["## Cells: agent × base model × benchmark", "", LEGEND, ""]
    for agent, by_model in grid(board).items():
        body = [[model, *[e.text for e in entries.values()]] for model, entries in by_model.items()]
        lines += [f"### {agent}", "", *_md_table(["model", *board.benchmarks], body), ""]
    noted = noted_cells(board)
    if noted:
        lines += ["## Cells not scored with their own final model", ""]
        lines += _md_table(["cell", "score", "reason"], [[c.cell.key, pct(c.score), c.reason] for c in noted])
        lines.append("")
    return "\n".join(lines)


# --- HTML ------------------------------------------------------------------------

CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
td.num, td.ok, td.fallback, td.flagged, td.pending { text-align: right; }
th { background: #f0f0f0; }
td.ok { background: #e6f4ea; }
td.fallback { background: #fff1d6; }
td.flagged { background: #fbd5d5; }
td.pending { background: #eeeeee; color: #777; }
td.absent { background: #fafafa; color: #aaa; }
tr.incomplete td { color: #888; }
img { max-width: 100%; border: 1px solid #ddd; margin: 0.5em 0; }
"""


NUMBER = re.compile(r"^([-+]?\d[\d.]*( ± [\d.]+)?|—|-)$")


def _td(value) -> str:
    text = str(value)
    cls = ' class="num"' if NUMBER.match(text) else ""
    return f"<td{cls}>{html.escape(text)}</td>"


def _html_table(head: list[str], body: list[list[str]], row_classes: list[str] | None = None) -> str:
    out = ["<table>", "<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>"]
    for i, line in enumerate(body):
        cls = f' class="{row_classes[i]}"' if row_classes and row_classes[i] else ""
        tds = "".join(_td(v) for v in line)
        out.append(f"<tr{cls}>{tds}</tr>")
    out.append("</table>")
    return "\n".join(out)


def _linked(text: str, href: str | None) -> str:
    return f'<a href="{html.escape(href, quote=True)}">{html.escape(text)}</a>' if href else html.escape(text)


def _grid_html(board: Leaderboard, agent: str, by_model: dict[str, dict[str, GridEntry]]) -> str:
    """The agent's grid; an entry links to the trace page of its first seed that ran."""
    ran = {
        (c.cell.model, c.cell.benchmark): c.cell
        for c in reversed(board.cells)
        if c.cell.agent == agent and c.seconds is not None
    }
    out = ["<table>", "<tr><th>model</th>" + "".join(f"<th>{html.escape(b)}</th>" for b in board.benchmarks) + "</tr>"]
    for model, entries in by_model.items():
        tds = "".join(
            f'<td class="{e.css}" title="{html.escape("; ".join(e.reasons), quote=True)}">'
            f"{_linked(e.text, trace_page(ran[model, b]) if (model, b) in ran else None)}</td>"
            for b, e in entries.items()
        )
        out.append(f'<tr><td class="name">{html.escape(model)}</td>{tds}</tr>')
    out.append("</table>")
    return "\n".join(out)


def _runs_html(head: list[str], body: list[list[str]], links: list[str]) -> str:
    out = ["<table>", "<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>"]
    for line, link in zip(body, links, strict=True):
        first = f'<td class="name">{_linked(line[0], link)}</td>'
        out.append("<tr>" + first + "".join(_td(v) for v in line[1:]) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def _png_tag(name: str, path: Path) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode()
    return f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,{data}"></figure>'


def html_page(board: Leaderboard, plots: dict[str, Path] | None = None) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>PostTrainBench leaderboard</title>',
        f"<style>{CSS}</style></head><body>",
        f"<h1>PostTrainBench leaderboard (suite {html.escape(board.suite)})</h1>",
        f"<p>{html.escape(EXPLANATION)}</p>",
        f"<p>{html.escape(suite_text(board))}</p>",
    ]
    for title, rows in sections(board):
        head, body = leaderboard_table(board, rows)
        classes = ["" if r["complete"] else "incomplete" for r in rows]
        parts += [f"<h2>{html.escape(title)}</h2>", _html_table(head, body, classes)]
        if rows and rows[0]["mode"] != REFERENCE:
            parts += ["<h3>Cost and compute</h3>", _html_table(*cost_table(rows))]
    parts.append(f"<p>{html.escape(COST_NOTE)}</p>")
    for name, path in (plots or {}).items():
        parts.append(_png_tag(name, path))
    parts += ["<h2>Per benchmark (mean ± std over seeds)</h2>", _html_table(*benchmark_table(board))]
    parts += ["<h2>Weights</h2>", _html_table(*weights_table(board))]
    parts += ["<h2>Cells: agent × base model × benchmark</h2>", f"<p>{html.escape(LEGEND)}</p>"]
    for agent, by_model in grid(board).items():
        parts += [f"<h3>{html.escape(agent)}</h3>", _grid_html(board, agent, by_model)]
    noted = noted_cells(board)
    if noted:
        parts.append("<h2>Cells not scored with their own final model</h2>")
        parts.append(_html_table(["cell", "score", "reason"], [[c.cell.key, pct(c.score), c.reason] for c in noted]))
    head, body, links = runs_table(board)
    if body:
        parts += ["<h2>Runs: time, tokens and cost (each links to its trace page)</h2>", _runs_html(head, body, links)]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_all(board: Leaderboard, outputs: dict[str, Path], plots: dict[str, Path]) -> None:
    """Every leaderboard file; `outputs` keys: csv, md, html, benchmarks, cells."""
    write_csv(board, Path(outputs["csv"]))
    write_benchmarks_csv(board, Path(outputs["benchmarks"]))
    write_cells_csv(board.cells, Path(outputs["cells"]))
    Path(outputs["md"]).write_text(markdown(board))
    Path(outputs["html"]).write_text(html_page(board, plots))
