"""The alert rules file: its typed schema, loading with located errors, and hot reload.

A TOML file of ``[[rules]]`` tables, each with an ``id`` and a ``condition`` that selects its own fields
(docs/ALERTS.md). Loading validates everything an operator can get wrong — unknown keys, values out of range,
duplicate ids, regular expressions that do not compile or match everything, unknown message placeholders — and
raises one ``AlertRulesError`` (code ``bad_alert_rules``) whose ``fields`` name each problem's dotted path and,
where the file shows it, its line. ``RulesSource`` re-reads the file when its mtime changes; a bad edit keeps the
rules in force, logs the error and keeps it in ``error`` until a good edit replaces it.
"""

from __future__ import annotations

import logging
import re
import string
import threading
import time
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from assist.alerts.lexicon import (
    ABUSE,
    ABUSE_CATEGORIES,
    CANCELLATION,
    MANAGER,
    AbuseCategory,
    Lexicon,
    PhraseMatcher,
    check_pattern,
    merged,
)
from assist.alerts.measure import RateUnit
from common.errors import CodedError, FieldIssue

log = logging.getLogger(__name__)

DEFAULT_RULES_FILE = Path(__file__).with_name("default_rules.toml")
Severity = Literal["info", "warning", "critical"]
LegChoice = Literal["customer", "agent", "any"]
PLACEHOLDERS = frozenset({"category", "matched", "value", "turns", "leg"})
_ID = r"^[a-z0-9][a-z0-9_.-]{0,63}$"


class AlertRulesError(CodedError):
    """The rules file cannot be used; ``fields`` locate each problem."""

    def __init__(self, message: str, fields: list[FieldIssue] | None = None) -> None:
        super().__init__("bad_alert_rules", message, fields or [])

    def describe(self) -> str:
        """One line per problem, for logs and the ``check`` command."""
        lines = [self.message]
        for f in self.fields:
            where = ":".join(str(p) for p in (f.file, f.line) if p is not None)
            lines.append(f"  {where + ': ' if where else ''}{f.field or '(file)'}: {f.message} [{f.code}]")
        return "\n".join(lines)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_template(text: str) -> str:
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as exc:
        raise PydanticCustomError("bad_template", "not a valid message template: {error}", {"error": str(exc)}) from exc
    unknown = sorted(n for n in names if n not in PLACEHOLDERS)
    if unknown:
        raise PydanticCustomError("unknown_placeholder", "unknown placeholder(s) {names}; allowed: {allowed}",
                                  {"names": ", ".join(f"{{{n}}}" for n in unknown),
                                   "allowed": ", ".join(f"{{{n}}}" for n in sorted(PLACEHOLDERS))})
    return text


class Message(_Strict):
    """A rule's message in both languages; placeholders: {category} {matched} {value} {turns} {leg}."""

    ja: str = Field(min_length=1, max_length=300)
    en: str = Field(min_length=1, max_length=300)

    @field_validator("ja", "en")
    @classmethod
    def _template(cls, v: str) -> str:
        return _check_template(v)


def _check_phrases(values: list[str]) -> list[str]:
    for v in values:
        if not v.strip():
            raise PydanticCustomError("empty_phrase", "a phrase may not be empty")
    return values


def _check_patterns(values: list[str]) -> list[str]:
    for v in values:
        problem = check_pattern(v)
        if problem is not None:
            raise PydanticCustomError("bad_pattern", "pattern \u201c{pattern}\u201d: {problem}",
                                      {"pattern": v, "problem": problem})
    return values


Phrases = Annotated[list[Annotated[str, Field(max_length=200)]], Field(max_length=500)]


class _Rule(_Strict):
    id: str = Field(pattern=_ID, description="Unique; what `alert.rule` carries")
    severity: Severity = "warning"
    message: Message | None = Field(None, description="Unset: the condition's default message")
    notify_agent: bool = Field(False, description="Also show it on the agent's widget")
    cooldown_s: float = Field(60.0, ge=0.0, le=3600.0, description="Audio seconds before it may fire again")
    enabled: bool = True
    languages: list[Literal["ja", "en"]] | None = Field(None, min_length=1, description="Unset: every language")


class AbuseRule(_Rule):
    condition: Literal["abuse"]
    leg: LegChoice = "customer"
    categories: list[AbuseCategory] = Field(default_factory=lambda: list(ABUSE_CATEGORIES), min_length=1)
    phrases: dict[AbuseCategory, Phrases] = Field(default_factory=dict, description="Added to the lexicon")
    patterns: dict[AbuseCategory, Phrases] = Field(default_factory=dict)
    paraphrase: bool = Field(False, description="Also match paraphrases with the embedder")
    similarity: float | None = Field(None, gt=0.0, le=1.0, description="Unset: the embedder's calibrated value")

    @field_validator("phrases")
    @classmethod
    def _phrases(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        for values in v.values():
            _check_phrases(values)
        return v

    @field_validator("patterns")
    @classmethod
    def _patterns(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        for values in v.values():
            _check_patterns(values)
        return v


class PhraseRule(_Rule):
    leg: LegChoice = "customer"
    phrases: Phrases = Field(default_factory=list, description="Added to the built-in lexicon")
    patterns: Phrases = Field(default_factory=list)
    builtin: bool = Field(True, description="Use the shipped lexicon besides phrases and patterns")

    @field_validator("phrases")
    @classmethod
    def _phrases(cls, v: list[str]) -> list[str]:
        return _check_phrases(v)

    @field_validator("patterns")
    @classmethod
    def _patterns(cls, v: list[str]) -> list[str]:
        return _check_patterns(v)


class ManagerRule(PhraseRule):
    condition: Literal["manager_request"]


class CancellationRule(PhraseRule):
    condition: Literal["cancellation"]


class KeywordsRule(PhraseRule):
    condition: Literal["keywords"]
    builtin: bool = False

    @model_validator(mode="after")
    def _something(self) -> KeywordsRule:
        if not self.phrases and not self.patterns:
            raise PydanticCustomError("no_keywords", "a keywords rule needs phrases or patterns")
        return self


class NegativeSentimentRule(_Rule):
    condition: Literal["negative_sentiment"]
    turns: int = Field(3, ge=1, le=20, description="Consecutive negative customer turns")
    threshold: float = Field(-0.4, ge=-1.0, le=0.0, description="A turn scoring at or below this is negative")
    ignore_below_chars: int = Field(6, ge=0, le=100, description="Neutral turns shorter than this (はい, "
                                    "okay) neither count nor break the run")
    paraphrase_share: float | None = Field(None, gt=0.0, le=1.0, description="Also negative: a customer final "
                                           "whose best カスハラ paraphrase score reaches this share of the "
                                           "embedder's calibrated threshold (needs the embedder); unset: the "
                                           "sentiment lexicon alone")


class SilenceRule(_Rule):
    condition: Literal["silence"]
    min_s: float = Field(10.0, ge=0.5, le=600.0, description="Gap between consecutive finals of either leg")


class OvertalkRule(_Rule):
    condition: Literal["overtalk"]
    min_s: float = Field(1.0, ge=0.2, le=30.0, description="Overlap of the two legs' finals")
    leg: LegChoice = Field("any", description="Who talked over: the leg whose final started later")


class SpeakingRateRule(_Rule):
    condition: Literal["speaking_rate"]
    leg: Literal["customer", "agent"] = "agent"
    max_rate: float = Field(gt=0.0, le=60.0, description="Units per second above which it fires")
    unit: RateUnit = "morae"
    min_duration_s: float = Field(2.0, ge=0.5, le=30.0, description="Shorter finals are not measured")


Rule = Annotated[
    AbuseRule | ManagerRule | CancellationRule | KeywordsRule | NegativeSentimentRule | SilenceRule | OvertalkRule
    | SpeakingRateRule,
    Field(discriminator="condition"),
]


class RulesFile(_Strict):
    version: Literal[1] = 1
    rules: list[Rule] = Field(default_factory=list, max_length=200)

    @model_validator(mode="after")
    def _unique_ids(self) -> RulesFile:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                raise PydanticCustomError("duplicate_id", "rule id {id!r} is used twice", {"id": rule.id})
            seen.add(rule.id)
        return self


@dataclass(frozen=True)
class RuleSet:
    """A validated rules file with each text rule's compiled matcher (built once per version of the file)."""

    rules: tuple[Any, ...]
    source: str
    loaded_at: float = field(default_factory=time.time)
    matchers: Mapping[str, PhraseMatcher] = field(default_factory=dict)

    @classmethod
    def of(cls, parsed: RulesFile, source: str) -> RuleSet:
        active = tuple(r for r in parsed.rules if r.enabled)
        return cls(active, source, matchers={r.id: m for r in active if (m := _matcher(r)) is not None})

    @property
    def needs_paraphrase(self) -> bool:
        return any(isinstance(r, AbuseRule) and r.paraphrase for r in self.rules)


def _matcher(rule: Any) -> PhraseMatcher | None:
    if isinstance(rule, AbuseRule):
        extra = [(k, Lexicon(phrases=tuple(v))) for k, v in rule.phrases.items()]
        extra += [(k, Lexicon(patterns=tuple(v))) for k, v in rule.patterns.items()]
        lexicons = merged({k: ABUSE[k] for k in rule.categories}, extra)
        return PhraseMatcher({k: v for k, v in lexicons.items() if k in rule.categories})
    if isinstance(rule, PhraseRule):
        builtin = MANAGER if isinstance(rule, ManagerRule) else CANCELLATION if isinstance(rule, CancellationRule) \
            else Lexicon()
        lex = (builtin if rule.builtin else Lexicon()) + Lexicon(tuple(rule.phrases), tuple(rule.patterns))
        return PhraseMatcher({"": lex}, negatable=not isinstance(rule, KeywordsRule))
    return None


# ---------------------------------------------------------------- loading with located errors

_TOML_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)")
_RULES_HEADER = re.compile(r"^\s*\[\[\s*rules\s*\]\]")
_ANY_HEADER = re.compile(r"^\s*\[")


def parse_rules(text: str, *, source: str = "<rules>") -> RuleSet:
    """Validate the text of a rules file; raises ``AlertRulesError`` with every problem located."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = _TOML_POSITION.search(str(exc))
        issue = FieldIssue("toml_syntax", str(exc), line=int(m.group(1)) if m else None, file=source)
        raise AlertRulesError(f"{source} is not valid TOML: {exc}", [issue]) from exc
    try:
        parsed = RulesFile.model_validate(data)
    except ValidationError as exc:
        issues = [_issue(err, data, text, source) for err in exc.errors()]
        if not any(i.code == "duplicate_id" for i in issues):  # the model check runs only on valid rules
            issues += _duplicates(data, text, source)
        first = "; ".join(f"{'line ' + str(i.line) + ', ' if i.line else ''}{i.field or 'file'}: {i.message}"
                          for i in issues[:3])
        raise AlertRulesError(f"{source}: {len(issues)} problem(s) in the alert rules: {first}", issues) from exc
    return RuleSet.of(parsed, source)


def load_rules(path: Path) -> RuleSet:
    """Read and validate one rules file."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise AlertRulesError(f"cannot read the alert rules file {path}: {exc.strerror or exc}",
                              [FieldIssue("unreadable", str(exc), file=str(path))]) from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AlertRulesError(f"{path} is not UTF-8", [FieldIssue("encoding", str(exc), file=str(path))]) from exc
    return parse_rules(text, source=str(path))


def _issue(err: Mapping[str, Any], data: Any, text: str, source: str) -> FieldIssue:
    loc = [p for p in err.get("loc", ())]
    # a tagged union adds the tag (the condition) to the location: the file has no such key
    path: list[str | int] = []
    for i, part in enumerate(loc):
        if i == 2 and loc[0] == "rules" and isinstance(part, str) and _is_condition(part):
            continue
        path.append(part)
    if str(err.get("type", "")).startswith("union_tag"):  # a missing or unknown condition
        path.append("condition")
    message = str(err.get("msg", "invalid"))
    if len(path) >= 2 and path[0] == "rules" and isinstance(path[1], int):
        rule_id = _rule_id(data, path[1])
        if rule_id:
            message = f"rule {rule_id!r}: {message}"
    return FieldIssue(code=str(err.get("type", "invalid")), message=message,
                      field=".".join(str(p) for p in path) or None, line=_locate(text, path), file=source)


def _duplicates(data: Any, text: str, source: str) -> list[FieldIssue]:
    rules = data.get("rules") if isinstance(data, dict) else None
    seen: set[str] = set()
    out = []
    for i, rule in enumerate(rules if isinstance(rules, list) else []):
        rid = rule.get("id") if isinstance(rule, dict) else None
        if isinstance(rid, str) and rid in seen:
            out.append(FieldIssue("duplicate_id", f"rule id {rid!r} is used twice", field=f"rules.{i}.id",
                                  line=_locate(text, ["rules", i, "id"]), file=source))
        if isinstance(rid, str):
            seen.add(rid)
    return out


def _is_condition(tag: str) -> bool:
    return tag in {"abuse", "manager_request", "cancellation", "keywords", "negative_sentiment", "silence",
                   "overtalk", "speaking_rate"}


def _rule_id(data: Any, index: int) -> str | None:
    try:
        rid = data["rules"][index].get("id")
    except (KeyError, IndexError, TypeError, AttributeError):
        return None
    return rid if isinstance(rid, str) else None


def _locate(text: str, path: list[str | int]) -> int | None:
    """The line of ``path`` in the file: the key inside its ``[[rules]]`` table (or the table's header), or a
    top-level key. ``None`` when the file writes it some other way (inline arrays)."""
    lines = text.splitlines()
    if not path:
        return None
    if path[0] != "rules" or len(path) < 2 or not isinstance(path[1], int):
        return _key_line(lines, 0, len(lines), str(path[0]), top_level=True)
    headers = [i for i, line in enumerate(lines) if _RULES_HEADER.match(line)]
    if path[1] >= len(headers):
        return None
    begin = headers[path[1]]
    end = headers[path[1] + 1] if path[1] + 1 < len(headers) else len(lines)
    for key in reversed([p for p in path[2:] if isinstance(p, str)]):
        found = _key_line(lines, begin + 1, end, key)
        if found is not None:
            return found
    return begin + 1


def _key_line(lines: list[str], begin: int, end: int, key: str, *, top_level: bool = False) -> int | None:
    pattern = re.compile(rf"^\s*(\[\s*rules\.)?[\"']?{re.escape(key)}[\"']?\s*(=|\])")
    for i in range(begin, end):
        if top_level and _ANY_HEADER.match(lines[i]):
            return None
        if pattern.match(lines[i]):
            return i + 1
    return None


# ---------------------------------------------------------------- hot reload


class RulesSource:
    """The rules in force, re-read when the file's mtime (or size) changes, checked at most every
    ``check_interval_s``. The first load raises: a service must not start with rules it cannot read; later
    bad edits are logged, kept in ``error`` and reported to ``on_error``, and the previous rules stay."""

    def __init__(self, path: Path | None = None, *, check_interval_s: float = 2.0,
                 clock: Callable[[], float] = time.monotonic,
                 on_error: Callable[[AlertRulesError | None], None] | None = None) -> None:
        self.path = path or DEFAULT_RULES_FILE
        self.watched = path is not None  # the shipped default never changes under a running service
        self.check_interval_s = check_interval_s
        self._clock = clock
        self._on_error = on_error
        self._lock = threading.Lock()
        self._stamp = self._stat()
        self.rules = load_rules(self.path)
        self.error: AlertRulesError | None = None
        self.reloads = 0
        self._checked = clock()

    def _stat(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    def current(self) -> RuleSet:
        """The rules in force, reloading first when the file changed since the last check."""
        if self.watched and self._clock() - self._checked >= self.check_interval_s:
            self.refresh()
        return self.rules

    def refresh(self) -> bool:
        """Reload now if the file changed; ``True`` when new rules took effect."""
        with self._lock:
            self._checked = self._clock()
            stamp = self._stat()
            if stamp == self._stamp:
                return False
            self._stamp = stamp
            try:
                rules = load_rules(self.path)
            except AlertRulesError as exc:
                self.error = exc
                log.error("alert rules not reloaded, the previous ones stay in force: %s", exc.describe())
                if self._on_error is not None:
                    self._on_error(exc)
                return False
            self.rules, self.error = rules, None
            self.reloads += 1
            log.info("alert rules reloaded from %s: %d active rule(s)", self.path, len(rules.rules))
            if self._on_error is not None:
                self._on_error(None)
            return True
