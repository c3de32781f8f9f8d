"""reference-sft on a GPU: throughput, memory and MFU of the shipped recipe, and its correctness check.

For each model shape (random weights built from the architecture's config:
no download), it
1. checks that a packed row with per-document attention gives the same
   per-token losses as the same documents run unpacked (bf16 tolerance), and
   that a naive packing (one causal sequence) would fail that check;
2. runs agents/reference-sft/train.py with its shipped settings (nothing
   overridden but the step count) on GSM8K-length documents and prints
   tokens/s, peak memory and MFU.

    python bench/gpu_train.py [--shapes qwen3-1.7b,qwen3-4b,gemma3-4b] [--steps 30] [--out results.json]

MFU = training FLOPs per token x tokens/s / 989 TFLOP/s (dense bf16 peak of
the H100 SXM and the H200). Needs CUDA and trl/datasets (liger-kernel for
the fused kernels) importable; see bench/README.md.
"""

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RECIPE = ROOT / "agents" / "reference-sft"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(RECIPE))

PEAK_BF16_FLOPS = 989e12  # H100 SXM and H200: dense bf16 tensor-core peak
# The architectures' config.json values, so the bench needs no download.
SHAPES = {
    "qwen3-1.7b": ("qwen3", dict(
        vocab_size=151936, hidden_size=2048, intermediate_size=6144, num_hidden_layers=28,
        num_attention_heads=16, num_key_value_heads=8, head_dim=128, max_position_embeddings=40960,
        tie_word_embeddings=True, rope_theta=1000000.0, rms_norm_eps=1e-6,
    )),
    "qwen3-4b": ("qwen3", dict(
        vocab_size=151936, hidden_size=2560, intermediate_size=9728, num_hidden_layers=36,
        num_attention_heads=32, num_key_value_heads=8, head_dim=128, max_position_embeddings=40960,
        tie_word_embeddings=True, rope_theta=1000000.0, rms_norm_eps=1e-6,
    )),
    # Gemma 3 4B's language model (the vision tower does no work on text).
    "gemma3-4b": ("gemma3_text", dict(
        vocab_size=262208, hidden_size=2560, intermediate_size=10240, num_hidden_layers=34,
        num_attention_heads=8, num_key_value_heads=4, head_dim=256, max_position_embeddings=131072,
        sliding_window=1024, query_pre_attn_scalar=256, rope_theta=1000000.0, rms_norm_eps=1e-6,
        tie_word_embeddings=True,
    )),
}  # fmt: skip


def flops_per_token(cfg: dict, seq_len: int) -> float:
    """Training FLOPs per token: 6 x matmul parameters + attention scores (causal, fwd+bwd).

    Attention is counted over the whole causal row for every layer (an upper
    bound: packed documents and Gemma's 1,024-token windows attend to less).
    """
    d, L, h, kv, hd = (cfg[k] for k in ("hidden_size", "num_hidden_layers", "num_attention_heads",
                                          "num_key_value_heads", "head_dim"))  # fmt: skip
    attn_proj = d * h * hd + 2 * d * kv * hd + h * hd * d
    mlp = 3 * d * cfg["intermediate_size"]
    matmul_params = L * (attn_proj + mlp) + cfg["vocab_size"] * d  # + the LM head
    attention = 6 * L * h * hd * seq_len  # QK^T and AV, half of it masked away, x3 for backward
    return 6 * matmul_params + attention


def build_model(shape: str, out: Path) -> int:
    """Random bf16 weights of the shape, saved with a small tokenizer (ids stay far below the vocabulary)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from workflow.environment.tiny_model import build_tokenizer

    model_type, dims = SHAPES[shape]
    tokenizer = build_tokenizer()
    ids = dict(eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"), pad_token_id=tokenizer.pad_token_id)
    config = AutoConfig.for_model(model_type, **dims, **ids, bos_token_id=None)
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    n_params = sum(p.numel() for p in model.parameters())
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return n_params


GENERATOR = '''"""GSM8K-length synthetic documents for the GPU bench (~300 tokens each)."""
import random

WORDS = {words!r}


def problems(split, n, seed=0):
    rng = random.Random(seed)
    text = lambda lo, hi: " ".join(rng.choice(WORDS) for _ in range(rng.randint(lo, hi)))
    return [{{"question": text(30, 100), "answer": text(50, 250)}} for _ in range(n)]
'''


def write_bench_task(folder: Path, examples: int) -> Path:
    """A task folder with a generator of GSM8K-length documents, and a data file naming it."""
    words = (
        "the a and of to has have how many more now does gives away finds answer question total left each "
        "apples books coins pens shells stamps cards eggs model train data test time 1 2 3 4 5 6 7 8 9 0"
    ).split()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "bench_data.py").write_text(GENERATOR.format(words=words))
    data_file = folder / "data.yaml"
    source = {"generator": "bench_data.py", "split": "train", "limit": examples, "format": "plain"}
    data_file.write_text(json.dumps({"bench": {"dev_limit": 1, "sources": [source]}}))
    return data_file


def correctness(model_dir: Path, n_docs: int = 8) -> dict:
    """recipe_speed.packed_loss_check on the bench model, with the recipe's own attention choice."""
    import torch
    from recipe_speed import choose_attention, packed_loss_check
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(model_dir)
    attention = choose_attention(config)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.bfloat16, attn_implementation="sdpa").cuda()
    rng = random.Random(0)
    docs = [[rng.randrange(10, 500) for _ in range(rng.randint(200, 1500))] for _ in range(n_docs)]
    result = packed_loss_check(model, docs, attention) | {"attention": attention}
    del model
    torch.cuda.empty_cache()
    return result


def run_shape(shape: str, steps: int, tmp: Path, extra: list[str]) -> dict:
    model_dir, stats_file = tmp / shape, tmp / f"{shape}.stats.json"
    t0 = time.perf_counter()
    n_params = build_model(shape, model_dir)
    built = time.perf_counter() - t0
    print(f"[{shape}] {n_params / 1e9:.2f} B parameters, random bf16 weights, built in {built:.0f} s", flush=True)
    check = correctness(model_dir)
    print(f"[{shape}] packed-vs-unpacked check: {json.dumps(check)}", flush=True)
    # ~7 documents per 2,048-token row: enough for warm-up + steps at 16 rows a step.
    data_file = write_bench_task(tmp / "task", examples=(steps + 8) * 16 * 8)
    cmd = [
        sys.executable, str(RECIPE / "train.py"), "--base-model", str(model_dir), "--task-dir", str(tmp / "task"),
        "--benchmark", "bench", "--data-file", str(data_file), "--output", str(tmp / "final_model"),
        "--timer", str(tmp / "no-timer"), "--max-steps", str(steps + 3), "--checkpoints", "1", "--no-dev-eval",
        "--stats-file", str(stats_file), "--no-save", *extra,
    ]  # fmt: skip
    subprocess.run(cmd, check=True)
    stats = json.loads(stats_file.read_text())
    fpt = flops_per_token(SHAPES[shape][1], stats["max_length"])
    mfu = stats["tokens_per_second"] * fpt / PEAK_BF16_FLOPS
    result = {"shape": shape, "parameters": n_params, "check": check, **stats, "flops_per_token": fpt, "mfu": mfu}
    result["train_args"] = extra
    label = " ".join([shape, *extra])
    print(
        f"[{label}] reference-sft: {stats['tokens_per_second']:,.0f} tokens/s, "
        f"peak memory {stats['peak_memory_gib']:.1f} GiB, MFU {100 * mfu:.1f}% "
        f"({fpt / 1e9:.2f} GFLOP/token, 989 TFLOP/s peak); "
        f"{stats['batch_size']} x {stats['accumulation']} rows of {stats['max_length']} per step, "
        f"attention {stats['attention']}, liger {stats['liger']}; check {'passed' if check['passed'] else 'FAILED'}",
        flush=True,
    )
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shapes", default="qwen3-1.7b,qwen3-4b,gemma3-4b")
    ap.add_argument("--steps", type=int, default=30, help="measured steps (after 3 warm-up steps)")
    ap.add_argument("--out", type=Path, default=None, help="append each shape's result here (JSON lines)")
    ap.add_argument("train_args", nargs="*", help="extra train.py arguments (after --), e.g. --batch-size 8")
    args = ap.parse_args()

    from workflow.agent.gpu_checks import check_gpus

    t0 = time.perf_counter()
    found = check_gpus(1)
    print(f"GPU check passed in {time.perf_counter() - t0:.1f} s: {found['devices']}", flush=True)
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        for shape in args.shapes.split(","):
            try:
                result = run_shape(shape, args.steps, Path(tmp), args.train_args)
            except Exception:  # noqa: BLE001  (one shape's failure should not cost the others' figures)
                traceback.print_exc()
                failed = True
                continue
            failed |= not result["check"]["passed"] or result["check"]["naive_passed"]
            if args.out:
                with open(args.out, "a") as f:
                    f.write(json.dumps(result) + "\n")
            for leftover in Path(tmp).glob(f"{shape}*"):
                subprocess.run(["rm", "-rf", str(leftover)], check=False)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
