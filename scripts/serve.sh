#!/usr/bin/env bash
# One command from a fresh clone to the widget at http://127.0.0.1:8000/ (see README).
# It is the local demo: without ASSIST_AUTH__MODE set it runs in open mode, which the service itself
# refuses on anything but a loopback address. Production: `assist serve` in keys mode (README, Security).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
if [ -z "${ASSIST_AUTH__MODE:-}" ]; then
  export ASSIST_AUTH__MODE=open
  echo "serve: local demo in open auth mode (loopback only); set ASSIST_AUTH__MODE=keys to require API keys" >&2
fi
.venv/bin/assist kb import eval/data/kb.jsonl
exec .venv/bin/assist serve "$@"
