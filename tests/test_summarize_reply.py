"""Reply drafts: polite, grounded in the top article, citing it."""

from __future__ import annotations

from support.samples import RETURN_EN

from summarize.generative import ChatError, Message
from summarize.reply import ArticleText, ReplyDrafter, draft_reply, supported

LOST = ArticleText(
    "lost-card", "カードを紛失・盗難にあった場合",
    "すぐにミライカード紛失・盗難受付デスクへご連絡ください。お電話でカードのご利用を直ちに停止し、第三者による不正利用を防ぎます。"
    "警察へ遺失届・盗難届を出し、受理番号をお控えください。新しいカードは再発行手数料無料で、約1週間でご登録住所へお届けします。",
)


def test_japanese_draft_is_polite_and_cites() -> None:
    d = draft_reply(LOST, "カードを落としちゃって、新しいカードはいつ届きますか", "ja")
    assert d.cited_ids == ["lost-card"]
    assert d.sentences[0] == "ご不便をおかけしております。"
    assert d.sentences[-1] == "ほかにご不明な点はございますか。"
    assert any("約1週間" in s for s in d.sentences[1:-1])
    assert d.text == "".join(d.sentences)
    assert supported(d.sentences, LOST, "ja")


def test_sentences_ranked_by_overlap_with_query() -> None:
    d = draft_reply(LOST, "警察に届けたほうがいいですか", "ja")
    assert any("警察" in s for s in d.sentences)


def test_english_draft() -> None:
    d = draft_reply(RETURN_EN, "how long until I get my refund", "en")
    assert d.sentences[0] == "Thank you for your question."
    assert any("5 business days" in s for s in d.sentences)
    assert d.sentences[-1] == "Is there anything else I can help you with?"
    assert "30 days" not in d.text or "refund" in d.text.lower()


def test_unsupported_sentence_detected() -> None:
    assert not supported(["新しいカードは3日でお届けします。"], LOST, "ja")
    assert not supported(["ポイントが2倍になるキャンペーン中です。"], LOST, "ja")


class _Chat:
    name = "fake"

    def __init__(self, reply: str | None) -> None:
        self.reply = reply

    def complete(self, messages: list[Message], *, json_mode: bool) -> str:
        if self.reply is None:
            raise ChatError("down")
        return self.reply


def test_rewrite_kept_only_when_supported() -> None:
    ok = ReplyDrafter(_Chat("ご不便をおかけしております。新しいカードは約1週間でご登録住所へお届けします。")).draft(LOST, "なくした", "ja")
    assert ok.backend == "fake"
    for reply in ("新しいカードは明日お届けします。手数料は500円です。", None, ""):
        d = ReplyDrafter(_Chat(reply)).draft(LOST, "なくした", "ja")
        assert d.backend == "template" and d == draft_reply(LOST, "なくした", "ja")


def test_trouble_in_the_customers_language_picks_the_apology_in_the_drafts() -> None:
    # a Japanese call, an English article: the draft is English, the apology still follows the customer's words
    assert draft_reply(RETURN_EN, "届いた商品が壊れていました", "en").sentences[0] == "I'm sorry for the inconvenience."
    assert draft_reply(RETURN_EN, "返品はできますか", "en").sentences[0] == "Thank you for your question."
    assert draft_reply(LOST, "I lost my card", "ja").sentences[0] == "ご不便をおかけしております。"
