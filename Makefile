# Two commands do everything on a fresh machine:
#   make demo   install, then run the embedded default end to end (CPU, offline)
#   make test   install, then run the test suite (with a throwaway Slurm cluster when root)
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
NPM_MODULES := agents/cli/node_modules

.PHONY: demo test install install-cli install-vllm lint clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[run,slurm,dev]'
	# BFCL's data files; its numpy pin clashes with ours and nothing else is needed.
	$(BIN)/pip install -q --no-deps bfcl-eval==2026.3.23
	touch $@

# The four agent CLIs, pinned in agents/cli/package-lock.json.
install-cli: $(NPM_MODULES)/.installed

$(NPM_MODULES)/.installed: agents/cli/package-lock.json
	npm ci --prefix agents/cli --no-audit --no-fund --loglevel=error
	touch $@

# vLLM's CPU build, in its own venv (its transformers pin clashes with ours):
# the tests serve the tiny model with it through the cluster's code path.
install-vllm: .venv-vllm/.installed

.venv-vllm/.installed: scripts/install-eval-env.sh envs/requirements-eval.txt
	bash scripts/install-eval-env.sh .venv-vllm
	touch $@

demo: install
	$(BIN)/snakemake --cores 2
	@echo; cat results/leaderboard.md

test: install install-cli install-vllm
	bash scripts/run-tests.sh

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/snakefmt --check Snakefile rules
	$(BIN)/snakemake --lint

clean:
	rm -rf results .snakemake
