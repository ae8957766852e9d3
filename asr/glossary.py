"""Vocabulary biasing: knowledge-base terms become Whisper's ``initial_prompt`` for finals.

Whisper conditions on at most 223 prompt tokens and keeps the *tail* of a longer prompt, so the
prompt is built from the first terms (callers pass the most important first) up to a token budget
that also keeps decoding cheap.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence

DEFAULT_TOKEN_BUDGET = 120
SEPARATOR = "、"


def approx_tokens(text: str) -> int:
    """Upper-bound estimate when no tokenizer is at hand: about one token per CJK char, four Latin chars."""
    wide = sum(1 for ch in text if ord(ch) > 0x2E7F)
    return wide + (len(text) - wide + 3) // 4


def build_prompt(
    terms: Sequence[str],
    *,
    count_tokens: Callable[[str], int] = approx_tokens,
    budget: int = DEFAULT_TOKEN_BUDGET,
) -> str | None:
    """Deduplicated terms joined with 「、」 until the budget is spent; ``None`` when there are none."""
    seen: set[str] = set()
    kept: list[str] = []
    for raw in terms:
        term = " ".join(unicodedata.normalize("NFKC", str(raw)).split())
        if not term or term in seen or len(term) > 40:
            continue
        candidate = SEPARATOR.join([*kept, term])
        if count_tokens(candidate) > budget:
            break
        seen.add(term)
        kept.append(term)
    return SEPARATOR.join(kept) + SEPARATOR if kept else None
