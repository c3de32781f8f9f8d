"""The agents' cache: the shared cache without the official instruct models, built with hard links."""

from pathlib import Path

from workflow.environment.agent_cache import agent_cache_dir, build_agent_cache, hidden_models

CONFIG = {
    "hf_home": "/shared/hf",
    "models": {
        "q": {"base": "Qwen/Qwen3-1.7B-Base", "instruct": "Qwen/Qwen3-1.7B"},
        "t": {"base": "embedded:tiny-base", "instruct": "embedded:tiny-instruct"},
    },
}


def snapshot(root: Path, repo: str, kind: str = "models") -> Path:
    folder = root / "hub" / f"{kind}--{repo.replace('/', '--')}"
    (folder / "blobs").mkdir(parents=True)
    (folder / "blobs" / "abc").write_text(f"weights of {repo}")
    (folder / "snapshots" / "rev").mkdir(parents=True)
    (folder / "snapshots" / "rev" / "model.safetensors").symlink_to("../../blobs/abc")
    return folder


def test_the_agents_cache_has_everything_but_the_instruct_models(tmp_path):
    shared = tmp_path / "hf"
    snapshot(shared, "Qwen/Qwen3-1.7B-Base")
    snapshot(shared, "Qwen/Qwen3-1.7B")
    snapshot(shared, "openai/gsm8k", "datasets")
    (shared / "datasets" / "openai___gsm8k" / "main").mkdir(parents=True)
    (shared / "datasets" / "openai___gsm8k" / "main" / "test.arrow").write_text("rows")
    assert hidden_models(CONFIG) == ["Qwen/Qwen3-1.7B"]
    record = build_agent_cache(shared, tmp_path / "agents", hidden_models(CONFIG))
    view = tmp_path / "agents"
    assert record["left_out"] == ["hub/models--Qwen--Qwen3-1.7B"]
    assert sorted(p.name for p in (view / "hub").iterdir()) == [
        "datasets--openai--gsm8k",
        "models--Qwen--Qwen3-1.7B-Base",
    ]
    weights = view / "hub/models--Qwen--Qwen3-1.7B-Base/snapshots/rev/model.safetensors"
    assert weights.is_symlink() and weights.read_text() == "weights of Qwen/Qwen3-1.7B-Base"
    blob = view / "hub/models--Qwen--Qwen3-1.7B-Base/blobs/abc"
    assert blob.stat().st_ino == (shared / "hub/models--Qwen--Qwen3-1.7B-Base/blobs/abc").stat().st_ino  # a link
    assert (view / "datasets/openai___gsm8k/main/test.arrow").read_text() == "rows"
    # rebuilt from scratch: a model dropped from the shared cache leaves the view too
    snapshot(shared, "Qwen/Qwen3-4B-Base")
    build_agent_cache(shared, view, ["Qwen/Qwen3-1.7B", "Qwen/Qwen3-4B-Base"])
    assert not (view / "hub/models--Qwen--Qwen3-4B-Base").exists()


def test_where_the_agents_cache_lives():
    assert agent_cache_dir(CONFIG) == Path("/shared/hf-agents")
    assert agent_cache_dir({**CONFIG, "agent_hf_home": "/fast/agents-hf"}) == Path("/fast/agents-hf")
