"""The rehearsal's v1.2 phase (conftest.py): two of the matrix's final models evaluated again
under suite v1.2 with its seeded protocol, through the production evaluate rule on Slurm."""

import json
from pathlib import Path

import pytest

from tests.rehearsal.rehearsal import SUITE_V12, V12_CELLS, load
from workflow.evaluate.protocol import DEFAULT_SEEDS
from workflow.paths import cell_dir

pytestmark = [pytest.mark.slurm, pytest.mark.slow]


def read(path: Path) -> dict:
    return json.loads(Path(path).read_text())


def test_the_v12_phase_ran(rehearsal):
    phase = rehearsal.phases.get("v1.2")
    assert phase is not None, "the v1.2 phase did not run (the matrix failed first)"
    assert phase.returncode == 0, phase.output[-6000:]
    # Only the evaluate rule ran, and it fetched nothing: the prefetched cache served it.
    assert "evaluate_baselines" not in phase.output and "rule run_agent" not in phase.output
    assert [r.path for r in rehearsal.hub.requests if r.phase == "v1.2"] == []
    print({"v1.2 phase seconds": round(phase.seconds)})


def test_final_models_are_evaluated_per_seed_and_greedy_ones_once(rehearsal):
    results_v12 = rehearsal.work / load(SUITE_V12)["results"]
    sampling, greedy = V12_CELLS
    records = {}
    for cell in (sampling, greedy):
        metrics = read(cell_dir(results_v12, cell) / "metrics.json")
        assert metrics["status"] == "ok" and metrics["suite"] == "v1.2" and metrics["protocol"] == "seeded", metrics
        records[cell] = metrics
    many = records[sampling]
    assert many["seeds"]["planned"] == list(DEFAULT_SEEDS)
    assert [s["seed"] for s in many["per_seed"]] == list(DEFAULT_SEEDS) and many["seeds"]["tried"] == 5
    ok = [s for s in many["per_seed"] if s["status"] == "ok"]
    assert many["seeds"]["succeeded"] == len(ok) >= 2
    assert many["value"] == pytest.approx(sum(s["value"] for s in ok) / len(ok))
    assert all(s["max_tokens"] == many["max_tokens"] for s in ok)  # every seed scored at the same token stage
    once = records[greedy]
    assert once["seeds"]["planned"] == list(DEFAULT_SEEDS[:1]) and once["seeds"]["tried"] == 1
    assert "greed" in once["seeds"]["why"]
    # The v1.0 results of the same cells are untouched: one evaluation, no seeds.
    for cell in (sampling, greedy):
        v10 = read(cell_dir(rehearsal.results, cell) / "metrics.json")
        assert v10.get("protocol", "single") == "single" and v10.get("suite", "v1.0") == "v1.0"
