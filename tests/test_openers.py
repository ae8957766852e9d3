"""The one list of topic openers (common/openers.py) shared by the live search and the notes."""

from __future__ import annotations

import pytest

from common.openers import opens_new_topic, starts_new_topic


@pytest.mark.parametrize(("text", "in_turn", "at_start"), [
    ("あと、電気代の支払いも変えたいんですが", True, True),
    ("あと電気代も変えたいんですが", True, True),  # ASR drops the comma
    ("あともうひとつ聞きたいんですが", True, True),
    ("それと、ポイントはいつ消えますか", True, True),
    ("他に、住所の変更もお願いします", True, True),
    ("よかった、あと、電気代も", True, False),  # an opener after the first clause
    ("Great. Also, will I pay the same?", True, False),
    ("Oh and one more thing, my address changed", True, True),
    ("あとどれくらいで届きますか", False, False),  # あと as "how much longer"
    ("あとで電話します", False, False),
    ("あと何日で届きますか", False, False),
    ("あと3日待てばいいですか", False, False),
    ("そのあと、届きますか", False, False),
    ("他に方法はありますか", False, False),  # a follow-up on the same matter
    ("カードを落としてしまって", False, False),
    ("I'd like to report a lost card", False, False),
    # a thing added to the request opens one too, in the turn (the notes start a line only at an opener word)
    ("助かります、札幌の新しい部屋のガスも。", True, False),
    ("ガスの開栓もお願いしたいんですが", True, False),
    ("Okay, and the mug set came chipped", True, False),
    ("okay and the mug set came chipped", True, False),  # as the search sees it, punctuation stripped
    ("私も。", False, False),  # a pronoun or a time with も adds no matter
    ("先月も。", False, False),
    ("3回も、電話したんですよ", False, False),  # a quantity with も is emphasis
    ("二度も、同じことを言われました", False, False),
    ("一時間も。", False, False),
    ("カードも作り直しですか", False, False),  # も inside a question about the same matter
    ("いつも使っているカードです", False, False),
    ("Okay, and when do I get my money back?", False, False),
    ("I lost my wallet and the cards in it", False, False),  # "and the" inside a clause
    ("The new house has a gas boiler as well.", True, False),  # a statement adding a thing
    ("Do I pay the fee as well?", False, False),  # a question about the same matter
    # topic-shift words
    ("そういえば、ポイントってどうなってますか", True, True),
    ("ところで、今月のギガが足りないんですけど", True, True),
    ("どころで、今月もギガが残り少なくて", True, True),  # as ASR heard ところで
    ("The new house has a gas boiler as well, someone has to switch it on", True, False),
    ("話は変わりますが、住所を変えたいです", True, True),
    ("実は来月引っ越す予定で", True, False),  # in the turn only: it opens first requests as often
    ("By the way, can I change my address?", True, True),
    ("While I'm on, where can I see my statement?", True, True),
    ("事実は違います", False, False),
])
def test_openers(text: str, in_turn: bool, at_start: bool) -> None:
    assert opens_new_topic(text) is in_turn
    assert starts_new_topic(text) is at_start
