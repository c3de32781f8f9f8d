"""What an agent is handed: its job directory, the prompt and the timer.

The job directory holds only the generic evaluate.py, the task's files, the
chat templates and the prompt; nothing else from the repo or results tree.
The hashes of the handed-out files are recorded outside it, for the judge.
"""

import os
import string
from pathlib import Path

from workflow.config import REPO
from workflow.tasks import task_meta, write_handout

PROMPT_TEMPLATE = REPO / "agents" / "prompt.md"

TIMER = """#!/usr/bin/env bash
# Time left of this run's budget. `--seconds` prints just the number.
deadline={deadline}
left=$(( deadline - $(date +%s) ))
(( left < 0 )) && left=0
if [[ "${{1:-}}" == "--seconds" ]]; then echo "$left"; exit 0; fi
if (( left == 0 )); then echo "Time is up."; exit 0; fi
printf 'Time left: %dh %02dm %02ds\\n' $(( left / 3600 )) $(( left % 3600 / 60 )) $(( left % 60 ))
"""


def hours_text(hours: float) -> str:
    minutes = round(hours * 60)
    if minutes < 120:
        return f"{minutes} minutes"
    return f"{hours:g} hours"


def datasets_rule(meta: dict) -> str:
    """The task's allowed and disallowed hub datasets, as the prompt states them."""
    allowed, disallowed = meta.get("allowed_datasets") or [], meta.get("disallowed_datasets") or []
    parts = []
    if allowed:
        parts.append("Datasets you may train on include: " + ", ".join(f"`{d}`" for d in allowed) + ".")
    if disallowed:
        parts.append("Never download or use: " + ", ".join(f"`{d}`" for d in disallowed) + " (test data).")
    return " ".join(parts)


def render_prompt(benchmark: str, base_model: str, hours: float, num_gpus: int, internet: bool) -> str:
    meta = task_meta(benchmark)
    train_rule = meta.get("train_data_rule", "")
    notes = meta.get("agent_notes", "")
    return string.Template(PROMPT_TEMPLATE.read_text()).substitute(
        base_model=base_model,
        benchmark_name=meta["name"],
        hours_text=hours_text(hours),
        gpus_text=f"{num_gpus} GPU{'s' if num_gpus != 1 else ''}" if num_gpus else "the CPU (no GPU)",
        dev_limit=meta.get("dev_limit", 50),
        task_notes=f"\n{notes.strip()}\n" if notes else "",
        train_data_rule=train_rule.strip(),
        datasets_rule=datasets_rule(meta),
        internet_rule=(
            "You may use the internet (documentation, packages, allowed datasets)."
            if internet
            else "There is no internet access; use what is here and in the cache."
        ),
    )


def write_job_dir(job_dir: Path, benchmark: str, prompt: str, deadline: int) -> dict[str, str]:
    """Create the job directory; return the handed-out files' hashes.

    An existing job directory is never overwritten: an earlier attempt's work
    is moved aside first (workflow.agent.attempts).
    """
    job_dir.mkdir(parents=True)
    hashes = write_handout(job_dir, benchmark)
    (job_dir / "prompt.md").write_text(prompt)
    write_timer(job_dir, deadline)
    return hashes


def write_timer(job_dir: Path, deadline: int) -> None:
    """timer.sh counting down to `deadline` (epoch seconds); rewritten when a preempted run resumes."""
    timer = job_dir / "timer.sh"
    tmp = job_dir / "timer.sh.partial"
    tmp.write_text(TIMER.format(deadline=deadline))
    os.chmod(tmp, 0o755)
    os.replace(tmp, timer)
