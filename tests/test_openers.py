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
])
def test_openers(text: str, in_turn: bool, at_start: bool) -> None:
    assert opens_new_topic(text) is in_turn
    assert starts_new_topic(text) is at_start
