"""Sample texts several test modules share: a call transcript and an English article."""

from __future__ import annotations

from summarize.base import Turn
from summarize.reply import ArticleText


def turns(pairs: list[tuple[str, str]]) -> list[Turn]:
    """Numbered turns from (speaker, text) pairs."""
    return [Turn(i, speaker, text) for i, (speaker, text) in enumerate(pairs)]  # type: ignore[arg-type]


LOST_CARD = turns([
    ("agent", "お電話ありがとうございます。ミライカードの田中でございます。"),
    ("customer", "あ、えーと、すみません、あの、カードをなくしちゃったみたいで、止めてもらいたいんですけど。"),
    ("agent", "ご本人確認のため、お名前と生年月日をお願いいたします。"),
    ("customer", "山田太郎です。生年月日は1985年4月12日です。電話は090-1234-5678です。"),
    ("agent", "ありがとうございます。ただいまカードのご利用を停止いたしましたので、新しいカードをお送りいたします。"),
    ("customer", "いつ届きますか。"),
    ("agent", "再発行の手続きは完了しました。新しいカードは1週間ほどでお届けいたします。手数料は三万二千円ではなく、1,100円でございます。"),
    ("customer", "わかりました。警察にも届けを出しておきます。"),
])

RETURN_EN = ArticleText(
    "return-policy-en", "Returns and refunds",
    "Unused items can be returned within 30 days of delivery. Start the return from your order history and print "
    "the prepaid label. Refunds go to your original payment method within 5 business days after we receive the item.",
    "en",
)
