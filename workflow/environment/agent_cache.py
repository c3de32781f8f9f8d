"""The agents' view of the Hugging Face cache: everything prefetched except the official instruct models.

Agents must never find an instruct model in their cache (baselines and the
evaluation read the full shared cache). Their view is a second cache folder
that mirrors the shared one with hard links (no data is copied; on another
file system, files are copied) and leaves out each instruct model's
`hub/models--<org>--<name>` folder. It holds the base models, the datasets
offered for training and the test data the handed-out evaluate.py reads.
"""

import os
import shutil
from pathlib import Path

from workflow.models import is_embedded


def agent_cache_dir(config: dict) -> Path:
    """`agent_hf_home`, or the shared cache's sibling `<hf_home>-agents`."""
    if config.get("agent_hf_home"):
        return Path(config["agent_hf_home"]).resolve()
    shared = Path(config["hf_home"]).resolve()
    return shared.with_name(shared.name + "-agents")


def hidden_models(config: dict) -> list[str]:
    """Hub ids the agents' cache leaves out: every configured official instruct model."""
    return sorted(
        {m["instruct"] for m in config["models"].values() if m.get("instruct") and not is_embedded(m["instruct"])}
    )


def _link_or_copy(src, dst):
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def build_agent_cache(shared: Path, dest: Path, hidden: list[str]) -> dict:
    """Rebuild dest as the shared cache without the hidden models' folders; returns what was left out."""
    shared, dest = Path(shared), Path(dest)
    skip = {f"models--{repo.replace('/', '--')}" for repo in hidden}
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    left_out = []
    for entry in sorted(shared.iterdir()) if shared.is_dir() else []:
        if entry.name == "hub" and entry.is_dir():
            (dest / "hub").mkdir()
            for repo in sorted(entry.iterdir()):
                if repo.name in skip:
                    left_out.append(f"hub/{repo.name}")
                elif repo.is_dir() and not repo.is_symlink():
                    shutil.copytree(repo, dest / "hub" / repo.name, symlinks=True, copy_function=_link_or_copy)
                else:
                    shutil.copy2(repo, dest / "hub" / repo.name, follow_symlinks=False)
        elif entry.is_dir() and not entry.is_symlink():
            shutil.copytree(entry, dest / entry.name, symlinks=True, copy_function=_link_or_copy)
        else:
            shutil.copy2(entry, dest / entry.name, follow_symlinks=False)
    return {"path": str(dest), "left_out": left_out}
