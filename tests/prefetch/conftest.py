import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.prefetch.fake_hub import FakeHub, Repo
from workflow.environment.prefetch import resources_json
from workflow.environment.tiny_model import build_tiny_model

RUNNER = Path(__file__).with_name("run_prefetch.py")
REPO_ROOT = Path(__file__).resolve().parents[2]
ALLOWED_TOKEN = "hf_allowedTESTtoken0123456789"
WRONG_TOKEN = "hf_wrongTESTtoken9876543210"


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", hidden_size=64, layers=2)


@pytest.fixture(scope="session")
def tiny_dataset_dir(tmp_path_factory) -> Path:
    """A GSM8K-shaped dataset repo: README plus main/{train,test}.jsonl."""
    root = tmp_path_factory.mktemp("tiny-math")
    (root / "main").mkdir()
    (root / "README.md").write_text("---\nlicense: mit\n---\n# tiny math\n")
    for split, n in (("train", 40), ("test", 10)):
        rows = [json.dumps({"question": f"What is {i} + 1?", "answer": f"#### {i + 1}"}) for i in range(n)]
        (root / "main" / f"{split}.jsonl").write_text("\n".join(rows) + "\n")
    return root


@pytest.fixture
def hub(tiny_model_dir, tiny_dataset_dir):
    fake = FakeHub()
    fake.add(Repo.from_folder("test-org/tiny-model", "model", tiny_model_dir))
    fake.add(Repo.from_folder("test-org/tiny-math", "dataset", tiny_dataset_dir))
    fake.add(
        Repo.from_folder("test-org/gated-model", "model", tiny_model_dir, gated=True, allowed_tokens=(ALLOWED_TOKEN,))
    )
    fake.add(Repo.from_folder("test-org/gated-math", "dataset", tiny_dataset_dir, gated=True))
    fake.url = fake.start()
    yield fake
    fake.stop()


def run_step(action: str, hf_home: Path, resources: dict, endpoint: str, token: str | None = None):
    """Run one prefetch step in its own interpreter, as a Snakemake script would."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING"))}
    env.update(HF_ENDPOINT=endpoint, PYTHONPATH=str(REPO_ROOT))
    if token:
        env["HF_TOKEN"] = token
    return subprocess.run(
        [sys.executable, str(RUNNER), action, str(hf_home), resources_json(resources)],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def last_json(proc) -> object:
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])
