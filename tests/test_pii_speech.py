"""Masking that holds on real speech: separators, spelled-out digits, both languages on every text, numbers
read across finals (the rolling window, the stored piece redacted too), the partial rule, and the configured
``privacy.mask_entities`` honoured by every summarizer and by the generative backend's prompt."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest
from support.live import FakeAsr, FakeRetrieval, fake_stages, silence
from support.postgres import StoreTarget
from support.samples import LOST_CARD
from support.wait import async_wait_until

from asr.base import Utterance
from assist.hub import CallHub
from assist.replay import replay_call
from assist.security import RedactingFilter
from assist.services import Services
from assist.session import CallOptions, CallSession
from assist.stages import CallStages
from assist.store import CallStore
from assist.store_writer import StoreWriter
from config import Settings, SummarizeSettings
from eval.pii import CORPUS, KB, evaluate, read_jsonl
from summarize.base import Turn
from summarize.extractive import ExtractiveSummarizer
from summarize.factory import build_summarizer
from summarize.generative import GenerativeSummarizer, Message, build_messages
from summarize.masking import Masker
from summarize.openai_compat import OpenAIChat
from summarize.pii import mask_pii

SEPARATED = [  # (language, text, secret)
    ("en", "My card number is 4532, 0151, 1283, 0366.", "4532, 0151, 1283, 0366"),
    ("ja", "カード番号は4532 - 0151 - 1283 - 0366です", "4532 - 0151 - 1283 - 0366"),
    ("ja", "番号は4532。0151。1283。0366です", "4532。0151。1283。0366"),
    ("ja", "４５３２・０１５１・１２８３・０３６６です", "４５３２・０１５１・１２８３・０３６６"),
    ("ja", "四五三二 〇一五一 一二八三 〇三六六です", "四五三二 〇一五一 一二八三 〇三六六"),
    ("en", "it's four five three two zero one five one one two eight three zero three six six",
     "four five three two zero one five one one two eight three zero three six six"),
    ("ja", "ヨンゴーサンニー、ゼロイチゴーイチ、イチニーハチサン、ゼロサンロクロクです",
     "ヨンゴーサンニー、ゼロイチゴーイチ、イチニーハチサン、ゼロサンロクロク"),
    ("ja", "電話番号は090 - 1234 - 5678です", "090 - 1234 - 5678"),
    ("en", "my number is nine oh nine, five five five, one two three four", "nine oh nine, five five five"),
    ("ja", "誕生日は1985/04/12です", "1985/04/12"),
    # both languages' detectors on every text
    ("ja", "メールはjohn.smith@example.comです", "john.smith@example.com"),
    ("ja", "生年月日はApril 12, 1985です", "April 12, 1985"),
    ("ja", "my email is john dot smith at gmail dot com", "john dot smith at gmail dot com"),
    ("en", "My birthday is 1985年4月12日.", "1985年4月12日"),
]
ORDINARY = [("ja", "ポイントは1,000、2,000、5,000の中から選べます"), ("en", "Prices are 100, 200, 300 and 4,000 yen"),
            ("en", "I need one or two new cards"), ("ja", "田中さんにご案内しました"),
            ("ja", "2024/04/01から新しい料金になります"), ("ja", "お問い合わせ番号は、0120、123、456です")]


@pytest.mark.parametrize(("language", "text", "secret"), SEPARATED, ids=lambda v: str(v)[:20])
def test_every_spelling_is_masked(language: str, text: str, secret: str) -> None:
    masked = Masker()(text, language)
    assert secret not in masked and "[" in masked, masked


@pytest.mark.parametrize(("language", "text"), ORDINARY)
def test_ordinary_numbers_and_words_stay(language: str, text: str) -> None:
    assert Masker()(text, language) == text


def test_labels_follow_the_call_language() -> None:
    assert Masker()("email is a.b@example.com", "ja") == "email is [メール]"
    assert Masker()("メールはa.b@example.comです", "en") == "メールは[EMAIL]です"


def test_corpus_recall_and_no_false_positive_on_the_kb() -> None:
    corpus = read_jsonl(CORPUS)
    report = evaluate(corpus, read_jsonl(KB))
    assert report.recall >= 0.98, report.misses
    assert report.kb_texts >= 100 and not report.kb_fp, report.kb_fp
    assert not report.negative_fp, report.negative_fp
    assert sum(1 for r in corpus if r.get("finals")) >= 5 and sum(1 for r in corpus if r.get("partial")) >= 5


# ---------------------------------------------------------------- partials


def test_partials_lose_every_run_of_four_digits() -> None:
    masker = Masker()
    assert masker.mask_partial("カード番号は4532 0151 1283", "ja") == "カード番号は[番号]"
    assert masker.mask_partial("my card number is 4532, 0151", "en") == "my card number is [NUMBER]"
    assert masker.mask_partial("四五三二 〇一五一", "ja") == "[番号]"
    assert masker.mask_partial("電話は090の", "ja") == "電話は090の", "three digits are not yet a number"
    assert masker.mask_partial("メールはa@b.jpです", "ja") == "メールは[メール]です", "finals' masking applies too"
    # no number-bearing kind configured: digits stay, as in finals
    assert Masker(["email"]).mask_partial("カード番号は4532 0151 1283", "ja") == "カード番号は4532 0151 1283"


# ---------------------------------------------------------------- the rolling window


def test_a_number_split_across_finals_is_masked_in_both() -> None:
    window = Masker().window()
    first = window.push("c0", "カード番号は4532 0151", "ja", at=1.0)
    assert first.text == "カード番号は4532 0151" and not first.corrections, "half a card number is not one yet"
    second = window.push("c1", "1283 0366です", "ja", at=1.6)
    assert second.text == "[カード番号]です"
    (fix,) = second.corrections
    assert fix.key == "c0" and fix.text == "カード番号は[カード番号]"
    assert fix.fragments == (("4532 0151", "[カード番号]"),)


def test_three_pieces_and_phone_numbers() -> None:
    window = Masker().window()
    window.push(0, "電話は090", "ja", at=0.0)
    window.push(1, "1234", "ja", at=0.5)
    last = window.push(2, "5678です", "ja", at=1.0)
    assert last.text == "[電話番号]です"
    assert {c.key: c.text for c in last.corrections} == {0: "電話は[電話番号]", 1: "[電話番号]"}


def test_the_window_forgets_old_finals() -> None:
    window = Masker().window()
    window.push(0, "カード番号は4532 0151", "ja", at=0.0)
    assert window.push(1, "1283 0366です", "ja", at=25.0).corrections == (), "20 s apart: not one number"
    window = Masker(window_finals=2).window()
    for n, text in enumerate(["4532", "0151", "1283", "0366"]):
        result = window.push(n, text, "ja", at=float(n))
    assert result.corrections == (), "only the last two finals are joined"


def test_unconfigured_kinds_are_not_looked_for_across_finals() -> None:
    window = Masker(["email"]).window()
    window.push(0, "カード番号は4532 0151", "ja")
    assert window.push(1, "1283 0366です", "ja").text == "1283 0366です"


def test_mask_turns_joins_each_speakers_turns() -> None:
    turns = [Turn(0, "customer", "カード番号は4532 0151"), Turn(1, "agent", "はい"),
             Turn(2, "customer", "1283 0366です"), Turn(3, "agent", "1100円です")]
    masked = Masker().mask_turns(turns, "ja")
    assert [t.text for t in masked] == ["カード番号は[カード番号]", "はい", "[カード番号]です", "1100円です"]
    assert [t.index for t in masked] == [0, 1, 2, 3]


# ---------------------------------------------------------------- the live session


def _final(uid: str, text: str, start: float, leg: str = "customer", final: bool = True) -> Utterance:
    return Utterance("c", leg, uid, text, final, start, start + 0.8, "ja", latency_s=0.1)  # type: ignore[arg-type]


async def test_session_redacts_the_earlier_stored_piece(store_target: StoreTarget) -> None:
    store = CallStore(store_target("calls.db"))
    store.create_call("c", language="ja", source="websocket", legs=["customer", "agent"])
    writer = StoreWriter(store)
    loop = asyncio.get_running_loop()
    hub = CallHub("c", loop=loop, writer=writer, queue_size=64)
    retrieval = FakeRetrieval({"カード番号は4532 0151": ["lost-card"]})
    stages = CallStages(asr=FakeAsr(), retrieval=retrieval, mask=Masker())
    session = CallSession("c", CallOptions(language="ja", legs=("customer", "agent")), stages=stages, hub=hub,
                          writer=writer, loop=loop, status_interval_s=60)
    widget, _ = hub.subscribe(0)
    session._on_transcript(_final("c0", "カード番号は4532 0151 1283", 0.0, final=False), time.monotonic())
    session._on_transcript(_final("c0", "カード番号は4532 0151", 0.0), time.monotonic())
    # the first half's suggestion (its query holds the digits) is stored first
    await async_wait_until(lambda: store.suggestions("c"), 10, "the first half's suggestion to be stored")
    session._on_transcript(_final("a0", "はい", 1.0, leg="agent"), time.monotonic())
    session._on_transcript(_final("c1", "1283 0366です", 1.4), time.monotonic())
    await session.end("stop")
    writer.flush()
    try:
        stored = store.call_detail("c")
        events = store.events_after("c", 0)
        _, memory = hub.subscribe(0)
    finally:
        writer.close()
        store.close()
    assert stored is not None and memory is not None
    assert [u["text"] for u in stored["utterances"]] == ["カード番号は[カード番号]", "はい", "[カード番号]です"]
    assert stored["suggestions"] and all("4532" not in s["query"] for s in stored["suggestions"])
    for where, bodies in (("store", [json.dumps(e, ensure_ascii=False) for e in events]),
                          ("hub memory", [env.json for env in memory])):
        assert not any("4532" in b or "0151" in b for b in bodies), where
    finals = [e for e in events if e["type"] == "transcript" and e["final"] and e["utterance_id"] == "c0"]
    assert [e["text"] for e in finals] == ["カード番号は[カード番号]"] * 2, "the correction is a repeated final"
    seen = [json.loads(widget.queue.get_nowait().json) for _ in range(widget.queue.qsize() - 1)]  # then CLOSED
    partial = next(e for e in seen if e["type"] == "transcript" and not e["final"])
    assert partial["text"] == "カード番号は[番号]", "a partial never shows four digits in a row"
    assert [e["text"] for e in seen if e["type"] == "transcript" and e["utterance_id"] == "c0"][-1] == \
        "カード番号は[カード番号]", "a live widget ends with the masked line"


async def test_live_call_never_shows_the_number(live) -> None:
    stages = fake_stages({"customer": ["カード番号は4532 0151", "1283 0366です", "よろしくお願いします"]})
    stages.mask = Masker()
    srv = live(stages=stages)
    events = await replay_call(srv.url, "call-split", {"customer": silence(2.0)},
                               realtime=False, timeout_s=30)
    last = {e["utterance_id"]: e["text"] for e in events if e["type"] == "transcript" and e["final"]}
    assert last == {"c0": "カード番号は[カード番号]", "c1": "[カード番号]です", "c2": "よろしくお願いします"}
    detail = srv.services.call_store.call_detail("call-split")
    assert detail is not None and "4532" not in json.dumps(detail, ensure_ascii=False)
    assert "4532" not in json.dumps(srv.services.call_store.events_after("call-split", 0), ensure_ascii=False)
    assert "[カード番号]" in json.dumps(detail["summary"], ensure_ascii=False), "the notes see the masked turns"


# ---------------------------------------------------------------- privacy.mask_entities everywhere


def test_services_build_one_masker_from_settings(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, privacy={"mask_entities": ["card", "phone"]})
    handler = logging.StreamHandler(io.StringIO())
    handler.addFilter(RedactingFilter(mask_pii))  # what setup_logging installs
    logging.getLogger().addHandler(handler)
    try:
        services = Services(settings, stages=fake_stages())
        services.close()
        redact = handler.filters[0].redact  # type: ignore[union-attr]
        assert redact("card 4532 0151 1283 0366, born 1985/04/12") == "card [CARD], born 1985/04/12", \
            "the log redaction masks the configured kinds, with the services' masker"
    finally:
        logging.getLogger().removeHandler(handler)
    assert services.masker.entities == {"card", "phone"}
    for backend in ({}, {"backend": "transformers", "transformers_model": str(tmp_path / "absent")}):
        summarizer: Any = build_summarizer(SummarizeSettings.model_validate(backend), services.masker)
        assert summarizer.masker is services.masker
        fallback = getattr(summarizer, "fallback", summarizer)
        assert fallback.masker is summarizer.masker, "the fallback masks with the same masker"


def test_extractive_notes_follow_the_configured_kinds() -> None:
    dates = [[e.text for e in ExtractiveSummarizer(masker=m).summarize(LOST_CARD, language="ja").entities
              if e.kind == "date"] for m in (Masker(), Masker(["card"]))]
    assert dates == [[], ["1985年4月12日"]], "a birth date is masked only while dob is configured"


class _Recording(OpenAIChat):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sent: list[list[Message]] = []

    def complete(self, messages: list[Message], *, json_mode: bool) -> str:
        self.sent.append(messages)
        return super().complete(messages, json_mode=json_mode)


SPLIT_CALL = [Turn(0, "agent", "カード番号をお願いします。"), Turn(1, "customer", "カード番号は4532 0151"),
              Turn(2, "agent", "はい"), Turn(3, "customer", "1283 0366です。生年月日は1985年4月12日です。"),
              Turn(4, "customer", "カードをなくしたので止めてほしいんです。")]


def test_generative_prompt_never_carries_a_split_number(stub_url: str) -> None:
    chat = _Recording(stub_url, "good", api_key="test", timeout_s=10)
    GenerativeSummarizer(chat, masker=Masker(["card"])).summarize(SPLIT_CALL, language="ja")
    (messages,) = chat.sent
    prompt = messages[1]["content"]
    assert "4532" not in prompt and "0366" not in prompt and prompt.count("[カード番号]") == 2
    assert "1985年4月12日" in prompt, "dob is not configured here: the prompt keeps it"
    prompt = build_messages(SPLIT_CALL, "ja", [], Masker())[1]["content"]
    assert "4532" not in prompt and "1985年" not in prompt
