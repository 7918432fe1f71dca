#!/usr/bin/env bash
# One Jupyter server the browser tests run against (started by
# playwright.config.ts, once per entry of servers.ts). COLLAB_UI_APP says which
# front end it serves: `lab` (JupyterLab) or `notebook` (Notebook 7).
# COLLAB_UI_PROVIDER says which model answers:
#   anthropic  the wire-level Anthropic server (tests/wire/anthropic_server.py,
#              with its /_log, /_script and /_clear control routes), started
#              here; the server extension talks to it through the real SDK;
#   local      the embedded SmolLM2 model (llama-cpp-python on the CPU).
# The notebook root is a fresh copy of ui-tests/notebooks.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${COLLAB_UI_APP:=lab}"
: "${COLLAB_UI_PROVIDER:=anthropic}"
: "${COLLAB_UI_PORT:=8866}"
: "${COLLAB_WIRE_PORT:=8867}"
: "${COLLAB_UI_ROOT:=${TMPDIR:-/tmp}/jupyter-collab-ui-$COLLAB_UI_PORT}"
export COLLAB_UI_PROVIDER COLLAB_UI_PORT COLLAB_UI_ROOT

rm -rf "$COLLAB_UI_ROOT"
# The collaboration extension's databases beside it (jupyter_server_test_config.py).
rm -f "$COLLAB_UI_ROOT-ystore.db" "$COLLAB_UI_ROOT-file-ids.db"
mkdir -p "$COLLAB_UI_ROOT"
if [ -d ui-tests/notebooks ]; then cp -r ui-tests/notebooks/. "$COLLAB_UI_ROOT/"; fi

wire=""
jupyter=""
cleanup() {
  [ -n "$jupyter" ] && kill "$jupyter" 2>/dev/null || true
  [ -n "$wire" ] && kill "$wire" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 0' TERM INT

case "$COLLAB_UI_PROVIDER" in
  anthropic)
    python -m tests.wire.anthropic_server --port "$COLLAB_WIRE_PORT" --delta-delay 0.04 &
    wire=$!
    # The server door brokers every call: the key exists only in its environment.
    export ANTHROPIC_API_KEY=fake-key-for-browser-tests
    export ANTHROPIC_BASE_URL="http://127.0.0.1:$COLLAB_WIRE_PORT"
    ;;
  local)
    # No key and no endpoint: nothing but the embedded model can answer.
    unset ANTHROPIC_API_KEY ANTHROPIC_BASE_URL OPENAI_API_KEY
    ;;
  *)
    echo "start-server.sh: unknown COLLAB_UI_PROVIDER=$COLLAB_UI_PROVIDER" >&2
    exit 2
    ;;
esac

case "$COLLAB_UI_APP" in
  lab | notebook) ;;
  *)
    echo "start-server.sh: unknown COLLAB_UI_APP=$COLLAB_UI_APP" >&2
    exit 2
    ;;
esac

jupyter "$COLLAB_UI_APP" --config ui-tests/jupyter_server_test_config.py &
jupyter=$!
wait "$jupyter"
