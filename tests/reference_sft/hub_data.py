"""reference-sft's training datasets, a few rows each, in each hub repo's own layout.

Served by the loopback hub (tests/prefetch/fake_hub.py) under the real ids,
they go through the real prefetch into an HF cache, from which the recipe
reads them offline, exactly as on a cluster. Layouts, as the hub has them:
parquet shards under `<config dir>/<split>-00000-of-00001.parquet` with the
configs declared in README.md's YAML header (what `push_to_hub` writes), or
JSON files at the root (MetaMathQA: one file, no configs; Hermes function
calling: one file per config, declared in README.md).
"""

import io
import json

import yaml

from tests.prefetch.fake_hub import Repo


def _parquet(rows: list[dict]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), sink)
    return sink.getvalue()


def _readme(configs: list[dict] | None) -> bytes:
    header = yaml.safe_dump({"license": "mit", **({"configs": configs} if configs else {})}, sort_keys=False)
    return f"---\n{header}---\n# test fixture\n".encode()


def parquet_repo(repo_id: str, configs: dict[str, dict[str, list[dict]]]) -> Repo:
    """configs: config name -> split -> rows; the `default` config lives under data/."""
    files, declared = {}, []
    for name, splits in configs.items():
        folder = "data" if name == "default" else name
        entries = []
        for split, rows in splits.items():
            path = f"{folder}/{split}-00000-of-00001.parquet"
            files[path] = _parquet(rows)
            entries.append({"split": split, "path": f"{folder}/{split}-*"})
        declared.append({"config_name": name, "data_files": entries})
    files["README.md"] = _readme(declared)
    return Repo(repo_id, "dataset", files)


def gsm8k_rows(n: int) -> list[dict]:
    return [
        {
            "question": f"Ann has {i + 2} boxes with 3 pens each. How many pens does she have?",
            "answer": f"She has {i + 2} * 3 = <<{i + 2}*3={3 * (i + 2)}>>{3 * (i + 2)} pens.\n#### {3 * (i + 2)}",
        }
        for i in range(n)
    ]


def training_repos(n: int = 6) -> list[Repo]:
    """Every hub source of agents/reference-sft/data.yaml, n rows per split."""
    aime = [
        {"id": i, "problem": f"Find the remainder when {7**i} is divided by 1000.", "solution": f"Compute {7**i}.",
         "answer": str(7**i % 1000), "url": "https://example.org/aime", "year": "2024"}
        for i in range(n)
    ]  # fmt: skip
    metamath = [
        {"query": f"What is {i} squared plus 1?", "response": f"{i} squared is {i * i}, plus 1 is {i * i + 1}. "
         f"The answer is: {i * i + 1}", "type": "GSM_Rephrased", "original_question": f"{i}^2+1?"}
        for i in range(n)
    ]  # fmt: skip
    sciq = [
        {"question": f"Which gas do plants take in, case {i}?", "distractor3": "helium", "distractor1": "oxygen",
         "distractor2": "neon", "correct_answer": "carbon dioxide", "support": "Plants use carbon dioxide."}
        for i in range(n)
    ]  # fmt: skip
    arc = [
        {"id": f"arc{i}", "question": f"What makes day and night, case {i}?",
         "choices": {"text": ["Earth's rotation", "The Moon", "Clouds", "Wind"], "label": ["A", "B", "C", "D"]},
         "answerKey": "A"}
        for i in range(n)
    ]  # fmt: skip
    mbpp = [
        {"task_id": 600 + i, "text": f"Write a function to add {i} to a number.",
         "code": f"def add_{i}(x):\r\n    return x + {i}", "test_list": [f"assert add_{i}(1) == {i + 1}"],
         "test_setup_code": "", "challenge_test_list": []}
        for i in range(n)
    ]  # fmt: skip
    parameters = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    tool = {"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": parameters}}
    hermes = [
        {"id": f"h{i}", "category": "Weather", "subcategory": "Forecast", "task": "weather",
         "conversations": [
             {"from": "system", "value": f"You are a function calling AI model. <tools> {[tool]} </tools> Call them."},
             {"from": "human", "value": f"What's the weather in city number {i}?"},
             {"from": "gpt", "value": "<tool_call>\n" + repr({"arguments": {"city": f"City{i}"}, "name": "get_weather"})
              + "\n</tool_call>"},
         ]}
        for i in range(n)
    ]  # fmt: skip
    categories = ["Generation", "Open QA", "Rewrite", "Chat", "Brainstorm", "Classify"]
    no_robots = [
        {"prompt": f"Write a line about the number {i}.", "prompt_id": f"p{i}", "category": categories[i % 6],
         "messages": [{"content": f"Write a line about the number {i}.", "role": "user"},
                      {"content": f"The number {i} stands alone, and proud.", "role": "assistant"}]}
        for i in range(2 * n)  # half of them in the writing categories
    ]  # fmt: skip
    hermes_file = "func-calling-singleturn.json"
    hermes_readme = _readme(
        [{"config_name": "func_calling_singleturn", "data_files": [{"split": "train", "path": hermes_file}]}]
    )
    return [
        # (the evaluation draws 10 few-shot examples from the train split)
        parquet_repo("openai/gsm8k", {"main": {"train": gsm8k_rows(max(n, 12)), "test": gsm8k_rows(3)}}),
        parquet_repo("HuggingFaceH4/aime_2024", {"default": {"train": aime}}),
        Repo("meta-math/MetaMathQA", "dataset",
             {"README.md": _readme(None), "MetaMathQA-395K.json": json.dumps(metamath).encode()}),
        parquet_repo("allenai/sciq", {"default": {"train": sciq, "validation": sciq[:2], "test": sciq[:2]}}),
        parquet_repo("allenai/ai2_arc", {"ARC-Challenge": {"train": arc, "test": arc[:2]}, "ARC-Easy": {"train": arc}}),
        parquet_repo("google-research-datasets/mbpp", {"full": {"train": mbpp, "test": mbpp[:2]}}),
        Repo("NousResearch/hermes-function-calling-v1", "dataset",
             {"README.md": hermes_readme, hermes_file: json.dumps(hermes).encode()}),
        parquet_repo("HuggingFaceH4/no_robots", {"default": {"train": no_robots, "test": no_robots[:2]}}),
    ]  # fmt: skip
