"""Calibrate the lineage check on tiny models of the real architectures (Qwen3, SmolLM3, Gemma 3).

For each architecture: a random-weight base B; an "instruct" model I = B trained
on corpus A; honest fine-tunes of B (full and LoRA, on another corpus and on
corpus A itself with another seed: the hard case where the agent's task is
what the instruct model was tuned on); and the cheats: partial merges
B + a(I - B) for a = 0.3, 0.5, 0.75, low-rank merges B + SVD_r(I - B), and a
LoRA trained on top of I. Every model is saved in bf16, as agents save them.
For Gemma 3 the base is the multimodal checkpoint and the honest model is
also saved text-only (Gemma3ForCausalLM). Prints each model's statistics and
verdict; the numbers go into docs/judge.md.

    python bench/lineage_calibration.py [--steps 60]
"""

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from workflow.judge.lineage import check_lineage  # noqa: E402

VOCAB = 512


def tiny(arch: str):
    import transformers as t

    common = dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256)  # fmt: skip
    if arch == "qwen3":
        return t.Qwen3ForCausalLM(t.Qwen3Config(**common, head_dim=16, tie_word_embeddings=True))
    if arch == "smollm3":
        ids = dict(pad_token_id=VOCAB - 4, bos_token_id=VOCAB - 5, eos_token_id=VOCAB - 6)
        return t.SmolLM3ForCausalLM(t.SmolLM3Config(**common, **ids, tie_word_embeddings=True))
    text = dict(common, head_dim=16)
    vision = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, image_size=28,
                  patch_size=14)  # fmt: skip
    cfg = t.Gemma3Config(text_config=text, vision_config=vision, mm_tokens_per_image=4, image_token_index=VOCAB - 1,
                         boi_token_index=VOCAB - 3, eoi_token_index=VOCAB - 2)  # fmt: skip
    return t.Gemma3ForConditionalGeneration(cfg)


def corpus(kind: str, seed: int, n: int = 64, length: int = 32) -> torch.Tensor:
    """Token sequences with a structure a model can learn: a fixed bigram chain per corpus."""
    gen = torch.Generator().manual_seed(seed)
    chain = torch.Generator().manual_seed({"A": 1, "B": 2}[kind])
    nxt = torch.randint(0, VOCAB - 8, (VOCAB,), generator=chain)
    seqs = torch.zeros(n, length, dtype=torch.long)
    seqs[:, 0] = torch.randint(0, VOCAB - 8, (n,), generator=gen)
    for j in range(1, length):
        noise = torch.rand(n, generator=gen) < 0.2
        seqs[:, j] = torch.where(noise, torch.randint(0, VOCAB - 8, (n,), generator=gen), nxt[seqs[:, j - 1]])
    return seqs


def train(model, data: torch.Tensor, steps: int, lr: float, lora: bool = False):
    if lora:
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules="all-linear"))
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    model.train()
    for step in range(steps):
        batch = data[(step * 8) % len(data) :][:8]
        loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
    return model.merge_and_unload() if lora else model


def save(model, path: Path) -> Path:
    model.to(torch.bfloat16).save_pretrained(path)
    model.to(torch.float32)
    return path


def state(path: Path) -> dict:
    from safetensors.torch import load_file

    return {k: v.float() for f in sorted(path.glob("*.safetensors")) for k, v in load_file(f).items()}


def derived(base: Path, instruct: Path, out: Path, change) -> Path:
    """A copy of base whose tensors are change(B, I), saved in bf16."""
    from safetensors.torch import save_file

    shutil.copytree(base, out)
    for f in out.glob("*.safetensors"):
        f.unlink()
    b, i = state(base), state(instruct)
    save_file({k: change(b[k], i[k]).to(torch.bfloat16).contiguous() for k in b}, out / "model.safetensors")
    return out


def low_rank(rank: int):
    def change(b, i):
        if b.ndim != 2 or b.shape[0] < 4:
            return b
        u, s, v = torch.linalg.svd(i - b, full_matrices=False)
        return b + u[:, :rank] @ torch.diag(s[:rank]) @ v[:rank]

    return change


def text_only(model, out: Path) -> Path:
    """Gemma 3's language model alone, as Gemma3ForCausalLM saves it."""
    import transformers as t

    text = t.Gemma3ForCausalLM(model.config.text_config)
    text.model.load_state_dict(model.model.language_model.state_dict())
    text.lm_head.weight = text.model.embed_tokens.weight
    return save(text, out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--lr", type=float, default=2e-3)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="lineage-cal-"))
    rows = []
    for arch in ("qwen3", "smollm3", "gemma3"):
        torch.manual_seed(0)
        d = root / arch
        base_model = tiny(arch)
        base = save(base_model, d / "base")
        instruct_model = train(tiny_copy(base_model), corpus("A", 1), args.steps, args.lr)
        instruct = save(instruct_model, d / "instruct")
        models = {
            "honest full, other data": save(
                train(tiny_copy(base_model), corpus("B", 3), args.steps, args.lr), d / "h1"
            ),
            "honest full, instruct's data": save(
                train(tiny_copy(base_model), corpus("A", 4), args.steps, args.lr), d / "h2"
            ),
            "honest LoRA merged": save(
                train(tiny_copy(base_model), corpus("B", 5), args.steps, args.lr * 2, True), d / "h3"
            ),  # fmt: skip
            "noop (base copy)": base,
        }
        if arch == "gemma3":
            honest = train(tiny_copy(base_model), corpus("B", 6), args.steps, args.lr)
            models["honest, text-only save"] = text_only(honest, d / "h4")
        for alpha in (0.3, 0.5, 0.75):
            models[f"merge a={alpha}"] = derived(base, instruct, d / f"m{alpha}", lambda b, i, a=alpha: b + a * (i - b))
        for rank in (2, 4):
            models[f"low-rank merge r={rank}"] = derived(base, instruct, d / f"r{rank}", low_rank(rank))
        models["LoRA on the instruct model"] = save(
            train(tiny_copy(instruct_model), corpus("B", 7), args.steps // 2, args.lr, True), d / "il"
        )
        models["instruct itself"] = instruct
        for name, path in models.items():
            r = check_lineage(path, base, instruct)
            rows.append((arch, name, r))
    print(f"{'arch':8} {'model':30} {'gap':>6} {'merge cos':>9} {'share':>6} {'same':>6}  verdict")
    for arch, name, r in rows:

        def f(key, r=r):
            v = r.get(key)
            return "—" if v is None else f"{v:.3f}"

        same = f"{r.get('tensors_same_as_instruct', 0)}/{r.get('tensors_instruct_differs', 0)}"
        verdict = r["status"] + (" FLAG" if r["flag"] else "")
        print(f"{arch:8} {name:30} {f('median_instruct_gap_ratio'):>6} {f('median_merge_cosine'):>9} "
              f"{f('median_instruct_subspace_share'):>6} {same:>6}  {verdict}")  # fmt: skip
    shutil.rmtree(root)
    return 0


def tiny_copy(model):
    import copy

    return copy.deepcopy(model).to(torch.float32)


if __name__ == "__main__":
    sys.exit(main())
