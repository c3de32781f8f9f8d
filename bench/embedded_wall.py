"""P4: the embedded default's wall time end to end, with time per stage.

Runs `snakemake --cores 2` on a fresh copy of the repo (the same as
`make demo` after installation) and reads each job's start and end from
Snakemake's log. Prints the total against the 5-minute target.

    python bench/embedded_wall.py
"""

import re
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.pipeline import repo_copy, snakemake  # noqa: E402

TARGET_SECONDS = 300
STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ [\d:]+ \d{4})\]$")


def stage_seconds(log: str) -> dict[str, float]:
    """Sum of job durations per rule, from the timestamps around each job."""
    started: dict[str, tuple[str, datetime]] = {}
    totals: dict[str, float] = defaultdict(float)
    now = None
    lines = log.splitlines()
    for i, line in enumerate(lines):
        if m := STAMP.match(line.strip()):
            now = datetime.strptime(m.group(1), "%a %b %d %H:%M:%S %Y")
        elif line.startswith(("rule ", "localrule ")) and now:
            jobid = next((x.split()[-1] for x in lines[i : i + 12] if x.strip().startswith("jobid:")), None)
            started[jobid] = (line.split()[1].rstrip(":"), now)
        elif (m := re.match(r"Finished jobid: (\d+)", line.strip())) and now:
            rule, t0 = started.pop(m.group(1), (None, None))
            if rule:
                totals[rule] += (now - t0).total_seconds()
    return dict(totals)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = repo_copy(Path(tmp) / "repo")
        started = time.monotonic()
        proc = snakemake(work, "--cores", "2")
        wall = time.monotonic() - started
        if proc.returncode != 0:
            raise SystemExit(proc.stderr[-3000:])
        for rule, seconds in sorted(stage_seconds(proc.stderr + proc.stdout).items(), key=lambda kv: -kv[1]):
            print(f"  {rule:22s} {seconds:6.0f} s (job time, summed)")
        board = (work / "results" / "leaderboard.md").read_text()
    print(board)
    print(f"P4 embedded default end to end: {wall:.0f} s; {wall / TARGET_SECONDS:.2f}x the 5-minute target")


if __name__ == "__main__":
    main()
