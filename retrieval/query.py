"""Live query building: what a finished customer utterance (plus a little context) should search for.

Fillers carry no meaning but do move embeddings and add BM25 noise, so they go first. A short reply
("はい", "yes, that's right") only makes sense with the previous customer utterance, which is kept in
front; greetings and thanks alone leave nothing to search for, and the caller abstains.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Unambiguous anywhere; the short ones are also parts of words (うんてん, あのひと), so only at a boundary.
_JA_FILLERS = ("えーっと", "えーと", "えっと", "ええと", "あのー", "あのう", "そのー", "うーん", "なんていうか",
               "ちょっと", "やっぱり", "えー", "あー", "んー")
_JA_SHORT_FILLERS = ("あの", "その", "なんか", "まあ", "まぁ", "ええ", "えと")
_EN_FILLERS = ("um", "umm", "uh", "uhh", "er", "erm", "hmm", "like", "you know", "i mean", "well", "so", "okay so")
_JA_FILLER_RE = re.compile("|".join(sorted((re.escape(f) for f in _JA_FILLERS), key=len, reverse=True)))
_JA_SHORT_RE = re.compile(r"(?:^|(?<=[\s、。,]))(?:" + "|".join(re.escape(f) for f in _JA_SHORT_FILLERS) + r")[ー〜]*")
_EN_FILLER_RE = re.compile(r"\b(?:" + "|".join(re.escape(f) for f in _EN_FILLERS) + r")\b[,]?", re.IGNORECASE)
_PUNCT_RUNS = re.compile(r"[\s、。,.!?！？・…ー〜~]{2,}")
_SPACES = re.compile(r"\s+")
_NO_CONTENT = re.compile(
    r"^(?:はい|いいえ|ええ|そうです|そうですね|はいそうです|お願いします|よろしくお願いします|ありがとうございます|"
    r"ありがとうございました|もしもし|どうも|失礼します|わかりました|了解です|大丈夫です|"
    r"yes|no|yeah|ok|okay|hello|hi|thanks|thank you|thank you very much|sure|right|bye|goodbye|alright)"
    r"(?:です|ございます|ね|よ)*$",
    re.IGNORECASE,
)
_STRIP = " \t\n、。,.!?！？・…"


def strip_fillers(text: str) -> str:
    """Remove hesitation words; keeps everything else verbatim (ASR errors included — the KB side copes)."""
    text = unicodedata.normalize("NFKC", text)
    text = _EN_FILLER_RE.sub(" ", text)
    text = _JA_FILLER_RE.sub(" ", text)
    for _ in range(3):  # fillers come in runs: "あの なんか"
        text = _JA_SHORT_RE.sub(" ", text.strip())
    text = _PUNCT_RUNS.sub(" ", text)
    return _SPACES.sub(" ", text).strip(_STRIP)


def has_content(text: str) -> bool:
    compact = _SPACES.sub(" ", text).strip(_STRIP)
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
    if context and has_content(context):
        room = max(0, max_chars - len(current) - 1)
        context = context[-room:] if room else ""
        if context:
            return BuiltQuery(f"{context} {current}", True)
    return BuiltQuery(current[-max_chars:], False)
