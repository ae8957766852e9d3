"""Digit groups Whisper writes with 、 (毎月1、100円引き, 4、980円): joined as the thousands they are.

Read as written, 「1、100円」 is two numbers, 1 and 100円, and the notes state 100円. A Japanese amount is never
a list of a 1–3 digit number and three-digit groups right before its counter, so those 、 become commas: the
transcript shows 1,100円 and the notes read 1100. One character for one, so the decode's pieces stay aligned.
Phone-like groups (048、221、773) have no counter after them and stay as they are.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

from asr.base import Utterance

_COUNTERS = "円|ドル|ポイント|件|名|人|個|枚|本|台|回|キロ|ギガ|GB|MB"
_GROUPED = re.compile(rf"(?<![\d,.])(?<!\d、)\d{{1,3}}(?:、\d{{3}})+(?=\s?(?:{_COUNTERS}))")


def join_thousands(text: str) -> str:
    return _GROUPED.sub(lambda m: m.group(0).replace("、", ","), text)


_CUT_HEAD = re.compile(r"(?<![\d,.])(?<!\d、)(\d{1,3})(、?)\s*$")  # 「…ゲーム会社から、4、」 or 「…から、4」
_CUT_TAIL = re.compile(rf"^\s*(、?)(\d{{3}}(?:[、,]\d{{3}})*\s?(?:{_COUNTERS}))")  # 「980円の請求が…」 or 「、980円…」


def rejoin_split(before: str, after: str) -> tuple[str, str] | None:
    """An amount a pause cut into two finals (「…から、4、」 | 「980円の請求が…」; Whisper puts the pause's 、 on
    either side): its leading group moves to the second final, joined (「…から、」 | 「4,980円の請求が…」); ``None``
    when the two finals hold no such cut (no 、 at the cut: two numbers, not one)."""
    head, tail = _CUT_HEAD.search(before), _CUT_TAIL.match(after)
    if head is None or tail is None or not (head.group(2) or tail.group(1)):
        return None
    rest = after[tail.start(2):]
    return before[: head.start()], join_thousands(f"{head.group(1)}、{rest}")


def apply(event: Utterance) -> Utterance:
    """A Japanese final with its thousands joined; anything else as it came."""
    if not (event.final and event.language in ("ja", "")) or "、" not in event.text:
        return event
    text = join_thousands(event.text)
    return event if text == event.text else replace(event, text=text)


def wrap(on_event: Callable[[Utterance], None]) -> Callable[[Utterance], None]:
    """``on_event`` that sees finals with their thousands joined."""
    return lambda event: on_event(apply(event))
