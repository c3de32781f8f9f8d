"""The matrix at a glance: which cells are done, running, failed, flagged or
missing, and how much agent time has been spent.

Read from the results tree and Snakemake's own state, never by asking
Snakemake (which would build the whole DAG): `.snakemake/incomplete` holds a
marker per output of a job that started and has not finished (its Slurm job id
inside until the job step's own Snakemake rewrites it; a running agent's job is
then named by the state file it beats), `.snakemake/locks` is non-empty while
a Snakemake process runs, and
the Slurm executor writes a log per job where the `slurm` profile's
`slurm-logdir` says (results/logs/slurm), else under `.snakemake/slurm_logs`.
A job that failed leaves its log but not its declared output: that is how a
failure is told apart from a stage not yet run. A failed agent job's reason
names what its own log and Slurm's log say (a cancel, the time limit).
"""

import base64
import json
import os
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from workflow.agent.attempts import read_state
from workflow.matrix import Cell, agent_cells, agent_entry, enabled_agents
from workflow.paths import AGENT_STATE, JUDGEMENT, METRICS, RUN_RECORD, cell_dir

STATES = ("done", "running", "failed", "flagged", "missing")
SYMBOLS = {"done": "✓", "running": "▶", "failed": "✗", "flagged": "⚑", "missing": "·"}
LOG_TAIL_BYTES = 4000
REASON_CHARS = 160
NOT_RUN = "not run yet"
ERROR_WORDS = re.compile(r"Error|Exception|CANCELLED|Killed|error:|Stopped:|InfrastructureFault|OUT_OF_MEMORY")
# Where the executor writes Slurm logs when the profile names no folder.
DEFAULT_SLURM_LOGDIR = Path(".snakemake") / "slurm_logs"
PROFILE = Path("profiles") / "slurm" / "config.yaml"


@dataclass(frozen=True)
class Stage:
    rule: str
    outputs: tuple[str, ...]  # file names in the cell folder; the first is the record
    log: str


# A cell's stages in the order they run (judge and evaluate both follow the agent).
AGENT = Stage("run_agent", (RUN_RECORD, "job", "trace.jsonl", "handout.json"), "agent.log")
JUDGE = Stage("judge", (JUDGEMENT,), "judge.log")
EVALUATE = Stage("evaluate", (METRICS, "eval"), "evaluate.log")


@dataclass
class SnakemakeState:
    incomplete: dict[str, float]  # output path (normalised) -> when its job started (marker mtime)
    jobids: dict[str, str]  # output path -> external (Slurm) job id, where one is recorded
    locked: bool  # a Snakemake process holds the working directory
    slurm_logdirs: tuple[Path, ...]  # where the Slurm executor writes its logs, the profile's first


@dataclass
class CellStatus:
    cell: Cell
    state: str  # one of STATES
    stage: str  # the stage the state is about (run_agent, judge, evaluate) or "-"
    detail: str
    log: str | None = None
    slurm_log: str | None = None
    jobid: str | None = None
    agent_seconds: float | None = None  # agent time used, or elapsed while it runs


def decode_marker(relative: str) -> str:
    """Snakemake's marker path -> the output path it stands for.

    The path is the URL-safe base64 of the output path, cut into chunks that
    fit a file name; every chunk but the last is a folder named '@' + chunk.
    """
    parts = relative.split(os.sep)
    encoded = "".join(p[1:] if p.startswith("@") else p for p in parts)
    return base64.urlsafe_b64decode(encoded.encode()).decode()


def read_snakemake_state(workdir: Path) -> SnakemakeState:
    meta = Path(workdir) / ".snakemake"
    incomplete, jobids = {}, {}
    root = meta / "incomplete"
    for folder, _, files in os.walk(root):
        for name in files:
            if name == "migration_underway":
                continue
            path = os.path.join(folder, name)
            try:
                output = os.path.normpath(decode_marker(os.path.relpath(path, root)))
            except (ValueError, UnicodeDecodeError):
                continue  # not a marker Snakemake wrote
            incomplete[output] = os.path.getmtime(path)
            try:
                jobid = json.loads(Path(path).read_text() or "{}").get("external_jobid")
            except (OSError, json.JSONDecodeError):
                jobid = None
            if jobid:
                jobids[output] = str(jobid)
    locks = meta / "locks"
    locked = locks.is_dir() and any(locks.iterdir())
    return SnakemakeState(incomplete, jobids, locked, slurm_logdirs(workdir))


def slurm_logdirs(workdir: Path, profile: Path = PROFILE) -> tuple[Path, ...]:
    """The Slurm log folders to look in: the `slurm` profile's slurm-logdir, then the executor's default."""
    workdir = Path(workdir)
    folders = []
    try:
        configured = (yaml.safe_load((workdir / profile).read_text()) or {}).get("slurm-logdir")
    except (OSError, yaml.YAMLError):
        configured = None
    if configured:
        folders.append(Path(configured) if Path(configured).is_absolute() else workdir / configured)
    folders.append(workdir / DEFAULT_SLURM_LOGDIR)
    return tuple(folders)


def slurm_log(state: SnakemakeState, rule: str, cell: Cell) -> str | None:
    """The newest Slurm log of a cell's job (the executor names folders by wildcard values)."""
    logs = []
    for logdir in state.slurm_logdirs:
        folder = logdir / f"rule_{rule}" / f"{cell.agent}_{cell.model}_{cell.benchmark}_{cell.seed}"
        try:
            logs += [e for e in os.scandir(folder) if e.name.endswith(".log")]
        except FileNotFoundError:
            continue
    return max(logs, key=lambda e: e.stat().st_mtime).path if logs else None


def error_line(path: str | Path | None) -> str | None:
    """The last line of a log's tail that reports an error (a Python exception,
    Slurm's CANCELLED ... DUE TO TIME LIMIT), or None."""
    if not path:
        return None
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.path.getsize(path) - LOG_TAIL_BYTES))
            tail = f.read().decode(errors="replace")
    except OSError:
        return None
    lines = [line.strip() for line in tail.splitlines() if line.strip()]
    errors = [line for line in lines if ERROR_WORDS.search(line)]
    return errors[-1][:REASON_CHARS] if errors else None


# Slurm's own account of why it ended a job ("*** JOB 12 ON node CANCELLED AT ... DUE TO TIME LIMIT ***").
SLURM_EVENT = re.compile(r"\*\*\* JOB \d+ .*\*\*\*|oom[-_]kill|OUT_OF_MEMORY|NODE_FAIL|PREEMPT")


def slurm_reason(path: str | Path | None) -> str | None:
    """What Slurm said when it ended the job, else the log's last error line."""
    if not path:
        return None
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.path.getsize(path) - 4 * LOG_TAIL_BYTES))
            tail = f.read().decode(errors="replace")
    except OSError:
        return None
    events = [line.strip() for line in tail.splitlines() if SLURM_EVENT.search(line)]
    return events[-1][:REASON_CHARS] if events else error_line(path)


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def stage_state(
    stage: Stage, cell: Cell, key: str, folder: Path, present: set[str], sm: SnakemakeState
) -> tuple[str, str, float | None]:
    """(state, detail, start time) of one stage: done, running, failed or missing.

    `key` is the cell folder as Snakemake names it, `folder` where it is on disk.
    A log without its output is a failure when the log (or the job's Slurm log)
    reports an error; otherwise the output was removed after the fact.
    """
    for name in stage.outputs:
        output = os.path.join(key, name)
        if output in sm.incomplete:
            if sm.locked:
                return "running", "running", sm.incomplete[output]
            return "failed", "interrupted (Snakemake stopped while it ran): run again with --rerun-incomplete", None
    if stage.outputs[0] in present:
        return "done", "", None
    if stage.log in present:
        # The job's own last error, and Slurm's (a cancel, the time limit) when it adds something.
        own, slurm = error_line(folder / stage.log), slurm_reason(slurm_log(sm, stage.rule, cell))
        reasons = [own] if own else []
        if slurm and slurm != own:
            reasons.append(f"Slurm: {slurm}")
        if reasons:
            return "failed", " | ".join(reasons), None
        return "missing", "output absent although its log shows no error (removed?): the next run redoes it", None
    return "missing", NOT_RUN, None


def _jobid(sm: SnakemakeState, key: str, stage: Stage) -> str | None:
    for name in stage.outputs:
        jobid = sm.jobids.get(os.path.join(key, name))
        if jobid:
            return jobid
    return None


def agent_job_id(folder: Path, since: float | None) -> str | None:
    """The Slurm job running a cell's agent, from the state file that job keeps beating.

    On Slurm, Snakemake's incomplete marker loses the job id: the job step's own
    Snakemake rewrites the marker without it when the job starts. A state file
    older than the marker is an earlier job's (this one may still be pending).
    """
    try:
        if since is None or (folder / AGENT_STATE).stat().st_mtime < since:
            return None
    except OSError:
        return None
    owner = (read_state(folder) or {}).get("owner") or {}
    return str(owner["slurm_job_id"]) if owner.get("slurm_job_id") else None


def cell_status(workdir: Path, results: str, cell: Cell, sm: SnakemakeState, now: float) -> CellStatus:
    key = os.path.normpath(str(cell_dir(results, cell)))
    folder = Path(workdir) / key
    try:
        present = set(os.listdir(folder))
    except FileNotFoundError:
        present = set()
    run = _read(folder / RUN_RECORD) if RUN_RECORD in present else None
    seconds = run.get("seconds") if run else None

    def status(state, stage, detail, log_stage=None, since=None):
        log_stage = log_stage or stage
        log = str(folder / log_stage.log) if stage and log_stage.log in present else None
        slurm = slurm_log(sm, stage.rule, cell) if stage and state in ("failed", "running") else None
        elapsed = now - since if since and stage is AGENT else seconds
        jobid = _jobid(sm, key, stage) if stage and state == "running" else None
        if stage is AGENT and state == "running":
            jobid = jobid or agent_job_id(folder, since)
        return CellStatus(cell, state, stage.rule if stage else "-", detail, log, slurm, jobid, elapsed)

    agent_state, detail, since = stage_state(AGENT, cell, key, folder, present, sm)
    if agent_state != "done":
        return status(agent_state, AGENT, detail, since=since)
    later = {stage: stage_state(stage, cell, key, folder, present, sm) for stage in (JUDGE, EVALUATE)}
    judgement = _read(folder / JUDGEMENT) if later[JUDGE][0] == "done" else None
    if judgement and judgement.get("flagged"):
        return status("flagged", JUDGE, "; ".join(judgement.get("reasons") or ["flagged by the judge"]))
    for wanted in ("running", "failed"):
        for stage, (state, detail, _) in later.items():
            if state == wanted:
                return status(state, stage, detail)
    waiting = [(stage, detail) for stage, (state, detail, _) in later.items() if state == "missing"]
    if waiting:
        named = [stage.rule + ("" if detail == NOT_RUN else f" ({detail})") for stage, detail in waiting]
        return status("missing", waiting[0][0], "waiting for " + " and ".join(named))
    metrics = _read(folder / METRICS) or {}
    if metrics.get("status") == "ok":
        return status("done", EVALUATE, f"{metrics.get('metric', 'score')} {metrics.get('value')}")
    if metrics.get("status") == "missing":
        return status("failed", AGENT, "no final_model: scored as the base model")
    reason = [line for line in str(metrics.get("reason", "")).splitlines() if line.strip()]
    return status("failed", EVALUATE, "evaluation failed: " + (reason[-1].strip()[:REASON_CHARS] if reason else "?"))


@dataclass
class MatrixStatus:
    cells: list[CellStatus]
    locked: bool
    agent_hours_used: float
    agent_hours_budget: float
    gpu_hours_used: float

    def counts(self) -> dict[str, int]:
        return {s: sum(1 for c in self.cells if c.state == s) for s in STATES}


def collect(config: dict, workdir: Path = Path(".")) -> MatrixStatus:
    """Every enabled cell's status, from files alone."""
    workdir = Path(workdir)
    sm = read_snakemake_state(workdir)
    results = config.get("results", "results")
    now = time.time()
    cells, used, budget, gpu = [], 0.0, 0.0, 0.0
    for name in enabled_agents(config):
        agent = agent_entry(config, name)
        hours = float(agent["hours"] or 10)
        gpus = int(agent.get("num_gpus", 1))
        for cell in agent_cells(config, name):
            status = cell_status(workdir, results, cell, sm, now)
            cells.append(status)
            budget += hours
            if status.agent_seconds:
                used += status.agent_seconds / 3600
                gpu += gpus * status.agent_seconds / 3600
    return MatrixStatus(cells, sm.locked, used, budget, gpu)


def _grid(config: dict, matrix: MatrixStatus, agent: str) -> list[str]:
    by_key: dict[tuple[str, str], str] = {}
    for c in matrix.cells:
        if c.cell.agent == agent:
            where = (c.cell.model, c.cell.benchmark)
            by_key[where] = by_key.get(where, "") + SYMBOLS[c.state]
    benches = list(config["benchmarks"])
    width = max(len(m) for m in config["models"])
    widths = [max(len(b), max((len(v) for (_, bb), v in by_key.items() if bb == b), default=1)) for b in benches]
    lines = [" " * width + "  " + "  ".join(b.ljust(w) for b, w in zip(benches, widths, strict=True))]
    for model in config["models"]:
        entries = [by_key.get((model, b), "-").ljust(w) for b, w in zip(benches, widths, strict=True)]
        lines.append(model.ljust(width) + "  " + "  ".join(entries))
    return lines


def render(config: dict, matrix: MatrixStatus) -> str:
    """The status as text: a grid per agent, then the cells that need attention."""
    legend = "  ".join(f"{SYMBOLS[s]} {s}" for s in STATES)
    lines = [f"Snakemake: {'running (working directory locked)' if matrix.locked else 'not running'}", legend, ""]
    for agent in enabled_agents(config):
        mine = [c for c in matrix.cells if c.cell.agent == agent]
        counts = {s: sum(1 for c in mine if c.state == s) for s in STATES}
        summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
        mode = "reprompted" if agent_entry(config, agent).get("reprompt") else "autonomous"
        lines += [f"{agent} ({mode}; {len(mine)} cells: {summary})", *_grid(config, matrix, agent), ""]
    counts = matrix.counts()
    lines.append(f"All {len(matrix.cells)} cells: " + ", ".join(f"{counts[s]} {s}" for s in STATES))
    lines.append(
        f"Agent time used: {matrix.agent_hours_used:.1f} h of {matrix.agent_hours_budget:.1f} h budgeted "
        f"({matrix.gpu_hours_used:.1f} GPU h)"
    )
    for state in ("running", "failed", "flagged"):
        chosen = [c for c in matrix.cells if c.state == state]
        if not chosen:
            continue
        lines += ["", f"{state.capitalize()} ({len(chosen)}):"]
        for c in chosen:
            extra = f" [Slurm job {c.jobid}]" if c.jobid else ""
            if state == "running" and c.agent_seconds:
                extra += f" for {c.agent_seconds / 3600:.2f} h"
            lines.append(f"  {c.cell.key}  {c.stage}: {c.detail}{extra}")
            if c.log:
                lines.append(f"      log: {c.log}")
            if c.slurm_log:
                lines.append(f"      slurm log: {c.slurm_log}")
    return "\n".join(lines) + "\n"


def as_json(matrix: MatrixStatus) -> str:
    cells = [{**asdict(c), "cell": c.cell.key} for c in matrix.cells]
    return json.dumps(
        {
            "counts": matrix.counts(),
            "locked": matrix.locked,
            "agent_hours_used": matrix.agent_hours_used,
            "agent_hours_budget": matrix.agent_hours_budget,
            "gpu_hours_used": matrix.gpu_hours_used,
            "cells": cells,
        },
        indent=1,
    )
