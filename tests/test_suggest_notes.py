"""該当FAQ: which cards the agent's turns confirm, and which of them the notes name.

The cards are real articles of the evaluation KB (title + snippet, as the session sees them) and the agent's
turns are finals whisper-base produced on the dev call set (issue 13), misrecognitions included.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace
from pathlib import Path

from support.live import FakeAsr, FakeRetrieval

from asr.base import Utterance
from assist.hub import CallHub
from assist.session import CallOptions, CallSession
from assist.stages import CallStages
from assist.topic import TopicState
from knowledge.article import Article
from retrieval.base import Hit, Suggestion
from retrieval.passages import snippet
from summarize.base import ArticleRef, Turn
from summarize.extractive import ExtractiveSummarizer
from summarize.masking import Masker

DATA = Path(__file__).parents[1] / "eval" / "data"
KB = {row["id"]: Article.model_validate(row)
      for path in (DATA / "kb.jsonl", DATA / "kb_extra.jsonl")
      for row in map(json.loads, path.read_text(encoding="utf-8").splitlines()) if row}


def _hit(article_id: str, confidence: str) -> Hit:
    article = KB[article_id]
    return Hit(article_id, article.title, snippet(article), 0.5, language=article.language,
               category=article.category, confidence=confidence)  # type: ignore[arg-type]


def test_two_misheard_turns_that_lean_to_a_card_confirm_it() -> None:
    topic = TopicState()
    topic.observe_request([_hit("lost-card", "high"), _hit("card-cancel", "low"), _hit("card-late-payment", "low")],
                          turn=1)
    # verifying the caller says nothing about any card
    assert topic.observe_agent("それはご心配ですね、すぐにお手続きいたします。ご本人確認のため、お名前と正年学費をお願いいたします。") == []
    assert topic.observe_agent("ありがとうございます。ご登録の電話番号もお願いいたします。") == []
    # カード / 利用 / 停止: more of the lost-card card than of the others, not yet enough on its own
    assert topic.observe_agent("貸し込まりました、ただいまカードのご利用を停止いたしました、機能以降のご利用に見に覚えのないもの"
                               "はございません。") == []
    assert topic.confirmed() == []
    # 警察 (of 警察への届け出) adds what was missing, though 遺失届 came out as 質と解け
    assert topic.observe_agent("はい、年のためもよりの警察書に質と解けを出していただけますと安心です。") == ["lost-card"]
    assert topic.confirmed() == ["lost-card"]


def test_a_word_every_card_shares_confirms_none_of_them() -> None:
    topic = TopicState()
    topic.observe_request([_hit("address-change-card", "high"), _hit("delivery-change", "low")], turn=1)
    for said in ("ご住所の変更ですね、お名前と青年学機をお願いいたします。", "ご住所の変更を受けたまわりました、本日付で登録いたしました。"):
        assert topic.observe_agent(said) == []  # 住所 and 変更 are on both cards
    assert topic.confirmed() == []


def test_english_turns_are_compared_word_by_word() -> None:
    # letter pairs of English words overlap on every card; words do not
    topic = TopicState()
    topic.observe_request([_hit("card-declined-en", "high"), _hit("card-not-arrived-en", "low"),
                           _hit("lost-card-en", "low")], turn=1)
    assert topic.observe_agent("Our fraud system paused the card after another 600 for the charge from a new country, "
                               "I removed the phone, so you can use it again.") == []
    topic.observe_request([_hit("return-policy-en", "medium"), _hit("order-tracking-en", "low"),
                           _hit("return-refund", "low")], turn=7)
    assert topic.observe_agent("Once the item reaches our warehouse, we will refund $89.99 to your original payment "
                               "method within 3-5 business days.") == ["return-policy-en"]
    assert topic.confirmed() == ["return-policy-en"]


class _Cards(FakeRetrieval):
    """Answers the scripted request with real cards, every other turn with nothing."""

    def __init__(self, request: str, hits: list[Hit]) -> None:
        super().__init__({})
        self.request, self.hits = request, hits

    def suggest(self, latest: str, previous: str | None = None, *, language: str | None = None,
                k: int | None = None) -> Suggestion:
        self.queries.append(latest)
        hits = self.hits if latest == self.request else []
        return Suggestion(latest, hits, 1.0, abstained=not hits)


async def test_the_card_the_agent_confirms_is_named_even_below_a_wrong_top_card() -> None:
    """The dev call ja-netbank-lock as ASR heard it: the shop-login card came first, the agent unlocked the online
    banking; 該当FAQ names the article the agent's words picked, not the top card."""
    loop = asyncio.get_running_loop()
    hub = CallHub("c", loop=loop, writer=None, queue_size=256)
    widget, _ = hub.subscribe(0)
    request = "あの、パスワードを何回か間違えてしまって、ログインできなくなっちゃったんですけど。"
    retrieval = _Cards(request, [_hit("account-login-ec", "high"), _hit("online-banking-lock", "high"),
                                 _hit("password-reset-en", "low")])
    stages = CallStages(asr=FakeAsr(), retrieval=retrieval, mask=Masker(), summarizer=ExtractiveSummarizer())
    session = CallSession("c", CallOptions(language="ja", legs=("customer", "agent")), stages=stages, hub=hub,
                          writer=None, loop=loop, status_interval_s=60)
    finals = [
        ("agent", "お電話ありがとうございます、サクラ銀行インターネット番キングヘルクディスクの岡田でございます。"),
        ("customer", request),
        ("agent", "ご不便のおかけしております、ロックの会場いたします。お名前と青年学びをお願いいたします。"),
        ("customer", "ふじた傾向、1978年9月30日です。"),
        ("agent", "ご本人確認が取れました、パスワードはやまりによるロックを解除いたしました。"),
        ("customer", "じゃあもういれますか?"),
        ("agent", "新しいカリパスワードを正面でご自宅に優秀いたします。いつかほどでお届けいたします。"),
        ("customer", "わかりました、届いたらやります。"),
        ("agent", "お手数をおかけいたします。お電話ありがとうございました。"),
    ]
    for i, (leg, text) in enumerate(finals):
        final = Utterance("c", leg, f"{leg[0]}{i}", text, True, float(i), i + 0.8, "ja", latency_s=0.1)  # type: ignore[arg-type]
        session._on_transcript(final, time.monotonic())
        for _ in range(500 if text == request else 0):  # its cards are on screen before the agent answers, as live
            if session.topic.weight("online-banking-lock") > 0:
                break
            await asyncio.sleep(0.01)
    await session.end("stop")
    queued = [widget.queue.get_nowait() for _ in range(widget.queue.qsize())]
    sent = [json.loads(env.json) for env in queued if getattr(env, "json", None)]
    [summary] = [e for e in sent if e.get("type") == "summary"]
    faq = [line["text"] for line in summary["notes"]["inquiry"] if line["text"].startswith("該当FAQ")]
    assert faq == ["該当FAQ: インターネットバンキングのロック解除"]
    assert summary["notes"]["requests"][0]["articles"] == ["online-banking-lock"]


TURNS = [
    Turn(0, "agent", "お電話ありがとうございます。あおぞら電力料金センターの池田でございます。"),
    Turn(1, "customer", "なんか今月の電気代が12,400円で、いつもの倍くらいなんですけど、間違いじゃないですか。"),
    Turn(2, "agent", "寒さで暖房のご使用が増えたことに加え、燃料費調整額が1キロワットアワーあたり2円上がっております。"),
    Turn(3, "customer", "そうなんですね。何か安くする方法はありますか。"),
    Turn(4, "agent", "夜間の使用が多いご家庭向けの夜トクプランがございます。詳しいパンフレットをご自宅に郵送いたします。"),
    Turn(5, "customer", "わかりました。"),
]


def _faq(articles: list[ArticleRef]) -> list[str]:
    notes = ExtractiveSummarizer().summarize(TURNS, language="ja", articles=articles)
    return [line.text for line in notes.inquiry if line.text.startswith("該当FAQ")]


def test_a_confirmed_card_is_named_whatever_its_band_and_an_unconfirmed_one_never() -> None:
    bill = ArticleRef("electricity-bill-high", "電気料金が高くなった", "電気・ガス", turn=1, confidence="high")
    plan = ArticleRef("utility-plan", "電気料金プランの変更（スマートプラン・夜トクプラン）", "電気・ガス", turn=3,
                      confidence="low")
    # the agent explained the low card's plan: its own words back it
    assert _faq([replace(bill, confirmed=True), replace(plan, confirmed=True)]) == [
        "該当FAQ: 電気料金が高くなった、電気料金プランの変更（スマートプラン・夜トクプラン）"]
    # a high top card the agent's words never backed is left out; unknown confirmation keeps the band rule
    assert _faq([replace(bill, confirmed=False), replace(plan, confirmed=True)]) == ["該当FAQ: 電気料金プランの変更（スマートプラン・夜トクプラン）"]
    assert _faq([bill, plan]) == ["該当FAQ: 電気料金が高くなった"]

