"""Snakemake script: prepare the job directory and run one agent cell (or resume it)."""

import json
import os
import shutil
import sys
import time
from pathlib import Path

from workflow.agent.attempts import (
    REPUBLISH,
    RESUME,
    RETIRE,
    BudgetClock,
    current_owner,
    new_state,
    plan_start,
    read_state,
    resumed_state,
    retire,
    slurm_look,
    stop_earlier_owner,
    write_state,
)
from workflow.agent.credentials import credential_source, installed_credential
from workflow.agent.gpu_checks import SystemMonitor, check_gpus
from workflow.agent.handout import render_prompt, write_job_dir, write_timer
from workflow.agent.keeper import keep_deleted_files
from workflow.agent.runner import AGENTS, Stopped, agent_env, agent_spec, preemption_message, run_agent
from workflow.agent.sandbox import sandbox_session
from workflow.agent.traces import usage_record
from workflow.environment.agent_cache import agent_cache_dir
from workflow.environment.preflight import job_problems, raise_problems
from workflow.matrix import agent_entry
from workflow.models import model_of
from workflow.paths import AGENT_TMP, DELETED_COPIES, HANDOUT, JOB_DIR, MONITOR, TRACE
from workflow.records import job_context, write_json
from workflow.secrets import Redactor
from workflow.slurm_logs import link_slurm_log, unlink_slurm_log
from workflow.stage_log import log_to

sm = snakemake  # noqa: F821 (injected by Snakemake)
log_to(sm.log[0])
cell = Path(sm.output.run).parent
cfg, wc = sm.config, sm.wildcards
spec = agent_spec(cfg, wc.agent)
base_model = model_of(cfg, wc.model, "base")[0]
job_dir = (cell / JOB_DIR).resolve()
redact = Redactor()  # every key this job holds, whatever the agent prints

# What the earlier jobs of this cell left decides what this one does (workflow/agent/attempts.py).
me = current_owner()
comment = f"rule_run_agent_wildcards_{wc.agent}_{wc.model}_{wc.benchmark}_{wc.seed}"
look = lambda job_id: slurm_look(job_id, comment, Path.cwd().resolve())  # noqa: E731
plan = plan_start(cell, me, look)
print(f"agent {spec.name}: {plan.action} ({plan.reason})", flush=True)
if plan.action == REPUBLISH:
    write_json(sm.output.run, plan.state["record"] | {"republished": {"reason": plan.reason, "job": job_context()}})
    sys.exit(0)
if plan.action == RETIRE:
    print(f"earlier attempt kept in {retire(cell, plan.reason)}", flush=True)
slurm_log = link_slurm_log(cell, "agent")  # after the retired attempt took its own links along
state = plan.state
if plan.take_over or plan.stop_pid:  # an earlier job still runs this agent: it stops, this one continues
    state = stop_earlier_owner(plan, cell, look=look)

# The node's own checks, before anything of the agent's budget is spent.
raise_problems(job_problems(cfg, wc.agent, job_dir), f"agent job on {os.uname().nodename} cannot start")
if plan.action == RESUME:
    state = resumed_state(state, me, plan.reason)
    write_state(cell, state)
else:
    if plan.discard_handout:
        shutil.rmtree(job_dir)
    state = new_state(me, spec.budget_seconds)
    write_state(cell, state)
    prompt = render_prompt(wc.benchmark, base_model, spec.hours, spec.num_gpus, cfg["agent_internet"])
    write_json(cell / HANDOUT, write_job_dir(job_dir, wc.benchmark, prompt, deadline=int(time.time())))
env = agent_env(spec, job_dir, agent_cache_dir(cfg), cfg["agent_internet"])
env.update(PTB_BASE_MODEL=base_model, PTB_BENCHMARK=wc.benchmark, PTB_SEED=wc.seed)
command = ["bash", str(AGENTS / spec.scaffold / "solve.sh")]
resuming = plan.action == RESUME
# The sandbox (container.runtime) mounts the cache overlay now and unmounts it however the run ends.
with sandbox_session(
    cfg, job_dir, spec.num_gpus, readonly=[base_model], internet=cfg["agent_internet"], resume=resuming
) as sandbox:
    # A job without working GPUs fails here, inside the agent's own environment and before
    # the budget starts, so Snakemake reports it (and a rerun retries it).
    python = "python3" if cfg["container"]["runtime"] == "apptainer" else sys.executable
    gpus = check_gpus(spec.num_gpus, python, wrap=sandbox.wrap) if spec.num_gpus and cfg["gpu_check"] else None
    clock = BudgetClock(cell, state)
    left = spec.budget_seconds - clock.used_before
    # A subscription's credential file replaces the API key for this run only; when the run
    # ends it is removed and every file of the cell is scrubbed of it. Data the agent writes and
    # deletes before the end stays readable for the judge.
    credential = credential_source(cfg, agent_entry(cfg, wc.agent))
    write_timer(job_dir, deadline=int(time.time() + left))  # the clock starts now
    watched = {"job": job_dir, "tmp": cell / AGENT_TMP}
    try:
        with (
            SystemMonitor(cell / MONITOR, interval=cfg["monitor_seconds"]),
            installed_credential(credential, spec.scaffold, job_dir, env, scrub_root=cell),
            keep_deleted_files(watched, cell / DELETED_COPIES),
        ):
            record = run_agent(
                spec, sandbox.wrap(command), job_dir, env, cell / TRACE, Path(sm.log[0]), sandbox.environment,
                clock=clock, resume=preemption_message(left) if resuming else None, redact=redact,
            )  # fmt: skip
    except Stopped as stop:
        print(f"Stopped: {stop}; the agent's folder and budget used are kept for the next job", flush=True)
        sys.exit(128 + stop.signum)
print(f"agent {spec.name}: {record['status']} after {record['seconds']} s", flush=True)
# Tokens and dollars from the CLI's trace (config `prices:` for CLIs that report only tokens).
usage = usage_record(spec.scaffold, cell / TRACE, cfg.get("prices"), spec.model)
extra = {"usage": usage, "num_gpus": spec.num_gpus, "auth": "subscription" if credential else "api_key"}
record |= extra | {"job": job_context(), "gpu_check": gpus, "start": plan.action}
record = json.loads(redact(json.dumps(record)))
write_state(cell, read_state(cell) | {"record": record})  # what a later job republishes, if it must
write_json(sm.output.run, record)
unlink_slurm_log(slurm_log)
