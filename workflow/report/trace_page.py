"""Readable trace pages: one self-contained HTML page per cell that has run.

A page shows the run step by step: when each step began (time into the run
and clock time), the agent's messages, its commands with exit codes and
shortened outputs, and the files each step wrote. Beside a step sits the
judge's evidence that points to it: a trace line (forbidden-use hits, an LLM
reason citing a line) or a file the step wrote (test-set overlap, changed
evaluation files). Evidence that points nowhere in the trace is listed at the
top with the verdicts. Each page is kept in its cell folder (trace.html) and
copied under results/traces/ (workflow.paths), which the leaderboard page
and the Snakemake report link.
"""

import html
import json
import os
import re
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from workflow.agent.traces import OUTPUT_LIMIT, Step, parse_trace, shorten, trace_format
from workflow.matrix import Cell, agent_entry
from workflow.paths import JUDGEMENT, METRICS, RUN_RECORD, TRACE, TRACE_PAGE, cell_dir, trace_page
from workflow.records import read_json

RENDERER = "ptb-trace-page 1"  # bump when the page changes, so cached pages are rendered again
RAW_GAP_SECONDS = 5  # plain-text traces: lines closer than this form one step
RAW_MAX_LINES = 200
EVIDENCE_CHARS = 600
_TRACE_LINE = re.compile(r"trace(?:\.jsonl)?[ ,:]*lines?\s+(\d+)", re.IGNORECASE)


@dataclass
class Evidence:
    """One piece of the judge's evidence, and where in the run it points."""

    check: str  # evaluation_files | lineage | test_overlap | forbidden_use | llm_judge (<question>)
    text: str
    flag: bool
    trace_line: int | None = None
    file: str | None = None


def _short(text, limit: int = EVIDENCE_CHARS) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def judge_evidence(judgement: dict | None) -> list[Evidence]:
    """The judgement's evidence as a flat list (unknown checks give their reason only)."""
    out: list[Evidence] = []
    if not judgement:
        return out
    for check in judgement.get("checks") or []:
        name, flag = check.get("check", "?"), bool(check.get("flag"))
        if name == "forbidden_use":
            for hit in check.get("evidence") or []:
                text = f"{hit.get('reason', '')}: {hit.get('text', '')}"
                if hit.get("source") == TRACE:
                    out.append(Evidence(name, text, flag, trace_line=hit.get("line")))
                else:
                    out.append(
                        Evidence(name, f"{text} ({hit.get('source')}:{hit.get('line')})", flag, file=hit.get("source"))
                    )
        elif name == "test_overlap":
            for hit in check.get("files") or []:
                examples = "; ".join(_short(e.get("text", ""), 120) for e in hit.get("examples") or [])
                text = f"{hit.get('test_items')} test item(s) found in {hit.get('file')}: {examples}"
                out.append(Evidence(name, text, flag, file=hit.get("file")))
        elif name == "evaluation_files":
            for kind in ("changed", "missing"):
                for file in check.get(kind) or []:
                    out.append(Evidence(name, f"handed-out file {kind}: {file}", flag, file=file))
        elif check.get("reason") or flag:
            out.append(Evidence(name, check.get("reason") or "flagged", flag))
    llm = judgement.get("llm") or {}
    for question in ("contamination", "disallowed_model"):
        part = llm.get(question)
        if not isinstance(part, dict):
            continue
        reason = part.get("reason", "")
        text = f"{'yes' if part.get('flag') else 'no'}: {reason}"
        cited = [int(n) for n in _TRACE_LINE.findall(reason)]
        check = f"llm_judge ({question})"
        out.append(Evidence(check, text, bool(part.get("flag")), trace_line=cited[0] if cited else None))
    return out


def _same_file(a: str, b: str) -> bool:
    a, b = a.removeprefix("./"), b.removeprefix("./")
    return a == b or a.endswith("/" + b) or b.endswith("/" + a)


def place_evidence(steps: list[Step], evidence: list[Evidence]) -> tuple[dict[int, list[Evidence]], list[Evidence]]:
    """Which step each piece of evidence belongs beside: (step index -> evidence, the rest)."""
    beside: dict[int, list[Evidence]] = {}
    rest: list[Evidence] = []
    for ev in evidence:
        index = None
        if ev.trace_line is not None:
            inside = [i for i, s in enumerate(steps) if s.line <= ev.trace_line <= s.end_line]
            before = [i for i, s in enumerate(steps) if s.line <= ev.trace_line]
            index = (inside or before or [None])[-1]
        elif ev.file:
            # The step that last wrote the file, else (data a script wrote) the last one naming it;
            # a changed handout file is only placed where a step visibly wrote it.
            wrote = [i for i, s in enumerate(steps) if any(_same_file(f, ev.file) for f in s.files)]
            name = Path(ev.file).name
            mentioned = [i for i, s in enumerate(steps) if name in " ".join((s.command or "", s.input))]
            if ev.check == "evaluation_files":
                mentioned = []
            index = (wrote or mentioned or [None])[-1]
        if index is None:
            rest.append(ev)
        else:
            beside.setdefault(index, []).append(ev)
    return beside, rest


def raw_steps(lines: list[str]) -> list[Step]:
    """A plain-text trace (a scaffold without an agent CLI) as output steps: nearby lines together."""
    steps: list[Step] = []
    last: datetime | None = None
    for number, raw in enumerate(lines, 1):
        try:
            entry = json.loads(raw)
            t, text = entry.get("t"), str(entry.get("line", ""))
        except (ValueError, AttributeError):
            t, text = None, raw
        when = _parse_time(t)
        joined = steps and last and when and (when - last).total_seconds() < RAW_GAP_SECONDS
        if joined and steps[-1].output.count("\n") < RAW_MAX_LINES:
            steps[-1].output += "\n" + text
            steps[-1].end_line = number
        else:
            steps.append(Step("output", t, number, number, output=text))
        last = when or last
    for step in steps:
        step.output = shorten(step.output, OUTPUT_LIMIT)
    return steps


def trace_steps(scaffold: str, trace: Path) -> list[Step]:
    lines = Path(trace).read_text(errors="replace").splitlines() if Path(trace).exists() else []
    kind = trace_format(scaffold)
    return parse_trace(kind, lines).steps if kind else raw_steps(lines)


def _parse_time(t: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(t) if t else None
    except ValueError:
        return None


def _offset(t: str | None, start: datetime | None) -> str:
    when = _parse_time(t)
    if when is None or start is None:
        return ""
    seconds = max(0, int((when - start).total_seconds()))
    return f"+{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


CSS = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; max-width: 1400px; }
table.facts td, table.facts th { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left; }
table.facts { border-collapse: collapse; margin-bottom: 1em; }
.row { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 1em;
       border-top: 1px solid #e3e3e3; padding: 0.5em 0; }
.when { color: #666; font-size: 0.85em; font-family: monospace; }
.kind { display: inline-block; min-width: 5em; font-weight: 600; }
pre { white-space: pre-wrap; word-break: break-word; margin: 0.3em 0; padding: 0.4em;
      background: #f6f8fa; border: 1px solid #e1e4e8; font-size: 0.85em; }
pre.command { background: #1f2937; color: #e5e7eb; }
pre.output { max-height: 20em; overflow-y: auto; }
.message { white-space: pre-wrap; }
.files { color: #1d4ed8; font-size: 0.9em; }
.exit-bad { color: #b91c1c; font-weight: 600; }
.evidence { padding: 0.4em 0.6em; margin-bottom: 0.4em; font-size: 0.9em; border-left: 4px solid #d97706;
            background: #fef3c7; }
.evidence.flag { border-left-color: #b91c1c; background: #fbd5d5; }
.verdict-flagged { color: #b91c1c; font-weight: 600; }
"""


def _evidence_html(items: list[Evidence]) -> str:
    return "".join(
        f'<div class="evidence{" flag" if e.flag else ""}"><b>{html.escape(e.check)}</b>'
        f"{' (flag)' if e.flag else ''}: {html.escape(_short(e.text))}</div>"
        for e in items
    )


def _step_html(step: Step, start: datetime | None) -> str:
    when = f'<span class="when">{html.escape(_offset(step.t, start))} {html.escape((step.t or "")[11:19])}'
    when += f" · line {step.line}</span>"
    parts = []
    if step.kind == "start":
        parts.append(f'<span class="kind">start</span> CLI session {html.escape(step.text)}')
    elif step.kind == "message":
        parts.append(
            f'<span class="kind">{html.escape(step.role)}</span><div class="message">{html.escape(step.text)}</div>'
        )
    elif step.kind == "tool":
        status = ""
        if step.exit is not None:
            css = "exit-bad" if step.exit else ""
            status = f' <span class="{css}">exit {step.exit}</span>'
        elif step.status:
            status = f" [{html.escape(step.status)}]"
        parts.append(f'<span class="kind">{html.escape(step.tool)}</span>{status}')
        if step.command is not None:
            parts.append(f'<pre class="command">$ {html.escape(step.command)}</pre>')
        elif step.input:
            parts.append(f"<pre>{html.escape(step.input)}</pre>")
    else:
        parts.append('<span class="kind">output</span>')
    if step.output and step.kind != "message":
        parts.append(f'<pre class="output">{html.escape(step.output)}</pre>')
    if step.files:
        parts.append('<div class="files">wrote: ' + ", ".join(html.escape(f) for f in step.files) + "</div>")
    return when + " " + "".join(parts)


def _facts(cell: Cell, config: dict, run: dict, metrics: dict | None, judgement: dict | None) -> list[tuple[str, str]]:
    entry = agent_entry(config, cell.agent)
    usage = run.get("usage") or {}
    tokens = usage.get("tokens") or {}
    cost = usage.get("cost_usd")
    model = "present" if run.get("final_model") else "absent"
    used, budget = run.get("seconds", 0) / 3600, run.get("budget_seconds", 0) / 3600
    facts = [
        ("agent", f"{cell.agent} (scaffold {entry.get('scaffold')}, model {entry.get('model') or '-'})"),
        ("cell", f"{cell.model} × {cell.benchmark}, seed {cell.seed}"),
        ("run", f"{run.get('status')} after {used:.2f} h of a {budget:g} h budget; {run.get('mode')}, "
                f"{run.get('reprompts', 0)} reprompt(s); final_model {model}"),
    ]  # fmt: skip
    if tokens:
        spent = "unknown" if cost is None else f"${cost:,.2f} ({usage.get('cost_source')})"
        facts.append(("tokens", f"{tokens.get('input', 0):,} in ({tokens.get('cached', 0):,} cached), "
                                f"{tokens.get('output', 0):,} out; cost {spent}"))  # fmt: skip
    if metrics:
        value = metrics.get("value")
        shown = f"{metrics.get('metric', 'score')} {value:.4f}" if isinstance(value, int | float) else "-"
        facts.append(("evaluation", f"{metrics.get('status')}: {shown}"))
    if judgement:
        verdicts = judgement.get("verdicts") or {}
        text = ", ".join(f"{q} {v}" for q, v in verdicts.items()) or "-"
        facts.append(("judge", ("FLAGGED: " if judgement.get("flagged") else "not flagged; ") + text))
    return facts


def render_page(
    cell: Cell, config: dict, run: dict, metrics: dict | None, judgement: dict | None, steps: list[Step]
) -> str:
    """The trace page of one cell."""
    evidence = judge_evidence(judgement)
    beside, rest = place_evidence(steps, evidence)
    start = next((_parse_time(s.t) for s in steps if _parse_time(s.t)), None)
    home = "../" * (trace_page(cell).count("/")) + "leaderboard.html"
    title = f"Trace: {cell.key}"
    parts = [
        f"<!DOCTYPE html><!-- {RENDERER} -->",
        f'<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>',
        f"<style>{CSS}</style></head><body>",
        f'<p><a href="{html.escape(home)}">← leaderboard</a></p>',
        f"<h1>{html.escape(title)}</h1>",
        '<table class="facts">',
        *[
            f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
            for k, v in _facts(cell, config, run, metrics, judgement)
        ],
        "</table>",
    ]
    for reason in (judgement or {}).get("reasons") or []:
        parts.append(f'<p class="verdict-flagged">{html.escape(reason)}</p>')
    if rest:
        parts += ["<h2>Judge's evidence not tied to a step</h2>", _evidence_html(rest)]
    parts.append(f"<h2>Steps ({len(steps)})</h2>")
    if not steps:
        parts.append("<p>The trace is empty.</p>")
    for i, step in enumerate(steps):
        parts.append(
            f'<div class="row" id="step{i}"><div class="step">{_step_html(step, start)}</div>'
            f'<div class="side">{_evidence_html(beside.get(i, []))}</div></div>'
        )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _read(path: Path) -> dict | None:
    return read_json(path) if path.exists() else None


def _fresh(cache: Path, sources: list[Path]) -> bool:
    """A cached page is reused while it is newer than every record it shows and of this renderer."""
    if not cache.exists():
        return False
    newest = max((s.stat().st_mtime_ns for s in sources if s.exists()), default=0)
    if cache.stat().st_mtime_ns < newest:
        return False
    with open(cache, errors="replace") as f:
        return RENDERER in f.readline()


def write_trace_pages(config: dict, results: Path, out_dir: Path, cells: list[Cell]) -> list[Path]:
    """A page for every given cell that has run (its run.json exists), under out_dir.

    Each page is rendered once into its cell folder (trace.html beside trace.jsonl) and
    rendered again only when the run, its evaluation or its judgement changed: the
    aggregate stage re-runs whenever any cell changes, and a 10-hour trace is large.
    """
    written = []
    for cell in cells:
        folder = cell_dir(results, cell)
        sources = [folder / name for name in (RUN_RECORD, TRACE, METRICS, JUDGEMENT)]
        run = _read(folder / RUN_RECORD)
        if run is None:
            continue
        cache = folder / TRACE_PAGE
        if not _fresh(cache, sources):
            scaffold = agent_entry(config, cell.agent).get("scaffold", "")
            steps = trace_steps(scaffold, folder / TRACE)
            text = render_page(cell, config, run, _read(folder / METRICS), _read(folder / JUDGEMENT), steps)
            partial = cache.with_name(cache.name + ".partial")
            partial.write_text(text)
            os.replace(partial, cache)
        page = Path(out_dir) / trace_page(cell).split("/", 1)[1]
        page.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(cache, page)
        written.append(page)
    return written
