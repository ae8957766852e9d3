"""Guidance checklists: the agent actions a call should show (本人確認, 重要事項の説明, 復唱, closing), detected
from the agent's finals by phrase patterns.

The items live in a TOML file (``assist/checklists.toml``, shipped in the package): a default list for every
call and one per knowledge-base category, which joins the call's list once a confident top card of that
category came up. Phrase rules, not a model: an agent or a QA lead can read why an item counts as done, and
change the phrases without retraining anything. The file is validated as a whole, so one bad pattern cannot
silently switch an item off: every problem comes back as a ``FieldIssue`` of one ``ChecklistError``.
"""

from __future__ import annotations

import functools
import re
import tomllib
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from common.errors import CodedError, FieldIssue, validation_issues
from summarize.notes import ChecklistLabel, ChecklistMark

DEFAULT_FILE = Path(__file__).with_name("checklists.toml")
_ID = r"^[a-z0-9][a-z0-9-]{0,47}$"


class ChecklistError(CodedError):
    """The checklist file cannot be used: ``checklist_unreadable`` (missing, not UTF-8, not TOML) or
    ``checklist_invalid`` (every problem in ``fields``, each with its dotted ``field`` and the ``file``)."""


class _Item(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=_ID)
    label: ChecklistLabel
    patterns: list[str] = Field(min_length=1)
    not_in_opening: bool = False


class _Category(BaseModel):
    model_config = ConfigDict(extra="forbid")
    names: list[str] = Field(min_length=1)
    items: list[_Item] = Field(min_length=1)


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")
    default: list[_Item] = Field(default_factory=list)
    category: list[_Category] = Field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ItemSpec:
    """One checklist item, its patterns compiled."""

    id: str
    label: ChecklistLabel
    patterns: tuple[re.Pattern[str], ...]
    category: str | None = None  # the category's first name; None: a default item
    not_in_opening: bool = False

    def matches(self, text: str) -> bool:
        return any(p.search(text) for p in self.patterns)


@dataclass(frozen=True, slots=True)
class Checklists:
    """The validated file: the default items and, by case-folded category name, each category's items."""

    default: tuple[ItemSpec, ...]
    by_category: dict[str, tuple[ItemSpec, ...]]

    def for_category(self, category: str | None) -> tuple[ItemSpec, ...]:
        return self.by_category.get((category or "").strip().casefold(), ())


def parse_checklists(text: str, *, source: str = "<checklists>") -> Checklists:
    """Validate a checklist file's text; ``ChecklistError`` names every problem at once."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        at = re.search(r"at line (\d+)", str(exc))  # Python 3.11's TOMLDecodeError has no lineno attribute
        line = int(at.group(1)) if at else None
        raise ChecklistError("checklist_unreadable", f"{source} is not valid TOML: {exc}",
                             [FieldIssue("toml_syntax", str(exc), line=line, file=source)]) from exc
    try:
        spec = _File.model_validate(raw)
    except ValidationError as exc:
        shape = [FieldIssue(i.code, i.message, field=i.field, file=source) for i in validation_issues(exc.errors())]
        raise ChecklistError("checklist_invalid", f"{source}: {len(shape)} problem(s)", _located(shape, text)) from exc
    issues: list[FieldIssue] = []
    seen_ids: set[str] = set()
    default = tuple(_compile(item, f"default.{i}", None, seen_ids, issues, source)
                    for i, item in enumerate(spec.default))
    by_category: dict[str, tuple[ItemSpec, ...]] = {}
    for c, cat in enumerate(spec.category):
        items = tuple(_compile(item, f"category.{c}.items.{i}", cat.names[0], seen_ids, issues, source)
                      for i, item in enumerate(cat.items))
        for n, name in enumerate(cat.names):
            key = name.strip().casefold()
            if not key or key in by_category:
                why = "is empty" if not key else "is named by another category too"
                issues.append(FieldIssue("duplicate_category", f"category name {name!r} {why}",
                                         field=f"category.{c}.names.{n}", file=source))
            by_category[key] = items
    if issues:
        raise ChecklistError("checklist_invalid", f"{source}: {len(issues)} problem(s)", _located(issues, text))
    return Checklists(default, by_category)


_HEADER = re.compile(r"^\s*\[\[\s*(default|category|category\.items)\s*\]\]")
_STRING = re.compile(r"'[^']*'|\"(?:[^\"\\]|\\.)*\"")


def _located(issues: list[FieldIssue], text: str) -> list[FieldIssue]:
    """The issues with the line of their field where the file writes it as ``[[table]]`` headers and keys."""
    lines = text.splitlines()
    return [FieldIssue(i.code, i.message, field=i.field, line=i.line or _line_of(lines, i.field), file=i.file)
            for i in issues]


def _line_of(lines: list[str], field: str | None) -> int | None:
    """1-based line of a dotted field (``category.1.items.0.patterns.2``), or ``None`` when it cannot be told."""
    parts = (field or "").split(".")
    headers = [(n, m.group(1)) for n, line in enumerate(lines) if (m := _HEADER.match(line))]

    def nth(kind: str, index: str, begin: int, end: int) -> tuple[int, int] | None:
        found = [n for n, k in headers if k == kind and begin <= n < end]
        if not index.isdigit() or int(index) >= len(found):
            return None
        start = found[int(index)]
        following = [n for n, _ in headers if n > start]
        return start, following[0] if following else len(lines)

    if len(parts) < 2 or parts[0] not in ("default", "category"):
        return None
    span = nth(parts[0], parts[1], 0, len(lines))
    rest = parts[2:]
    if span and parts[0] == "category" and len(rest) >= 2 and rest[0] == "items":
        after = [n for n, k in headers if k == "category" and n > span[0]]
        span = nth("category.items", rest[1], span[0], after[0] if after else len(lines))
        rest = rest[2:]
    if span is None:
        return None
    key = re.compile(rf"^\s*{re.escape(rest[0])}\s*=") if rest else None
    for n in range(span[0] + 1, span[1]):
        if key is not None and key.match(lines[n]):
            if len(rest) < 2 or not rest[1].isdigit():
                return n + 1
            seen = 0  # the index-th string of the (possibly multi-line) array
            for k in range(n, span[1]):
                seen += len(_STRING.findall(lines[k].split("=", 1)[1] if k == n else lines[k]))
                if seen > int(rest[1]):
                    return k + 1
            return n + 1
    return span[0] + 1


def _compile(item: _Item, where: str, category: str | None, seen: set[str], issues: list[FieldIssue],
             source: str) -> ItemSpec:
    if item.id in seen:
        issues.append(FieldIssue("duplicate_id", f"item id {item.id!r} is used twice", field=f"{where}.id",
                                 file=source))
    seen.add(item.id)
    compiled = []
    for p, pattern in enumerate(item.patterns):
        try:
            rx = re.compile(pattern, re.IGNORECASE)
        except re.error as exc:
            issues.append(FieldIssue("bad_pattern", f"not a regular expression: {exc}", field=f"{where}.patterns.{p}",
                                     file=source))
            continue
        if rx.search(""):
            issues.append(FieldIssue("empty_match", "the pattern matches an empty text, so every final would count",
                                     field=f"{where}.patterns.{p}", file=source))
        compiled.append(rx)
    return ItemSpec(item.id, item.label, tuple(compiled), category, item.not_in_opening)


def load_checklists(path: Path | None = None) -> Checklists:
    """The file at ``path``; the shipped file (validated once per process) when ``None``."""
    if path is None:
        return _shipped()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ChecklistError("checklist_unreadable", f"cannot read {path}: {exc}",
                             [FieldIssue("unreadable", str(exc), file=str(path))]) from exc
    return parse_checklists(text, source=str(path))


@functools.cache
def _shipped() -> Checklists:
    return load_checklists(DEFAULT_FILE)


def _normalize(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()


class ChecklistState:
    """One call's checklist: the default items, plus each category's once it is added; an item is done at the
    first agent final that matches it (earlier finals are searched again when a category's items join)."""

    def __init__(self, checklists: Checklists) -> None:
        self._checklists = checklists
        self._items: dict[str, ItemSpec] = {s.id: s for s in checklists.default}
        self._done: dict[str, int] = {}  # item id -> turn
        self._categories: list[str] = []
        self._agent: list[tuple[str, int, bool]] = []  # (normalized text, turn, said before the customer spoke)
        self._customer_spoke = False

    @property
    def categories(self) -> list[str]:
        return list(self._categories)

    def observe_customer(self) -> None:
        self._customer_spoke = True

    def observe_agent(self, text: str, turn: int) -> bool:
        """An agent final; ``True`` when it completed an item."""
        entry = (_normalize(text), turn, not self._customer_spoke)
        self._agent.append(entry)
        return bool(self._check(self._items.values(), [entry]))

    def add_category(self, category: str | None) -> bool:
        """A confident top card's category; ``True`` when it added items (the checklist changed)."""
        items = [s for s in self._checklists.for_category(category) if s.id not in self._items]
        if not items or category is None:  # unknown, or its items are on the list already
            return False
        self._categories.append(category)
        self._items.update((s.id, s) for s in items)
        self._check(items, self._agent)
        return True

    def _check(self, items: Iterable[ItemSpec], finals: list[tuple[str, int, bool]]) -> list[str]:
        done = []
        for spec in items:
            if spec.id in self._done:
                continue
            turn = next((t for text, t, opening in finals
                         if not (spec.not_in_opening and opening) and spec.matches(text)), None)
            if turn is not None:
                self._done[spec.id] = turn
                done.append(spec.id)
        return done

    def marks(self) -> list[ChecklistMark]:
        """Every item in file order (defaults first, then categories as they joined)."""
        return [ChecklistMark(id=s.id, label=s.label, category=s.category, done=s.id in self._done,
                              turn=self._done.get(s.id)) for s in self._items.values()]


def adherence(marks: Iterable[ChecklistMark | dict[str, Any]]) -> float | None:
    """Share of the items done; ``None`` for a call without a checklist."""
    flags = [m.done if isinstance(m, ChecklistMark) else bool(m.get("done")) for m in marks]
    return round(sum(flags) / len(flags), 3) if flags else None
