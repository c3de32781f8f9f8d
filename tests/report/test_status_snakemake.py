"""status against a real Snakemake run: its incomplete markers, locks and logs."""

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.report.synthetic import make_config
from workflow.report.status import collect

# The agent rule's outputs and log named as in rules/agent.smk; m1 succeeds,
# m2 fails with an exception in its log, m3 is still running when we look.
SNAKEFILE = """
rule all:
    input:
        expand("results/runs/a/{m}/b1/seed1/run.json", m=["m1", "m2", "m3"]),

rule run_agent:
    output:
        job=directory("results/runs/{agent}/{model}/{benchmark}/seed{seed}/job"),
        run="results/runs/{agent}/{model}/{benchmark}/seed{seed}/run.json",
    log:
        "results/runs/{agent}/{model}/{benchmark}/seed{seed}/agent.log",
    shell:
        '''
        mkdir -p {output.job}
        case {wildcards.model} in
          m2) echo 'RuntimeError: agent exploded' > {log}; exit 1;;
          m3) echo started > {log}; sleep 120;;
        esac
        echo '{{"seconds": 5}}' > {output.run}
        '''
"""
CONFIG = make_config({"a": {}}, models=("m1", "m2", "m3"), benchmarks={"b1": 1.0})


def states(workdir):
    return {c.cell.model: c for c in collect(CONFIG, workdir).cells}


@pytest.mark.slow
def test_states_from_a_live_then_killed_snakemake(tmp_path):
    (tmp_path / "Snakefile").write_text(SNAKEFILE)
    smk = [sys.executable, "-m", "snakemake"]
    proc = subprocess.Popen([*smk, "--cores", "3", "--keep-going"], cwd=tmp_path, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            cells = states(tmp_path)
            if cells["m2"].state == "failed" and cells["m3"].state == "running" and cells["m1"].state != "running":
                break
            time.sleep(0.5)
        assert cells["m3"].state == "running", cells
        assert cells["m2"].state == "failed" and cells["m2"].detail == "RuntimeError: agent exploded"
        assert cells["m2"].log.endswith("results/runs/a/m2/b1/seed1/agent.log")
        # m1's agent finished; judge and evaluation are not part of this Snakefile.
        assert cells["m1"].state == "missing" and cells["m1"].detail.startswith("waiting for judge")
        assert cells["m3"].agent_seconds is not None and cells["m3"].agent_seconds < 90
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # as a lost login session or an OOM kill would
        proc.wait()
    # Killed: the lock stays (Snakemake cannot tell either), so the job still looks running
    # until `snakemake --unlock`; then it shows as interrupted.
    assert states(tmp_path)["m3"].state == "running"
    subprocess.run([*smk, "--unlock", "--cores", "1"], cwd=tmp_path, check=True, capture_output=True)
    m3 = states(tmp_path)["m3"]
    assert m3.state == "failed" and "--rerun-incomplete" in m3.detail
