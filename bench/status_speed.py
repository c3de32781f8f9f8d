"""How long `python -m workflow status` takes on a full-size matrix.

Builds a synthetic results tree of at least 1,344 cells (the real config's 4
models x 7 benchmarks, 12 agents x 4 seeds) in a temporary folder, in a mix of
states (done, flagged, failed evaluation, failed agent, running under a lock
with Snakemake's markers, not started), then times the command end to end, as
a user runs it, several times.

    python bench/status_speed.py [--repeats 5] [--keep DIR]
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

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.report.synthetic import Tree  # noqa: E402
from tests.report.test_status import lock, mark  # noqa: E402
from workflow.config import load_config  # noqa: E402
from workflow.matrix import cells  # noqa: E402


def build(root: Path, agents: int = 12, seeds: int = 4) -> tuple[Path, int]:
    config = load_config(REPO / "config" / "config.yaml")
    config["seeds"] = list(range(1, seeds + 1))
    config["agents"] = {f"agent{i:02d}": {"scaffold": "noop"} for i in range(agents)}
    config_file = root / "config.yaml"
    config_file.write_text(yaml.safe_dump(config))
    tree = Tree(root, config)
    for i, c in enumerate(cells(config)):
        kind = i % 10
        if kind < 5:
            tree.cell(c.agent, c.model, c.benchmark, c.seed, value=0.3, seconds=3600 * 5)
        elif kind == 5:
            tree.cell(c.agent, c.model, c.benchmark, c.seed, flagged=True, reasons=["contamination"])
        elif kind == 6:
            tree.cell(c.agent, c.model, c.benchmark, c.seed, status="failed", reason="RuntimeError: boom")
        elif kind == 7:
            folder = tree.folder(c.agent, c.model, c.benchmark, c.seed)
            folder.mkdir(parents=True)
            (folder / "agent.log").write_text("Traceback\nOSError: disk full\n")
        elif kind == 8:
            folder = tree.folder(c.agent, c.model, c.benchmark, c.seed)
            (folder / "job").mkdir(parents=True)
            rel = os.path.relpath(folder, root)
            for name in ("job", "run.json", "trace.jsonl", "handout.json"):
                mark(root, "incomplete", f"{rel}/{name}", {"external_jobid": str(1000 + i)})
        # kind 9: not started
    lock(root)
    return config_file, len(cells(config))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--keep", help="build the tree here and keep it")
    args = parser.parse_args()
    root = Path(args.keep or tempfile.mkdtemp(prefix="status-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    config_file, n = build(root)
    print(f"built {n} cells in {time.perf_counter() - started:.1f} s under {root}")
    cmd = [sys.executable, "-m", "workflow", "status", "--config", str(config_file), "--directory", str(root)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stdout
        times.append(time.perf_counter() - t0)
    print(next(line for line in out.splitlines() if line.startswith("All ")))
    print(f"status wall time over {args.repeats} runs: median {statistics.median(times):.2f} s, "
          f"min {min(times):.2f} s, max {max(times):.2f} s")  # fmt: skip


if __name__ == "__main__":
    main()
