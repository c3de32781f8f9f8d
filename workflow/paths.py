"""Where every stage reads and writes. One place, so rules and reports agree.

Templates use Snakemake's {wildcard} syntax; `cell_dir` fills them for a cell.
"""

from pathlib import Path

from workflow.matrix import Cell

CELL = "runs/{agent}/{model}/{benchmark}/seed{seed}"
BASELINE_MODEL = "baselines/{kind}/{model}"  # one job per model and kind: its log, server log, serving.json
BASELINE = BASELINE_MODEL + "/{benchmark}"
SERVING = "serving.json"  # of a baselines job: its server's starts and the job's seconds

# Files of one cell, relative to its folder.
JOB_DIR = "job"  # the agent's home: handout, final_model/, its own files
RUN_RECORD = "run.json"  # exit class, time used, budget
TRACE = "trace.jsonl"  # the agent's stdout, one timestamped line each
HANDOUT = "handout.json"  # hashes of the files handed out, for the judge
MONITOR = "monitor.jsonl"  # GPU, CPU and memory samples during the run
AGENT_STATE = "agent_state.json"  # the agent's budget used and the job running it, beaten every few seconds
JUDGEMENT = "judgement.json"
METRICS = "metrics.json"
EVAL_LOGS = "eval"  # Inspect's .eval logs and the attempt history
# Kept for the judge beside the job dir: the agent's private /tmp, the cache
# overlay's upper layer (workflow/agent/sandbox.py), and copies of data files
# the agent deleted during the run (workflow/agent/keeper.py).
AGENT_TMP = "tmp"
CACHE_UPPER = "hf_overlay/upper"
DELETED_COPIES = "kept"


# Readable trace pages, one per cell, written by the aggregate stage: the same
# agent/model/benchmark/seed folders as runs/, under one folder the report bundles.
TRACE_PAGES = "traces"
TRACE_PAGE = "trace.html"


def trace_page(cell: Cell) -> str:
    """A cell's trace page, relative to the results folder (where leaderboard.html is)."""
    return f"{TRACE_PAGES}/{CELL.removeprefix('runs/').format(**cell.__dict__)}/{TRACE_PAGE}"


def cell_template(results: str, name: str) -> str:
    return f"{results}/{CELL}/{name}"


def baseline_template(results: str, name: str) -> str:
    return f"{results}/{BASELINE}/{name}"


def baseline_model_template(results: str, name: str) -> str:
    return f"{results}/{BASELINE_MODEL}/{name}"


def cell_dir(results: str | Path, cell: Cell) -> Path:
    return Path(results) / CELL.format(**cell.__dict__)


def baseline_dir(results: str | Path, kind: str, model: str, benchmark: str) -> Path:
    return Path(results) / BASELINE.format(kind=kind, model=model, benchmark=benchmark)


def embedded_model_dir(results: str | Path, name: str) -> Path:
    return Path(results) / "models" / name


def prefetch_marker(results: str | Path, hub_id: str) -> Path:
    return Path(results) / "prefetch" / (hub_id.replace("/", "--") + ".done")
