"""Notes that cover every request: one 用件 line per distinct request with its own handling and result, the names
and figures the customer states kept, 該当FAQ only for confirmed high-confidence articles, nothing listed twice."""

from __future__ import annotations

import re

import pytest
from support.live import silence

from assist.replay import replay_call
from summarize.base import ArticleRef, Turn
from summarize.extractive import ExtractiveSummarizer
from summarize.notes import CallNotes


def _turns(pairs: list[tuple[str, str]]) -> list[Turn]:
    return [Turn(i, speaker, text) for i, (speaker, text) in enumerate(pairs)]  # type: ignore[arg-type]


# a lost card, then (あと、…) a utility payment change; the customer names the shop and the city on the way
LOST_THEN_PAYMENT = _turns([
    ("agent", "お電話ありがとうございます。ミライカードサポートの田中でございます。"),
    ("customer", "あの、サイフごとカードを落としてしまって、どうしたらいいですか。"),
    ("agent", "それはご心配ですね。ご本人確認のため、お名前と生年月日をお願いいたします。"),
    ("customer", "山田花子、1985年4月12日です。"),
    ("agent", "ありがとうございます。最後にカードをお使いになったのはどちらでしょうか。"),
    ("customer", "昨日、新宿のローソンで1,200円使ったのが最後です。"),
    ("agent", "かしこまりました。ただいまカードのご利用を停止いたしました。新しいカードは1週間ほどでお届けいたします。"),
    ("customer", "あと、電気代の支払いをこのカードにしていたんですけど、口座振替に変えたいんです。"),
    ("agent", "電気料金のお支払い方法の変更ですね。口座振替依頼書をご自宅に郵送いたします。"),
    ("customer", "わかりました。いつ頃から口座振替になりますか。"),
    ("agent", "書類の到着後、2か月ほどで切り替わります。"),
    ("customer", "大丈夫です。ありがとうございました。"),
])

DISPUTE_THEN_MOVE = _turns([
    ("agent", "Thanks for calling Apex Bank, this is Maria."),
    ("customer", "Hi, I see a charge from Netflix for $15.99 that I never made, I want to dispute it."),
    ("agent", "I'm sorry about that. Can I have your name and date of birth?"),
    ("customer", "John Smith, March 3rd, 1980."),
    ("agent", "Thank you. I've blocked the card and opened a dispute for the charge. We will send a new card "
              "within 7 business days."),
    ("customer", "How long does the dispute take?"),
    ("agent", "Disputes are usually settled within 10 business days."),
    ("customer", "Great. Also, I'm moving to Denver next month and I need to change my mailing address."),
    ("agent", "Sure. I've updated your mailing address effective May 1."),
    ("customer", "Perfect, thanks."),
])


@pytest.fixture(scope="module")
def summarizer() -> ExtractiveSummarizer:
    return ExtractiveSummarizer()


def _request_lines(notes: CallNotes) -> list[str]:
    """The 用件 lines in the customer's words (not the agent's restatement, not 該当FAQ)."""
    said = {r.turn for r in notes.requests}
    return [line.text for line in notes.inquiry if line.turns[0] in said and "FAQ" not in line.text]


def _key(text: str) -> str:
    return re.sub(r"\W", "", text.lower())


def test_two_requests_get_two_inquiry_lines_each_with_its_handling(summarizer: ExtractiveSummarizer) -> None:
    notes = summarizer.summarize(LOST_THEN_PAYMENT, language="ja")
    assert [(r.turn, r.until) for r in notes.requests] == [(1, 6), (7, 11)]
    customer = [line for line in notes.inquiry if line.turns[0] in (1, 7)]
    assert [line.turns for line in customer] == [[1], [7]]
    assert "カードを落としてしまって" in customer[0].text and "口座振替に変えたい" in customer[1].text
    assert not any("いつ頃" in text for text in _request_lines(notes)), "a follow-up question is no new request"
    # each request's handling lies in its own turns: the card stopped for the first, the form mailed for the second
    first, second = notes.requests
    assert any("停止いたしました" in a.text and first.turn <= a.turns[0] <= first.until for a in notes.actions)
    assert any("郵送いたします" in f.text and second.turn <= f.turns[0] <= second.until for f in notes.follow_ups)
    assert (first.result, second.result) == ("resolved", "pending")
    assert notes.result == "pending", "the call is as settled as its least settled request"
    assert notes.result_line is not None and second.turn <= notes.result_line.turns[0] <= second.until


def test_english_second_request_after_a_follow_up_question(summarizer: ExtractiveSummarizer) -> None:
    notes = summarizer.summarize(DISPUTE_THEN_MOVE, language="en")
    lines = _request_lines(notes)
    assert len(lines) == 2 and "dispute it" in lines[0] and "change my mailing address" in lines[1]
    assert [r.turn for r in notes.requests] == [1, 7]
    assert any("updated your mailing address" in a.text for a in notes.actions)
    assert all(r.result == "resolved" for r in notes.requests)


def test_one_request_call_keeps_one_inquiry(summarizer: ExtractiveSummarizer) -> None:
    turns = LOST_THEN_PAYMENT[:7] + [LOST_THEN_PAYMENT[-1]]
    notes = summarizer.summarize([Turn(i, t.speaker, t.text) for i, t in enumerate(turns)], language="ja")
    assert len(_request_lines(notes)) == 1 and len(notes.requests) == 1
    assert notes.requests[0].until == len(turns) - 1


def test_names_the_customer_states_are_kept(summarizer: ExtractiveSummarizer) -> None:
    ja = summarizer.summarize(LOST_THEN_PAYMENT, language="ja")
    kinds = {(e.kind, e.text) for e in ja.entities}
    assert {("organization", "ローソン"), ("place", "新宿"), ("amount", "1,200円")} <= kinds
    assert not any(e.kind in ("place", "organization") and e.text in ("ミライカードサポート", "田中") for e in ja.entities)
    en = summarizer.summarize(DISPUTE_THEN_MOVE, language="en")
    kinds = {(e.kind, e.text) for e in en.entities}
    assert {("organization", "Netflix"), ("place", "Denver"), ("amount", "$15.99")} <= kinds
    assert not any("Smith" in e.text or "Maria" in e.text for e in en.entities), "people's names are no entities"


def test_matched_faq_names_only_confirmed_articles(summarizer: ExtractiveSummarizer) -> None:
    articles = [
        ArticleRef("lost-card", "カードを紛失・盗難にあった場合", "カード", turn=1, confidence="high", confirmed=True),
        ArticleRef("cancel", "カードの解約", "カード", turn=9, confidence="high", confirmed=False),
        ArticleRef("pay-change", "電気料金の支払方法の変更", "電気", turn=7, confidence="high", confirmed=True),
        ArticleRef("sim-lost", "SIMカードの紛失", "携帯", turn=5, confidence="medium", confirmed=False),
        ArticleRef("receipt", "領収書の再発行", "その他", turn=11, confidence="high", confirmed=None),
    ]
    notes = summarizer.summarize(LOST_THEN_PAYMENT, language="ja", articles=articles)
    faq = [line for line in notes.inquiry if line.text.startswith("該当FAQ")]
    assert len(faq) == 1
    assert faq[0].text == "該当FAQ: カードを紛失・盗難にあった場合、電気料金の支払方法の変更"
    assert faq[0].turns == [1, 7]
    assert [r.articles for r in notes.requests] == [["lost-card"], ["pay-change"]]
    # unknown confirmation and confidence (turns unknown): listed, as before
    untied = [ArticleRef("lost-card", "カードを紛失・盗難にあった場合", "カード")]
    notes = summarizer.summarize(LOST_THEN_PAYMENT, language="ja", articles=untied)
    assert any(line.text == "該当FAQ: カードを紛失・盗難にあった場合" for line in notes.inquiry)
    # nothing confirmed: no 該当FAQ line at all
    unconfirmed = [ArticleRef(a.article_id, a.title, a.category, turn=a.turn, confidence=a.confidence,
                              confirmed=False) for a in articles]
    notes = summarizer.summarize(LOST_THEN_PAYMENT, language="ja", articles=unconfirmed)
    assert not any(line.text.startswith("該当FAQ") for line in notes.inquiry) and notes.disposition is None


def test_an_article_matched_for_a_later_turn_marks_a_new_request(summarizer: ExtractiveSummarizer) -> None:
    # no opener, one cue: only the article the service matched for turn 9 makes it a request of its own
    turns = list(LOST_THEN_PAYMENT)
    turns[9] = Turn(9, "customer", "それと再発行の手数料はいくらですか。")
    articles = [ArticleRef("lost-card", "カードを紛失・盗難にあった場合", "カード", turn=1),
                ArticleRef("reissue-fee", "カード再発行の手数料", "カード", turn=9)]
    notes = summarizer.summarize(turns, language="ja", articles=articles)
    assert 9 in [r.turn for r in notes.requests]
    plain = summarizer.summarize(turns, language="ja", articles=articles[:1])
    assert 9 not in [r.turn for r in plain.requests]


@pytest.mark.parametrize("turns,lang", [(LOST_THEN_PAYMENT, "ja"), (DISPUTE_THEN_MOVE, "en")])
def test_nothing_is_listed_twice(summarizer: ExtractiveSummarizer, turns: list[Turn], lang: str) -> None:
    repeated = turns[:8] + [Turn(8, turns[1].speaker, turns[1].text)] + turns[8:]  # the customer says it again
    repeated = [Turn(i, t.speaker, t.text) for i, t in enumerate(repeated)]
    notes = summarizer.summarize(repeated, language=lang)
    lines = [*notes.inquiry, *notes.actions, *notes.follow_ups]
    keys = [_key(line.text) for line in lines]
    assert len(keys) == len(set(keys)), keys
    entity_keys = [(e.kind, e.value or e.text) for e in notes.entities]
    assert len(entity_keys) == len(set(entity_keys))
    assert len(_request_lines(notes)) == 2, "a request said twice is one request"


def test_fact_check_and_uncertain_flags_still_apply(summarizer: ExtractiveSummarizer) -> None:
    turns = list(LOST_THEN_PAYMENT)
    text = turns[10].text
    start = text.index("2か月")
    turns[10] = Turn(10, "agent", text, uncertain=((start, start + len("2か月")),))
    notes = summarizer.summarize(turns, language="ja")
    assert any("(要確認)" in line.text for line in notes.follow_ups + notes.actions)
    assert "2か月" in {e.text for e in notes.to_confirm} and "2か月" not in {e.text for e in notes.entities}
    assert not notes.flags, notes.flags  # nothing invented, no promise left among the actions


async def test_the_session_passes_band_and_agent_confirmation(live) -> None:
    """The live session ties each top card to its turn with its band, and marks what the agent's turns confirmed."""
    responses = {"カードをなくしてしまったんですが": ["lost-card", "reissue"], "住所も変えたいんですが": ["address-change"]}
    # the fake recognizer finishes one utterance per 0.5 s of a leg's audio; empty ones are no turns, so the
    # agent's words come after the customer's request was searched
    scripts = {"customer": ["カードをなくしてしまったんですが", "", "", "", "住所も変えたいんですが"],
               "agent": ["", "", "紛失・盗難にあったカードを停止いたしました"]}
    srv = live(scripts, responses)
    await replay_call(srv.url, "notes-confirm", {"customer": silence(2.6), "agent": silence(1.6)}, realtime=True,
                      timeout_s=30)
    matched = {a.article_id: a for a in srv.services.stages.summarizer.articles}
    assert set(matched) == {"lost-card", "address-change"}
    assert (matched["lost-card"].turn, matched["lost-card"].confidence, matched["lost-card"].confirmed) == \
        (0, "high", True)
    assert matched["address-change"].confidence == "high" and matched["address-change"].confirmed is False


def test_preamble_added_request_and_stated_conditions(summarizer: ExtractiveSummarizer) -> None:
    turns = _turns([
        ("agent", "お電話ありがとうございます。スマイル通販でございます。"),
        ("customer", "もしもし、すみません、ちょっと聞きたいことがあって。"),
        ("agent", "はい、どのようなご用件でしょうか。"),
        ("customer", "先週買ったスニーカーが小さくて、大きいのに替えてもらえますか。"),
        ("agent", "かしこまりました。何センチになさいますか。"),
        ("customer", "それを25センチにしてほしいんです。"),
        ("agent", "25センチをお取り置きしました。交換の送料は不要です。セール品は交換できません。"),
        ("customer", "お店は梅田のユニバースシューズで買いました。ありがとうございました。"),
    ])
    notes = summarizer.summarize(turns, language="ja")
    assert [r.turn for r in notes.requests] == [3], "ちょっと聞きたいことがあって announces the request, it is none"
    assert notes.inquiry[0].turns == [3, 5] and "25センチにしてほしい" in notes.inquiry[0].text
    explained = " ".join(a.text for a in notes.actions if a.text.startswith("案内"))
    assert "送料は不要です" in explained and "交換できません" in explained
    assert not any("交換できません" in f.text for f in notes.follow_ups), "a statement is no promise"
    assert {("place", "梅田"), ("organization", "ユニバースシューズ")} <= {(e.kind, e.text) for e in notes.entities}


def test_english_promise_joined_to_an_action_is_split_off(summarizer: ExtractiveSummarizer) -> None:
    turns = _turns([
        ("agent", "Smile Shopping, this is Emma."),
        ("customer", "Hi, the mug set I ordered came chipped. Can I send it back?"),
        ("agent", "I've emailed you a free return label, and the refund of $24 goes back to your card within 5 "
                  "business days."),
        ("customer", "Perfect, thank you."),
    ])
    notes = summarizer.summarize(turns, language="en")
    assert [a.text for a in notes.actions] == ["I've emailed you a free return label"]
    assert any("refund of $24 goes back" in f.text for f in notes.follow_ups)
    assert not notes.flags
