"""Coded errors and the one error body every boundary answers with.

Every error a client, a CLI user or another stage can see carries a machine-readable ``code`` (stable; clients
branch on it) and a ``message`` for people, plus ``fields``: the problems with individual parts of the input.
REST answers ``{"error": {"code", "message", "fields": [...]}}``; websocket ``error`` events carry the same
``code``, ``message`` and ``fields``. ``fields`` is always a list (several problems may concern one field, and
an import reports the line and file of each), each item with the same five keys (``null`` when unknown).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class FieldIssue:
    """One problem with one part of the input: ``code`` is stable for machines, ``message`` for people."""

    code: str
    message: str
    line: int | None = None
    field: str | None = None
    file: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class CodedError(Exception):
    """Base of every coded error; subclasses add what their boundary needs (an HTTP status, ``fatal``)."""

    code: str

    def __init__(self, code: str, message: str, fields: Sequence[FieldIssue] = ()) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.fields = list(fields)

    def to_dict(self) -> dict[str, Any]:
        """The inner object of the error body: ``{"code", "message", "fields"}``."""
        return {"code": self.code, "message": self.message, "fields": [f.to_dict() for f in self.fields]}

    def body(self) -> dict[str, Any]:
        """The REST error body."""
        return {"error": self.to_dict()}


def error_body(code: str, message: str, fields: Sequence[FieldIssue] = ()) -> dict[str, Any]:
    """The REST error body for an error that is not raised as a ``CodedError`` (middleware, handlers)."""
    return CodedError(code, message, fields).body()


def validation_issues(errors: Iterable[Mapping[str, Any]], *, line: int | None = None,
                      skip: frozenset[str] = frozenset({"body"})) -> list[FieldIssue]:
    """Pydantic's ``ValidationError.errors()`` as issues: its error type is the code (``missing``,
    ``string_too_short``…), its location the dotted field (parts named in ``skip`` left out)."""
    issues = []
    for err in errors:
        field = ".".join(str(part) for part in err.get("loc", ()) if str(part) not in skip)
        issues.append(FieldIssue(code=str(err.get("type", "invalid")), message=str(err.get("msg", "invalid")),
                                 line=line, field=field or None))
    return issues
