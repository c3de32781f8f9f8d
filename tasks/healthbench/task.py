"""HealthBench: health conversations graded against physician-written rubrics.

inspect_evals' task, whose grader asks an LLM judge whether each rubric
criterion is met. The judge is an API model (default openai/gpt-5-mini, or
PTB_JUDGE_MODEL, or the judge_model task argument); without its key the task
refuses to start, so the cell is recorded as failed rather than scored zero.
Data: the subset's JSONL (prefetched into inspect_evals' cache), or a local
file given as local_path / PTB_HEALTHBENCH_JSONL.
"""

import os

from inspect_ai import Task, task
from inspect_evals.healthbench import healthbench as inspect_evals_healthbench

TASK = "healthbench"
DEFAULT_JUDGE = "openai/gpt-5-mini"

# Provider prefix of an Inspect model id -> the environment variable holding its key.
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


# task.py is handed to agents on its own, so this stays self-contained; the
# same few lines live in the other LLM-graded task.
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


@task
def healthbench(subset: str = "consensus", local_path: str | None = None, judge_model: str | None = None) -> Task:
    judge_model = judge_model or os.environ.get("PTB_JUDGE_MODEL") or DEFAULT_JUDGE
    require_judge_key(judge_model)
    local_path = local_path or os.environ.get("PTB_HEALTHBENCH_JSONL") or None
    return inspect_evals_healthbench(subset=subset, local_path=local_path, judge_model=judge_model)
