"""Turn gating and the call's topic: only requests search, drafts only from supported high-confidence cards."""

from __future__ import annotations

from support.live import FakeAsr, FakeRetrieval, fake_draft, fake_mask, silence

from assist.replay import replay_call
from assist.stages import CallStages
from assist.topic import TopicState
from knowledge.article import Article
from retrieval.base import Hit, Suggestion


def _hit(article_id: str, confidence: str, title: str = "", snippet: str = "") -> Hit:
    return Hit(article_id, title or article_id, snippet, 0.5, confidence=confidence)  # type: ignore[arg-type]


def test_a_high_top_card_is_supported_a_medium_one_is_not() -> None:
    topic = TopicState()
    topic.observe_request([_hit("lost-card", "high"), _hit("cancel", "medium")], turn=1)
    assert topic.supports("lost-card")
    assert not topic.supports("cancel")
    topic2 = TopicState()
    topic2.observe_request([_hit("fees", "medium")], turn=1)
    assert not topic2.supports("fees")


def test_a_new_topic_takes_over_and_the_old_one_decays() -> None:
    topic = TopicState()
    topic.observe_request([_hit("lost-card", "high")], turn=1)
    topic.observe_request([_hit("utility-payment", "high")], turn=3)
    assert topic.supports("utility-payment")
    assert not topic.supports("lost-card")  # 0.6 after one more request
    assert topic.weight("lost-card") < topic.weight("utility-payment")


def test_agent_confirmation_is_evidence_but_courtesy_is_not() -> None:
    topic = TopicState()
    topic.observe_request([_hit("lost-card", "medium", "カードを紛失・盗難にあった場合",
                                "紛失・盗難のご連絡を受けると、ただちにカードの利用を停止します。")], turn=1)
    assert not topic.supports("lost-card")
    assert topic.observe_agent("かしこまりました。少々お待ちください。") == []
    assert topic.observe_agent("ただいまカードの利用を停止いたします。") == ["lost-card"]
    assert topic.supports("lost-card") and topic.confirmed() == ["lost-card"]


class _Banded(FakeRetrieval):
    """Answers every turn (as a real KB would, with junk for closings); bands by the scripted table."""

    def __init__(self, table: dict[str, tuple[str, str]]) -> None:
        super().__init__({})
        self.table = table

    def suggest(self, latest: str, previous: str | None = None, *, language: str | None = None,
                k: int | None = None) -> Suggestion:
        self.queries.append(latest)
        article, band = self.table.get(latest, ("receipt", "medium"))
        hits = [Hit(article, article, f"{article}の手順", 0.9, confidence=band)]  # type: ignore[arg-type]
        return Suggestion(latest, hits, 1.0, abstained=False)

    def get_article(self, article_id: str) -> Article | None:
        return Article(id=article_id, title=article_id, answer=f"{article_id}の手順です。", language="ja")


async def test_only_requests_search_and_only_high_supported_cards_get_drafts(live) -> None:
    customer = ["もしもし", "山田花子です", "カードをなくしてしまったんですが", "手数料はかかりますか",
                "いえ、大丈夫です。ありがとうございました。"]
    retrieval = _Banded({"カードをなくしてしまったんですが": ("lost-card", "high"),
                         "手数料はかかりますか": ("fees", "medium")})
    srv = live(stages=CallStages(asr=FakeAsr({"customer": customer}), retrieval=retrieval, draft=fake_draft,
                                 mask=fake_mask))
    events = await replay_call(srv.url, "topic-1", {"customer": silence(2.6)}, realtime=False, timeout_s=30)
    assert retrieval.queries == ["カードをなくしてしまったんですが", "手数料はかかりますか"]
    pushed = [(e["utterance_id"], [i["article_id"] for i in e["items"]]) for e in events if e["type"] == "suggestions"]
    assert [ids for _, ids in pushed] == [["lost-card"], ["fees"]]
    drafts = [e["article_id"] for e in events if e["type"] == "reply_draft"]
    assert drafts == ["lost-card"]  # the medium card is shown without a draft
