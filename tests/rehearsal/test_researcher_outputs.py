"""What researchers read around the leaderboard, from the one rehearsal run (conftest.py):
cost per cell and agent, a trace page in headless Chromium, two budgets of one agent,
the export for a submission, and a subscription agent whose credential is found nowhere."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.rehearsal.rehearsal import CREDENTIAL, CREDENTIAL_NAME, SUBSCRIPTION_AGENT, SWAPPED_MODEL
from tests.report.browser import has_colour, screenshot
from tests.report.test_trace_page import COMMAND_RGB, FLAG_RGB
from workflow.matrix import agent_cells, agent_runs, cells
from workflow.paths import cell_dir, trace_page

pytestmark = [pytest.mark.slurm, pytest.mark.slow]


def read(path: Path) -> dict:
    return json.loads(Path(path).read_text())


def csv_rows(path: Path) -> list[dict]:
    with open(path) as f:
        return list(csv.DictReader(f))


def trained_cli_cells(rehearsal):
    return [c for c in cells(rehearsal.config) if c.agent.startswith("claude-opus-4.6") and c.model != SWAPPED_MODEL]


def test_cli_cells_carry_tokens_and_dollars_to_the_leaderboard(rehearsal):
    by_cell = {(r["agent"], r["model"], r["benchmark"]): r for r in csv_rows(rehearsal.results / "cells.csv")}
    for c in trained_cli_cells(rehearsal):
        usage = read(cell_dir(rehearsal.results, c) / "run.json")["usage"]
        assert usage["tokens"]["input"] > 0 and usage["tokens"]["output"] > 0, (c, usage)
        assert usage["cost_usd"] > 0 and usage["cost_source"] == "cli", (c, usage)  # Claude Code reports dollars
        row = by_cell[(c.agent, c.model, c.benchmark)]
        assert int(row["input_tokens"]) == usage["tokens"]["input"]
        assert float(row["cost_usd"]) == pytest.approx(usage["cost_usd"])
    agents = {r["agent"]: r for r in csv_rows(rehearsal.results / "leaderboard.csv")}
    runs = [c for c in cells(rehearsal.config) if c.agent == "claude-opus-4.6"]
    dollars = sum(read(cell_dir(rehearsal.results, c) / "run.json")["usage"]["cost_usd"] for c in runs)
    assert float(agents["claude-opus-4.6"]["cost_usd"]) == pytest.approx(dollars)
    assert int(agents["claude-opus-4.6"]["cost_runs"]) == len(runs)
    assert float(agents["reference-sft"]["gpu_hours"]) == 0  # its jobs held no GPU here (num_gpus: 0)
    board = (rehearsal.results / "leaderboard.md").read_text()
    assert "input tok" in board and "$" in board


def test_a_trace_page_renders_in_headless_chromium(rehearsal, tmp_path):
    (swapped,) = [c for c in cells(rehearsal.config) if c.agent == "claude-opus-4.6" and c.model == SWAPPED_MODEL]
    page = rehearsal.results / trace_page(swapped)
    html = page.read_text()
    assert "submitted" in html and "lineage" in html  # the step and the judge's evidence beside it
    # linked from the leaderboard page
    assert trace_page(swapped) in (rehearsal.results / "leaderboard.html").read_text()
    image = screenshot(page, tmp_path / "trace.png", (1300, 2000))
    assert image.size == (1300, 2000)
    assert has_colour(image, COMMAND_RGB, at_least=2000), "no command block on the rendered page"
    assert has_colour(image, FLAG_RGB, at_least=500), "the judge's flag is not on the rendered page"


def test_a_two_budget_agent_has_two_rows_and_the_budget_plot(rehearsal):
    budgets = "claude-opus-4.6-budgets"
    runs = {name: run for name, run in agent_runs(rehearsal.config).items() if run["agent"] == budgets}
    assert sorted(run["hours"] for run in runs.values()) == [0.04, 0.05]
    rows = {r["agent"]: r for r in csv_rows(rehearsal.results / "leaderboard.csv")}
    for name, run in runs.items():
        row = rows[name]
        assert row["complete"] == "True" and row["score"] != "", row
        assert float(row["budget_hours"]) == run["hours"] and row["agent_base"] == budgets
        (c,) = agent_cells(rehearsal.config, name)
        record = read(cell_dir(rehearsal.results, c) / "run.json")
        assert record["status"] == "finished" and record["final_model"], record
    plot = rehearsal.results / "plots" / "budget_vs_score.png"
    with Image.open(plot) as image:
        image.load()
        assert image.width > 400 and len(image.convert("RGB").getcolors(maxcolors=1 << 24)) > 10


def test_the_export_matches_the_documented_layout(rehearsal, tmp_path):
    out = tmp_path / "export"
    configs = ["config/config.yaml", "tests/rehearsal/overlay.yaml"]
    proc = subprocess.run(
        [sys.executable, "-m", "workflow", "export", "claude-opus-4.6", "--out", str(out), "--config", *configs],
        cwd=rehearsal.work, capture_output=True, text=True, timeout=300,
        env={"PYTHONPATH": str(rehearsal.work), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    manifest = read(out / "manifest.json")
    runs = [c for c in cells(rehearsal.config) if c.agent == "claude-opus-4.6"]
    assert len(manifest["cells"]) == len(runs)
    # The files workflow/report/export.py documents for every cell (metrics.json, or why there is none).
    always = {"solve_out.txt", "solve_parsed.txt", "trace.html", "judgement.json", "judge_checks.json",
              "time_taken.txt", "run.json", "monitor.jsonl", "final_model_location.txt"}  # fmt: skip
    method_dirs = {p.parent.parent for p in out.rglob("solve_out.txt")}
    assert len(method_dirs) == 1 and (next(iter(method_dirs)).name.startswith("claude_"))
    folders = sorted(p.parent for p in out.rglob("solve_out.txt"))
    assert len(folders) == len(runs)
    for folder in folders:
        names = {p.name for p in folder.iterdir()}
        assert always <= names, (folder, always - names)
        assert ("metrics.json" in names) != ("evaluation_failed.txt" in names), folder
        verdicts = read(folder / "judgement.json")
        assert {"contamination", "disallowed_model"} <= set(verdicts)
        assert Path((folder / "final_model_location.txt").read_text().strip()).is_dir()
    swapped = next(f for f in folders if f.name.startswith("gsm8k_") and "Qwen3-4B" in f.name)
    assert read(swapped / "judgement.json")["disallowed_model"] is True


def test_the_subscription_agent_signed_in_with_its_credential_which_is_found_nowhere(rehearsal):
    (c,) = agent_cells(rehearsal.config, SUBSCRIPTION_AGENT)
    run = read(cell_dir(rehearsal.results, c) / "run.json")
    assert run["status"] == "finished" and run["final_model"], run
    agent_calls = [r for r in rehearsal.providers.requests if r["purpose"] == "agent"]
    # The credential reached the provider (as Claude Code's OAuth bearer), without the API key beside it.
    assert [r for r in agent_calls if CREDENTIAL_NAME in r["keys"]]
    assert all(r["keys"] in (["ANTHROPIC_API_KEY"], [CREDENTIAL_NAME]) for r in agent_calls)
    secret = CREDENTIAL.encode()
    work = rehearsal.work
    files = [p for d in ("results", "results-v1.2", ".snakemake") for p in (work / d).rglob("*")]
    files = [p for p in files if p.is_file() and not p.is_symlink()]
    assert [str(p) for p in files if secret in p.read_bytes()] == []
    assert CREDENTIAL not in "".join(p.output for p in rehearsal.phases.values())
    # The copy placed in the job folder is gone.
    assert not list((cell_dir(rehearsal.results, c) / "job").rglob("claude-oauth-token"))
