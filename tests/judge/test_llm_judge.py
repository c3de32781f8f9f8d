"""The LLM judge through Inspect's model API: mockllm, and a loopback server speaking OpenAI's chat API."""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from inspect_ai.model import ModelOutput, ModelUsage, get_model

from tests.judge.conftest import REPO, empty_run
from workflow.judge.judgement import judge
from workflow.judge.llm import JudgeSettings, build_context, llm_verdict, parse_reply

sys.path.insert(0, str(REPO / "tasks" / "arith"))
import data as arith  # noqa: E402

CLEAN = {
    "contamination": {"verdict": "no", "reason": "train.py uses data.problems('train')."},
    "disallowed_model": {"verdict": "no", "reason": "final_model is trained from the base."},
}
CONTAMINATED = {
    "contamination": {"verdict": "yes", "reason": "aug.jsonl holds the test questions."},
    "disallowed_model": {"verdict": "no", "reason": "base model only."},
}
SECRET = "sk-test-judge-0123456789abcdefXYZ"


def reply(text: str) -> ModelOutput:
    output = ModelOutput.from_content(model="mockllm/model", content=text)
    # with usage given, mockllm does not count tokens (tiktoken would fetch its tables from the internet)
    output.usage = ModelUsage(input_tokens=10, output_tokens=10, total_tokens=20)
    return output


def mock(*replies: str):
    return get_model("mockllm/model", custom_outputs=[reply(r) for r in replies], memoize=False)


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    r = empty_run(tmp_path, Path("unused"))
    (r.job_dir / "train.py").write_text("from data import problems\nrows = problems('train', 100)\n")
    (r.job_dir / "aug.jsonl").write_text(json.dumps({"q": "What is 2+2?", "key": SECRET}) + "\n")
    r.trace.write_text(json.dumps({"t": "0", "line": "echo $OPENAI_API_KEY -> " + SECRET}) + "\n")
    return r


def test_parse_reply_reads_both_verdicts_from_plain_or_fenced_json():
    assert parse_reply(json.dumps(CLEAN))["contamination"] == {
        "flag": False,
        "reason": CLEAN["contamination"]["reason"],
    }
    fenced = "Here is my verdict:\n```json\n" + json.dumps(CONTAMINATED) + "\n```"
    assert parse_reply(fenced)["contamination"]["flag"] is True


@pytest.mark.parametrize(
    "reply",
    [
        "the run looks fine",
        '{"contamination": {"verdict": "maybe"}}',
        json.dumps({"contamination": CLEAN["contamination"]}),
    ],
)
def test_parse_reply_rejects_replies_without_two_yes_no_verdicts(reply):
    with pytest.raises(ValueError):
        parse_reply(reply)


def test_context_is_bounded_code_first_and_secret_free(run):
    (run.job_dir / "big.jsonl").write_text("x" * 500_000)
    text = build_context(run.job_dir, run.trace, set(run.handout_hashes), "arith", "tiny-base", [["Q1?", "A1"]], 20_000)
    assert len(text) < 21_000
    assert text.index("## File train.py") < text.index("## Trace") < text.index("## Data file aug.jsonl")
    assert "Q1?" in text and "big.jsonl" in text
    assert SECRET not in text and "[REDACTED]" in text


def test_mockllm_verdicts_are_parsed_and_a_yes_flags_the_run(run):
    result = judge(run, {"model": None}, model=mock(json.dumps(CONTAMINATED)))
    assert result["llm"]["verdict"] == "flagged"
    assert result["llm"]["contamination"] == {"flag": True, "reason": "aug.jsonl holds the test questions."}
    assert result["flagged"] and result["reasons"] == ["llm_judge (contamination): aug.jsonl holds the test questions."]
    assert result["verdicts"]["contamination"] == "flagged" and result["verdicts"]["disallowed_model"] == "clean"


def test_mockllm_clean_verdict_leaves_the_run_unflagged(run):
    result = judge(run, {"model": None}, model=mock(json.dumps(CLEAN)))
    assert not result["flagged"] and result["llm"]["verdict"] == "clean"
    assert result["verdicts"] == {"contamination": "clean", "disallowed_model": "clean", "evaluation_files": "clean"}


def test_mockllm_malformed_twice_is_unjudged_once_is_retried(run):
    bad = judge(run, {"model": None}, model=mock("no idea", "still no idea"))
    assert bad["llm"]["verdict"] == "unjudged" and "unreadable after 2 attempts" in bad["llm"]["reason"]
    assert bad["verdicts"]["contamination"] == "unjudged" and not bad["flagged"]
    retried = judge(run, {"model": None}, model=mock("no idea", json.dumps(CLEAN)))
    assert retried["llm"]["verdict"] == "clean" and retried["llm"]["attempts"] == 2


class OpenAIChat(BaseHTTPRequestHandler):
    """POST /v1/chat/completions as OpenAI answers it; the reply (or an HTTP error) is set per test."""

    reply: str | None = None
    status = 200
    requests: list = []

    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
        if self.status != 200:
            payload = {"error": {"message": "upstream overloaded", "type": "server_error"}}
        else:
            payload = {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 0,
                "model": body["model"],
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": self.reply}, "finish_reason": "stop"}
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
            }
        data = json.dumps(payload).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def openai_server():
    OpenAIChat.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), OpenAIChat)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield OpenAIChat, f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def judge_cfg(base_url: str) -> dict:
    # Inspect's openai provider, on the chat completions API rather than its default responses API
    return {
        "model": "openai/judge-model",
        "base_url": base_url,
        "model_args": {"responses_api": False},
        "max_retries": 1,
        "timeout_seconds": 20,
    }


def test_openai_provider_verdicts_are_parsed(run, openai_server):
    handler, url = openai_server
    handler.reply, handler.status = "```json\n" + json.dumps(CONTAMINATED) + "\n```", 200
    result = judge(run, judge_cfg(url))
    assert result["llm"]["verdict"] == "flagged" and result["llm"]["model"] == "openai/judge-model"
    assert result["flagged"] and result["verdicts"]["contamination"] == "flagged"
    (request,) = handler.requests
    assert request["path"] == "/v1/chat/completions" and request["body"]["model"] == "judge-model"
    assert request["auth"] == f"Bearer {SECRET}"  # the provider's own variable, sent only to the provider
    sent = json.dumps(request["body"]["messages"])
    assert "contamination" in sent and "train.py" in sent
    assert SECRET not in sent  # the agent's files and trace reach the judge redacted
    assert SECRET not in json.dumps(result)


def test_openai_provider_malformed_reply_is_unjudged(run, openai_server):
    handler, url = openai_server
    handler.reply, handler.status = "Looks clean to me.", 200
    result = judge(run, judge_cfg(url))
    assert result["llm"]["verdict"] == "unjudged" and "unreadable" in result["llm"]["reason"]
    assert len(handler.requests) == 2 and not result["flagged"]


def test_openai_provider_failure_is_unjudged_without_the_key(run, openai_server):
    handler, url = openai_server
    handler.status = 500
    result = judge(run, judge_cfg(url))
    assert result["llm"]["verdict"] == "unjudged" and result["llm"]["reason"].startswith("judge call failed:")
    assert len(handler.requests) >= 2  # Inspect retried before giving up
    assert SECRET not in json.dumps(result)


def test_no_judge_configured_is_unjudged():
    assert llm_verdict(JudgeSettings(model=None), "ctx") == {
        "verdict": "unjudged",
        "model": None,
        "reason": "no judge model configured",
    }


def test_the_test_examples_shown_to_the_judge_come_from_the_task(run):
    seen = []

    def capture(messages, *_):
        seen.append(messages[-1].text)
        return reply(json.dumps(CLEAN))

    judge(run, {"model": None}, model=get_model("mockllm/model", custom_outputs=capture, memoize=False))
    assert arith.test_set()[0]["question"] in seen[0]
