"""Snakemake script: build an Apptainer image from its definition file."""

import os
import shutil
import subprocess
from pathlib import Path

from workflow.stage_log import log_to

sm = snakemake  # noqa: F821 (injected by Snakemake)
log_to(sm.log[0])
apptainer = shutil.which("apptainer")
if not apptainer:
    raise SystemExit("apptainer is not installed: install it, or set container.runtime: none in the config")
out = Path(sm.output.image)
out.parent.mkdir(parents=True, exist_ok=True)
tmp = out.with_name(out.name + ".partial")
cmd = [apptainer, "build", "--force"] + (["--fakeroot"] if os.geteuid() != 0 else []) + [str(tmp), sm.input.definition]
subprocess.run(cmd, check=True)
os.replace(tmp, out)
