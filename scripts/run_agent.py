"""Snakemake script: prepare the job directory and run one agent cell."""

import time
from pathlib import Path

from workflow.agent_run import AGENTS, agent_env, agent_spec, run_agent
from workflow.handout import render_prompt, write_job_dir
from workflow.records import write_json
from workflow.sandbox import wrap_command
from workflow.stage_log import log_to

sm = snakemake  # noqa: F821 (injected by Snakemake)
log_to(sm.log[0])
cfg, wc = sm.config, sm.wildcards
spec = agent_spec(cfg, wc.agent)
job_dir = Path(sm.output.job).resolve()
prompt = render_prompt(wc.benchmark, sm.params.base_model, spec.hours, spec.num_gpus, cfg["agent_internet"])
hashes = write_job_dir(job_dir, wc.benchmark, prompt, deadline=int(time.time() + spec.budget_seconds))
env = agent_env(spec, job_dir, cfg["hf_home"], cfg["agent_internet"])
env.update(PTB_BASE_MODEL=sm.params.base_model, PTB_BENCHMARK=wc.benchmark, PTB_SEED=wc.seed)
command = wrap_command(cfg, ["bash", str(AGENTS / spec.scaffold / "solve.sh")], job_dir, spec.num_gpus)
record = run_agent(spec, command, job_dir, env, Path(sm.output.trace), Path(sm.log[0]))
print(f"agent {spec.name}: {record['status']} after {record['seconds']} s", flush=True)
write_json(sm.output.handout, hashes)
write_json(sm.output.run, record)
