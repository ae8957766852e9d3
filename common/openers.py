"""Words that open another topic in a customer's turn: あと、電気代も…; それと; "Also, …"; "One more thing".

One list for the live search (``retrieval/query.py``: such a turn is searched without the previous request in
front, and the topic state lets it replace the cards) and for the notes (``summarize/extractive.py``: such a turn
that asks for something starts another 用件 line). ``あと`` counts unless hiragana or a quantity follows it
(あと、… / あと電気代… but not あとどれくらい, あとで, あと何日, あと3日), ほかに / 他に only before a separator (他に、住所も…
but not 他に方法はありますか, a follow-up on the same matter).
"""

from __future__ import annotations

import re

_JA = (r"あと(?:もう(?:一つ|ひとつ|一点))?(?![\u3041-\u309f何数少半0-9０-９一二三四五六七八九十百千])|それと|それから|もう一つ|もうひとつ|もう一点|"
       r"ついでに|別件|それとは別に|その前に|(?:ほかに|他に)(?=[、,\s])")
_EN = (r"also|and also|one more thing|another (?:thing|question)|while i have you|oh,? and|and one more|"
       r"there's (?:also|one more)|i also")
_AT_START = re.compile(rf"^\s*(?:{_JA})|^\s*(?:{_EN})\b", re.IGNORECASE)
_IN_TURN = re.compile(rf"(?:^|[、。,.!?！？\s])(?:{_JA})|\b(?:{_EN})\b", re.IGNORECASE)


def opens_new_topic(text: str) -> bool:
    """An opener at the start of the turn or of one of its clauses (よかった、あと、…; "Great. Also, …")."""
    return bool(_IN_TURN.search(text))


def starts_new_topic(text: str) -> bool:
    """An opener as the turn's first words (a sentence of the notes begins another request)."""
    return bool(_AT_START.match(text))
