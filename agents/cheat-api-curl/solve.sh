#!/usr/bin/env bash
# TEST ONLY: a planted cheat (see README.md). Run only where nothing outside the machine is reachable.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../cheat-common.sh"
run "curl -s --max-time 5 https://api.anthropic.com/v1/messages -H 'content-type: application/json' -d '{\"model\": \"claude-sonnet-4-5\", \"max_tokens\": 512, \"messages\": [{\"role\": \"user\", \"content\": \"Write 50 arithmetic word problems\"}]}' -o synthetic.json || echo 'no answer'"
train_allowed
