"""What a live call needs from the process's models, as small protocols.

``Services`` builds the real pipeline (AsrEngine + RetrievalService + summarizer + reply drafts + PII
masking); tests about the service's own logic pass light fakes with the same shape.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from asr.base import Leg, TranscriptEvent
from summarize.base import Summarizer


class LegStreamLike(Protocol):
    def feed(self, samples: np.ndarray) -> None: ...

    def close(self) -> None: ...

    @property
    def lag_s(self) -> float: ...


class AsrEngineLike(Protocol):
    def open_leg(self, call_id: str, leg: Leg, *, language: str | None,
                 on_event: Callable[[TranscriptEvent], None]) -> LegStreamLike: ...


class SuggestionLike(Protocol):
    query: str
    hits: Sequence[Any]
    latency_ms: float
    abstained: bool


class RetrievalLike(Protocol):
    def suggest(self, latest: str, previous: str | None = None, *, language: str | None = None,
                k: int | None = None) -> SuggestionLike: ...

    def get_article(self, article_id: str) -> Any | None: ...


class ReplyDraftLike(Protocol):
    text: str
    cited_ids: Sequence[str]


DraftFn = Callable[[Any, str, str], ReplyDraftLike]
"""(article, query, language) -> draft; the real one is ``assist.services.build_draft(settings)``."""


def no_mask(text: str, language: str) -> str:
    return text


@dataclass
class Pipeline:
    asr: AsrEngineLike
    retrieval: RetrievalLike
    summarizer: Summarizer | None = None
    draft: DraftFn | None = None
    mask: Callable[[str, str], str] = no_mask
    """The service's ``summarize.masking.Masker`` (rolling window over finals, the partial rule); a plain
    ``(text, language)`` function (test fakes) masks each text on its own."""
    executor: Executor | None = None
    """Runs retrieval, drafts and summaries off the event loop (``None`` = the loop's default)."""
    top_k: int = 3
    uncertain_below: float | None = None
    """Numbers of a final whose pieces fall under this probability are uncertain (``summarize/uncertain.py``);
    ``None``: the calibrated default, 0: none are."""
