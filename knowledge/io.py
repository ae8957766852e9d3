"""Import and export: CSV, JSON Lines, and a folder of Markdown files with YAML front matter.

Parsing validates every row and collects every problem (with its line and field) before anything is
written, so an import either lands whole or not at all. Input is treated as hostile: an import holds at
most ``max_rows`` articles, YAML front matter may not use anchors or aliases (a few hundred bytes of
nested aliases expand to gigabytes), a folder import never follows a symbolic link nor reads anything but
a regular file, and CSV export neutralises cells a spreadsheet would run as a formula.
"""

from __future__ import annotations

import csv
import errno
import io
import json
import logging
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TextIO

import yaml

from common.errors import FieldIssue
from common.jsonsafe import safe_json_loads
from knowledge.article import Article, KnowledgeError, parse_article
from knowledge.store import KnowledgeStore, UpsertResult

log = logging.getLogger(__name__)

Format = Literal["csv", "jsonl", "markdown"]
FORMATS: tuple[str, ...] = ("csv", "jsonl", "markdown")
_SUFFIXES: dict[str, Format] = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".md": "markdown",
                                ".markdown": "markdown"}
_COLUMNS = ("id", "title", "question", "answer", "category", "tags", "language")
MAX_ROWS = 10_000  # the default of ``server.max_import_rows``
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # what Excel, LibreOffice and Sheets evaluate
_MARKDOWN_SUFFIXES = (".md", ".markdown")
Record = tuple[int | None, str | None, dict[str, Any] | FieldIssue]


class _AliasRefused(yaml.YAMLError):
    pass


class _NoAliasLoader(yaml.SafeLoader):
    """``SafeLoader`` that stops at the first anchor or alias, before anything is expanded."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise _AliasRefused("YAML anchors and aliases (&name, *name) are not allowed in front matter")
        return super().compose_node(parent, index)


@dataclass
class ImportReport:
    """What an import did (or, with ``dry_run``, would do)."""

    dry_run: bool
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.created) + len(self.updated) + len(self.unchanged)

    def to_dict(self) -> dict[str, Any]:
        return {"dry_run": self.dry_run, "created": self.created, "updated": self.updated,
                "unchanged": self.unchanged, "total": self.total}


def detect_format(name: str | Path, *, is_dir: bool = False) -> Format:
    if is_dir:
        return "markdown"
    fmt = _SUFFIXES.get(Path(name).suffix.lower())
    if fmt is None:
        raise KnowledgeError("unsupported_format",
                             f"cannot tell the format of {Path(name).name!r}: use .csv, .jsonl or .md")
    return fmt


def _collect(records: Iterable[Record], max_rows: int = MAX_ROWS) -> list[Article]:
    articles: list[Article] = []
    issues: list[FieldIssue] = []
    first_seen: dict[str, int | None] = {}
    for count, (line, source, record) in enumerate(records, start=1):
        if count > max_rows:
            raise KnowledgeError("too_many_rows", f"an import may hold at most {max_rows} articles "
                                 "(server.max_import_rows); split the file")
        if isinstance(record, FieldIssue):
            issues.append(FieldIssue(record.code, record.message, record.line, record.field, record.file or source))
            continue
        try:
            article = parse_article(record, line)
        except KnowledgeError as exc:
            issues.extend(FieldIssue(i.code, i.message, i.line, i.field, source) for i in exc.fields)
            continue
        if article.id in first_seen:
            issues.append(FieldIssue("duplicate_id", f"id {article.id!r} already appears at line "
                                  f"{first_seen[article.id]}", line, "id", source))
            continue
        first_seen[article.id] = line
        articles.append(article)
    if issues:
        raise KnowledgeError("invalid_import", f"{len(issues)} problem(s); nothing was imported", issues)
    if not articles:
        raise KnowledgeError("empty_import", "the input holds no articles")
    return articles


def _jsonl_records(text: str) -> Iterable[tuple[int, None, dict[str, Any] | FieldIssue]]:
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            value = safe_json_loads(raw)
        except json.JSONDecodeError as exc:
            yield number, None, FieldIssue("invalid_json", f"not valid JSON: {exc.msg}", number)
            continue
        if not isinstance(value, dict):
            yield number, None, FieldIssue("invalid_json", "each line must be a JSON object", number)
            continue
        yield number, None, value


def _csv_records(text: str) -> Iterable[tuple[int, None, dict[str, Any] | FieldIssue]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in ("id", "title", "answer") if c not in (reader.fieldnames or [])]
    if missing:
        yield 1, None, FieldIssue("missing_column", f"CSV header lacks {', '.join(missing)}", 1, missing[0])
        return
    unknown = [c for c in reader.fieldnames or [] if c not in _COLUMNS + ("revision", "updated_at")]
    if unknown:
        yield 1, None, FieldIssue("unknown_column", f"unknown CSV column(s): {', '.join(unknown)}", 1, unknown[0])
        return
    start = reader.line_num + 1
    for row in reader:
        if None in row:
            yield start, None, FieldIssue("extra_values", "the row has more values than the header", start)
        elif any((v or "").strip() for v in row.values()):
            yield start, None, {k: _unescape_cell(v) for k, v in row.items()
                                if v is not None and (v.strip() or k in _COLUMNS)}
        start = reader.line_num + 1


def _markdown_record(text: str, source: str) -> tuple[int | None, str, dict[str, Any] | FieldIssue]:
    if not text.startswith("---"):
        return 1, source, FieldIssue("missing_front_matter", "the file must start with --- front matter ---", 1)
    parts = text.split("\n---", 1)
    if len(parts) != 2:
        return 1, source, FieldIssue("missing_front_matter", "the front matter is not closed with ---", 1)
    try:
        meta = yaml.load(parts[0][3:], Loader=_NoAliasLoader) or {}  # a SafeLoader without aliases
    except _AliasRefused as exc:
        return 1, source, FieldIssue("yaml_alias", str(exc), 1)
    except yaml.YAMLError as exc:
        return 1, source, FieldIssue("invalid_front_matter", f"front matter is not valid YAML: {exc}", 1)
    if not isinstance(meta, dict):
        return 1, source, FieldIssue("invalid_front_matter", "front matter must be a mapping", 1)
    body = parts[1].split("\n", 1)[1] if "\n" in parts[1] else ""
    body_lines = body.strip().splitlines()
    if "title" not in meta and body_lines and body_lines[0].startswith("# "):
        meta["title"] = body_lines.pop(0)[2:].strip()
    meta.setdefault("id", Path(source).stem)
    meta.setdefault("answer", "\n".join(body_lines).strip())
    for key in ("tags", "questions", "question"):
        if isinstance(meta.get(key), list):
            meta[key] = [str(v) for v in meta[key]]
    return 1, source, {k: (str(v) if k in ("id", "title", "category", "language") and v is not None else v)
                       for k, v in meta.items()}


def parse_text(text: str, fmt: Format, *, source: str | None = None, max_rows: int = MAX_ROWS) -> list[Article]:
    """Parse one document (an upload, a file) into validated articles, or raise with every issue."""
    if fmt == "jsonl":
        return _collect(_jsonl_records(text), max_rows)
    if fmt == "csv":
        return _collect(_csv_records(text), max_rows)
    return _collect([_markdown_record(text, source or "article.md")], max_rows)


def read_path(path: str | Path, fmt: Format | None = None, *, max_rows: int = MAX_ROWS) -> list[Article]:
    """A CSV/JSONL file, one Markdown file, or a folder of Markdown files (searched recursively).

    The path given is followed if it is a link (the operator named it), but it must be a regular file or a
    folder; inside a folder, links and special files are refused (a link to ``/dev/zero`` would never end).
    """
    path = Path(path)
    if not path.exists():
        raise KnowledgeError("not_found", f"{path} does not exist")
    fmt = fmt or detect_format(path, is_dir=path.is_dir())
    if path.is_dir():
        return _collect(_folder_records(path), max_rows)
    return parse_text(_read(path, follow=True), fmt, source=path.name, max_rows=max_rows)


def _folder_records(root: Path) -> Iterator[Record]:
    """Markdown files under ``root`` in name order; a link or a special file is an issue, never opened."""
    found: list[tuple[Path, bool]] = []  # (path, is a linked folder)
    for folder, dirs, files in os.walk(root):  # followlinks=False: a linked folder is listed, not entered
        here = Path(folder)
        found += [(here / d, True) for d in dirs if (here / d).is_symlink()]
        found += [(here / f, False) for f in files if Path(f).suffix.lower() in _MARKDOWN_SUFFIXES]
    for path, linked_folder in sorted(found):
        name = str(path.relative_to(root))
        mode = path.lstat().st_mode
        if linked_folder or stat.S_ISLNK(mode):
            yield 1, name, FieldIssue("symlink_refused", "symbolic links are not followed in a folder import", 1)
        elif not stat.S_ISREG(mode):
            yield 1, name, FieldIssue("not_a_file", "only regular files are imported", 1)
        else:
            try:
                text = _read(path, follow=False)
            except KnowledgeError as exc:
                yield 1, name, FieldIssue(exc.code, exc.message, 1)
                continue
            yield _markdown_record(text, name)


def _read(path: Path, *, follow: bool) -> str:
    """UTF-8 text of a regular file. Opened without blocking (a FIFO would wait forever) and, unless
    ``follow``, without following a link, so a file swapped for a link after the walk is still refused."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | (0 if follow else getattr(os, "O_NOFOLLOW", 0))
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise KnowledgeError("symlink_refused", f"{path.name} is a symbolic link") from exc
        raise KnowledgeError("unreadable", f"cannot read {path.name}: {exc.strerror}") from exc
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise KnowledgeError("not_a_file", f"{path.name} is not a regular file")
        data = fh.read()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise KnowledgeError("invalid_encoding", f"{path.name} is not UTF-8 text") from exc


def _escape_cell(value: Any) -> Any:
    """A text cell a spreadsheet would evaluate (``=cmd()``, ``+``, ``-``, ``@``…) gets a leading ``'``."""
    return f"'{value}" if isinstance(value, str) and value.startswith(_FORMULA_START) else value


def _unescape_cell(value: str) -> str:
    """The inverse of ``_escape_cell``, so an exported CSV imports back unchanged."""
    return value[1:] if value.startswith("'") and value[1:].startswith(_FORMULA_START) else value


def apply_import(store: KnowledgeStore, articles: Iterable[Article], *, dry_run: bool = False) -> ImportReport:
    """Upsert in one transaction (``articles`` is read once, so a progress bar can wrap it); with
    ``dry_run`` only report what would change."""
    report = ImportReport(dry_run=dry_run)
    if dry_run:
        for article in articles:
            current = store.get(article.id)
            bucket = report.created if current is None else (
                report.unchanged if current.content_key() == article.content_key() else report.updated)
            bucket.append(article.id)
        return report
    results: list[UpsertResult] = store.upsert_many(articles)
    for result in results:
        getattr(report, result.action).append(result.article.id)
    return report


def export(articles: Iterable[Article], out: TextIO, fmt: Literal["jsonl", "csv"]) -> int:
    """Write articles in a form ``parse_text`` reads back; returns how many were written."""
    count = 0
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=list(_COLUMNS) + ["revision", "updated_at"])
        writer.writeheader()
        for article in articles:
            writer.writerow({k: _escape_cell(v) for k, v in article.to_row().items()})
            count += 1
        return count
    for article in articles:
        row = article.model_dump(mode="json", exclude={"questions"})
        row = {"id": row.pop("id"), "title": row.pop("title"), "questions": article.questions, **row}
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
        count += 1
    return count
