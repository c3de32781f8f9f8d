"""Snakemake script: build an Apptainer image from its definition file."""

import os
import subprocess
from pathlib import Path

from workflow.environment.containers import ContainerError, build_command, find_apptainer
from workflow.stage_log import log_to

sm = snakemake  # noqa: F821 (injected by Snakemake)
log_to(sm.log[0])
apptainer = find_apptainer()
if not apptainer:
    raise ContainerError(
        "cannot build images: no 'apptainer' executable on PATH; load or install Apptainer, "
        "or set container.runtime: none in the config"
    )
image = Path(sm.output.image)
image.parent.mkdir(parents=True, exist_ok=True)
# Built under another name and renamed, so a killed build never looks finished.
partial = image.with_name(image.stem + ".partial.sif")
cmd = build_command(apptainer, partial, Path(sm.params.definition), os.geteuid())
print("+", " ".join(cmd), flush=True)
subprocess.run(cmd, check=True)
os.replace(partial, image)
