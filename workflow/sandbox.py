"""How an agent's command is wrapped for the configured container runtime.

`none` runs it as is (the embedded default and local use). `apptainer`
contains it: home = the job directory, private /tmp, a writable tmpfs, GPU
passthrough, and the shared Hugging Face cache mounted read-only.
"""

from pathlib import Path


def apptainer_command(command: list[str], job_dir: Path, image: str, hf_home: str, num_gpus: int) -> list[str]:
    wrapped = ["apptainer", "exec", "--containall", "--writable-tmpfs", "--cleanenv"]
    if num_gpus:
        wrapped.append("--nv")
    wrapped += [
        "--home", f"{job_dir}:{job_dir}",
        "--pwd", str(job_dir),
        "--bind", f"{hf_home}:{hf_home}:ro",
        "--bind", f"{Path(__file__).resolve().parent.parent / 'agents'}:/opt/ptb/agents:ro",
        image,
    ]  # fmt: skip
    return wrapped + command


def wrap_command(config: dict, command: list[str], job_dir: Path, num_gpus: int) -> list[str]:
    runtime = config["container"]["runtime"]
    if runtime == "none":
        return command
    image = f"{config['container']['dir']}/agent.sif"
    return apptainer_command(command, job_dir, image, config["hf_home"], num_gpus)
