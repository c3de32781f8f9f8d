"""reference-sft: a fixed supervised fine-tuning recipe, run the way a careful agent would.

1. Training data: the benchmark's allowed train sets (data.yaml), read from
   the prefetched Hugging Face cache with the hub offline, rendered in the
   model family's chat template (templates/ in the job directory).
2. Training: TRL's SFTTrainer, full fine-tune in bf16 on a GPU (or LoRA with
   --lora), 2,048-token packed sequences with per-document attention, cosine
   schedule with warmup; checkpoints at fixed fractions of the run.
3. Choice: each checkpoint is scored with `evaluate.py --limit <dev_limit>`
   (the development slice the benchmark hands to agents); where that cannot
   run (an LLM-graded task without a key), the lowest loss on held-out
   training examples decides. The best becomes final_model.
4. Time: it reads timer.sh and stops training early enough to evaluate,
   choose and save before the budget ends.

Settings come from a preset picked by model size (README.md lists them);
every one can be overridden on the command line (PTB_AGENT_ARGS).
"""

import argparse
import gc
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from recipe_data import DATA_FILE, benchmark_plan, load_examples  # noqa: E402
from recipe_speed import rows_per_step  # noqa: E402

# Full fine-tunes of 1.7-4B models, and the tiny models the tests build (a few
# MB, random weights: they need a large learning rate and short sequences to
# learn anything in a minute on a CPU).
PRESETS = {
    "full": {
        "lr": 1e-5,
        "lora_lr": 1e-4,
        "epochs": 3.0,
        "max_length": 2048,
        "batch_size": 16,
        "packing": True,
        "warmup": 0.03,
        "checkpoints": 3,
        "dev_max_tokens": None,  # the task's own answer length
        "cpu_threads": None,
    },
    "tiny": {
        "lr": 3e-3,
        "lora_lr": 3e-3,
        "epochs": 3.0,
        "max_length": 512,
        "batch_size": 32,
        "packing": False,
        "warmup": 10,
        "checkpoints": 2,
        "dev_max_tokens": 32,  # a random-weight model never stops on its own
        # A model this small gains nothing from more threads, and on a shared CPU
        # (the test machines) two spinning threads per process were 6-10x slower.
        "cpu_threads": 1,
    },
}
TINY_PARAMETERS = 50e6


def seconds_left(timer: Path) -> float:
    """Ask timer.sh, as an agent would; no timer means no limit."""
    if not timer.exists():
        return float("inf")
    out = subprocess.run(["bash", str(timer), "--seconds"], capture_output=True, text=True).stdout
    try:
        return float(out.strip().split()[-1])
    except (ValueError, IndexError):
        return float("inf")


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base-model", required=True, help="a hub id (read from the cache) or a folder")
    ap.add_argument("--task-dir", type=Path, default=Path("."), help="the job directory (evaluate.py, templates/)")
    ap.add_argument("--benchmark", default=None, help="default: $PTB_BENCHMARK, else the task directory's name")
    ap.add_argument("--data-file", type=Path, default=DATA_FILE, help="training data per benchmark")
    ap.add_argument("--output", type=Path, default=Path("final_model"))
    ap.add_argument("--timer", type=Path, default=Path("timer.sh"))
    ap.add_argument("--preset", choices=["auto", *PRESETS], default="auto", help="auto: by parameter count")
    ap.add_argument("--examples", type=int, default=None, help="train on at most this many examples")
    ap.add_argument("--epochs", type=float, default=None)
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--batch-size", type=int, default=None, help="packed rows (or examples) per forward pass")
    ap.add_argument("--accumulation", type=int, default=None, help="forward passes per optimizer step")
    ap.add_argument("--max-length", type=int, default=None, help="tokens per packed row / example")
    ap.add_argument("--max-steps", type=int, default=-1, help="stop after this many steps (default: epochs)")
    ap.add_argument("--packing", action=argparse.BooleanOptionalAction, default=None)
    ap.add_argument("--checkpoints", type=int, default=None, help="checkpoints to choose from (the last included)")
    ap.add_argument("--dev-eval", action=argparse.BooleanOptionalAction, default=True,
                    help="score checkpoints with evaluate.py --limit (else: held-out loss)")  # fmt: skip
    ap.add_argument("--dev-limit", type=int, default=None, help="default: the benchmark's dev_limit in data.yaml")
    ap.add_argument("--eval-seconds", type=float, default=None, help="expected time of one dev evaluation")
    ap.add_argument("--reserve-seconds", type=float, default=None, help="stop training this long before the deadline")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--lora", action="store_true", help="train a LoRA adapter (r=16, all linear layers) and merge it")
    ap.add_argument("--attention", default="auto", help="auto: per-document varlen attention on a GPU, else sdpa")
    ap.add_argument("--liger", action=argparse.BooleanOptionalAction, default=None, help="default: on a GPU")
    ap.add_argument("--stats-file", type=Path, help="write throughput and peak memory as JSON here")
    ap.add_argument("--no-save", action="store_true", help="benchmarks only: train, measure, save nothing")
    return ap.parse_args(argv)


def settings_for(args, n_params: float, text_config, gpu_bytes: float | None) -> dict:
    """The preset for this model size, with the command line's overrides.

    On a GPU the preset's rows per step are split into forward passes that fit
    its memory (the rest by gradient accumulation), so the optimizer sees the
    same batch on an H100 and an H200.
    """
    name = args.preset if args.preset != "auto" else ("tiny" if n_params < TINY_PARAMETERS else "full")
    s = dict(PRESETS[name], preset=name, accumulation=1)
    if args.lora:
        s["lr"] = s["lora_lr"]
    for key in ("lr", "epochs", "max_length", "packing", "checkpoints"):
        if getattr(args, key) is not None:
            s[key] = getattr(args, key)
    if args.batch_size is not None:
        s["batch_size"] = args.batch_size
    elif gpu_bytes and s["packing"]:
        s["batch_size"], s["accumulation"] = rows_per_step(
            n_params, text_config, s["max_length"], gpu_bytes, s["batch_size"], args.lora
        )
    if args.accumulation is not None:
        s["accumulation"] = args.accumulation
    cuda = gpu_bytes is not None
    s["eval_seconds"] = args.eval_seconds or (300.0 if cuda else 20.0)
    return s


def reserve_seconds(args, s: dict, dev_eval: bool, cuda: bool) -> float:
    """Time kept after training: the dev evaluations and saving final_model."""
    if args.reserve_seconds is not None:
        return args.reserve_seconds
    saving = 120.0 if cuda else 10.0
    return saving + (s["checkpoints"] * s["eval_seconds"] if dev_eval else 0.0)


def split_dev(data: dict[str, list], seed: int) -> tuple[dict, dict | None]:
    """Hold out ~2% (at most 200) of the tokenized examples to compare checkpoints by loss."""
    import random

    n = len(data["input_ids"])
    n_dev = min(200, n // 50) if n >= 100 else (1 if n >= 4 else 0)
    if not n_dev:
        return data, None
    order = list(range(n))
    random.Random(seed).shuffle(order)
    dev, train = set(order[:n_dev]), order[n_dev:]
    pick = lambda idx: {k: [v[i] for i in idx] for k, v in data.items()}  # noqa: E731
    return pick(train), pick(sorted(dev))


def checkpoint_steps(directory: Path) -> list[tuple[int, Path]]:
    """The saved checkpoints (checkpoint-<step>), by step."""
    found = [(p.name.split("-", 1)[1], p) for p in Path(directory).glob("checkpoint-*")]
    return sorted((int(step), p) for step, p in found if step.isdigit())


def eval_losses(log_history: list[dict]) -> dict[int, float]:
    return {entry["step"]: entry["eval_loss"] for entry in log_history if "eval_loss" in entry}


def dev_score(
    task_dir: Path, model_dir: Path, name: str, limit: int, timeout: float, cuda: bool, max_tokens: int | None = None
) -> tuple[float | None, dict]:
    """Score a checkpoint with the handed-out evaluate.py on its first `limit` samples (None: could not)."""
    result_file = model_dir / "dev_eval.json"
    cmd = [sys.executable, str(task_dir / "evaluate.py"), "--model-path", str(model_dir), "--limit", str(limit)]
    # The logs stay in the job directory (the checkpoints do not).
    logs = task_dir / "dev_eval_logs" / name
    cmd += ["--json-output-file", str(result_file), "--log-dir", str(logs)]
    if max_tokens:
        cmd += ["--max-tokens", str(max_tokens)]
    if not cuda:
        cmd += ["--backend", "hf"]
    try:
        proc = subprocess.run(cmd, cwd=task_dir, capture_output=True, text=True, timeout=max(timeout, 1))
    except subprocess.TimeoutExpired:
        return None, {"status": "timeout"}
    if not result_file.exists():
        return None, {"status": "error", "returncode": proc.returncode, "stderr": proc.stderr[-2000:]}
    result = json.loads(result_file.read_text())
    numbers = {k: v for k, v in result.items() if isinstance(v, int | float) and k not in ("samples",)}
    headline = next((numbers[k] for k in ("accuracy", "bootstrap_score", "mean", "score") if k in numbers), None)
    if result.get("status") != "success" or headline is None:
        return None, result
    return float(headline), result


def _loss(candidate: dict) -> float:
    return candidate["eval_loss"] if candidate.get("eval_loss") is not None else float("inf")


def choose(candidates: list[dict]) -> dict:
    """The best checkpoint: the highest dev score among those scored, else the lowest held-out loss, else the last."""
    scored = [c for c in candidates if c.get("score") is not None]
    if scored:  # ties go to the lower held-out loss, then to the later checkpoint
        return max(scored, key=lambda c: (c["score"], -_loss(c), c["step"]))
    with_loss = [c for c in candidates if c.get("eval_loss") is not None]
    if with_loss:
        return min(with_loss, key=lambda c: (c["eval_loss"], -c["step"]))
    return max(candidates, key=lambda c: c["step"])


def export(checkpoint: Path, output: Path, base_model: str, lora: bool, tokenizer, generation_config) -> None:
    """final_model: the chosen checkpoint's weights (LoRA merged into the base), the tokenizer with the
    family's template, and the base model's generation settings with the end-of-turn token as a stop."""
    if output.exists():
        shutil.rmtree(output)
    if lora:
        import torch
        from peft import PeftModel
        from transformers import AutoModelForCausalLM

        dtype = torch.bfloat16 if torch.cuda.is_available() else torch.float32
        base = AutoModelForCausalLM.from_pretrained(base_model, dtype=dtype)
        PeftModel.from_pretrained(base, str(checkpoint)).merge_and_unload().save_pretrained(output)
    else:
        output.mkdir(parents=True)
        for f in checkpoint.iterdir():
            if f.is_file() and (
                f.suffix == ".safetensors" or f.name in ("config.json", "model.safetensors.index.json")
            ):
                shutil.copy2(f, output / f.name)
    tokenizer.save_pretrained(output)
    generation_config.save_pretrained(output)


def main(argv=None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    # Training data and the base model come from the prefetched cache, never the hub.
    os.environ.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    import torch
    from datasets import Dataset
    from recipe_chat import end_of_turn_id, family_template, tokenize
    from recipe_speed import VARLEN, choose_attention, liger_available, register_varlen_attention
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, GenerationConfig, TrainerCallback
    from trl import SFTConfig, SFTTrainer

    cuda = torch.cuda.is_available()
    task_dir = args.task_dir.resolve()
    benchmark = args.benchmark or os.environ.get("PTB_BENCHMARK") or task_dir.name
    plan = benchmark_plan(benchmark, args.data_file)
    torch.manual_seed(args.seed)

    tokenizer = AutoTokenizer.from_pretrained(args.base_model)
    config = AutoConfig.from_pretrained(args.base_model)
    template = family_template(config.model_type, task_dir / "templates")
    if template:
        tokenizer.chat_template = template.read_text()
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    stop_id = end_of_turn_id(tokenizer)
    print(f"benchmark {benchmark}; chat template {template or 'the tokenizer own'}; end of turn {stop_id}", flush=True)

    attention = args.attention if args.attention != "auto" else choose_attention(config)
    if attention == VARLEN and not register_varlen_attention():
        raise SystemExit("--attention ptb_varlen needs torch's varlen attention on a CUDA GPU")
    dtype = torch.bfloat16 if cuda else torch.float32
    model = AutoModelForCausalLM.from_pretrained(args.base_model, dtype=dtype, attn_implementation=attention)
    n_params = sum(p.numel() for p in model.parameters())
    positions = getattr(config.get_text_config(), "max_position_embeddings", None)
    if positions and (args.max_length or 0) > positions:
        args.max_length = positions
    gpu_bytes = torch.cuda.get_device_properties(0).total_memory if cuda else None
    s = settings_for(args, n_params, config.get_text_config(), gpu_bytes)
    s["max_length"] = min(s["max_length"], positions or s["max_length"])
    if s["cpu_threads"] and not cuda:
        torch.set_num_threads(s["cpu_threads"])
        os.environ["OMP_NUM_THREADS"] = str(s["cpu_threads"])  # the dev evaluations too
    liger = args.liger if args.liger is not None else liger_available()
    # Generation stops at the template's end of turn as well as at the base model's EOS.
    generation = model.generation_config or GenerationConfig()
    eos = generation.eos_token_id if generation.eos_token_id is not None else tokenizer.eos_token_id
    eos = list(eos) if isinstance(eos, list | tuple) else [eos]
    generation.eos_token_id = eos + [stop_id] if stop_id is not None and stop_id not in eos else eos
    if generation.pad_token_id is None:
        generation.pad_token_id = tokenizer.pad_token_id
    model.generation_config = generation

    examples = load_examples(benchmark, task_dir, args.seed, args.data_file)
    if args.examples:
        examples = examples[: args.examples]
    tokens = tokenize(tokenizer, examples)
    # An example whose prompt fills the whole sequence would leave nothing to learn.
    keep = [i for i, mask in enumerate(tokens["completion_mask"]) if mask.index(1) < s["max_length"]]
    if not keep:
        raise SystemExit(f"no {benchmark} example has room for its answer within {s['max_length']} tokens")
    data, dev = split_dev({k: [v[i] for i in keep] for k, v in tokens.items()}, args.seed)
    n_tokens = sum(len(x) for x in data["input_ids"])
    n_dev = len(dev["input_ids"]) if dev else 0
    print(f"data: {len(data['input_ids'])} train / {n_dev} held-out examples, {n_tokens:,} train tokens", flush=True)

    dev_eval = args.dev_eval and (task_dir / "evaluate.py").exists()
    dev_limit = args.dev_limit or plan.get("dev_limit", 50)
    reserve = reserve_seconds(args, s, dev_eval, cuda)
    rows = "packed rows" if s["packing"] else "examples"
    print(
        f"model: {n_params / 1e6:.1f} M parameters, preset {s['preset']}, attention {attention}, liger {liger}, "
        f"lr {s['lr']}, {s['max_length']}-token {rows} x {s['batch_size']} x {s['accumulation']} accumulated, "
        f"{s['epochs']} epochs, "
        f"{s['checkpoints']} checkpoints, keeps {reserve:.0f} s after training",
        flush=True,
    )

    peft_config = None
    if args.lora:
        from peft import LoraConfig

        peft_config = LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", task_type="CAUSAL_LM")

    class Throughput(TrainerCallback):
        """Tokens per second after a few warm-up steps, and the peak GPU memory."""

        warmup = 3

        def on_step_end(self, _args, state, control, **kw):
            if state.global_step == self.warmup:
                if cuda:
                    torch.cuda.synchronize()
                self.t0, self.tokens0 = time.perf_counter(), state.num_input_tokens_seen

        def on_train_end(self, _args, state, control, **kw):
            if not args.stats_file or not hasattr(self, "t0"):
                return
            if cuda:
                torch.cuda.synchronize()
            seconds = time.perf_counter() - self.t0
            tokens = state.num_input_tokens_seen - self.tokens0
            stats = {
                "steps": state.global_step - self.warmup,
                "tokens": int(tokens),
                "seconds": seconds,
                "tokens_per_second": tokens / seconds,
                "peak_memory_gib": torch.cuda.max_memory_allocated() / 2**30 if cuda else None,
                "attention": attention,
                "liger": liger,
                "batch_size": s["batch_size"],
                "accumulation": s["accumulation"],
                "max_length": s["max_length"],
            }
            args.stats_file.write_text(json.dumps(stats, indent=2) + "\n")

    class StopBeforeDeadline(TrainerCallback):
        def __init__(self):
            self.checked = 0.0

        def on_step_end(self, _args, state, control, **kw):
            if time.monotonic() - self.checked > 5:
                self.checked = time.monotonic()
                if seconds_left(args.timer) < reserve:
                    print(f"stopping at step {state.global_step}: budget nearly spent", flush=True)
                    control.should_training_stop = True

    checkpoints_dir = args.output.parent / "sft_checkpoints"
    every = 1.0 / s["checkpoints"] if s["checkpoints"] > 1 else 1.0
    config_args = dict(
        output_dir=str(checkpoints_dir),
        num_train_epochs=s["epochs"],
        max_steps=args.max_steps,
        per_device_train_batch_size=s["batch_size"],
        per_device_eval_batch_size=s["batch_size"],
        gradient_accumulation_steps=s["accumulation"],
        auto_find_batch_size=cuda,  # halve the forward pass if the memory estimate was too bold
        learning_rate=s["lr"],
        lr_scheduler_type="cosine",
        warmup_steps=s["warmup"],
        weight_decay=0.0,
        max_grad_norm=1.0,
        max_length=s["max_length"],
        packing=s["packing"],
        packing_strategy="bfd",
        completion_only_loss=True,
        eval_packing=s["packing"],
        gradient_checkpointing=False,
        use_liger_kernel=liger,
        include_num_input_tokens_seen=True,
        logging_steps=20,
        save_strategy="steps" if s["checkpoints"] > 1 else "no",
        save_steps=every,
        save_only_model=True,
        eval_strategy="steps" if dev and s["checkpoints"] > 1 else "no",
        eval_steps=every,
        report_to=[],
        seed=args.seed,
        use_cpu=not cuda,
        bf16=cuda,
        dataloader_num_workers=2 if cuda else 0,
    )
    trainer = SFTTrainer(
        model=model,
        args=SFTConfig(**config_args),
        train_dataset=Dataset.from_dict(data),
        eval_dataset=Dataset.from_dict(dev) if dev else None,
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=[StopBeforeDeadline(), Throughput()],
    )
    trainer.model.config.use_cache = False  # training never uses the KV cache
    trainer.train()
    trainer.model.config.use_cache = True
    step = trainer.state.global_step
    if args.no_save:
        print(f"trained {step} steps in {time.monotonic() - started:.0f} s; nothing saved (--no-save)", flush=True)
        shutil.rmtree(checkpoints_dir, ignore_errors=True)
        return 0
    if dev:
        trainer.evaluate()
    if not any(s_ == step for s_, _ in checkpoint_steps(checkpoints_dir)):
        trainer.save_model(str(checkpoints_dir / f"checkpoint-{step}"))
    losses = eval_losses(trainer.state.log_history)
    print(f"trained {step} steps in {time.monotonic() - started:.0f} s; held-out losses {losses}", flush=True)
    # Free the GPU for the dev evaluations' vLLM servers.
    del trainer, model
    gc.collect()
    if cuda:
        torch.cuda.empty_cache()

    # Choose: latest checkpoint first, so a tight budget still scores the likeliest winner.
    candidates = [
        {"step": st, "path": str(p), "eval_loss": losses.get(st)} for st, p in checkpoint_steps(checkpoints_dir)
    ]
    if dev_eval:
        for c in sorted(candidates, key=lambda c: -c["step"]):
            left = seconds_left(args.timer) - (120.0 if cuda else 10.0)
            if left < s["eval_seconds"]:
                print(f"no time left to score checkpoint {c['step']}", flush=True)
                break
            ckpt = Path(c["path"])
            if args.lora:
                export(ckpt, ckpt / "merged", args.base_model, True, tokenizer, generation)
                ckpt = ckpt / "merged"
            t0 = time.monotonic()
            c["score"], c["dev_eval"] = dev_score(
                task_dir, ckpt, f"checkpoint-{c['step']}", dev_limit, left, cuda, s["dev_max_tokens"]
            )
            print(f"checkpoint {c['step']}: dev score {c['score']} ({time.monotonic() - t0:.0f} s)", flush=True)
            if c["score"] is None:
                break  # the task cannot be scored here (no key, no data): loss decides
    best = choose(candidates)
    export(Path(best["path"]), args.output, args.base_model, args.lora, tokenizer, generation)
    record = {"benchmark": benchmark, "chosen": best["step"], "candidates": candidates, "settings": s}
    (args.output.parent / "sft_selection.json").write_text(json.dumps(record, indent=2, default=str) + "\n")
    shutil.rmtree(checkpoints_dir, ignore_errors=True)
    print(f"saved {args.output} (checkpoint at step {best['step']})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
