"""Checks before work starts: one line per problem, naming what is missing and where.

`submit_problems` runs in the submitting Snakemake process before any job is
submitted (rules/common.smk): the keys of the enabled agents, of the graders
and of the judge, a `model` for every agent that drives a provider's model, a
Slurm runtime that covers budget + grace, and the container runtime.
`job_problems` runs at the start of an agent job, before its clock starts:
free disk for the job folder and, for a contained agent, /dev/fuse and
fuse-overlayfs (the cache overlay). The GPU check (workflow.agent.gpu_checks)
follows inside the agent's sandbox.
"""

import os
import shutil
import stat
from collections.abc import Callable, Mapping
from pathlib import Path

from workflow.environment.runtime import runtime_problem
from workflow.matrix import agent_entry, enabled_agents
from workflow.resources import agent_runtime_minutes, placement
from workflow.secrets import DEFAULT_GRADER, agent_keys, grader_keys, judge_keys, scaffold_keys

FUSE_DEVICE = Path("/dev/fuse")
SANDBOXED = ("bwrap", "apptainer")
NOT_SET = "which is not set where snakemake runs"


def _missing(names: list[str], environ: Mapping[str, str]) -> list[str]:
    return [n for n in names if not environ.get(n)]


def key_problems(config: dict, environ: Mapping[str, str]) -> list[str]:
    problems = []
    for name in enabled_agents(config):
        entry = agent_entry(config, name)
        for key in _missing(agent_keys(config, name), environ):
            line = f"agents.{entry['agent']}: scaffold {entry['scaffold']} needs {key}, {NOT_SET}"
            if line not in problems:  # an agent with several budgets is one config entry
                problems.append(line)
    grader = config.get("evaluation", {}).get("judge_model") or DEFAULT_GRADER
    for bench in config["benchmarks"]:
        for key in _missing(grader_keys(config, bench), environ):
            problems.append(f"benchmarks.{bench}: its grader {grader} (evaluation.judge_model) needs {key}, {NOT_SET}")
    for key in _missing(judge_keys(config), environ):
        problems.append(f"judge.model: {config['judge']['model']} needs {key}, {NOT_SET}")
    return problems


def model_problems(config: dict) -> list[str]:
    """An agent whose scaffold takes a provider key drives that provider's model: it must name one."""
    problems = []
    for name in enabled_agents(config):
        entry = agent_entry(config, name)
        if scaffold_keys(entry["scaffold"]) and not entry.get("model"):
            problems.append(
                f"agents.{entry['agent']}.model: scaffold {entry['scaffold']} drives a provider's model; "
                "name it (e.g. model: claude-opus-4-6)"
            )
    return sorted(set(problems), key=problems.index)


def runtime_minutes_problems(config: dict) -> list[str]:
    problems = []
    for name in enabled_agents(config):
        needed = agent_entry(config, name)["hours"] * 60 + config["grace_minutes"]
        got = agent_runtime_minutes(config, name)
        if got < needed:
            problems.append(
                f"agents.{agent_entry(config, name)['agent']}.slurm.runtime_minutes: {got} min is less than the "
                f"budget + grace of {name} ({needed:g} min); Slurm would stop the agent before its budget ends"
            )
    return problems


def network_problems(config: dict) -> list[str]:
    """A contained agent without internet cannot reach its provider's API."""
    if config.get("agent_internet", True) or config["container"]["runtime"] not in SANDBOXED:
        return []
    return [
        f"agents.{name}: it needs its provider's API, but agent_internet is false and "
        f"container.runtime {config['container']['runtime']} gives the agent no network"
        for name in enabled_agents(config)
        if agent_keys(config, name)
    ]


def submit_problems(config: dict, environ: Mapping[str, str] = os.environ, which=shutil.which) -> list[str]:
    """Everything that would make jobs fail for a reason known before submitting them."""
    problems = []
    runtime = runtime_problem(config, which=which)
    if runtime:
        problems.append(runtime)
    problems += key_problems(config, environ)
    problems += model_problems(config)
    problems += runtime_minutes_problems(config)
    problems += network_problems(config)
    return problems


def submit_warnings(config: dict) -> list[str]:
    """agent_internet: false that nothing enforces: CLI agents under runtime none keep the network."""
    if config.get("agent_internet", True) or config["container"]["runtime"] != "none":
        return []
    online = [agent_entry(config, n)["agent"] for n in enabled_agents(config) if agent_keys(config, n)]
    if not online:
        return []  # offline agents (the embedded default): nothing to cut
    return [
        f"agent_internet is false but container.runtime none cannot cut the network of {', '.join(online)}: "
        "they only get the hub's offline variables (use bwrap or apptainer for no network)"
    ]


def _is_char_device(path: Path) -> bool:
    try:
        return stat.S_ISCHR(path.stat().st_mode)
    except OSError:
        return False


def job_problems(
    config: dict,
    agent: str,
    job_dir: Path,
    which: Callable[[str], str | None] = shutil.which,
    fuse_device: Path = FUSE_DEVICE,
    free_bytes: Callable[[Path], int] | None = None,
) -> list[str]:
    """What the node an agent job landed on lacks, before the agent's clock starts."""
    problems = []
    runtime = config["container"]["runtime"]
    if runtime in SANDBOXED:
        if not _is_char_device(fuse_device):
            problems.append(f"{fuse_device} is missing on {os.uname().nodename}: the cache overlay needs FUSE")
        if not which("fuse-overlayfs"):
            problems.append(f"fuse-overlayfs is not on PATH on {os.uname().nodename} (container.runtime {runtime})")
    need_gb = float(placement(config, "agent", agent)["disk_gb"])
    folder = Path(job_dir)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    free = (free_bytes or (lambda p: shutil.disk_usage(p).free))(folder)
    if free < need_gb * 2**30:
        problems.append(
            f"{folder} has {free / 2**30:.1f} GB free, less than the agent's disk_gb "
            f"({need_gb:g} GB, slurm.agent / agents.{agent}.slurm)"
        )
    return problems


class PreflightError(RuntimeError):
    """The job cannot start on this node; the message lists each problem on its own line."""


def raise_problems(problems: list[str], where: str) -> None:
    if problems:
        raise PreflightError(f"{where}:\n  " + "\n  ".join(problems))
