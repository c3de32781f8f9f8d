"""Snakemake script: score every cell and write the leaderboard."""

from pathlib import Path

from workflow.report import markdown, write_cells_csv, write_csv
from workflow.scoring import leaderboard
from workflow.stage_log import log_to

sm = snakemake  # noqa: F821 (injected by Snakemake)
log_to(sm.log[0])
rows, cells = leaderboard(sm.config, Path(sm.config["results"]))
benchmarks = list(sm.config["benchmarks"])
write_csv(rows, benchmarks, Path(sm.output.csv))
write_cells_csv(cells, Path(sm.output.cells))
Path(sm.output.md).write_text(markdown(rows, benchmarks, cells))
