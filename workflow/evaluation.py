"""The pipeline's final evaluation of a model on one benchmark.

Each attempt runs tasks/evaluate.py (the script agents were handed) in its own
process, so a crash or an out-of-memory error frees the GPU and leaves the
next attempt clean. Failed attempts are retried down the task's max-tokens
ladder. The outcome is always a metrics record: ok, missing or failed.
"""

import json
import subprocess
import sys
import time
from pathlib import Path

from workflow.handout import TASKS, task_meta

TRIES_PER_RUNG = 2
ERROR_TAIL_CHARS = 2000


def is_model_dir(path: Path) -> bool:
    return (Path(path) / "config.json").exists()


def attempt_command(benchmark: str, model: str, out_json: Path, log_dir: Path, settings: dict, max_tokens: int):
    cmd = [
        sys.executable, str(TASKS / "evaluate.py"),
        "--task-dir", str(TASKS / benchmark),
        "--model-path", str(model),
        "--backend", settings["backend"],
        "--max-connections", str(settings["max_connections"]),
        "--max-tokens", str(max_tokens),
        "--json-output-file", str(out_json),
        "--log-dir", str(log_dir),
    ]  # fmt: skip
    if settings.get("limit"):
        cmd += ["--limit", str(settings["limit"])]
    return cmd


def evaluate(benchmark: str, model: str, log_dir: Path, settings: dict, local_model: bool = True) -> dict:
    """Score `model` (a folder, or a hub id when local_model is False) on a benchmark."""
    meta = task_meta(benchmark)
    if local_model and not is_model_dir(model):
        return {"status": "missing", "reason": f"no model at {model} (config.json absent)"}
    log_dir = Path(log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    attempts = []
    for max_tokens in meta["max_tokens"]:
        for _ in range(TRIES_PER_RUNG):
            out = log_dir / f"attempt{len(attempts) + 1}.json"
            started = time.monotonic()
            proc = subprocess.run(
                attempt_command(benchmark, model, out, log_dir, settings, max_tokens),
                capture_output=True, text=True,
            )  # fmt: skip
            result = json.loads(out.read_text()) if out.exists() else {}
            attempt = {
                "max_tokens": max_tokens,
                "returncode": proc.returncode,
                "seconds": round(time.monotonic() - started, 1),
                "status": result.get("status", "crashed"),
            }
            (log_dir / f"attempt{len(attempts) + 1}.log").write_text(proc.stdout + proc.stderr)
            attempts.append(attempt)
            if proc.returncode == 0 and result.get("status") == "success":
                metric = meta.get("metric", "accuracy")
                return {
                    "status": "ok",
                    "metric": metric,
                    "value": result[metric],
                    "samples": result["samples"],
                    "log": result["log"],
                    "attempts": attempts,
                }
            attempt["error"] = (result.get("error") or proc.stderr)[-ERROR_TAIL_CHARS:]
    return {"status": "failed", "reason": attempts[-1]["error"], "attempts": attempts}
