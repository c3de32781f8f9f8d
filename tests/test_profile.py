"""`snakemake --profile slurm -n` from the repo root plans the full matrix."""

import re
import shutil

from tests.pipeline import repo_copy, snakemake


def test_slurm_profile_plans_full_matrix_with_gpu_requests(tmp_path):
    work = repo_copy(tmp_path / "repo")
    no_keys = {k: "" for k in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GEMINI_API_KEY")}
    proc = snakemake(work, "--profile", "slurm", "-n", env=no_keys)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-3000:]
    assert "Using profile slurm" in output and "config/config.yaml" in output
    agent_jobs = re.findall(r"rule run_agent:.*?resources: ([^\n]*)", output, flags=re.S)
    assert len(agent_jobs) == 3 * 4 * 7  # three enabled agents x 4 models x 7 benchmarks
    assert all("gpu=1" in r and "gpu_model=h100" in r and "slurm_partition=gpu" in r for r in agent_jobs)
    assert all("runtime=615" in r for r in agent_jobs)  # 10 h + 5 min grace + 10 min set-up
    evaluations = re.findall(r"rule evaluate:.*?resources: ([^\n]*)", output, flags=re.S)
    assert evaluations and all("gpu=1" in r for r in evaluations)
    judges = re.findall(r"rule judge:.*?resources: ([^\n]*)", output, flags=re.S)
    assert judges and not any("gpu" in r for r in judges)
    # No Apptainer here: the plan is still shown, with the problem named.
    assert shutil.which("apptainer") is None
    assert "container.runtime 'apptainer' needs apptainer" in output
    # The preflight names each missing key and where it is needed (a real run stops there).
    assert "WARNING: agents.claude-opus-4.6: scaffold claude needs ANTHROPIC_API_KEY" in output
    grader = "WARNING: benchmarks.healthbench: its grader openai/gpt-5-mini (evaluation.judge_model) needs OPENAI"
    assert grader in output
    # Each job that needs a key gets it from a private file (sbatch --export-file), no other job does.
    assert all("slurm_extra=--export-file=" in r for r in agent_jobs)
    assert all("slurm_extra=--export-file=" in r for r in judges)  # the LLM judge's (judge.model) key
    prefetch = re.findall(r"rule (?:prefetch_\w+|agent_cache):.*?resources: ([^\n]*)", output, flags=re.S)
    assert prefetch and not any("export-file" in r for r in prefetch)
