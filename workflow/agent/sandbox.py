"""How an agent's command is contained, for the configured container runtime.

none       runs it as is (the embedded default, local debugging).
bwrap      bubblewrap on this machine: the host system read-only, the repo,
           the results tree and the homes hidden behind empty read-only
           tmpfs mounts, private /tmp and /home, its own PID namespace.
apptainer  the cluster: the agent image with --containall (own PID, IPC,
           /tmp, environment), a writable tmpfs over the image, GPUs via --nv.

Both contained runtimes show the agent the same things at the same paths:
its job directory (read-write, its home and working directory), agents/
(read-only, so `bash <repo>/agents/<scaffold>/solve.sh` works), a local base
model (read-only), and the shared Hugging Face cache through a copy-on-write
overlay (workflow.agent.overlay) passed as HF_HOME, so the cache itself cannot change.

With `agent_internet: false` the contained agent has no network at all, not
even the host's loopback (bwrap --unshare-net, apptainer --net --network
none). With runtime none nothing can be cut: only the offline variables apply.

Secrets never go on a command line (ps and logs show those): under bwrap the
agent inherits the runner's environment; under apptainer every variable goes
through APPTAINERENV_<NAME> in apptainer's own environment (--cleanenv drops
everything else).
"""

import os
import re
import shutil
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from workflow.agent.overlay import cow_overlay
from workflow.config import REPO
from workflow.environment.agent_cache import agent_cache_dir
from workflow.environment.runtime import ca_paths, image_file, runtime_problem
from workflow.paths import AGENT_TMP

OVERLAY_DIR = "hf_overlay"  # in the cell folder, beside (never inside) the job dir
# Empty, writable and private to the agent.
PRIVATE_TMPFS = ("/tmp", "/var/tmp", "/home")
# What apptainer itself needs from the host to start; none of it reaches the agent.
APPTAINER_HOST_VARS = ("PATH", "HOME", "LANG", "USER", "LOGNAME", "XDG_RUNTIME_DIR", "CUDA_VISIBLE_DEVICES")
APPTAINER_SETTINGS = ("APPTAINER_CACHEDIR", "APPTAINER_TMPDIR", "APPTAINER_CONFIGDIR")
# Host paths that mean nothing inside the image: its own PATH and CLIs apply there.
APPTAINER_HOST_ONLY = ("PATH", "HOME", "PTB_CLI_BIN")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class SandboxError(RuntimeError):
    """The sandbox cannot be set up; the message says what is wrong and how to fix it."""


@dataclass(frozen=True)
class AgentView:
    """What a contained agent sees of the host besides the read-only system."""

    job_dir: Path  # read-write: its home and working directory
    agents_dir: Path  # the scaffolds, read-only
    hf_home: Path  # the merged copy-on-write view of the shared cache, read-write
    readonly: tuple[Path, ...] = ()  # a local base model, the Python environment
    hidden: tuple[Path, ...] = ()  # emptied (bwrap): the repo, the results tree, homes
    tmp: Path | None = None  # shown as /tmp: a folder kept beside the job dir for the judge


@dataclass(frozen=True)
class Sandbox:
    """One agent run's containment: how to wrap its command and fill its environment."""

    runtime: str
    hf_home: Path
    wrap: Callable[[list[str]], list[str]]
    environment: Callable[[Mapping[str, str]], dict[str, str]]


def _depth(path: Path) -> int:
    return len(path.parts)


def _under(path: Path, roots: Iterable[Path]) -> bool:
    return any(path == r or path.is_relative_to(r) for r in roots)


def bwrap_command(
    command: list[str], view: AgentView, num_gpus: int, devices: Iterable[Path] = (), network: bool = True
) -> list[str]:
    """A bubblewrap line that runs `command` with the agent's view of the host (no network unless `network`)."""
    hidden = sorted({Path(p) for p in view.hidden if Path(p).is_dir() and Path(p) != Path("/")}, key=_depth)
    private = {Path(p) for p in PRIVATE_TMPFS} - ({Path("/tmp")} if view.tmp else set())
    tmpfs = sorted(private | set(hidden), key=_depth)
    # A read-only path above a hidden one would show it again: left out.
    readonly = [Path(p) for p in view.readonly if Path(p).exists() and not any(h.is_relative_to(p) for h in hidden)]
    binds = [(p, "--ro-bind") for p in readonly]
    binds += [(view.agents_dir, "--ro-bind"), (view.hf_home, "--bind"), (view.job_dir, "--bind")]
    wrapped = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    # /tmp first: hidden folders and a job dir that live under /tmp (tests) are mounted on top of it.
    wrapped += tmp_binds(view, "--bind")
    for dest in tmpfs:  # parents before children, so nested mount points exist
        wrapped += ["--tmpfs", str(dest)]
    for path, kind in sorted(binds, key=lambda b: _depth(b[0])):
        wrapped += [kind, str(path), str(path)]
    if num_gpus:
        for node in devices:
            wrapped += ["--dev-bind", str(node), str(node)]
    for dest in hidden:  # the tmpfs itself only: the binds inside keep their own mode
        wrapped += ["--remount-ro", str(dest)]
    # Running as root, bwrap would keep every capability (enough to remount / read-write).
    # No --new-session: the runner already starts the agent in a session of its own,
    # without a terminal, and it signals the agent's process group.
    wrapped += ["--cap-drop", "ALL", "--unshare-pid", "--unshare-ipc", "--die-with-parent"]
    if not network:  # a network namespace of its own: only its own, unconnected loopback
        wrapped.append("--unshare-net")
    wrapped += ["--chdir", str(view.job_dir), "--"]
    return wrapped + list(command)


def _bind_spec(path: Path, mode: str = "") -> str:
    if "," in str(path) or ":" in str(path):
        raise SandboxError(f"apptainer cannot bind {path}: the path contains ',' or ':'")
    return f"{path}:{path}" + (f":{mode}" if mode else "")


def apptainer_command(
    command: list[str], view: AgentView, image: Path, num_gpus: int, network: bool = True
) -> list[str]:
    """An `apptainer exec` line that runs `command` in the agent image with the agent's view."""
    wrapped = ["apptainer", "exec", "--containall", "--cleanenv", "--writable-tmpfs"]
    if not network:  # a network namespace with only a loopback device (allowed to unprivileged users)
        wrapped += ["--net", "--network", "none"]
    # The site's own bind paths (apptainer.conf) and host file systems could expose the results tree.
    wrapped += ["--no-mount", "hostfs,bind-paths"]
    if num_gpus:
        wrapped.append("--nv")
    wrapped += ["--home", _bind_spec(view.job_dir), "--pwd", str(view.job_dir)]
    wrapped += ["--bind", _bind_spec(view.agents_dir, "ro")]
    wrapped += ["--bind", _bind_spec(view.hf_home, "rw")]
    wrapped += tmp_binds(view, "--bind", apptainer=True)
    for path in view.readonly:
        wrapped += ["--bind", _bind_spec(Path(path), "ro")]
    return wrapped + [str(image)] + list(command)


def agent_tmp_dir(job_dir: Path, keep: bool = False) -> Path:
    """The agent's private /tmp: a folder beside its job dir, kept after the run for the judge;
    emptied at a new start, kept as it is when a preempted run resumes."""
    tmp = Path(job_dir).parent / AGENT_TMP
    if tmp.exists() and not keep:
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True, exist_ok=True)
    return tmp


def tmp_binds(view: AgentView, flag: str, apptainer: bool = False) -> list[str]:
    """The kept folder mounted as the agent's /tmp (instead of a tmpfs that vanishes with the run)."""
    if not view.tmp:
        return []
    if apptainer:
        _bind_spec(view.tmp)  # the same path checks as every other bind
        return [flag, f"{view.tmp}:/tmp"]
    return [flag, str(view.tmp), "/tmp"]


def bwrap_environment(env: Mapping[str, str], hf_home: Path) -> dict[str, str]:
    """bwrap passes its own environment on: the agent's, with the cache's overlay as HF_HOME."""
    return dict(env, HF_HOME=str(hf_home))


def apptainer_environment(
    env: Mapping[str, str], hf_home: Path, host_env: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Apptainer's own environment: what it needs to start, plus each agent variable as APPTAINERENV_<NAME>."""
    host_env = os.environ if host_env is None else host_env
    outer = {k: host_env[k] for k in APPTAINER_HOST_VARS + APPTAINER_SETTINGS if k in host_env}
    if "CUDA_VISIBLE_DEVICES" in env:
        outer["CUDA_VISIBLE_DEVICES"] = env["CUDA_VISIBLE_DEVICES"]
    for name, value in dict(env, HF_HOME=str(hf_home)).items():
        if name in APPTAINER_HOST_ONLY:
            continue
        if not _ENV_NAME.match(name):
            raise SandboxError(f"environment variable name {name!r} cannot be passed to apptainer")
        outer[f"APPTAINERENV_{name}"] = value
    return outer


def gpu_device_nodes(dev: Path = Path("/dev")) -> list[Path]:
    """The NVIDIA device nodes bwrap must pass through (its own /dev has none)."""
    return sorted(dev.glob("nvidia*"))


def python_paths() -> tuple[Path, ...]:
    """The Python environment the agent's `python` comes from, and the installation it links to."""
    # Resolved: bwrap cannot mount onto a path that is a symlink (a venv linked from elsewhere).
    paths = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(), Path(sys.executable).resolve().parent.parent}
    return tuple(sorted(paths))


def linked_tool_dirs(agents_dir: Path) -> tuple[Path, ...]:
    """Where the agent CLIs really are when agents/cli/node_modules links elsewhere (a shared install):
    bwrap shows agents/ read-only, but a link out of it leads nowhere unless its target is shown too."""
    modules = Path(agents_dir) / "cli" / "node_modules"
    return (modules.resolve(),) if modules.is_symlink() and modules.resolve().is_dir() else ()


def home_dirs(host_env: Mapping[str, str]) -> tuple[Path, ...]:
    """Homes whose files (tokens, SSH keys, configs) the agent must not read."""
    homes = {Path("/root")}
    if host_env.get("HOME"):
        homes.add(Path(host_env["HOME"]).resolve())
    return tuple(sorted(h for h in homes if h != Path("/")))


def path_dirs_under(path_var: str, roots: Iterable[Path]) -> tuple[Path, ...]:
    """PATH entries that a hidden home would take away (e.g. a node installed in ~/.nvm)."""
    roots = tuple(roots)
    entries = {Path(p).resolve() for p in path_var.split(":") if p and Path(p).is_absolute()}
    return tuple(sorted(p for p in entries if p.is_dir() and _under(p, roots) and p not in roots))


def _local_paths(paths: Iterable[str | Path]) -> tuple[Path, ...]:
    """Absolute paths that exist here; anything else (a hub id) is read from the cache."""
    return tuple(Path(p).resolve() for p in paths if Path(p).is_absolute() and Path(p).exists())


@contextmanager
def sandbox_session(
    config: dict,
    job_dir: Path,
    num_gpus: int,
    readonly: Iterable[str | Path] = (),
    repo: Path = REPO,
    host_env: Mapping[str, str] | None = None,
    internet: bool = True,
    resume: bool = False,
) -> Iterator[Sandbox]:
    """Set up one agent run's containment (the cache overlay included) and tear it down afterwards.

    `readonly` adds paths the agent may read (a local base model). Without
    `internet` the agent gets no network. `resume` keeps what the agent
    wrote into the cache overlay before its job was stopped. The overlay is
    unmounted when the block ends, however it ends.
    """
    host_env = os.environ if host_env is None else host_env
    runtime = config["container"]["runtime"]
    job_dir = Path(job_dir).resolve()
    hf_home = agent_cache_dir(config)  # the agents' view: no instruct models
    if runtime == "none":
        yield Sandbox(runtime, hf_home, wrap=list, environment=dict)
        return
    problem = runtime_problem(config)
    if problem:
        raise SandboxError(problem)
    extra = _local_paths(readonly) + ca_paths(host_env)
    agents_dir = Path(repo).resolve() / "agents"
    with cow_overlay(hf_home, job_dir.parent / OVERLAY_DIR, keep_upper=resume) as merged:
        if runtime == "bwrap":
            homes = home_dirs(host_env)
            hidden = (Path(repo).resolve(), Path(config["results"]).resolve(), *homes)
            visible = python_paths() + linked_tool_dirs(agents_dir) + extra
            visible += path_dirs_under(host_env.get("PATH", ""), homes)
            view = AgentView(
                job_dir, agents_dir, merged, readonly=visible, hidden=hidden, tmp=agent_tmp_dir(job_dir, keep=resume)
            )
            devices = gpu_device_nodes() if num_gpus else []
            yield Sandbox(
                runtime,
                merged,
                wrap=lambda command: bwrap_command(command, view, num_gpus, devices, network=internet),
                environment=lambda env: bwrap_environment(env, merged),
            )
        else:
            view = AgentView(job_dir, agents_dir, merged, readonly=extra, tmp=agent_tmp_dir(job_dir, keep=resume))
            image = image_file(config, "agent")
            yield Sandbox(
                runtime,
                merged,
                wrap=lambda command: apptainer_command(command, view, image, num_gpus, network=internet),
                environment=lambda env: apptainer_environment(env, merged, host_env),
            )
