"""The scorers on the failure cases upstream found (PostTrainBench v1.2's scorer fixes).

GSM8K: a suffix match counted "15" as correct for a target of 5. HumanEval: a
completion that ends the process before the tests counted as a pass, and
answers ran in the evaluation's own environment (keys, network, files). Each
case runs the real task (from a handout copy, as agents and the pipeline
load it) with Inspect's mockllm playing the model.
"""

import http.server
import importlib.util
import json
import math
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

from tests.pipeline import require
from tests.tasks import fixtures
from tests.tasks.test_benchmarks import (  # noqa: F401  (a fixture)
    arena_sections,
    data_root,
    load_task,
    oracle,
    run,
)
from workflow.tasks import task_meta, write_handout


def task_module(tmp_path, benchmark: str):
    """The handed-out task.py as a module (what an agent's evaluate.py loads)."""
    folder = tmp_path / f"handout-{benchmark}"
    write_handout(folder, benchmark)
    sys.path.insert(0, str(folder))
    spec = importlib.util.spec_from_file_location(f"{benchmark}_task_under_test", folder / "task.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- GSM8K -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("completion", "target", "correct"),
    [
        ("Reasoning.\nANSWER: 15", "5", False),  # the endswith bug: 15 ends with 5
        ("ANSWER: 25", "5", False),
        ("ANSWER: 5", "5", True),
        ("So the total is 5.", "5", True),
        ("ANSWER: -3", "3", False),  # the sign counts
        ("ANSWER: -3.0", "-3", True),  # by value, not as text
        ("ANSWER: $1,000", "1000", True),  # currency sign and thousands separators
        ("ANSWER: 12,345 apples", "12,345", True),
        ("I am not sure.", "5", False),
    ],
)
def test_gsm8k_exact_numeric_match(tmp_path, completion, target, correct):
    gsm8k = task_module(tmp_path, "gsm8k")
    assert gsm8k.exact_numeric_match(completion, target)[1] is correct


def test_gsm8k_task_scores_15_as_wrong_for_5(data_root, tmp_path):  # noqa: F811
    answers = fixtures.gsm8k(data_root)  # targets 5, 7, 9, 11

    def tens_more(text, tools):
        value = int(next(a for q, a in answers.items() if q in text))
        return f"Reasoning.\nANSWER: {value + 10}"  # 15 for 5, 17 for 7, ...

    def right(text, tools):
        return f"Reasoning.\nANSWER: {next(a for q, a in answers.items() if q in text)}"

    wrong_metrics, log = run(load_task("gsm8k"), oracle(tens_more), tmp_path / "logs")
    right_metrics, _ = run(load_task("gsm8k"), oracle(right), tmp_path / "logs")
    assert wrong_metrics["accuracy"] == 0.0 and right_metrics["accuracy"] == 1.0
    first = log.samples[0]
    assert first.target == "5" and first.scores["exact_number"].answer == "15"


# --- HumanEval ---------------------------------------------------------------------


@pytest.fixture
def humaneval_problems(data_root):  # noqa: F811
    return fixtures.humaneval(data_root, n=1)


def humaneval_answer(problems, body: str):
    """A mockllm reply: the problem's signature with `body` (the completion under test)."""

    def reply(text, tools):
        problem = next(p for p in problems.values() if p["prompt"].strip() in text)
        return f"```python\n{problem['prompt']}{body}```"

    return reply


def humaneval_score(problems, body: str, tmp_path) -> tuple[float, object]:
    metrics, log = run(load_task("humaneval"), oracle(humaneval_answer(problems, body)), tmp_path / "logs")
    return metrics["accuracy"], log.samples[0].scores["sandboxed_tests"]


def test_humaneval_canonical_solution_passes(humaneval_problems, tmp_path):
    (problem,) = humaneval_problems.values()
    accuracy, score = humaneval_score(humaneval_problems, problem["canonical_solution"], tmp_path)
    assert accuracy == 1.0, score.explanation


@pytest.mark.parametrize("exit_call", ["import sys; sys.exit(0)", "import os; os._exit(0)", "raise SystemExit"])
def test_humaneval_early_exit_fails(humaneval_problems, tmp_path, exit_call):
    """The answer ends the process with status 0 before check() runs: upstream's old scorer passed it."""
    body = f"    return None\n\n{exit_call}\n"
    accuracy, score = humaneval_score(humaneval_problems, body, tmp_path)
    assert accuracy == 0.0
    assert score.metadata["returncode"] == 0 and "before check() finished" in score.explanation


def test_humaneval_answer_with_a_nul_byte_fails_alone(humaneval_problems, tmp_path):
    """A model's answer holding a NUL byte (seen from a tiny model in the rehearsal) is a wrong answer,
    not an evaluation that cannot run."""
    accuracy, score = humaneval_score(humaneval_problems, "    return None  # \x00\n", tmp_path)
    assert accuracy == 0.0 and score.metadata["returncode"] != 0
    assert "null" in score.explanation


def test_humaneval_answer_sees_no_keys(humaneval_problems, tmp_path, monkeypatch):
    """An answer that only succeeds when it can read the evaluation's API key."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret-not-for-answers")
    (problem,) = humaneval_problems.values()
    leak = (
        "    import os\n"
        "    if os.environ.get('OPENAI_API_KEY') is None:\n"
        "        raise RuntimeError('no key: ' + ' '.join(sorted(os.environ)))\n"
    )
    accuracy, score = humaneval_score(humaneval_problems, leak + problem["canonical_solution"], tmp_path)
    assert accuracy == 0.0 and "no key" in score.explanation
    assert "OPENAI_API_KEY" not in score.explanation.split("no key:")[1]


@pytest.fixture
def loopback_listener():
    """An HTTP server on 127.0.0.1 that records every request it gets."""
    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"reachable")

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/exfiltrate", hits
    server.shutdown()


def test_humaneval_answer_has_no_network(humaneval_problems, tmp_path, loopback_listener):
    """An answer that only succeeds when it reaches a server (here one on this machine's loopback)."""
    url, hits = loopback_listener
    (problem,) = humaneval_problems.values()
    call = f"    import urllib.request\n    urllib.request.urlopen({url!r}, timeout=5).read()\n"
    accuracy, score = humaneval_score(humaneval_problems, call + problem["canonical_solution"], tmp_path)
    assert accuracy == 0.0 and hits == []
    assert "URLError" in score.explanation or "Connection refused" in score.explanation


def test_humaneval_answer_cannot_write_outside_its_scratch(humaneval_problems, tmp_path):
    (problem,) = humaneval_problems.values()
    # Outside /tmp (the sandbox's private scratch), in a folder this process may write to.
    folder = Path(tempfile.mkdtemp(dir="/var/tmp", prefix="ptb-humaneval-"))
    target = folder / "planted.txt"
    write = f"    open({str(target)!r}, 'w').write('x')\n"
    try:
        accuracy, score = humaneval_score(humaneval_problems, write + problem["canonical_solution"], tmp_path)
        assert accuracy == 0.0 and not target.exists()
        assert "Read-only file system" in score.explanation
    finally:
        shutil.rmtree(folder)


def test_humaneval_refuses_to_start_without_a_sandbox(tmp_path, monkeypatch):
    humaneval = task_module(tmp_path, "humaneval")
    monkeypatch.setattr(humaneval.shutil, "which", lambda name: None)
    with pytest.raises(humaneval.SandboxUnavailable, match="bwrap"):
        humaneval.humaneval()


def test_humaneval_sandbox_command_isolates(tmp_path):
    humaneval = task_module(tmp_path, "humaneval")
    cmd = humaneval.sandbox_command()
    for flag in ("--unshare-net", "--clearenv", "--unshare-pid", "--die-with-parent"):
        assert flag in cmd
    assert cmd[cmd.index("--ro-bind") + 1 : cmd.index("--ro-bind") + 3] == ["/", "/"]
    assert cmd[-2:] == ["-I", "-"]  # the program comes on stdin


def test_humaneval_sandbox_runs_from_a_venv_under_tmp(tmp_path, monkeypatch):
    """An evaluation whose Python is a venv in a checkout below /tmp (hidden by the sandbox's private /tmp)."""
    require(shutil.which("bwrap") is not None, "needs bubblewrap")
    humaneval = task_module(tmp_path, "humaneval")
    venv = tmp_path / "checkout" / ".venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    monkeypatch.setattr(humaneval.sys, "executable", str(venv / "bin" / "python"))
    proc = subprocess.run(humaneval.sandbox_command(), input="print('ok')", capture_output=True, text=True, timeout=60)
    assert (proc.returncode, proc.stdout.strip()) == (0, "ok"), proc.stderr


# --- Arena-Hard ---------------------------------------------------------------------


def arena_args(tmp_path) -> dict:
    return fixtures.arena_task_args(tmp_path / "arena") | {"judge_model": "openai-api/loopback/judge"}


def candidate_position(text: str) -> str:
    a, _ = arena_sections(text)
    return "B" if "Baseline answer" in a else "A"


def test_arena_strong_verdict_counts_three_times(data_root, tmp_path, loopback_judge):  # noqa: F811
    """The candidate wins game 1 and loses game 2: `>>` vs `>` in game 1 changes the score."""

    def judge(messages):
        text = messages[-1]["content"]
        strong = "STRONG" in text
        if candidate_position(text) == "B":  # game 1: the candidate wins, strongly or not
            return "[[B>>A]]" if strong else "My final verdict: [[B>A]]"
        return "[[B>A]]"  # game 2: the baseline (now B) wins, plainly

    loopback_judge(judge)
    args = arena_args(tmp_path)
    metric = task_meta("arenahardwriting")["metric"]
    strong, log = run(load_task("arenahardwriting", **args), oracle(lambda t, tl: "A STRONG poem."), tmp_path / "l")
    plain, _ = run(load_task("arenahardwriting", **args), oracle(lambda t, tl: "A plain poem."), tmp_path / "l")
    # >>: three wins and one loss per question; >: one win and one loss.
    assert strong[metric] == pytest.approx(3 / 4) and plain[metric] == pytest.approx(1 / 2)
    assert log.samples[0].scores["pairwise_judge"].metadata["labels"] == ["B>>A", "B>A"]
    assert strong["verdicts_missing"] == 0 and strong["questions_judged"] == 2


def test_arena_unreadable_verdict_is_retried_then_missing_never_a_tie(data_root, tmp_path, loopback_judge):  # noqa: F811
    asked = {"w1": 0, "w2": 0}

    def judge(messages):
        text = messages[-1]["content"]
        uid = "w1" if "haiku" in text else "w2"
        asked[uid] += 1
        if uid == "w1":
            return "Both responses have merits; I cannot decide."  # never a label
        if asked[uid] == 1:
            return "Verdict: A is somewhat better."  # unreadable once, then a label
        return "[[A>B]]" if candidate_position(text) == "A" else "[[B>A]]"

    server = loopback_judge(judge)
    metrics, log = run(load_task("arenahardwriting", **arena_args(tmp_path)), oracle(lambda t, tl: "Poem."), tmp_path)
    metric = task_meta("arenahardwriting")["metric"]
    # w1: missing after 3 tries in its first game (its second game is asked too); w2: the candidate wins both.
    assert metrics["verdicts_missing"] == 1 and metrics["questions_judged"] == 1
    assert metrics[metric] == 1.0  # from w2 alone: a tie (0.5) for w1 would have given 0.75
    assert asked["w1"] == 6 and asked["w2"] == 3
    w1 = next(s for s in log.samples if s.id == "w1").scores["pairwise_judge"]
    assert w1.metadata["missing"] and w1.metadata["labels"] == [None, None] and w1.metadata["asked"] == [3, 3]
    assert len(server.requests) == 9


def test_arena_every_verdict_missing_gives_no_score(data_root, tmp_path, loopback_judge):  # noqa: F811
    loopback_judge(lambda messages: "no verdict here")
    metrics, _ = run(load_task("arenahardwriting", **arena_args(tmp_path)), oracle(lambda t, tl: "Poem."), tmp_path)
    assert math.isnan(metrics[task_meta("arenahardwriting")["metric"]]) and metrics["verdicts_missing"] == 2


def test_arena_judge_gets_arena_hards_own_prompt_at_medium_effort(data_root, tmp_path, loopback_judge):  # noqa: F811
    server = loopback_judge(lambda messages: "[[A=B]]")
    metrics, _ = run(load_task("arenahardwriting", **arena_args(tmp_path)), oracle(lambda t, tl: "Poem."), tmp_path)
    assert metrics[task_meta("arenahardwriting")["metric"]] == 0.5  # ties are ties
    body = server.requests[0]
    system, user = body["messages"][0], body["messages"][-1]
    assert system["role"] in ("system", "developer") and system["content"] == fixtures.ARENA_SYSTEM_PROMPT
    assert user["content"].startswith("<<Q>>\n")
    assert body.get("reasoning_effort") == "medium"


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("... [[A>>B]]", "A>>B"),
        ("first [[B>A]] then final [[a=b]]", "A=B"),  # the last label, read case-insensitively
        ("single brackets [B>>A]", "B>>A"),  # the release's second pattern
        ("no verdict", None),
        ("[[A>>>B]]", None),  # not a label Arena-Hard defines
    ],
)
def test_arena_verdict_labels(tmp_path, text, label):
    arena = task_module(tmp_path, "arenahardwriting")
    patterns = tuple(fixtures.ARENA_JUDGE_CONFIG["regex_patterns"])
    assert arena.verdict_label(text, patterns) == label


def test_arena_outcomes_per_position(tmp_path):
    arena = task_module(tmp_path, "arenahardwriting")
    assert arena.candidate_outcomes("A>>B", "A") == [1.0, 1.0, 1.0]
    assert arena.candidate_outcomes("A>>B", "B") == [0.0, 0.0, 0.0]
    assert arena.candidate_outcomes("B>A", "B") == [1.0]
    assert arena.candidate_outcomes("A=B", "B") == [0.5]


def test_arena_settings_are_read_as_data_from_the_release_files(tmp_path):
    arena = task_module(tmp_path, "arenahardwriting")
    files = fixtures.arena_release(tmp_path / "release")
    settings = arena.judge_settings(files["judge_settings_file"], files["judge_config_file"])
    assert settings.system_prompt == fixtures.ARENA_SYSTEM_PROMPT  # the file's `raise` never ran
    general = arena.system_prompt_from_source(fixtures.ARENA_JUDGE_UTILS, "hard_prompt")
    assert general == "FIXTURE GENERAL PROMPT (not for writing)"  # a named constant, resolved


def test_arena_answers_only_mode_needs_no_judge(data_root, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    files = fixtures.arena_task_args(tmp_path / "arena")
    task = load_task("arenahardwriting", data_dir=files["data_dir"], answers_only=True)
    metrics, log = run(task, oracle(lambda t, tl: "<think>x</think>An answer."), tmp_path / "l")
    assert metrics["accuracy"] == 1.0
    assert {s.scores["answer_collected"].answer for s in log.samples} == {"An answer."}


# --- HealthBench's subset -------------------------------------------------------------


def test_healthbench_filter_keeps_upstreams_easy_subset(tmp_path):
    """>= 5 turns, a completeness criterion, <= 2 negative criteria; each fixture record sits on one side.

    OpenAI's official file (5,000 conversations) cannot be reached here, so the count
    upstream reports for it (245) is checked on a cluster's prefetched copy, not here.
    """
    healthbench = task_module(tmp_path, "healthbench")
    records = fixtures.healthbench_records()
    kept = healthbench.easy_subset([{k: v for k, v in r.items() if k != "expected"} for r in records])
    assert sorted(r["prompt_id"] for r in kept) == sorted(r["prompt_id"] for r in records if r["expected"])
    assert len(kept) == 2 and healthbench.UPSTREAM_SUBSET_SIZE == 245
    # Upstream's order: shuffled with a fixed seed, the same every time.
    assert [r["prompt_id"] for r in healthbench.easy_subset(records)] == [r["prompt_id"] for r in kept]


# --- Arena-Hard's baseline answers, made by the pipeline ----------------------------------


def test_pipeline_made_baseline_answers_are_what_the_task_reads(data_root, tmp_path, monkeypatch):  # noqa: F811
    """Answers-only run -> Arena-Hard's model_answer layout in the cache -> the judged task's baselines."""
    from workflow.evaluate import arena_baseline

    files = fixtures.arena_task_args(tmp_path / "arena")
    answers_task = load_task("arenahardwriting", data_dir=files["data_dir"], answers_only=True)
    _, log = run(answers_task, oracle(lambda t, tl: f"<think>hm</think>Baseline take on: {t}"), tmp_path / "l")
    records = arena_baseline.answers_from_log(log.location, "Qwen/Qwen3-1.7B")
    hf_home = tmp_path / "hf_home"
    out = arena_baseline.baseline_answers_path(hf_home, arena_baseline.baseline_model())
    arena_baseline.write_answers(records, out)
    # The handed-out task finds the file by itself through HF_HOME (no baseline_file argument).
    monkeypatch.setenv("HF_HOME", str(hf_home))
    monkeypatch.setenv("LOOPBACK_API_KEY", "k")
    arena = task_module(tmp_path, "arenahardwriting")
    assert arena.default_baseline_file() == out and arena.BASELINE_MODEL == arena_baseline.baseline_model()
    args = {k: v for k, v in files.items() if k != "baseline_file"} | {"judge_model": "openai-api/loopback/judge"}
    judged = load_task("arenahardwriting", **args)
    baselines = {s.id: s.metadata["baseline_answer"] for s in judged.dataset}
    assert baselines == {
        "w1": "Baseline take on: Write a haiku about rain.",
        "w2": "Baseline take on: Write a two-line story.",
    }
    assert {r["model"] for r in records} == {"Qwen3-1.7B"}


def test_answers_settings_run_every_question_once_without_a_judge():
    from workflow.config import REPO, load_config
    from workflow.evaluate.arena_baseline import answers_settings

    config = load_config(REPO / "config" / "config.yaml")
    config["benchmarks"]["arenahardwriting"]["limit"] = 5
    config["container"] = {"runtime": "none", "local_images": {}}
    settings = answers_settings(config | {"suite": "v1.2"})
    assert settings["task_args"] == {"answers_only": True} and settings["protocol"] == "single"
    assert settings["metric"] == "accuracy"  # what answers-only mode reports
    assert "limit" not in settings


@pytest.mark.slow
def test_baseline_answers_through_the_runner(data_root, tmp_path, monkeypatch):  # noqa: F811
    """The rule's code path: the answers-only task through the evaluation runner, then the answers file."""
    from workflow.environment.tiny_model import build_tiny_model
    from workflow.evaluate import arena_baseline

    files = fixtures.arena_task_args(tmp_path / "arena")
    monkeypatch.setenv("PTB_ARENA_HARD_DIR", files["data_dir"])
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)  # answers need no judge
    model = build_tiny_model(tmp_path / "Qwen3-1.7B", hidden_size=64, layers=2)
    # Greedy, the random tiny model only writes newlines (an empty answer, refused as a baseline);
    # sampling (as Qwen3-1.7B's own generation_config asks) gives text.
    config_file = model / "generation_config.json"
    config_file.write_text(json.dumps(json.loads(config_file.read_text()) | {"do_sample": True, "temperature": 1.0}))
    config = {
        "evaluation": {"backend": "hf", "max_connections": 2},
        "container": {"runtime": "none", "local_images": {}},
        "hf_home": str(tmp_path / "hf_home"),
        "results": str(tmp_path / "results"),
        "benchmarks": {"arenahardwriting": {"weight": 1.0, "limit": 1}},
    }
    out = arena_baseline.baseline_answers_path(config["hf_home"], arena_baseline.baseline_model())
    record = arena_baseline.make_baseline_answers(
        config, out, tmp_path / "log", model=str(model), overrides={"max_tokens_ladder": [8]}
    )
    assert record["status"] == "ok", record.get("reason")
    assert record["answers"] == 2  # every writing question, the benchmark's limit notwithstanding
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["uid"] for r in rows) == ["w1", "w2"] and {r["model"] for r in rows} == {"Qwen3-1.7B"}
    assert all(r["messages"][-1]["content"]["answer"] for r in rows)


@pytest.mark.parametrize(
    ("benchmark", "dest", "files"),
    [
        ("arenahardwriting", "RELEASE_DEST", ("JUDGE_SETTINGS_FILE", "JUDGE_CONFIG_FILE")),
        ("healthbench", "DATA_DEST", ()),
    ],
)
def test_the_prefetch_fetches_what_the_task_reads(tmp_path, benchmark, dest, files):
    """meta.yaml `downloads:` and the task's own constants name the same files at the same release."""
    module = task_module(tmp_path, benchmark)
    (download,) = task_meta(benchmark)["downloads"]
    assert download["dest"] == getattr(module, dest)
    if benchmark == "arenahardwriting":
        assert download["base_url"] == module.ARENA_HARD_RELEASE
        assert download["files"] == [getattr(module, name) for name in files]
    else:
        assert [f"{download['base_url']}/{name}" for name in download["files"]] == [module.OFFICIAL_DATA_URL]
