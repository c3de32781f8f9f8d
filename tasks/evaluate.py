"""Evaluate a model on this directory's benchmark (task.py) with Inspect.

The same script is handed to the agent for development and run by the
pipeline for the final score. Example:
    python evaluate.py --model-path final_model --limit 20

With the vllm backend (the default) Inspect starts a vLLM server for the
model, using the chat template of the model's family from templates/ and the
model's own generation_config.json. The pipeline instead starts one server
per job and passes its address with --model-base-url.
"""

import argparse
import importlib.util
import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

SERVING_FILE = "serving.json"  # beside the templates: template aliases and tool-call parsers


def serving_table(templates_dir: Path | None) -> dict:
    path = Path(templates_dir) / SERVING_FILE if templates_dir else None
    return json.loads(path.read_text()) if path and path.exists() else {}


# Exit codes: the pipeline retries 1 (the evaluation failed) down its token
# ladder, but not 2 (the task itself could not be built: a missing judge key or
# missing data, which no retry fixes).
EXIT_FAILED = 1
EXIT_TASK_ERROR = 2


def load_task(task_dir: Path, **task_args):
    # A task's sibling files (graders.py, data.py) import as top-level modules.
    sys.path.insert(0, str(task_dir))
    spec = importlib.util.spec_from_file_location("benchmark_task", task_dir / "task.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    factory = getattr(module, getattr(module, "TASK", task_dir.name))
    return factory(**task_args)


def model_type(model_path: Path) -> str | None:
    cfg = Path(model_path) / "config.json"
    return json.loads(cfg.read_text()).get("model_type", "") if cfg.exists() else None


def chat_template(model_path: Path, templates_dir: Path | None) -> str | None:
    """The family's template from templates/<model_type>.jinja, if one is shipped."""
    family = model_type(model_path)
    if not templates_dir or not family:
        return None
    aliases = serving_table(templates_dir).get("template_aliases", {})
    tpl = Path(templates_dir) / f"{aliases.get(family, family)}.jinja"
    return str(tpl) if tpl.exists() else None


def vllm_server_args(model_path: Path, templates_dir: Path | None) -> dict:
    """vLLM server settings that follow from the model: chat template, tool-call parser.

    The model's generation_config.json supplies the default sampling settings
    (vLLM's `generation_config: auto`).
    """
    args: dict = {"generation_config": "auto"}
    template = chat_template(model_path, templates_dir)
    if template:
        args["chat_template"] = template
    parser = serving_table(templates_dir).get("tool_call_parsers", {}).get(model_type(model_path) or "")
    if parser:
        args |= {"enable_auto_tool_choice": True, "tool_call_parser": parser}
    return args


def model_spec(backend: str, model_path: Path, templates_dir: Path | None, args) -> tuple[str, dict]:
    """Inspect's model name and model_args for a backend (a running server's URL goes separately)."""
    if backend == "hf":
        model_args: dict = {
            "model_path": str(model_path),
            "device": os.environ.get("PTB_HF_DEVICE", "cpu"),
            "batch_size": args.max_connections,
            # Inspect's hf provider samples unless told otherwise; follow the
            # model's own generation_config.json (greedy when it says nothing).
            "do_sample": generation_defaults(model_path).get("do_sample", False),
        }
        template = chat_template(model_path, templates_dir)
        if template:
            # Inspect's hf provider takes the template's text (vLLM takes a path).
            model_args["chat_template"] = Path(template).read_text()
        return "hf/local", model_args
    if args.model_base_url:
        # A server someone else started (the pipeline's): it already carries
        # the template and parser; name the model as that server serves it.
        name = args.served_model_name or str(model_path)
        check_model_name(name)
        return f"vllm/{name}", {}
    check_model_name(str(model_path))
    server = vllm_server_args(model_path, templates_dir)
    server["gpu_memory_utilization"] = args.gpu_memory_utilization
    return f"vllm/{model_path}", server


def generation_defaults(model_path: Path) -> dict:
    path = Path(model_path) / "generation_config.json"
    return json.loads(path.read_text()) if path.exists() else {}


def check_model_name(name: str) -> None:
    # Inspect reads anything after ':' in a vLLM model name as a LoRA adapter.
    if ":" in name:
        raise SystemExit(f"model name {name!r} contains ':'; move or rename the model folder")


def data_env(env) -> dict:
    """Where non-hub task data is read: the prefetch saves it below $HF_HOME/inspect_evals,
    inspect_evals' cache folder (read when inspect_evals is imported, so set before)."""
    if env.get("HF_HOME") and not env.get("INSPECT_EVALS_CACHE_DIR"):
        return {"INSPECT_EVALS_CACHE_DIR": os.path.join(os.path.abspath(env["HF_HOME"]), "inspect_evals")}
    return {}


def task_arg(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"task argument {text!r} is not KEY=VALUE")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def headline_metrics(log) -> dict:
    """Every metric of every scorer, by name (the first scorer wins a clash)."""
    metrics: dict = {}
    for score in log.results.scores:
        for name, m in score.metrics.items():
            metrics.setdefault(name, m.value)
    return metrics


def write_result(result: dict, path: Path | None) -> None:
    print(json.dumps(result))
    if path:
        path.write_text(json.dumps(result, indent=2) + "\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model-path", type=Path, default=Path("final_model"))
    ap.add_argument("--task-dir", type=Path, default=HERE, help="folder holding task.py")
    ap.add_argument("--limit", type=int, default=None, help="evaluate only the first N samples")
    ap.add_argument("--max-tokens", type=int, default=None, help="max new tokens per answer")
    ap.add_argument("--max-connections", type=int, default=32, help="requests in flight at once")
    ap.add_argument("--seed", type=int, default=None, help="seed for the model's sampling (the final evaluation's)")
    ap.add_argument("--backend", choices=["vllm", "hf"], default=os.environ.get("PTB_EVAL_BACKEND", "vllm"))
    ap.add_argument("--gpu-memory-utilization", type=float, default=0.85, help="vLLM's share of GPU memory")
    ap.add_argument("--model-base-url", default=None, help="an already running vLLM server (…/v1)")
    ap.add_argument("--served-model-name", default=None, help="the model's name on that server")
    ap.add_argument("--templates-dir", type=Path, default=HERE / "templates")
    ap.add_argument("-T", "--task-arg", type=task_arg, action="append", default=[], help="KEY=VALUE for task.py")
    ap.add_argument("--json-output-file", type=Path, default=None)
    ap.add_argument("--log-dir", type=Path, default=Path("eval_logs"))
    args = ap.parse_args(argv)

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.update(data_env(os.environ))
    from inspect_ai import eval as inspect_eval

    model_path = args.model_path.resolve() if args.model_path.exists() else args.model_path
    try:
        task = load_task(args.task_dir.resolve(), **dict(args.task_arg))
    except Exception as err:  # noqa: BLE001  (any failure to build the task is reported, not retried)
        write_result(
            {"status": "error", "retryable": False, "error": f"{type(err).__name__}: {err}"}, args.json_output_file
        )
        return EXIT_TASK_ERROR
    model, model_args = model_spec(args.backend, model_path, args.templates_dir, args)
    log = inspect_eval(
        task,
        model=model,
        model_args=model_args,
        model_base_url=args.model_base_url if args.backend == "vllm" else None,
        limit=args.limit,
        max_tokens=args.max_tokens,
        max_connections=args.max_connections,
        seed=args.seed,
        log_dir=str(args.log_dir),
        display="plain",
    )[0]
    result = {"status": log.status, "log": log.location, "samples": len(log.samples or []), "seed": args.seed}
    if log.status == "success":
        result |= headline_metrics(log)
    else:
        result["error"] = str(log.error.message) if log.error else "evaluation did not complete"
    write_result(result, args.json_output_file)
    return 0 if log.status == "success" else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
