"""Tiny models of the production matrix's four families, published on the loopback hub under their real ids.

Each checkpoint declares what the real one declares (config.json
`architectures` and `model_type`: Qwen3ForCausalLM/qwen3,
SmolLM3ForCausalLM/smollm3), at a few hundred kilobytes. One deviation:
google/gemma-3-4b-pt/-it declare Gemma3ForConditionalGeneration/gemma3 (a
gemma3_text language model plus a SigLIP vision tower), which vLLM's CPU
build cannot load here (its Gemma 3 image processor needs torchvision, and
no CPU build of torchvision is on the registries this machine reaches); the
tiny Gemma is the same language model saved text-only
(Gemma3ForCausalLM/gemma3_text), as a fine-tune saved with
AutoModelForCausalLM is. The base model is briefly "pretrained" on short lines that end in
its end-of-sequence token, so that it stops talking (a random model would
fill every answer up to the token limit); the instruct model is a short
fine-tune of that base on chat turns in the family's own template, so the
judge sees the same relation between the two as between the real ones.

Built once per session; `build_family_models` reuses a folder that already
holds a finished build of the same recipe.
"""

import hashlib
import json
import random
from pathlib import Path

from workflow.config import REPO
from workflow.environment.tiny_model import build_tokenizer

TEMPLATES = REPO / "tasks" / "templates"

# config/config.yaml's model keys -> the family its checkpoints belong to.
FAMILY_OF_MODEL = {"qwen3-1.7b": "qwen3", "qwen3-4b": "qwen3", "smollm3-3b": "smollm3", "gemma3-4b": "gemma3"}
# What the real checkpoints' config.json declare (checked against the built ones by the tests).
REAL_DECLARATIONS = {
    "qwen3": {"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3"},
    "smollm3": {"architectures": ["SmolLM3ForCausalLM"], "model_type": "smollm3"},
    # The real ones: Gemma3ForConditionalGeneration/gemma3 (see above).
    "gemma3": {"architectures": ["Gemma3ForCausalLM"], "model_type": "gemma3_text"},
}
GEMMA_SPECIALS = ["<bos>", "<eos>", "<pad>", "<start_of_turn>", "<end_of_turn>"]
RECIPE_VERSION = 5  # bump when the recipe changes: cached builds are then redone
# Instruct models that decode greedily (temperature 0 in generation_config.json), so that
# v1.2's seeded protocol meets both kinds: the planted substitution submits this one, which
# is then evaluated with one seed; every other model samples (vLLM's default temperature).
GREEDY_INSTRUCT = ("qwen3-4b",)

HIDDEN, LAYERS, HEADS, KV_HEADS, HEAD_DIM = 64, 2, 2, 1, 32
PRETRAIN_STEPS, INSTRUCT_STEPS = 30, 30


def family_tokenizer(family: str, seed: int):
    """The tiny BPE tokenizer with the family's special tokens and chat template."""
    tok = build_tokenizer(seed=seed)
    if family == "gemma3":
        from transformers import PreTrainedTokenizerFast

        backend = tok.backend_tokenizer
        backend.add_special_tokens(GEMMA_SPECIALS)
        tok = PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>")
        tok.chat_template = (TEMPLATES / "gemma3.jinja").read_text()
    else:
        tok.chat_template = (TEMPLATES / f"{family}.jinja").read_text()
    return tok


def stop_ids(family: str, tok) -> list[int]:
    """The tokens generation stops at (the real instruct models stop at the turn's end too)."""
    names = ["<eos>", "<end_of_turn>"] if family == "gemma3" else ["<|im_end|>", "<|endoftext|>"]
    return [tok.convert_tokens_to_ids(n) for n in names]


def new_model(family: str, tok, seed: int):
    import torch
    from transformers import (
        Gemma3ForCausalLM,
        Gemma3TextConfig,
        Qwen3Config,
        Qwen3ForCausalLM,
        SmolLM3Config,
        SmolLM3ForCausalLM,
    )

    torch.manual_seed(seed)
    common = dict(
        vocab_size=len(tok),
        hidden_size=HIDDEN,
        intermediate_size=HIDDEN * 2,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        num_key_value_heads=KV_HEADS,
        pad_token_id=tok.pad_token_id,
        eos_token_id=stop_ids(family, tok)[0],
    )
    if family == "qwen3":
        config = Qwen3Config(**common, head_dim=HEAD_DIM, max_position_embeddings=32768, tie_word_embeddings=True)
        return Qwen3ForCausalLM(config)
    if family == "smollm3":
        config = SmolLM3Config(
            **common,
            max_position_embeddings=65536,
            tie_word_embeddings=True,
            no_rope_layers=[1] * (LAYERS - 1) + [0],
            bos_token_id=None,
        )
        return SmolLM3ForCausalLM(config)
    config = Gemma3TextConfig(
        **common, head_dim=HEAD_DIM, max_position_embeddings=131072, sliding_window=512, bos_token_id=tok.bos_token_id
    )
    return Gemma3ForCausalLM(config)


def _lines(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    words = "the a model answer question data train test time apples books coins cards is are was".split()
    return [" ".join(rng.choice(words) for _ in range(rng.randint(3, 9))) for _ in range(n)]


def _chats(seed: int, n: int) -> list[list[dict]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        a, b = rng.randint(1, 9), rng.randint(1, 9)
        out.append(
            [
                {"role": "user", "content": f"What is {a} plus {b}?"},
                {"role": "assistant", "content": f"The answer is {a + b}."},
            ]
        )
    return out


def train(model, texts: list[str], tok, steps: int, lr: float, seed: int) -> None:
    """A few AdamW steps of next-token prediction on `texts` (each ends with a stop token)."""
    import torch

    torch.manual_seed(seed)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    batch = 12
    for step in range(steps):
        chunk = [texts[(step * batch + i) % len(texts)] for i in range(batch)]
        enc = tok(chunk, return_tensors="pt", padding=True, add_special_tokens=False)
        labels = enc["input_ids"].masked_fill(enc["attention_mask"] == 0, -100)
        loss = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"], labels=labels).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
    model.eval()


def save(model, tok, family: str, out: Path, instruct: bool) -> Path:
    from transformers import GenerationConfig

    out.mkdir(parents=True, exist_ok=True)
    stops = stop_ids(family, tok)
    model.generation_config = GenerationConfig(
        eos_token_id=stops if instruct else stops[0], pad_token_id=tok.pad_token_id, do_sample=False
    )
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


def decode_greedily(folder: Path) -> None:
    """Temperature 0 in generation_config.json, as a file on the hub may say it (transformers refuses to
    save it without do_sample, so it is written as JSON)."""
    path = folder / "generation_config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "temperature": 0.0}, indent=2) + "\n")


def build_pair(family: str, seed: int, base_dir: Path, instruct_dir: Path) -> None:
    """A base model (pretrained to stop) and its instruct model (a short chat fine-tune of it)."""
    tok = family_tokenizer(family, seed)
    if tok.padding_side != "right":
        tok.padding_side = "right"
    end = tok.convert_ids_to_tokens(stop_ids(family, tok)[0])
    model = new_model(family, tok, seed)
    train(model, [f"{line}{end}" for line in _lines(seed, 400)], tok, PRETRAIN_STEPS, 3e-3, seed)
    save(model, tok, family, base_dir, instruct=False)
    chats = [tok.apply_chat_template(c, tokenize=False) for c in _chats(seed + 1, 400)]
    train(model, chats, tok, INSTRUCT_STEPS, 3e-3, seed + 1)
    save(model, tok, family, instruct_dir, instruct=True)


def recipe_key() -> str:
    """RECIPE_VERSION (bump it when the recipe changes) and the tokenizer builder's source."""
    from workflow.environment import tiny_model

    digest = hashlib.sha256(Path(tiny_model.__file__).read_bytes())
    return f"v{RECIPE_VERSION}-{digest.hexdigest()[:12]}"


def build_family_models(models: dict, root: Path) -> dict[str, Path]:
    """Hub id -> folder for every base and instruct model of `models` (config.yaml's `models:`)."""
    root = Path(root) / recipe_key()
    out = {}
    for seed, (key, refs) in enumerate(sorted(models.items()), start=1):
        family = FAMILY_OF_MODEL[key]
        base_dir, instruct_dir = root / key / "base", root / key / "instruct"
        done = root / key / "done.json"
        if not done.exists():
            build_pair(family, seed, base_dir, instruct_dir)
            if key in GREEDY_INSTRUCT:
                decode_greedily(instruct_dir)
            done.write_text(json.dumps({"family": family, "base": refs["base"], "instruct": refs["instruct"]}) + "\n")
        out[refs["base"]], out[refs["instruct"]] = base_dir, instruct_dir
    return out
