"""reference-sft's data: the benchmark's allowed training sets, as chat conversations.

data.yaml (beside this file) names each benchmark's sources; a source is a hub
dataset read from the local Hugging Face cache (the prefetch put it there)
or a generator file handed out with the task. Each row becomes one example
{"prompt": [messages], "completion": [assistant message], "tools": [...]}
through a named format below, in the answer style the benchmark's scorer
reads ("ANSWER: ..." lines, a fenced code block, tool calls).
"""

import ast
import hashlib
import importlib.util
import json
import random
import re
from pathlib import Path

import yaml

DATA_FILE = Path(__file__).with_name("data.yaml")
SOURCE_KEYS = {"repo", "name", "data_dir", "revision", "generator", "split", "format", "limit", "where"}

MATH_PROMPT = (
    "Solve this problem step by step. End with the final answer on its own line, "
    'written as "ANSWER: <answer>".\n\n{problem}'
)
CHOICE_PROMPT = (
    "Answer this multiple choice question. Think it through step by step, then end with a line "
    '"ANSWER: <letter>", where the letter is one of {letters}.\n\n{question}\n\n{choices}'
)
CODE_PROMPT = (
    "Write a Python function for this task. Reply with the complete function in a "
    "```python code block.\n\n{task}\n\nIt must pass these tests:\n{tests}"
)


class DataError(ValueError):
    """data.yaml names something that cannot be read; the message says what."""


def benchmark_plan(benchmark: str, data_file: Path = DATA_FILE) -> dict:
    """The benchmark's entry in data.yaml: {dev_limit, sources}, checked."""
    plans = yaml.safe_load(Path(data_file).read_text())
    if benchmark not in plans:
        raise DataError(f"{data_file.name} has no training data for benchmark '{benchmark}' (known: {sorted(plans)})")
    plan = plans[benchmark]
    for i, source in enumerate(plan.get("sources") or []):
        where = f"{data_file.name}: {benchmark}.sources[{i}]"
        unknown = set(source) - SOURCE_KEYS
        if unknown:
            raise DataError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        if ("repo" in source) == ("generator" in source):
            raise DataError(f"{where}: give exactly one of `repo` or `generator`")
        if source.get("format") not in FORMATS:
            raise DataError(f"{where}: format '{source.get('format')}' is not one of {sorted(FORMATS)}")
    if not plan.get("sources"):
        raise DataError(f"{data_file.name}: benchmark '{benchmark}' lists no sources")
    return plan


def hub_sources(data_file: Path = DATA_FILE) -> list[dict]:
    """Every hub source's load call {repo, name, data_dir, revision} (what the prefetch must fetch)."""
    plans = yaml.safe_load(Path(data_file).read_text())
    calls = []
    for plan in plans.values():
        for s in plan["sources"]:
            if "repo" in s:
                call = {k: s[k] for k in ("repo", "name", "data_dir", "revision") if s.get(k) is not None}
                if call not in calls:
                    calls.append(call)
    return calls


# --- reading ---------------------------------------------------------------------


def read_rows(source: dict, task_dir: Path, seed: int) -> list[dict]:
    """A source's rows (filtered, then a seeded sample of at most `limit`)."""
    if "generator" in source:
        rows = _generated(Path(task_dir) / source["generator"], source.get("split", "train"), source["limit"], seed)
    else:
        import datasets

        loaded = datasets.load_dataset(
            source["repo"],
            name=source.get("name"),
            data_dir=source.get("data_dir"),
            revision=source.get("revision"),
            split=source.get("split", "train"),
        )
        rows = list(loaded)
    for column, allowed in (source.get("where") or {}).items():
        rows = [r for r in rows if r.get(column) in allowed]
    limit = source.get("limit")
    if limit and len(rows) > limit:
        rows = random.Random(seed).sample(rows, limit)
    return rows


def _generated(path: Path, split: str, n: int, seed: int) -> list[dict]:
    spec = importlib.util.spec_from_file_location("task_generator", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.problems(split, n, seed=seed)


def load_examples(benchmark: str, task_dir: Path, seed: int, data_file: Path = DATA_FILE) -> list[dict]:
    """All of a benchmark's training examples, shuffled; rows a format cannot read are skipped."""
    examples = []
    for source in benchmark_plan(benchmark, data_file)["sources"]:
        fmt = FORMATS[source["format"]]
        rows = read_rows(source, task_dir, seed)
        made = [ex for ex in (fmt(row) for row in rows) if ex]
        label = source.get("repo") or source.get("generator")
        print(f"data: {label} ({source.get('split', 'train')}): {len(made)} examples from {len(rows)} rows", flush=True)
        examples += made
    random.Random(seed).shuffle(examples)
    return examples


# --- formats: one row -> {"prompt", "completion"[, "tools"]} or None ------------------


def _user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def _assistant(text: str) -> list[dict]:
    return [{"role": "assistant", "content": text}]


def plain(row: dict) -> dict:
    """The question as asked, the answer as written (the toy task's own format)."""
    return {"prompt": _user(row["question"]), "completion": _assistant(row["answer"])}


def gsm8k(row: dict) -> dict | None:
    """GSM8K: worked solution (calculator notes removed) and the number after '####'."""
    reasoning, sep, final = row["answer"].rpartition("####")
    if not sep:
        return None
    reasoning = re.sub(r"<<[^>]*>>", "", reasoning).strip()
    return {
        "prompt": _user(MATH_PROMPT.format(problem=row["question"].strip())),
        "completion": _assistant(f"{reasoning}\n\nANSWER: {final.strip()}"),
    }


def metamath(row: dict) -> dict | None:
    """MetaMathQA: the response's closing 'The answer is: X' becomes 'ANSWER: X'."""
    match = re.search(r"The answer is:?\s*(.+?)\s*$", row["response"], re.DOTALL)
    if not match or "\n" in match.group(1):
        return None
    reasoning = row["response"][: match.start()].strip()
    return {
        "prompt": _user(MATH_PROMPT.format(problem=row["query"].strip())),
        "completion": _assistant(f"{reasoning}\n\nANSWER: {match.group(1)}".strip()),
    }


def aime(row: dict) -> dict:
    """A contest problem with its official solution and integer answer."""
    solution = (row.get("solution") or "").strip()
    answer = f"ANSWER: {str(row['answer']).strip()}"
    return {
        "prompt": _user(MATH_PROMPT.format(problem=row["problem"].strip())),
        "completion": _assistant(f"{solution}\n\n{answer}" if solution else answer),
    }


def _choice_example(question: str, options: list[str], correct: int, explanation: str = "") -> dict:
    letters = [chr(ord("A") + i) for i in range(len(options))]
    choices = "\n".join(f"{letter}) {text}" for letter, text in zip(letters, options, strict=True))
    prompt = CHOICE_PROMPT.format(letters=",".join(letters), question=question.strip(), choices=choices)
    answer = f"ANSWER: {letters[correct]}"
    return {"prompt": _user(prompt), "completion": _assistant(f"{explanation}\n\n{answer}" if explanation else answer)}


def sciq(row: dict) -> dict:
    """SciQ: the right answer among three distractors, placed by a hash of the question."""
    options = [row["distractor1"], row["distractor2"], row["distractor3"]]
    correct = hashlib.sha256(row["question"].encode()).digest()[0] % 4
    options.insert(correct, row["correct_answer"])
    return _choice_example(
        row["question"], [str(o).strip() for o in options], correct, (row.get("support") or "").strip()
    )


def arc(row: dict) -> dict | None:
    """ARC: its own choices (relettered A, B, ...) and answer key."""
    labels, texts = row["choices"]["label"], row["choices"]["text"]
    if row["answerKey"] not in labels:
        return None
    return _choice_example(row["question"], [t.strip() for t in texts], labels.index(row["answerKey"]))


def mbpp(row: dict) -> dict:
    """MBPP: the task and its asserts in, the reference function in a python block out."""
    tests = "\n".join(row["test_list"])
    code = row["code"].replace("\r\n", "\n").strip()
    return {
        "prompt": _user(CODE_PROMPT.format(task=row["text"].strip(), tests=tests)),
        "completion": _assistant(f"```python\n{code}\n```"),
    }


def _loose_json(text: str):
    """JSON, or the Python-literal spelling some datasets use for it (single quotes)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return ast.literal_eval(text)


def hermes_tools(row: dict) -> dict | None:
    """Hermes function calling: tools from the system turn's <tools>, calls from <tool_call> tags.

    The tools go to the chat template (which lists them its own way) and the
    calls become structured tool calls, so the model learns the format the
    family's template and vLLM's tool-call parser use.
    """
    turns = {t["from"]: t["value"] for t in row["conversations"]}
    if set(turns) != {"system", "human", "gpt"}:
        return None
    try:
        listed = re.search(r"<tools>(.*?)</tools>", turns["system"], re.DOTALL)
        tools = _loose_json(listed.group(1).strip()) if listed else None
        calls = [_loose_json(c.strip()) for c in re.findall(r"<tool_call>(.*?)</tool_call>", turns["gpt"], re.DOTALL)]
    except (ValueError, SyntaxError, AttributeError):
        return None
    if not tools or not calls or any(not isinstance(c, dict) or "name" not in c for c in calls):
        return None
    tools = tools if isinstance(tools, list) else [tools]
    tool_calls = [
        {"type": "function", "function": {"name": c["name"], "arguments": c.get("arguments") or {}}} for c in calls
    ]
    text = re.sub(r"<tool_call>.*?</tool_call>", "", turns["gpt"], flags=re.DOTALL).strip()
    return {
        "prompt": _user(turns["human"]),
        "completion": [{"role": "assistant", "content": text, "tool_calls": tool_calls}],
        "tools": tools,
    }


def chat(row: dict) -> dict | None:
    """A conversation (`messages`): everything before the last assistant turn is the prompt."""
    messages = [{"role": m["role"], "content": m["content"]} for m in row["messages"]]
    if not messages or messages[-1]["role"] != "assistant" or len(messages) < 2:
        return None
    return {"prompt": messages[:-1], "completion": messages[-1:]}


FORMATS = {
    "plain": plain,
    "gsm8k": gsm8k,
    "metamath": metamath,
    "aime": aime,
    "sciq": sciq,
    "arc": arc,
    "mbpp": mbpp,
    "hermes_tools": hermes_tools,
    "chat": chat,
}
