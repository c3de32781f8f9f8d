"""Build a tiny causal LM from nothing, so the embedded default needs no hub.

The tokenizer is a byte-level BPE trained on generated text (digits kept
apart, so arithmetic stays learnable) with a ChatML-style chat template; the
model is a small Qwen3 with random weights. Saved like any hub checkpoint.
"""

import json
import random
from pathlib import Path

from workflow.config import REPO

# The tiny model is a Qwen3, so it speaks the Qwen3 family's template: the one
# every evaluation of a Qwen3 model applies. Read when a model is built.
CHAT_TEMPLATE_FILE = REPO / "tasks" / "templates" / "qwen3.jinja"
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def _corpus(n_lines: int, seed: int) -> list[str]:
    """Generic English-ish lines plus numbers: enough for a small BPE."""
    rng = random.Random(seed)
    words = (
        "the a and of to has have how many more now does gives away finds "
        "user assistant system answer question is are was with for each total left "
        "Ava Ben Cleo Dan Eli Fay Gus Hana Ivo Jade apples books coins pens shells "
        "stamps cards eggs model train data test time"
    ).split()
    lines = []
    for _ in range(n_lines):
        toks = [rng.choice(words) for _ in range(rng.randint(4, 14))]
        toks.insert(rng.randint(0, len(toks)), str(rng.randint(0, 999)))
        lines.append(" ".join(toks) + rng.choice([".", "?", "!", " = ", " + ", " - ", " #### "]))
    return lines


def build_tokenizer(vocab_size: int = 512, seed: int = 0):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(_corpus(4000, seed), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
    )
    fast.chat_template = CHAT_TEMPLATE_FILE.read_text()
    return fast


def build_tiny_model(out_dir: Path, seed: int = 0, hidden_size: int = 128, layers: int = 4) -> Path:
    """Write a tokenizer, a random-weight Qwen3 model and its generation config."""
    import torch
    from transformers import GenerationConfig, Qwen3Config, Qwen3ForCausalLM

    torch.manual_seed(seed)
    out_dir = Path(out_dir)
    tokenizer = build_tokenizer(seed=seed)
    config = Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=32,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
        pad_token_id=tokenizer.pad_token_id,
    )
    model = Qwen3ForCausalLM(config)
    model.generation_config = GenerationConfig(
        eos_token_id=config.eos_token_id,
        pad_token_id=config.pad_token_id,
        do_sample=False,
        max_new_tokens=32,
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    (out_dir / "embedded_model.json").write_text(json.dumps({"seed": seed, "builder": __name__}) + "\n")
    return out_dir
