"""`snakemake --profile slurm -n` from the repo root plans the full matrix."""

import re
import shutil

from tests.pipeline import repo_copy, snakemake


def test_slurm_profile_plans_full_matrix_with_gpu_requests(tmp_path):
    work = repo_copy(tmp_path / "repo")
    proc = snakemake(work, "--profile", "slurm", "-n")
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
