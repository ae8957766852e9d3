"""``assist keys create|list|revoke``: API keys for the service (stored hashed; shown once)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from assist.auth import ROLES, KeyStore
from config import Settings


def register(sub: Any) -> None:
    keys = sub.add_parser("keys", help="API keys and roles (agent, supervisor, knowledge-manager, admin)")
    ksub = keys.add_subparsers(dest="keys_cmd", required=True)
    create = ksub.add_parser("create", help="Create a key and print it once")
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--name", default="", help="Who or what uses the key, e.g. 'agent-tanaka'")
    create.add_argument("--json", action="store_true")
    listing = ksub.add_parser("list", help="Keys (ids, roles, state; never the keys themselves)")
    listing.add_argument("--json", action="store_true")
    revoke = ksub.add_parser("revoke", help="Revoke a key by id: refused from the next request, and a running "
                             "server closes its open websockets within about a second")
    revoke.add_argument("id")
    keys.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    store = KeyStore(settings.calls_db)
    try:
        if args.keys_cmd == "create":
            record, key = store.create(args.role, args.name)
            if args.json:
                _out(json.dumps({**record.to_dict(), "key": key}))
            else:
                _out(key)
                _err(f"id {record.id}, role {record.role}. Store it now: it cannot be shown again.")
            return 0
        if args.keys_cmd == "list":
            rows = [r.to_dict() for r in store.list()]
            if args.json:
                _out(json.dumps(rows, ensure_ascii=False, indent=1))
            for r in rows if not args.json else ():
                state = "active" if r["active"] else f"revoked {_when(r['revoked'])}"
                _out(f"{r['id']:10} {r['role']:18} {state:28} {_when(r['created'])}  {r['name']}")
            return 0
        if store.revoke(args.id):
            _out(f"revoked {args.id}")
            return 0
        _err(f"assist: error [unknown_key]: no active key {args.id!r}")
        return 1
    finally:
        store.close()


def _out(line: str) -> None:
    sys.stdout.write(line + "\n")


def _err(line: str) -> None:
    sys.stderr.write(line + "\n")


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "-"
