"""Conversations to token ids, in the model family's chat template.

The template is the one handed out in the job directory (templates/, chosen
by the model's config.json model_type through serving.json's aliases): the
same file every evaluation of this family formats its prompts with. Loss is
on the completion only (the assistant turn, its end-of-turn token included).
"""

import json
from pathlib import Path


def family_template(model_type: str | None, templates_dir: Path | None) -> Path | None:
    """templates/<family>.jinja for a model_type (gemma3_text -> gemma3 via serving.json), if handed out."""
    if not model_type or not templates_dir:
        return None
    serving = Path(templates_dir) / "serving.json"
    aliases = json.loads(serving.read_text()).get("template_aliases", {}) if serving.exists() else {}
    path = Path(templates_dir) / f"{aliases.get(model_type, model_type)}.jinja"
    return path if path.exists() else None


def end_of_turn_id(tokenizer) -> int | None:
    """The special token that closes an assistant turn in the template (<|im_end|>, <end_of_turn>)."""
    marker = "PTB-END-PROBE"
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}, {"role": "assistant", "content": marker}], tokenize=False
    )
    tail = text.split(marker, 1)[1]
    ids = tokenizer(tail, add_special_tokens=False)["input_ids"]
    special = set(tokenizer.all_special_ids) | {
        i for i, t in tokenizer.added_tokens_decoder.items() if getattr(t, "special", False)
    }
    return next((i for i in ids if i in special), None)


def render(tokenizer, example: dict) -> tuple[str, str]:
    """(prompt text up to the assistant's first token, prompt + completion text)."""
    tools = example.get("tools")
    prompt = tokenizer.apply_chat_template(example["prompt"], tools=tools, add_generation_prompt=True, tokenize=False)
    full = tokenizer.apply_chat_template(example["prompt"] + example["completion"], tools=tools, tokenize=False)
    return prompt, full


def tokenize(tokenizer, examples: list[dict], batch: int = 1024) -> dict[str, list]:
    """input_ids and completion_mask for each example (the template adds any BOS itself)."""
    out = {"input_ids": [], "completion_mask": []}
    for start in range(0, len(examples), batch):
        rendered = [render(tokenizer, ex) for ex in examples[start : start + batch]]
        prompts = tokenizer([p for p, _ in rendered], add_special_tokens=False)["input_ids"]
        fulls = tokenizer([f for _, f in rendered], add_special_tokens=False)["input_ids"]
        for prompt_ids, ids in zip(prompts, fulls, strict=True):
            shared = 0
            for a, b in zip(prompt_ids, ids, strict=False):
                if a != b:
                    break
                shared += 1
            if shared >= len(ids):
                continue  # nothing to learn from
            out["input_ids"].append(ids)
            out["completion_mask"].append([0] * shared + [1] * (len(ids) - shared))
    return out
