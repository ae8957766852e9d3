"""``assist db current|upgrade``: the schema version of every store, and bringing them up to date.

The service upgrades each store when it opens it; operators run ``assist db upgrade`` first when they want the
migration done once, before the workers start (a rolling deploy), and ``assist db current`` to see where a
database stands. A database newer than this release fails with ``schema_too_new``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from assist.auth import KEYS_SCHEMA
from assist.store import MIGRATIONS as CALLS_MIGRATIONS
from assist.workers import WORKERS_SCHEMA
from common.db import Migration, connect, is_postgres, open_store
from common.migrations import current_version
from config import Settings
from knowledge.store import MIGRATIONS as KNOWLEDGE_MIGRATIONS


def register(sub: Any) -> None:
    db = sub.add_parser("db", help="Schema versions of the stores (Alembic revisions), and upgrading them")
    dsub = db.add_subparsers(dest="db_cmd", required=True)
    for name, help_text in (("current", "Each store's schema version against this release's newest"),
                            ("upgrade", "Bring every store to this release's newest schema")):
        dsub.add_parser(name, help=help_text).add_argument("--json", action="store_true")
    db.set_defaults(handler=run)


def stores(settings: Settings) -> list[tuple[str, str | Path, Sequence[Migration]]]:
    """Every store: its name (and version table ``alembic_version_<name>``), where it lives, its steps."""
    return [("calls", settings.calls_db, CALLS_MIGRATIONS), ("keys", settings.calls_db, (KEYS_SCHEMA,)),
            ("workers", settings.calls_db, (WORKERS_SCHEMA,)), ("knowledge", settings.kb_db, KNOWLEDGE_MIGRATIONS)]


def run(args: argparse.Namespace, settings: Settings) -> int:
    rows = []
    for component, target, migrations in stores(settings):
        db = connect(target)
        try:
            before = current_version(db, component)
        finally:
            db.close()
        if args.db_cmd == "upgrade":
            open_store(target, component, migrations).close()  # schema_too_new: a coded error, exit 2
        now = len(migrations) if args.db_cmd == "upgrade" else before
        head = len(migrations)
        rows.append({"store": component, "database": "postgresql" if is_postgres(target) else str(target),
                     "version": now, "head": head, "upgraded_from": before if now != before else None,
                     "state": "current" if now == head else "behind" if now < head else "too_new"})
    if args.json:
        sys.stdout.write(json.dumps(rows, indent=1) + "\n")
    else:
        for r in rows:
            moved = f" (from {r['upgraded_from']})" if r["upgraded_from"] is not None else ""
            sys.stdout.write(f"{r['store']:10} {r['version']}/{r['head']}{moved} {r['state']:8} {r['database']}\n")
    return 0
