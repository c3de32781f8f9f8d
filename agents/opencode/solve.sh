#!/usr/bin/env bash
# OpenCode, headless, on the task in $PTB_PROMPT_FILE. stdout: --format json trace;
# stderr: diagnostics; exit status: the CLI's. Never `set -x`: env holds the key.
# PTB_OPENCODE_PROVIDER picks the provider: openai (default), anthropic or google.
set -euo pipefail
provider=${PTB_OPENCODE_PROVIDER:-openai}
# key variable, base URL override, and the path the SDK expects after the host
case $provider in
  openai)    keyvar=OPENAI_API_KEY    base=${OPENAI_BASE_URL:-} ;;
  anthropic) keyvar=ANTHROPIC_API_KEY base=${ANTHROPIC_BASE_URL:+$ANTHROPIC_BASE_URL/v1} ;;
  google)    keyvar=GEMINI_API_KEY    base=${GOOGLE_GEMINI_BASE_URL:+$GOOGLE_GEMINI_BASE_URL/v1beta} ;;
  *) echo "solve.sh: unsupported PTB_OPENCODE_PROVIDER=$provider" >&2; exit 2 ;;
esac
source "$(dirname "${BASH_SOURCE[0]}")/../cli-common.sh"
cli_setup opencode "$keyvar"
model=${PTB_AGENT_MODEL#"$provider/"}

# OpenCode keeps everything under XDG dirs: point them into the job dir. Pin the
# HF cache first, since HF_HOME defaults to $XDG_CACHE_HOME/huggingface.
export HF_HOME="${HF_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/huggingface}"
state="$PWD/.agent-home/opencode"
export XDG_CONFIG_HOME="$state/config" XDG_DATA_HOME="$state/data" \
  XDG_CACHE_HOME="$state/cache" XDG_STATE_HOME="$state/state"
mkdir -p "$XDG_CONFIG_HOME" "$XDG_DATA_HOME" "$XDG_CACHE_HOME" "$XDG_STATE_HOME"
export OPENCODE_CONFIG="$state/opencode.json"
export OPENCODE_DISABLE_AUTOUPDATE=1 OPENCODE_DISABLE_MODELS_FETCH=1 OPENCODE_DISABLE_LSP_DOWNLOAD=1 \
  OPENCODE_DISABLE_SHARE=1 OPENCODE_DISABLE_DEFAULT_PLUGINS=1
# The model is declared here so no model catalogue is needed; small_model keeps
# title generation on the same provider; the key is read from env, never written.
python3 - "$OPENCODE_CONFIG" "$provider" "$model" "$keyvar" "$base" <<'PY'
import json, sys
path, provider, model, keyvar, base = sys.argv[1:]
options = {"apiKey": "{env:%s}" % keyvar}
if base:
    options["baseURL"] = base
json.dump({
    "$schema": "https://opencode.ai/config.json",
    "provider": {provider: {"options": options, "models": {model: {"tool_call": True}}}},
    "model": f"{provider}/{model}",
    "small_model": f"{provider}/{model}",
    "permission": "allow",
    "autoupdate": False,
    "share": "disabled",
}, open(path, "w"), indent=2)
PY

if [[ -n ${PTB_RESUME_MESSAGE:-} ]]; then
  set -- --continue "$PTB_RESUME_MESSAGE"   # the last session of this project
else
  set -- "$(cat "$PTB_PROMPT_FILE")"
fi
exec "$bin" run --format json --model "$provider/$model" "${extra[@]}" "$@" < /dev/null
