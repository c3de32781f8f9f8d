"""GPU: P5 (bench/eval_concurrency.py) on one GPU, with a Qwen3-1.7B-shaped model.

The same evaluation goes through the pipeline's own path (one vLLM server per
setting built and started by workflow.evaluate.runner, the attempt through
tasks/evaluate.py and Inspect's client) at upstream's concurrency (2 for
GSM8K, 6 for the others) and ours (config/config.yaml's 64), in one run.
The model has Qwen/Qwen3-1.7B's shape (its config.json written by hand) and
random bf16 weights, the tokenizer is the embedded model's byte-level BPE
padded to Qwen3's 151,936 ids, and the sampling settings are Qwen3-1.7B's
generation_config.json (temperature 0.6, top-k 20, top-p 0.95). The end of
turn token's embedding row is zero, so its logit is 0 and never among the top
20 of 151,935 random logits: every answer runs to max_tokens and each setting
does the same work. The task is the embedded arith task (GSM8K's answer
format) with --samples problems of its test split (data.py) instead of the
committed 100, so that 64 connections run full waves.

    python bench/gpu_eval.py --eval-site /tmp/site [--samples 192] [--max-tokens 192] [--jsonl rows.jsonl]

--eval-site is a folder of unpacked wheels (vLLM, Inspect and their needs)
for this Python: the eval image's stand-in becomes a venv-like folder whose
bin/python runs this interpreter with that folder on PYTHONPATH (the runtime
strips PYTHONPATH from what it starts). Settings run ours first, so ours pays
the cold start (empty compile caches); the rows are appended to --jsonl as
each setting ends.
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import eval_concurrency  # noqa: E402  (bench/ is on sys.path: this script's folder)

from workflow.config import REPO  # noqa: E402
from workflow.evaluate import runner  # noqa: E402

# Qwen/Qwen3-1.7B's config.json (the parts that set the work per token).
QWEN3_1_7B = {
    "hidden_size": 2048,
    "num_hidden_layers": 28,
    "num_attention_heads": 16,
    "num_key_value_heads": 8,
    "head_dim": 128,
    "intermediate_size": 6144,
    "vocab_size": 151936,
    "tie_word_embeddings": True,
    "max_position_embeddings": 40960,
    "rope_theta": 1000000,
    "rms_norm_eps": 1e-6,
}
# Qwen/Qwen3-1.7B's generation_config.json (vLLM's default sampling: generation_config auto).
QWEN3_SAMPLING = {"do_sample": True, "temperature": 0.6, "top_k": 20, "top_p": 0.95}


def write_tokenizer(out_dir: Path, vocab_size: int) -> None:
    """The embedded model's tokenizer, its vocabulary padded with unreachable filler tokens to vocab_size ids."""
    from workflow.environment.tiny_model import build_tokenizer

    build_tokenizer().save_pretrained(out_dir)
    path = out_dir / "tokenizer.json"
    data = json.loads(path.read_text())
    vocab = data["model"]["vocab"]
    if sorted(vocab.values()) != list(range(len(vocab))):
        raise ValueError("tokenizer ids are not 0..n-1")
    for i in range(vocab_size - len(vocab)):
        vocab[f"\u0120t{i}"] = len(vocab)  # decodes to " t<i>"; no merge produces it
    path.write_text(json.dumps(data, ensure_ascii=False))


def build_model(out_dir: Path, seed: int = 0, device: str = "cuda") -> None:
    """Tokenizer, random-weight Qwen3-1.7B-shaped model (bf16, built on the GPU) and generation config."""
    import torch
    from transformers import AutoTokenizer, GenerationConfig, Qwen3Config, Qwen3ForCausalLM

    out_dir.mkdir(parents=True, exist_ok=True)
    write_tokenizer(out_dir, QWEN3_1_7B["vocab_size"])
    tokenizer = AutoTokenizer.from_pretrained(out_dir)
    if len(tokenizer) != QWEN3_1_7B["vocab_size"]:
        raise ValueError(f"tokenizer has {len(tokenizer)} ids")
    eos = tokenizer.convert_tokens_to_ids("<|im_end|>")
    config = Qwen3Config(**QWEN3_1_7B, bos_token_id=None, eos_token_id=eos, pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(seed)
    with torch.device(device):
        model = Qwen3ForCausalLM(config).to(torch.bfloat16)
    with torch.no_grad():
        model.get_input_embeddings().weight[eos].zero_()  # tied: the end of turn's logit is 0
    model.generation_config = GenerationConfig(eos_token_id=eos, pad_token_id=tokenizer.pad_token_id, **QWEN3_SAMPLING)
    model.save_pretrained(out_dir)
    params = sum(p.numel() for p in model.parameters())
    print(f"model: {params / 1e9:.3f} B parameters, {model.dtype}, written to {out_dir}")


def eval_env(folder: Path, site: Path) -> Path:
    """A venv-like folder whose bin/python is this interpreter with `site` on PYTHONPATH."""
    (folder / "bin").mkdir(parents=True, exist_ok=True)
    python = folder / "bin" / "python"
    python.write_text(f'#!/bin/sh\nPYTHONPATH={site.resolve()} exec {sys.executable} "$@"\n')
    python.chmod(0o755)
    return folder


def arith_handout(samples: int):
    """runner.write_handout, with the arith handout's test.jsonl holding `samples` test-split problems."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("arith_data", REPO / "tasks" / "arith" / "data.py")
    data = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(data)
    lines = "".join(json.dumps(p) + "\n" for p in data.problems("test", samples))
    original = runner.write_handout

    def write_handout(dest: Path, benchmark: str) -> dict:
        hashes = original(dest, benchmark)
        (Path(dest) / "test.jsonl").write_text(lines)
        return hashes

    return write_handout


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--eval-site", type=Path, default=None, help="unpacked wheels for this Python (see above)")
    ap.add_argument("--eval-env", default=None, help="else: the eval image's local stand-in (a venv)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/ptb-gpu-eval"), help="model and logs")
    ap.add_argument("--samples", type=int, default=192, help="arith test problems (64 connections: 3 full waves)")
    ap.add_argument("--max-tokens", type=int, default=192, help="per answer (every answer uses them all)")
    ap.add_argument("--max-connections", type=int, default=64, help="ours (config/config.yaml's default)")
    ap.add_argument("--upstream-gpu-memory-utilization", type=float, default=0.8)
    ap.add_argument("--gpu-memory-utilization", type=float, default=0.9, help="ours (the server's default)")
    ap.add_argument("--jsonl", type=Path, default=None, help="append each setting's row here")
    ap.add_argument(
        "--attention-backend",
        default="FLASH_ATTN",
        help="vLLM's --attention-backend (0.26 on Hopper: FLASH_ATTN = FlashAttention 3; no VLLM_ATTENTION_BACKEND)",
    )
    ap.add_argument("--only", action="append", default=None, help="run only this setting (ours, ...); repeatable")
    ap.add_argument("--build-model", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.build_model:
        build_model(args.build_model)
        return 0
    args.task, args.limit = "arith", args.samples

    model = args.work / "qwen3-1.7b-random"
    if not (model / "config.json").exists():
        started = time.monotonic()
        # In a child process, so that this one never holds GPU memory the servers want.
        subprocess.run([sys.executable, __file__, "--build-model", str(model)], check=True)
        print(f"model built in {time.monotonic() - started:.1f} s", flush=True)
    if args.eval_site:
        image = eval_concurrency.local_eval_image(eval_env(args.work / "eval-env", args.eval_site))
    else:
        image = eval_concurrency.local_eval_image(args.eval_env or REPO / ".venv-vllm")
    runner.write_handout = arith_handout(args.samples)

    settings = eval_concurrency.settings_to_compare(
        args.max_connections, args.upstream_gpu_memory_utilization, args.gpu_memory_utilization
    )
    settings = [s for s in settings if not args.only or s[0] in args.only]
    rows = {}
    for label, conns, gmu in reversed(settings):  # ours first: it pays the cold start
        vllm_args = {"attention_backend": args.attention_backend, "gpu_memory_utilization": gmu}
        row = eval_concurrency.run_setting(model, args.work, label, conns, vllm_args, image, args)
        row |= {"samples_asked": args.samples, "max_tokens": args.max_tokens, "order": len(rows) + 1}
        rows[label] = row
        print(json.dumps(row), flush=True)
        if args.jsonl:
            with args.jsonl.open("a") as f:
                f.write(json.dumps(row) + "\n")
    if len(rows) > 1:
        eval_concurrency.report([rows[label] for label, _, _ in settings])
    return 0


if __name__ == "__main__":
    sys.exit(main())
