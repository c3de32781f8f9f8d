"""An agent cell's runs across jobs: nothing computed is lost, a preempted run resumes.

The cell folder holds, beside the declared run.json, a small state file
(`agent_state.json`) that the runner keeps current while the agent works:
which job owns the run, the budget it has used so far (persisted every few
seconds and when the job is stopped), and once the agent has ended, its
record. `job/` is not a declared output, so Snakemake never deletes it.

When an agent job starts, `plan_start` reads that state and decides:

fresh      nothing there yet: a new run.
resume     the same Slurm job, requeued (preemption, `scontrol requeue`), or
           an earlier job still holding the run after its Snakemake was
           killed (it is stopped first): the agent's own session goes on with
           the budget that remains; folder and trace are kept.
republish  the agent already ended (its job's Snakemake never saw it):
           run.json is written again from the record, the agent is not rerun.
           To run a cell's agent again on purpose, delete its agent_state.json.
retire     an earlier job died mid-run (cancelled, killed, out of time, node
           lost): its folder and trace move to attempts/<n>/ with a note of
           what happened, and a fresh run starts.
"""

import json
import os
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from workflow.paths import AGENT_STATE, HANDOUT, JOB_DIR, MONITOR, TRACE
from workflow.records import write_json

ATTEMPTS = "attempts"
ATTEMPT_NOTE = "attempt.json"
OVERLAY_UPPER = Path("hf_overlay") / "upper"  # the agent's writes to the shared cache (workflow.agent.sandbox)
# What belongs to one attempt, besides the job folder (the rule's log stays: it is appended to).
ATTEMPT_FILES = (JOB_DIR, TRACE, MONITOR, HANDOUT, AGENT_STATE)
HEARTBEAT_SECONDS = 10
# Slurm states in which a job still holds (or will again hold) the run.
LIVE_STATES = ("RUNNING", "PENDING", "REQUEUED", "CONFIGURING", "COMPLETING", "SUSPENDED", "REQUEUE_HOLD", "RESIZING")
TAKE_OVER_WAIT_SECONDS = 180

FRESH, RESUME, REPUBLISH, RETIRE = "fresh", "resume", "republish", "retire"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def read_state(cell: Path) -> dict | None:
    try:
        return json.loads((Path(cell) / AGENT_STATE).read_text())
    except (OSError, json.JSONDecodeError):
        return None


def write_state(cell: Path, state: dict) -> None:
    write_json(Path(cell) / AGENT_STATE, state | {"updated": now_iso()})


@dataclass(frozen=True)
class Owner:
    """The job this runner runs in: a Slurm job, or a process when no Slurm is involved."""

    slurm_job_id: str | None
    restarts: int
    host: str
    pid: int

    def as_dict(self) -> dict:
        return {"slurm_job_id": self.slurm_job_id, "restarts": self.restarts, "host": self.host, "pid": self.pid}


def current_owner(environ=os.environ) -> Owner:
    """This job. Its restart count comes from Slurm: the jobstep executor strips SLURM_RESTART_COUNT."""
    from workflow.slurm_logs import job_fields

    job_id = environ.get("SLURM_JOB_ID") or None
    restarts = job_fields(job_id).get("Restarts") or environ.get("SLURM_RESTART_COUNT") or 0
    return Owner(slurm_job_id=job_id, restarts=int(restarts), host=os.uname().nodename, pid=os.getpid())


@dataclass(frozen=True)
class JobLook:
    """What Slurm says about an earlier owner: its state and whether it is a job of this cell."""

    state: str | None  # None: Slurm no longer knows it
    same_cell: bool


def slurm_look(job_id: str, comment: str, workdir: Path) -> JobLook:
    """scontrol's view of job_id; `same_cell` only if its comment and working directory match ours."""
    from workflow.slurm_logs import job_fields

    fields = job_fields(job_id)
    if not fields:
        return JobLook(None, False)
    same = fields.get("Comment") == comment and Path(fields.get("WorkDir", "/nonexistent")).resolve() == workdir
    return JobLook(fields.get("JobState"), same)


@dataclass(frozen=True)
class Plan:
    action: str  # FRESH | RESUME | REPUBLISH | RETIRE
    reason: str
    state: dict | None = None
    take_over: str | None = None  # an earlier Slurm job to stop before resuming
    stop_pid: int | None = None  # or an earlier runner process (no Slurm)
    discard_handout: bool = False  # job/ holds only what was handed out: nothing was computed in it


def plan_start(cell: Path, me: Owner, look: Callable[[str], JobLook]) -> Plan:
    """What this job does with the cell, from its state file and the earlier owner's fate."""
    cell = Path(cell)
    state = read_state(cell)
    has_job = (cell / JOB_DIR).is_dir()
    if state is None:
        if has_job:
            return Plan(RETIRE, "an earlier run left job/ without a state file")
        return Plan(FRESH, "first run")
    if state.get("status") == "complete" and state.get("record") and has_job:
        return Plan(REPUBLISH, f"the agent already ended ({state['record'].get('status')})", state)
    if not has_job:
        return Plan(RETIRE, "job/ is missing: the state file alone is kept", state)
    if state.get("status") == "starting" and not state.get("used_seconds") and not state.get("resumes"):
        # The earlier job stopped in its checks (GPU, disk), before the agent's clock started.
        return Plan(FRESH, "the earlier job stopped before the agent started", state, discard_handout=True)
    owner = state.get("owner") or {}
    if state.get("status") not in ("starting", "running", "stopped"):
        return Plan(RETIRE, f"earlier run in state {state.get('status')!r}", state)
    if me.slurm_job_id and owner.get("slurm_job_id") == me.slurm_job_id:
        return Plan(RESUME, f"Slurm requeued job {me.slurm_job_id} (restart {me.restarts})", state)
    if owner.get("slurm_job_id"):
        seen = look(owner["slurm_job_id"])
        if seen.same_cell and seen.state in LIVE_STATES:
            return Plan(
                RESUME,
                f"Slurm job {owner['slurm_job_id']} still ran this agent ({seen.state}); it is stopped and taken over",
                state,
                take_over=owner["slurm_job_id"],
            )
        ended = seen.state if seen.same_cell and seen.state else "gone"
        return Plan(RETIRE, f"Slurm job {owner['slurm_job_id']} ended mid-run ({ended})", state)
    if owner.get("host") == me.host and owner.get("pid") and _alive(owner["pid"]) and owner.get("pid") != me.pid:
        reason = f"process {owner['pid']} still ran this agent; it is stopped and taken over"
        return Plan(RESUME, reason, state, stop_pid=owner["pid"])
    return Plan(RETIRE, "the earlier run's process ended mid-run", state)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def stop_earlier_owner(plan: Plan, cell: Path, cancel=None, look=None, wait: float = TAKE_OVER_WAIT_SECONDS) -> dict:
    """Stop the job that still runs this cell's agent; return the state it persisted on its way out."""
    deadline = time.monotonic() + wait
    if plan.take_over:
        (cancel or (lambda j: subprocess.run(["scancel", j], capture_output=True)))(plan.take_over)
        while time.monotonic() < deadline and (look(plan.take_over).state in LIVE_STATES):
            time.sleep(1)
    elif plan.stop_pid:
        try:
            os.kill(plan.stop_pid, 15)
        except ProcessLookupError:
            pass
        while time.monotonic() < deadline and _alive(plan.stop_pid):
            time.sleep(0.5)
    return read_state(cell) or plan.state or {}


def retire(cell: Path, reason: str) -> Path:
    """Move the earlier attempt's files to attempts/<n>/, with a note; return that folder."""
    cell = Path(cell)
    root = cell / ATTEMPTS
    root.mkdir(exist_ok=True)
    n = 1 + max((int(p.name) for p in root.iterdir() if p.name.isdigit()), default=0)
    dest = root / str(n)
    dest.mkdir()
    moved = []
    for name in ATTEMPT_FILES:
        if (cell / name).exists():
            os.replace(cell / name, dest / name)
            moved.append(name)
    upper = cell / OVERLAY_UPPER
    if upper.is_dir():
        os.replace(upper, dest / "hf_overlay_upper")
        moved.append("hf_overlay_upper")
    slurm_links = sorted(cell.glob("slurm-agent-*.log"))
    for link in slurm_links:
        os.replace(link, dest / link.name)
        moved.append(link.name)
    write_json(dest / ATTEMPT_NOTE, {"reason": reason, "moved": moved, "retired": now_iso()})
    return dest


def attempt_folders(cell: Path) -> list[Path]:
    root = Path(cell) / ATTEMPTS
    if not root.is_dir():
        return []
    return sorted((p for p in root.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))


class BudgetClock:
    """The agent's budget across jobs: time used so far, persisted while the agent runs.

    `used_before` is what earlier jobs of this run used; the clock adds this
    job's time from `start()`. The state file is rewritten every
    HEARTBEAT_SECONDS (a SIGKILL loses at most that much) and by `stop()`.
    """

    def __init__(self, cell: Path, state: dict, interval: float = HEARTBEAT_SECONDS):
        self.cell, self.state, self.interval = Path(cell), dict(state), interval
        self.used_before = float(state.get("used_seconds", 0.0))
        self._started: float | None = None
        self._lock = threading.Lock()
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True)

    def used(self) -> float:
        if self._started is None:
            return self.used_before
        return self.used_before + (time.monotonic() - self._started)

    def start(self) -> None:
        self._started = time.monotonic()
        self.persist("running")
        self._thread.start()

    def persist(self, status: str, **extra) -> None:
        with self._lock:
            self.state.update(status=status, used_seconds=round(self.used(), 1), **extra)
            write_state(self.cell, self.state)

    def stop(self, status: str, **extra) -> None:
        self._halt.set()
        self.persist(status, **extra)

    def _beat(self) -> None:
        while not self._halt.wait(self.interval):
            self.persist(self.state.get("status", "running"))


def new_state(me: Owner, budget_seconds: float) -> dict:
    return {
        "owner": me.as_dict(),
        "status": "starting",
        "budget_seconds": budget_seconds,
        "used_seconds": 0.0,
        "started": now_iso(),
        "resumes": [],
    }


def resumed_state(state: dict, me: Owner, reason: str) -> dict:
    """The state a resuming job continues from: it owns the run now; the resume is noted."""
    resumes = list(state.get("resumes") or [])
    resumes.append({"at": now_iso(), "reason": reason, "used_seconds": state.get("used_seconds", 0.0)})
    return dict(state, owner=me.as_dict(), status="starting", resumes=resumes)
