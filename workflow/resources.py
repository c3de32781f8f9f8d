"""Slurm resources for each stage, derived from the config's `slurm` section.

The profile never needs editing: partitions, account, QoS, GPU model and
constraints all come from config. What may differ between agents (GPUs,
runtime, an agent's own `slurm:` overrides) is a function of the job's
wildcards, as Snakemake allows.
"""

import math

from workflow.matrix import agent_entry, agent_runs

# Minutes added to the agent's budget + grace for job set-up and tear-down
# (copying the handout, GPU checks, writing records).
AGENT_SETUP_MINUTES = 10
DEFAULT_PLACEMENT = {"cpus": 4, "mem_gb": 16, "disk_gb": 50, "runtime_minutes": 120}


def placement(config: dict, stage: str, agent: str | None = None) -> dict:
    """The stage's placement: defaults, then config's slurm.<stage>, then the agent's own slurm: entry."""
    own = agent_entry(config, agent).get("slurm", {}) if agent else {}
    return {**DEFAULT_PLACEMENT, **config.get("slurm", {}).get(stage, {}), **own}


def _common(config: dict, place: dict) -> dict:
    slurm = config.get("slurm", {})
    res = {
        "cpus_per_task": place["cpus"],
        "mem_mb": int(place["mem_gb"] * 1024),
        "disk_mb": int(place["disk_gb"] * 1024),
        "runtime": place["runtime_minutes"],
    }
    optional = {
        "slurm_partition": place.get("partition"),
        "slurm_account": slurm.get("account"),
        "qos": slurm.get("qos"),
        "constraint": place.get("constraint"),
        "gpu_model": place.get("gpu_model"),
    }
    res.update({k: v for k, v in optional.items() if v})
    return res


def agent_runtime_minutes(config: dict, agent: str) -> int:
    """Budget + grace + set-up, unless the agent's slurm: entry caps it."""
    entry = agent_entry(config, agent)
    own = entry.get("slurm", {}).get("runtime_minutes")
    if own:
        return own
    hours = entry["hours"]
    return math.ceil(hours * 60 + config["grace_minutes"] + AGENT_SETUP_MINUTES)


def agent_job_resources(config: dict, agent: str) -> dict:
    res = _common(config, placement(config, "agent", agent))
    res["runtime"] = agent_runtime_minutes(config, agent)
    res["gpu"] = agent_entry(config, agent).get("num_gpus", 1)
    if not res["gpu"]:
        res.pop("gpu_model", None)
    return res


def agent_resources(config: dict) -> dict:
    """Resources of rule run_agent: one callable per key, looked up by the job's agent."""
    per_agent = {name: agent_job_resources(config, name) for name in agent_runs(config)}
    keys = {k for res in per_agent.values() for k in res}
    # A key one agent lacks becomes "" (or 0) for it, which the Slurm executor skips.
    blank = {"cpus_per_task": 1, "mem_mb": 0, "disk_mb": 0, "runtime": 0, "gpu": 0}
    resources = {}
    for key in sorted(keys):
        values = {name: res.get(key, blank.get(key, "")) for name, res in per_agent.items()}
        # A value all agents share is a constant: per-job callables slow planning of large matrices.
        if len(set(values.values())) == 1:
            resources[key] = next(iter(values.values()))
        else:
            resources[key] = lambda wc, values=values: values[wc.agent]
    return resources


def evaluate_resources(config: dict) -> dict:
    place = placement(config, "evaluate")
    res = _common(config, place)
    # vLLM needs a GPU; the hf backend (the embedded default) runs on the CPU.
    res["gpu"] = place.get("gpus", 1 if config["evaluation"]["backend"] == "vllm" else 0)
    if not res["gpu"]:
        res.pop("gpu_model", None)
    return res


def baseline_resources(config: dict) -> dict:
    """A baselines job evaluates every benchmark in turn on one server: the evaluation
    placement, with its runtime once per benchmark."""
    res = evaluate_resources(config)
    res["runtime"] = placement(config, "evaluate")["runtime_minutes"] * max(1, len(config["benchmarks"]))
    return res


def cpu_resources(config: dict) -> dict:
    res = _common(config, placement(config, "cpu"))
    res.pop("gpu_model", None)
    return res
