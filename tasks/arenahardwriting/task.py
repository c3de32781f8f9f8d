"""Arena-Hard v2.0, creative writing: pairwise judgement against a baseline model's answers.

As PostTrainBench runs it: the 250 creative_writing questions of Arena-Hard
v2.0; the baseline is Qwen/Qwen3-1.7B, whose answers the pipeline generates
once and stores in the shared cache (a task argument may name another
file); each pair is judged twice, once in each order, by gpt-5-mini at
medium reasoning effort. The judge's system prompt, the user-prompt template
and the verdict patterns are Arena-Hard's own, read as data from the files
of its official release that the prefetch fetched (meta.yaml `downloads:`:
utils/judge_utils.py, parsed and never run, and config/arena-hard-v2.0.yaml).

A verdict counts as upstream counts it: `A>>B` (much better) is three wins
for A, `A>B` one, a tie one half for each; the score is the candidate's mean
win probability over all those outcomes (not an Elo fit). A judgement whose
verdict cannot be read is asked again; if it still has none, the question is
counted as missing (both of its games are left out, as upstream does) and
reported in the `verdicts_missing` metric, never scored as a tie.

Data: question.jsonl from the hub dataset lmarena-ai/arena-hard-auto (local
Hugging Face cache), or data_dir / PTB_ARENA_HARD_DIR. With
`answers_only=True` the task only collects answers (no judge): that is how
the pipeline makes the baseline's answers.
"""

import ast
import json
import math
import os
import random
import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from graders import require_judge_key  # handed out beside this file
from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.model import ChatMessageSystem, ChatMessageUser, GenerateConfig, get_model
from inspect_ai.scorer import SampleScore, Score, Target, accuracy, metric, scorer
from inspect_ai.solver import TaskState, generate
from prefetched import downloaded_file, pipeline_file  # handed out beside this file

TASK = "arenahardwriting"
HUB_DATASET = "lmarena-ai/arena-hard-auto"
SUBDIR = "data/arena-hard-v2.0"
CATEGORY = "creative_writing"
DATASET_NAME = "arena-hard-v2.0-writing"
# Arena-Hard's official release, pinned; its judge settings are read from these files
# (meta.yaml `downloads:` fetches them into the cache folder RELEASE_DEST).
ARENA_HARD_RELEASE = (
    "https://raw.githubusercontent.com/lmarena/arena-hard-auto/005ac120c11d3a1bbc35b0408a926dbc614de9c7"
)
RELEASE_DEST = "arena-hard-auto"
JUDGE_SETTINGS_FILE = "utils/judge_utils.py"
JUDGE_CONFIG_FILE = "config/arena-hard-v2.0.yaml"
BASELINE_MODEL = "Qwen/Qwen3-1.7B"
DEFAULT_JUDGE = "openai/gpt-5-mini"
REASONING_EFFORT = "medium"
JUDGE_MAX_TOKENS = 49152
STRONG_WEIGHT = 3  # a ">>" verdict counts as this many outcomes
VERDICT_TRIES = 3  # judgements asked per game before its verdict counts as missing
QUESTION_ORDER_SEED = 42  # questions are shuffled with this seed, so --limit N takes upstream's N
MAX_REPEATS = 5  # a line or phrase repeated more often than this is cut back before judging

THINKING = re.compile(r"^\s*<think>.*?</think>\s*", re.DOTALL)


# --- data -----------------------------------------------------------------------------


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def find_data_dir(data_dir: str | None) -> Path:
    data_dir = data_dir or os.environ.get("PTB_ARENA_HARD_DIR")
    if data_dir:
        path = Path(data_dir)
    else:
        from huggingface_hub import snapshot_download

        pattern = [f"{SUBDIR}/question.jsonl"]
        path = Path(snapshot_download(HUB_DATASET, repo_type="dataset", allow_patterns=pattern)) / SUBDIR
    if not (path / "question.jsonl").exists():
        raise FileNotFoundError(f"no Arena-Hard question.jsonl in {path}")
    return path


def model_alias(model: str) -> str:
    """How Arena-Hard names a model's answer file: the last part of its id."""
    return model.rstrip("/").split("/")[-1]


def default_baseline_file(baseline_model: str = BASELINE_MODEL) -> Path:
    """Where the pipeline stores the baseline's answers in the shared cache."""
    return pipeline_file("arena-hard-v2.0", "model_answer", f"{model_alias(baseline_model)}.jsonl")


def answer_text(record: dict) -> str:
    """The final answer of an Arena-Hard model_answer record."""
    content = record["messages"][-1]["content"]
    return content["answer"] if isinstance(content, dict) else content


def answer_record(uid: str, model: str, prompt: str, answer: str) -> dict:
    """A model_answer record in Arena-Hard's layout."""
    return {
        "uid": uid,
        "model": model,
        "messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": {"answer": answer}}],
    }


def questions(data_dir: Path, category: str) -> list[dict]:
    """The category's questions in upstream's evaluation order (shuffled with a fixed seed)."""
    chosen = [q for q in read_jsonl(data_dir / "question.jsonl") if q.get("category") == category]
    if not chosen:
        raise ValueError(f"no {category} questions in {data_dir / 'question.jsonl'}")
    random.Random(QUESTION_ORDER_SEED).shuffle(chosen)
    return chosen


def load_samples(chosen: list[dict], baseline_answers: dict[str, str] | None) -> list[Sample]:
    samples = []
    for q in chosen:
        metadata = {"subcategory": q.get("subcategory")}
        if baseline_answers is not None:
            if q["uid"] not in baseline_answers:
                raise ValueError(f"the baseline answers have none for question {q['uid']}")
            metadata["baseline_answer"] = baseline_answers[q["uid"]]
        samples.append(Sample(id=q["uid"], input=q["prompt"], metadata=metadata))
    return samples


# --- the judge's settings, read from Arena-Hard's release -----------------------------


@dataclass(frozen=True)
class JudgeSettings:
    system_prompt: str
    prompt_template: str  # with {QUESTION}, {ANSWER_A}, {ANSWER_B}
    patterns: tuple[str, ...]  # regexes whose last match is the verdict label


def _string_constants(tree: ast.Module) -> dict[str, str]:
    consts = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    consts[target.id] = node.value.value
    return consts


def system_prompt_from_source(source: str, category: str) -> str:
    """JUDGE_SETTINGS[category]["system_prompt"] of Arena-Hard's judge_utils.py, read without running it."""
    tree = ast.parse(source)
    consts = _string_constants(tree)
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "JUDGE_SETTINGS" for t in node.targets)):
            continue
        if not isinstance(node.value, ast.Dict):
            break
        for key, value in zip(node.value.keys, node.value.values, strict=True):
            if not (isinstance(key, ast.Constant) and key.value == category and isinstance(value, ast.Dict)):
                continue
            for k, v in zip(value.keys, value.values, strict=True):
                if isinstance(k, ast.Constant) and k.value == "system_prompt":
                    if isinstance(v, ast.Constant) and isinstance(v.value, str):
                        return v.value
                    if isinstance(v, ast.Name) and v.id in consts:
                        return consts[v.id]
    raise ValueError(f"no JUDGE_SETTINGS[{category!r}]['system_prompt'] string in the judge settings file")


def judge_settings(settings_file: Path, config_file: Path, category: str = CATEGORY) -> JudgeSettings:
    system = system_prompt_from_source(Path(settings_file).read_text(), category)
    config = yaml.safe_load(Path(config_file).read_text())
    patterns = config.get("regex_patterns") or [config["regex_pattern"]]
    template = config["prompt_template"]
    for field in ("{QUESTION}", "{ANSWER_A}", "{ANSWER_B}"):
        if field not in template:
            raise ValueError(f"the judge's prompt_template in {config_file} lacks {field}")
    return JudgeSettings(system, template, tuple(patterns))


# --- answers and verdicts -------------------------------------------------------------


def limit_repeats(text: str, max_repeats: int = MAX_REPEATS) -> str:
    """Cut runaway repetition (a degenerate answer's loop) back to max_repeats copies."""
    lines, kept, run = text.split("\n"), [], 0
    for i, line in enumerate(lines):
        run = run + 1 if i and line == lines[i - 1] else 1
        if run <= max_repeats:
            kept.append(line)
    text = "\n".join(kept)
    repeated = re.compile(r"(.{3,500}?)\1{" + str(max_repeats) + ",}", re.DOTALL)
    previous = None
    while previous != text:
        previous, text = text, repeated.sub(lambda m: m.group(1) * max_repeats, text)
    return text


def clean_answer(completion: str) -> str:
    """The answer the judge sees: no thinking, runaway repetition cut back."""
    return limit_repeats(THINKING.sub("", completion).strip())


# Outcomes for assistant A of each verdict label Arena-Hard's judge may give.
LABEL_OUTCOMES_FOR_A = {
    "A>>B": [1.0] * STRONG_WEIGHT,
    "A>B": [1.0],
    "A=B": [0.5],
    "A<B": [0.0],
    "A<<B": [0.0] * STRONG_WEIGHT,
    "B<<A": [1.0] * STRONG_WEIGHT,
    "B<A": [1.0],
    "B=A": [0.5],
    "B>A": [0.0],
    "B>>A": [0.0] * STRONG_WEIGHT,
}


def verdict_label(judgement: str, patterns: tuple[str, ...]) -> str | None:
    """The judgement's verdict label (the last match of the first pattern that matches); None if unreadable."""
    for pattern in patterns:
        found = [m for m in re.findall(pattern, judgement.upper()) if m]
        if found:
            label = found[-1].strip("\n")
            return label if label in LABEL_OUTCOMES_FOR_A else None
    return None


def candidate_outcomes(label: str, candidate: str) -> list[float]:
    """The candidate's outcomes (1 win, 0.5 tie, 0 loss) in one game, given its position A or B."""
    for_a = LABEL_OUTCOMES_FOR_A[label]
    return list(for_a) if candidate == "A" else [1.0 - x for x in for_a]


def win_probability_of(samples: list[dict]) -> float:
    """Mean outcome over every judged game's outcomes; NaN when no question was judged."""
    outcomes = sum((s.get("outcomes") or [] for s in samples), [])
    return sum(outcomes) / len(outcomes) if outcomes else math.nan


@metric
def win_probability():
    def compute(scores: list[SampleScore]) -> float:
        return win_probability_of([s.score.metadata or {} for s in scores])

    return compute


@metric
def verdicts_missing():
    def compute(scores: list[SampleScore]) -> float:
        return float(sum(1 for s in scores if (s.score.metadata or {}).get("missing")))

    return compute


@metric
def questions_judged():
    def compute(scores: list[SampleScore]) -> float:
        return float(sum(1 for s in scores if (s.score.metadata or {}).get("outcomes")))

    return compute


@scorer(metrics=[win_probability(), verdicts_missing(), questions_judged()])
def pairwise_judge(
    judge_model: str,
    system_prompt: str,
    prompt_template: str,
    patterns: list[str],
    judge_max_tokens: int,
    tries: int = VERDICT_TRIES,
):
    settings = JudgeSettings(system_prompt, prompt_template, tuple(patterns))

    async def judge_game(question: str, answer_a: str, answer_b: str) -> tuple[str | None, list[str], int]:
        judge = get_model(judge_model)
        prompt = settings.prompt_template.format(QUESTION=question, ANSWER_A=answer_a, ANSWER_B=answer_b)
        messages = [ChatMessageSystem(content=settings.system_prompt), ChatMessageUser(content=prompt)]
        config = GenerateConfig(max_tokens=judge_max_tokens, reasoning_effort=REASONING_EFFORT)
        texts = []
        for attempt in range(1, tries + 1):
            out = await judge.generate(messages, config=config)
            texts.append(out.completion)
            label = verdict_label(out.completion, settings.patterns)
            if label:
                return label, texts, attempt
        return None, texts, tries

    async def score(state: TaskState, target: Target) -> Score:
        answer = clean_answer(state.output.completion)
        baseline = state.metadata["baseline_answer"]
        # Game 1: the baseline is A and the candidate B; game 2 swaps them.
        games = []
        for candidate, (a, b) in (("B", (baseline, answer)), ("A", (answer, baseline))):
            label, texts, asked = await judge_game(state.input_text, a, b)
            games.append({"candidate": candidate, "label": label, "asked": asked, "judgements": texts})
        labels = [g["label"] for g in games]
        explanation = "\n\n---\n\n".join(g["judgements"][-1] for g in games)
        if None in labels:
            return Score(
                value="missing",
                answer=answer,
                explanation=f"verdict missing after {tries} judgements\n\n{explanation}",
                metadata={"missing": True, "labels": labels, "asked": [g["asked"] for g in games]},
            )
        outcomes = [x for g in games for x in candidate_outcomes(g["label"], g["candidate"])]
        return Score(
            value=sum(outcomes) / len(outcomes),
            answer=answer,
            explanation=explanation,
            metadata={"outcomes": outcomes, "labels": labels, "asked": [g["asked"] for g in games]},
        )

    return score


@scorer(metrics=[accuracy()])
def answer_collected():
    """answers_only mode: keep the cleaned answer; 1 when the model answered at all."""

    async def score(state: TaskState, target: Target) -> Score:
        answer = clean_answer(state.output.completion)
        return Score(value=1.0 if answer else 0.0, answer=answer)

    return score


@task
def arenahardwriting(
    data_dir: str | None = None,
    judge_model: str | None = None,
    baseline_file: str | None = None,
    judge_settings_file: str | None = None,
    judge_config_file: str | None = None,
    category: str = CATEGORY,
    judge_max_tokens: int = JUDGE_MAX_TOKENS,
    answers_only: bool = False,
) -> Task:
    if answers_only:
        dataset = MemoryDataset(load_samples(questions(find_data_dir(data_dir), category), None), name=DATASET_NAME)
        return Task(dataset=dataset, solver=generate(), scorer=answer_collected())
    judge_model = judge_model or os.environ.get("PTB_JUDGE_MODEL") or DEFAULT_JUDGE
    require_judge_key(judge_model)
    chosen = questions(find_data_dir(data_dir), category)
    settings = judge_settings(
        Path(judge_settings_file) if judge_settings_file else downloaded_file(RELEASE_DEST, JUDGE_SETTINGS_FILE),
        Path(judge_config_file) if judge_config_file else downloaded_file(RELEASE_DEST, JUDGE_CONFIG_FILE),
        category,
    )
    path = Path(baseline_file) if baseline_file else default_baseline_file()
    if not path.is_file():
        raise FileNotFoundError(
            f"no baseline answers at {path}: the pipeline makes them from {BASELINE_MODEL} "
            f"(rule arena_baseline_answers), or pass baseline_file=<model_answer .jsonl>"
        )
    baseline_answers = {r["uid"]: answer_text(r) for r in read_jsonl(path)}
    return Task(
        dataset=MemoryDataset(load_samples(chosen, baseline_answers), name=DATASET_NAME),
        solver=generate(),
        scorer=pairwise_judge(
            judge_model, settings.system_prompt, settings.prompt_template, list(settings.patterns), judge_max_tokens
        ),
    )
