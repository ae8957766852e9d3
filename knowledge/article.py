"""The knowledge-base article and the typed errors every boundary of the package answers with."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from common.errors import CodedError, FieldIssue, validation_issues

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,127}$"
LANGUAGES = ("ja", "en")
# Lists are capped so one hostile row cannot make every later search or glossary build slow.
MAX_QUESTIONS = 100
MAX_TAGS = 50
Question = Annotated[str, StringConstraints(max_length=1000)]
Tag = Annotated[str, StringConstraints(max_length=100)]


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class Article(BaseModel):
    """One FAQ article. ``revision``/``updated_at`` are owned by the store: any value given on input is
    ignored, so an import cannot rewind history."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str = Field(pattern=ID_PATTERN, description="Stable id, e.g. lost-card")
    title: str = Field(min_length=1, max_length=300)
    questions: list[Question] = Field(default_factory=list, max_length=MAX_QUESTIONS,
                                      description="Ways callers ask for this article")
    answer: str = Field(min_length=1, max_length=20_000)
    category: str | None = Field(None, max_length=100)
    tags: list[Tag] = Field(default_factory=list, max_length=MAX_TAGS)
    language: str = Field("ja", description="ja | en")
    revision: int = Field(0, ge=0)
    updated_at: datetime | None = None

    @model_validator(mode="before")
    @classmethod
    def _single_question(cls, data: Any) -> Any:
        """The CSV/JSONL ``question`` column may hold one question (or several joined with ``|``)."""
        if isinstance(data, dict) and "question" in data:
            data = dict(data)
            question = data.pop("question")
            extra = split_list(question) if isinstance(question, str) else list(question or [])
            data["questions"] = list(data.get("questions") or []) + extra
        return data

    @field_validator("questions", "tags", mode="before")
    @classmethod
    def _split(cls, v: Any) -> Any:
        return split_list(v) if isinstance(v, str) else v

    @field_validator("questions", "tags", mode="after")
    @classmethod
    def _dedupe(cls, v: list[str]) -> list[str]:
        seen: dict[str, None] = {}
        for item in v:
            item = item.strip()
            if item:
                seen.setdefault(item, None)
        return list(seen)

    @field_validator("category", mode="before")
    @classmethod
    def _blank_none(cls, v: Any) -> Any:
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("language", mode="before")
    @classmethod
    def _language(cls, v: Any) -> Any:
        if v is None or (isinstance(v, str) and not v.strip()):
            return "ja"
        if isinstance(v, str) and v.strip().lower() in LANGUAGES:
            return v.strip().lower()
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}")

    def content_key(self) -> tuple:
        """What counts as a change: re-importing identical content must not bump the revision."""
        return (self.title, tuple(self.questions), self.answer, self.category, tuple(self.tags), self.language)

    def to_row(self) -> dict[str, Any]:
        """Flat export form (CSV columns; lists joined with ``|``)."""
        return {
            "id": self.id, "title": self.title, "question": "|".join(self.questions), "answer": self.answer,
            "category": self.category or "", "tags": "|".join(self.tags), "language": self.language,
            "revision": self.revision,
            "updated_at": self.updated_at.isoformat() if self.updated_at else "",
        }


def split_list(value: str) -> list[str]:
    return [part.strip() for part in value.split("|") if part.strip()]


class KnowledgeError(CodedError):
    """Raised with every issue found (``fields``), so a caller can show them all at once."""


class ArticleNotFound(KnowledgeError):
    def __init__(self, article_id: str) -> None:
        super().__init__("article_not_found", f"no article with id {article_id!r}")


def issues_from_validation(exc: ValidationError, line: int | None = None) -> list[FieldIssue]:
    """Pydantic errors → field-level issues; ``questions`` is the ``question`` column of a CSV or form."""
    return [replace(i, field="question") if i.field == "questions" and i.code != "missing" else i
            for i in validation_issues(exc.errors(), line=line, skip=frozenset())]


def parse_article(data: dict[str, Any], line: int | None = None) -> Article:
    """Validate one raw record; store-owned fields are dropped rather than trusted."""
    clean = {k: v for k, v in data.items() if k not in ("revision", "updated_at")}
    try:
        return Article.model_validate(clean)
    except ValidationError as exc:
        raise KnowledgeError("invalid_article", "the article is invalid", issues_from_validation(exc, line)) from exc
