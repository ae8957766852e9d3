"""A whole call through the real server with fake models: events, dedupe, drafts, notes, persistence, resume."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from support.live import FakeAsr, FakeRetrieval, connect, fake_mask, recv_all, silence
from support.samples import RETURN_EN

from assist.events import parse_event
from assist.replay import ReplayTurn, replay_call
from assist.services import build_draft
from assist.stages import CallStages
from config import Settings
from knowledge.article import Article
from retrieval.base import Hit, Suggestion

CUSTOMER = ["カードをなくしました", "カードをなくしたんです", "手数料はかかりますか", "番号は1234です"]
RESPONSES = {
    "カードをなくしました": ["lost-card", "reissue"],
    "カードをなくしたんです": ["lost-card", "reissue"],  # nothing new: no event
    "手数料はかかりますか": ["fees", "reissue"],  # fees is new on top; reissue, shown at rank 2 already, is not resent
    "番号は****です": ["lost-card"],
}


async def test_call_events_dedupe_drafts_summary_and_store(live) -> None:
    srv = live({"customer": CUSTOMER, "agent": ["お電話ありがとうございます"]}, RESPONSES)
    events = await replay_call(srv.url, "call-1", {"customer": silence(2.2), "agent": silence(1.0)},
                               realtime=False, timeout_s=30)
    for e in events:
        parse_event(e)  # every event matches the protocol models
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    types = [e["type"] for e in events]
    assert types[0] == "call_started" and types[-2:] == ["call_ended", "summary"]

    finals = [e for e in events if e["type"] == "transcript" and e["final"]]
    assert {e["leg"] for e in finals} == {"customer", "agent"}
    assert "番号は****です" in [e["text"] for e in finals], "transcripts are masked before they are sent"
    assert not any(e["type"] == "transcript" and not e["final"] and e["text"] == "" for e in events)

    suggestions = [e for e in events if e["type"] == "suggestions"]
    shown = [[(i["article_id"], i["rank"]) for i in e["items"]] for e in suggestions]
    assert shown == [[("lost-card", 1), ("reissue", 2)], [("fees", 1)]]
    assert all(e["query"] and e["latency_ms"] >= 0 and e["speech_to_suggestion_ms"] > 0 for e in suggestions)
    agent_ids = {e["utterance_id"] for e in finals if e["leg"] == "agent"}
    assert not any(e["utterance_id"] in agent_ids for e in suggestions), "no cards for the agent's own speech"

    drafts = [e for e in events if e["type"] == "reply_draft"]
    assert [d["article_id"] for d in drafts] == ["lost-card", "fees"]
    assert drafts[0]["cited_ids"] == ["lost-card"] and "ご案内" in drafts[0]["text"]

    notes = events[-1]["notes"]
    assert notes["inquiry"][0]["text"] == "カードをなくしました"
    matched = srv.services.stages.summarizer.articles
    assert [a.article_id for a in matched] == ["lost-card", "fees"], "the notes name top cards only, not every card shown"
    assert notes["disposition"] == "カードを紛失・盗難にあった場合"

    async with httpx.AsyncClient(base_url=srv.http) as client:
        detail = (await client.get("/api/calls/call-1")).json()
    assert detail["state"] == "ended" and detail["end_reason"] == "stop"
    assert [u["text"] for u in detail["utterances"] if u["leg"] == "customer"] == [
        "カードをなくしました", "カードをなくしたんです", "手数料はかかりますか", "番号は****です"]
    assert [s["article_id"] for s in detail["suggestions"]] == ["lost-card", "reissue", "fees"]
    assert detail["summary"]["notes"]["inquiry"][0]["text"] == "カードをなくしました"


async def test_resume_after_seq_from_memory_and_store(live) -> None:
    srv = live({"customer": CUSTOMER[:3]}, RESPONSES)
    events = await replay_call(srv.url, "call-r", turns=[ReplayTurn("customer", silence(1.6))], realtime=False,
                               timeout_s=30)
    last = events[-1]["seq"]
    async with await connect(f"{srv.url}/ws/calls/call-r/events?after_seq=3") as ws:
        again = await recv_all(ws)
    assert [e["seq"] for e in again] == list(range(4, last + 1))
    assert again == events[3:]

    # a new process (same database) replays the ended call from the store
    srv.__exit__(None, None, None)
    srv2 = live({}, {})
    async with await connect(f"{srv2.url}/ws/calls/call-r/events?after_seq={last - 2}") as ws:
        tail = await recv_all(ws)
    assert [e["type"] for e in tail] == ["call_ended", "summary"]


async def test_interim_results_off_sends_finals_only(live) -> None:
    srv = live({"customer": CUSTOMER[:2]}, RESPONSES)
    events = await replay_call(srv.url, "call-i", {"customer": silence(1.1)}, realtime=False,
                               start_options={"interim_results": False}, timeout_s=30)
    transcripts = [e for e in events if e["type"] == "transcript"]
    assert len(transcripts) == 2 and all(e["final"] for e in transcripts)


async def test_stereo_socket_carries_both_legs(live) -> None:
    srv = live({"customer": CUSTOMER[:1], "agent": ["承知しました"]}, RESPONSES)
    events = await replay_call(srv.url, "call-s", {"customer": silence(0.6), "agent": silence(0.6)}, stereo=True,
                               realtime=False, timeout_s=30)
    assert events[0]["legs"] == ["customer", "agent"]
    legs = {e["leg"] for e in events if e["type"] == "transcript" and e["final"]}
    assert legs == {"customer", "agent"}


class _BilingualKb(FakeRetrieval):
    """An English article for the refund question, Japanese ones otherwise."""

    def suggest(self, latest: str, previous: str | None = None, *, language: str | None = None,
                k: int | None = None) -> Suggestion:
        if latest != "返金はいつですか":
            return super().suggest(latest, previous, language=language, k=k)
        hit = Hit(RETURN_EN.article_id, RETURN_EN.title, RETURN_EN.answer[:40], 0.9, language="en", confidence="high")
        return Suggestion(latest, [hit], 5.0, abstained=False)

    def get_article(self, article_id: str) -> Article | None:
        if article_id != RETURN_EN.article_id:
            return super().get_article(article_id)
        return Article(id=article_id, title=RETURN_EN.title, answer=RETURN_EN.answer, language="en")


async def test_draft_from_an_article_in_another_language_is_in_its_language_and_flagged(
    live, tmp_path: Path
) -> None:
    customer = ["カードをなくしました", "返金はいつですか"]
    stages = CallStages(asr=FakeAsr({"customer": customer}), retrieval=_BilingualKb({customer[0]: ["lost-card"]}),
                        draft=build_draft(Settings(home=tmp_path)), mask=fake_mask)
    srv = live(stages=stages)
    events = await replay_call(srv.url, "call-x", {"customer": silence(1.1)}, realtime=False, timeout_s=30)
    same, other = [e for e in events if e["type"] == "reply_draft"]
    assert (same["language"], same["cross_lingual"]) == ("ja", False)
    assert same["text"].endswith("ほかにご不明な点はございますか。")
    assert (other["article_id"], other["language"], other["cross_lingual"]) == ("return-policy-en", "en", True)
    # English throughout (no Japanese courtesy around English answers), and still grounded in the article
    assert not re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", other["text"])
    assert other["text"].startswith("Thank you for your question.") and "5 business days" in other["text"]
