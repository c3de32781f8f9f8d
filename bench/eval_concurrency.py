"""P5: evaluation wall time at upstream's vLLM settings and at ours, in one run.

The same task and model go through the pipeline's own evaluation path
(workflow.evaluate.runner: the job's vLLM server built by build_server and
started once, then workflow.evaluate.runner.evaluate's attempts through
tasks/evaluate.py and Inspect), once per setting; the untrained tiny model is
used so that every answer runs to max_tokens and each setting does the same
work. Per setting: server start, the attempt's wall time, the output tokens
Inspect logged and output tokens/s over the attempt (Inspect's start included).

    python bench/eval_concurrency.py [--eval-env .venv-vllm] [--limit 100] [--max-tokens 128]

Upstream evaluates with max_connections 2 (GSM8K) to 6 (the others) and
gpu_memory_utilization 0.8 (0.3-0.8 across tasks). On vLLM's CPU build that
last knob sizes the KV cache in host memory (0.8 would claim ~19 GiB of this
shared machine) and does not change per-token speed, so here it stays at 0.3
for every setting unless --upstream-gpu-memory-utilization says otherwise.
bench/gpu_eval.py runs the same comparison on a GPU.
"""

import argparse
import json
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from workflow.config import REPO  # noqa: E402
from workflow.environment.runtime import ImageRuntime, image_runtime  # noqa: E402
from workflow.environment.tiny_model import build_tiny_model  # noqa: E402
from workflow.evaluate.runner import build_server, evaluate  # noqa: E402
from workflow.evaluate.server import ServerStartError, stopped_on_exit  # noqa: E402

CPU_ARGS = {"enforce_eager": True, "max_model_len": 512}


def settings_to_compare(ours: int, upstream_gmu: float, ours_gmu: float) -> list[tuple[str, int, float]]:
    """(label, max_connections, gpu_memory_utilization) per setting."""
    return [
        ("upstream GSM8K", 2, upstream_gmu),
        ("upstream others", 6, upstream_gmu),
        ("ours", ours, ours_gmu),
    ]


def local_eval_image(eval_env: str | Path) -> ImageRuntime:
    """The eval image's local stand-in (a venv-like folder with bin/python)."""
    return image_runtime({"container": {"runtime": "none", "local_images": {"eval": str(eval_env)}}}, "eval")


def inspect_usage(log_path: str) -> dict:
    """Of one Inspect log: output tokens, Inspect's own start to end, the span from the first model
    call's start to the last one's end, and the median model call."""
    from inspect_ai.log import read_eval_log

    log = read_eval_log(log_path)
    tokens = sum(u.output_tokens for u in log.stats.model_usage.values())
    started, ended = (datetime.fromisoformat(t) for t in (log.stats.started_at, log.stats.completed_at))
    calls = [e for s in log.samples or [] for e in s.events if e.event == "model" and e.completed]
    durations = sorted((e.completed - e.timestamp).total_seconds() for e in calls)
    span = (max(e.completed for e in calls) - min(e.timestamp for e in calls)).total_seconds() if calls else None
    return {
        "output_tokens": tokens,
        "inspect_s": round((ended - started).total_seconds(), 1),
        "calls_s": round(span, 2) if span else None,
        "call_s_median": round(durations[len(durations) // 2], 3) if durations else None,
    }


def run_setting(
    model: Path, work: Path, label: str, connections: int, vllm_args: dict, image: ImageRuntime, args
) -> dict:
    """One setting through the pipeline's path: the job's server started once, then the evaluation on it."""
    settings = {
        "backend": "vllm",
        "max_connections": connections,
        "limit": args.limit,
        "max_tokens_ladder": [args.max_tokens] if args.max_tokens else None,
        "vllm_args": vllm_args,
        "image": image,
    }
    folder = work / label.replace(" ", "_")
    started = time.monotonic()
    server = build_server(str(model), folder / "server", settings)
    with stopped_on_exit(server):
        try:
            server.ensure_running()
        except ServerStartError as err:
            raise SystemExit(f"{label}: {err}") from err
        start_s = time.monotonic() - started
        metrics = evaluate(args.task, str(model), folder / "eval", settings, server=server)
    job_s = time.monotonic() - started
    if metrics["status"] != "ok":
        raise SystemExit(f"{label}: evaluation failed: {metrics.get('reason')}\n{json.dumps(metrics)[-3000:]}")
    attempt = metrics["attempts"][-1]
    row = {
        "setting": label,
        "max_connections": connections,
        "vllm_args": vllm_args,
        "server_start_s": round(start_s, 1),
        "eval_s": attempt["seconds"],
        "job_s": round(job_s, 1),
        "samples": attempt.get("samples"),
        "value": metrics["value"],
    }
    row |= inspect_usage(attempt["log"])
    row["output_tokens_per_s"] = round(row["output_tokens"] / row["eval_s"], 1)
    if row["calls_s"]:  # the model calls alone: no Inspect start, no scoring
        row["calls_output_tokens_per_s"] = round(row["output_tokens"] / row["calls_s"], 1)
    return row


def report(rows: list[dict]) -> None:
    """The table, then ours over each upstream setting (output tokens/s; the last row is ours)."""
    print(f"{'setting':<16} {'conns':>5} {'start s':>7} {'eval s':>7} {'calls s':>7} {'out tokens':>10} "
          f"{'tok/s':>8} {'calls tok/s':>11}")  # fmt: skip
    for r in rows:
        print(f"{r['setting']:<16} {r['max_connections']:>5} {r['server_start_s']:>7} {r['eval_s']:>7} "
              f"{r['calls_s']:>7} {r['output_tokens']:>10} {r['output_tokens_per_s']:>8} "
              f"{r.get('calls_output_tokens_per_s'):>11}")  # fmt: skip
    ours = rows[-1]
    for up in rows[:-1]:
        key = "calls_output_tokens_per_s"
        calls = ours[key] / up[key] if ours.get(key) and up.get(key) else float("nan")
        print(
            f"ours / {up['setting']}: output tokens/s {ours['output_tokens_per_s'] / up['output_tokens_per_s']:.2f}x "
            f"end to end (model calls alone {calls:.2f}x; whole job {up['job_s'] / ours['job_s']:.2f}x)"
        )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--eval-env", default=str(REPO / ".venv-vllm"), help="the eval image's local stand-in")
    ap.add_argument("--task", default="arith")
    ap.add_argument("--limit", type=int, default=100)
    ap.add_argument("--max-tokens", type=int, default=128, help="per answer (the untrained model uses them all)")
    ap.add_argument("--max-connections", type=int, default=64, help="ours (config/config.yaml's default)")
    ap.add_argument("--upstream-gpu-memory-utilization", type=float, default=0.3)
    ap.add_argument("--gpu-memory-utilization", type=float, default=0.3, help="ours")
    ap.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = ap.parse_args(argv)

    image = local_eval_image(args.eval_env)
    with tempfile.TemporaryDirectory(prefix="ptb-bench-") as tmp:
        work = Path(tmp)
        model = build_tiny_model(work / "tiny-base")
        rows = [
            run_setting(model, work, label, conns, {**CPU_ARGS, "gpu_memory_utilization": gmu}, image, args)
            for label, conns, gmu in settings_to_compare(
                args.max_connections, args.upstream_gpu_memory_utilization, args.gpu_memory_utilization
            )
        ]
    report(rows)
    print(
        "This CPU engine's step time grows with the batch and the fixed server start dominates a job "
        "(which is why one server serves all attempts); bench/gpu_eval.py measures the same on a GPU."
    )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
