"""P3: dry-run planning time of the full matrix, at 1,344 cells and at a quarter.

The matrix is config/config.yaml with its agents replaced by 16 (or 4) enabled
agents and 3 seeds: 16 x 4 models x 7 benchmarks x 3 seeds = 1,344 cells.
Both sizes are planned alternately in one run, so the ratio is fair on a
noisy machine. Planning never runs apptainer; a stub on PATH stands in for
it so the check for a missing runtime does not stop the plan. The Slurm
executor plugin asks `scontrol show config` for MinJobAge whenever Snakemake
starts; a login node answers at once, but a machine with Slurm's client and
no controller makes it wait ~9 s, so a stub answers as a controller would.

Planning is measured as `snakemake -n --quiet rules progress`: the DAG and
the job table, without printing each of the 4,000 jobs (which adds ~1 s).

    python bench/planning.py [--repeats 3]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.pipeline import REPO, repo_copy  # noqa: E402
from workflow.config import load_config  # noqa: E402
from workflow.matrix import cells  # noqa: E402

SCAFFOLDS = ["claude", "codex", "gemini", "opencode"]


def scaled_config(n_agents: int) -> dict:
    config = load_config(REPO / "config" / "config.yaml")
    config["agents"] = {
        f"agent{i:02d}": {"scaffold": SCAFFOLDS[i % 4], "model": f"model-{i}", "enabled": True} for i in range(n_agents)
    }
    config["seeds"] = [1, 2, 3]
    return config


def snakemake_dry_run(work: Path, configfile: str, env: dict, *quiet: str) -> tuple[float, str]:
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--configfile", configfile, "--quiet", *quiet],
        cwd=work, env=env, capture_output=True, text=True,
    )  # fmt: skip
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit(f"planning failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return seconds, proc.stdout + proc.stderr


def job_count(work: Path, configfile: str, env: dict) -> int:
    """Jobs in the plan, from the job table of an untimed dry run."""
    _, output = snakemake_dry_run(work, configfile, env, "rules")
    return int([line.split()[1] for line in output.splitlines() if line.startswith("total ")][-1])


def plan_seconds(work: Path, configfile: str, env: dict) -> float:
    return snakemake_dry_run(work, configfile, env, "rules", "progress")[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = repo_copy(Path(tmp) / "repo")
        stub = Path(tmp) / "bin"
        stub.mkdir()
        (stub / "apptainer").write_text("#!/bin/sh\necho 'apptainer version 1.3.0 (stub)'\n")
        (stub / "apptainer").chmod(0o755)
        (stub / "scontrol").write_text("#!/bin/sh\necho 'MinJobAge               = 300 sec'\n")
        (stub / "scontrol").chmod(0o755)
        env = {**os.environ, "PATH": f"{stub}:{os.environ['PATH']}"}
        sizes = {"full": 16, "quarter": 4}
        for name, n in sizes.items():
            (work / f"{name}.yaml").write_text(yaml.safe_dump(scaled_config(n)))
        times: dict[str, list[float]] = {name: [] for name in sizes}
        for _ in range(args.repeats):
            for name in sizes:
                times[name].append(plan_seconds(work, f"{name}.yaml", env))
        jobs = {name: job_count(work, f"{name}.yaml", env) for name in sizes}
    for name, n in sizes.items():
        n_cells = len(cells(scaled_config(n)))
        print(f"{name:8s} {n_cells:5d} cells {jobs[name]:6d} jobs  median {statistics.median(times[name]):.2f} s")
    ratio = statistics.median(times["full"]) / statistics.median(times["quarter"])
    print(f"P3 planning time, 1,344 cells / 336 cells: {ratio:.2f}x (4x the cells)")
    print(f"P3 planning time at 1,344 cells: {statistics.median(times['full']):.2f} s (limit 5 s)")


if __name__ == "__main__":
    main()
