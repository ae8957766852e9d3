#!/usr/bin/env bash
# The scaled-out topology from local binaries, for machines without containers (README, "Scaling out"):
# a throw-away PostgreSQL, Redis, N `assist serve` workers behind HAProxy (deploy/haproxy.cfg), optionally the
# Ray Serve ASR pool; all in one temporary folder, all stopped and removed at Ctrl-C.
#   bash scripts/cluster.sh --workers 2 --port 8000 [--pool] [--fake-models] [--kb FILE]
# The widget is then at http://127.0.0.1:8000/ (open mode, loopback only). deploy/compose.yaml is the same
# topology in containers.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh  # also installs redis-server and haproxy as root
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "cluster: installing postgresql" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  else
    echo "cluster: PostgreSQL's server binaries are missing (Debian: apt-get install postgresql)" >&2
    exit 2
  fi
fi
exec .venv/bin/python -m eval.cluster_topology "$@"
