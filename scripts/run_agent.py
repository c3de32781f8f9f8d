"""Snakemake script: prepare the job directory and run one agent cell."""

import sys
import time
from pathlib import Path

from workflow.agent.credentials import credential_source, installed_credential
from workflow.agent.gpu_checks import SystemMonitor, check_gpus
from workflow.agent.handout import render_prompt, write_job_dir
from workflow.agent.keeper import keep_deleted_files
from workflow.agent.runner import AGENTS, agent_env, agent_spec, run_agent
from workflow.agent.sandbox import sandbox_session
from workflow.agent.traces import usage_record
from workflow.environment.agent_cache import agent_cache_dir
from workflow.matrix import agent_entry
from workflow.models import model_of
from workflow.paths import AGENT_TMP, DELETED_COPIES, HANDOUT, MONITOR, TRACE
from workflow.records import job_context, write_json
from workflow.slurm_logs import link_slurm_log, unlink_slurm_log
from workflow.stage_log import log_to

sm = snakemake  # noqa: F821 (injected by Snakemake)
log_to(sm.log[0])
cell = Path(sm.output.run).parent
slurm_log = link_slurm_log(cell, "agent")
cfg, wc = sm.config, sm.wildcards
spec = agent_spec(cfg, wc.agent)
base_model = model_of(cfg, wc.model, "base")[0]
job_dir = Path(sm.output.job).resolve()
prompt = render_prompt(wc.benchmark, base_model, spec.hours, spec.num_gpus, cfg["agent_internet"])
hashes = write_job_dir(job_dir, wc.benchmark, prompt, deadline=int(time.time() + spec.budget_seconds))
env = agent_env(spec, job_dir, agent_cache_dir(cfg), cfg["agent_internet"])
env.update(PTB_BASE_MODEL=base_model, PTB_BENCHMARK=wc.benchmark, PTB_SEED=wc.seed)
command = ["bash", str(AGENTS / spec.scaffold / "solve.sh")]
# The sandbox (container.runtime) mounts the cache overlay now and unmounts it however the run ends.
with sandbox_session(cfg, job_dir, spec.num_gpus, readonly=[base_model]) as sandbox:
    # A job without working GPUs fails here, inside the agent's own environment and before
    # the budget starts, so Snakemake reports it (and a rerun retries it).
    python = "python3" if cfg["container"]["runtime"] == "apptainer" else sys.executable
    gpus = check_gpus(spec.num_gpus, python, wrap=sandbox.wrap) if spec.num_gpus and cfg["gpu_check"] else None
    # A subscription's credential file replaces the API key for this run only; when the run
    # ends it is removed and every file of the cell is scrubbed of it. Data the agent writes and
    # deletes before the end stays readable for the judge.
    credential = credential_source(cfg, agent_entry(cfg, wc.agent))
    watched = {"job": job_dir, "tmp": cell / AGENT_TMP}
    with (
        SystemMonitor(cell / MONITOR, interval=cfg["monitor_seconds"]),
        installed_credential(credential, spec.scaffold, job_dir, env, scrub_root=cell),
        keep_deleted_files(watched, cell / DELETED_COPIES),
    ):
        record = run_agent(
            spec, sandbox.wrap(command), job_dir, env, cell / TRACE, Path(sm.log[0]), sandbox.environment
        )
print(f"agent {spec.name}: {record['status']} after {record['seconds']} s", flush=True)
write_json(cell / HANDOUT, hashes)
# Tokens and dollars from the CLI's trace (config `prices:` for CLIs that report only tokens).
usage = usage_record(spec.scaffold, cell / TRACE, cfg.get("prices"), spec.model)
extra = {"usage": usage, "num_gpus": spec.num_gpus, "auth": "subscription" if credential else "api_key"}
write_json(sm.output.run, record | extra | {"job": job_context(), "gpu_check": gpus})
unlink_slurm_log(slurm_log)
