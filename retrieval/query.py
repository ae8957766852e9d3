"""Live query building: what a finished customer utterance (plus a little context) should search for.

Fillers carry no meaning but do move embeddings and add BM25 noise, so they go first. A short reply
("はい", "yes, that's right") only makes sense with the previous customer utterance, which is kept in
front; greetings and thanks alone leave nothing to search for, and the caller abstains.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from common.openers import opens_new_topic
from common.text_ja import TRIM_CHARS, strip_fillers

_SPACES = re.compile(r"\s+")
_NO_CONTENT = re.compile(
    r"^(?:はい|いいえ|ええ|そうです|そうですね|はいそうです|お願いします|よろしくお願いします|ありがとうございます|"
    r"ありがとうございました|もしもし|どうも|失礼します|わかりました|了解です|大丈夫です|"
    r"yes|no|yeah|ok|okay|hello|hi|thanks|thank you|thank you very much|sure|right|bye|goodbye|alright)"
    r"(?:です|ございます|ね|よ)*$",
    re.IGNORECASE,
)


def has_content(text: str) -> bool:
    compact = _SPACES.sub(" ", text).strip(TRIM_CHARS)
    return len(compact.replace(" ", "")) >= 2 and not _NO_CONTENT.match(compact.replace(" ", "") if not
                                                                        compact.isascii() else compact)


@dataclass(frozen=True, slots=True)
class BuiltQuery:
    text: str
    used_context: bool


def build_query(latest: str, previous: str | None = None, *, max_chars: int = 160) -> BuiltQuery:
    """``text`` is empty when there is nothing worth searching for."""
    current = strip_fillers(latest)
    context = strip_fillers(previous) if previous else ""
    if not has_content(current):
        return BuiltQuery("", False)
    if context and has_content(context) and not opens_new_topic(current):
        room = max(0, max_chars - len(current) - 1)
        context = context[-room:] if room else ""
        if context:
            return BuiltQuery(f"{context} {current}", True)
    return BuiltQuery(current[-max_chars:], False)
