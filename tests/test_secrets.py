"""Keys: which job gets which, withheld from sbatch's environment, redacted from what is written."""

import importlib.util
import os
import stat

import yaml

from tests.pipeline import REPO
from workflow.config import resolve_config
from workflow.secrets import (
    PROVIDER_KEYS,
    Redactor,
    export_file_option,
    is_secret_name,
    job_keys,
    key_file,
    model_key,
    remove_key_files,
    restore_keys,
    withhold_secrets,
    write_key_files,
)

CONFIG = resolve_config(
    yaml.safe_load((REPO / "config" / "config.yaml").read_text())
)  # the suite's benchmarks filled in


def test_secret_names():
    for name in ("ANTHROPIC_API_KEY", "HF_TOKEN", "GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "DB_PASSWORD"):
        assert is_secret_name(name), name
    for name in ("PATH", "HF_HOME", "SLURM_JOB_ID", "TOKENIZERS_PARALLELISM", "HTTPS_PROXY", "KRB5CCNAME"):
        assert not is_secret_name(name), name


def test_each_job_needs_only_its_own_keys():
    assert job_keys(CONFIG, "run_agent", {"agent": "claude-opus-4.6"}) == ["ANTHROPIC_API_KEY"]
    assert job_keys(CONFIG, "run_agent", {"agent": "gemini-3-pro"}) == ["GEMINI_API_KEY"]
    # Only LLM-graded benchmarks need the grader's key; the judge needs its model's.
    assert job_keys(CONFIG, "evaluate", {"benchmark": "healthbench"}) == ["OPENAI_API_KEY"]
    assert job_keys(CONFIG, "evaluate_baselines", {}) == [
        "OPENAI_API_KEY"
    ]  # a model's baselines include the graded benchmarks
    assert job_keys(CONFIG, "judge", {}) == ["OPENAI_API_KEY"]  # config.yaml: openai/gpt-5-mini
    judged = CONFIG | {"judge": {"model": "anthropic/claude-x"}, "evaluation": {"judge_model": "openai-api/acme/m"}}
    assert job_keys(judged, "judge", {}) == ["ANTHROPIC_API_KEY"]
    assert job_keys(judged, "evaluate", {"benchmark": "arenahardwriting"}) == ["ACME_API_KEY"]
    assert job_keys(CONFIG, "build_embedded_model", {}) == []


def test_provider_keys_agree_with_the_handed_out_grader_check():
    spec = importlib.util.spec_from_file_location("graders", REPO / "tasks" / "graders.py")
    graders = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(graders)
    assert PROVIDER_KEYS == graders.JUDGE_KEY_VARS
    for model in ("openai/gpt-5-mini", "openai-api/acme/m", "google/gemini-x"):
        assert model_key(model) == graders.judge_key_var(model)


def test_withheld_keys_travel_only_in_private_files(tmp_path):
    environ = {"PATH": "/bin", "OPENAI_API_KEY": "sk-open-123456", "HF_TOKEN": "hf_abcdefgh", "HOME": "/root"}
    withheld = withhold_secrets(environ)
    assert environ == {"PATH": "/bin", "HOME": "/root"}  # what sbatch --export=ALL now sends
    assert withheld == {"OPENAI_API_KEY": "sk-open-123456", "HF_TOKEN": "hf_abcdefgh"}
    [path] = write_key_files(tmp_path, [("OPENAI_API_KEY",), ("OPENAI_API_KEY",), ()], withheld, environ)
    assert path == key_file(tmp_path, ["OPENAI_API_KEY"])
    # sbatch --export-file's format; the file replaces the exported environment, so it carries it whole.
    assert path.read_bytes() == b"PATH=/bin\0HOME=/root\0OPENAI_API_KEY=sk-open-123456\0"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert export_file_option(tmp_path, ["OPENAI_API_KEY"]) == f"--export-file={path}"
    assert export_file_option(tmp_path, []) == ""
    # A rule run where Snakemake runs (the prefetch) takes its keys back from its file.
    write_key_files(tmp_path, [("HF_TOKEN",)], withheld, environ)
    local = {"PATH": "/bin"}
    assert restore_keys(["HF_TOKEN"], tmp_path, local) == ["HF_TOKEN"] and local["HF_TOKEN"] == "hf_abcdefgh"
    remove_key_files(tmp_path)
    assert not list((tmp_path / ".snakemake" / "ptb-secrets").iterdir())


def test_redactor_replaces_every_key_value_whatever_prints_it():
    redact = Redactor({"ANTHROPIC_API_KEY": "sk-ant-0123456789", "HF_TOKEN": "hf_short", "PATH": "/usr/bin:/bin"})
    line = 'echo $ANTHROPIC_API_KEY -> sk-ant-0123456789; token hf_short; x=sk-ant-0123456789"'
    out = redact(line)
    assert "sk-ant-0123456789" not in out and "hf_short" not in out
    assert out.count("[redacted ANTHROPIC_API_KEY]") == 2 and "[redacted HF_TOKEN]" in out
    assert redact("/usr/bin:/bin") == "/usr/bin:/bin"  # not a secret
    assert Redactor({"X_TOKEN": "1"})("1 2 3") == "1 2 3"  # too short to redact safely
    assert redact.bytes(b"key=sk-ant-0123456789") == b"key=[redacted ANTHROPIC_API_KEY]"


def test_redactor_reads_this_process_environment(monkeypatch):
    monkeypatch.setenv("SOME_SERVICE_API_KEY", "svc-key-abcdef12")
    assert Redactor()("svc-key-abcdef12") == "[redacted SOME_SERVICE_API_KEY]"
    assert "svc-key-abcdef12" in os.environ["SOME_SERVICE_API_KEY"]
