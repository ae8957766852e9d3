"""The live session turns a final's word probabilities into ``uncertain`` spans of the masked text it sends, and
the call's notes flag those numbers instead of stating them."""

from __future__ import annotations

import asyncio
import json
import time

from support.live import FakeAsr, FakeRetrieval

from asr.base import Utterance, Word
from assist.events import TranscriptEvent, parse_event
from assist.hub import CallHub
from assist.session import CallOptions, CallSession
from assist.stages import CallStages
from summarize.extractive import ExtractiveSummarizer
from summarize.masking import Masker


def _final(uid: str, words: list[tuple[str, float]], start: float, leg: str = "customer") -> Utterance:
    text = "".join(w for w, _ in words).strip()
    return Utterance("c", leg, uid, text, True, start, start + 0.8, "ja", latency_s=0.1,  # type: ignore[arg-type]
                         words=tuple(Word(w, p) for w, p in words))


def _sure(text: str) -> list[tuple[str, float]]:
    return [(c, 0.99) for c in text]


async def test_transcript_events_carry_uncertain_spans_and_notes_flag_them() -> None:
    loop = asyncio.get_running_loop()
    hub = CallHub("c", loop=loop, writer=None, queue_size=256)
    stages = CallStages(asr=FakeAsr(), retrieval=FakeRetrieval(), mask=Masker(), summarizer=ExtractiveSummarizer(),
                        uncertain_below=0.5)
    session = CallSession("c", CallOptions(language="ja", legs=("customer", "agent")), stages=stages, hub=hub,
                          writer=None, loop=loop, status_interval_s=60)
    widget, _ = hub.subscribe(0)
    finals = [
        _final("a0", _sure("お電話ありがとうございます。さくら銀行でございます。"), 0.0, "agent"),
        # 先月 misheard as 1000月 with little confidence; the amount heard well
        _final("c0", [*_sure("あの、"), ("1000", 0.12), *_sure("月の請求が"), ("5", 0.98), ("400", 0.97),
                      *_sure("円だったんですけど、引き落とされてないんです。")], 1.0),
        _final("a1", _sure("ご本人確認のため、お電話番号をお願いいたします。"), 3.0, "agent"),
        # a phone number: masked, so never flagged even though unsure
        _final("c1", [*_sure("電話は"), ("090", 0.2), ("-1234-", 0.3), ("5678", 0.2), *_sure("です。")], 4.0),
        _final("a2", _sure("確認いたしました。引き落としは来週になります。"), 6.0, "agent"),
        _final("c2", _sure("わかりました。ありがとうございます。"), 8.0),
    ]
    for ev in finals:
        session._on_transcript(ev, time.monotonic())
    await session.end("stop")
    seen = []
    while widget.queue.qsize():
        env = widget.queue.get_nowait()
        if getattr(env, "json", None):
            seen.append(parse_event(json.loads(env.json)))
    transcripts = {e.utterance_id: e for e in seen if isinstance(e, TranscriptEvent) and e.final}
    c0 = transcripts["c0"]
    assert [c0.text[s.start:s.end] for s in c0.uncertain] == ["1000月"], c0
    c1 = transcripts["c1"]
    assert "[電話番号]" in c1.text and c1.uncertain == [], "a masked number needs no flag"
    assert all(not e.uncertain for uid, e in transcripts.items() if uid not in ("c0",))
    [summary] = [e for e in seen if e.type == "summary"]
    notes = summary.notes
    text = json.dumps(notes.model_dump(exclude={"to_confirm"}), ensure_ascii=False)
    assert "1000月(要確認)" in text, text
    assert "1000月" not in text.replace("1000月(要確認)", ""), "the misheard number is never stated as fact"
    assert [(e.text, e.value) for e in notes.to_confirm] == [("1000月", "1000")]
    assert "5400" not in [e.value for e in notes.to_confirm]


async def test_a_final_masked_after_the_fact_is_resent_with_its_new_spans() -> None:
    loop = asyncio.get_running_loop()
    hub = CallHub("c", loop=loop, writer=None, queue_size=256)
    stages = CallStages(asr=FakeAsr(), retrieval=FakeRetrieval(), mask=Masker(), uncertain_below=0.5)
    session = CallSession("c", CallOptions(language="ja", legs=("customer", "agent")), stages=stages, hub=hub,
                          writer=None, loop=loop, status_interval_s=60)
    widget, _ = hub.subscribe(0)
    session._on_transcript(_final("c0", [*_sure("3日前に、カード番号は4532 "), ("0151", 0.3)], 0.0), time.monotonic())
    session._on_transcript(_final("c1", [*_sure("1283 0366です")], 1.0), time.monotonic())
    await session.end("stop")
    sent = [json.loads(widget.queue.get_nowait().json) for _ in range(widget.queue.qsize() - 1)]
    c0 = [e for e in sent if e["type"] == "transcript" and e["utterance_id"] == "c0"]
    assert [c0[0]["text"][s["start"]:s["end"]] for s in c0[0]["uncertain"]] == ["4532 0151"]
    assert c0[-1]["text"] == "3日前に、カード番号は[カード番号]" and c0[-1]["uncertain"] == []
    _, memory = hub.subscribe(0)
    assert memory is not None
    remembered = [json.loads(env.json) for env in memory if env.type == "transcript"]
    assert all(e.get("uncertain", []) == [] for e in remembered if e["utterance_id"] == "c0"), \
        "no span of the old text survives in the replay memory"
