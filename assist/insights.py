"""What one live call leaves for guidance, QA and knowledge managers, kept beside ``CallSession``: the guidance
checklist (published as ``checklist`` events when it changes), every customer request with what the knowledge
base answered (``kb_requests``, the source of knowledge gaps) and, at the end, the call's QA metrics.

Runs on the event loop; every write goes through the call's ``StoreWriter`` in order with the call's events, so
the QA metrics, computed in the writer's thread after the call's finals and alerts committed, see all of them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from assist.alerts.sentiment import score_sentiment
from assist.checklist import Checklists, ChecklistState, load_checklists
from assist.events import ChecklistEvent
from assist.qa import QaMetrics, QaTurn, compute_qa
from assist.store_insights import RequestOutcome
from retrieval.base import Suggestion
from summarize.base import ArticleRef, Turn
from summarize.notes import ChecklistMark

if TYPE_CHECKING:
    from assist.store import CallStore
    from assist.store_writer import StoreWriter

log = logging.getLogger(__name__)

CATEGORY_CONFIDENCE = frozenset({"high", "medium"})  # a low card's category is too often not the call's


class CallInsights:
    def __init__(self, call_id: str, writer: StoreWriter | None, *, checklists: Checklists | None = None,
                 history: Sequence[Turn] = (), matched: Sequence[ArticleRef] = ()) -> None:
        self.call_id = call_id
        self.writer = writer
        self.checklist = ChecklistState(checklists or load_checklists())
        for turn in history:  # a reconnected call keeps what its earlier epochs did
            if turn.speaker == "agent":
                self.checklist.observe_agent(turn.text, turn.index)
            else:
                self.checklist.observe_customer()
        for ref in matched:
            self.checklist.add_category(ref.category)

    def event(self) -> ChecklistEvent:
        return ChecklistEvent(call_id=self.call_id, items=self.checklist.marks(),
                              categories=self.checklist.categories)

    def marks(self) -> list[ChecklistMark]:
        return self.checklist.marks()

    def on_customer(self) -> None:
        self.checklist.observe_customer()

    def on_agent(self, text: str, turn: int) -> ChecklistEvent | None:
        """An agent final; the checklist event to publish when it completed an item."""
        return self.event() if self.checklist.observe_agent(text, turn) else None

    def on_request(self, utterance_id: str, kind: str, suggestion: Suggestion | None,
                   language: str | None) -> ChecklistEvent | None:
        """A customer request or complaint and what retrieval answered (``None``: the search failed); the
        checklist event to publish when a confident top card brought its category's items."""
        hits = [] if suggestion is None or suggestion.abstained else suggestion.hits
        top = hits[0] if hits else None
        outcome: RequestOutcome = ("no_card" if top is None else
                                   "low_confidence" if all(h.confidence == "low" for h in hits) else "cards")
        if self.writer is not None and suggestion is not None:
            articles = [h.article_id for h in hits]
            confidence = top.confidence if top is not None else None
            self.writer.submit(lambda s: s.add_request(self.call_id, utterance_id, kind=kind, outcome=outcome,
                                                       confidence=confidence, articles=articles, language=language))
        if top is not None and top.confidence in CATEGORY_CONFIDENCE and self.checklist.add_category(top.category):
            return self.event()
        return None

    def finish(self) -> None:
        """At the call's end, after its last events were published: QA metrics computed and stored in order."""
        if self.writer is None:
            return
        marks = self.marks()
        self.writer.submit(lambda s: record_qa(s, self.call_id, marks))


def record_qa(store: CallStore, call_id: str, checklist: Sequence[ChecklistMark] = ()) -> QaMetrics:
    """The call's QA metrics from its stored finals and alerts; stored with it (and returned)."""
    turns = [t for t in (QaTurn.from_row(r) for r in store.utterances(call_id)) if t is not None]
    metrics = compute_qa(turns, sentiment=lambda text: score_sentiment(text).score, checklist=checklist,
                         alerts=store.alert_count(call_id))
    store.save_qa(call_id, metrics.model_dump(mode="json"))
    return metrics
