"""Vocabulary biasing: knowledge-base terms become Whisper's ``initial_prompt`` for finals.

Whisper conditions on at most 223 prompt tokens and keeps the *tail* of a longer prompt, so the
prompt is built from the first terms (callers pass the most important first) up to a token budget
that also keeps decoding cheap.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence

DEFAULT_TOKEN_BUDGET = 160


def approx_tokens(text: str) -> int:
    """Upper-bound estimate when no tokenizer is at hand: about one token per CJK char, four Latin chars."""
    wide = sum(1 for ch in text if ord(ch) > 0x2E7F)
    return wide + (len(text) - wide + 3) // 4


def build_prompt(
    terms: Sequence[str],
    *,
    count_tokens: Callable[[str], int] = approx_tokens,
    budget: int = DEFAULT_TOKEN_BUDGET,
    separator: str = "、",
    end: str = "。",
) -> str | None:
    """Deduplicated terms joined as one list sentence until the budget is spent; ``None`` when none.

    Closing the list like a sentence (「…、…。」) measured clearly better than a dangling 「、」.
    """
    seen: set[str] = set()
    kept: list[str] = []
    for raw in terms:
        term = " ".join(unicodedata.normalize("NFKC", str(raw)).split())
        if not term or term in seen or len(term) > 40:
            continue
        candidate = separator.join([*kept, term]) + end
        if count_tokens(candidate) > budget:
            break
        seen.add(term)
        kept.append(term)
    return separator.join(kept) + end if kept else None


def is_latin(term: str) -> bool:
    """True for terms with no CJK characters: the only ones worth prompting an English decode with."""
    return all(ord(ch) < 0x2E80 for ch in term)


def build_prompts(
    terms: Sequence[str],
    *,
    count_tokens: Callable[[str], int] = approx_tokens,
    budget: int = DEFAULT_TOKEN_BUDGET,
) -> dict[str, str | None]:
    """Prompt per decode language: Japanese takes every term, English only the Latin-script ones
    (a Japanese prompt pulls an English decode towards Japanese output)."""
    return {
        "ja": build_prompt(terms, count_tokens=count_tokens, budget=budget),
        "en": build_prompt(
            [t for t in terms if is_latin(t)], count_tokens=count_tokens, budget=budget, separator=", ", end="."
        ),
    }
