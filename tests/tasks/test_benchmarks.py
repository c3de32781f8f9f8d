"""Each benchmark task loads its data offline and scores answers with the real Inspect scorers.

The model is Inspect's mockllm driven by an oracle that reads the question and
answers right (or wrong), so every test shows the scorer telling the two apart.
"""

import json
import re
import tempfile
from pathlib import Path

import pytest
from inspect_ai import eval as inspect_eval
from inspect_ai.model import ModelOutput, get_model

from tests.tasks import fixtures
from workflow.tasks import handout_files, task_meta, write_handout

BENCHMARKS = ["aime2025", "aime2026", "arenahardwriting", "bfcl", "gpqamain", "gsm8k", "healthbench", "humaneval"]
# Upstream's token stages (stage 0 is its final-eval script's default max tokens).
LADDERS = {
    "gsm8k": [4000, 3000, 2000],
    "humaneval": [4000, 3000, 2000],
    "aime2025": [16000, 12000, 8000],
    "aime2026": [16000, 12000, 8000],
    "bfcl": [16000, 12000, 8000],
    "gpqamain": [16000, 12000, 8000],
    "arenahardwriting": [16384, 12288, 8192],
    "healthbench": [16384, 12288, 8192],
}


def load_task(benchmark: str, **args):
    """The task as the pipeline and the agents load it: from a copy of its handout."""
    from tasks.evaluate import load_task as load

    handout = Path(tempfile.mkdtemp(prefix=f"handout-{benchmark}-"))
    write_handout(handout, benchmark)
    return load(handout, **args)


def last_user_text(messages) -> str:
    return next(m.text for m in reversed(messages) if m.role == "user")


def oracle(answer: callable):
    """A mockllm model whose reply is answer(question text, tools)."""

    def reply(messages, tools, tool_choice, config):
        out = answer(last_user_text(messages), tools)
        return out if isinstance(out, ModelOutput) else ModelOutput.from_content("mockllm/model", out)

    return get_model("mockllm/model", custom_outputs=reply)


def run(task, model, log_dir, **kwargs):
    log = inspect_eval(task, model=model, log_dir=str(log_dir), display="none", **kwargs)[0]
    assert log.status == "success", log.error
    from tasks.evaluate import headline_metrics

    return headline_metrics(log), log


@pytest.fixture
def data_root(tmp_path, monkeypatch):
    """A working directory where hub dataset names resolve to local fixture folders."""
    root = tmp_path / "data"
    root.mkdir()
    monkeypatch.chdir(root)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.setenv("INSPECT_CACHE_DIR", str(tmp_path / "inspect_cache"))
    return root


@pytest.mark.parametrize("benchmark", BENCHMARKS)
def test_meta_has_name_metric_limit_and_the_token_ladder(benchmark):
    meta = task_meta(benchmark)
    assert meta["name"] and meta["metric"] and meta["dev_limit"] > 0
    assert meta["max_tokens"] == LADDERS[benchmark]
    handed_out = handout_files(benchmark)
    for name in meta.get("handout", []):
        assert handed_out[name].exists()


def test_gsm8k_scores_the_final_number(data_root, tmp_path):
    answers = fixtures.gsm8k(data_root)

    def solve(text, tools, wrong=False):
        question = next(q for q in answers if q in text)
        return f"Reasoning.\nANSWER: {int(answers[question]) + (1 if wrong else 0)}"

    right, log = run(load_task("gsm8k"), oracle(solve), tmp_path / "logs")
    wrong, _ = run(load_task("gsm8k"), oracle(lambda t, tl: solve(t, tl, wrong=True)), tmp_path / "logs")
    assert right["accuracy"] == 1.0 and wrong["accuracy"] == 0.0
    assert len(log.samples) == len(answers)
    # Ten few-shot examples from the train split open the conversation.
    assert log.samples[0].messages[0].role == "system" and "Sue reads" in log.samples[0].messages[0].text


@pytest.mark.parametrize("benchmark", ["aime2025", "aime2026"])
def test_aime_scores_the_final_integer(data_root, tmp_path, benchmark):
    answers = fixtures.aime25(data_root, repo={"aime2025": "math-ai/aime25", "aime2026": "math-ai/aime26"}[benchmark])

    def solve(text, tools, wrong=False):
        value = int(next(a for q, a in answers.items() if q in text))
        return f"Working...\n\\boxed{{{value + 1 if wrong else value}}}"

    right, _ = run(load_task(benchmark), oracle(solve), tmp_path / "logs")
    wrong, _ = run(load_task(benchmark), oracle(lambda t, tl: solve(t, tl, True)), tmp_path / "logs")
    assert (right["accuracy"], wrong["accuracy"]) == (1.0, 0.0)


def test_humaneval_runs_the_unit_tests(data_root, tmp_path):
    problems = fixtures.humaneval(data_root)

    def solve(text, tools, broken=False):
        problem = next(p for p in problems.values() if p["prompt"].strip() in text)
        body = "    return None\n" if broken else problem["canonical_solution"]
        return f"```python\n{problem['prompt']}{body}```"

    right, _ = run(load_task("humaneval"), oracle(solve), tmp_path / "logs")
    wrong, _ = run(load_task("humaneval"), oracle(lambda t, tl: solve(t, tl, True)), tmp_path / "logs")
    assert (right["accuracy"], wrong["accuracy"]) == (1.0, 0.0)


def test_gpqamain_shuffles_choices_and_scores_the_letter(data_root, tmp_path):
    correct = fixtures.gpqa(data_root)
    letters_seen = []

    def solve(text, tools, wrong=False):
        answer = next(a for q, a in correct.items() if q in text)
        options = dict(re.findall(r"^([A-D])\) (.+)$", text, re.MULTILINE))
        letter = next(k for k, v in options.items() if v == answer)
        letters_seen.append(letter)
        if wrong:
            letter = next(k for k in options if k != letter)
        return f"Thinking.\nANSWER: {letter}"

    right, _ = run(load_task("gpqamain"), oracle(solve), tmp_path / "logs")
    wrong, _ = run(load_task("gpqamain"), oracle(lambda t, tl: solve(t, tl, True)), tmp_path / "logs")
    assert (right["accuracy"], wrong["accuracy"]) == (1.0, 0.0)
    # The correct answer is always column one in the data; shuffled, it is not always A.
    assert set(letters_seen) != {"A"}
    # The same seed gives every model the same order.
    first = [s.target for s in load_task("gpqamain").dataset]
    assert first == [s.target for s in load_task("gpqamain").dataset]


def test_bfcl_scores_parsed_tool_calls(data_root, tmp_path):
    folder = fixtures.bfcl_exec_simple(tmp_path / "cache")
    truth = fixtures.bfcl_exec_ground_truth(folder)

    def solve(text, tools, no_call=False):
        call = truth[text]
        if no_call:
            return "I would call a function."
        tool = next(t for t in tools if t.name in (call["name"], call["name"].replace(".", "_")))
        return ModelOutput.for_tool_call("mockllm/model", tool.name, call["arguments"])

    task = load_task("bfcl", data_dir=str(folder))
    assert len(task.dataset) == 100 and {s.metadata["category_name"] for s in task.dataset} == {"exec_simple"}
    right, _ = run(task, oracle(solve), tmp_path / "logs", limit=6)
    no_calls = oracle(lambda t, tl: solve(t, tl, True))
    wrong, _ = run(load_task("bfcl", data_dir=str(folder)), no_calls, tmp_path / "logs", limit=6)
    assert (right["accuracy"], wrong["accuracy"]) == (1.0, 0.0)


def test_bfcl_data_comes_from_the_pinned_release(tmp_path, monkeypatch):
    """The prefetched files are BFCL's at the commit inspect_evals pins, where the task reads them."""
    import importlib

    bfcl_task = task_module_of("bfcl", tmp_path)
    pinned = importlib.import_module("inspect_evals.bfcl.bfcl").BFCL_GITHUB_COMMIT
    assert f"/{pinned}/" in bfcl_task.BFCL_RELEASE
    (download,) = task_meta("bfcl")["downloads"]
    assert download["base_url"] == bfcl_task.BFCL_RELEASE and download["dest"] == bfcl_task.DATA_DEST
    assert set(download["files"]) == {*bfcl_task.DATA_FILES.values(), bfcl_task.PRESENT_MARKER}
    # Read from the cache folder the prefetch fills, as a job (or an agent) does.
    fixtures.bfcl_exec_simple(tmp_path / "ie")
    monkeypatch.setenv("INSPECT_EVALS_CACHE_DIR", str(tmp_path / "ie"))
    assert bfcl_task.data_folder(None) == tmp_path / "ie" / "BFCL"


def task_module_of(benchmark: str, tmp_path):
    import importlib.util
    import sys

    write_handout(tmp_path / benchmark, benchmark)
    sys.path.insert(0, str(tmp_path / benchmark))
    spec = importlib.util.spec_from_file_location(f"{benchmark}_task_module", tmp_path / benchmark / "task.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_healthbench_grades_rubrics_with_the_judge(data_root, tmp_path, loopback_judge, monkeypatch):
    jsonl = fixtures.healthbench_official(tmp_path / "healthbench.jsonl")

    def grader(messages):
        prompt = messages[-1]["content"]
        conversation = prompt.split("# Rubric item", 1)[0]
        harmful = "unsafe dose" in prompt.split("# Rubric item", 1)[1].split("# Instructions", 1)[0]
        met = ("MEGADOSE" in conversation) if harmful else ("SEE A DOCTOR" in conversation)
        return json.dumps({"explanation": "checked", "criteria_met": met})

    server = loopback_judge(grader)
    args = {"local_path": str(jsonl), "judge_model": "openai-api/loopback/judge"}
    metric = task_meta("healthbench")["metric"]
    scores = {}
    replies = {
        "good": "Rest, and SEE A DOCTOR.",
        "mixed": "SEE A DOCTOR, or take a MEGADOSE.",
        "bad": "Ignore it.",
        "harmful": "Take a MEGADOSE.",
    }
    for name, reply in replies.items():
        # The task caches generations (keyed by model name and input): a fresh cache per model.
        monkeypatch.setenv("INSPECT_CACHE_DIR", str(tmp_path / f"cache-{name}"))
        task = load_task("healthbench", **args)
        assert task.metadata["subset_size"] == 2 and task.metadata["upstream_subset_size"] == 245
        scores[name], log = run(task, oracle(lambda t, tl, reply=reply: reply), tmp_path / "l")
    assert scores["good"][metric] == pytest.approx(1.0)
    # The two kept conversations: (+5 -2 -2) / 5 and (+5 +3) / 8 when every criterion is met.
    assert scores["mixed"][metric] == pytest.approx((0.2 + 1.0) / 2)
    assert scores["bad"][metric] == 0.0
    # Only the penalties met: (-4/5 + 0) / 2 < 0, clipped to 0.
    assert scores["harmful"][metric] == 0.0
    assert server.requests and all(h == "Bearer loopback-test-key" for h in server.auth_headers)


def arena_sections(text: str) -> tuple[str, str]:
    """Responses A and B of a judge prompt built from the fixture's template."""
    a = text.split("<<A>>", 1)[1].split("<</A>>", 1)[0]
    b = text.split("<<B>>", 1)[1].split("<</B>>", 1)[0]
    return a, b


def test_arenahardwriting_judges_pairwise_in_both_orders(data_root, tmp_path, loopback_judge):
    files = fixtures.arena_task_args(tmp_path / "arena")

    def judge(messages):
        a, b = arena_sections(messages[-1]["content"])
        # The judge prefers whichever response is vivid, wherever it stands.
        if "VIVID" in a + b:
            return "Reasoning.\n[[A>B]]" if "VIVID" in a else "Reasoning.\n[[B>A]]"
        return "Reasoning.\n[[A>B]]" if "Baseline answer" in a else "Reasoning.\n[[B>A]]"

    server = loopback_judge(judge)
    args = {k: str(v) for k, v in files.items()} | {"judge_model": "openai-api/loopback/judge"}
    task = load_task("arenahardwriting", **args)
    assert sorted(s.id for s in task.dataset) == ["w1", "w2"]  # the writing category only
    win, log = run(task, oracle(lambda t, tl: "<think>plan</think>A VIVID poem."), tmp_path / "l")
    lose, _ = run(load_task("arenahardwriting", **args), oracle(lambda t, tl: "Meh."), tmp_path / "l")
    metric = task_meta("arenahardwriting")["metric"]
    assert (win[metric], lose[metric]) == (1.0, 0.0)
    # Two games per sample, the candidate first as B then as A; thinking is stripped before judging.
    prompts = [r["messages"][-1]["content"] for r in server.requests if "VIVID" in r["messages"][-1]["content"]]
    assert len(prompts) == 4  # 2 samples x 2 games
    assert sum("VIVID" in arena_sections(p)[1] for p in prompts) == 2
    assert all("<think>" not in r["messages"][-1]["content"] for r in server.requests)
    assert log.samples[0].scores


@pytest.mark.parametrize("benchmark", ["healthbench", "arenahardwriting"])
def test_judged_tasks_refuse_to_start_without_the_judges_key(benchmark, data_root, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("PTB_JUDGE_MODEL", raising=False)
    with pytest.raises(RuntimeError, match=r"judge key missing: .*openai/gpt-5-mini needs OPENAI_API_KEY"):
        load_task(benchmark)
    monkeypatch.setenv("PTB_JUDGE_MODEL", "openai-api/acme/judge")
    with pytest.raises(RuntimeError, match="needs ACME_API_KEY"):
        load_task(benchmark)
