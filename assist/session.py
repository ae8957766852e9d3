"""One live call: audio in per leg, transcript / suggestion / draft / summary events out.

Runs on the event loop; every model call (retrieval, drafts, notes) goes to an executor and ASR events
arrive from the engine's threads through ``call_soon_threadsafe``. Suggestions for one call are
processed in utterance order, so deduplication sees them in the order the customer spoke.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

from asr.audio import SAMPLE_RATE
from asr.base import Leg, LegAudio, Utterance
from assist import metrics
from assist.alerts.engine import FinalTurn
from assist.customer_turns import CustomerFinal, CustomerTurn, TurnAssembler, rejoin_amounts
from assist.events import (
    CallEndedEvent,
    CallStartedEvent,
    ChecklistEvent,
    OutboundEvent,
    ReplyDraftEvent,
    StatusEvent,
    SuggestionItem,
    SuggestionsEvent,
    SummaryEvent,
    TranscriptEvent,
)
from assist.hub import CallHub
from assist.insights import CallInsights
from assist.stages import CallStages
from assist.store_writer import StoreWriter
from assist.topic import TopicState
from common.openers import opens_new_topic
from retrieval.turns import should_query
from summarize.base import ArticleRef, Turn
from summarize.masking import Correction, LegWindow, Masker
from summarize.reply import ReplyDraft
from summarize.uncertain import DEFAULT_THRESHOLD, uncertain_spans

log = logging.getLogger(__name__)

EndReason = Literal["stop", "disconnect", "error", "shutdown"]


@dataclass(frozen=True, slots=True)
class CallOptions:
    """Per-call choices from the ``start`` message."""

    language: str  # ja | en | auto
    legs: tuple[Leg, ...]
    source: Literal["websocket", "twilio"] = "websocket"
    interim_results: bool = True
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass
class _Final:
    """A recent final, as ``_redact`` needs it to re-send and re-store it masked."""

    utterance: Utterance  # as recognized (its ``words``: for the uncertain spans of a re-masked text)
    language: str
    turn: int
    customer: CustomerFinal | None


class CallSession:
    def __init__(self, call_id: str, options: CallOptions, *, stages: CallStages, hub: CallHub,
                 writer: StoreWriter | None, loop: asyncio.AbstractEventLoop, status_interval_s: float = 2.0,
                 leg_flush_timeout_s: float = 30.0, epoch: int = 0, history: Sequence[Turn] = (),
                 matched: Sequence[ArticleRef] = ()) -> None:
        self.call_id = call_id
        self.epoch = epoch  # 0 for a new call, +1 on every reconnect (``_in_epoch``)
        self.options = options
        self.stages = stages
        self.hub = hub
        self.writer = writer
        self.loop = loop
        self.started = time.time()
        self.state: Literal["live", "ending", "ended"] = "live"
        self._legs: dict[Leg, LegAudio] = {}
        self._audio_samples: dict[Leg, int] = {}
        self._sources = 0
        self._turns: list[Turn] = list(history)  # a reconnected call's notes cover its earlier epochs too
        self._shown: dict[str, int] = {}  # article_id -> best rank shown
        # articles that came up as the top card, for the notes' 用件: every card ever shown would bury the one
        # that mattered under lookalikes
        self._matched: dict[str, ArticleRef] = {a.article_id: a for a in matched}
        self._last_drafted: str | None = None
        self._drafts: asyncio.Task[None] | None = None  # the newest draft; it awaits the ones before it
        self._assembler = TurnAssembler(stages.join_gap_s)  # a turn split by pauses is searched as one
        self._asked: CustomerTurn | None = None  # the last turn searched: context for the next one's search
        self._before: CustomerTurn | None = None  # the one searched before it (a later final's context)
        self.topic = TopicState()
        self._alerts = (stages.alerts.for_call(call_id, publish=self.publish, loop=loop, executor=stages.executor)
                        if stages.alerts is not None else None)
        self.insights = CallInsights(call_id, writer, history=history, matched=matched,  # checklist, requests, QA
                                     checklists=stages.checklists)
        self._top_title: str | None = None  # the latest request turn's best card: the supervisor's "topic"
        self._spoken_language: str | None = None  # detected, for calls started with language "auto"
        self._pending: asyncio.Queue[CustomerFinal | None] = asyncio.Queue()
        self._windows: dict[Leg, LegWindow] = {}  # per leg: numbers read across finals (summarize/masking.py)
        self._finals: dict[str, _Final] = {}  # the last few finals, by utterance id
        self._suggester = loop.create_task(self._suggest_loop(), name=f"suggest-{call_id}")
        self._status_interval = status_interval_s
        self._status_task = loop.create_task(self._status_loop(), name=f"status-{call_id}")
        self._flush_timeout = leg_flush_timeout_s
        self.ended = asyncio.Event()

    @property
    def sources(self) -> int:
        """Audio sockets currently attached."""
        return self._sources

    @property
    def asr_language(self) -> str | None:
        return None if self.options.language == "auto" else self.options.language

    def publish(self, event: OutboundEvent) -> int:
        metrics.EVENTS_TOTAL.labels(event.type).inc()
        return self.hub.publish(event)

    def announce(self) -> None:
        self.publish(CallStartedEvent(call_id=self.call_id, language=self.options.language,
                                      legs=list(self.options.legs), source=self.options.source,
                                      metadata=self.options.metadata))

    # ------------------------------------------------------------ audio sources

    def attach(self, legs: list[Leg]) -> None:
        """An audio socket takes ``legs``; raises ``ValueError`` if one is already streaming."""
        busy = [leg for leg in legs if leg in self._legs]
        if busy:
            raise ValueError(f"leg {busy[0]} of call {self.call_id} is already streaming")
        for leg in legs:
            self._legs[leg] = self.stages.asr.open_leg(self.call_id, leg, language=self.asr_language,
                                                       on_event=self._from_asr_thread)
            self._audio_samples.setdefault(leg, 0)
        self._sources += 1

    def feed(self, leg: Leg, samples: np.ndarray) -> None:
        stream = self._legs.get(leg)
        if stream is None or self.state != "live":  # audio racing the end of the call is dropped
            return
        stream.feed(samples)
        self._audio_samples[leg] = self._audio_samples.get(leg, 0) + len(samples)

    async def detach(self, legs: list[Leg], reason: EndReason) -> None:
        """The socket that carried ``legs`` is done: flush them; the last source ends the call."""
        streams = [self._legs[leg] for leg in legs if leg in self._legs]
        for stream in streams:
            stream.close()
        await asyncio.gather(*(self.loop.run_in_executor(None, self._join, s) for s in streams))
        self._sources -= 1
        if self._sources <= 0 and self.state == "live":
            await self.end(reason)

    def _join(self, stream: LegAudio) -> None:
        if not stream.join(self._flush_timeout):
            log.warning("call %s: a leg did not flush within %.0f s", self.call_id, self._flush_timeout)

    # ------------------------------------------------------------ transcripts

    def _from_asr_thread(self, event: Utterance) -> None:
        received = time.monotonic()
        self.loop.call_soon_threadsafe(self._on_transcript, self._in_epoch(event), received)

    def _in_epoch(self, event: Utterance) -> Utterance:
        """Recognizer ids restart at ``<leg>-0`` whenever a call is (re)opened: a reconnect's ids become
        ``e<epoch>:<id>``, so they never collide with (or overwrite) the stored rows of earlier epochs."""
        if not self.epoch:
            return event
        return replace(event, utterance_id=f"e{self.epoch}:{event.utterance_id}")

    def _on_transcript(self, ev: Utterance, received: float) -> None:
        if self.state == "ended":
            return
        language = ev.language or self.asr_language or "ja"
        if ev.final and ev.leg == "customer":
            self._spoken_language = language
        text, corrections = self._mask(ev, language)
        if not ev.final:
            if self.options.interim_results:
                self.publish(TranscriptEvent.of(ev, text=text, language=language))
            else:
                metrics.PARTIALS_DROPPED.inc()
            return
        metrics.SPEECH_TO_FINAL.labels(ev.leg).observe(ev.latency_s)
        unsure = self._uncertain(text, ev.words, language)
        if self.writer is not None and text.strip():  # stored before the event's own commit: a final seen is stored
            self.writer.submit(lambda s: s.add_utterance(self.call_id, ev.utterance_id, leg=ev.leg, text=text,
                                                          start=ev.start, end=ev.end))
        self.publish(TranscriptEvent.of(ev, text=text, language=language, uncertain=unsure))
        self._redact(corrections)
        if not text.strip():
            return
        self._turns.append(Turn(index=len(self._turns), speaker=ev.leg, text=text, start=ev.start, end=ev.end,
                                uncertain=unsure))
        if self._alerts is not None:  # alert rules (assist/alerts/): right behind the final's transcript event
            self._alerts.on_final(FinalTurn(ev.utterance_id, ev.leg, text, ev.start, ev.end, len(self._turns) - 1,
                                            language))
        customer = None
        if ev.leg == "customer":
            prompt = next((t.text for t in reversed(self._turns) if t.speaker == "agent"), None)
            customer = CustomerFinal(ev.utterance_id, text, received - ev.latency_s, len(self._turns) - 1,
                                     start=ev.start, end=ev.end, prompt=prompt)
            self._assembler.customer(customer, language)
            self._pending.put_nowait(customer)
            self.insights.on_customer()
        else:
            self._assembler.agent(text)
            self.topic.observe_agent(text)
            self._publish_checklist(self.insights.on_agent(text, len(self._turns) - 1))
        self._finals[ev.utterance_id] = _Final(ev, language, len(self._turns) - 1, customer)
        if len(self._finals) > 32:
            del self._finals[next(iter(self._finals))]

    def _uncertain(self, text: str, words: Sequence[tuple[str, float]], language: str
                   ) -> tuple[tuple[int, int], ...]:
        """Spans of the (masked) final text holding numbers the recognizer was unsure of."""
        below = self.stages.uncertain_below
        return tuple(uncertain_spans(text, words, language, DEFAULT_THRESHOLD if below is None else below))

    def _mask(self, ev: Utterance, language: str) -> tuple[str, tuple[Correction, ...]]:
        """Partials lose every run of ≥ 4 digits besides what finals lose; a final goes through its leg's
        rolling window, which may also correct the leg's earlier finals (``_redact``). A plain mask
        function (test fakes) masks each text on its own."""
        mask = self.stages.mask
        if not isinstance(mask, Masker):
            return mask(ev.text, language), ()
        if not ev.final:
            return mask.mask_partial(ev.text, language), ()
        if not ev.text.strip():
            return ev.text, ()
        window = self._windows.get(ev.leg) or self._windows.setdefault(ev.leg, mask.window())
        result = window.push(ev.utterance_id, ev.text, language, at=ev.end)
        return result.text, result.corrections

    def _redact(self, corrections: Sequence[Correction]) -> None:
        """A number read across finals reached back into earlier ones: each is sent again, masked, as a final
        with its utterance id (the widget replaces the line), and its stored row, its stored events and the
        hub's replay memory are rewritten; the notes' turn and a pending search query take the new text."""
        for c in corrections:
            uid = str(c.key)
            final = self._finals.get(uid)
            if final is None:
                continue
            unsure = self._uncertain(c.text, final.utterance.words, final.language)
            self._turns[final.turn] = replace(self._turns[final.turn], text=c.text, uncertain=unsure)
            if final.customer is not None:
                final.customer.text = c.text
                final.customer.redacted.extend(c.fragments)
            self.publish(TranscriptEvent.of(final.utterance, text=c.text, language=final.language, uncertain=unsure))
            self._store_redaction(uid, c)

    def _store_redaction(self, uid: str, c: Correction) -> None:
        """The stored row and events of ``uid`` take the masked text; the hub's replay memory follows once that
        committed."""
        if self.writer is None:
            self.hub.redact(uid, c.text, c.fragments)
            return
        self.writer.submit(lambda s: s.redact_utterance(self.call_id, uid, c.text, c.fragments),
                           lambda: self.loop.call_soon_threadsafe(self.hub.redact, uid, c.text, c.fragments))

    def _publish_checklist(self, event: ChecklistEvent | None) -> None:
        if event is not None:
            self.publish(event)

    # ------------------------------------------------------------ suggestions

    async def _suggest_loop(self) -> None:
        while (item := await self._pending.get()) is not None:
            try:
                await self._suggest(item)
            except Exception:
                log.exception("call %s: suggestions failed for %s", self.call_id, item.utterance_id)

    async def _suggest(self, item: CustomerFinal) -> None:
        final_at = time.monotonic()
        language = self.asr_language or self._spoken_language
        group = item.group or CustomerTurn(language or "ja", [item])
        kind = item.kind_of(group.language)
        metrics.CUSTOMER_TURNS.labels(kind.value).inc()
        if not should_query(kind):  # greetings, identity data, answers and closings never replace the cards
            return
        if group.superseded(item):  # the turn's next final is queued and asks too: its search covers this one
            return
        text = group.text(item)
        context = self._asked if self._asked is not group else self._before
        self._before, self._asked = context, group
        previous = context.text() if context is not None else None
        suggestion = await self.loop.run_in_executor(
            self.stages.executor,
            lambda: self.stages.retrieval.suggest(text, previous, language=language, k=self.stages.top_k),
        )
        self._publish_checklist(self.insights.on_request(item.utterance_id, kind.value, suggestion, language))
        if suggestion.abstained or not suggestion.hits:
            return
        keeps = (self.stages.keep_topic_cards and not group.refines()  # a turn's later final refines its cards
                 and self.topic.keeps_cards(suggestion.hits, self._shown, new_topic=opens_new_topic(text)))
        if keeps:
            log.debug("call %s: %s follows up on the topic on screen; cards kept", self.call_id, item.utterance_id)
            return
        self.topic.observe_request(suggestion.hits, group.first_asking(item).turn)
        items: list[SuggestionItem] = []
        top = suggestion.hits[0]
        if group.matched not in (None, top.article_id):  # the turn's earlier final named another 用件: refined
            self._matched.pop(str(group.matched), None)
            group.matched = None
        if top.article_id not in self._matched:
            self._matched[top.article_id] = ArticleRef(top.article_id, top.title, top.category,
                                                       turn=group.first_asking(item).turn, confidence=top.confidence)
            group.matched = top.article_id
        self._top_title = top.title
        for rank, hit in enumerate(suggestion.hits, start=1):
            best = self._shown.get(hit.article_id)
            if best is not None and best <= rank:
                continue
            self._shown[hit.article_id] = rank
            items.append(SuggestionItem(article_id=hit.article_id, title=hit.title, snippet=hit.snippet,
                                        score=round(float(hit.score), 4), rank=rank,
                                        category=hit.category, confidence=hit.confidence))
        if not items:
            return
        group.pushed = True
        now = time.monotonic()
        speech_ms = (now - item.speech_end) * 1000
        query = suggestion.query  # the next final may have masked part of this turn (or its context) meanwhile
        for raw, label in [*group.redactions(), *(context.redactions() if context is not None else ())]:
            query = query.replace(raw, label)
        if self.writer is not None:  # queued before the event, whose delivery waits for its own commit: a card
            rows = [(i.article_id, i.title, i.rank, i.score) for i in items]  # seen is a card stored
            self.writer.submit(lambda s: s.add_suggestions(self.call_id, item.utterance_id, query, rows))
        self.publish(SuggestionsEvent(call_id=self.call_id, utterance_id=item.utterance_id, query=query,
                                      items=items, latency_ms=round(suggestion.latency_ms, 1),
                                      speech_to_suggestion_ms=round(speech_ms, 1)))
        metrics.FINAL_TO_SUGGESTIONS.observe(now - final_at)
        metrics.SPEECH_TO_SUGGESTIONS.observe(speech_ms / 1000)
        # a draft puts words in the agent's mouth: only from a high-confidence top card the call's topic supports;
        # medium and low cards are shown without one
        draftable = top.confidence == "high" and self.topic.supports(top.article_id)
        if self.stages.draft is not None and draftable and top.article_id != self._last_drafted:
            self._last_drafted = top.article_id
            # A mixed-language draft (call-language courtesy around article-language answers) can be read out
            # by nobody, and a translation could not be checked against the article: the draft is in the
            # article's language and the event says when that is not the call's.
            draft_language = top.language or language or "ja"
            cross_lingual = language is not None and draft_language != language
            # drafts (a rewrite may wait seconds on its endpoint) run beside the next utterance's retrieval,
            # one after another so the newest draft is the last one sent
            self._drafts = self.loop.create_task(
                self._draft(self._drafts, item, top.article_id, draft_language, cross_lingual),
                name=f"draft-{self.call_id}-{item.utterance_id}")

    async def _draft(self, previous: asyncio.Task[None] | None, item: CustomerFinal, article_id: str, language: str,
                     cross_lingual: bool) -> None:
        if previous is not None:
            await previous
        draft_fn = self.stages.draft
        if draft_fn is None:
            return

        def make() -> ReplyDraft | None:
            article = self.stages.retrieval.get_article(article_id)  # may read the KB database
            turn = item.group.text(item) if item.group is not None else item.text  # the whole turn, as searched
            return None if article is None else draft_fn(article, turn, language)

        try:
            draft = await self.loop.run_in_executor(self.stages.executor, make)
        except Exception:
            log.exception("call %s: reply draft failed for %s", self.call_id, item.utterance_id)
            return
        if draft is None:
            return
        text = self.stages.mask(draft.text, language)
        self.publish(ReplyDraftEvent(call_id=self.call_id, utterance_id=item.utterance_id, article_id=article_id,
                                     text=text, cited_ids=list(draft.cited_ids), language=language,
                                     cross_lingual=cross_lingual, backend=draft.backend))

    # ------------------------------------------------------------ status and end

    def status(self) -> StatusEvent:
        lag = {leg: round(float(s.lag_s), 3) for leg, s in self._legs.items()}
        audio = {leg: round(n / SAMPLE_RATE, 2) for leg, n in self._audio_samples.items()}
        talk: dict[str, float] = {}
        for turn in self._turns:
            if turn.start is not None and turn.end is not None:
                talk[turn.speaker] = talk.get(turn.speaker, 0.0) + max(0.0, turn.end - turn.start)
        metadata = self.options.metadata
        return StatusEvent(call_id=self.call_id, state=self.state, lag_s=lag, queue_depth=self._pending.qsize(),
                           audio_s=audio, agent=metadata.get("agent") or metadata.get("owner"),
                           duration_s=round(max(0.0, time.time() - self.started), 2), topic=self._top_title,
                           talk_s={leg: round(s, 2) for leg, s in talk.items()})

    async def _status_loop(self) -> None:
        while self.state == "live":
            await asyncio.sleep(self._status_interval)
            if self.state == "live":
                self.publish(self.status())

    async def end(self, reason: EndReason) -> None:
        """Flush every leg, finish pending suggestions, then ``call_ended`` and the after-call notes."""
        if self.state != "live":
            await self.ended.wait()
            return
        self.state = "ending"
        self._status_task.cancel()
        streams = list(self._legs.values())
        for stream in streams:
            stream.close()
        await asyncio.gather(*(self.loop.run_in_executor(None, self._join, s) for s in streams))
        await asyncio.sleep(0)  # let transcripts scheduled by the flushed legs run
        self._pending.put_nowait(None)
        await self._suggester
        if self._alerts is not None:
            await self._alerts.drain()
        if self._drafts is not None:
            await self._drafts
        duration = time.time() - self.started
        self.publish(CallEndedEvent(call_id=self.call_id, reason=reason, duration_s=round(duration, 2)))
        if self.writer is not None:
            self.writer.submit(lambda s: s.end_call(self.call_id, reason=reason))
        self.insights.finish()  # QA metrics, after every final and alert of the call
        await self._summarize()
        self.state = "ended"
        await self.hub.close()
        self.ended.set()

    async def _summarize(self) -> None:
        summarizer = self.stages.summarizer
        if summarizer is None:
            return
        language = self.asr_language or self._spoken_language or "ja"
        # 該当FAQ names only what the agent's turns confirmed (a top card, or a lower one the agent's words picked);
        # articles of an earlier epoch this topic never saw stay unknown (None)
        confirmed = set(self.topic.confirmed())
        articles = [a if self.topic.weight(a.article_id) == 0 else replace(a, confirmed=a.article_id in confirmed)
                    for a in self._matched.values()]
        articles += [a for a in self.topic.confirmed_refs() if a.article_id not in self._matched]
        started = time.monotonic()
        try:
            notes = await self.loop.run_in_executor(
                self.stages.executor,
                lambda: summarizer.summarize(rejoin_amounts(self._turns, self.stages.join_gap_s), language=language,
                                             articles=articles),
            )
        except Exception:
            log.exception("call %s: summary failed", self.call_id)
            return
        elapsed = time.monotonic() - started
        metrics.SUMMARY_SECONDS.observe(elapsed)
        notes = notes.model_copy(update={"checklist": self.insights.marks()})
        self.publish(SummaryEvent(call_id=self.call_id, notes=notes, latency_ms=round(elapsed * 1000, 1)))
        if self.writer is not None:
            body = notes.model_dump(mode="json")
            self.writer.submit(lambda s: s.save_summary(self.call_id, body))
