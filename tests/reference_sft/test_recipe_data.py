"""reference-sft's data plan: what each benchmark trains on, and how a row becomes a conversation."""

import json

import pytest
import yaml

from tests.reference_sft.conftest import REPO, recipe_module
from workflow.config import resolve_config

data = recipe_module("recipe_data")
chat = recipe_module("recipe_chat")

# as the pipeline reads it: the suite's benchmarks filled in
CONFIG = resolve_config(yaml.safe_load((REPO / "config" / "config.yaml").read_text()))
PLANS = yaml.safe_load(data.DATA_FILE.read_text())


def test_every_configured_benchmark_has_training_data_and_its_dev_limit():
    for benchmark in [*CONFIG["benchmarks"], "arith"]:
        plan = data.benchmark_plan(benchmark)
        meta = yaml.safe_load((REPO / "tasks" / benchmark / "meta.yaml").read_text())
        assert plan["dev_limit"] == meta["dev_limit"], benchmark


def test_every_hub_source_is_prefetched_by_the_config_with_the_same_load_call():
    """An offline load_dataset finds only what the prefetch prepared with the same arguments."""
    prefetched = [{k: v for k, v in d.items() if v is not None} for d in CONFIG["prefetch"]["datasets"]]
    sources = data.hub_sources()
    assert {s["repo"] for s in sources} >= {"openai/gsm8k", "meta-math/MetaMathQA", "HuggingFaceH4/aime_2024"}
    for call in sources:
        assert call in prefetched, f"{call} is read by reference-sft but not in config.yaml prefetch.datasets"


def test_no_source_is_a_benchmark_test_set():
    evaluated = {d["repo"] for b in CONFIG["benchmarks"] for d in yaml.safe_load(
        (REPO / "tasks" / b / "meta.yaml").read_text()).get("datasets") or []}  # fmt: skip
    for benchmark, plan in PLANS.items():
        for source in plan["sources"]:
            assert source.get("split", "train") == "train", (benchmark, source)
            # GSM8K's train split is allowed; every other evaluation dataset is off limits.
            assert source.get("repo") not in evaluated - {"openai/gsm8k"}, (benchmark, source)
    assert "gorilla-llm/Berkeley-Function-Calling-Leaderboard" not in json.dumps(PLANS)


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"sources": [{"repo": "a/b", "format": "gsm8k", "spilt": "train"}]}, "unknown key"),
        ({"sources": [{"repo": "a/b", "generator": "data.py", "format": "plain"}]}, "exactly one of"),
        ({"sources": [{"repo": "a/b", "format": "poetry"}]}, "format 'poetry'"),
        ({"sources": []}, "lists no sources"),
    ],
)
def test_a_bad_plan_is_refused_with_the_key_named(tmp_path, entry, message):
    path = tmp_path / "data.yaml"
    path.write_text(yaml.safe_dump({"x": entry}))
    with pytest.raises(data.DataError, match=message):
        data.benchmark_plan("x", path)
    with pytest.raises(data.DataError, match="no training data for benchmark 'y'"):
        data.benchmark_plan("y", path)


def test_gsm8k_rows_keep_the_reasoning_and_end_on_the_answer_line():
    ex = data.gsm8k({"question": "Q?", "answer": "2 * 3 = <<2*3=6>>6 pens\n#### 6"})
    assert ex["completion"][0]["content"] == "2 * 3 = 6 pens\n\nANSWER: 6"
    assert "Q?" in ex["prompt"][0]["content"] and "ANSWER:" in ex["prompt"][0]["content"]
    assert data.gsm8k({"question": "Q?", "answer": "no marker"}) is None


def test_metamath_answer_sentence_becomes_the_answer_line():
    ex = data.metamath({"query": "Q", "response": "Since 2+2=4.\nThe answer is: 4"})
    assert ex["completion"][0]["content"] == "Since 2+2=4.\n\nANSWER: 4"
    assert data.metamath({"query": "Q", "response": "no final answer"}) is None


def test_multiple_choice_letters_follow_the_correct_option():
    rows = [{"question": f"q{i}", "distractor1": "x", "distractor2": "y", "distractor3": "z",
             "correct_answer": "right", "support": ""} for i in range(40)]  # fmt: skip
    letters = set()
    for row in rows:
        ex = data.sciq(row)
        letter = ex["completion"][0]["content"].rsplit("ANSWER: ", 1)[1]
        assert f"{letter}) right" in ex["prompt"][0]["content"]
        letters.add(letter)
    assert letters == {"A", "B", "C", "D"}  # the right answer is not always in one place
    arc = data.arc({"question": "q", "choices": {"text": ["a", "b", "c"], "label": ["1", "2", "3"]}, "answerKey": "2"})
    assert arc["completion"][0]["content"] == "ANSWER: B" and "B) b" in arc["prompt"][0]["content"]


def test_hermes_rows_become_structured_tool_calls():
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    row = {
        "conversations": [
            {"from": "system", "value": f"Use these. <tools> {[tool]} </tools>"},
            {"from": "human", "value": "call f"},
            {"from": "gpt", "value": "<tool_call>\n{'arguments': {'x': 1}, 'name': 'f'}\n</tool_call>"},
        ]
    }
    ex = data.hermes_tools(row)
    assert ex["tools"] == [tool]
    assert ex["completion"][0]["tool_calls"] == [{"type": "function", "function": {"name": "f", "arguments": {"x": 1}}}]
    broken = dict(
        row, conversations=row["conversations"][:2] + [{"from": "gpt", "value": "<tool_call>{oops</tool_call>"}]
    )
    assert data.hermes_tools(broken) is None


def test_chat_rows_train_on_the_last_assistant_turn():
    messages = [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                {"role": "user", "content": "c"}, {"role": "assistant", "content": "d"}]  # fmt: skip
    ex = data.chat({"messages": messages})
    assert ex["prompt"] == messages[:3] and ex["completion"] == messages[3:]
    assert data.chat({"messages": messages[:1]}) is None


@pytest.mark.parametrize("family", ["qwen3", "smollm3", "gemma3"])
def test_tokenized_examples_use_the_family_template_and_learn_only_the_answer(tiny_family_models, family):
    from transformers import AutoConfig, AutoTokenizer

    model = tiny_family_models[family]
    tokenizer = AutoTokenizer.from_pretrained(model)
    template = chat.family_template(AutoConfig.from_pretrained(model).model_type, REPO / "tasks" / "templates")
    assert template.name == f"{family}.jinja"
    tokenizer.chat_template = template.read_text()
    stop = chat.end_of_turn_id(tokenizer)
    assert tokenizer.convert_ids_to_tokens(stop) == ("<end_of_turn>" if family == "gemma3" else "<|im_end|>")
    tool = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
    examples = [
        data.plain({"question": "What is 2 + 2?", "answer": "2 + 2 = 4"}),
        {"prompt": [{"role": "user", "content": "weather?"}], "tools": [tool],
         "completion": [{"role": "assistant", "content": "", "tool_calls": [
             {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Oslo"}}}]}]},
    ]  # fmt: skip
    out = chat.tokenize(tokenizer, examples)
    for ids, mask, answer in zip(
        out["input_ids"], out["completion_mask"], ["2 + 2 = 4", '"city": "Oslo"'], strict=True
    ):
        learned = [i for i, m in zip(ids, mask, strict=True) if m]
        text = tokenizer.decode(learned)
        assert answer in text and stop in learned  # the answer and the end of turn are learned
        prompt = tokenizer.decode([i for i, m in zip(ids, mask, strict=True) if not m])
        assert answer not in prompt
    assert "get_weather" in tokenizer.decode(out["input_ids"][1])  # the tool list is in the prompt
    if family == "gemma3":
        assert out["input_ids"][0][0] == tokenizer.bos_token_id and out["input_ids"][0][1] != tokenizer.bos_token_id
