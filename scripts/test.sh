#!/usr/bin/env bash
# One command from a fresh clone to a full test run (see README). Extra arguments go to pytest.
# Set-up needs the package registries; the tests then run with the network cut (a new network namespace with
# only loopback) wherever the machine allows it, proving nothing is fetched at run time.
# ASSIST_TEST_NETWORK=1 keeps the network.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
.venv/bin/ruff check .
if [ "${ASSIST_TEST_NETWORK:-0}" != 1 ] && command -v unshare >/dev/null && command -v ip >/dev/null \
    && unshare -n ip link set lo up 2>/dev/null; then
  echo "test: running with the network cut (loopback only)" >&2
  exec unshare -n bash -c 'ip link set lo up && exec .venv/bin/python -m pytest "$@"' pytest "$@"
fi
echo "test: cannot cut the network here (needs unshare and root); running with it" >&2
exec .venv/bin/python -m pytest "$@"
