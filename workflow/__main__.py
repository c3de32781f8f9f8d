"""Command line:
python -m workflow status [--config FILE...] [--directory DIR] [--json]
python -m workflow export AGENT [--out DIR] [--weights] [--config FILE...] [--directory DIR]
"""

import argparse
import sys
from pathlib import Path

from workflow.config import REPO, ConfigError, load_config

# What Snakemake uses when no --configfile is given (see the Snakefile).
DEFAULT_CONFIG = "config/embedded.yaml"


def _config(args) -> dict | None:
    """The config the command names (relative to Snakemake's working directory); None after an error."""
    workdir = Path(args.directory)
    paths = []
    for name in args.config:
        path = Path(name)
        if not path.is_absolute() and not path.exists():
            path = workdir / path
        if not path.exists():
            print(f"error: config file not found: {name}", file=sys.stderr)
            return None
        paths.append(path)
    # Paths in the config (a credential file, say) are relative to the checkout Snakemake runs in.
    repo = workdir.resolve() if (workdir / "Snakefile").is_file() else REPO
    try:
        return load_config(*paths, repo=repo)
    except ConfigError as err:
        print(f"error: {' '.join(map(str, paths))}: {err}", file=sys.stderr)
        return None


def _status(args) -> int:
    from workflow.report.status import as_json, collect, render

    config = _config(args)
    if config is None:
        return 2
    matrix = collect(config, Path(args.directory))
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="replace")
    print(as_json(matrix) if args.json else render(config, matrix), end="" if not args.json else "\n")
    return 0


def _export(args) -> int:
    from workflow.report.export import ExportError, export_agent

    config = _config(args)
    if config is None:
        return 2
    results = Path(args.directory) / config["results"]
    out = Path(args.out) if args.out else results / "export" / args.agent
    try:
        done = export_agent(config, results, args.agent, out, weights=args.weights)
    except ExportError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"exported {len(done.cells)} cells of {args.agent} to {out}", end="")
    print(f"; {len(done.skipped)} not run yet" if done.skipped else "")
    return 0


def _common(command) -> None:
    command.add_argument(
        "--config",
        nargs="+",
        default=[DEFAULT_CONFIG],
        help=f"the config file(s) Snakemake runs with, in --configfile's order (default {DEFAULT_CONFIG})",
    )
    command.add_argument("--directory", default=".", help="Snakemake's working directory (default: here)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workflow", description="PostTrainBench on Slurm")
    commands = parser.add_subparsers(dest="command", required=True)
    status = commands.add_parser("status", help="the matrix: done, running, failed, flagged, missing; time used")
    _common(status)
    status.add_argument("--json", action="store_true", help="machine-readable output")
    export = commands.add_parser(
        "export", help="an agent's results in upstream PostTrainBench's layout, for a submission"
    )
    export.add_argument("agent", help="a configured agent (all its budgets) or one budget run, NAME@<hours>h")
    export.add_argument("--out", help="where to write (default: <results>/export/AGENT)")
    export.add_argument("--weights", action="store_true", help="include each cell's final_model (large)")
    _common(export)
    args = parser.parse_args(argv)
    return {"status": _status, "export": _export}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
