"""The API key an LLM-graded task's grader needs (HealthBench, Arena-Hard).

Handed out beside the task.py of those tasks. Without the key a task refuses
to start, so the cell is recorded as failed rather than scored zero.
"""

import os

# Provider prefix of an Inspect model id -> the environment variable holding its key.
# workflow/secrets.py reads this table as data (it never runs this file): keep it a literal.
JUDGE_KEY_VARS = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "google": "GOOGLE_API_KEY",
    "openrouter": "OPENROUTER_API_KEY",
    "mistral": "MISTRAL_API_KEY",
    "grok": "XAI_API_KEY",
    "together": "TOGETHER_API_KEY",
    "groq": "GROQ_API_KEY",
}


class JudgeKeyMissing(RuntimeError):
    """The judge's API key is not set: grading is impossible, not a zero score."""


def judge_key_var(judge_model: str) -> str | None:
    """The variable holding the judge's key; `openai-api/SERVICE/...` reads SERVICE_API_KEY."""
    provider, _, rest = judge_model.partition("/")
    if provider == "openai-api":
        return rest.split("/", 1)[0].upper().replace("-", "_") + "_API_KEY"
    return JUDGE_KEY_VARS.get(provider)


def require_judge_key(judge_model: str) -> None:
    var = judge_key_var(judge_model)
    if var and not os.environ.get(var):
        raise JudgeKeyMissing(
            f"judge key missing: grading with {judge_model} needs {var} in the environment; "
            f"set it (or choose another judge with PTB_JUDGE_MODEL) and evaluate again"
        )
