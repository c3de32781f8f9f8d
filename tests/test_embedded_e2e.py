"""The embedded default, end to end, through real Snakemake: run once, checked many ways."""

import csv
import time

import pytest

from tests.pipeline import SENTINEL_KEYS, executed_rules, repo_copy, snakemake

pytestmark = pytest.mark.slow

TIME_LIMIT_SECONDS = 300


@pytest.fixture(scope="module")
def embedded_run(tmp_path_factory):
    work = repo_copy(tmp_path_factory.mktemp("embedded") / "repo")
    started = time.monotonic()
    proc = snakemake(work, "--cores", "2", env=SENTINEL_KEYS)
    seconds = time.monotonic() - started
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return work, seconds, proc


def leaderboard(work) -> dict:
    with open(work / "results" / "leaderboard.csv") as f:
        return {row["agent"]: row for row in csv.DictReader(f)}


def test_runs_within_five_minutes(embedded_run):
    _, seconds, _ = embedded_run
    print(f"embedded default end to end: {seconds:.0f} s")
    assert seconds <= TIME_LIMIT_SECONDS


def test_reference_sft_beats_noop(embedded_run):
    work, _, _ = embedded_run
    board = leaderboard(work)
    assert float(board["reference-sft"]["score"]) > float(board["noop"]["score"])
    assert float(board["reference-sft"]["arith"]) >= 0.3
    md = (work / "results" / "leaderboard.md").read_text()
    assert "| reference-sft |" in md and "| noop |" in md


def test_no_key_leaks_into_any_output(embedded_run):
    work, _, proc = embedded_run
    places = [p for d in ("results", ".snakemake") for p in (work / d).rglob("*") if p.is_file()]
    assert places
    for path in places:
        data = path.read_bytes()
        for value in SENTINEL_KEYS.values():
            assert value.encode() not in data, f"{value} leaked into {path}"
    for value in SENTINEL_KEYS.values():
        assert value not in proc.stdout + proc.stderr


def test_second_run_does_nothing(embedded_run):
    work, _, _ = embedded_run
    proc = snakemake(work, "--cores", "2")
    assert proc.returncode == 0
    assert "Nothing to be done" in proc.stdout + proc.stderr
    assert executed_rules(proc.stdout + proc.stderr) == []


def test_missing_evaluation_reruns_only_that_evaluation(embedded_run):
    work, _, _ = embedded_run
    cell = work / "results" / "runs" / "noop" / "tiny" / "arith" / "seed1"
    run_record = (cell / "run.json").stat().st_mtime_ns
    (cell / "metrics.json").unlink()
    proc = snakemake(work, "--cores", "2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(executed_rules(proc.stdout + proc.stderr)) == ["aggregate", "all", "evaluate"]
    assert (cell / "metrics.json").exists()
    assert (cell / "run.json").stat().st_mtime_ns == run_record


def test_trace_pages_and_run_records(embedded_run):
    work, _, _ = embedded_run
    results = work / "results"
    for agent in ("noop", "reference-sft"):
        run = (results / "runs" / agent / "tiny" / "arith" / "seed1" / "run.json").read_text()
        assert '"num_gpus": 0' in run and '"auth": "api_key"' in run and '"usage": null' in run  # no CLI trace
        page = results / "traces" / agent / "tiny" / "arith" / "seed1" / "trace.html"
        assert f"Trace: {agent}/tiny/arith/seed1" in page.read_text()
        assert f'href="traces/{agent}/tiny/arith/seed1/trace.html"' in (results / "leaderboard.html").read_text()
    assert (results / "plots" / "budget_vs_score.png").stat().st_size > 0
