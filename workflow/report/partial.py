"""The leaderboard from what exists, after every run, failed cells or not.

Rule `aggregate` waits for every cell, so one cell that keeps failing would
leave no leaderboard at all. When a run ends with failures, Snakemake's
`onerror` hook (rules/aggregate.smk) runs the same aggregate script on the
records that exist; cells that are not scored yet say why (`annotate_unscored`:
failed, with the stage and its reason, running, or not run yet), from the
same reading of the results tree as `python -m workflow status`.
"""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from workflow.config import REPO
from workflow.report.scoring import PENDING, Leaderboard

AGGREGATE_SCRIPT = REPO / "scripts" / "aggregate.py"

# Runs the aggregate script with a stand-in for Snakemake's `snakemake` object:
# the config, the rule's named outputs and its log.
_RUNNER = """
import json, runpy, sys

class Files(list):
    def __init__(self, named):
        super().__init__(named.values())
        self.__dict__.update(named)

args = json.load(open(sys.argv[1]))
class Snakemake:
    config = args["config"]
    output = Files(args["outputs"])
    log = Files({"log": args["log"]})
    input = Files({})
    params = Files({})
    wildcards = Files({})
runpy.run_path(args["script"], init_globals={"snakemake": Snakemake()}, run_name="__main__")
"""


def unscored_reason(state: str, stage: str, detail: str) -> str:
    """Why a cell has no score yet, from its status."""
    if state == "failed":
        return f"failed in {stage}: {detail} (the next run retries it)"
    if state == "running":
        return f"still running ({stage})"
    return f"pending: {detail}"


def annotate_unscored(board: Leaderboard, config: dict, workdir: Path = Path(".")) -> int:
    """Give every cell without a score the reason its status names; return how many were annotated."""
    from workflow.report.status import collect

    pending = [c for c in board.cells if c.source == PENDING]
    if not pending:
        return 0
    statuses = {s.cell: s for s in collect(config, workdir).cells}
    for score in pending:
        status = statuses.get(score.cell)
        if status and status.state in ("failed", "running", "missing"):
            score.reason = unscored_reason(status.state, status.stage, status.detail)
    return len(pending)


def write_leaderboard_from_what_exists(config: dict, outputs, log: str, workdir: Path = Path(".")) -> int:
    """Run the aggregate script on whatever records exist; return its exit status.

    `outputs` is rule aggregate's output (names to paths), so both ways of
    writing the leaderboard write the same files.
    """
    named = {name: str(getattr(outputs, name)) for name in outputs.keys()} if hasattr(outputs, "keys") else outputs
    for path in named.values():
        Path(workdir, path).parent.mkdir(parents=True, exist_ok=True)
    Path(workdir, log).parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"config": config, "outputs": named, "log": str(log), "script": str(AGGREGATE_SCRIPT)}, f)
        args = f.name
    try:
        done = subprocess.run([sys.executable, "-c", _RUNNER, args], cwd=workdir, capture_output=True, text=True)
    finally:
        Path(args).unlink(missing_ok=True)
    if done.returncode != 0:
        print(f"the leaderboard could not be written from what exists:\n{done.stderr[-2000:]}", file=sys.stderr)
    return done.returncode
