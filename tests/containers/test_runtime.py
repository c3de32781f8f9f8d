"""One mechanism runs code in an image: Apptainer on a cluster, a local stand-in elsewhere."""

import sys
from pathlib import Path

from workflow.environment.runtime import image_runtime, runtime_problem

KEY = "sk-eval-secret-never-on-a-command-line"


def config(runtime: str, **container) -> dict:
    return {"container": {"runtime": runtime, "dir": "/shared/containers", **container}}


def test_apptainer_runs_the_command_in_the_image_with_gpus_and_binds():
    image = image_runtime(config("apptainer"), "eval", gpus=True, binds=["/shared/hf", "/shared/hf"], environ={})
    argv = image.command([image.python, "-m", "vllm.entrypoints.openai.api_server"])
    assert argv[:4] == ["apptainer", "exec", "--cleanenv", "--nv"]
    assert argv[4:6] == ["--bind", "/shared/hf:/shared/hf"] and argv.count("--bind") == 1
    assert argv[6:] == ["/shared/containers/eval.sif", "python3", "-m", "vllm.entrypoints.openai.api_server"]
    assert KEY not in " ".join(argv)


def test_apptainer_binds_the_sites_certificates(tmp_path):
    bundle = tmp_path / "site-ca.pem"
    bundle.write_text("ca")
    image = image_runtime(config("apptainer"), "eval", binds=["/shared/hf"], environ={"SSL_CERT_FILE": str(bundle)})
    assert f"{bundle}:{bundle}" in image.command(["true"])


def test_apptainer_passes_variables_through_its_own_env_prefix_only():
    image = image_runtime(config("apptainer"), "eval")
    env = image.environment({"PATH": "/usr/bin", "VLLM_API_KEY": KEY, "PYTHONPATH": "/repo", "HF_HOME": "/h"})
    assert env["APPTAINERENV_VLLM_API_KEY"] == KEY and env["APPTAINERENV_HF_HOME"] == "/h"
    assert "VLLM_API_KEY" not in env and "PYTHONPATH" not in env and "APPTAINERENV_PYTHONPATH" not in env
    assert env["PATH"] == "/usr/bin"


def test_a_local_stand_in_puts_its_python_first(tmp_path):
    venv = tmp_path / "eval-venv"
    image = image_runtime(config("bwrap", local_images={"eval": str(venv)}), "eval", gpus=True)
    assert image.python == str(venv / "bin" / "python")
    assert image.command(["x", "y"]) == ["x", "y"]
    env = image.environment({"PATH": "/usr/bin", "PYTHONPATH": "/repo"})
    assert env["PATH"] == f"{venv / 'bin'}:/usr/bin" and "PYTHONPATH" not in env


def test_an_image_without_a_stand_in_is_this_environment():
    image = image_runtime(config("none"), "eval")
    assert image.python == sys.executable and image.command(["a"]) == ["a"]


def test_a_missing_stand_in_is_named_by_its_config_key(tmp_path):
    problem = runtime_problem(config("none", local_images={"eval": str(tmp_path / "gone")}))
    assert problem.startswith("container.local_images.eval:") and "install-eval-env.sh" in problem
    (tmp_path / "venv" / "bin").mkdir(parents=True)
    (tmp_path / "venv" / "bin" / "python").touch()
    assert runtime_problem(config("none", local_images={"eval": str(tmp_path / "venv")})) is None
    assert Path(image_runtime(config("none", local_images={"eval": "rel"}), "eval").python).is_absolute()
