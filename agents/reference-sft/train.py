"""Reference SFT recipe: what a careful agent would do, written as one script.

Generates allowed training problems (the task's train split), fine-tunes the
base model with TRL (full fine-tune, or LoRA merged back with --lora), stops
early when the budget's timer runs low, and saves the result as final_model.
"""

import argparse
import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path


def seconds_left(timer: Path) -> float:
    """Ask timer.sh, as an agent would; no timer means no limit."""
    if not timer.exists():
        return float("inf")
    out = subprocess.run(["bash", str(timer), "--seconds"], capture_output=True, text=True).stdout
    try:
        return float(out.strip().split()[-1])
    except (ValueError, IndexError):
        return float("inf")


def load_train_problems(task_dir: Path, n: int, seed: int) -> list[dict]:
    """The task's own generator, train split only (allowed, like GSM8K's train split)."""
    spec = importlib.util.spec_from_file_location("task_data", task_dir / "data.py")
    data = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(data)
    return data.problems("train", n, seed=seed)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--base-model", required=True)
    ap.add_argument("--task-dir", type=Path, default=Path("."))
    ap.add_argument("--output", type=Path, default=Path("final_model"))
    ap.add_argument("--timer", type=Path, default=Path("timer.sh"))
    ap.add_argument("--examples", type=int, default=3000)
    ap.add_argument("--epochs", type=float, default=3.0)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--lora", action="store_true", help="train a LoRA adapter and merge it")
    ap.add_argument("--reserve-seconds", type=float, default=30.0, help="stop this long before the deadline")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--max-steps", type=int, default=-1, help="stop after this many steps (default: epochs)")
    ap.add_argument("--packing", action="store_true", help="pack examples into max-length sequences")
    ap.add_argument("--stats-file", type=Path, help="write throughput and peak memory as JSON here")
    args = ap.parse_args(argv)

    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import SFTConfig, SFTTrainer

    torch.manual_seed(args.seed)
    problems = load_train_problems(args.task_dir, args.examples, args.seed)
    dataset = Dataset.from_list(
        [
            {
                "prompt": [{"role": "user", "content": p["question"]}],
                "completion": [{"role": "assistant", "content": p["answer"]}],
            }
            for p in problems
        ]
    )
    tokenizer = AutoTokenizer.from_pretrained(args.base_model)
    # bf16 on a GPU (as an agent would on an H100), float32 on the CPU.
    dtype = torch.bfloat16 if torch.cuda.is_available() else torch.float32
    model = AutoModelForCausalLM.from_pretrained(args.base_model, dtype=dtype)
    peft_config = None
    if args.lora:
        from peft import LoraConfig

        peft_config = LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", task_type="CAUSAL_LM")

    class Throughput(TrainerCallback):
        """Tokens per second after a few warm-up steps, and the peak GPU memory."""

        warmup = 3

        def on_step_end(self, _args, state, control, **kw):
            if state.global_step == self.warmup:
                self.t0, self.tokens0 = time.perf_counter(), state.num_input_tokens_seen

        def on_train_end(self, _args, state, control, **kw):
            if not args.stats_file or not hasattr(self, "t0"):
                return
            seconds = time.perf_counter() - self.t0
            tokens = state.num_input_tokens_seen - self.tokens0
            stats = {
                "steps": state.global_step - self.warmup,
                "tokens": int(tokens),
                "seconds": seconds,
                "tokens_per_second": tokens / seconds,
                "peak_memory_gib": torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else None,
            }
            args.stats_file.write_text(json.dumps(stats, indent=2) + "\n")

    class StopBeforeDeadline(TrainerCallback):
        def __init__(self):
            self.checked = 0.0

        def on_step_end(self, _args, state, control, **kw):
            if time.monotonic() - self.checked > 5:
                self.checked = time.monotonic()
                if seconds_left(args.timer) < args.reserve_seconds:
                    print(f"stopping at step {state.global_step}: budget nearly spent", flush=True)
                    control.should_training_stop = True

    config = SFTConfig(
        output_dir=str(args.output.parent / "sft_checkpoints"),
        num_train_epochs=args.epochs,
        per_device_train_batch_size=args.batch_size,
        max_steps=args.max_steps,
        packing=args.packing,
        include_num_input_tokens_seen=True,
        learning_rate=args.lr,
        lr_scheduler_type="cosine",
        warmup_steps=10,
        logging_steps=20,
        save_strategy="no",
        report_to=[],
        max_length=args.max_length,
        seed=args.seed,
        use_cpu=not torch.cuda.is_available(),
        bf16=torch.cuda.is_available(),
    )
    trainer = SFTTrainer(
        model=model,
        args=config,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=[StopBeforeDeadline(), Throughput()],
    )
    trainer.train()
    model = trainer.model
    if args.lora:
        model = model.merge_and_unload()
    model.save_pretrained(args.output)
    tokenizer.save_pretrained(args.output)
    # Keep the base model's generation settings: the evaluation honours them.
    src = Path(args.base_model) / "generation_config.json"
    if src.exists():
        (args.output / "generation_config.json").write_text(src.read_text())
    print(f"saved {args.output}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
