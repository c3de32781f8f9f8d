"""HealthBench: health conversations graded against physician-written rubrics.

inspect_evals' task, whose grader asks an LLM judge whether each rubric
criterion is met. The judge is an API model (default openai/gpt-5-mini, or
PTB_JUDGE_MODEL, or the judge_model task argument); without its key the task
refuses to start, so the cell is recorded as failed rather than scored zero.
Data: the subset's JSONL (prefetched into inspect_evals' cache), or a local
file given as local_path / PTB_HEALTHBENCH_JSONL.
"""

import os

from graders import require_judge_key  # handed out beside this file
from inspect_ai import Task, task
from inspect_evals.healthbench import healthbench as inspect_evals_healthbench

TASK = "healthbench"
DEFAULT_JUDGE = "openai/gpt-5-mini"


@task
def healthbench(subset: str = "consensus", local_path: str | None = None, judge_model: str | None = None) -> Task:
    judge_model = judge_model or os.environ.get("PTB_JUDGE_MODEL") or DEFAULT_JUDGE
    require_judge_key(judge_model)
    local_path = local_path or os.environ.get("PTB_HEALTHBENCH_JSONL") or None
    return inspect_evals_healthbench(subset=subset, local_path=local_path, judge_model=judge_model)
