#!/usr/bin/env bash
# Codex CLI, headless, on the task in $PTB_PROMPT_FILE. stdout: --json trace;
# stderr: diagnostics; exit status: the CLI's. Never `set -x`: env holds the key.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../cli-common.sh"
cli_setup codex OPENAI_API_KEY

# Sessions and config live in the job dir (`exec resume --last` finds them there).
export CODEX_HOME="$PWD/.agent-home/codex"
mkdir -p "$CODEX_HOME"
# A named provider reading the key from OPENAI_API_KEY works for the real API and
# for proxies alike (the built-in one wants `codex login` and may use websockets).
# Plugins, apps and analytics are off: they contact remote hosts at start-up.
cat > "$CODEX_HOME/config.toml" <<TOML
model_provider = "ptb"
approval_policy = "never"
sandbox_mode = "danger-full-access"
check_for_update_on_startup = false

[model_providers.ptb]
name = "OpenAI"
base_url = "${OPENAI_BASE_URL:-https://api.openai.com/v1}"
env_key = "OPENAI_API_KEY"
wire_api = "responses"

[features]
plugins = false
remote_plugin = false
apps = false

[analytics]
enabled = false
TOML

flags=(--json --skip-git-repo-check --yolo --model "$PTB_AGENT_MODEL" "${extra[@]}")
if [[ -n ${PTB_RESUME_MESSAGE:-} ]]; then
  exec "$bin" exec resume --last "${flags[@]}" "$PTB_RESUME_MESSAGE" < /dev/null
fi
exec "$bin" exec "${flags[@]}" "$(cat "$PTB_PROMPT_FILE")" < /dev/null
