"""Turn gating and the call's topic: only requests search, drafts only from supported high-confidence cards."""

from __future__ import annotations

import pytest
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
    customer = ["もしもし", "山田花子です", "カードをなくしてしまったんですが", "それと、手数料はかかりますか",
                "いえ、大丈夫です。ありがとうございました。"]
    retrieval = _Banded({"カードをなくしてしまったんですが": ("lost-card", "high"),
                         "それと、手数料はかかりますか": ("fees", "medium")})
    srv = live(stages=CallStages(asr=FakeAsr({"customer": customer}), retrieval=retrieval, draft=fake_draft,
                                 mask=fake_mask))
    events = await replay_call(srv.url, "topic-1", {"customer": silence(2.6)}, realtime=False, timeout_s=30)
    assert retrieval.queries == ["カードをなくしてしまったんですが", "それと、手数料はかかりますか"]
    pushed = [(e["utterance_id"], [i["article_id"] for i in e["items"]]) for e in events if e["type"] == "suggestions"]
    assert [ids for _, ids in pushed] == [["lost-card"], ["fees"]]
    drafts = [e["article_id"] for e in events if e["type"] == "reply_draft"]
    assert drafts == ["lost-card"]  # the medium card is shown without a draft


def _card(article_id: str, confidence: str, category: str | None) -> Hit:
    return Hit(article_id, article_id, "", 0.5, category=category, confidence=confidence)  # type: ignore[arg-type]


def test_the_first_request_always_pushes() -> None:
    assert not TopicState().keeps_cards([_card("lost-card", "low", "カード")], set(), new_topic=False)


def test_a_follow_up_keeps_the_cards_unless_it_brings_a_high_card_of_another_category() -> None:
    topic = TopicState()
    topic.observe_request([_card("lost-card", "high", "カード"), _card("card-cancel", "low", "カード")], turn=1)
    shown = {"lost-card", "card-cancel"}
    # 新しいカードってどうなりますか: a high neighbour in the topic's category
    assert topic.keeps_cards([_card("card-not-arrived", "high", "カード")], shown, new_topic=False)
    # カードとかは作り直しですか: only weak guesses
    assert topic.keeps_cards([_card("delivery-change", "low", "通販")], shown, new_topic=False)
    assert topic.keeps_cards([_card("delivery-change", "medium", "通販")], shown, new_topic=False)
    # a clear other request, or one opened with あと/それと, switches even when weak
    assert not topic.keeps_cards([_card("utility-card-payment", "high", "電気・ガス")], shown, new_topic=False)
    assert not topic.keeps_cards([_card("family-discount", "low", "通信")], shown, new_topic=True)
    # a category the KB does not give matches nothing
    assert not topic.keeps_cards([_card("fees", "high", None)], shown, new_topic=False)


def test_an_opened_request_takes_the_top_slot_from_a_lower_card_on_screen() -> None:
    topic = TopicState()
    topic.observe_request([_card("deceased-holder", "high", "共通"), _card("name-change", "medium", "共通")], turn=1)
    shown = {"deceased-holder": 1, "name-change": 2}
    # 「それと、私は去年結婚して苗字が変わったんですけど…」: its top card was the 2nd on screen
    assert not topic.keeps_cards([_card("name-change", "high", "共通")], shown, new_topic=True)
    # without an opener it is a follow-up on what is shown; an opener whose top is the topic's own card changes nothing
    assert topic.keeps_cards([_card("name-change", "high", "共通")], shown, new_topic=False)
    assert topic.keeps_cards([_card("deceased-holder", "high", "共通")], shown, new_topic=True)


def test_a_turn_whose_top_card_is_on_screen_adds_only_high_cards() -> None:
    topic = TopicState()
    topic.observe_request([_card("order-status", "high", "通販")], turn=1)
    shown = {"order-status"}
    weak = [_card("order-status", "high", "通販"), _card("card-not-arrived", "low", "カード")]
    assert topic.keeps_cards(weak, shown, new_topic=False)
    assert topic.keeps_cards(weak, shown, new_topic=True)  # あと、警察にも…: the topic's card is still the answer
    assert topic.keeps_cards([_card("order-status", "medium", "通販")], shown, new_topic=False)
    strong = [_card("order-status", "high", "通販"), _card("return-policy", "high", "通販")]
    assert not topic.keeps_cards(strong, shown, new_topic=False)


def test_the_topic_follows_the_cards_that_were_pushed() -> None:
    topic = TopicState()
    topic.observe_request([_card("lost-card", "high", "カード")], turn=1)
    topic.observe_request([_card("utility-card-payment", "high", "電気・ガス")], turn=5)
    shown = {"lost-card", "utility-card-payment"}
    # the current topic is now the utility one: a high card card-category question switches back
    assert not topic.keeps_cards([_card("card-not-arrived", "high", "カード")], shown, new_topic=False)
    assert topic.keeps_cards([_card("utility-plan", "high", "電気・ガス")], shown, new_topic=False)


class _Categorized(FakeRetrieval):
    """Every turn answered with one card of the scripted article, band and category."""

    def __init__(self, table: dict[str, tuple[str, str, str]]) -> None:
        super().__init__({})
        self.table = table

    def suggest(self, latest: str, previous: str | None = None, *, language: str | None = None,
                k: int | None = None) -> Suggestion:
        self.queries.append(latest)
        article, band, category = self.table[latest]
        return Suggestion(latest, [_card(article, band, category)], 1.0, abstained=False)


@pytest.mark.parametrize("keep", [True, False])
async def test_follow_ups_within_a_topic_never_replace_its_cards(live, keep: bool) -> None:
    customer = ["カードをなくしてしまったんですが", "新しいカードはいつ届きますか", "カードとかは作り直しですか",
                "あと、電気代の支払い方法も変えたいんですけど", "支払日はいつになりますか",
                "助かります、新しい部屋のガスも。", "Okay, and the mug came chipped, can I send it back?"]
    retrieval = _Categorized({customer[0]: ("lost-card", "high", "カード"),
                              customer[1]: ("card-not-arrived", "high", "カード"),
                              customer[2]: ("delivery-change", "low", "通販"),
                              customer[3]: ("utility-card-payment", "medium", "電気・ガス"),
                              customer[4]: ("utility-payment-date", "high", "電気・ガス"),
                              customer[5]: ("gas-start", "medium", "電気・ガス"),
                              customer[6]: ("return-policy", "medium", "通販")})
    srv = live(stages=CallStages(asr=FakeAsr({"customer": customer}), retrieval=retrieval, mask=fake_mask,
                                 keep_topic_cards=keep))
    events = await replay_call(srv.url, "topic-2", {"customer": silence(3.6)}, realtime=False, timeout_s=30)
    assert retrieval.queries == customer  # every turn is a request and searched …
    pushed = [[i["article_id"] for i in e["items"]] for e in events if e["type"] == "suggestions"]
    # … but the two follow-ups leave the lost-card card alone; あと opens a topic even with a medium card, a high
    # card of the same (new) category after it is a follow-up again, and a thing added to the request (…のガスも。,
    # "and the mug …") opens one, whatever its band and category
    # (retrieval.keep_topic_cards = false: every request turn's cards replace the screen)
    if keep:
        assert pushed == [["lost-card"], ["utility-card-payment"], ["gas-start"], ["return-policy"]]
    else:
        assert pushed == [["lost-card"], ["card-not-arrived"], ["delivery-change"], ["utility-card-payment"],
                          ["utility-payment-date"], ["gas-start"], ["return-policy"]]
