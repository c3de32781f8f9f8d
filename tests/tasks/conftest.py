import pytest


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
