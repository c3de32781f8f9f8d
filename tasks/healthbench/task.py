"""HealthBench, PostTrainBench's "easy" subset: conversations graded against physician-written rubrics.

The subset is what upstream's filter keeps of OpenAI's official HealthBench
data: conversations of at least 5 turns (messages before the answer), with
at least one rubric criterion on the completeness axis and at most 2
negative (penalty) criteria. Upstream reports 245 conversations; the count
this filter gives is the task's `subset_size` (in the log's metadata).
Conversations are taken in upstream's order (shuffled with seed 42), so a
development `--limit N` sees the same N.

Grading is inspect_evals' HealthBench grader: an LLM judge (default
openai/gpt-5-mini, or PTB_JUDGE_MODEL, or the judge_model task argument)
decides for each criterion whether the answer meets it; a conversation
scores its points over the positive points possible, and the headline
metric is the mean over conversations clipped to [0, 1]. Without the judge's
key the task refuses to start, so the cell is recorded as failed rather
than scored zero.

Data: the official JSONL as the prefetch stored it (meta.yaml `downloads:`),
or a local copy in the same format given as local_path / PTB_HEALTHBENCH_JSONL.
"""

import json
import os
import random
import tempfile
from pathlib import Path

from graders import require_judge_key  # handed out beside this file
from inspect_ai import Task, task
from inspect_evals.healthbench import healthbench as inspect_evals_healthbench
from prefetched import downloaded_file  # handed out beside this file

TASK = "healthbench"
DEFAULT_JUDGE = "openai/gpt-5-mini"
# OpenAI's official HealthBench data (all 5,000 conversations), as simple-evals publishes it
# (meta.yaml `downloads:` fetches it into the cache folder DATA_DEST).
OFFICIAL_DATA_URL = (
    "https://openaipublic.blob.core.windows.net/simple-evals/healthbench/2025-05-07-06-14-12_oss_eval.jsonl"
)
DATA_DEST = "healthbench"
MIN_TURNS = 5
REQUIRED_AXIS = "axis:completeness"
MAX_NEGATIVE_CRITERIA = 2
UPSTREAM_SUBSET_SIZE = 245
ORDER_SEED = 42


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def in_easy_subset(record: dict) -> bool:
    """Upstream's filter: >= 5 turns, a completeness criterion, <= 2 negative criteria."""
    rubrics = record["rubrics"]
    completeness = any(REQUIRED_AXIS in r.get("tags", []) for r in rubrics)
    negatives = sum(1 for r in rubrics if r["points"] < 0)
    return len(record["prompt"]) >= MIN_TURNS and completeness and negatives <= MAX_NEGATIVE_CRITERIA


def easy_subset(records: list[dict]) -> list[dict]:
    """The filtered conversations, in upstream's evaluation order."""
    chosen = [r for r in records if in_easy_subset(r)]
    random.Random(ORDER_SEED).shuffle(chosen)
    return chosen


def official_data(local_path: str | None) -> Path:
    local_path = local_path or os.environ.get("PTB_HEALTHBENCH_JSONL") or None
    return Path(local_path) if local_path else downloaded_file(DATA_DEST, OFFICIAL_DATA_URL.rsplit("/", 1)[1])


@task
def healthbench(local_path: str | None = None, judge_model: str | None = None) -> Task:
    judge_model = judge_model or os.environ.get("PTB_JUDGE_MODEL") or DEFAULT_JUDGE
    require_judge_key(judge_model)
    subset = easy_subset(read_jsonl(official_data(local_path)))
    if not subset:
        raise ValueError("the HealthBench filter kept no conversation: is this the official data?")
    folder = Path(tempfile.mkdtemp(prefix="healthbench-easy-"))
    subset_file = folder / "healthbench_easy.jsonl"
    subset_file.write_text("".join(json.dumps(r) + "\n" for r in subset))
    task = inspect_evals_healthbench(local_path=str(subset_file), judge_model=judge_model)
    task.metadata = {
        **(task.metadata or {}),
        "subset_size": len(subset),
        "upstream_subset_size": UPSTREAM_SUBSET_SIZE,
    }
    return task
