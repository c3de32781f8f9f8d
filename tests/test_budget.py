"""A cell that overruns its budget is stopped within the grace and still evaluated."""

import copy
import json

import pytest
import yaml

from tests.pipeline import REPO, repo_copy, snakemake
from workflow.agent.runner import classify_exit

BUDGET_SECONDS = 12
GRACE_SECONDS = 6
KILL_AFTER_SECONDS = 3


@pytest.mark.parametrize(
    "returncode,timed_out,expected",
    [
        (0, False, "finished"),
        (3, False, "crashed"),
        (-9, False, "killed"),
        (137, False, "killed"),
        (-9, True, "timeout"),
    ],
)
def test_exit_classes(returncode, timed_out, expected):
    assert classify_exit(returncode, timed_out) == expected


@pytest.mark.slow
def test_overrunning_agent_is_stopped_and_its_model_still_evaluated(tmp_path):
    work = repo_copy(tmp_path / "repo")
    config = copy.deepcopy(yaml.safe_load((REPO / "config" / "embedded.yaml").read_text()))
    config |= {
        "hours": BUDGET_SECONDS / 3600,
        "grace_minutes": GRACE_SECONDS / 60,
        "kill_after_seconds": KILL_AFTER_SECONDS,
    }
    config["agents"] = {"test-overrun": {"scaffold": "test-overrun", "num_gpus": 0}}
    (work / "overrun.yaml").write_text(yaml.safe_dump(config))
    cell = work / "results" / "runs" / "test-overrun" / "tiny" / "arith" / "seed1"
    target = str((cell / "metrics.json").relative_to(work))
    proc = snakemake(work, target, "--cores", "2", "--configfile", "overrun.yaml")
    assert proc.returncode == 0, proc.stderr[-3000:]

    run = json.loads((cell / "run.json").read_text())
    assert run["status"] == "timeout"
    limit = BUDGET_SECONDS + GRACE_SECONDS
    # SIGTERM at the limit is ignored, so SIGKILL follows KILL_AFTER_SECONDS later.
    assert limit <= run["seconds"] <= limit + KILL_AFTER_SECONDS + 5
    assert run["final_model"]
    metrics = json.loads((cell / "metrics.json").read_text())
    assert metrics["status"] == "ok"
    trace = (cell / "trace.jsonl").read_text().splitlines()
    assert all({"t", "line"} <= set(json.loads(x)) for x in trace) and trace
