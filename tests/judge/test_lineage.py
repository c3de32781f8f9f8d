"""The lineage statistic on models derived from one tiny base in known ways."""

import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from tests.judge.conftest import REPO
from workflow.environment.prefetch import write_model_marker
from workflow.environment.tiny_model import build_tiny_model
from workflow.judge.lineage import check_lineage, local_model_dir, row_blocks


def derive(src: Path, dst: Path, change, fmt: str = "safetensors") -> Path:
    """A copy of src whose tensors are change(name, tensor)."""
    shutil.copytree(src, dst)
    (dst / "model.safetensors").unlink()
    weights = {k: change(k, v).contiguous() for k, v in load_file(src / "model.safetensors").items()}
    if fmt == "safetensors":
        save_file(weights, dst / "model.safetensors")
    else:
        torch.save(weights, dst / "pytorch_model.bin")
    return dst


def nudge(scale: float, seed: int, matrices_only: bool = False):
    gen = torch.Generator().manual_seed(seed)

    def change(_name, t):
        if matrices_only and t.ndim < 2:
            return t
        return t + scale * t.norm() / t.numel() ** 0.5 * torch.randn(t.shape, generator=gen)

    return change


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("lineage")
    base = build_tiny_model(root / "base", seed=0, hidden_size=64, layers=2)
    instruct = derive(base, root / "instruct", nudge(0.4, 1))
    return {
        "base": base,
        "instruct": instruct,
        "fine_tune": derive(base, root / "fine_tune", nudge(0.4, 2)),
        "fine_tune_bin": derive(base, root / "fine_tune_bin", nudge(0.4, 3), fmt="bin"),
        "instruct_tuned": derive(instruct, root / "instruct_tuned", nudge(0.05, 4)),
        "instruct_lora": derive(instruct, root / "instruct_lora", nudge(0.3, 5, matrices_only=True)),
        "unrelated": build_tiny_model(root / "unrelated", seed=5, hidden_size=64, layers=2),
        "narrower": build_tiny_model(root / "narrower", seed=0, hidden_size=32, layers=2),
        "more_vocab": derive(
            base,
            root / "more_vocab",
            lambda n, t: torch.cat([t, torch.zeros(8, *t.shape[1:])]) if "embed" in n else t,
        ),
    }


@pytest.mark.parametrize("name", ["base", "fine_tune", "fine_tune_bin", "more_vocab"])
def test_derivatives_of_the_base_pass(models, name):
    result = check_lineage(models[name], models["base"], models["instruct"])
    assert not result["flag"], result["reason"]
    assert result["status"] == "fine_tune_of_base"
    assert result["median_base_cosine"] > 0.8
    assert result["median_instruct_gap_ratio"] >= 0.99


@pytest.mark.parametrize("name", ["instruct", "instruct_tuned", "instruct_lora"])
def test_the_instruct_model_and_its_derivatives_are_flagged(models, name):
    result = check_lineage(models[name], models["base"], models["instruct"])
    assert result["flag"] and result["status"] == "instruct_model", result


def test_lora_on_the_instruct_model_is_caught_by_its_untouched_tensors(models):
    result = check_lineage(models["instruct_lora"], models["base"], models["instruct"])
    assert result["median_instruct_gap_ratio"] > 0.25  # the median alone would miss it
    assert result["tensors_same_as_instruct"] > 0
    assert "instruct model's own tensors" in result["reason"]


def test_an_unrelated_model_of_the_same_shape_is_flagged(models):
    result = check_lineage(models["unrelated"], models["base"], models["instruct"])
    assert result["flag"] and result["status"] == "unrelated_weights"
    assert abs(result["median_base_cosine"]) < 0.1


def test_another_architecture_is_flagged(models):
    result = check_lineage(models["narrower"], models["base"], models["instruct"])
    assert result["flag"] and result["status"] == "different_architecture"
    assert "hidden_size" in result["reason"]


def test_without_an_instruct_model_only_the_base_is_compared(models):
    assert not check_lineage(models["fine_tune"], models["base"], None)["flag"]
    assert check_lineage(models["unrelated"], models["base"], None)["flag"]
    assert check_lineage(models["instruct"], models["base"], None)["median_instruct_gap_ratio"] is None


def test_sampled_rows_give_the_same_verdicts(models):
    for name, flagged in (("fine_tune", False), ("instruct", True), ("unrelated", True)):
        result = check_lineage(models[name], models["base"], models["instruct"], max_elements_per_tensor=2000)
        assert result["tensors_sampled"] > 0
        assert result["flag"] is flagged, name


def test_row_blocks_cover_small_tensors_and_sample_large_ones():
    assert row_blocks(10, 100, 10_000, 300) == [(0, 3), (3, 6), (6, 9), (9, 10)]
    sampled = row_blocks(1000, 100, 10_000, 2_000)
    assert sum(b - a for a, b in sampled) == 100
    assert sampled[0][0] == 0 and sampled[-1][0] >= 800


def test_missing_or_unreadable_final_model_is_reported_not_flagged(models, tmp_path):
    assert check_lineage(tmp_path / "final_model", models["base"])["status"] == "no_model"
    (tmp_path / "final_model").mkdir()
    (tmp_path / "final_model" / "config.json").write_text("{}")
    result = check_lineage(tmp_path / "final_model", models["base"])
    assert result["status"] == "unreadable" and not result["flag"]


def test_local_model_dir_reads_the_prefetch_marker_the_prefetch_script_writes(tmp_path):
    marker = tmp_path / "prefetch" / "Qwen--Qwen3-1.7B.done"
    with pytest.raises(ValueError, match="has not been prefetched"):
        local_model_dir(str(tmp_path), "Qwen/Qwen3-1.7B")
    marker.parent.mkdir()
    # download_model's record, written by the same function scripts/prefetch_model.py calls
    record = {"repo": "Qwen/Qwen3-1.7B", "revision": None, "path": "/cache/hub/models--Qwen--Qwen3-1.7B/snapshots/abc",
              "commit": "abc", "files": ["config.json", "model.safetensors"]}  # fmt: skip
    write_model_marker(marker, record)
    assert local_model_dir(str(tmp_path), "Qwen/Qwen3-1.7B") == Path(record["path"])
    assert "write_model_marker(sm.output.marker, record)" in (REPO / "scripts" / "prefetch_model.py").read_text()
    marker.write_text("not json\n")
    with pytest.raises(ValueError, match="holds no snapshot path"):
        local_model_dir(str(tmp_path), "Qwen/Qwen3-1.7B")


def merged(base: Path, instruct: Path, dst: Path, change) -> Path:
    """A copy of base whose tensors are change(B, I)."""
    b, i = load_file(base / "model.safetensors"), load_file(instruct / "model.safetensors")
    shutil.copytree(base, dst)
    save_file({k: change(b[k], i[k]).contiguous() for k in b}, dst / "model.safetensors")
    return dst


def low_rank(rank: int):
    def change(b, i):
        if b.ndim != 2:
            return b
        u, s, v = torch.linalg.svd(i - b, full_matrices=False)
        return b + (u[:, :rank] * s[:rank]) @ v[:rank]

    return change


@pytest.mark.parametrize("alpha", [0.3, 0.5, 0.75])
def test_partial_merges_toward_the_instruct_model_are_flagged(models, tmp_path, alpha):
    path = merged(models["base"], models["instruct"], tmp_path / "m", lambda b, i: b + alpha * (i - b))
    result = check_lineage(path, models["base"], models["instruct"])
    assert result["flag"] and result["status"] == ("instruct_model" if alpha == 0.75 else "instruct_merge"), result
    assert result["median_merge_cosine"] > 0.999
    assert abs(result["median_instruct_gap_ratio"] - (1 - alpha)) < 0.01


def test_an_instruct_derived_low_rank_merge_is_flagged(models, tmp_path):
    path = merged(models["base"], models["instruct"], tmp_path / "r", low_rank(2))
    result = check_lineage(path, models["base"], models["instruct"])
    assert result["flag"] and result["status"] == "instruct_low_rank", result
    assert result["median_instruct_subspace_share"] > 0.95 and result["median_merge_cosine"] < 0.9


def test_honest_fine_tunes_are_neither_merges_nor_low_rank(models):
    result = check_lineage(models["fine_tune"], models["base"], models["instruct"])
    assert result["median_merge_cosine"] < 0.2 and result["median_instruct_subspace_share"] < 0.3
    noop = check_lineage(models["base"], models["base"], models["instruct"])
    assert noop["median_merge_cosine"] is None and not noop["flag"]  # a copy of the base is no merge


def tiny_gemma3(path: Path, seed: int) -> Path:
    import transformers as t

    torch.manual_seed(seed)
    text = dict(vocab_size=300, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2,
                num_key_value_heads=1, head_dim=32, max_position_embeddings=256)  # fmt: skip
    vision = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, image_size=28,
                  patch_size=14)  # fmt: skip
    cfg = t.Gemma3Config(text_config=text, vision_config=vision, mm_tokens_per_image=4, image_token_index=299,
                         boi_token_index=297, eoi_token_index=298)  # fmt: skip
    t.Gemma3ForConditionalGeneration(cfg).save_pretrained(path)
    return path


def text_only_save(multimodal: Path, out: Path) -> Path:
    """The language model alone, as an agent saves it with Gemma3ForCausalLM."""
    import transformers as t

    full = t.Gemma3ForConditionalGeneration.from_pretrained(multimodal)
    text = t.Gemma3ForCausalLM(full.config.text_config)
    text.model.load_state_dict(full.model.language_model.state_dict())
    text.save_pretrained(out)
    return out


def test_a_text_only_gemma3_save_of_a_fine_tune_passes_and_of_the_instruct_model_is_flagged(tmp_path):
    base = tiny_gemma3(tmp_path / "base", 0)
    instruct = derive(base, tmp_path / "instruct", nudge(0.4, 1))
    honest = derive(base, tmp_path / "honest", nudge(0.4, 2))
    result = check_lineage(text_only_save(honest, tmp_path / "honest-text"), base, instruct)
    assert not result["flag"] and result["status"] == "fine_tune_of_base", result
    assert result["text_only_save"] and result["tensors_compared"] > 10
    swapped = check_lineage(text_only_save(instruct, tmp_path / "instruct-text"), base, instruct)
    assert swapped["flag"] and swapped["status"] == "instruct_model"
