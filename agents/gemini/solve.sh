#!/usr/bin/env bash
# Gemini CLI, headless, on the task in $PTB_PROMPT_FILE. stdout: stream-json trace;
# stderr: diagnostics; exit status: the CLI's. Never `set -x`: env holds the key.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../cli-common.sh"
cli_setup gemini GEMINI_API_KEY

# GEMINI_CLI_HOME replaces the home folder for the CLI only (settings, sessions).
export GEMINI_CLI_HOME="$PWD/.agent-home/gemini"
mkdir -p "$GEMINI_CLI_HOME/.gemini"
# Without selectedType the CLI stops with "Invalid auth method selected".
cat > "$GEMINI_CLI_HOME/.gemini/settings.json" <<'JSON'
{
  "security": {"auth": {"selectedType": "gemini-api-key"}},
  "privacy": {"usageStatisticsEnabled": false},
  "telemetry": {"enabled": false},
  "general": {"disableAutoUpdate": true, "disableUpdateNag": true}
}
JSON

if [[ -n ${PTB_RESUME_MESSAGE:-} ]]; then
  set -- --resume latest -p "$PTB_RESUME_MESSAGE"
else
  set -- -p "$(cat "$PTB_PROMPT_FILE")"
fi
# --skip-trust: the job dir is a fresh folder the CLI would otherwise distrust.
exec "$bin" --yolo --skip-trust --output-format stream-json --model "$PTB_AGENT_MODEL" \
  "${extra[@]}" "$@" < /dev/null
