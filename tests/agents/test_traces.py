"""workflow.agent.traces on real traces saved from the CLIs (fixtures/, made by
make_fixtures.py): each <cli>.jsonl is a run plus a resumed run."""

import json
from pathlib import Path

import pytest

from workflow.agent.traces import TraceSummary, files_written, parse_trace, usage_record

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


def timed(name):
    """A fixture as the runner stores it: each line wrapped with a timestamp (one second apart)."""
    return [json.dumps({"t": f"2026-01-01T00:00:{i:02d}.000+00:00", "line": x}) for i, x in enumerate(lines(name))]


@pytest.mark.parametrize("cli", CLIS)
def test_steps_carry_time_line_command_and_files(cli):
    wrapped = timed(f"{cli}.jsonl")
    s = parse_trace(cli, wrapped)
    tools = [x for x in s.steps if x.kind == "tool"]
    assert len(tools) == 1 and tools[0].command == COMMAND and tools[0].files == ["final_model/done.txt"]
    # each step points at the trace line it began on, and that line holds the same time
    for step in s.steps:
        assert json.loads(wrapped[step.line - 1])["t"] == step.t
        assert step.line <= step.end_line
    messages = [x.text for x in s.steps if x.kind == "message" and x.role == "assistant"]
    assert messages.count("The model is saved in final_model.") == 2
    assert [x.line for x in s.steps] == sorted(x.line for x in s.steps)


def test_killed_call_keeps_where_it_began():
    codex = timed("codex.jsonl")
    started = next(i for i, x in enumerate(codex) if "item.started" in x)
    s = parse_trace("codex", codex[: started + 1])
    step = next(x for x in s.steps if x.kind == "tool")
    assert step.status == "no result" and step.line == started + 1


@pytest.mark.parametrize(
    ("name", "args", "files"),
    [
        ("Write", {"file_path": "train.py", "content": "x"}, ["train.py"]),
        ("write_file", {"file_path": "data/a.jsonl"}, ["data/a.jsonl"]),
        ("edit", {"filePath": "sft.py"}, ["sft.py"]),
        ("apply_patch", ["add prep.py", "delete old.py", "update run.sh"], ["prep.py", "run.sh"]),
        ("Bash", {"command": "python gen.py > data.jsonl 2>&1 && echo x >> log.txt"}, ["data.jsonl", "log.txt"]),
        ("bash", {"command": "python train.py 2>&1 | tee -a train.log; ls > /dev/null"}, ["train.log"]),
        ("Bash", {"command": "nvidia-smi"}, []),
        ("Read", {"file_path": "evaluate.py"}, []),
    ],
)
def test_files_written(name, args, files):
    assert files_written(name, args) == files


def test_usage_record_claude_reports_its_own_cost(tmp_path):
    trace = tmp_path / "trace.jsonl"
    trace.write_text("\n".join(timed("claude.jsonl")) + "\n")
    usage = usage_record("claude", trace, prices={"claude-test": {"input_per_mtok": 1e6, "output_per_mtok": 1e6}})
    s = parse_trace("claude", lines("claude.jsonl"))
    assert usage["cost_source"] == "cli" and usage["cost_usd"] == pytest.approx(s.cost_usd)
    assert usage["tokens"] == {"input": s.input_tokens, "cached": s.cached_tokens, "output": s.output_tokens}


@pytest.mark.parametrize("cli", ["codex", "gemini"])
def test_usage_record_prices_tokens_by_the_configured_model(cli, tmp_path):
    trace = tmp_path / "trace.jsonl"
    trace.write_text("\n".join(timed(f"{cli}.jsonl")) + "\n")
    price = {"input_per_mtok": 2.0, "cached_input_per_mtok": 0.5, "output_per_mtok": 8.0}
    usage = usage_record(cli, trace, prices={"my-model": price}, model="my-model")
    t = usage["tokens"]
    assert t["input"] > t["output"] > 0
    expected = ((t["input"] - t["cached"]) * 2.0 + t["cached"] * 0.5 + t["output"] * 8.0) / 1e6
    assert usage["cost_source"] == "prices" and usage["cost_usd"] == pytest.approx(expected, abs=1e-6)
    unpriced = usage_record(cli, trace, prices={"other": price}, model="my-model")
    assert unpriced["cost_usd"] is None and unpriced["cost_source"] is None and unpriced["tokens"] == t


def test_usage_record_without_a_cli():
    assert usage_record("reference-sft", Path("/nonexistent")) is None
    assert usage_record("codex", Path("/nonexistent")) == usage_record("codex", Path("/nonexistent"))
    assert usage_record("codex", Path("/nonexistent"))["tokens"] == {"input": 0, "cached": 0, "output": 0}
