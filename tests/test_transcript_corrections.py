"""Vocabulary corrections reach the widget: a final's ``corrected`` spans say what the recognizer heard."""

from __future__ import annotations

import asyncio
import json
import time

from support.live import FakeAsr, FakeRetrieval

from asr.base import Correction, Utterance
from assist.events import TranscriptEvent, parse_event
from assist.hub import CallHub
from assist.session import CallOptions, CallSession
from assist.stages import CallStages
from summarize.extractive import ExtractiveSummarizer
from summarize.masking import Masker


def _final(uid: str, text: str, corrections: tuple[Correction, ...], start: float = 0.0) -> Utterance:
    return Utterance("c", "customer", uid, text, True, start, start + 1.0, "ja", latency_s=0.1,
                     corrections=corrections)


def test_wire_event_keeps_what_was_heard() -> None:
    text = "先月のご請求が高いです。"
    ev = _final("u1", text, (Correction("1000月", "先月", 0, 2), Correction("5成球", "ご請求", 3, 6)))
    wire = TranscriptEvent.of(ev, text=text, language="ja")
    # 1000月 holds a run of 4 digits, which may be personal data: corrected, but its heard form is not sent
    assert [(text[s.start:s.end], s.heard) for s in wire.corrected] == [("ご請求", "5成球")]


def test_a_correction_masking_moved_or_a_long_digit_run_is_left_out() -> None:
    text = "口座番号は1234567の口座です。"
    masked = "口座番号は*******の口座です。"
    ev = _final("u2", text, (Correction("講座", "口座", 13, 15), Correction("5678講座", "口座", 0, 2)))
    wire = TranscriptEvent.of(ev, text=masked, language="ja")
    assert [(s.start, s.end, s.heard) for s in wire.corrected] == [(13, 15, "講座")]
    shifted = TranscriptEvent.of(ev, text="[番号]の口座です。", language="ja")
    assert shifted.corrected == [], "offsets that no longer hold the replacement are not sent"


async def test_session_sends_corrections_on_the_final() -> None:
    loop = asyncio.get_running_loop()
    hub = CallHub("c", loop=loop, writer=None, queue_size=64)
    stages = CallStages(asr=FakeAsr(), retrieval=FakeRetrieval(), mask=Masker(), summarizer=ExtractiveSummarizer())
    session = CallSession("c", CallOptions(language="ja", legs=("customer", "agent")), stages=stages, hub=hub,
                          writer=None, loop=loop, status_interval_s=60)
    widget, _ = hub.subscribe(0)
    session._on_transcript(_final("c0", "お荷物が届きません。", (Correction("オニモ2", "お荷物", 0, 3),)),
                           time.monotonic())
    await session.end("stop")
    finals = []
    while widget.queue.qsize():
        env = widget.queue.get_nowait()
        if getattr(env, "json", None):
            event = parse_event(json.loads(env.json))
            if isinstance(event, TranscriptEvent) and event.final:
                finals.append(event)
    assert [(f.text[s.start:s.end], s.heard) for f in finals for s in f.corrected] == [("お荷物", "オニモ2")]
