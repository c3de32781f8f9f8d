"""The images, the local environments and pyproject agree on every pin."""

import json
import re

import pytest

from tests.containers.pins import (
    DELIBERATE_PIN_DIFFERENCES,
    conda_env_pins,
    parse_pins,
    pin_differences,
    pyproject_pins,
    requirements_pins,
)
from workflow.config import REPO
from workflow.environment.containers import (
    ENVS,
    IMAGES,
    ContainerError,
    copied_files,
    definition_path,
    definition_sections,
    image_inputs,
)

EVAL = requirements_pins(ENVS / "requirements-eval.txt")
AGENT = requirements_pins(ENVS / "requirements-agent.txt") | requirements_pins(ENVS / "requirements-agent-compiled.txt")
RUN = pyproject_pins("run")


def test_eval_image_has_the_evaluation_stack():
    assert {"vllm", "inspect-ai", "inspect-evals", "torch", "transformers"} <= EVAL.keys()


def test_agent_image_has_training_stack_and_everything_the_eval_image_has():
    training = {
        "transformers",
        "trl",
        "peft",
        "accelerate",
        "datasets",
        "vllm",
        "inspect-ai",
        "inspect-evals",
        "flash-attn",
        "liger-kernel",  # reference-sft's fused kernels on a GPU
    }
    assert training <= AGENT.keys()
    # A final_model is evaluated with the very stack the agent trained and tested it in.
    assert {k: AGENT[k] for k in EVAL} == EVAL


def test_images_and_pyproject_differ_only_where_declared():
    differences = pin_differences(RUN, AGENT)
    assert set(differences) == set(DELIBERATE_PIN_DIFFERENCES), differences
    for name, reason in DELIBERATE_PIN_DIFFERENCES.items():
        assert differences[name][1] in reason and differences[name][0] in reason, (name, reason)


def test_images_and_pyproject_agree_on_every_other_shared_pin():
    shared = (RUN.keys() | pyproject_pins(None).keys()) & AGENT.keys()
    assert {"trl", "peft", "accelerate", "datasets", "inspect-ai", "inspect-evals", "huggingface-hub"} <= shared
    everything = RUN | pyproject_pins(None)
    for name in shared - DELIBERATE_PIN_DIFFERENCES.keys():
        assert everything[name] == AGENT[name], name


def test_conda_env_mirrors_pyproject():
    """envs/pipeline.yaml (the rules' conda env) = pyproject's dependencies + `run` extra."""
    assert conda_env_pins(ENVS / "pipeline.yaml") == pyproject_pins(None) | RUN


@pytest.mark.parametrize("image", IMAGES)
def test_definitions_install_only_from_the_pins_files(image):
    text = definition_path(image).read_text()
    post = "\n".join(definition_sections(text)["post"])
    copied = dict(copied_files(text))
    installed = re.findall(r"pip install [^\n]*?-r (\S+)", post.replace("\\\n", " "))
    assert installed, "no `pip install -r` in %post"
    for target in installed:
        source = next(src for src, dst in copied.items() if dst == target)
        assert source.startswith("envs/requirements-") and (REPO / source).exists()
    # No version is written into a definition: the pins files hold them all.
    assert not re.search(r"\b[\w.-]+==[\w.]+", post)
    base = next(line.split(":", 1)[1].strip() for line in definition_sections(text)[""] if line.startswith("From:"))
    assert re.fullmatch(r"nvidia/cuda:\d+\.\d+\.\d+-devel-ubuntu\d\d\.\d\d", base), base


def test_agent_definition_installs_the_clis_from_their_lock_file():
    text = definition_path("agent").read_text()
    copied = dict(copied_files(text))
    assert copied["agents/cli/package.json"].endswith("/package.json")
    assert copied["agents/cli/package-lock.json"].endswith("/package-lock.json")
    assert "npm ci" in "\n".join(definition_sections(text)["post"])
    package = json.loads((REPO / "agents/cli/package.json").read_text())
    lock = json.loads((REPO / "agents/cli/package-lock.json").read_text())
    assert set(package["dependencies"]) == {
        "@anthropic-ai/claude-code",
        "@google/gemini-cli",
        "@openai/codex",
        "opencode-ai",
    }
    for name, version in package["dependencies"].items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name} is not pinned exactly: {version}"
        assert lock["packages"][f"node_modules/{name}"]["version"] == version


def test_image_inputs_are_the_definition_and_what_it_copies():
    assert image_inputs("eval") == ["envs/eval.def", "envs/requirements-eval.txt"]
    agent = image_inputs("agent")
    assert agent[0] == "envs/agent.def" and "agents/cli/package-lock.json" in agent
    assert "envs/requirements-agent-compiled.txt" in agent


def test_unpinned_or_missing_inputs_are_errors(tmp_path):
    with pytest.raises(ContainerError, match="'torch>=2' is not pinned"):
        parse_pins(["torch>=2"], "reqs.txt")
    (tmp_path / "envs").mkdir()
    (tmp_path / "envs" / "x.def").write_text(
        "Bootstrap: docker\nFrom: ubuntu:24.04\n%files\n    envs/gone.txt /opt/gone.txt\n"
    )
    with pytest.raises(ContainerError, match="copies files that do not exist: envs/gone.txt"):
        image_inputs("x", repo=tmp_path)
    with pytest.raises(ContainerError, match="no definition for image 'y'"):
        image_inputs("y", repo=tmp_path)
