"""Evaluate a model on this directory's benchmark (task.py) with Inspect.

The same script is handed to the agent for development and run by the
pipeline for the final score. Example:
    python evaluate.py --model-path final_model --limit 20
"""

import argparse
import importlib.util
import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def load_task(task_dir: Path, **task_args):
    spec = importlib.util.spec_from_file_location("benchmark_task", task_dir / "task.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    factory = getattr(module, getattr(module, "TASK", task_dir.name))
    return factory(**task_args)


def chat_template(model_path: Path, templates_dir: Path | None) -> str | None:
    """The family's template from templates/<model_type>.jinja, if one is shipped."""
    if not templates_dir:
        return None
    cfg = model_path / "config.json"
    if not cfg.exists():
        return None
    model_type = json.loads(cfg.read_text()).get("model_type", "")
    tpl = templates_dir / f"{model_type}.jinja"
    return str(tpl) if tpl.exists() else None


def model_spec(backend: str, model_path: Path, template: str | None, max_connections: int):
    args: dict = {"model_path": str(model_path)}
    if backend == "hf":
        args |= {"device": os.environ.get("PTB_HF_DEVICE", "cpu"), "batch_size": max_connections}
    if template:
        args["chat_template"] = template
    return f"{backend}/local", args


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model-path", type=Path, default=Path("final_model"))
    ap.add_argument("--task-dir", type=Path, default=HERE, help="folder holding task.py")
    ap.add_argument("--limit", type=int, default=None, help="evaluate only the first N samples")
    ap.add_argument("--max-tokens", type=int, default=None, help="max new tokens per answer")
    ap.add_argument("--max-connections", type=int, default=32)
    ap.add_argument("--backend", choices=["vllm", "hf"], default=os.environ.get("PTB_EVAL_BACKEND", "vllm"))
    ap.add_argument("--templates-dir", type=Path, default=HERE / "templates")
    ap.add_argument("--json-output-file", type=Path, default=None)
    ap.add_argument("--log-dir", type=Path, default=Path("eval_logs"))
    args = ap.parse_args(argv)

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from inspect_ai import eval as inspect_eval

    model, model_args = model_spec(
        args.backend,
        args.model_path.resolve(),
        chat_template(args.model_path, args.templates_dir),
        args.max_connections,
    )
    log = inspect_eval(
        load_task(args.task_dir.resolve()),
        model=model,
        model_args=model_args,
        limit=args.limit,
        max_tokens=args.max_tokens,
        max_connections=args.max_connections,
        log_dir=str(args.log_dir),
        display="plain",
    )[0]
    result = {"status": log.status, "log": log.location, "samples": len(log.samples or [])}
    if log.status == "success":
        scores = log.results.scores[0]
        result |= {name: m.value for name, m in scores.metrics.items()}
    else:
        result["error"] = str(log.error.message) if log.error else "evaluation did not complete"
    print(json.dumps(result))
    if args.json_output_file:
        args.json_output_file.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if log.status == "success" else 1


if __name__ == "__main__":
    sys.exit(main())
