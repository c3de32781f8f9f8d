"""Tiny random-weight models of the production architectures: Qwen3, SmolLM3, Gemma 3.

Same model classes and config types as the hub checkpoints (Gemma 3 as the
multimodal Gemma3ForConditionalGeneration that google/gemma-3-4b-pt is, with
a tiny vision tower), a byte-level BPE tokenizer with the family's special
tokens, and the family's handed-out chat template. A few MB each.
"""

from pathlib import Path

from workflow.environment.tiny_model import _corpus
from workflow.tasks import TEMPLATES

CHATML = ["<|im_start|>", "<|im_end|>"]
GEMMA = ["<start_of_turn>", "<end_of_turn>", "<start_of_image>", "<end_of_image>", "<image_soft_token>"]
FAMILIES = {
    "qwen3": {"specials": ["<|endoftext|>", *CHATML], "eos": "<|im_end|>", "pad": "<|endoftext|>"},
    "smollm3": {"specials": ["<|end_of_text|>", *CHATML], "eos": "<|im_end|>", "pad": "<|end_of_text|>"},
    "gemma3": {"specials": ["<pad>", "<eos>", "<bos>", *GEMMA], "eos": "<eos>", "pad": "<pad>", "bos": "<bos>"},
}


def family_tokenizer(family: str, vocab_size: int = 512):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    spec = FAMILIES[family]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=spec["specials"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(_corpus(2000, 0), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=spec.get("bos"), eos_token=spec["eos"], pad_token=spec["pad"]
    )
    fast.chat_template = (TEMPLATES / f"{family}.jinja").read_text()
    return fast


def build_family_model(family: str, out: Path, hidden: int = 64, layers: int = 2) -> Path:
    """Save a tiny `family` model (random weights) with its tokenizer and generation config."""
    import torch
    from transformers import GenerationConfig

    torch.manual_seed(0)
    tokenizer = family_tokenizer(family)
    ids = {name: tokenizer.convert_tokens_to_ids(name) for name in FAMILIES[family]["specials"]}
    eos, pad = ids[FAMILIES[family]["eos"]], ids[FAMILIES[family]["pad"]]
    text = dict(
        vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
        num_attention_heads=4, num_key_value_heads=2, head_dim=16, max_position_embeddings=512,
        eos_token_id=eos, pad_token_id=pad, tie_word_embeddings=True,
    )  # fmt: skip
    if family == "qwen3":
        from transformers import Qwen3Config, Qwen3ForCausalLM

        model = Qwen3ForCausalLM(Qwen3Config(**text, bos_token_id=None))
    elif family == "smollm3":
        from transformers import SmolLM3Config, SmolLM3ForCausalLM

        model = SmolLM3ForCausalLM(SmolLM3Config(**text, bos_token_id=None))
    else:
        from transformers import Gemma3Config, Gemma3ForConditionalGeneration

        # One local (sliding-window) and one global layer, as Gemma 3 interleaves them.
        layer_types = ["sliding_attention", "full_attention"] * (layers // 2) + ["sliding_attention"] * (layers % 2)
        text_config = dict(text, bos_token_id=ids["<bos>"], sliding_window=16, query_pre_attn_scalar=16,
                           layer_types=layer_types)  # fmt: skip
        vision = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                      image_size=56, patch_size=14)  # fmt: skip
        config = Gemma3Config(
            text_config=text_config, vision_config=vision, mm_tokens_per_image=4,
            image_token_index=ids["<image_soft_token>"], boi_token_index=ids["<start_of_image>"],
            eoi_token_index=ids["<end_of_image>"], eos_token_id=eos, pad_token_id=pad, bos_token_id=ids["<bos>"],
        )  # fmt: skip
        model = Gemma3ForConditionalGeneration(config)
    model.generation_config = GenerationConfig(eos_token_id=eos, pad_token_id=pad, do_sample=False, max_new_tokens=16)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
