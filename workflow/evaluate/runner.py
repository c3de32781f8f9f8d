"""The pipeline's final evaluation of a model on one benchmark.

Each attempt runs tasks/evaluate.py (the script agents were handed) in its own
process, so a crash or an out-of-memory error leaves the next attempt clean.
With the vllm backend the job starts one vLLM server (workflow.evaluate.server)
and points every attempt at it; a server that died is restarted, and it is
always stopped when the job ends, however it ends. Which seeds and token
stages are tried, and what the attempts add up to, is the protocol's
decision (workflow/evaluate/protocol.py: one evaluation under v1.0, v1.2's
seeds and retry cascade): failed attempts are retried down the task's
max-tokens stages, except when the task itself cannot be built (a judge's key
or the data is missing): retrying cannot fix that, so the cell fails at once
with that reason. The outcome is always a metrics record: ok, missing or failed.
"""

import contextlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from workflow.environment.runtime import ImageRuntime, image_runtime
from workflow.evaluate.protocol import SINGLE, Attempt, evaluation_plan, run_plan
from workflow.evaluate.server import (
    DEFAULT_SERVER_ARGS,
    ServerStartError,
    VllmServer,
    stopped_on_exit,
)
from workflow.evaluate.serving import model_server_args
from workflow.suites import protocol_of, suite_of
from workflow.tasks import task_meta, write_handout

SERVER_STARTS = 2
ERROR_TAIL_CHARS = 2000


def is_model_dir(path: Path) -> bool:
    return (Path(path) / "config.json").exists()


def evaluation_settings(config: dict, benchmark: str) -> dict:
    """The config's evaluation section, with the benchmark's own sample limit if it sets one,
    and the eval image the server and the attempts run in."""
    settings = dict(config["evaluation"])
    mounts = [config[key] for key in ("hf_home", "results") if config.get(key)]
    settings["image"] = image_runtime(config, "eval", gpus=True, binds=mounts)
    limit = config.get("benchmarks", {}).get(benchmark, {}).get("limit")
    if limit:
        settings["limit"] = limit
    # One evaluation (v1.0) or v1.2's seeds (workflow/evaluate/protocol.py), as the suite says.
    settings["protocol"] = protocol_of(config)
    settings["suite"] = suite_of(config)
    if config.get("hf_home"):
        settings.setdefault("hf_home", config["hf_home"])
    return settings


def attempt_env(settings: dict, log_dir: Path | None = None) -> dict:
    """Environment of an attempt and of the server: the hub offline, the shared cache, the judge."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    if log_dir is not None:
        # Inspect's generation cache is keyed by model name, and every cell's
        # model is served as "final_model": one cache per cell keeps them apart.
        env["INSPECT_CACHE_DIR"] = str(Path(log_dir).resolve() / "inspect_cache")
    if settings.get("hf_home") and "HF_HOME" not in os.environ:
        env["HF_HOME"] = os.path.abspath(settings["hf_home"])
    if settings.get("judge_model"):
        env["PTB_JUDGE_MODEL"] = settings["judge_model"]
    return env


def vllm_server_args(model: str, settings: dict) -> dict:
    """Server flags: our GPU defaults, the model's template and parser, then config overrides."""
    model_args = model_server_args(model_files(model, settings))
    # Enough sequences in flight for every connection the client opens.
    return {
        **DEFAULT_SERVER_ARGS,
        "max_num_seqs": settings["max_connections"],
        **model_args,
        **(settings.get("vllm_args") or {}),
    }


def model_files(model: str, settings: dict) -> Path:
    """The folder holding the model's config.json: itself, or a hub model's snapshot in the cache."""
    if Path(model).is_dir():
        return Path(model)
    from huggingface_hub import try_to_load_from_cache

    hf_home = attempt_env(settings).get("HF_HOME")
    cache_dir = Path(hf_home) / "hub" if hf_home else None
    config = try_to_load_from_cache(model, "config.json", cache_dir=cache_dir)
    if not isinstance(config, str):
        raise FileNotFoundError(f"{model}: no config.json in the Hugging Face cache (was it prefetched?)")
    return Path(config).parent


def eval_image(settings: dict) -> ImageRuntime:
    """Where evaluation code runs: the eval image; this environment when settings name none."""
    return settings.get("image") or ImageRuntime("eval")


def attempt_command(
    handout: Path,
    model: str,
    out_json: Path,
    log_dir: Path,
    settings: dict,
    max_tokens: int,
    server: VllmServer | None = None,
):
    cmd = [
        eval_image(settings).python, str(handout / "evaluate.py"),
        "--task-dir", str(handout),
        "--model-path", str(model),
        "--backend", settings["backend"],
        "--max-connections", str(settings["max_connections"]),
        "--max-tokens", str(max_tokens),
        "--json-output-file", str(out_json),
        "--log-dir", str(log_dir),
    ]  # fmt: skip
    if server is not None:
        cmd += ["--model-base-url", server.base_url, "--served-model-name", server.name]
    if settings.get("limit"):
        cmd += ["--limit", str(settings["limit"])]
    return eval_image(settings).command(cmd)


def build_server(model: str, log_dir: Path, settings: dict) -> VllmServer | None:
    """The job's vLLM server, not yet started (None for the hf backend)."""
    if settings["backend"] != "vllm":
        return None
    image = eval_image(settings)
    problem = image.problem()
    if problem:
        raise ValueError(problem)
    return VllmServer(
        python=image.python,
        runtime=image,
        model=str(model),
        server_args=vllm_server_args(model, settings),
        log_path=Path(log_dir) / "vllm_server.log",
        env={k: v for k, v in attempt_env(settings).items() if k in ("HF_HOME", "HF_HUB_OFFLINE")},
    )


def _failed(reason: str, attempts: list) -> dict:
    return {"status": "failed", "reason": reason, "attempts": attempts}


def evaluate(
    benchmark: str,
    model: str,
    log_dir: Path,
    settings: dict,
    local_model: bool = True,
    server: VllmServer | None = None,
) -> dict:
    """Score `model` (a folder, or a hub id when local_model is False) on a benchmark.

    With `server` (a vLLM server of this model that the caller owns and stops),
    the attempts use it instead of a server of their own."""
    meta = task_meta(benchmark)
    if local_model and not is_model_dir(model):
        return {"status": "missing", "reason": f"no model at {model} (config.json absent)"}
    log_dir = Path(log_dir)
    shutil.rmtree(log_dir, ignore_errors=True)  # an earlier evaluation's attempts are not this one's
    log_dir.mkdir(parents=True)
    # A pristine copy of what the agent was handed, never the agent's own copy.
    handout = log_dir / "handout"
    write_handout(handout, benchmark)
    own_server = server is None
    if own_server:
        try:
            server = build_server(model, log_dir, settings)
        except (OSError, ValueError) as err:
            return _failed(f"cannot set up the vLLM server: {err}", [])
    # A settings ladder (benchmarks, tests) overrides the task's own.
    ladder = settings.get("max_tokens_ladder") or meta["max_tokens"]
    protocol = settings.get("protocol", SINGLE)
    plan = evaluation_plan(protocol, meta, ladder, settings, generation_config_of(model, settings))
    count = {"n": 0}

    def attempt(seed: int | None, max_tokens: int) -> Attempt:
        count["n"] += 1
        return run_attempt(count["n"], handout, model, log_dir, settings, meta, max_tokens, seed, server)

    with stopped_on_exit(server) if server and own_server else contextlib.nullcontext():
        try:
            # A settings metric (a task argument that changes what the task reports) overrides the task's own.
            record = run_plan(plan, settings.get("metric") or meta.get("metric", "accuracy"), attempt)
        except ServerStartError as err:
            return _failed(f"vLLM server failed to start {SERVER_STARTS} times: {err}", [])
    if settings.get("suite"):
        record["suite"] = settings["suite"]  # results name the PostTrainBench version they belong to
    return record


def generation_config_of(model: str, settings: dict) -> dict | None:
    """The model's generation_config.json (it sets vLLM's default sampling), None if it has none."""
    try:
        path = model_files(model, settings) / "generation_config.json"
    except FileNotFoundError:
        return None
    return json.loads(path.read_text()) if path.exists() else None


def task_args(settings: dict, meta: dict, seed: int | None) -> dict:
    """-T arguments of an attempt: the settings' own, and the seed where the task takes it as an argument."""
    args = dict(settings.get("task_args") or {})
    if seed is not None and meta.get("seed_task_arg"):
        args[meta["seed_task_arg"]] = seed
    return args


def run_attempt(
    n: int,
    handout: Path,
    model: str,
    log_dir: Path,
    settings: dict,
    meta: dict,
    max_tokens: int,
    seed: int | None,
    server: VllmServer | None,
) -> Attempt:
    """One evaluation attempt in its own process; its output and log kept as attempt<n>.*."""
    if server is not None:
        _start_if_down(server)
    out = log_dir / f"attempt{n}.json"
    started = time.monotonic()
    env = attempt_env(settings, log_dir)
    if server is not None:
        env["VLLM_API_KEY"] = server.api_key
    env = eval_image(settings).environment(env)
    cmd = attempt_command(handout, model, out, log_dir, settings, max_tokens, server)
    if seed is not None:
        cmd += ["--seed", str(seed)]
    for key, value in task_args(settings, meta, seed).items():
        cmd += ["-T", f"{key}={json.dumps(value)}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    result = json.loads(out.read_text()) if out.exists() else {}
    record = {
        "attempt": n,
        "max_tokens": max_tokens,
        "returncode": proc.returncode,
        "seconds": round(time.monotonic() - started, 1),
        "status": result.get("status", "crashed"),
    }
    for key in ("log", "samples"):
        if result.get(key) is not None:
            record[key] = result[key]
    if server is not None:
        record["server_starts"] = server.starts
    (log_dir / f"attempt{n}.log").write_text(proc.stdout + proc.stderr)
    if proc.returncode == 0 and result.get("status") == "success":
        metrics = {k: v for k, v in result.items() if k not in ("status", "log", "samples", "seed")}
        return Attempt(True, metrics, record)
    record["error"] = (result.get("error") or proc.stderr or "no output")[-ERROR_TAIL_CHARS:]
    return Attempt(False, record=record, error=record["error"], retryable=result.get("retryable") is not False)


def evaluate_on_one_server(
    benchmarks: list[str],
    model: str,
    log_dirs: dict[str, Path],
    settings_of: Callable[[str], dict],
    server_dir: Path,
    local_model: bool = True,
) -> tuple[dict[str, dict], dict]:
    """Every benchmark's evaluation of one model, all against one vLLM server (started once).

    The baselines of a model are one job: the server's start (minutes on a
    GPU for a large model) is paid once instead of once per benchmark. Returns
    each benchmark's metrics record and the serving record (server starts, seconds).
    """
    started, started_at = time.monotonic(), time.time()
    if local_model and not is_model_dir(model):
        missing = {"status": "missing", "reason": f"no model at {model} (config.json absent)"}
        return {b: dict(missing) for b in benchmarks}, {"server_starts": 0, "seconds": 0.0}
    try:
        server = build_server(model, server_dir, settings_of(benchmarks[0]))
    except (OSError, ValueError) as err:
        failed = _failed(f"cannot set up the vLLM server: {err}", [])
        return {b: dict(failed) for b in benchmarks}, {"server_starts": 0, "seconds": 0.0}
    with stopped_on_exit(server) if server else contextlib.nullcontext():
        records = {
            b: evaluate(b, model, log_dirs[b], settings_of(b), local_model=local_model, server=server)
            for b in benchmarks
        }
    serving = {
        "benchmarks": list(benchmarks),
        "server_starts": server.starts if server else 0,
        "seconds": round(time.monotonic() - started, 1),
        "started_at": round(started_at, 1),
        "ended_at": round(time.time(), 1),
    }
    return records, serving


def _start_if_down(server: VllmServer) -> None:
    last: ServerStartError | None = None
    for _ in range(SERVER_STARTS):
        try:
            server.ensure_running()
            return
        except ServerStartError as err:
            last = err
    raise last
