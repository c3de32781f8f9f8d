"""Synthetic results trees for the report tests: the records each stage
writes (run.json, judgement.json, metrics.json, baselines), in the shapes the
real stages write them, without running any agent or evaluation."""

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from workflow.matrix import Cell
from workflow.paths import JUDGEMENT, METRICS, RUN_RECORD, baseline_dir, cell_dir
from workflow.records import write_json


def stamp(i: int) -> str:
    """The runner's timestamp of a trace's i-th line: one every 90 seconds from a fixed start."""
    return (datetime(2026, 11, 30, 8, 0, tzinfo=UTC) + timedelta(seconds=90 * i)).isoformat(timespec="milliseconds")


def make_config(
    agents: dict,
    models=("m1", "m2"),
    benchmarks: dict | None = None,
    seeds=(1,),
    results: str = "results",
    unjudged: str = "keep",
) -> dict:
    benchmarks = benchmarks or {"b1": 0.6, "b2": 0.4}
    return {
        "results": results,
        "hours": 10,
        "seeds": list(seeds),
        "models": {m: {"base": f"org/{m}-base", "instruct": f"org/{m}-it"} for m in models},
        "benchmarks": {b: {"weight": w} for b, w in benchmarks.items()},
        "agents": {name: {"scaffold": "noop", "enabled": True, **spec} for name, spec in agents.items()},
        "judge": {"model": None, "unjudged": unjudged},
    }


class Tree:
    """Writes records under root/<config results>."""

    def __init__(self, root: Path, config: dict):
        self.root = Path(root)
        self.config = config
        self.results = self.root / config["results"]

    def folder(self, agent, model, bench, seed=1) -> Path:
        return cell_dir(self.results, Cell(agent, model, bench, seed))

    def run(self, agent, model, bench, seed=1, seconds=3600.0, mode="autonomous", reprompts=0, final_model=True,
            usage=None, num_gpus=1, trace=(), budget_hours=10.0):  # fmt: skip
        """A finished run; `trace`: the CLI's raw output lines (stored as the runner does, timestamped)."""
        folder = self.folder(agent, model, bench, seed)
        (folder / "job").mkdir(parents=True, exist_ok=True)
        (folder / "trace.jsonl").write_text(
            "".join(json.dumps({"t": stamp(i), "line": x}) + "\n" for i, x in enumerate(trace))
        )
        write_json(folder / "handout.json", {})
        write_json(folder / RUN_RECORD, {
            "status": "finished", "returncode": 0, "seconds": seconds, "budget_seconds": budget_hours * 3600,
            "mode": mode, "reprompts": reprompts, "final_model": final_model, "agent": agent,
            "usage": usage, "num_gpus": num_gpus,
        })  # fmt: skip
        (folder / "agent.log").write_text("agent finished\n")
        return folder

    def judgement(self, agent, model, bench, seed=1, flagged=False, reasons=(), verdict="clean", checks=(), llm=None):
        folder = self.folder(agent, model, bench, seed)
        llm = llm or {"verdict": verdict}
        record = {"flagged": flagged, "reasons": list(reasons), "checks": list(checks), "llm": llm}
        write_json(folder / JUDGEMENT, record)
        (folder / "judge.log").write_text("judged\n")

    def metrics(self, agent, model, bench, seed=1, value=None, status="ok", reason=""):
        folder = self.folder(agent, model, bench, seed)
        if status == "ok":
            record = {"status": "ok", "metric": "accuracy", "value": value, "samples": 100, "attempts": []}
        else:
            record = {"status": status, "reason": reason, "attempts": []}
        write_json(folder / METRICS, record)
        (folder / "eval").mkdir(exist_ok=True)
        (folder / "evaluate.log").write_text("evaluated\n")

    def cell(self, agent, model, bench, seed=1, value=0.5, status="ok", reason="", flagged=False, reasons=(),
             seconds=3600.0, mode="autonomous", verdict="clean", **run):  # fmt: skip
        """A finished cell: run, judged, evaluated; `run`: more of run()'s arguments."""
        self.run(agent, model, bench, seed, seconds=seconds, mode=mode, final_model=status != "missing", **run)
        self.judgement(agent, model, bench, seed, flagged=flagged, reasons=reasons, verdict=verdict)
        self.metrics(agent, model, bench, seed, value=value, status=status, reason=reason)

    def baseline(self, kind, model, bench, value, status="ok"):
        record = {"status": status, "metric": "accuracy", "value": value} if status == "ok" else {"status": status}
        write_json(baseline_dir(self.results, kind, model, bench) / METRICS, record)

    def baselines(self, base: dict, instruct: dict | None = None):
        """base/instruct: (model, bench) -> value."""
        for (model, bench), value in base.items():
            self.baseline("base", model, bench, value)
        for (model, bench), value in (instruct or {}).items():
            self.baseline("instruct", model, bench, value)


def age_tree(root: Path, seconds_ago: float = 3600) -> None:
    """Push every file's mtime back, so later writes look newer to Snakemake."""
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            stat = os.stat(path)
            os.utime(path, (stat.st_atime - seconds_ago, stat.st_mtime - seconds_ago))
