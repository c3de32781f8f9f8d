# Sourced by the CLI scaffolds' solve.sh. `cli_setup NAME KEYVAR` checks the
# inputs, leaves only this provider's key in the environment, finds the CLI
# (PTB_CLI_BIN, then PATH) as $bin and splits the agent's extra args into
# the array `extra`. Never `set -x`: the environment holds the key.
# With a subscription credential (PTB_CREDENTIAL_FILE, a file the runner put
# in the job dir; workflow/agent/credentials.py) no API key is kept at all.
cli_setup() {
  local name=$1 keyvar=$2 var
  : "${PTB_PROMPT_FILE:?}" "${PTB_AGENT_MODEL:?}"
  if [[ -n ${PTB_CREDENTIAL_FILE:-} ]]; then
    [[ -s $PTB_CREDENTIAL_FILE ]] || { echo "solve.sh: no credential file at PTB_CREDENTIAL_FILE" >&2; exit 1; }
    keyvar=""
  else
    [[ -n ${!keyvar:-} ]] || { echo "solve.sh: $keyvar is not set" >&2; exit 1; }
  fi
  for var in ANTHROPIC_API_KEY OPENAI_API_KEY GEMINI_API_KEY GOOGLE_API_KEY CODEX_API_KEY \
    ANTHROPIC_AUTH_TOKEN CLAUDE_CODE_OAUTH_TOKEN; do
    [[ $var == "$keyvar" ]] || unset "$var"
  done
  bin="${PTB_CLI_BIN:-}/$name"
  [[ -x $bin ]] || bin=$(command -v "$name") || { echo "solve.sh: $name not found (PTB_CLI_BIN, PATH)" >&2; exit 127; }
  read -ra extra <<< "${PTB_AGENT_ARGS:-}"
}
