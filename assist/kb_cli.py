# ruff: noqa: T201  (a command-line module: results go to stdout)
"""``assist kb ...``: import, list, show, delete, export, search, reindex.

Writes go to the knowledge store the server reads; a running server notices the new KB revision and
updates its index by itself (no restart), so the CLI only touches the index for ``search``/``reindex``.
It lives in the service package because ``search``/``reindex`` drive retrieval, which sits above ``knowledge``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from assist.insights_cli import register_gaps
from config import Settings
from knowledge.article import Article, KnowledgeError
from knowledge.io import FORMATS, apply_import, export, read_path
from knowledge.store import KnowledgeStore

if TYPE_CHECKING:
    from retrieval.service import RetrievalService


def register(subparsers: Any) -> None:
    kb = subparsers.add_parser("kb", help="Knowledge base: import, list, search, reindex")
    sub = kb.add_subparsers(dest="kb_cmd", required=True)

    p = sub.add_parser("import", help="Import a CSV/JSONL file or a folder of Markdown files (all or nothing)")
    p.add_argument("path", type=Path)
    p.add_argument("--format", choices=FORMATS, help="Default: from the file name")
    p.add_argument("--dry-run", action="store_true", help="Validate and report, change nothing")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_import)

    p = sub.add_parser("list", help="List articles")
    p.add_argument("--category")
    p.add_argument("--language", choices=("ja", "en"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_list)

    p = sub.add_parser("show", help="Show one article")
    p.add_argument("id")
    p.add_argument("--history", action="store_true", help="Include every revision")
    p.set_defaults(handler=_show)

    p = sub.add_parser("delete", help="Delete an article (its history is kept)")
    p.add_argument("id")
    p.set_defaults(handler=_delete)

    p = sub.add_parser("export", help="Export every article")
    p.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    p.add_argument("-o", "--output", type=Path, help="Default: stdout")
    p.set_defaults(handler=_export)

    p = sub.add_parser("search", help="Search as the live service does")
    p.add_argument("query")
    p.add_argument("-k", type=int, default=5)
    p.add_argument("--language", choices=("ja", "en"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_search)

    p = sub.add_parser("reindex", help="Rebuild the search index from the store")
    p.set_defaults(handler=_reindex)
    register_gaps(sub)


def _store(settings: Settings) -> KnowledgeStore:
    return KnowledgeStore(settings.kb_db)


def _fail(exc: KnowledgeError) -> int:
    print(f"assist kb: error [{exc.code}]: {exc.message}", file=sys.stderr)
    for issue in exc.fields:
        where = ":".join(str(p) for p in (issue.file, issue.line) if p is not None)
        field = f" {issue.field}" if issue.field else ""
        print(f"  {where or '-'}{field}: [{issue.code}] {issue.message}", file=sys.stderr)
    return 1


def _import(args: argparse.Namespace, settings: Settings) -> int:
    store = _store(settings)
    try:
        articles = read_path(args.path, args.format, max_rows=settings.server.max_import_rows)
        # Writing (or, for a dry run, comparing) is the long part of a big import; parsing is quick.
        # The bar goes to stderr, only on a terminal, never with --json, and only after a second.
        with tqdm(articles, desc="checking" if args.dry_run else "importing", unit="article", leave=False,
                  delay=1.0, disable=True if args.json else None) as rows:
            report = apply_import(store, rows, dry_run=args.dry_run)
    except KnowledgeError as exc:
        return _fail(exc)
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        verb = "would be" if args.dry_run else "were"
        print(f"{report.total} article(s): {len(report.created)} {verb} created, {len(report.updated)} updated, "
              f"{len(report.unchanged)} unchanged (KB revision {store.revision})")
    return 0


def _list(args: argparse.Namespace, settings: Settings) -> int:
    articles = _store(settings).list(category=args.category, language=args.language)
    if args.json:
        print(json.dumps([a.model_dump(mode="json") for a in articles], ensure_ascii=False, indent=1))
    else:
        for a in articles:
            print(f"{a.id:28} r{a.revision:<3} {a.language}  {(a.category or '-'):10} {a.title}")
        print(f"{len(articles)} article(s)")
    return 0


def _show(args: argparse.Namespace, settings: Settings) -> int:
    store = _store(settings)
    article = store.get(args.id)
    if article is None and not args.history:
        print(f"assist kb: error [article_not_found]: no article with id {args.id!r}", file=sys.stderr)
        return 1
    out: dict[str, Any] = {"article": article.model_dump(mode="json") if article else None}
    if args.history:
        out["history"] = [{"revision": h.revision, "action": h.action, "changed_at": h.changed_at.isoformat(),
                           "kb_revision": h.kb_revision} for h in store.history(args.id)]
    print(json.dumps(out, ensure_ascii=False, indent=1))
    return 0


def _delete(args: argparse.Namespace, settings: Settings) -> int:
    if not _store(settings).delete(args.id):
        print(f"assist kb: error [article_not_found]: no article with id {args.id!r}", file=sys.stderr)
        return 1
    print(f"deleted {args.id}")
    return 0


def _export(args: argparse.Namespace, settings: Settings) -> int:
    articles: list[Article] = _store(settings).all()
    if args.output:
        with args.output.open("w", encoding="utf-8", newline="") as f:
            count = export(articles, f, args.format)
        print(f"{count} article(s) written to {args.output}", file=sys.stderr)
    else:
        export(articles, sys.stdout, args.format)
    return 0


def _service(settings: Settings) -> RetrievalService:
    """Imported here: the index and model libraries are slow to load and only search/reindex need them."""
    from models import ModelRegistry
    from retrieval.embedders import build_embedder
    from retrieval.service import RetrievalService

    embedder = (build_embedder(settings.retrieval, ModelRegistry(settings.models_dir),
                               allow_downloads=settings.allow_downloads)
                if settings.retrieval.dense_weight else None)
    return RetrievalService(settings.retrieval, embedder, _store(settings), index_dir=settings.index_dir)


def _search(args: argparse.Namespace, settings: Settings) -> int:
    service = _service(settings)
    service.load(progress=True)
    hits = service.search(args.query, k=args.k, language=args.language)
    if args.json:
        print(json.dumps([{"article_id": h.article_id, "title": h.title, "score": h.score, "signals": h.signals}
                          for h in hits], ensure_ascii=False, indent=1))
    else:
        for rank, h in enumerate(hits, start=1):
            print(f"{rank}. {h.article_id:28} {h.score:.4f}  {h.title}  {h.signals}")
        if not hits:
            print("no match")
    return 0


def _reindex(args: argparse.Namespace, settings: Settings) -> int:
    service = _service(settings)
    service.reindex(progress=True)
    print(f"index rebuilt at KB revision {service.revision}")
    return 0
