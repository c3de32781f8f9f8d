"""workflow.agent.traces on real traces saved from the CLIs (fixtures/, made by
make_fixtures.py): each <cli>.jsonl is a run plus a resumed run."""

import json
from pathlib import Path

import pytest

from workflow.agent.traces import TraceSummary, parse_trace

FIX = Path(__file__).with_name("fixtures")
COMMAND = "mkdir -p final_model && echo done > final_model/done.txt"
CLIS = ["claude", "codex", "gemini", "opencode"]


def lines(name):
    return (FIX / name).read_text().splitlines()


@pytest.mark.parametrize("cli", CLIS)
def test_fixture_summary(cli):
    s = parse_trace(cli, lines(f"{cli}.jsonl"))
    assert s.tool_calls == 1
    assert s.input_tokens > s.output_tokens > 0
    assert s.turns >= 2  # one per invocation at least
    assert f"$ {COMMAND}" in s.transcript
    assert s.transcript.count("The model is saved in final_model.") == 2  # run + resume


@pytest.mark.parametrize("cli", ["claude", "codex", "opencode"])
def test_exit_code_and_output(cli):
    s = parse_trace(cli, lines(f"{cli}_exit3.jsonl"))
    assert "$ echo oops; exit 3\n[exit 3]\noops" in s.transcript


def test_gemini_reports_no_exit_code():
    # Gemini's stream-json gives status and output, not the exit code.
    s = parse_trace("gemini", lines("gemini_exit3.jsonl"))
    assert "$ echo oops; exit 3\n[success]\noops" in s.transcript


def test_runner_wrapper_and_junk_lines():
    raw = lines("codex.jsonl")
    wrapped = [json.dumps({"t": "2026-01-01T00:00:00.000+00:00", "line": x}) for x in raw]
    junk = ["", "not json", "[1, 2]", '{"type": "some.future.event"}', raw[0][:20]]
    assert parse_trace("codex", junk + wrapped + junk) == parse_trace("codex", raw)


def test_claude_figures():
    s = parse_trace("claude", lines("claude.jsonl"))
    results = [json.loads(x) for x in lines("claude.jsonl") if '"type":"result"' in x]
    # usage is per invocation, cost cumulative over the resumed session
    assert s.input_tokens == sum(r["usage"]["input_tokens"] for r in results)
    assert s.turns == sum(r["num_turns"] for r in results)
    assert s.cost_usd == pytest.approx(results[-1]["total_cost_usd"])
    assert s.model == "claude-test"


def test_codex_usage_is_thread_total():
    raw = lines("codex.jsonl")
    last = [json.loads(x)["usage"] for x in raw if "turn.completed" in x][-1]
    s = parse_trace("codex", raw)
    assert (s.input_tokens, s.cached_tokens, s.output_tokens) == (
        last["input_tokens"],
        last["cached_input_tokens"],
        last["output_tokens"],
    )


def test_killed_run_still_counts():
    # Claude killed before its result event: usage from assistant messages;
    # Codex killed mid-command: the running command still shows.
    claude = [x for x in lines("claude_exit3.jsonl") if '"type":"result"' not in x]
    s = parse_trace("claude", claude)
    assert s.input_tokens > 0 and s.cost_usd is None
    codex = [x for x in lines("codex.jsonl") if "item.started" in x][:1]
    s = parse_trace("codex", codex)
    assert "$ mkdir -p final_model" in s.transcript and "[no result]" in s.transcript


def test_cost_from_prices():
    prices = {"gpt-test": {"input_per_mtok": 1.0, "cached_input_per_mtok": 0.1, "output_per_mtok": 10.0}}
    s = parse_trace("codex", lines("codex.jsonl"), prices=prices, model="gpt-test")
    cached = s.cached_tokens
    assert s.cost_usd == pytest.approx(((s.input_tokens - cached) * 1.0 + cached * 0.1 + s.output_tokens * 10) / 1e6)
    assert parse_trace("codex", lines("codex.jsonl")).cost_usd is None  # no price, no cost
    # a cost reported by the CLI wins over prices
    s = parse_trace("claude", lines("claude.jsonl"), prices={"claude-test": prices["gpt-test"]})
    assert s.cost_usd == parse_trace("claude", lines("claude.jsonl")).cost_usd


def test_long_output_is_cut():
    event = {
        "type": "item.completed",
        "item": {
            "id": "1",
            "type": "command_execution",
            "command": "python train.py",
            "aggregated_output": "x" * 100_000,
            "exit_code": 1,
        },
    }
    s = parse_trace("codex", [json.dumps(event)])
    assert len(s.transcript) < 3000 and "characters cut" in s.transcript and "[exit 1]" in s.transcript


def test_empty_and_unknown():
    assert parse_trace("opencode", []) == TraceSummary()
    with pytest.raises(ValueError):
        parse_trace("aider", [])
