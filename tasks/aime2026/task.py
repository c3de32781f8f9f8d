"""AIME 2026 competition math, scored by the final integer (inspect_evals' task).

An extra task: it can be listed under `benchmarks:` beside a suite's and is
reported, but it is in neither suite's weights (v1.0, v1.2).
Data: the hub dataset math-ai/aime26 (pinned by inspect_evals), read from the
local Hugging Face cache.
"""

from inspect_ai import Task, task
from inspect_evals.aime2026 import aime2026 as inspect_evals_aime2026

TASK = "aime2026"


@task
def aime2026() -> Task:
    return inspect_evals_aime2026()
