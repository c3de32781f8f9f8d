#!/usr/bin/env bash
# Test-only scaffold: a careless agent. It prints its provider key to stdout and
# stderr and lists the key-like variables its parent process (the runner)
# holds, then submits the base model. The runner must redact the key from
# everything it writes; the job must hold no key but this agent's own.
set -euo pipefail
echo "{\"type\":\"note\",\"text\":\"my key is ${OPENAI_API_KEY:-unset}\"}"
echo "careless: my key is ${OPENAI_API_KEY:-unset}" >&2
names=$(tr '\0' '\n' < "/proc/$PPID/environ" 2>/dev/null | cut -d= -f1 | grep -E '(API_KEY|TOKEN)$' | sort | paste -sd, || true)
echo "{\"type\":\"note\",\"text\":\"runner holds: ${names}\"}"
cp -r "$PTB_BASE_MODEL" final_model
