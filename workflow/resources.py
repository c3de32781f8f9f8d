"""Slurm resources for each stage, derived from the config's `slurm` section.

The profile never needs editing: partitions, account, QoS, GPU model and
constraints all come from config. Values that depend on the agent (GPUs,
runtime) are functions of the job's wildcards, as Snakemake allows.
"""

import math

# Minutes added to the agent's budget + grace for job set-up and tear-down
# (copying the handout, GPU checks, writing records).
AGENT_SETUP_MINUTES = 10
DEFAULT_PLACEMENT = {"cpus": 4, "mem_gb": 16, "disk_gb": 50, "runtime_minutes": 120}


def _placement(config: dict, stage: str) -> dict:
    slurm = config.get("slurm", {})
    place = {**DEFAULT_PLACEMENT, **slurm.get(stage, {})}
    res = {
        "cpus_per_task": place["cpus"],
        "mem_mb": int(place["mem_gb"] * 1024),
        "disk_mb": int(place["disk_gb"] * 1024),
        "runtime": place["runtime_minutes"],
    }
    optional = {
        "slurm_partition": place.get("partition"),
        "slurm_account": slurm.get("account"),
        "constraint": place.get("constraint"),
        "slurm_extra": f"'--qos={slurm['qos']}'" if slurm.get("qos") else None,
    }
    res.update({k: v for k, v in optional.items() if v})
    return res


def agent_runtime_minutes(config: dict, agent: str) -> int:
    hours = config["agents"][agent].get("hours", config["hours"])
    return math.ceil(hours * 60 + config["grace_minutes"] + AGENT_SETUP_MINUTES)


def agent_gpus(config: dict, agent: str) -> int:
    return config["agents"][agent].get("num_gpus", 1)


def agent_resources(config: dict) -> dict:
    res = _placement(config, "agent")
    res["runtime"] = lambda wc: agent_runtime_minutes(config, wc.agent)
    res["gpu"] = lambda wc: agent_gpus(config, wc.agent)
    model = config.get("slurm", {}).get("agent", {}).get("gpu_model")
    if model:
        res["gpu_model"] = model
    return res


def evaluate_resources(config: dict) -> dict:
    res = _placement(config, "evaluate")
    # The embedded default evaluates on the CPU; anything else gets one GPU.
    res["gpu"] = 1 if config["evaluation"]["backend"] == "vllm" else 0
    model = config.get("slurm", {}).get("evaluate", {}).get("gpu_model")
    if model and res["gpu"]:
        res["gpu_model"] = model
    return res


def cpu_resources(config: dict) -> dict:
    return _placement(config, "cpu")
