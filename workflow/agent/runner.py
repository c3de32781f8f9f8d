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
from workflow.environment.runtime import NETWORK_ENV
from workflow.matrix import agent_entry
from workflow.secrets import Redactor

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
    env = {k: source_env[k] for k in PASSTHROUGH_ENV + NETWORK_ENV if k in source_env}
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


def signal_name(returncode: int | None) -> str | None:
    """The signal that ended a process (negative code, or a shell's 128 + N), if any."""
    if returncode is None or not (returncode < 0 or 128 < returncode < 160):
        return None
    number = -returncode if returncode < 0 else returncode - 128
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _pump_trace(stream, trace_file, redact: Callable[[str], str]) -> None:
    for raw in stream:
        line = redact(raw.decode(errors="replace").rstrip("\n"))
        trace_file.write(json.dumps({"t": _now(), "line": line}) + "\n")
        trace_file.flush()


def _pump_log(stream, log_file, redact: Callable[[str], str]) -> None:
    """The agent's stderr, key values replaced, into the stage's log."""
    for raw in stream:
        log_file.write(redact(raw.decode(errors="replace")).encode())
        log_file.flush()


def trace_note(trace_file, event: str, **fields) -> None:
    """A line the runner itself adds to the trace (a resume, say); parsers skip it."""
    trace_file.write(json.dumps({"t": _now(), "runner": {"event": event, **fields}}) + "\n")
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


def _reap_group(pgid: int) -> None:
    """Processes the agent left behind in its group end with it (a run leaves nothing running)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class Stopped(SystemExit):
    """The job itself was told to stop (Slurm's cancel, requeue, time limit): not an agent ending.

    Uncaught, the process exits with 128 + the signal's number, as if the signal had killed it.
    """

    def __init__(self, signum: int):
        super().__init__(128 + signum)
        self.signum = signum

    def __str__(self) -> str:
        return f"the job received {signal.Signals(self.signum).name}"


def run_attempt(
    command: list[str],
    job_dir: Path,
    env: dict,
    deadline: float,
    trace,
    log,
    kill_after: float = 30,
    redact: Callable[[str], str] = str,
) -> tuple[int, bool]:
    """One invocation of the scaffold; returns (returncode, timed_out).

    A SIGTERM to the runner (Slurm cancelling, requeueing or timing out the
    job) stops the agent's group and raises Stopped.
    """
    proc = subprocess.Popen(
        command, cwd=job_dir, env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    pumps = [
        threading.Thread(target=_pump_trace, args=(proc.stdout, trace, redact), daemon=True),
        threading.Thread(target=_pump_log, args=(proc.stderr, log, redact), daemon=True),
    ]
    for pump in pumps:
        pump.start()

    def on_term(signum, frame):
        _stop_group(proc, kill_after)
        raise Stopped(signum)

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        timed_out = False
    except subprocess.TimeoutExpired:
        _stop_group(proc, kill_after)
        timed_out = True
    finally:
        signal.signal(signal.SIGTERM, previous)
        _reap_group(proc.pid)
        for pump in pumps:
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
    clock=None,
    resume: str | None = None,
    redact: Callable[[str], str] | None = None,
) -> dict:
    """Run the scaffold (and resume it when reprompting); return the run record.

    prepare_env turns the agent's variables into what the process is started
    with (a container runtime passes them on its own way). `clock`
    (workflow.agent.attempts.BudgetClock) carries the budget earlier jobs of
    this run used and persists it; `resume` is the message that continues the
    agent's own session after the job was preempted (the trace is appended to).
    On SIGTERM the clock records the run as stopped and Stopped is raised.
    """
    redact = redact or Redactor()
    start = time.monotonic()
    used_before = clock.used_before if clock else 0.0
    budget_end = start + spec.budget_seconds - used_before
    hard_end = budget_end + spec.grace_minutes * 60
    attempts = []
    with open(trace_path, "a" if resume else "w") as trace, open(log_path, "ab") as log:
        if resume:
            trace_note(trace, "resume", used_seconds=round(used_before, 1), message=resume)
        attempt_env = dict(env, PTB_RESUME_MESSAGE=resume) if resume else dict(env)
        if clock:
            clock.start()
        try:
            while True:
                rc, timed_out = run_attempt(
                    command, job_dir, prepare_env(attempt_env), hard_end, trace, log, spec.kill_after_seconds, redact
                )
                attempts.append(
                    {"returncode": rc, "timed_out": timed_out, "seconds": round(time.monotonic() - start, 1)}
                )
                left = budget_end - time.monotonic()
                # An agent that keeps stopping at once is not resumed forever.
                done = timed_out or not spec.reprompt or len(attempts) > spec.max_reprompts
                if done or left < spec.reprompt_min_minutes * 60:
                    break
                attempt_env = dict(env, PTB_RESUME_MESSAGE=resume_message(left))
        except Stopped as stop:
            if clock:
                clock.stop("stopped", stop_reason=str(stop))
            trace_note(trace, "stopped", reason=str(stop))
            raise
    used = clock.used() if clock else time.monotonic() - start
    record = {
        "status": classify_exit(rc, timed_out),
        "returncode": rc,
        "seconds": round(used, 1),
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
    killer = signal_name(rc)
    if killer:
        record["signal"] = killer
    if clock:
        record["resumes"] = list(clock.state.get("resumes") or [])
        clock.stop("complete", record=record)
    return record


def resume_message(seconds_left: float) -> str:
    minutes = int(seconds_left // 60)
    return (
        f"You stopped, but {minutes // 60} h {minutes % 60:02d} min of your budget remain. "
        "Keep improving final_model/ under the same rules; check timer.sh."
    )


def preemption_message(seconds_left: float) -> str:
    """What a resumed agent is told after its job was stopped and restarted by the cluster."""
    minutes = int(max(0.0, seconds_left) // 60)
    return (
        "The cluster stopped this job and started it again; your session continues. Processes you had "
        f"running were stopped; files you wrote are still there. {minutes // 60} h {minutes % 60:02d} min of "
        "your budget remain (timer.sh is up to date). Keep improving final_model/ under the same rules."
    )
