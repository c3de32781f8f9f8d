"""Command line: `python -m workflow status [--config FILE] [--directory DIR] [--json]`."""

import argparse
import sys
from pathlib import Path

from workflow.config import ConfigError, load_config

# What Snakemake uses when no --configfile is given (see the Snakefile).
DEFAULT_CONFIG = "config/embedded.yaml"


def _status(args) -> int:
    from workflow.report.status import as_json, collect, render

    workdir = Path(args.directory)
    config_path = Path(args.config)
    if not config_path.is_absolute() and not config_path.exists():
        config_path = workdir / config_path
    if not config_path.exists():
        print(f"error: config file not found: {args.config}", file=sys.stderr)
        return 2
    try:
        config = load_config(config_path)
    except ConfigError as err:
        print(f"error: {config_path}: {err}", file=sys.stderr)
        return 2
    matrix = collect(config, workdir)
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="replace")
    print(as_json(matrix) if args.json else render(config, matrix), end="" if not args.json else "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workflow", description="PostTrainBench on Slurm")
    commands = parser.add_subparsers(dest="command", required=True)
    status = commands.add_parser("status", help="the matrix: done, running, failed, flagged, missing; time used")
    status.add_argument(
        "--config", default=DEFAULT_CONFIG, help=f"the config Snakemake runs with (default {DEFAULT_CONFIG})"
    )
    status.add_argument("--directory", default=".", help="Snakemake's working directory (default: here)")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)
    return {"status": _status}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
