"""What a live call needs from the process's stages: one ``CallStages`` shared by every call.

Each stage is typed by its own contract (``asr.base.StreamingRecognizer``, ``retrieval.base.Suggester``,
``summarize.base.Summarizer``). ``Services`` builds the real ones (AsrEngine, RetrievalService, the configured
summarizer, reply drafts, PII masking); tests about the service's own logic pass light fakes that implement
the same protocols (tests/support/live.py, checked by tests/test_contracts.py).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass

from asr.base import StreamingRecognizer
from assist.alerts.live import AlertMonitor
from assist.checklist import Checklists
from assist.customer_turns import DEFAULT_JOIN_GAP_S
from knowledge.article import Article
from retrieval.base import Suggester
from summarize.base import Summarizer
from summarize.reply import ReplyDraft

DraftFn = Callable[[Article, str, str], ReplyDraft]
"""(article, query, language) -> draft; the real one is ``assist.services.build_draft(settings)``."""


def no_mask(text: str, language: str) -> str:
    return text


@dataclass
class CallStages:
    """Not a pipeline: the session decides what runs when (transcripts on the loop, searches, drafts and notes
    on ``executor``); this only hands it the stages and the two settings it reads per call."""

    asr: StreamingRecognizer
    retrieval: Suggester
    summarizer: Summarizer | None = None
    draft: DraftFn | None = None
    mask: Callable[[str, str], str] = no_mask
    """The service's ``summarize.masking.Masker`` (rolling window over finals, the partial rule); a plain
    ``(text, language)`` function (test fakes) masks each text on its own."""
    executor: Executor | None = None
    """Runs retrieval, drafts and summaries off the event loop (``None`` = the loop's default)."""
    top_k: int = 3
    keep_topic_cards: bool = True
    """``retrieval.keep_topic_cards``: a follow-up within the topic on screen leaves its cards."""
    join_gap_s: float = DEFAULT_JOIN_GAP_S
    """``retrieval.join_gap_s``: a customer's finals this close, no agent words between, are one search."""
    uncertain_below: float | None = None
    """Numbers of a final whose pieces fall under this probability are uncertain (``summarize/uncertain.py``);
    ``None``: the calibrated default, 0: none are."""
    alerts: AlertMonitor | None = None
    """The alert rules every call is checked against (``assist/alerts/``); ``None``: no alerts."""
    checklists: Checklists | None = None
    """The guidance checklists (``alerts.checklists_file``); ``None``: the shipped file."""
