import pytest

from tests.tasks.judge_server import JudgeServer


@pytest.fixture(autouse=True)
def offline_mockllm_token_count(monkeypatch):
    """mockllm counts its input with tiktoken, whose encoding file is a download; count words instead."""
    from inspect_ai.model._providers.mockllm import MockLLM

    async def count_tokens(self, input):
        text = input if isinstance(input, str) else " ".join(m.text for m in input)
        return len(text.split())

    async def count_text_tokens(self, text):
        return len(text.split())

    monkeypatch.setattr(MockLLM, "count_tokens", count_tokens)
    monkeypatch.setattr(MockLLM, "count_text_tokens", count_text_tokens)


@pytest.fixture(scope="session")
def judge_server():
    """One loopback judge for the whole session: Inspect memoizes the judge model, and with it the
    server's address, so a second server (another module's) would never be reached."""
    behaviour = {}
    with JudgeServer(lambda messages: behaviour["reply"](messages)) as server, pytest.MonkeyPatch.context() as mp:
        mp.setenv("LOOPBACK_BASE_URL", server.base_url)
        mp.setenv("LOOPBACK_API_KEY", "loopback-test-key")
        server.behaviour = behaviour
        yield server


@pytest.fixture
def loopback_judge(judge_server):
    """A setter for the judge's reply; the `openai-api/loopback/...` provider reaches it."""
    judge_server.requests.clear()
    judge_server.auth_headers.clear()

    def set_reply(fn):
        judge_server.behaviour["reply"] = fn
        return judge_server

    return set_reply
