"""The after-call stage's contract: ``Summarizer`` turns a call's turns into structured notes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    from summarize.notes import CallNotes

Speaker = Literal["customer", "agent"]


@dataclass(frozen=True, slots=True)
class Turn:
    """One final utterance of the call, in order. ``index`` is its position in the call."""

    index: int
    speaker: Speaker
    text: str
    start: float | None = None
    end: float | None = None
    uncertain: tuple[tuple[int, int], ...] = ()
    """``(start, end)`` spans of ``text``: numbers the recognizer was unsure of (``summarize/uncertain.py``)."""


@dataclass(frozen=True, slots=True)
class ArticleRef:
    """An article suggested during the call (its title names the inquiry; its category gives the
    disposition)."""

    article_id: str
    title: str
    category: str | None = None
    turn: int | None = None
    """The customer turn it answered, when known: the notes name the articles of the request turns first."""
    confidence: str | None = None
    """Its band when it came up (``high`` / ``medium`` / ``low``); ``None``: unknown."""
    confirmed: bool | None = None
    """Whether the agent's turns said what it says (``assist/topic.py``); ``None``: unknown. 該当FAQ names the
    confirmed articles (whatever their band: the agent's own words back them) and, confirmation unknown, those
    not known below ``high``."""


@runtime_checkable
class Summarizer(Protocol):
    """Writes a call's notes after it ended; thread-safe (the service runs it on a worker thread while the
    event loop goes on)."""

    @property
    def name(self) -> str:
        """The notes' ``backend``: which summarizer wrote them."""
        ...

    def summarize(
        self, turns: Sequence[Turn], *, language: str, articles: Sequence[ArticleRef] = ()
    ) -> CallNotes:
        """Notes in ``language`` from the call's final turns; ``articles``: what came up as the top card."""
        ...

