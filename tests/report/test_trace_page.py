"""Per-cell trace pages: steps with times, commands, outputs and files, the judge's
evidence beside the step it points to, links from the leaderboard, and the page
rendered in headless Chromium."""

import json
import re
from pathlib import Path

from PIL import Image

from tests.report.browser import has_colour, screenshot
from tests.report.synthetic import Tree, make_config
from tests.report.test_scoring import BASE, INSTRUCT
from workflow.agent.traces import Step
from workflow.matrix import Cell
from workflow.paths import trace_page
from workflow.report.plots import PLOTS, write_plots
from workflow.report.scoring import leaderboard
from workflow.report.tables import write_all
from workflow.report.trace_page import Evidence, judge_evidence, place_evidence, raw_steps, write_trace_pages

OUTPUTS = {"csv": "leaderboard.csv", "md": "leaderboard.md", "html": "leaderboard.html",
           "benchmarks": "benchmarks.csv", "cells": "cells.csv"}  # fmt: skip
FLAG_RGB = (0xFB, 0xD5, 0xD5)  # flagged evidence beside a step
COMMAND_RGB = (0x1F, 0x29, 0x37)  # a command block


def codex_events() -> list[str]:
    """A Codex CLI run (its --json events): prepare data, call a provider's API, train, answer."""

    def command(i, cmd, out, code=0):
        item = {"id": f"item_{i}", "type": "command_execution", "command": f"/bin/bash -lc '{cmd}'",
                "aggregated_output": out, "exit_code": code, "status": "completed"}  # fmt: skip
        return [
            {"type": "item.started", "item": {**item, "aggregated_output": "", "exit_code": None}},
            {"type": "item.completed", "item": item},
        ]

    events = [
        {"type": "thread.started", "thread_id": "thread-1"},
        {"type": "turn.started"},
        {"type": "item.completed", "item": {"id": "m0", "type": "agent_message", "text": "I will build <data> first."}},
        *command(1, "python make_data.py > data/train.jsonl", "wrote 7473 rows"),
        *command(2, "curl -s https://api.openai.com/v1/chat/completions -d @q.json", '{"choices": []}'),
        *command(3, "python train.py --data data/train.jsonl", "step 100 loss 0.71\n" * 400, code=1),
        {
            "type": "item.completed",
            "item": {"id": "m1", "type": "agent_message", "text": "The model is in final_model."},
        },
        {
            "type": "turn.completed",
            "usage": {"input_tokens": 90000, "cached_input_tokens": 30000, "output_tokens": 4000},
        },
    ]
    return [json.dumps(e) for e in events]


def judged_cell_tree(tmp_path):
    """One codex agent, two models x two benchmarks; the m1/b1 cell has a trace and a flagging judgement."""
    config = make_config({"coder": {"scaffold": "codex", "model": "gpt-x"}, "sft": {"scaffold": "reference-sft"}})
    tree = Tree(tmp_path, config)
    tree.baselines(BASE, INSTRUCT)
    events = codex_events()
    curl_line = next(i for i, e in enumerate(events, 1) if "api.openai.com" in e and "item.completed" in e)
    checks = [
        {"check": "evaluation_files", "changed": ["evaluate.py"], "missing": [], "flag": True,
         "reason": "modified evaluation files: evaluate.py"},
        {"check": "lineage", "flag": False, "reason": "", "status": "checked"},
        {"check": "test_overlap", "flag": True, "reason": "7 of 30 test items found",
         "files": [{"file": "data/train.jsonl", "test_items": 7,
                    "examples": [{"item": 3, "line": 12, "text": "Q3 <x>"}]}]},
        {"check": "forbidden_use", "flag": True, "reason": "calls a model provider's API",
         "evidence": [{"source": "trace.jsonl", "line": curl_line, "reason": "calls a model provider's API",
                       "text": "curl -s https://api.openai.com/v1/chat/completions"}]},
    ]  # fmt: skip
    llm = {"verdict": "flagged", "contamination": {"flag": True, "reason": "Trace line 4 writes test items."},
           "disallowed_model": {"flag": False, "reason": "final_model is a fine-tune of the base."}}  # fmt: skip
    usage = {"tokens": {"input": 90000, "cached": 30000, "output": 4000}, "cost_usd": 0.1234, "cost_source": "prices"}
    for model in ("m1", "m2"):
        for bench in ("b1", "b2"):
            flagged = (model, bench) == ("m1", "b1")
            tree.cell("coder", model, bench, value=0.6, flagged=flagged, reasons=["test_overlap: 7 items"] * flagged,
                      trace=events, usage=usage, num_gpus=2)  # fmt: skip
            tree.cell("sft", model, bench, value=0.5, trace=["loading model", "step 1 loss 2.0", "saved"])
    tree.judgement("coder", "m1", "b1", flagged=True, reasons=["test_overlap: 7 items"], checks=checks, llm=llm)
    return config, tree, curl_line


def write_site(tmp_path):
    config, tree, curl_line = judged_cell_tree(tmp_path)
    board = leaderboard(config, tree.results)
    out = tree.results
    plots = {name: out / "plots" / f"{name}.png" for name in PLOTS}
    write_plots(board, plots)
    write_all(board, {k: out / v for k, v in OUTPUTS.items()}, plots)
    pages = write_trace_pages(config, tree.results, out / "traces", [c.cell for c in board.cells])
    return board, out, pages, curl_line


def rows_of(page: str) -> list[str]:
    return page.split('<div class="row"')[1:]


def test_every_run_gets_a_page_with_its_steps_and_times(tmp_path):
    board, out, pages, _ = write_site(tmp_path)
    assert len(pages) == 8 and all(p.name == "trace.html" for p in pages)
    page = (out / trace_page(Cell("coder", "m1", "b1", 1))).read_text()
    rows = rows_of(page)
    assert len(rows) == 6  # start, message, three commands, message
    # Each step: its time into the run (lines are 90 s apart) and clock time; escaped text.
    assert "+0:00:00 08:00:00" in rows[0] and "+0:03:00" in rows[1] and "I will build &lt;data&gt; first." in rows[1]
    assert "$ python make_data.py &gt; data/train.jsonl" in rows[2] and "wrote: data/train.jsonl" in rows[2]
    assert "wrote 7473 rows" in rows[2]
    assert 'class="exit-bad">exit 1' in rows[4] and "characters cut" in rows[4]  # long output shortened
    assert len(rows[4]) < 4000
    assert "90,000 in (30,000 cached), 4,000 out; cost $0.12 (prices)" in page
    # The back link reaches the leaderboard.
    home = re.search(r'href="([^"]+leaderboard\.html)"', page)[1]
    assert (out / trace_page(Cell("coder", "m1", "b1", 1))).parent.joinpath(home).resolve() == (
        out / "leaderboard.html"
    ).resolve()


def test_judge_evidence_sits_beside_the_step_it_points_to(tmp_path):
    _, out, _, curl_line = write_site(tmp_path)
    page = (out / trace_page(Cell("coder", "m1", "b1", 1))).read_text()
    rows = rows_of(page)
    beside = {i: re.findall(r'<div class="evidence[^"]*"><b>([^<]+)</b>', r) for i, r in enumerate(rows)}
    assert "forbidden_use" in beside[3] and "api.openai.com" in rows[3]  # the trace line of the curl call
    # The step whose command wrote data/train.jsonl; "Trace line 4" (the LLM) is the same step.
    assert beside[2] == ["test_overlap", "llm_judge (contamination)"]
    assert beside[4] == []
    top = page.split('<div class="row"')[0]
    # A changed handout file no step wrote, and the LLM's verdict without a line, stay at the top.
    assert "handed-out file changed: evaluate.py" in top and "llm_judge (disallowed_model)" in top
    assert 'class="verdict-flagged">test_overlap: 7 items' in top
    clean = (out / trace_page(Cell("coder", "m2", "b2", 1))).read_text()
    assert 'class="evidence' not in clean


def test_place_evidence_rules():
    steps = [
        Step("tool", None, 2, 3, tool="shell", command="python gen.py > d.jsonl", files=["d.jsonl"]),
        Step("tool", None, 4, 5, tool="shell", command="python gen2.py --out x/e.jsonl"),
        Step("message", None, 6, 6, role="assistant", text="done"),
    ]
    evidence = [
        Evidence("forbidden_use", "a", True, trace_line=5),
        Evidence("forbidden_use", "b", True, trace_line=100),
        Evidence("test_overlap", "c", True, file="./d.jsonl"),
        Evidence("test_overlap", "d", True, file="x/e.jsonl"),
        Evidence("evaluation_files", "e", True, file="evaluate.py"),
        Evidence("lineage", "f", False),
    ]
    beside, rest = place_evidence(steps, evidence)
    assert {i: [e.text for e in v] for i, v in beside.items()} == {1: ["a", "d"], 2: ["b"], 0: ["c"]}
    assert [e.text for e in rest] == ["e", "f"]
    assert judge_evidence(None) == [] and judge_evidence({"checks": [{"check": "new_check", "flag": True}]})[0].flag


def test_plain_text_traces_group_nearby_lines():
    stamps = ["2026-01-01T00:00:00+00:00", "2026-01-01T00:00:01+00:00", "2026-01-01T00:10:00+00:00"]
    lines = [json.dumps({"t": t, "line": f"line {i}"}) for i, t in enumerate(stamps)]
    steps = raw_steps(lines)
    assert [(s.line, s.end_line, s.output) for s in steps] == [(1, 2, "line 0\nline 1"), (3, 3, "line 2")]


def test_leaderboard_links_every_run_to_its_page(tmp_path):
    board, out, _, _ = write_site(tmp_path)
    html = (out / "leaderboard.html").read_text()
    links = set(re.findall(r'href="(traces/[^"]+)"', html))
    assert len(links) == 8
    assert all((out / link).is_file() for link in links)
    cells = (out / "cells.csv").read_text()
    assert "traces/coder/m1/b1/seed1/trace.html" in cells


def test_trace_page_renders_in_headless_chromium(tmp_path):
    _, out, _, _ = write_site(tmp_path)
    image = screenshot(out / trace_page(Cell("coder", "m1", "b1", 1)), tmp_path / "trace.png", (1300, 2600))
    assert image.size == (1300, 2600)
    assert has_colour(image, FLAG_RGB, at_least=500), "no flagged evidence box on the rendered page"
    assert has_colour(image, COMMAND_RGB, at_least=2000), "no command block on the rendered page"
    # The evidence column is on the right half, beside the steps.
    right = image.crop((image.width // 2, 0, image.width, image.height))
    assert has_colour(right, FLAG_RGB, at_least=500)
    left = image.crop((0, 0, image.width // 2, image.height))
    assert has_colour(left, COMMAND_RGB, at_least=2000)


def test_budget_plot_and_cost_tables(tmp_path):
    """Two budgets of one agent: two rows, their own costs, and the budget plot."""
    config = make_config({"bud": {"scaffold": "codex", "model": "gpt-x", "hours": [1, 3]}})
    tree = Tree(tmp_path, config)
    tree.baselines(BASE, INSTRUCT)
    for run, value, hours in (("bud@1h", 0.3, 1), ("bud@3h", 0.6, 3)):
        for model in ("m1", "m2"):
            for bench in ("b1", "b2"):
                usage = {"tokens": {"input": 1000, "cached": 100, "output": 10}, "cost_usd": 0.5 * hours,
                         "cost_source": "prices"}  # fmt: skip
                tree.cell(run, model, bench, value=value, seconds=hours * 3000, usage=usage, num_gpus=2,
                          budget_hours=hours)  # fmt: skip
    board = leaderboard(config, tree.results)
    rows = {r["agent"]: r for r in board.rows}
    assert set(rows) == {"bud@1h", "bud@3h"} and rows["bud@3h"]["budget_hours"] == 3
    assert rows["bud@1h"]["agent_base"] == rows["bud@3h"]["agent_base"] == "bud"
    assert rows["bud@3h"]["cost_usd"] == 6.0 and rows["bud@1h"]["input_tokens"] == 4000
    assert abs(rows["bud@3h"]["gpu_hours"] - 4 * 9000 * 2 / 3600) < 1e-9
    out = tmp_path / "out"
    plots = {name: out / f"{name}.png" for name in PLOTS}
    write_plots(board, plots)
    write_all(board, {k: out / v for k, v in OUTPUTS.items()}, plots)
    md = (out / "leaderboard.md").read_text()
    assert "| bud@3h | 3 | 4 | 4,000 | 400 | 40 | $6.00 | $1.50 | 10.00 | 20.00 |" in md
    with Image.open(plots["budget_vs_score"]) as image:
        image.load()
        assert image.width > 600 and len(image.convert("RGB").getcolors(maxcolors=1 << 20)) > 20
    assert Path(plots["budget_vs_score"]).stat().st_size > 10_000


def test_pages_are_rendered_again_only_when_a_record_changed(tmp_path):
    config, tree, _ = judged_cell_tree(tmp_path)
    board = leaderboard(config, tree.results)
    cells = [c.cell for c in board.cells]
    write_trace_pages(config, tree.results, tmp_path / "pages1", cells)
    kept = tree.folder("coder", "m1", "b1") / "trace.html"
    other = tree.folder("coder", "m2", "b2") / "trace.html"
    assert kept.read_text() == (tmp_path / "pages1" / "coder/m1/b1/seed1/trace.html").read_text()
    before = {p: p.stat().st_mtime_ns for p in (kept, other)}
    # A new verdict for one cell: only that page changes.
    tree.judgement("coder", "m2", "b2", flagged=True, reasons=["lineage: not the base model"])
    write_trace_pages(config, tree.results, tmp_path / "pages2", cells)
    assert kept.stat().st_mtime_ns == before[kept]
    assert other.stat().st_mtime_ns > before[other] and "lineage: not the base model" in other.read_text()
    assert "lineage: not the base model" in (tmp_path / "pages2" / "coder/m2/b2/seed1/trace.html").read_text()
