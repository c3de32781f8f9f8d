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
# With a ChatGPT subscription the runner has put `codex login`'s auth.json at
# $CODEX_HOME/auth.json (PTB_CREDENTIAL_FILE); the provider then signs requests with
# its tokens and talks to the ChatGPT backend. Request compression is off so a
# proxy (or the test's loopback provider) can read the requests.
if [[ -n ${PTB_CREDENTIAL_FILE:-} ]]; then
  [[ $PTB_CREDENTIAL_FILE -ef $CODEX_HOME/auth.json ]] ||
    { echo "solve.sh: the codex credential must be \$CODEX_HOME/auth.json" >&2; exit 1; }
  auth=$'requires_openai_auth = true'
  base=${OPENAI_BASE_URL:-https://chatgpt.com/backend-api/codex}
else
  auth=$'env_key = "OPENAI_API_KEY"'
  base=${OPENAI_BASE_URL:-https://api.openai.com/v1}
fi
cat > "$CODEX_HOME/config.toml" <<TOML
model_provider = "ptb"
approval_policy = "never"
sandbox_mode = "danger-full-access"
check_for_update_on_startup = false
cli_auth_credentials_store = "file"

[model_providers.ptb]
name = "OpenAI"
base_url = "$base"
$auth
wire_api = "responses"

[features]
plugins = false
remote_plugin = false
apps = false
enable_request_compression = false

[analytics]
enabled = false
TOML

# The agent's extra args (config `args`, e.g. --search) are Codex's global flags:
# they go before the subcommand (`codex --search exec ...`, as upstream runs it);
# after `exec` the CLI refuses them.
flags=(--json --skip-git-repo-check --yolo --model "$PTB_AGENT_MODEL")
if [[ -n ${PTB_RESUME_MESSAGE:-} ]]; then
  exec "$bin" "${extra[@]}" exec resume --last "${flags[@]}" "$PTB_RESUME_MESSAGE" < /dev/null
fi
exec "$bin" "${extra[@]}" exec "${flags[@]}" "$(cat "$PTB_PROMPT_FILE")" < /dev/null
