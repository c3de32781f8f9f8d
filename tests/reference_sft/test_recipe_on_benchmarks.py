"""reference-sft on every benchmark, the production way, with the outside world swapped for fixtures.

The base models (tiny Qwen3, SmolLM3 and Gemma 3 models under the real hub
ids) and the training datasets (a few rows each, in each repo's own layout)
are served by the loopback hub and fetched by the real prefetch code, with
the lists config/config.yaml gives it. Then each benchmark's job directory
is handed out as run_agent writes it and the scaffold's solve.sh runs there
with the hub offline: it must train on the benchmark's data in the family's
template, choose a checkpoint and leave a final_model that loads.
"""

import json
import os
import subprocess
import sys
import time

import pytest
import yaml

from tests.prefetch.conftest import last_json, run_step
from tests.prefetch.fake_hub import FakeHub, Repo
from tests.reference_sft.conftest import REPO, recipe_module
from tests.reference_sft.hub_data import training_repos
from workflow.agent.handout import render_prompt, write_job_dir
from workflow.config import resolve_config
from workflow.environment.prefetch import ModelResource, prefetch_resources
from workflow.tasks import TEMPLATES

pytestmark = pytest.mark.slow

# as the pipeline reads it: the suite's benchmarks filled in
CONFIG = resolve_config(yaml.safe_load((REPO / "config" / "config.yaml").read_text()))
# Each benchmark with one family's base model (every family appears; Gemma 3 gets the tool calls).
CELLS = {
    "gsm8k": "qwen3",
    "aime2025": "smollm3",
    "gpqamain": "gemma3",
    "humaneval": "qwen3",
    "bfcl": "gemma3",
    "healthbench": "smollm3",
    "arenahardwriting": "qwen3",
}
FAMILY_OF = {
    "qwen3": CONFIG["models"]["qwen3-1.7b"]["base"],
    "smollm3": CONFIG["models"]["smollm3-3b"]["base"],
    "gemma3": CONFIG["models"]["gemma3-4b"]["base"],
}
MODEL_CLASS = {"qwen3": "Qwen3ForCausalLM", "smollm3": "SmolLM3ForCausalLM", "gemma3": "Gemma3ForConditionalGeneration"}
END_OF_TURN = {"qwen3": "<|im_end|>", "smollm3": "<|im_end|>", "gemma3": "<end_of_turn>"}


@pytest.fixture(scope="module")
def prefetched(tiny_family_models, tmp_path_factory):
    """An HF cache filled by the real prefetch from the loopback hub, as the prefetch rules would."""
    hub = FakeHub()
    served = set()
    for repo in training_repos():
        if repo.repo_id == "openai/gsm8k":
            # The evaluation pins this revision; serve the fixture under it so the dev evaluation runs.
            gsm8k = next(d for d in prefetch_resources(CONFIG)["datasets"] if d.repo == "openai/gsm8k" and d.revision)
            repo = Repo(repo.repo_id, "dataset", repo.files, sha=gsm8k.revision)
        hub.add(repo)
        served.add(repo.repo_id)
    for family, model_dir in tiny_family_models.items():
        hub.add(Repo.from_folder(FAMILY_OF[family], "model", model_dir))
    url = hub.start()
    try:
        resources = {
            "models": [ModelResource(FAMILY_OF[f]) for f in tiny_family_models],
            "datasets": [d for d in prefetch_resources(CONFIG)["datasets"] if d.repo in served],
        }
        hf_home = tmp_path_factory.mktemp("hf_home")
        records = last_json(run_step("download", hf_home, resources, url))
        assert len(records) == len(resources["models"]) + len(resources["datasets"])
        report = last_json(run_step("verify", hf_home, resources, url))
        assert report["ok"], report["failed"]
    finally:
        hub.stop()
    # Every hub source of data.yaml was among what the config made the prefetch fetch.
    fetched = {d.repo for d in resources["datasets"]}
    assert {s["repo"] for s in recipe_module("recipe_data").hub_sources()} <= fetched
    return hf_home


def run_reference_sft(job, benchmark: str, base: str, hf_home, args: str = "") -> subprocess.CompletedProcess:
    prompt = render_prompt(benchmark, base, 0.25, 0, internet=False)
    write_job_dir(job, benchmark, prompt, deadline=int(time.time() + 900))
    env = {
        "PATH": f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}",
        "HOME": str(job),
        "HF_HOME": str(hf_home),
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "PTB_BASE_MODEL": base,
        "PTB_BENCHMARK": benchmark,
        "PTB_AGENT_ARGS": args,
    }
    return subprocess.run(
        ["bash", str(REPO / "agents" / "reference-sft" / "solve.sh")],
        cwd=job, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip


@pytest.mark.parametrize("benchmark", list(CELLS))
def test_reference_sft_trains_on_the_benchmark_data_and_saves_a_model(prefetched, tmp_path, benchmark):
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    family = CELLS[benchmark]
    base = FAMILY_OF[family]
    job = tmp_path / "job"
    proc = run_reference_sft(job, benchmark, base, prefetched)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]

    # Trained on each of the benchmark's sources, read from the cache.
    plan = recipe_module("recipe_data").benchmark_plan(benchmark)
    for source in plan["sources"]:
        line = next(x for x in proc.stdout.splitlines() if x.startswith(f"data: {source['repo']} (train)"))
        assert int(line.split(": ")[2].split()[0]) > 0, line
    assert f"templates/{family}.jinja" in proc.stdout

    model_dir = job / "final_model"
    config = AutoConfig.from_pretrained(model_dir)
    assert config.model_type == family
    assert type(AutoModelForCausalLM.from_pretrained(model_dir)).__name__ == MODEL_CLASS[family]
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    assert tokenizer.chat_template == (TEMPLATES / f"{family}.jinja").read_text()
    stops = GenerationConfig.from_pretrained(model_dir).eos_token_id
    assert tokenizer.convert_tokens_to_ids(END_OF_TURN[family]) in (stops if isinstance(stops, list) else [stops])

    selection = json.loads((job / "sft_selection.json").read_text())
    assert selection["benchmark"] == benchmark and selection["settings"]["preset"] == "tiny"
    assert selection["chosen"] in [c["step"] for c in selection["candidates"]]
    assert not (job / "sft_checkpoints").exists()  # only final_model is left behind
    if benchmark == "gsm8k":
        # The handed-out evaluate.py scored the checkpoints (Inspect, the cached test split, --limit).
        scored = [c for c in selection["candidates"] if c.get("score") is not None]
        assert scored and scored[0]["dev_eval"]["samples"] == 3
    else:
        # No test data (or no grader key) here: the held-out loss chose.
        assert all(c.get("score") is None for c in selection["candidates"])
        assert all(c["eval_loss"] is not None for c in selection["candidates"])
