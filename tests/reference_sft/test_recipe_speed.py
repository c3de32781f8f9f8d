"""Per-document attention over packed rows: the plumbing and the loss check, on the CPU.

torch's varlen kernel needs CUDA, so here a reference kernel with its
signature (attention computed one document at a time) stands in for it;
bench/gpu_train.py runs the same check with the real kernel on a GPU.
"""

import functools
import json
import sys

import pytest
import torch
import torch.nn.functional as F

from tests.reference_sft.conftest import REPO, recipe_module

speed = recipe_module("recipe_speed")


def per_document_kernel(q, k, v, cu_q, cu_k, max_q, max_k, *, window_size=(-1, -1), scale=None, enable_gqa=False):
    """varlen_attn's contract, computed document by document with SDPA and an explicit mask."""
    out = []
    for a, b in zip(cu_q[:-1].tolist(), cu_q[1:].tolist(), strict=True):
        qq, kk, vv = (t[a:b].transpose(0, 1) for t in (q, k, v))
        if enable_gqa:
            kk = kk.repeat_interleave(qq.shape[0] // kk.shape[0], 0)
            vv = vv.repeat_interleave(qq.shape[0] // vv.shape[0], 0)
        i = torch.arange(b - a)
        mask = i[None, :] <= i[:, None]
        if window_size[0] >= 0:
            mask &= i[:, None] - i[None, :] <= window_size[0]
        out.append(F.scaled_dot_product_attention(qq, kk, vv, attn_mask=mask, scale=scale).transpose(0, 1))
    return torch.cat(out)


@pytest.fixture
def reference_kernel(monkeypatch):
    calls = []

    @functools.wraps(per_document_kernel)  # keeps the signature the recipe inspects
    def counted(*args, **kwargs):
        calls.append({"documents": len(args[3]) - 1, **kwargs})
        return per_document_kernel(*args, **kwargs)

    monkeypatch.setattr(speed, "_KERNEL", counted)
    assert speed.register_varlen_attention()
    return calls


def random_docs(vocab: int, lengths=(40, 75, 23, 60)) -> list[list[int]]:
    g = torch.Generator().manual_seed(0)
    return [torch.randint(10, vocab - 10, (n,), generator=g).tolist() for n in lengths]


@pytest.mark.parametrize("family", ["qwen3", "gemma3"])
def test_packed_rows_with_per_document_attention_match_the_unpacked_batch(tiny_family_models, reference_kernel, family):
    """Gemma 3 adds sliding-window layers (window 16 here, shorter than the documents) and GQA."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_family_models[family], dtype=torch.float32)
    result = speed.packed_loss_check(model, random_docs(model.config.get_text_config().vocab_size), speed.VARLEN)
    layers = model.config.get_text_config().num_hidden_layers
    assert len(reference_kernel) == layers  # the packed forward went through the varlen function, every layer
    if family == "gemma3":
        assert {c["window_size"] for c in reference_kernel} == {(15, 0), (-1, 0)}
    assert result["passed"], result
    assert result["packed_max_token_difference"] < 1e-4
    # One causal sequence across documents is caught, although its mean loss barely moves.
    assert not result["naive_passed"]
    assert result["naive_max_token_difference"] > 100 * result["tolerance"]["token_nats"]


def test_transformers_sdpa_packing_passes_the_check_too(tiny_family_models):
    """The slow path (a block-diagonal mask from position_ids) computes the same numbers."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_family_models["qwen3"], dtype=torch.float32)
    result = speed.packed_loss_check(model, random_docs(model.config.vocab_size), "sdpa")
    assert result["passed"] and not result["naive_passed"], result


def test_kernel_arguments_follow_the_torch_release(monkeypatch):
    """torch 2.11's kernel lacks some keywords: GQA is then expanded, the scale folded into q."""
    seen = {}

    def old_kernel(q, k, v, cu_q, cu_k, max_q, max_k, *, window_size=(-1, -1)):
        seen.update(heads=(q.shape[1], k.shape[1]), window=window_size)
        return per_document_kernel(q, k, v, cu_q, cu_k, max_q, max_k, window_size=window_size)

    monkeypatch.setattr(speed, "_KERNEL", old_kernel)
    assert speed.kernel_features(old_kernel) == {"window_size"}
    q, k, v = torch.randn(1, 4, 10, 8), torch.randn(1, 2, 10, 8), torch.randn(1, 2, 10, 8)
    cu = torch.tensor([0, 4, 10], dtype=torch.int32)
    out, _ = speed.varlen_attention_forward(None, q, k, v, None, scaling=0.5, cu_seq_lens_q=cu, sliding_window=3)
    assert seen == {"heads": (4, 4), "window": (2, 0)} and out.shape == (1, 10, 4, 8)
    expected = per_document_kernel(
        q[0].transpose(0, 1), k[0].transpose(0, 1), v[0].transpose(0, 1), cu, cu, 6, 6,
        window_size=(2, 0), scale=0.5, enable_gqa=True,
    )  # fmt: skip
    torch.testing.assert_close(out[0], expected)


def test_without_cuda_the_recipe_keeps_sdpa_and_no_liger(tiny_family_models):
    from transformers import AutoConfig

    assert speed.varlen_kernel() is None
    assert speed.choose_attention(AutoConfig.from_pretrained(tiny_family_models["gemma3"])) == "sdpa"
    assert speed.uses_sliding_window(AutoConfig.from_pretrained(tiny_family_models["gemma3"]))
    assert not speed.uses_sliding_window(AutoConfig.from_pretrained(tiny_family_models["qwen3"]))
    assert not speed.liger_available()


def test_trl_packed_training_feeds_document_boundaries_to_the_varlen_function(
    tiny_family_models, reference_kernel, tmp_path
):
    """The recipe's GPU path end to end on the CPU: TRL's padding-free collator -> cu_seq_lens -> every layer."""
    sys.path.insert(0, str(REPO / "bench"))
    import gpu_train

    train = recipe_module("train")
    data_file = gpu_train.write_bench_task(tmp_path / "task", examples=40)
    stats = tmp_path / "stats.json"
    argv = ["--base-model", str(tiny_family_models["gemma3"]), "--task-dir", str(tmp_path / "task"),
            "--benchmark", "bench", "--data-file", str(data_file), "--timer", str(tmp_path / "none"),
            "--preset", "full", "--attention", speed.VARLEN, "--batch-size", "2", "--max-steps", "4",
            "--checkpoints", "1", "--no-dev-eval", "--no-save", "--stats-file", str(stats)]  # fmt: skip
    assert train.main(argv) == 0
    # Each forward pass is one padding-free row holding several documents.
    global_layers = [c for c in reference_kernel if c["window_size"] == (-1, 0)]
    assert len(global_layers) >= 4 and min(c["documents"] for c in global_layers) >= 2
    assert json.loads(stats.read_text())["attention"] == speed.VARLEN
