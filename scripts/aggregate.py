"""Snakemake script: score every cell, write the leaderboard files and plots."""

from pathlib import Path

from workflow.report.plots import write_plots
from workflow.report.scoring import leaderboard
from workflow.report.tables import write_all
from workflow.stage_log import log_to

sm = snakemake  # noqa: F821 (injected by Snakemake)
log_to(sm.log[0])
board = leaderboard(sm.config, Path(sm.config["results"]))
plots = {name: Path(getattr(sm.output, name)) for name in ("ranking", "time_vs_score", "heatmap")}
write_plots(board, plots)
outputs = {name: Path(getattr(sm.output, name)) for name in ("csv", "md", "html", "benchmarks", "cells")}
write_all(board, outputs, plots)
incomplete = [r["agent"] for r in board.rows if not r["complete"]]
print(f"{len(board.rows)} agents, {len(board.cells)} cells; incomplete: {', '.join(incomplete) or 'none'}", flush=True)
