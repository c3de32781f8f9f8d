"""P1 and P6 on the throwaway Slurm cluster (root; brings it up and down).

Runs the embedded default through `snakemake --profile slurm` with agents and
evaluation on the GPU partition, then reads Slurm's own records:
- P1: GPU-hours allocated per cell divided by the agent's and the
  evaluation's own working time (run.json, metrics.json). Printed next to
  the same ratio for upstream's layout, where one job holds the GPU through
  agent, judge and evaluation: that job's allocation is the sum of the three
  stages' elapsed times.
- P6: scheduler queries per status poll round: sdiag's job-info RPC count
  across the run divided by the executor's poll rounds (from its log).

    python bench/slurm_overhead.py
"""

import copy
import json
import re
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.pipeline import REPO, repo_copy  # noqa: E402

CLUSTER = ["bash", str(ROOT / "scripts" / "slurm-test-cluster.sh")]


def config() -> dict:
    cfg = yaml.safe_load((REPO / "config" / "embedded.yaml").read_text())
    cfg = copy.deepcopy(cfg)
    cfg["gpu_check"] = False  # the test cluster's GPUs are stand-in device files
    for agent in cfg["agents"].values():
        agent["num_gpus"] = 1
    cfg["slurm"]["agent"]["partition"] = "gpu"
    cfg["slurm"]["evaluate"] |= {"partition": "gpu", "gpus": 1}
    cfg["slurm"]["cpu"]["partition"] = "cpu"
    return cfg


def job_info_rpcs() -> int:
    out = subprocess.run(["sdiag"], capture_output=True, text=True, check=True).stdout
    return sum(int(m.group(1)) for m in re.finditer(r"REQUEST_JOB_INFO\S*\s+\(\s*\d+\)\s+count:(\d+)", out))


def rule_of_jobs(log: str) -> dict[str, str]:
    """Slurm job id -> 'rule_<rule>_wildcards_<values>', from the executor's submission lines."""
    found = re.findall(r"SLURM jobid (\d+) \(log: \S*/rule_(\w+?)/([^/\s]+)/\d+\.log\)", log)
    return {job: f"rule_{rule}_wildcards_{values}" for job, rule, values in found}


def sacct_jobs(run_id: str) -> list[dict]:
    fields = "JobIDRaw,ElapsedRaw,AllocTRES,State"
    out = subprocess.run(
        ["sacct", "-X", "-P", "-n", f"--format={fields}", "--name", run_id], capture_output=True, text=True, check=True
    ).stdout
    rows = [dict(zip(fields.split(","), line.split("|"), strict=True)) for line in out.splitlines() if line]
    for row in rows:
        gpus = re.search(r"gres/gpu=(\d+)", row["AllocTRES"])
        row["gpus"] = int(gpus.group(1)) if gpus else 0
        row["seconds"] = int(row["ElapsedRaw"])
    return rows


def main() -> None:
    subprocess.run([*CLUSTER, "up", "--accounting"], check=True)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            work = repo_copy(Path(tmp) / "repo")
            (work / "bench.yaml").write_text(yaml.safe_dump(config()))
            before = job_info_rpcs()
            proc = subprocess.run(
                [sys.executable, "-m", "snakemake", "--profile", "slurm", "--configfile", "bench.yaml", "--verbose"],
                cwd=work, capture_output=True, text=True,
            )  # fmt: skip
            rpcs = job_info_rpcs() - before
            log = proc.stdout + proc.stderr
            if proc.returncode != 0:
                raise SystemExit(log[-4000:])
            run_id = re.search(r"SLURM run ID: (\S+)", log).group(1)
            rounds = log.count("Checking the status of")
            jobs = sacct_jobs(run_id)
            stages = defaultdict(dict)  # cell -> stage -> row
            rules = rule_of_jobs(log)
            for row in jobs:
                m = re.match(r"rule_(run_agent|judge|evaluate)_wildcards_(.+)", rules.get(row["JobIDRaw"], ""))
                if m:
                    stages[m.group(2)][m.group(1)] = row
            header = ("cell", "GPU-h ours", "GPU-h upstream", "work h", "ours", "upstream")
            print("{:28s} {:>11s} {:>15s} {:>8s} {:>6s} {:>9s}".format(*header))
            for cell, st in sorted(stages.items()):
                agent, model, bench, seed = cell.rsplit("_", 3)
                folder = work / "results" / "runs" / agent / model / bench / f"seed{seed}"
                run = json.loads((folder / "run.json").read_text())
                metrics = json.loads((folder / "metrics.json").read_text())
                work_s = run["seconds"] + sum(a["seconds"] for a in metrics.get("attempts", []))
                ours = sum(r["gpus"] * r["seconds"] for k, r in st.items() if k != "judge")
                gpus = st["run_agent"]["gpus"]
                upstream = gpus * sum(r["seconds"] for r in st.values())
                print(
                    f"{cell:28s} {ours / 3600:11.4f} {upstream / 3600:15.4f} {work_s / 3600:8.4f} "
                    f"{ours / work_s:6.2f} {upstream / work_s:9.2f}"
                )
            print("P1: GPU time allocated / own working time, per cell (1.00 = no idle GPU); see the table")
            print(f"P6: {rpcs} job-info RPCs over {rounds} status poll rounds = {rpcs / max(rounds, 1):.2f} per round")
    finally:
        subprocess.run([*CLUSTER, "down"], check=False)


if __name__ == "__main__":
    main()
