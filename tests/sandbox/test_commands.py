"""The sandbox command builders and helpers, checked as argument lists (no root needed).

Apptainer cannot be installed here, so its command line and environment are
checked argument by argument; the bwrap line is also run for real in
test_bwrap.py.
"""

from pathlib import Path

import pytest

from workflow.agent.overlay import OverlayDirs, OverlayError, mount_command, mount_points
from workflow.agent.sandbox import (
    AgentView,
    SandboxError,
    apptainer_command,
    apptainer_environment,
    bwrap_command,
    bwrap_environment,
    gpu_device_nodes,
    home_dirs,
    path_dirs_under,
    sandbox_session,
)
from workflow.environment.runtime import runtime_problem

KEY = "sk-test-0123456789abcdef-never-on-a-command-line"
JOB = Path("/results/runs/a/m/b/seed1/job")
MERGED = Path("/results/runs/a/m/b/seed1/hf_overlay/merged")
AGENTS = Path("/repo/agents")
IMAGE = Path("/results/containers/agent.sif")


def view(**kw) -> AgentView:
    return AgentView(job_dir=JOB, agents_dir=AGENTS, hf_home=MERGED, **kw)


def option_values(argv: list[str], option: str) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv) if a == option]


def agent_environment() -> dict[str, str]:
    return {
        "PATH": "/venv/bin:/usr/bin:/bin",
        "HOME": str(JOB),
        "HF_HOME": "/shared/hf",
        "OPENAI_API_KEY": KEY,
        "PTB_CLI_BIN": "/repo/agents/cli/node_modules/.bin",
        "PTB_PROMPT_FILE": str(JOB / "prompt.md"),
        "CUDA_VISIBLE_DEVICES": "0",
    }


# --- apptainer ---------------------------------------------------------------


def test_apptainer_line_contains_the_agent_and_ends_with_image_and_command():
    argv = apptainer_command(["bash", "/repo/agents/noop/solve.sh"], view(), IMAGE, num_gpus=1)
    assert argv[:2] == ["apptainer", "exec"]
    for flag in ("--containall", "--cleanenv", "--writable-tmpfs", "--nv"):
        assert flag in argv
    assert option_values(argv, "--home") == [f"{JOB}:{JOB}"]
    assert option_values(argv, "--pwd") == [str(JOB)]
    binds = option_values(argv, "--bind")
    assert f"{AGENTS}:{AGENTS}:ro" in binds
    assert f"{MERGED}:{MERGED}:rw" in binds
    assert option_values(argv, "--no-mount") == ["hostfs,bind-paths"]
    # Options come before the image; the command follows it unchanged.
    assert argv[-3:] == [str(IMAGE), "bash", "/repo/agents/noop/solve.sh"]


def test_apptainer_without_gpus_has_no_nv_and_never_binds_the_shared_cache():
    argv = apptainer_command(["true"], view(), IMAGE, num_gpus=0)
    assert "--nv" not in argv
    assert not any("/shared/hf" in a for a in argv)


def test_apptainer_binds_extra_paths_read_only():
    argv = apptainer_command(["true"], view(readonly=(Path("/results/models/tiny-base"),)), IMAGE, num_gpus=0)
    assert "/results/models/tiny-base:/results/models/tiny-base:ro" in option_values(argv, "--bind")


@pytest.mark.parametrize("bad", ["/data/a,b", "/data/a:b"])
def test_apptainer_refuses_a_path_its_bind_syntax_cannot_express(bad):
    with pytest.raises(SandboxError, match="contains ',' or ':'"):
        apptainer_command(["true"], view(readonly=(Path(bad),)), IMAGE, num_gpus=0)


def test_apptainer_environment_passes_every_variable_as_apptainerenv_and_no_key_in_argv():
    env = agent_environment()
    host = {"PATH": "/usr/local/bin:/usr/bin", "HOME": "/home/me", "APPTAINER_BIND": "/results", "SECRET": "x"}
    outer = apptainer_environment(env, MERGED, host_env=host)
    argv = apptainer_command(["bash", "/repo/agents/codex/solve.sh"], view(), IMAGE, num_gpus=1)
    assert not any(KEY in a for a in argv)
    assert outer["APPTAINERENV_OPENAI_API_KEY"] == KEY
    assert outer["APPTAINERENV_HF_HOME"] == str(MERGED)  # the overlay, not the shared cache
    assert outer["APPTAINERENV_PTB_PROMPT_FILE"] == str(JOB / "prompt.md")
    # Host paths stay out of the container; the image's PATH and CLIs apply there.
    for name in ("PATH", "HOME", "PTB_CLI_BIN"):
        assert f"APPTAINERENV_{name}" not in outer
    # Apptainer itself is found and started with the host's PATH and HOME ...
    assert outer["PATH"] == host["PATH"] and outer["HOME"] == host["HOME"]
    # ... but host variables that would widen the container never reach it.
    assert "APPTAINER_BIND" not in outer and "SECRET" not in outer
    assert "OPENAI_API_KEY" not in outer  # only the prefixed copy


def test_apptainer_environment_names_a_bad_variable_without_its_value():
    with pytest.raises(SandboxError, match="'BAD-NAME'") as err:
        apptainer_environment({"BAD-NAME": KEY}, MERGED, host_env={})
    assert KEY not in str(err.value)


# --- bwrap -------------------------------------------------------------------


def test_bwrap_line_order_hides_then_binds_then_locks(tmp_path):
    repo, results, home = tmp_path / "repo", tmp_path / "results", tmp_path / "home-of-user"
    for d in (repo / "agents", repo / ".venv", results, home):
        d.mkdir(parents=True)
    v = AgentView(
        job_dir=results / "runs/a/job",
        agents_dir=repo / "agents",
        hf_home=results / "runs/a/hf_overlay/merged",
        readonly=(repo / ".venv", tmp_path / "missing", tmp_path),
        hidden=(repo, results, home, tmp_path / "not-there"),
    )
    argv = bwrap_command(["bash", "solve.sh"], v, num_gpus=0)
    assert argv[:4] == ["bwrap", "--ro-bind", "/", "/"]
    tmpfs = option_values(argv, "--tmpfs")
    assert {"/tmp", "/var/tmp", "/home", str(repo), str(results), str(home)} == set(tmpfs)
    assert tmpfs.index("/tmp") < tmpfs.index(str(repo))  # parents first: repo lives under /tmp here
    assert str(tmp_path / "not-there") not in argv
    ro = option_values(argv, "--ro-bind")
    assert str(repo / ".venv") in ro and str(repo / "agents") in ro and str(tmp_path / "missing") not in ro
    assert str(tmp_path) not in ro  # it would show the hidden repo again
    assert set(option_values(argv, "--bind")) == {str(v.job_dir), str(v.hf_home)}
    assert set(option_values(argv, "--remount-ro")) == {str(repo), str(results), str(home)}
    last_tmpfs = max(i for i, a in enumerate(argv) if a == "--tmpfs")
    first_bind = min(i for i, a in enumerate(argv) if a in ("--bind", "--ro-bind") and i > 3)
    first_lock = min(i for i, a in enumerate(argv) if a == "--remount-ro")
    last_bind = max(i for i, a in enumerate(argv) if a in ("--bind", "--ro-bind"))
    assert last_tmpfs < first_bind and last_bind < first_lock
    for flag in ("--unshare-pid", "--die-with-parent"):
        assert flag in argv
    assert option_values(argv, "--cap-drop") == ["ALL"]
    assert option_values(argv, "--chdir") == [str(v.job_dir)]
    assert argv[-3:] == ["--", "bash", "solve.sh"]


def test_bwrap_passes_gpu_nodes_only_when_gpus_are_requested(tmp_path):
    dev = tmp_path / "dev"
    dev.mkdir()
    for name in ("nvidia0", "nvidia1", "nvidiactl", "nvidia-uvm", "null"):
        (dev / name).touch()
    nodes = gpu_device_nodes(dev)
    assert [n.name for n in nodes] == ["nvidia-uvm", "nvidia0", "nvidia1", "nvidiactl"]
    with_gpu = bwrap_command(["true"], view(), num_gpus=1, devices=nodes)
    assert option_values(with_gpu, "--dev-bind") == [str(n) for n in nodes]
    assert "--dev-bind" not in bwrap_command(["true"], view(), num_gpus=0, devices=nodes)


def test_bwrap_environment_points_hf_home_at_the_overlay_and_keeps_the_rest():
    env = bwrap_environment(agent_environment(), MERGED)
    assert env["HF_HOME"] == str(MERGED)
    assert env["OPENAI_API_KEY"] == KEY  # inherited by bwrap, never on its command line
    assert not any(KEY in a for a in bwrap_command(["true"], view(), num_gpus=0))


def test_homes_and_path_entries_under_them(tmp_path):
    home = tmp_path / "u"
    (home / ".nvm/bin").mkdir(parents=True)
    (tmp_path / "usr-bin").mkdir()
    assert home_dirs({"HOME": str(home)}) == tuple(sorted((Path("/root"), home)))
    assert home_dirs({"HOME": "/"}) == (Path("/root"),)
    path_var = f"{home / '.nvm/bin'}:{tmp_path / 'usr-bin'}:{home}:relative/bin:{home / 'gone'}"
    assert path_dirs_under(path_var, [home]) == (home / ".nvm/bin",)


# --- runtime checks and sessions ----------------------------------------------


def test_runtime_problem_names_the_missing_tool_and_the_fix():
    def runtime(name):
        return {"container": {"runtime": name}}

    assert runtime_problem(runtime("none"), which=lambda _: None) is None
    assert runtime_problem(runtime("bwrap"), which=lambda t: f"/usr/bin/{t}") is None
    problem = runtime_problem(runtime("bwrap"), which=lambda t: None if t == "fuse-overlayfs" else "/usr/bin/bwrap")
    assert "fuse-overlayfs" in problem and "apt-get install -y bubblewrap fuse-overlayfs" in problem
    assert "apptainer" in runtime_problem(runtime("apptainer"), which=lambda _: None)
    assert "'docker' is unknown" in runtime_problem(runtime("docker"))


def test_session_with_runtime_none_changes_nothing(tmp_path):
    cfg = {"container": {"runtime": "none"}, "hf_home": str(tmp_path / "hf"), "results": str(tmp_path)}
    with sandbox_session(cfg, tmp_path / "job", num_gpus=0) as sandbox:
        assert sandbox.wrap(["bash", "x.sh"]) == ["bash", "x.sh"]
        assert sandbox.environment({"A": "1"}) == {"A": "1"}
    assert not (tmp_path / "hf_overlay").exists()


def test_session_refuses_an_unknown_runtime(tmp_path):
    cfg = {"container": {"runtime": "docker"}, "hf_home": str(tmp_path), "results": str(tmp_path)}
    with pytest.raises(SandboxError, match="unknown"), sandbox_session(cfg, tmp_path / "job", 0):
        pass


# --- overlay helpers -------------------------------------------------------------


def test_overlay_mount_command_and_unsafe_paths(tmp_path):
    dirs = OverlayDirs(tmp_path / "cell" / "hf_overlay")
    cmd = mount_command(tmp_path / "hf", dirs)
    assert cmd == [
        "fuse-overlayfs",
        "-o",
        f"lowerdir={tmp_path / 'hf'},upperdir={dirs.upper},workdir={dirs.work}",
        str(dirs.merged),
    ]
    with pytest.raises(OverlayError, match="contains ,"):
        mount_command(tmp_path / "a,b", dirs)


def test_mount_points_reads_mountinfo_escapes():
    text = (
        "22 1 0:21 / /proc rw,nosuid - proc proc rw\n"
        "42 27 0:39 / /tmp/a\\040b/merged rw,nodev - fuse.fuse-overlayfs fuse-overlayfs rw\n"
    )
    assert mount_points(text) == ["/proc", "/tmp/a b/merged"]


def test_real_sandbox_tests_skip_only_when_neither_root_nor_ci(monkeypatch):
    from tests.sandbox import conftest

    monkeypatch.setattr(conftest.os, "geteuid", lambda: 1000)
    monkeypatch.delenv("CI", raising=False)
    assert "need root" in conftest.skip_reason()
    monkeypatch.setenv("CI", "true")
    assert conftest.skip_reason() is None
    monkeypatch.setattr(conftest.os, "geteuid", lambda: 0)
    monkeypatch.delenv("CI")
    assert conftest.skip_reason() is None


def test_the_agents_tmp_is_a_kept_folder_beside_the_job_dir_in_both_runtimes(tmp_path):
    kept = Path("/results/runs/a/m/b/seed1/tmp")
    bw = bwrap_command(["true"], view(tmp=kept), num_gpus=0)
    assert "/tmp" not in option_values(bw, "--tmpfs") and "/var/tmp" in option_values(bw, "--tmpfs")
    i = bw.index(str(kept))
    assert bw[i - 1 : i + 2] == ["--bind", str(kept), "/tmp"]
    assert "/tmp" in option_values(bwrap_command(["true"], view(), num_gpus=0), "--tmpfs")  # no folder: a tmpfs
    ap = apptainer_command(["true"], view(tmp=kept), IMAGE, num_gpus=0)
    assert f"{kept}:/tmp" in option_values(ap, "--bind")
    from workflow.agent.sandbox import agent_tmp_dir

    (tmp_path / "tmp").mkdir()
    (tmp_path / "tmp" / "old").write_text("from an earlier attempt")
    assert agent_tmp_dir(tmp_path / "job", keep=True) == tmp_path / "tmp"
    assert (tmp_path / "tmp" / "old").exists()  # a resumed run finds its /tmp as it left it
    assert agent_tmp_dir(tmp_path / "job") == tmp_path / "tmp" and not any((tmp_path / "tmp").iterdir())


def test_python_paths_are_resolved_so_bwrap_can_mount_them(tmp_path, monkeypatch):
    # A venv reached through a symlink (a worktree linking a shared .venv): bwrap cannot mount onto a symlink.
    from workflow.agent import sandbox

    real = tmp_path / "real-venv"
    (real / "bin").mkdir(parents=True)
    link = tmp_path / "linked-venv"
    link.symlink_to(real)
    monkeypatch.setattr(sandbox.sys, "prefix", str(link))
    paths = sandbox.python_paths()
    assert real in paths and link not in paths
    assert all(p == p.resolve() for p in paths)


def test_a_linked_cli_install_is_shown_to_the_agent(tmp_path):
    # A checkout whose agents/cli/node_modules links to a shared install (under /tmp, say, which the
    # sandbox makes private): the link's target must be mounted, or `claude` is "not found".
    from workflow.agent.sandbox import linked_tool_dirs

    shared = tmp_path / "shared-install" / "node_modules"
    (shared / ".bin").mkdir(parents=True)
    agents = tmp_path / "checkout" / "agents"
    (agents / "cli").mkdir(parents=True)
    assert linked_tool_dirs(agents) == ()  # nothing installed: nothing to show
    (agents / "cli" / "node_modules").symlink_to(shared)
    assert linked_tool_dirs(agents) == (shared.resolve(),)


PROXY_ENV = {
    "HTTPS_PROXY": "http://proxy.site:3128",
    "https_proxy": "http://proxy.site:3128",
    "NO_PROXY": "localhost",
    "no_proxy": "localhost",
    "SSL_CERT_FILE": "/etc/site/ca.pem",
    "REQUESTS_CA_BUNDLE": "/etc/site/ca.pem",
}


def test_no_internet_cuts_the_network_in_both_runtimes():
    assert "--unshare-net" in bwrap_command(["true"], view(), 0, network=False)
    assert "--unshare-net" not in bwrap_command(["true"], view(), 0, network=True)
    line = apptainer_command(["true"], view(), IMAGE, 0, network=False)
    assert line[line.index("--net") : line.index("--net") + 3] == ["--net", "--network", "none"]
    assert "--net" not in apptainer_command(["true"], view(), IMAGE, 0, network=True)


def test_proxy_and_ca_variables_pass_through_every_runtime(tmp_path):
    from workflow.agent.runner import AgentSpec, agent_env
    from workflow.environment.runtime import ImageRuntime

    spec = AgentSpec(name="a", scaffold="claude", model="m", hours=1, grace_minutes=0, num_gpus=0)
    env = agent_env(spec, tmp_path, str(tmp_path), internet=True, source_env={"PATH": "/bin", **PROXY_ENV})
    assert {k: env[k] for k in PROXY_ENV} == PROXY_ENV  # the agent (runtime none and bwrap pass env as is)
    outer = apptainer_environment(env, MERGED, host_env={"PATH": "/bin"})
    assert {k: outer[f"APPTAINERENV_{k}"] for k in PROXY_ENV} == PROXY_ENV  # the agent image
    image = ImageRuntime("eval", sif=IMAGE)
    evaluation = image.environment({"PATH": "/bin", **PROXY_ENV})
    assert {k: evaluation[f"APPTAINERENV_{k}"] for k in PROXY_ENV} == PROXY_ENV  # the eval image
