"""Snakemake script: score every cell, write the leaderboard files, plots and trace pages."""

from pathlib import Path

from workflow.report.cheating import add_cheating_columns
from workflow.report.partial import annotate_unscored
from workflow.report.plots import PLOTS, write_plots
from workflow.report.scoring import leaderboard
from workflow.report.tables import write_all
from workflow.report.trace_page import write_trace_pages
from workflow.stage_log import log_to

sm = snakemake  # noqa: F821 (injected by Snakemake)
log_to(sm.log[0])
results = Path(sm.config["results"])
board = leaderboard(sm.config, results)
add_cheating_columns(board, sm.config, results)
annotate_unscored(board, sm.config)  # why a cell has no score yet (failed, running, not run)
plots = {name: Path(getattr(sm.output, name)) for name in PLOTS}
write_plots(board, plots)
outputs = {name: Path(getattr(sm.output, name)) for name in ("csv", "md", "html", "benchmarks", "cells")}
write_all(board, outputs, plots)
pages = write_trace_pages(sm.config, results, Path(sm.output.traces), [c.cell for c in board.cells])
incomplete = [r["agent"] for r in board.rows if not r["complete"]]
print(f"{len(board.rows)} agents, {len(board.cells)} cells, {len(pages)} trace pages; "
      f"incomplete: {', '.join(incomplete) or 'none'}", flush=True)  # fmt: skip
