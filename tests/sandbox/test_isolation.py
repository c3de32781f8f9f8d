"""What a contained agent cannot reach: the network when agent_internet is false (even a server
on the host's loopback), and the environment of any process outside its sandbox (where keys are).
The site's proxy and certificate settings, on the other hand, do reach it."""

import http.server
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path

import pytest

from workflow.agent.runner import AgentSpec, agent_env
from workflow.agent.sandbox import sandbox_session

pytestmark = pytest.mark.usefixtures("sandbox_tools")

PROBE = textwrap.dedent(
    """
    import json, os, sys, urllib.request
    report = {}
    try:
        with urllib.request.urlopen(sys.argv[1], timeout=5) as resp:
            report["fetch"] = resp.read().decode()
    except OSError as err:
        report["fetch"] = f"{type(err).__name__}: {err}"
    secret = sys.argv[2].encode()
    holders = []
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            if secret in open(f"/proc/{pid}/environ", "rb").read():
                holders.append(int(pid))
        except OSError:
            pass
    report["key_holders"] = holders
    report["env"] = {k: v for k, v in os.environ.items() if "proxy" in k.lower() or k.endswith(("_FILE", "_CERTS"))}
    ca = os.environ.get("SSL_CERT_FILE")
    report["ca"] = open(ca).read() if ca else None
    print(json.dumps(report))
    """
)


class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (the standard library's name)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"hello from the host")

    def log_message(self, *args):
        pass


@pytest.fixture
def host_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


@pytest.fixture
def world(tmp_path):
    cache, results = tmp_path / "hf_home", tmp_path / "results"
    cache.mkdir()
    job = results / "runs" / "a" / "m" / "b" / "seed1" / "job"
    job.mkdir(parents=True)
    cfg = {"container": {"runtime": "bwrap", "dir": str(results / "containers")}, "hf_home": str(cache)}
    cfg["results"] = str(results)
    return cfg, job


def probe(cfg, job, url, secret, internet, host_env) -> dict:
    spec = AgentSpec(name="a", scaffold="noop", model=None, hours=1, grace_minutes=0, num_gpus=0)
    env = agent_env(spec, job, cfg["hf_home"], internet=internet, source_env=host_env)
    with sandbox_session(cfg, job, 0, internet=internet, host_env=host_env) as sandbox:
        argv = sandbox.wrap([str(Path(sys.executable).resolve()), "-c", PROBE, url, secret])
        done = subprocess.run(argv, cwd=job, env=sandbox.environment(env), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) | {"argv": argv}


def test_no_internet_means_no_network_not_even_the_hosts_loopback(world, host_server):
    cfg, job = world
    host_env = {"PATH": os.environ["PATH"]}
    online = probe(cfg, job, host_server, "unused", internet=True, host_env=host_env)
    assert online["fetch"] == "hello from the host"  # the same probe can reach it: the test can fail
    offline = probe(cfg, job, host_server, "unused", internet=False, host_env=host_env)
    assert "--unshare-net" in offline["argv"]
    assert offline["fetch"].startswith("URLError") and "hello" not in offline["fetch"]


def test_no_process_outside_the_sandbox_shows_its_keys(world, host_server):
    cfg, job = world
    secret = "sk-holder-" + uuid.uuid4().hex
    # A process outside holding a key in its environment, as the runner and Snakemake do.
    holder = subprocess.Popen(["sleep", "60"], env={"PATH": os.environ["PATH"], "OPENAI_API_KEY": secret})
    try:
        environ = Path(f"/proc/{holder.pid}/environ")
        deadline = time.monotonic() + 10
        while secret.encode() not in environ.read_bytes() and time.monotonic() < deadline:
            time.sleep(0.05)  # until the child has exec'd
        assert secret.encode() in environ.read_bytes()  # visible from outside
        report = probe(cfg, job, host_server, secret, internet=False, host_env={"PATH": os.environ["PATH"]})
    finally:
        holder.kill()
        holder.wait()
    assert report["key_holders"] == []


def test_proxy_and_certificates_reach_the_agent(world, host_server, tmp_path):
    cfg, job = world
    # A CA bundle in a home folder, which the sandbox otherwise hides.
    home = Path("/root") / f".ptb-ca-test-{uuid.uuid4().hex}"
    home.mkdir()
    try:
        bundle = home / "site-ca.pem"
        bundle.write_text("-----BEGIN CERTIFICATE-----\nsite\n")
        host_env = {
            "PATH": os.environ["PATH"],
            "HOME": "/root",
            "HTTPS_PROXY": "http://proxy.site:3128",
            "http_proxy": "http://proxy.site:3128",
            "NO_PROXY": "localhost,127.0.0.1",
            "SSL_CERT_FILE": str(bundle),
            "NODE_EXTRA_CA_CERTS": str(bundle),
        }
        report = probe(cfg, job, host_server, "unused", internet=True, host_env=host_env)
    finally:
        bundle.unlink()
        home.rmdir()
    assert report["env"]["HTTPS_PROXY"] == "http://proxy.site:3128" and report["env"]["http_proxy"]
    assert report["env"]["NO_PROXY"] == "localhost,127.0.0.1"
    assert report["env"]["NODE_EXTRA_CA_CERTS"] == str(bundle)
    assert report["ca"].startswith("-----BEGIN CERTIFICATE-----")
