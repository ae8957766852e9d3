#!/usr/bin/env bash
# One command from a fresh clone to the widget at http://127.0.0.1:8000/ (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
if .venv/bin/assist --help 2>/dev/null | grep -q ' kb '; then
  .venv/bin/assist kb import eval/data/kb.jsonl
fi
exec .venv/bin/assist serve "$@"
