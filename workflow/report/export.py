"""Export an agent's results in upstream PostTrainBench's result layout, for a submission.

`python -m workflow export AGENT [--out DIR] [--weights]` writes, per run of
the agent (each budget of an agent that lists several) and seed, a "method"
folder named as upstream names them, and in it one folder per cell:

    <scaffold>_<model>_<hours>h[_<N>gpu]_seed<S>/
        <benchmark>_<org>_<base model>_<run id>/
            solve_out.txt             the agent's raw trace, one "[time] line" per line
            solve_parsed.txt          the same run as a readable transcript
            trace.html                the readable trace page (when the aggregate stage wrote it)
            judgement.json            verdicts in upstream's shape: contamination and
                                      disallowed_model (true/false) with a justification each
            judge_checks.json         this pipeline's full judgement (every check and its evidence)
            metrics.json              {"accuracy": <headline metric>, ...} when the evaluation succeeded
            evaluation_failed.txt     instead of metrics.json: why there is no score
            time_taken.txt            agent time used, H:MM:SS
            run.json                  the run record (exit class, tokens, dollars, GPUs)
            monitor.jsonl             GPU, CPU and memory samples during the run
            final_model_location.txt  where final_model lies in this results tree (or "absent")
            final_model/              only with --weights

The run id is the agent job's Slurm job id (0 outside Slurm). manifest.json at
the top lists every cell with its folder, status and figures. Text files are
passed through the judge's secret masking on the way out.
"""

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from workflow.agent.traces import parse_trace, trace_format
from workflow.judge.files import redact
from workflow.judge.judgement import QUESTION_OF_CHECK
from workflow.matrix import Cell, agent_cells, agent_runs
from workflow.models import is_embedded
from workflow.paths import JOB_DIR, JUDGEMENT, METRICS, MONITOR, RUN_RECORD, TRACE, cell_dir, trace_page
from workflow.records import read_json, write_json
from workflow.suites import suite_of

UPSTREAM_QUESTIONS = ("contamination", "disallowed_model")


class ExportError(ValueError):
    """Nothing to export (unknown agent); the message says what exists."""


@dataclass
class Exported:
    out: Path
    cells: list[dict] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # cells that have not run


def _safe(text: str) -> str:
    """Upstream's path-safe form of a model id: '/', ':', '[' and ']' become '_'."""
    return str(text).translate(str.maketrans("/:[]", "____"))


def method_dir(entry: dict, seed: int) -> str:
    """Upstream's folder for one agent configuration: <agent>_<config>_<hours>h[_<N>gpu], plus the seed."""
    gpus = entry.get("num_gpus", 1)
    suffix = f"_{gpus}gpu" if gpus > 1 else ""
    return f"{entry['scaffold']}_{_safe(entry.get('model') or 'none')}_{entry['hours']:g}h{suffix}_seed{seed}"


def run_dir(cell: Cell, base_model: str, run: dict) -> str:
    """Upstream's folder for one cell: <benchmark>_<org>_<model>_<run id>."""
    name = base_model.replace("embedded:", "embedded/") if is_embedded(base_model) else base_model
    run_id = (run.get("job") or {}).get("slurm_job_id") or 0
    return f"{cell.benchmark}_{_safe(name)}_{run_id}"


def hms(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def upstream_judgement(judgement: dict | None) -> dict:
    """Upstream's verdict shape from this pipeline's judgement: each question true when any
    check or the LLM judge flagged it, justified by those reasons (or by why it is clean)."""
    if judgement is None:
        return {
            **{q: False for q in UPSTREAM_QUESTIONS},
            **{f"justification_{q}": "not judged" for q in UPSTREAM_QUESTIONS},
        }
    verdicts = judgement.get("verdicts") or {}
    llm = judgement.get("llm") or {}
    out: dict = {}
    for q in UPSTREAM_QUESTIONS:
        reasons = [
            f"{c['check']}: {c.get('reason', '')}"
            for c in judgement.get("checks") or []
            if c.get("flag") and QUESTION_OF_CHECK.get(c.get("check")) == q
        ]
        part = llm.get(q) if isinstance(llm.get(q), dict) else None
        if part and part.get("flag"):
            reasons.append(f"llm judge: {part.get('reason', '')}")
        flagged = verdicts.get(q) == "flagged" or bool(reasons)
        if not reasons:
            clean = f"deterministic checks clean; {q} {verdicts.get(q, 'unjudged')}"
            reasons = [f"llm judge: {part.get('reason', '')}" if part else clean]
        out[q] = flagged
        out[f"justification_{q}"] = " ".join(reasons)
    out["modified_evaluation_files"] = verdicts.get("evaluation_files") == "flagged"
    out["judge"] = f"deterministic checks + LLM judge {llm.get('model') or '(none)'}: {llm.get('verdict')}"
    return out


def _trace_lines(path: Path) -> list[tuple[str, str]]:
    """(time, raw line) of each line the runner stored."""
    out = []
    if not path.exists():
        return out
    for raw in path.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(raw)
            out.append((str(entry.get("t", "")), str(entry.get("line", ""))))
        except (ValueError, AttributeError):
            out.append(("", raw))
    return out


def _write_text(path: Path, text: str) -> None:
    path.write_text(redact(text))


def export_cell(config: dict, results: Path, cell: Cell, entry: dict, dest: Path, weights: bool) -> dict | None:
    """One cell's folder under dest (a method folder); None when the cell has not run."""
    folder = cell_dir(results, cell)
    if not (folder / RUN_RECORD).exists():
        return None
    run = read_json(folder / RUN_RECORD)
    base_model = config["models"][cell.model]["base"]
    target = dest / run_dir(cell, base_model, run)
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    lines = _trace_lines(folder / TRACE)
    _write_text(target / "solve_out.txt", "".join(f"[{t}] {line}\n" for t, line in lines))
    kind = trace_format(entry.get("scaffold", ""))
    parsed = parse_trace(kind, [json.dumps({"t": t, "line": x}) for t, x in lines]).transcript if kind else None
    _write_text(target / "solve_parsed.txt", (parsed if parsed is not None else "\n".join(x for _, x in lines)) + "\n")
    page = results / trace_page(cell)
    if page.exists():
        shutil.copyfile(page, target / "trace.html")
    judgement = read_json(folder / JUDGEMENT) if (folder / JUDGEMENT).exists() else None
    write_json(target / "judgement.json", upstream_judgement(judgement))
    if judgement is not None:
        _write_text(target / "judge_checks.json", json.dumps(judgement, indent=2, sort_keys=True) + "\n")
    metrics = read_json(folder / METRICS) if (folder / METRICS).exists() else None
    if metrics and metrics.get("status") == "ok":
        record = {k: v for k, v in metrics.items() if k != "value"}
        write_json(target / "metrics.json", {"accuracy": metrics["value"], **record})
    else:
        why = "not evaluated yet" if metrics is None else f"{metrics.get('status')}: {metrics.get('reason', '')}"
        (target / "evaluation_failed.txt").write_text(why.strip() + "\n")
    (target / "time_taken.txt").write_text(hms(run.get("seconds") or 0) + "\n")
    _write_text(target / "run.json", json.dumps(run, indent=2, sort_keys=True) + "\n")
    if (folder / MONITOR).exists():
        shutil.copyfile(folder / MONITOR, target / "monitor.jsonl")
    model = folder / JOB_DIR / "final_model"
    present = model.is_dir()
    (target / "final_model_location.txt").write_text((str(model.resolve()) if present else "absent") + "\n")
    if weights and present:
        shutil.copytree(model, target / "final_model", symlinks=False)
    usage = run.get("usage") or {}
    return {
        "cell": cell.key,
        "folder": str(target.relative_to(dest.parent)),
        "status": run.get("status"),
        "seconds": run.get("seconds"),
        "metric": metrics.get("value") if metrics and metrics.get("status") == "ok" else None,
        "evaluation": None if metrics is None else metrics.get("status"),
        "flagged": None if judgement is None else bool(judgement.get("flagged")),
        "tokens": usage.get("tokens"),
        "cost_usd": usage.get("cost_usd"),
        "final_model": str(model.resolve()) if present else None,
        "weights_included": bool(weights and present),
    }


def runs_of(config: dict, agent: str) -> list[str]:
    """The runs an export covers: an agent's every budget, or one run (NAME@<h>h) by name."""
    runs = agent_runs(config)
    chosen = [name for name, entry in runs.items() if name == agent or entry["agent"] == agent]
    if not chosen:
        known = sorted({e["agent"] for e in runs.values()} | set(runs))
        raise ExportError(f"no agent {agent!r} in the config; known: {', '.join(known)}")
    return chosen


def export_agent(config: dict, results: Path, agent: str, out: Path, weights: bool = False) -> Exported:
    """Write the agent's results under out in upstream's layout; see the module's docstring."""
    results, out = Path(results), Path(out)
    runs = agent_runs(config)
    chosen = runs_of(config, agent)
    exported = Exported(out)
    for name in chosen:
        entry = runs[name]
        for cell in agent_cells(config, name):
            dest = out / method_dir(entry, cell.seed)
            row = export_cell(config, results, cell, entry, dest, weights)
            if row is None:
                exported.skipped.append(cell.key)
            else:
                exported.cells.append(row | {"run": name, "budget_hours": entry["hours"]})
    configured = config["agents"][runs[chosen[0]]["agent"]]
    public = {k: v for k, v in configured.items() if k != "credential"}  # a credential's path stays private
    write_json(out / "manifest.json", {
        "agent": agent,
        "suite": suite_of(config),
        "config": public,
        "benchmarks": {b: v["weight"] for b, v in config["benchmarks"].items()},
        "models": {m: v["base"] for m, v in config["models"].items()},
        "layout": "upstream PostTrainBench results (method folder / <benchmark>_<model>_<run id>)",
        "cells": exported.cells,
        "not_run": exported.skipped,
    })  # fmt: skip
    return exported
