#!/usr/bin/env bash
# Claude Code, headless, on the task in $PTB_PROMPT_FILE (the runner's contract:
# workflow/agent/runner.py). stdout: stream-json trace; stderr: diagnostics; exit
# status: the CLI's. Never `set -x`: the environment holds the provider key.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../cli-common.sh"
cli_setup claude ANTHROPIC_API_KEY

# CLI state (sessions, settings) in a throwaway folder of the job dir; HOME stays
# the job dir so the agent's own tools (HF cache, pip) behave as the runner set up.
export CLAUDE_CONFIG_DIR="$PWD/.agent-home/claude"
mkdir -p "$CLAUDE_CONFIG_DIR"
export CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 DISABLE_AUTOUPDATER=1 DISABLE_TELEMETRY=1 \
  DISABLE_ERROR_REPORTING=1 DISABLE_BUG_COMMAND=1
export IS_SANDBOX=1  # as root, --dangerously-skip-permissions is refused without it
# A subscription: the long-lived OAuth token of `claude setup-token`, read from the file
# the runner placed (only in this process's environment, never on a command line).
if [[ -n ${PTB_CREDENTIAL_FILE:-} ]]; then
  CLAUDE_CODE_OAUTH_TOKEN=$(tr -d '[:space:]' < "$PTB_CREDENTIAL_FILE")
  export CLAUDE_CODE_OAUTH_TOKEN
fi

if [[ -n ${PTB_RESUME_MESSAGE:-} ]]; then
  set -- --continue "$PTB_RESUME_MESSAGE"   # most recent session of this cwd
else
  set -- "$(cat "$PTB_PROMPT_FILE")"
fi
exec "$bin" --print --output-format stream-json --verbose --dangerously-skip-permissions \
  --model "$PTB_AGENT_MODEL" "${extra[@]}" "$@" < /dev/null
