#!/usr/bin/env bash
# Set up everything from nothing: system packages (when root), .venv, the project, offline models.
# Idempotent: a second run only checks. Used by scripts/serve.sh, scripts/test.sh and .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

# the font: Japanese labels in eval plots; redis-server: the tests of events across workers (tests/test_bus_redis.py);
# haproxy: the balancer of the local cluster (scripts/cluster.sh, python -m eval cluster)
APT_PACKAGES=(sox espeak-ng chromium chromium-driver fonts-ipafont-gothic redis-server haproxy)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "bootstrap: installing system packages: ${missing[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "bootstrap: warning: missing system packages (${missing[*]}); tests that need them are skipped" >&2
  fi
fi

PY=${PYTHON:-$(command -v python3.11 || command -v python3)}
if [ ! -x .venv/bin/python ]; then
  echo "bootstrap: creating .venv with $PY" >&2
  "$PY" -m venv .venv
fi
stamp=.venv/.assist-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "bootstrap: installing the project into .venv" >&2
  .venv/bin/python -m pip install -q --upgrade pip
  # torch first and pinned: an unpinned torch pulls gigabytes of CUDA packages.
  .venv/bin/python -m pip install -q "torch==2.13.0"
  .venv/bin/python -m pip install -q -e ".[dev,tts,scale]"
  touch "$stamp"
fi

echo "bootstrap: preparing offline models" >&2
.venv/bin/assist models prepare
.venv/bin/assist models verify
