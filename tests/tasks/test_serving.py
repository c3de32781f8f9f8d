"""Chat templates, tool-call parsers, the vLLM server and the pipeline's evaluation of one cell."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.pipeline import require
from workflow.config import REPO
from workflow.environment.tiny_model import build_tiny_model, build_tokenizer
from workflow.evaluate import serving
from workflow.evaluate.runner import evaluate, evaluation_settings, vllm_server_args
from workflow.evaluate.server import ServerStartError, VllmServer, cli_args, served_model_name, server_command
from workflow.records import write_json
from workflow.report.scoring import cell_outcome
from workflow.tasks import TASKS

# The eval image's stand-in (scripts/install-eval-env.sh): vLLM's CPU build, Inspect, inspect_evals.
EVAL_ENV = REPO / ".venv-vllm"
VLLM_PYTHON = EVAL_ENV / "bin" / "python"
# vLLM's CPU build: the engine reads gpu_memory_utilization as a share of host memory.
CPU_VLLM_ARGS = {"gpu_memory_utilization": 0.3, "enforce_eager": True, "max_model_len": 512}
FAMILIES = ["qwen3", "gemma3", "smollm3"]


def evaluate_script():
    spec = importlib.util.spec_from_file_location("evaluate_script", TASKS / "evaluate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def needs_vllm():
    require(VLLM_PYTHON.exists(), f"the eval environment is not installed at {EVAL_ENV} (make install-vllm)")


def eval_config(tmp_path, local_eval_env, **evaluation) -> dict:
    """A config's evaluation and container sections, as the evaluate rule reads them."""
    return {
        "evaluation": {"backend": "vllm", "max_connections": 2} | evaluation,
        "container": {"runtime": "none", "local_images": {"eval": str(local_eval_env)}},
        "hf_home": str(tmp_path / "hf_home"),
        "results": str(tmp_path),
        "benchmarks": {},
    }


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "tiny-base", hidden_size=64, layers=2)


# --- chat templates ---------------------------------------------------------

TOOLS = [{"type": "function", "function": {"name": "add", "parameters": {"type": "object", "properties": {}}}}]
CONVERSATION = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Add 2 and 3."},
    {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"type": "function", "function": {"name": "add", "arguments": {"a": 2, "b": 3}}}],
    },  # noqa: E501
    {"role": "tool", "content": "5"},
    {"role": "user", "content": "Thanks."},
]


def render(family: str, messages, **kwargs) -> str:
    template = (TASKS / "templates" / f"{family}.jinja").read_text()
    return build_tokenizer().apply_chat_template(
        messages, chat_template=template, tokenize=False, add_generation_prompt=True, **kwargs
    )


@pytest.mark.parametrize("family", FAMILIES)
def test_template_renders_tools_calls_and_results(family):
    text = render(family, CONVERSATION, tools=TOOLS)
    assert "Be brief." in text and '"name": "add"' in text and "<tools>" in text
    call = text.split("<tool_call>\n")[-1].split("\n</tool_call>")[0]
    assert json.loads(call) == {"name": "add", "arguments": {"a": 2, "b": 3}}
    assert "<tool_response>\n5\n</tool_response>" in text
    assert text.index("Add 2 and 3.") < text.index("Thanks.")
    opener = "<start_of_turn>model\n" if family == "gemma3" else "<|im_start|>assistant\n"
    assert text.endswith(opener)


def test_family_formats():
    plain = [{"role": "user", "content": "Hi"}]
    chatml = "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    # Qwen3's format is the tiny model's own, so the embedded task reads the same prompts.
    assert (
        render("qwen3", plain)
        == chatml
        == build_tokenizer().apply_chat_template(plain, tokenize=False, add_generation_prompt=True)
    )  # noqa: E501
    assert render("smollm3", plain) == chatml
    assert render("qwen3", plain, enable_thinking=False).endswith("<think>\n\n</think>\n\n")
    gemma = render("gemma3", [{"role": "system", "content": "S"}, *plain])
    assert gemma == "<start_of_turn>user\nS\n\nHi<end_of_turn>\n<start_of_turn>model\n"  # no system turn in Gemma


CHOICES = [("qwen3", "qwen3"), ("gemma3_text", "gemma3"), ("smollm3", "smollm3")]


@pytest.mark.parametrize(("model_type", "expected"), CHOICES)
def test_chat_template_is_chosen_by_model_type(tmp_path, model_type, expected):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": model_type}))
    chosen = evaluate_script().chat_template(tmp_path, TASKS / "templates")
    assert Path(chosen).name == f"{expected}.jinja"


def test_no_template_for_an_unknown_family(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "mamba"}))
    assert evaluate_script().chat_template(tmp_path, TASKS / "templates") is None


# --- tool-call parsers --------------------------------------------------------


def test_handed_out_script_and_pipeline_serve_a_model_alike(tmp_path):
    for family in FAMILIES:
        (tmp_path / "config.json").write_text(json.dumps({"model_type": family}))
        assert serving.tool_call_parser(family) == "hermes"
        assert evaluate_script().vllm_server_args(tmp_path, TASKS / "templates") == serving.model_server_args(tmp_path)
    assert serving.tool_call_parser("mamba") is None


def test_tool_parser_names_exist_in_vllm():
    needs_vllm()
    code = (
        "import json, sys; from vllm.tool_parsers import ToolParserManager as M;"
        "names = json.load(sys.stdin); [M.get_tool_parser(n) for n in names]; print('ok')"
    )
    names = json.dumps(sorted(set(serving.serving_table()["tool_call_parsers"].values())))
    proc = subprocess.run([str(VLLM_PYTHON), "-c", code], input=names, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr[-2000:]


# --- the server ---------------------------------------------------------------


def test_server_args_for_the_tiny_model(tiny_model):
    args = vllm_server_args(str(tiny_model), {"max_connections": 48, "vllm_args": {"gpu_memory_utilization": 0.3}})
    assert args["chat_template"].endswith("templates/qwen3.jinja")
    assert args["tool_call_parser"] == "hermes" and args["enable_auto_tool_choice"] is True
    assert args["generation_config"] == "auto"  # the model's own generation_config.json
    assert args["max_num_seqs"] == 48 and args["gpu_memory_utilization"] == 0.3  # config wins


def test_server_command_never_carries_the_key():
    server = VllmServer(python="py", model="/m/final_model", server_args={"enforce_eager": True}, log_path=Path("x"))
    cmd = server_command("py", "/m/final_model", "final_model", 8000, {"enforce_eager": True, "quantization": None})
    assert cmd[:3] == ["py", "-m", "vllm.entrypoints.openai.api_server"]
    assert "--enforce-eager" in cmd and "--quantization" not in cmd
    assert server.api_key not in " ".join(cmd) and "--api-key" not in cmd
    assert cli_args({"max_model_len": 512, "trust_remote_code": False}) == ["--max-model-len", "512"]


def test_mapping_flags_reach_vllm_as_json():
    # config.yaml's evaluation.vllm_args may hold a mapping (the rehearsal caps answers this way);
    # vLLM parses it with json.loads, which Python's repr would fail.
    flags = cli_args({"override_generation_config": {"max_new_tokens": 256, "temperature": 0.0}})
    assert flags[0] == "--override-generation-config"
    assert json.loads(flags[1]) == {"max_new_tokens": 256, "temperature": 0.0}


def test_served_name_has_no_colon(tmp_path):
    folder = tmp_path / "a:b"
    folder.mkdir()
    assert served_model_name(str(folder)) == "a_b"
    assert served_model_name("Qwen/Qwen3-1.7B") == "Qwen/Qwen3-1.7B"


def test_settings_take_the_benchmarks_own_limit():
    config = {
        "evaluation": {"backend": "vllm", "limit": None},
        "benchmarks": {"gsm8k": {"weight": 1, "limit": 7}},
        "container": {"runtime": "none"},
    }
    assert evaluation_settings(config, "gsm8k")["limit"] == 7


# --- one cell through workflow.evaluate.runner -------------------------------------


@pytest.mark.parametrize("benchmark", ["healthbench", "arenahardwriting"])
def test_missing_judge_key_fails_the_cell_at_once_with_the_reason(benchmark, tiny_model, tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("PTB_JUDGE_MODEL", raising=False)
    settings = {"backend": "hf", "max_connections": 2, "limit": 2}
    metrics = evaluate(benchmark, str(tiny_model), tmp_path / "eval", settings)
    assert metrics["status"] == "failed"
    assert "judge key missing" in metrics["reason"] and "OPENAI_API_KEY" in metrics["reason"]
    assert len(metrics["attempts"]) == 1  # no retries down the ladder
    write_json(tmp_path / "metrics.json", metrics)
    recorded = json.loads((tmp_path / "metrics.json").read_text())
    outcome, reason = cell_outcome(recorded, {"flagged": False, "llm": {"verdict": "clean"}})
    assert outcome == "failed" and "judge key missing" in reason and "OPENAI_API_KEY" in reason
    assert "value" not in recorded  # failed, never a zero score


def test_a_missing_eval_environment_fails_the_cell_with_a_clear_reason(tiny_model, tmp_path):
    settings = evaluation_settings(eval_config(tmp_path, "/nowhere/venv"), "arith")
    metrics = evaluate("arith", str(tiny_model), tmp_path / "eval", settings)
    assert metrics["status"] == "failed"
    assert "container.local_images.eval: /nowhere/venv has no bin/python" in metrics["reason"]


@pytest.mark.slow
def test_a_server_that_cannot_start_is_stopped_and_reported(tmp_path):
    needs_vllm()
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text(json.dumps({"model_type": "qwen3", "architectures": ["Qwen3ForCausalLM"]}))
    server = VllmServer(str(VLLM_PYTHON), str(broken), CPU_VLLM_ARGS, tmp_path / "server.log", start_timeout_s=300)
    with pytest.raises(ServerStartError, match="exited"):
        server.start()
    assert server.process is None


@pytest.mark.slow
def test_vllm_cpu_serves_and_scores_a_trained_tiny_model(tmp_path):
    """The cluster's path: one server and every attempt (tasks/evaluate.py) in the eval image's stand-in."""
    needs_vllm()
    base = build_tiny_model(tmp_path / "tiny-base")
    trained = tmp_path / "final_model"
    train = REPO / "agents" / "reference-sft" / "train.py"
    subprocess.run(
        [sys.executable, str(train), "--base-model", str(base), "--task-dir", str(TASKS / "arith"),
         "--output", str(trained), "--timer", str(tmp_path / "no-timer")],  # the reference recipe's defaults
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    config = eval_config(tmp_path, EVAL_ENV, max_connections=32, limit=40, vllm_args=CPU_VLLM_ARGS)
    settings = evaluation_settings(config, "arith")
    assert settings["image"].python == str(VLLM_PYTHON)
    metrics = evaluate("arith", str(trained), tmp_path / "eval", settings)
    assert metrics["status"] == "ok", metrics
    assert metrics["samples"] == 40 and metrics["value"] > 0.5
    assert Path(metrics["log"]).suffix == ".eval" and Path(metrics["log"]).exists()
    assert metrics["attempts"][0]["server_starts"] == 1
    server_log = (tmp_path / "eval" / "vllm_server.log").read_text()
    assert "--tool-call-parser hermes" in server_log and "qwen3.jinja" in server_log
    # The server and its engine are gone: nothing still runs the model.
    assert not _processes_mentioning(str(trained))
    # The untrained base model scores far lower on the same path.
    base_metrics = evaluate("arith", str(base), tmp_path / "eval-base", settings)
    assert base_metrics["status"] == "ok" and base_metrics["value"] < metrics["value"]


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if text in cmdline.read_bytes().decode(errors="replace") and int(cmdline.parent.name) != os.getpid():
                found.append(int(cmdline.parent.name))
        except OSError:
            continue
    return found  # a zombie's cmdline is empty, so only live processes match


def test_baselines_of_a_model_share_one_server(tmp_path, monkeypatch):
    """evaluate_on_one_server builds one server, hands it to every benchmark's evaluation, stops it once."""
    from workflow.evaluate import runner

    class Server:
        starts, stops = 1, 0

        def stop(self):
            Server.stops += 1

    built, seen = [], []
    monkeypatch.setattr(runner, "build_server", lambda model, log_dir, settings: built.append(log_dir) or Server())

    def fake_evaluate(benchmark, model, log_dir, settings, local_model=True, server=None):
        seen.append((benchmark, server, settings["limit"], log_dir))
        return {"status": "ok", "value": 0.5}

    monkeypatch.setattr(runner, "evaluate", fake_evaluate)
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text("{}")
    records, serving = runner.evaluate_on_one_server(
        ["gsm8k", "bfcl"],
        str(tmp_path / "m"),
        {b: tmp_path / b / "eval" for b in ("gsm8k", "bfcl")},
        lambda b: {"limit": {"gsm8k": 3, "bfcl": 4}[b]},
        tmp_path,
    )
    assert built == [tmp_path] and Server.stops == 1
    assert [(b, limit) for b, _, limit, _ in seen] == [("gsm8k", 3), ("bfcl", 4)]
    assert seen[0][1] is seen[1][1] and isinstance(seen[0][1], Server)
    assert records == {"gsm8k": {"status": "ok", "value": 0.5}, "bfcl": {"status": "ok", "value": 0.5}}
    assert serving["server_starts"] == 1 and serving["benchmarks"] == ["gsm8k", "bfcl"]
    missing, _ = runner.evaluate_on_one_server(["gsm8k"], str(tmp_path / "none"), {}, lambda b: {}, tmp_path)
    assert missing["gsm8k"]["status"] == "missing"


def test_one_baselines_job_per_model_and_kind_with_runtime_for_each_benchmark():
    from workflow.resources import baseline_resources

    config = {
        "evaluation": {"backend": "vllm"},
        "benchmarks": {"a": {"weight": 0.5}, "b": {"weight": 0.5}},
        "slurm": {"evaluate": {"runtime_minutes": 30}},
        "agents": {},
    }
    assert baseline_resources(config)["runtime"] == 60
