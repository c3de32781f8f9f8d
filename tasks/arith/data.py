"""Synthetic arithmetic word problems in GSM8K's answer format.

Every problem belongs to exactly one split, decided by a hash of its question
text, so the test set and anything generated for training are disjoint by
construction: a training generator simply drops test-split questions.
"""

import hashlib
import json
import random
from pathlib import Path

NAMES = ["Ava", "Ben", "Cleo", "Dan", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jade"]
THINGS = ["apples", "books", "coins", "pens", "shells", "stamps", "cards", "eggs"]
TEST_SIZE = 100
# The held-out test set, committed beside this file: problems("test", TEST_SIZE) written out once,
# so the evaluation and the judge read it as data.
TEST_FILE = Path(__file__).with_name("test.jsonl")


def split_of(question: str) -> str:
    """The split a question belongs to: one in five goes to test."""
    digest = hashlib.sha256(question.encode()).digest()
    return "test" if digest[0] % 5 == 0 else "train"


def _problem(rng: random.Random) -> dict:
    name, thing = rng.choice(NAMES), rng.choice(THINGS)
    a, b = rng.randint(1, 9), rng.randint(1, 9)
    if rng.random() < 0.5:
        question = f"{name} has {a} {thing} and finds {b} more. How many {thing} does {name} have now?"
        work, answer = f"{a} + {b} = {a + b}", a + b
    else:
        a, b = max(a, b), min(a, b)
        question = f"{name} has {a} {thing} and gives away {b}. How many {thing} does {name} have now?"
        work, answer = f"{a} - {b} = {a - b}", a - b
    return {"question": question, "answer": f"{work}\n#### {answer}", "target": str(answer)}


def problems(split: str, n: int, seed: int = 0) -> list[dict]:
    """The first n distinct problems of a split from a seeded generator."""
    if split not in ("train", "test"):
        raise ValueError(f"unknown split {split!r}; use 'train' or 'test'")
    # The test set always comes from one fixed stream; training streams are
    # offset so a seed never reproduces the test enumeration.
    rng = random.Random("test" if split == "test" else f"train-{seed}")
    seen: set[str] = set()
    out: list[dict] = []
    for _ in range(50 * n + 100_000):
        p = _problem(rng)
        if split_of(p["question"]) == split and p["question"] not in seen:
            seen.add(p["question"])
            out.append(p)
            if len(out) == n:
                return out
    raise ValueError(f"cannot draw {n} distinct {split} problems (the {split} split has {len(out)})")


def test_set() -> list[dict]:
    return [json.loads(line) for line in TEST_FILE.read_text().splitlines() if line.strip()]
