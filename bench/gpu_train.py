"""GPU path on real hardware: the pre-start GPU checks, then reference-sft's
training on a model with Qwen3-1.7B's shape (random weights, bf16, built from a
config: no download). Prints tokens per second, peak memory and model FLOPs
utilisation (MFU) against the H100's dense bf16 peak.

    python bench/gpu_train.py [--steps 30] [--batch-size 8] [--max-length 2048]

Needs a CUDA GPU and trl/datasets importable (see bench/README.md).
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

H100_BF16_DENSE_FLOPS = 989e12  # H100 SXM, dense bf16 tensor-core peak
# Qwen3-1.7B's architecture (its config.json), so the bench needs no download.
QWEN3_1_7B = dict(
    vocab_size=151936, hidden_size=2048, intermediate_size=6144, num_hidden_layers=28,
    num_attention_heads=16, num_key_value_heads=8, head_dim=128, max_position_embeddings=40960,
    tie_word_embeddings=True, rope_theta=1000000.0, rms_norm_eps=1e-6,
)  # fmt: skip


def flops_per_token(cfg: dict, seq_len: int) -> float:
    """Training FLOPs per token: 6 x matmul parameters + attention scores (causal, fwd+bwd)."""
    d, L, h, kv, hd = (cfg[k] for k in ("hidden_size", "num_hidden_layers", "num_attention_heads",
                                          "num_key_value_heads", "head_dim"))  # fmt: skip
    attn_proj = d * h * hd + 2 * d * kv * hd + h * hd * d
    mlp = 3 * d * cfg["intermediate_size"]
    matmul_params = L * (attn_proj + mlp) + cfg["vocab_size"] * d  # + the LM head
    attention = 6 * L * h * hd * seq_len  # QK^T and AV, half of it masked away, x3 for backward
    return 6 * matmul_params + attention


def build_model(out: Path) -> int:
    import torch
    from transformers import Qwen3Config, Qwen3ForCausalLM

    from workflow.environment.tiny_model import build_tokenizer

    tokenizer = build_tokenizer()
    config = Qwen3Config(**QWEN3_1_7B, eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
                         pad_token_id=tokenizer.pad_token_id)  # fmt: skip
    with torch.device("cuda"):
        model = Qwen3ForCausalLM(config).to(torch.bfloat16)
    n_params = sum(p.numel() for p in model.parameters())
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return n_params


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--max-length", type=int, default=2048)
    args = ap.parse_args()

    from workflow.agent.gpu_checks import check_gpus

    t0 = time.perf_counter()
    found = check_gpus(1)
    print(f"GPU check passed in {time.perf_counter() - t0:.1f} s: {found['devices']}")
    with tempfile.TemporaryDirectory() as tmp:
        model_dir, stats_file = Path(tmp) / "base", Path(tmp) / "stats.json"
        n_params = build_model(model_dir)
        print(f"model: Qwen3-1.7B shape, {n_params / 1e9:.2f} B parameters, bf16, random weights")
        cmd = [
            sys.executable, str(ROOT / "agents" / "reference-sft" / "train.py"),
            "--base-model", str(model_dir), "--task-dir", str(ROOT / "tasks" / "arith"),
            "--output", str(Path(tmp) / "final_model"), "--examples", "6000", "--packing",
            "--batch-size", str(args.batch_size), "--max-length", str(args.max_length),
            "--max-steps", str(args.steps + 3), "--lr", "1e-5", "--stats-file", str(stats_file),
        ]  # fmt: skip
        subprocess.run(cmd, check=True)
        stats = json.loads(stats_file.read_text())
    fpt = flops_per_token(QWEN3_1_7B, args.max_length)
    mfu = stats["tokens_per_second"] * fpt / H100_BF16_DENSE_FLOPS
    print(json.dumps(stats | {"flops_per_token": fpt, "mfu": mfu}, indent=2))
    print(
        f"reference-sft on Qwen3-1.7B shape: {stats['tokens_per_second']:,.0f} tokens/s, "
        f"peak memory {stats['peak_memory_gib']:.1f} GiB, MFU {100 * mfu:.1f}% of H100 dense bf16"
    )


if __name__ == "__main__":
    main()
