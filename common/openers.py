"""Words that open another topic in a customer's turn: あと、電気代も…; それと; そういえば; "Also, …"; "By the way".

One list for the live search (``retrieval/query.py``: such a turn is searched without the previous request in
front, and the topic state lets it replace the cards) and for the notes (``summarize/extractive.py``: such a turn
that asks for something starts another 用件 line). ``あと`` counts unless hiragana or a quantity follows it
(あと、… / あと電気代… but not あとどれくらい, あとで, あと何日, あと3日), ほかに / 他に only before a separator (他に、住所も…
but not 他に方法はありますか, a follow-up on the same matter).
"""

from __future__ import annotations

import re

_JA = (r"あと(?:もう(?:一つ|ひとつ|一点))?(?![\u3041-\u309f何数少半0-9０-９一二三四五六七八九十百千])|それと|それから|もう一つ|もうひとつ|もう一点|"
       r"ついでに|別件|それとは別に|その前に|(?:ほかに|他に)(?=[、,\s])|そういえば|[とど]ころで|話(?:は|が)変わ(?:ります|る|って)|"
       r"別の話")
_EN = (r"also|and also|one more thing|another (?:thing|question)|while i have you|oh,? and|and one more|"
       r"there's (?:also|one more)|i also|by the way|while i'm on(?: the (?:line|phone))?|on (?:another|a different) note|"
       r"separately|unrelated(?:ly)?|a different question")
# (ASR voices the opening of ところで now and then: どころで at a clause start is nothing else.)
# 実は ("actually, …") shifts to what the caller has not said yet; it opens a first request as often as a second,
# so it counts in the turn (search without the previous request, cards may switch) but starts no notes line.
_JA_SHIFT = r"実は"
# Adding a thing to what was asked: a noun with も ending the sentence or asking for it (…部屋のガスも。,
# 電気もお願いします), "…, and the mug …" opening a clause, a clause ending "… as well." or "… as well," (ASR
# punctuates either way; a question so ending asks about the same matter: "do I pay the fee as well?").
# Pronouns, times and quantities take も without adding a matter (私も, 先月も, 3回も). The search strips
# punctuation first, so an acknowledgement may stand for the comma before "and the".
_JA_ADDED = re.compile(r"([\u4e00-\u9fff\u30a1-\u30faー]+)も(?:[。．？?！!、,]|$|お願い)")
_JA_NOT_ADDED = frozenset({"私", "僕", "俺", "何", "誰", "今", "前", "後", "今回", "前回", "毎回", "毎月", "先月", "今月",
                           "来月", "昨日", "今日", "明日", "先週", "今週", "来週", "以前", "何度", "何回"})
_NUMERALS = frozenset("一二三四五六七八九十百千万何数幾")
_EN_ADDED = re.compile(r"(?:^|[,.!?;]\s*|\b(?:okay|ok|alright|right|great|good|thanks|yes|yeah) )"
                       r"(?:and|plus) (?:the|my|our|that|this|those|these) (?!one\b|same\b)[a-z]"
                       r"|\b[a-z]{3,} as well[.,!]", re.IGNORECASE)
_AT_START = re.compile(rf"^\s*(?:{_JA})|^\s*(?:{_EN})\b", re.IGNORECASE)
_IN_TURN = re.compile(rf"(?:^|[、。,.!?！？\s])(?:{_JA}|{_JA_SHIFT})|\b(?:{_EN})\b", re.IGNORECASE)


def opens_new_topic(text: str) -> bool:
    """An opener at the start of the turn or of one of its clauses (よかった、あと、…; "Great. Also, …"), or a
    thing added to the request (…のガスも。; "Okay, and the mug, …")."""
    if _IN_TURN.search(text) or _EN_ADDED.search(text):
        return True
    return any(_adds(text, m) for m in _JA_ADDED.finditer(text))


def _adds(text: str, match: re.Match[str]) -> bool:
    """も after a thing, not after a pronoun, a time or a quantity (3回も、 二度も、 一時間も: emphasis, no new matter)."""
    noun, before = match.group(1), text[match.start(1) - 1: match.start(1)]
    return noun not in _JA_NOT_ADDED and not before.isdigit() and noun[0] not in _NUMERALS


def starts_new_topic(text: str) -> bool:
    """An opener as the turn's first words (a sentence of the notes begins another request)."""
    return bool(_AT_START.match(text))
