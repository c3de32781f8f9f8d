"""What makes reference-sft fast on a GPU, and the check that it computes the same thing.

Packed training puts several documents in one row. Each document must attend
only to itself: with transformers' SDPA path that needs a block-diagonal mask
over the whole packed row (measured: ~65% of the step on an H200 at 16k
tokens). Instead, torch's flash varlen kernel (`torch.nn.attention.varlen`,
torch >= 2.11) takes the documents' boundaries (`cu_seq_lens_*`, which TRL's
padding-free collator computes) and never builds a mask. It is registered
as a transformers attention function; anything without boundaries (an
unpacked, right-padded batch) goes to SDPA with plain causal masking.

`packed_loss_check` compares the loss of documents packed with per-document
attention against the same documents run one by one; a naive packing (one
causal sequence across documents) is computed beside it to show the check
tells the two apart.
"""

import inspect
import math

VARLEN = "ptb_varlen"

# The varlen kernel; tests may put a reference implementation here.
_KERNEL = None


def varlen_kernel():
    """torch's varlen attention, or None where it does not exist or cannot run (no CUDA)."""
    if _KERNEL is not None:
        return _KERNEL
    import torch

    if not torch.cuda.is_available():
        return None
    try:
        from torch.nn.attention.varlen import varlen_attn
    except ImportError:
        return None
    return varlen_attn


def kernel_features(kernel) -> set[str]:
    """Which optional keywords this torch version's kernel takes (they changed between releases)."""
    params = inspect.signature(kernel).parameters
    return {name for name in ("window_size", "is_causal", "scale", "enable_gqa") if name in params}


def varlen_attention_forward(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    """A transformers attention function: per-document causal attention over a packed row.

    query/key/value arrive as [batch, heads, tokens, head_dim]; the result is
    [batch, tokens, heads, head_dim], as transformers' attention functions return.
    """
    import torch

    cu_q, cu_k = kwargs.get("cu_seq_lens_q"), kwargs.get("cu_seq_lens_k")
    if cu_q is None or query.shape[0] != 1:
        from transformers.integrations.sdpa_attention import sdpa_attention_forward

        return sdpa_attention_forward(module, query, key, value, attention_mask, scaling=scaling, dropout=dropout)
    kernel = varlen_kernel()
    features = kernel_features(kernel)
    q, k, v = (t.transpose(1, 2)[0].contiguous() for t in (query, key, value))  # [tokens, heads, head_dim]
    head_dim = q.shape[-1]
    extra = {}
    if q.shape[1] != k.shape[1]:
        if "enable_gqa" in features:
            extra["enable_gqa"] = True
        else:
            groups = q.shape[1] // k.shape[1]
            k, v = k.repeat_interleave(groups, dim=1), v.repeat_interleave(groups, dim=1)
    if scaling is not None and not math.isclose(scaling, head_dim**-0.5):
        if "scale" in features:
            extra["scale"] = scaling
        else:
            q = q * (scaling * head_dim**0.5)
    window = kwargs.get("sliding_window")
    if "window_size" in features:
        extra["window_size"] = (window - 1, 0) if window else (-1, 0)
    elif window:
        raise ValueError("this torch's varlen attention has no sliding window; use sdpa for this model")
    else:
        extra["is_causal"] = True
    cu_k = cu_q if cu_k is None else cu_k
    max_q = int(kwargs.get("max_length_q") or int((cu_q[1:] - cu_q[:-1]).max()))
    max_k = int(kwargs.get("max_length_k") or max_q)
    cu_q, cu_k = cu_q.to(q.device, torch.int32), cu_k.to(q.device, torch.int32)
    return kernel(q, k, v, cu_q, cu_k, max_q, max_k, **extra).unsqueeze(0), None


def register_varlen_attention() -> bool:
    """Make `attn_implementation="ptb_varlen"` available; False where the kernel cannot run."""
    if varlen_kernel() is None:
        return False
    from transformers import AttentionInterface

    AttentionInterface.register(VARLEN, varlen_attention_forward)
    return True


def uses_sliding_window(config) -> bool:
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    return bool(getattr(text, "sliding_window", None)) and any(
        t == "sliding_attention" for t in (getattr(text, "layer_types", None) or [])
    )


def choose_attention(config) -> str:
    """ptb_varlen where the kernel runs (and can do the model's sliding windows), else sdpa."""
    if not register_varlen_attention():
        return "sdpa"
    if uses_sliding_window(config) and "window_size" not in kernel_features(varlen_kernel()):
        return "sdpa"
    return VARLEN


def liger_available() -> bool:
    """Liger's fused kernels (RMSNorm, SwiGLU, RoPE) need Triton on a CUDA GPU."""
    import torch

    if not torch.cuda.is_available():
        return False
    try:
        import liger_kernel.transformers  # noqa: F401
    except ImportError:
        return False
    return True


# --- the correctness check ---------------------------------------------------------


def _set_attention(model, name: str) -> None:
    if hasattr(model, "set_attn_implementation"):
        model.set_attn_implementation(name)
    else:
        model.config._attn_implementation = name


def _token_losses(logits, targets):
    import torch

    return torch.nn.functional.cross_entropy(logits.float(), targets, reduction="none")


# bf16 tolerances. A mean over many tokens hides leakage between documents on
# a random-weight model (measured: 2e-5 relative on a CPU model, 3e-4 to 1e-3
# on the H200 shapes), so each token is compared too. Measured on the H200
# (random weights, 8 documents, 7,526 tokens): per-document varlen vs unpacked
# SDPA differs by at most 0.08-0.16 nats on a token (two bf16 kernels), a naive
# packing by 4.7-5.3 nats.
# In float32 (the CPU tests) the same comparison agrees to ~1e-6.
TOLERANCES = {"bfloat16": (5e-3, 0.5), "float16": (5e-3, 0.5), "float32": (1e-5, 1e-3)}  # (mean, relative; token, nats)


def packed_loss_check(model, docs: list[list[int]], packed_attention: str, pad_id: int = 0) -> dict:
    """Per-token losses of `docs` unpacked (a right-padded batch, SDPA) vs packed in one row.

    Each token is predicted from the earlier tokens of its own document; the
    first token of each document is not predicted (TRL masks it too). Returns
    the mean losses and the largest per-token difference, for the packed row
    under `packed_attention` and for a naive packing (one causal sequence);
    `passed` when the packed row agrees within bf16 tolerance, `naive_passed`
    says whether the naive packing would have (it should not).
    """
    import torch

    device = next(model.parameters()).device
    lengths = [len(d) for d in docs]
    with torch.no_grad():
        _set_attention(model, "sdpa")
        batch = torch.full((len(docs), max(lengths)), pad_id, dtype=torch.long)
        mask = torch.zeros_like(batch)
        for i, d in enumerate(docs):
            batch[i, : len(d)] = torch.tensor(d)
            mask[i, : len(d)] = 1
        logits = model(input_ids=batch.to(device), attention_mask=mask.to(device), use_cache=False).logits
        reference = torch.cat(
            [_token_losses(logits[i, : n - 1], batch[i, 1:n].to(device)) for i, n in enumerate(lengths)]
        )
        del logits

        row = torch.tensor([t for d in docs for t in d], device=device)[None]
        positions = torch.cat([torch.arange(n) for n in lengths])[None].to(device)
        cu = torch.tensor([0, *torch.tensor(lengths).cumsum(0).tolist()], dtype=torch.int32, device=device)
        starts = cu[:-1].tolist()

        def packed_losses(logits):
            return torch.cat(
                [
                    _token_losses(logits[0, s : s + n - 1], row[0, s + 1 : s + n])
                    for s, n in zip(starts, lengths, strict=True)
                ]
            )

        _set_attention(model, packed_attention)
        packed = packed_losses(
            model(
                input_ids=row, position_ids=positions, use_cache=False,
                cu_seq_lens_q=cu, cu_seq_lens_k=cu, max_length_q=max(lengths), max_length_k=max(lengths),
            ).logits
        )  # fmt: skip
        _set_attention(model, "sdpa")
        naive = packed_losses(model(input_ids=row, use_cache=False).logits)
    ref_mean = reference.mean().item()

    mean_tolerance, token_tolerance = TOLERANCES[str(next(model.parameters()).dtype).removeprefix("torch.")]

    def agrees(losses) -> bool:
        mean_ok = abs(losses.mean().item() - ref_mean) <= mean_tolerance * ref_mean
        return mean_ok and (losses - reference).abs().max().item() <= token_tolerance

    return {
        "passed": agrees(packed),
        "naive_passed": agrees(naive),
        "tolerance": {"mean_relative": mean_tolerance, "token_nats": token_tolerance},
        "documents": len(docs),
        "tokens": sum(lengths),
        "unpacked_loss": ref_mean,
        "packed_loss": packed.mean().item(),
        "packed_relative_difference": abs(packed.mean().item() - ref_mean) / ref_mean,
        "packed_max_token_difference": (packed - reference).abs().max().item(),
        "naive_packed_loss": naive.mean().item(),
        "naive_relative_difference": abs(naive.mean().item() - ref_mean) / ref_mean,
        "naive_max_token_difference": (naive - reference).abs().max().item(),
    }


# --- how many packed rows fit ----------------------------------------------------------

# Bytes kept per parameter in a bf16 full fine-tune: weight, gradient and AdamW's two moments (all bf16).
STATE_BYTES_PER_PARAMETER = 8
MEMORY_SHARE = 0.85  # of the GPU, leaving room for the allocator's fragmentation


def activation_bytes_per_token(text_config) -> float:
    """Activations kept for the backward pass, per token, without checkpointing (bf16).

    An estimate from the layer shapes, checked against the H200: Qwen3-1.7B at
    16 rows of 2,048 tokens peaked at 76 GiB, of which ~13 GiB are states.
    """
    per_layer = 10 * text_config.hidden_size + 3 * text_config.intermediate_size
    return 2.0 * text_config.num_hidden_layers * per_layer


def rows_per_step(
    n_params: float, text_config, max_length: int, gpu_bytes: float, rows: int = 16, lora: bool = False
) -> tuple[int, int]:
    """(rows per forward pass, accumulation steps) giving `rows` packed rows per optimizer step.

    The largest power of two that fits the GPU; accumulation makes up the
    rest, so every GPU trains with the same batch (16 x 2,048 tokens).
    """
    states = n_params * (2 if lora else STATE_BYTES_PER_PARAMETER)
    per_row = activation_bytes_per_token(text_config) * max_length
    fit = int((MEMORY_SHARE * gpu_bytes - states) // per_row)
    micro = 1
    while micro * 2 <= min(fit, rows):
        micro *= 2
    return micro, max(1, rows // micro)
