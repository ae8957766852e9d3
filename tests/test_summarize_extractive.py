"""Grounded extractive notes on realistic calls, and the dev-set targets through ``python -m eval summary``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.samples import LOST_CARD
from support.samples import turns as _turns

from eval.summary import main as eval_summary
from summarize.base import ArticleRef, Summarizer
from summarize.extractive import ExtractiveSummarizer

DEV = Path(__file__).parents[1] / "eval" / "data" / "calls.jsonl"


ARTICLES = [ArticleRef("lost-card", "カードを紛失・盗難にあった場合", "カード")]


@pytest.fixture(scope="module")
def summarizer() -> ExtractiveSummarizer:
    return ExtractiveSummarizer()


def test_is_a_summarizer(summarizer: ExtractiveSummarizer) -> None:
    assert isinstance(summarizer, Summarizer)


def test_notes_name_the_articles_of_the_request_turn(summarizer: ExtractiveSummarizer) -> None:
    articles = [ArticleRef("atm-fee", "ATM手数料", "銀行", turn=3),  # the top card for the birth-date turn
                ArticleRef("lost-card", "カードを紛失・盗難にあった場合", "カード", turn=1),
                ArticleRef("police", "警察への届け出", "その他", turn=7)]
    notes = summarizer.summarize(LOST_CARD, language="ja", articles=articles)
    named = next(line for line in notes.inquiry if line.text.startswith("該当FAQ"))
    assert named.text == "該当FAQ: カードを紛失・盗難にあった場合" and named.turns == [1]
    assert notes.disposition == "カード"
    untied = [ArticleRef(a.article_id, a.title, a.category) for a in articles]  # turns unknown: all, in order
    notes = summarizer.summarize(LOST_CARD, language="ja", articles=untied)
    assert any(line.text == "該当FAQ: ATM手数料、カードを紛失・盗難にあった場合、警察への届け出" for line in notes.inquiry)

def test_lost_card_notes(summarizer: ExtractiveSummarizer) -> None:
    notes = summarizer.summarize(LOST_CARD, language="ja", articles=ARTICLES)
    assert notes.status == "ok" and notes.language == "ja" and notes.backend == "extractive"
    assert "なくしちゃった" in notes.inquiry[0].text and notes.inquiry[0].turns == [1]
    assert "えーと" not in notes.inquiry[0].text
    assert any("カードを紛失・盗難にあった場合" in line.text for line in notes.inquiry)
    actions = [a.text for a in notes.actions if not a.text.startswith("案内")]
    assert any("停止いたしました" in a for a in actions) and any("完了しました" in a for a in actions)
    assert not any("お送り" in a or "お届け" in a for a in actions), "a promise listed as done"
    follow = " ".join(f.text for f in notes.follow_ups)
    assert "お送りいたします" in follow and "1週間ほどでお届けいたします" in follow
    assert "お客様: " in follow and "警察" in follow
    assert notes.result == "resolved" and notes.disposition == "カード"
    assert {"1,100円", "1週間"} <= {e.text for e in notes.entities}
    stop = next(a for a in notes.actions if "停止" in a.text)
    assert stop.turns == [4]


def test_personal_data_never_reaches_the_notes(summarizer: ExtractiveSummarizer) -> None:
    dumped = summarizer.summarize(LOST_CARD, language="ja", articles=ARTICLES).model_dump_json()
    for secret in ("1985", "090-1234-5678", "5678"):
        assert secret not in dumped


def test_english_call_gets_english_notes(summarizer: ExtractiveSummarizer) -> None:
    turns = _turns([
        ("agent", "Thank you for calling, this is Emily."),
        ("customer", "Hi, um, I lost my credit card yesterday and I need to block it."),
        ("agent", "Could I have your date of birth? "),
        ("customer", "It's April 3rd, 1980, and my phone is (415) 555-0199."),
        ("agent", "I've blocked your card. A replacement will arrive in 5 to 7 business days."),
        ("customer", "Thanks, I'll call the police tomorrow."),
    ])
    notes = summarizer.summarize(turns, language="en")
    assert notes.language == "en"
    assert notes.inquiry[0].text.startswith("I lost my credit card")
    assert [a.text for a in notes.actions] == ["I've blocked your card."]
    assert any("will arrive in 5 to 7 business days" in f.text for f in notes.follow_ups)
    assert any(f.text.startswith("Customer: ") and "police" in f.text for f in notes.follow_ups)
    assert "1980" not in notes.model_dump_json() and "555-0199" not in notes.model_dump_json()


@pytest.mark.parametrize("pairs", [
    [("agent", "お電話ありがとうございます。"), ("customer", "あ、すみません、間違えました。")],
    [("agent", "お電話ありがとうございます。"), ("customer", "えーと。"), ("customer", "はい。")],
    [],
])
def test_too_little_content_is_not_summarized(summarizer: ExtractiveSummarizer, pairs: list) -> None:
    notes = summarizer.summarize(_turns(pairs), language="ja")
    assert notes.status == "insufficient_content"
    assert notes.inquiry == [] and notes.actions == [] and notes.follow_ups == []


def test_deterministic(summarizer: ExtractiveSummarizer) -> None:
    a = summarizer.summarize(LOST_CARD, language="ja", articles=ARTICLES)
    b = ExtractiveSummarizer().summarize(LOST_CARD, language="ja", articles=ARTICLES)
    assert a == b


def test_dev_set_meets_targets(capsys: pytest.CaptureFixture[str]) -> None:
    assert eval_summary(["--calls", str(DEV)]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["n"] == 16
    assert result["fact_coverage"] >= 0.9
    assert result["invented_numbers"] == 0 and result["promised_as_done"] == 0


def test_dev_set_shape() -> None:
    calls = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines()]
    assert sum(c["language"] == "ja" for c in calls) >= 12 and sum(c["language"] == "en" for c in calls) >= 4
    assert all(8 <= len(c["turns"]) <= 20 and c["facts"] for c in calls)
    lost = next(c for c in calls if c["id"] == "ja-lost-card")
    assert lost["expected"] == {"1": ["lost-card"]}


def test_unpunctuated_asr_text(summarizer: ExtractiveSummarizer) -> None:
    turns = _turns([
        ("agent", "お電話ありがとうございます ミライカードです"),
        ("customer", "えーとカードをなくしてしまって止めてほしいんですけど"),
        ("agent", "かしこまりました ご本人確認のためお名前をお願いします"),
        ("customer", "山田太郎です"),
        ("agent", "カードの利用を停止いたしました 新しいカードは1週間ほどでお届けします"),
        ("customer", "ありがとうございます助かりました"),
    ])
    notes = summarizer.summarize(turns, language="ja")
    assert notes.inquiry[0].text == "カードをなくしてしまって止めてほしいんですけど"
    assert [a.text for a in notes.actions] == ["カードの利用を停止いたしました"]
    assert [f.text for f in notes.follow_ups] == ["新しいカードは1週間ほどでお届けします"]


def test_thread_safe(summarizer: ExtractiveSummarizer) -> None:
    from concurrent.futures import ThreadPoolExecutor

    expected = summarizer.summarize(LOST_CARD, language="ja", articles=ARTICLES)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: summarizer.summarize(LOST_CARD, language="ja", articles=ARTICLES), range(8)))
    assert all(r == expected for r in results)


def test_eval_rejects_bad_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert eval_summary(["--calls", str(tmp_path / "missing.jsonl")]) == 2
    bad = tmp_path / "calls.jsonl"
    bad.write_text('{"id": "x", "turns": [{"speaker": "bot", "text": "hi"}]}\n{not json\n', encoding="utf-8")
    assert eval_summary(["--calls", str(bad)]) == 2
    assert "calls.jsonl:2: invalid JSON" in capsys.readouterr().err
