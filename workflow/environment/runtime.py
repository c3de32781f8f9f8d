"""Running a job's code in an image: the one mechanism every rule that needs one uses.

`container.runtime: apptainer` (a cluster): the code runs under `apptainer exec`
in `<container.dir>/<image>.sif`, with GPUs (--nv) when the job has them and
the shared HF cache bound in. `bwrap` or `none` (no Apptainer on this machine):
an image's stand-in is the local environment that `container.local_images`
names for it (a venv folder, whose bin/ comes first on PATH), else this very
environment. The agent's containment (workflow.agent.sandbox) is built on the
same image path; evaluation and the baselines run their server and attempts
through `ImageRuntime.command`.
"""

import os
import shutil
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from workflow.agent.overlay import FUSE_OVERLAYFS
from workflow.config import REPO

APPTAINER = "apptainer"
RUNTIMES = ("none", "bwrap", "apptainer")
# What each runtime needs on PATH: apptainer runs every image, bwrap contains the
# agent here, and both put the HF cache behind a copy-on-write overlay.
RUNTIME_TOOLS = {"none": (), "bwrap": ("bwrap", FUSE_OVERLAYFS), "apptainer": (APPTAINER, FUSE_OVERLAYFS)}
# How this site reaches the outside world: a proxy and its certificate authority.
# Every runtime passes them on (an image gets the certificate files bound in); without
# them a CLI or a grader on a proxy-only cluster fails at once.
NETWORK_ENV = tuple(
    name for base in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY") for name in (base, base.lower())
) + ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS")
# Of those, the ones naming a file or folder the agent must be able to read.
CA_PATH_ENV = ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS")


def ca_paths(env: Mapping[str, str]) -> tuple[Path, ...]:
    """Certificate files and folders the proxy settings name: whatever runs in an image must read them."""
    found = {Path(env[name]).resolve() for name in CA_PATH_ENV if env.get(name) and Path(env[name]).is_absolute()}
    return tuple(sorted(p for p in found if p.exists()))


# Variables of this environment that would point the image's Python at the wrong packages.
HOST_PYTHON_VARS = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")


def image_file(config: dict, image: str) -> Path:
    """The Apptainer image file of `image` (agent, eval)."""
    return Path(config["container"]["dir"]).resolve() / f"{image}.sif"


def local_image(config: dict, image: str) -> Path | None:
    """The local environment standing in for `image` when Apptainer is not used, or None."""
    folder = (config["container"].get("local_images") or {}).get(image)
    if not folder:
        return None
    path = Path(folder) if Path(folder).is_absolute() else REPO / folder
    return Path(os.path.abspath(path))


@dataclass(frozen=True)
class ImageRuntime:
    """How to run a command with one image's software."""

    image: str
    sif: Path | None = None  # apptainer: the image file
    local_env: Path | None = None  # otherwise: a venv standing in for it (None: this environment)
    gpus: bool = False
    binds: tuple[Path, ...] = ()

    @property
    def python(self) -> str:
        """The image's Python, as the command's first word."""
        if self.sif:
            return "python3"
        if self.local_env:
            return str(self.local_env / "bin" / "python")
        return sys.executable

    def problem(self) -> str | None:
        """Why this image cannot run here, or None."""
        if self.local_env and not (self.local_env / "bin" / "python").exists():
            return (
                f"container.local_images.{self.image}: {self.local_env} has no bin/python "
                "(scripts/install-eval-env.sh builds the eval image's stand-in)"
            )
        return None

    def command(self, argv: Iterable[str]) -> list[str]:
        argv = list(argv)
        if not self.sif:
            return argv
        wrapped = [APPTAINER, "exec", "--cleanenv"]
        if self.gpus:
            wrapped.append("--nv")
        for path in self.binds:
            wrapped += ["--bind", f"{path}:{path}"]
        return [*wrapped, str(self.sif), *argv]

    def environment(self, env: Mapping[str, str]) -> dict[str, str]:
        """The command's environment: the image's own PATH and Python, this job's settings."""
        out = {k: v for k, v in env.items() if k not in HOST_PYTHON_VARS}
        if self.sif:
            # --cleanenv: variables reach the image only as APPTAINERENV_<NAME>.
            keep = {k: out[k] for k in ("PATH", "HOME", "CUDA_VISIBLE_DEVICES") if k in out}
            return keep | {f"APPTAINERENV_{k}": v for k, v in out.items() if k not in ("PATH", "HOME")}
        if self.local_env:
            out["PATH"] = f"{self.local_env / 'bin'}:{out.get('PATH', '')}"
            out["VIRTUAL_ENV"] = str(self.local_env)
        return out


def image_runtime(
    config: dict,
    image: str,
    gpus: bool = False,
    binds: Iterable[str | Path] = (),
    environ: Mapping[str, str] | None = None,
) -> ImageRuntime:
    """The runtime for `image` under the configured container runtime (the site's CA files bound in)."""
    if config["container"]["runtime"] == "apptainer":
        site = ca_paths(os.environ if environ is None else environ)
        mounts = tuple(sorted({Path(os.path.abspath(p)) for p in binds} | set(site)))
        return ImageRuntime(image, sif=image_file(config, image), gpus=gpus, binds=mounts)
    return ImageRuntime(image, local_env=local_image(config, image), gpus=gpus)


def runtime_problem(config: dict, which=shutil.which) -> str | None:
    """Why the configured container runtime (or an image's local stand-in) cannot work here, or None."""
    runtime = config["container"]["runtime"]
    if runtime not in RUNTIMES:
        return f"container.runtime {runtime!r} is unknown; use one of {', '.join(RUNTIMES)}"
    missing = [tool for tool in RUNTIME_TOOLS[runtime] if not which(tool)]
    if missing:
        hint = {
            "bwrap": "apt-get install -y bubblewrap fuse-overlayfs",
            "apptainer": "load it (e.g. `module load apptainer`) or install it on the submit host and the nodes; "
            "or run without containers: --config container='{runtime: none}'",
        }[runtime]
        return f"container.runtime {runtime!r} needs {' and '.join(missing)} on PATH; {hint}"
    if runtime != "apptainer":
        for image in config["container"].get("local_images") or {}:
            problem = image_runtime(config, image).problem()
            if problem:
                return problem
    return None
