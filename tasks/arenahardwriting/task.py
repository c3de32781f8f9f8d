"""Arena-Hard v2.0, creative-writing prompts: pairwise judgement against a baseline.

Each answer is compared with a fixed baseline model's answer to the same
prompt by an LLM judge, twice (both orders, to cancel position bias). A
sample scores the candidate's share of the two games (win 1, tie 0.5,
loss 0); the metric is the mean, i.e. the win rate against the baseline.

Data: Arena-Hard's question.jsonl and model_answer/<baseline>.jsonl, from
data_dir / PTB_ARENA_HARD_DIR, or else the hub dataset lmarena-ai/arena-hard-auto
in the local Hugging Face cache. The judge is an API model (default
openai/gpt-5-mini, or PTB_JUDGE_MODEL, or the judge_model task argument);
without its key the task refuses to start, so the cell is recorded as failed
rather than scored zero.
"""

import json
import os
import re
from pathlib import Path

from graders import require_judge_key  # handed out beside this file
from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.model import ChatMessageSystem, ChatMessageUser, get_model
from inspect_ai.scorer import Score, Target, accuracy, scorer, stderr
from inspect_ai.solver import TaskState, generate

TASK = "arenahardwriting"
HUB_DATASET = "lmarena-ai/arena-hard-auto"
SUBDIR = "data/arena-hard-v2.0"
CATEGORY = "creative_writing"
BASELINE = "gemini-2.0-flash-001"
DEFAULT_JUDGE = "openai/gpt-5-mini"

JUDGE_SYSTEM = """You compare two AI assistants' responses to the same user prompt, which asks for a piece of writing.
First think about what an excellent response would contain. Then weigh both responses on how well they follow the
prompt, their quality and originality as writing, their correctness, and whether their length suits the request.
Do not let the order of the responses or their length alone sway you.
Finish with your verdict as the last line, exactly one of these labels:
[[A>>B]] if A is much better, [[A>B]] if A is better, [[A=B]] if they are about equal,
[[B>A]] if B is better, [[B>>A]] if B is much better."""

JUDGE_USER = """# User prompt
{prompt}

# Response A
{answer_a}

# Response B
{answer_b}"""

VERDICT = re.compile(r"\[\[\s*([AB])\s*(>>|>|=|<<|<)\s*([AB])\s*\]\]")
THINKING = re.compile(r"^\s*<think>.*?</think>\s*", re.DOTALL)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def find_data_dir(data_dir: str | None) -> Path:
    data_dir = data_dir or os.environ.get("PTB_ARENA_HARD_DIR")
    if data_dir:
        path = Path(data_dir)
    else:
        from huggingface_hub import snapshot_download

        pattern = [f"{SUBDIR}/question.jsonl", f"{SUBDIR}/model_answer/{BASELINE}.jsonl"]
        path = Path(snapshot_download(HUB_DATASET, repo_type="dataset", allow_patterns=pattern)) / SUBDIR
    if not (path / "question.jsonl").exists():
        raise FileNotFoundError(f"no Arena-Hard question.jsonl in {path}")
    return path


def answer_text(record: dict) -> str:
    """The final answer of an Arena-Hard model_answer record."""
    content = record["messages"][-1]["content"]
    return content["answer"] if isinstance(content, dict) else content


def load_samples(data_dir: Path, baseline: str, category: str) -> list[Sample]:
    baseline_file = data_dir / "model_answer" / f"{baseline}.jsonl"
    if not baseline_file.exists():
        raise FileNotFoundError(f"no baseline answers {baseline_file}")
    baseline_answers = {r["uid"]: answer_text(r) for r in read_jsonl(baseline_file)}
    samples = []
    for q in read_jsonl(data_dir / "question.jsonl"):
        if q.get("category") != category:
            continue
        if q["uid"] not in baseline_answers:
            raise ValueError(f"baseline {baseline} has no answer for question {q['uid']}")
        samples.append(
            Sample(
                id=q["uid"],
                input=q["prompt"],
                metadata={"baseline_answer": baseline_answers[q["uid"]], "subcategory": q.get("subcategory")},
            )
        )
    if not samples:
        raise ValueError(f"no {category} questions in {data_dir / 'question.jsonl'}")
    return samples


def candidate_points(judgement: str, candidate: str) -> float | None:
    """The candidate's result in one game (1 win, 0.5 tie, 0 loss); None without a verdict."""
    found = VERDICT.findall(judgement)
    if not found:
        return None
    left, op, right = found[-1]
    if op == "=":
        return 0.5
    better = left if op.startswith(">") else right
    return 1.0 if better == candidate else 0.0


@scorer(metrics=[accuracy(), stderr()])
def pairwise_judge(judge_model: str, judge_max_tokens: int):
    async def score(state: TaskState, target: Target) -> Score:
        judge = get_model(judge_model)
        answer = THINKING.sub("", state.output.completion).strip()
        baseline = state.metadata["baseline_answer"]
        games = []
        # Game 1: baseline is A, candidate is B; game 2 swaps them.
        for candidate, (a, b) in (("B", (baseline, answer)), ("A", (answer, baseline))):
            prompt = JUDGE_USER.format(prompt=state.input_text, answer_a=a, answer_b=b)
            out = await judge.generate(
                [ChatMessageSystem(content=JUDGE_SYSTEM), ChatMessageUser(content=prompt)],
                config={"max_tokens": judge_max_tokens},
            )
            games.append((candidate_points(out.completion, candidate), out.completion))
        points = [p for p, _ in games if p is not None]
        # No verdict in either game carries no information: count it as a tie.
        value = sum(points) / len(points) if points else 0.5
        return Score(
            value=value,
            answer=answer,
            explanation="\n\n---\n\n".join(text for _, text in games),
            metadata={"games": [p for p, _ in games]},
        )

    return score


@task
def arenahardwriting(
    data_dir: str | None = None,
    judge_model: str | None = None,
    baseline: str = BASELINE,
    category: str = CATEGORY,
    judge_max_tokens: int = 16000,
) -> Task:
    judge_model = judge_model or os.environ.get("PTB_JUDGE_MODEL") or DEFAULT_JUDGE
    require_judge_key(judge_model)
    samples = load_samples(find_data_dir(data_dir), baseline, category)
    return Task(
        dataset=MemoryDataset(samples, name="arena-hard-v2.0-writing"),
        solver=generate(),
        scorer=pairwise_judge(judge_model, judge_max_tokens),
    )
