"""Snakemake script: Arena-Hard's baseline answers from the baseline model, into the shared cache."""

from pathlib import Path

from workflow.evaluate.arena_baseline import make_baseline_answers
from workflow.records import write_json
from workflow.stage_log import log_to

sm = snakemake  # noqa: F821 (injected by Snakemake)
log_to(sm.log[0])
record = make_baseline_answers(sm.config, Path(sm.output.answers), Path(sm.params.log_dir))
write_json(Path(sm.params.log_dir) / "record.json", record)
print({k: v for k, v in record.items() if k != "attempts"}, flush=True)
if record["status"] != "ok":
    raise RuntimeError(f"no baseline answers: {record.get('reason')}")
