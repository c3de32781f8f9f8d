"""Run one agent on one cell under a hard budget, and record what happened.

The agent's scaffold (agents/<scaffold>/solve.sh) runs in its job directory
as its own process group. At budget + grace it gets SIGTERM, then SIGKILL.
Its stdout (the CLI's JSON trace) is stored line by line with a timestamp.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import yaml

from workflow.config import REPO
from workflow.matrix import agent_entry

AGENTS = REPO / "agents"
# Variables every agent may see; anything else (keys above all) is opt-in.
PASSTHROUGH_ENV = ("PATH", "LANG", "LC_ALL", "TZ", "TERM", "CUDA_VISIBLE_DEVICES", "SLURM_JOB_ID")


@dataclass
class AgentSpec:
    name: str
    scaffold: str
    model: str | None
    hours: float
    grace_minutes: float
    num_gpus: int
    args: list[str] = field(default_factory=list)
    reprompt: bool = False
    reprompt_min_minutes: float = 30
    max_reprompts: int = 10
    kill_after_seconds: float = 30

    @property
    def budget_seconds(self) -> float:
        return self.hours * 3600

    @property
    def limit_seconds(self) -> float:
        return self.budget_seconds + self.grace_minutes * 60


def agent_spec(config: dict, name: str) -> AgentSpec:
    a = agent_entry(config, name)  # one budget of an agent that lists several
    return AgentSpec(
        name=name,
        scaffold=a["scaffold"],
        model=a.get("model"),
        hours=a.get("hours", config["hours"]),
        grace_minutes=config["grace_minutes"],
        num_gpus=a.get("num_gpus", 1),
        args=list(a.get("args", [])),
        reprompt=a.get("reprompt", False),
        reprompt_min_minutes=a.get("reprompt_min_minutes", 30),
        max_reprompts=a.get("max_reprompts", 10),
        kill_after_seconds=config.get("kill_after_seconds", 30),
    )


def scaffold_meta(scaffold: str) -> dict:
    """Which variables a scaffold takes from the environment (agents/<scaffold>/scaffold.yaml)."""
    meta = AGENTS / scaffold / "scaffold.yaml"
    data = yaml.safe_load(meta.read_text()) if meta.exists() else {}
    return {"keys": list(data.get("keys") or []), "env": list(data.get("env") or [])}


def agent_env(spec: AgentSpec, job_dir: Path, hf_home: str, internet: bool, source_env=os.environ) -> dict:
    """A clean environment: only the agent's own provider key is passed in."""
    env = {k: source_env[k] for k in PASSTHROUGH_ENV if k in source_env}
    # The agent's `python` is the one this pipeline runs with (runtime none).
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '/usr/bin:/bin')}"
    env.update(
        HOME=str(job_dir),
        HF_HOME=str(Path(hf_home).resolve()),
        PYTHONNOUSERSITE="1",
        PTB_AGENT_NAME=spec.name,
        PTB_AGENT_MODEL=spec.model or "",
        PTB_AGENT_ARGS=" ".join(spec.args),
        PTB_PROMPT_FILE=str(job_dir / "prompt.md"),
        PTB_NUM_GPUS=str(spec.num_gpus),
        PTB_CLI_BIN=str(AGENTS / "cli" / "node_modules" / ".bin"),
    )
    if not internet:
        env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    meta = scaffold_meta(spec.scaffold)
    for name in meta["keys"] + meta["env"]:
        if name in source_env:
            env[name] = source_env[name]
    return env


def classify_exit(returncode: int, timed_out: bool) -> str:
    """finished | crashed | timeout | killed (by a signal we did not send)."""
    if timed_out:
        return "timeout"
    if returncode == 0:
        return "finished"
    if returncode < 0 or returncode > 128:
        return "killed"
    return "crashed"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _pump_trace(stream, trace_file) -> None:
    for raw in stream:
        line = raw.decode(errors="replace").rstrip("\n")
        trace_file.write(json.dumps({"t": _now(), "line": line}) + "\n")
        trace_file.flush()


def _stop_group(proc: subprocess.Popen, kill_after: float) -> None:
    """SIGTERM the agent's whole process group, SIGKILL what is left after kill_after seconds."""
    for sig, wait in ((signal.SIGTERM, kill_after), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def run_attempt(
    command: list[str], job_dir: Path, env: dict, deadline: float, trace, log, kill_after: float = 30
) -> tuple[int, bool]:
    """One invocation of the scaffold; returns (returncode, timed_out)."""
    proc = subprocess.Popen(
        command, cwd=job_dir, env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=log, start_new_session=True,
    )  # fmt: skip
    pump = threading.Thread(target=_pump_trace, args=(proc.stdout, trace), daemon=True)
    pump.start()
    # Slurm's cancel or preemption sends us SIGTERM: pass it on to the agent first.
    previous = signal.signal(signal.SIGTERM, lambda *_: _stop_group(proc, kill_after) or sys.exit(143))
    try:
        proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        timed_out = False
    except subprocess.TimeoutExpired:
        _stop_group(proc, kill_after)
        timed_out = True
    finally:
        signal.signal(signal.SIGTERM, previous)
    pump.join(timeout=10)
    return proc.returncode, timed_out


def run_agent(
    spec: AgentSpec,
    command: list[str],
    job_dir: Path,
    env: dict,
    trace_path: Path,
    log_path: Path,
    prepare_env: Callable[[dict], dict] = dict,
) -> dict:
    """Run the scaffold (and resume it when reprompting); return the run record.

    prepare_env turns the agent's variables into what the process is started
    with (a container runtime passes them on its own way).
    """
    start = time.monotonic()
    budget_end = start + spec.budget_seconds
    hard_end = start + spec.limit_seconds
    attempts = []
    with open(trace_path, "w") as trace, open(log_path, "ab") as log:
        attempt_env = dict(env)
        while True:
            rc, timed_out = run_attempt(
                command, job_dir, prepare_env(attempt_env), hard_end, trace, log, spec.kill_after_seconds
            )
            attempts.append({"returncode": rc, "timed_out": timed_out, "seconds": round(time.monotonic() - start, 1)})
            left = budget_end - time.monotonic()
            # An agent that keeps stopping at once is not resumed forever.
            done = timed_out or not spec.reprompt or len(attempts) > spec.max_reprompts
            if done or left < spec.reprompt_min_minutes * 60:
                break
            attempt_env = dict(env, PTB_RESUME_MESSAGE=resume_message(left))
    return {
        "status": classify_exit(rc, timed_out),
        "returncode": rc,
        "seconds": round(time.monotonic() - start, 1),
        "budget_seconds": spec.budget_seconds,
        "limit_seconds": spec.limit_seconds,
        "attempts": attempts,
        "reprompts": len(attempts) - 1,
        "mode": "reprompted" if spec.reprompt else "autonomous",
        "final_model": (job_dir / "final_model" / "config.json").exists(),
        "agent": spec.name,
        "scaffold": spec.scaffold,
        "agent_model": spec.model,
    }


def resume_message(seconds_left: float) -> str:
    minutes = int(seconds_left // 60)
    return (
        f"You stopped, but {minutes // 60} h {minutes % 60:02d} min of your budget remain. "
        "Keep improving final_model/ under the same rules; check timer.sh."
    )
