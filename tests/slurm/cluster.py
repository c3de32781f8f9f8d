"""A real single-node Slurm cluster for tests, as a session-scoped fixture.

tests/conftest.py provides it to every test, and brings it up before the first.

The cluster is provisioned by ``scripts/slurm-test-cluster.sh`` (installs the
Debian packages if needed, writes /etc/slurm, starts the daemons) and torn
down at the end of the session. It needs root; it is skipped only when not
root or when ``PTB_NO_SLURM=1``. Anything else that goes wrong is a failure,
so CI cannot silently skip it.

Environment:
  PTB_NO_SLURM=1          skip every test using the fixture
  PTB_SLURM_ACCOUNTING=0  no MariaDB/slurmdbd (faster up; sacct unavailable)
  PTB_SLURM_REUSE=1       reuse a cluster that is already up and leave it up
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "scripts" / "slurm-test-cluster.sh"

# States after which a job will not run again (unless requeued by hand).
FINAL_STATES = frozenset(
    {
        "BOOT_FAIL",
        "CANCELLED",
        "COMPLETED",
        "DEADLINE",
        "FAILED",
        "NODE_FAIL",
        "OUT_OF_MEMORY",
        "PREEMPTED",
        "TIMEOUT",
    }
)

# Set while a copy of the fixture owns the cluster in this process, so a
# second import of this module (e.g. under another module name) reuses the
# cluster instead of restarting it under running tests.
_OWNER_ENV = "_PTB_SLURM_FIXTURE_OWNER"

T = TypeVar("T")


def skip_reason() -> str | None:
    """Why the Slurm tests cannot run here, or None if they must run."""
    if os.environ.get("PTB_NO_SLURM") == "1":
        return "PTB_NO_SLURM=1 is set"
    if os.geteuid() != 0:
        return "a throwaway Slurm cluster needs root (slurmctld/slurmd, /etc/slurm)"
    return None


def run_script(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run slurm-test-cluster.sh; its output goes to pytest's captured log."""
    proc = subprocess.run(
        [str(SCRIPT), *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )
    print(proc.stdout, end="")
    return proc


@dataclass(frozen=True)
class SlurmCluster:
    """What a test needs to know about the running cluster, plus helpers."""

    node: str
    partitions: tuple[str, ...]
    default_partition: str
    accounting: bool
    state_dir: Path
    cpu_partition: str = "cpu"
    gpu_partition: str = "gpu"
    gpus: int = 2

    # --- raw commands -----------------------------------------------------

    def run(self, *argv: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run a Slurm command; raise with its output if it fails and check."""
        proc = subprocess.run(
            list(argv),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise RuntimeError(
                f"{' '.join(argv)} exited {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
            )
        return proc

    def sbatch(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run("sbatch", *args, check=check)

    def squeue(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run("squeue", *args, check=check)

    def scontrol(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run("scontrol", *args, check=check)

    def scancel(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run("scancel", *args, check=check)

    def sacct(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        if not self.accounting:
            raise RuntimeError("sacct needs the cluster up with accounting (PTB_SLURM_ACCOUNTING)")
        return self.run("sacct", *args, check=check)

    # --- jobs -------------------------------------------------------------

    def submit(
        self,
        *sbatch_args: str,
        wrap: str | None = None,
        script: str | Path | None = None,
    ) -> str:
        """sbatch a job (``wrap`` command or ``script`` file); return its id."""
        args = ["--parsable", *sbatch_args]
        if wrap is not None:
            args += ["--wrap", wrap]
        elif script is not None:
            args.append(str(script))
        out = self.sbatch(*args).stdout.strip()
        return out.split(";", 1)[0]  # --parsable prints "id[;cluster]"

    def job_info(self, job_id: str) -> dict[str, str]:
        """``scontrol show job`` as a dict; empty once the job is purged."""
        proc = self.scontrol("show", "job", "--oneliner", job_id, check=False)
        if proc.returncode != 0:
            return {}
        return dict(re.findall(r"(\w+)=(\S*)", proc.stdout))

    def job_state(self, job_id: str) -> str | None:
        """Current state (e.g. RUNNING, CANCELLED); None if Slurm forgot it."""
        return self.job_info(job_id).get("JobState")

    def sacct_state(self, job_id: str) -> str | None:
        """State of the job's allocation as accounting reports it."""
        out = self.sacct("-j", job_id, "-X", "-n", "-P", "-o", "State").stdout.split()
        return out[0] if out else None  # e.g. "CANCELLED", not "CANCELLED by 0"

    def wait_for_state(self, job_id: str, states: Sequence[str | None], timeout: float = 60) -> str | None:
        """Wait until the job is in one of ``states`` (None = gone); return it."""
        return self.wait_until(
            lambda: (s,) if (s := self.job_state(job_id)) in states else None,
            timeout,
            f"job {job_id} to reach {list(states)}",
            describe=lambda: f"last state {self.job_state(job_id)}",
        )[0]

    def wait_until(
        self,
        probe: Callable[[], T | None],
        timeout: float = 60,
        what: str = "condition",
        *,
        interval: float = 0.2,
        describe: Callable[[], str] | None = None,
    ) -> T:
        """Poll ``probe`` until it returns something other than None."""
        deadline = time.monotonic() + timeout
        while True:
            result = probe()
            if result is not None:
                return result
            if time.monotonic() > deadline:
                detail = f" ({describe()})" if describe else ""
                raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}{detail}")
            time.sleep(interval)


def describe_cluster(accounting: bool) -> SlurmCluster:
    """Read partitions and node from the live cluster (sinfo is the truth)."""
    proc = subprocess.run(["sinfo", "-h", "-o", "%P %N"], capture_output=True, text=True, check=True, timeout=30)
    partitions: list[str] = []
    default = ""
    node = ""
    for line in proc.stdout.splitlines():
        name, node = line.split()
        if name.endswith("*"):
            name = name[:-1]
            default = name
        partitions.append(name)
    state_dir = Path("/var/tmp/ptb-slurm-test")
    marker = Path("/etc/slurm/ptb-test-cluster.env")
    if marker.exists():
        for line in marker.read_text().splitlines():
            if line.startswith("STATE_DIR="):
                state_dir = Path(line.split("=", 1)[1])
    return SlurmCluster(
        node=node,
        partitions=tuple(partitions),
        default_partition=default,
        accounting=accounting,
        state_dir=state_dir,
    )


def _accounting_running() -> bool:
    return "slurmdbd running" in run_script("status").stdout


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[SlurmCluster]:
    """A running single-node Slurm cluster (partitions cpu, gpu; 2 fake GPUs)."""
    reason = skip_reason()
    if reason:
        pytest.skip(f"Slurm cluster tests skipped: {reason}")

    accounting = os.environ.get("PTB_SLURM_ACCOUNTING", "1") != "0"
    flags = ["--accounting"] if accounting else []

    # Another copy of this fixture in this process already owns the cluster.
    if os.environ.get(_OWNER_ENV) == str(os.getpid()):
        yield describe_cluster(_accounting_running())
        return

    if os.environ.get("PTB_SLURM_REUSE") == "1" and run_script("status").returncode == 0:
        yield describe_cluster(_accounting_running())
        return

    proc = run_script("install", *flags)
    if proc.returncode != 0:
        pytest.fail(f"slurm-test-cluster.sh install failed:\n{proc.stdout}", pytrace=False)
    # `up` tears down whatever an earlier (possibly crashed) run left behind.
    proc = run_script("up", *flags)
    if proc.returncode != 0:
        pytest.fail(f"slurm-test-cluster.sh up failed:\n{proc.stdout}", pytrace=False)

    os.environ[_OWNER_ENV] = str(os.getpid())
    try:
        yield describe_cluster(accounting)
    finally:
        os.environ.pop(_OWNER_ENV, None)
        run_script("down", timeout=120)
