"""Numbers the recognizer was unsure of: found in a final's text, shown as such, never stated as fact in notes.

A final carries each decoded piece's probability (``asr/confidence.py``). A number in the final's text as
shown (masked, vocabulary-corrected: the pieces are aligned to it character by character) whose pieces fall
under ``DEFAULT_THRESHOLD`` is *uncertain*: the transcript event lists its span (the widget underlines it,
要確認), the notes' turns carry the spans, and every note line that repeats the number marks it — 「3万円(要確認)」,
"$65 (to confirm)" — while the number itself goes to ``CallNotes.to_confirm`` instead of ``entities``.

Whisper writes misheard words as digits (住所 → 50所, 請求 → 5成球, 先月 → 1000月) and usually with little
confidence; real numbers it heard well come out above 0.9. The threshold is chosen on the dev split of
``eval/data/asr`` and reported on its test split (``python -m eval uncertain``, docs/QUALITY.md).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import NamedTuple

from summarize.base import Turn
from summarize.notes import CallNotes, Entity, EntityKind, NoteLine
from summarize.numbers import NumberMention, number_mentions

DEFAULT_THRESHOLD = 0.5  # set by `python -m eval uncertain` on the dev split (docs/QUALITY.md)
MARK = {"ja": "(要確認)", "en": " (to confirm)"}

_JA_DIGITS = re.compile(r"[0-9０-９〇一二三四五六七八九十百千万億]")
_EN_DIGITS = re.compile(r"\d|\b(?:zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
                        r"\w+teen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|thousand)\b",
                        re.IGNORECASE)
_JA_UNIT = re.compile(r"(?:万円|円|ドル|営業日|日間|週間|か月|ヶ月|カ月|ヵ月|年間|年度|時間|分間|キロワットアワー|キロ|ギガ|"
                      r"GB|[%％]|丁目|番地|号室|周年|箇所|か所|ヶ所|カ所|[月日年時分秒枚件回個台本点人名歳才泊箱通号倍割階代度"
                      r"杯冊着部問口便週泊社店票番])")
_GROUP_GAP = re.compile(r"[\s,，\-‐－―ー・]{0,2}")  # between the digit groups of one phone-like number
_DIGIT_RUN = re.compile(r"[0-9０-９]+")
_JA_WORD = re.compile(r"[\u4e00-\u9fff\u30a1-\u30faA-Za-zＡ-Ｚａ-ｚ]")  # kanji, katakana, Latin
_KANJI = re.compile(r"[\u4e00-\u9fff]")
_NUMERALS = frozenset("0123456789０１２３４５６７８９〇一二三四五六七八九十百千万億")
_JA_RANGE = {"月": 12, "日": 31, "時": 24, "分": 59}  # a counter and the largest value it takes (1000月 = 先月)
_EN_UNIT = re.compile(r"(?:st|nd|rd|th)\b|%|\s?(?:dollars?|cents?|yen|euros?|pounds?)\b", re.IGNORECASE)
_EN_CURRENCY = "$¥€£"


class Number(NamedTuple):
    """``text[start:end]``: a number with its counter or currency; ``text[core_start:core_end]``: its digits."""

    start: int
    end: int
    value: str
    core_start: int
    core_end: int


@dataclass(frozen=True, slots=True)
class ScoredNumber:
    """A number of a final's text (``text[start:end]``, counter or currency included), the probabilities of the
    decoded pieces its digits came from, in order, its ``probability`` (``None``: no piece matched it) and
    whether it is ``implausible`` as said."""

    start: int
    end: int
    value: str
    probability: float | None
    pieces: tuple[float, ...] = ()
    implausible: bool = False


def _language(language: str) -> str:
    return "ja" if language == "ja" else "en"


def _span(text: str, m: NumberMention, lang: str) -> tuple[int, int]:
    """The mention widened to its counter (円, 月, 日 …; st/nd, dollars) and, in English, a currency sign."""
    start, end = m.start, m.end
    unit = (_JA_UNIT if lang == "ja" else _EN_UNIT).match(text, end)
    if unit:
        end = unit.end()
    if lang == "en" and start > 0 and text[start - 1] in _EN_CURRENCY:
        start -= 1
    return start, end


def number_spans(text: str, language: str) -> list[Number]:
    """Every number in ``text``; digit groups joined by a hyphen, comma or space (or nothing: SudachiPy reads
    98,765,1321 as nine numbers) are one phone-like number."""
    lang = _language(language)
    if not (_JA_DIGITS if lang == "ja" else _EN_DIGITS).search(text):
        return []  # the common case, without a SudachiPy pass
    out: list[Number] = []
    for m in number_mentions(text, lang):
        start, end = _span(text, m, lang)
        last = out[-1] if out else None
        if last is not None and end == m.end and last.end == last.core_end and _DIGIT_RUN.fullmatch(m.text) \
                and _DIGIT_RUN.search(text[last.core_start:last.core_end]) \
                and _GROUP_GAP.fullmatch(text[last.end:start]):
            out.pop()
            digits = "".join(_DIGIT_RUN.findall(unicodedata.normalize("NFKC", text[last.start:end])))
            out.append(Number(last.start, end, digits, last.core_start, m.end))
            continue
        out.append(Number(start, end, m.value, m.start, m.end))
    return out


def numbers(text: str, language: str) -> list[tuple[int, int, str]]:
    """``(start, end, value)`` of every number in ``text``, counter included (``number_spans``)."""
    return [(n.start, n.end, n.value) for n in number_spans(text, language)]


def implausible(text: str, n: Number, language: str) -> bool:
    """A number no caller says: a month, day, hour or minute out of range (1000月), or digits glued to a word
    that is no counter (5成球, 50所, オニモ2) — how Whisper writes a word it half-heard. Japanese only."""
    if _language(language) != "ja" or not n.value.isdigit() or not _DIGIT_RUN.fullmatch(text[n.core_start:n.core_end]):
        return False
    unit = text[n.core_end:n.end]
    if unit in _JA_RANGE and int(n.value) > _JA_RANGE[unit]:
        return True
    glued_after = n.end == n.core_end and n.end < len(text) and bool(_JA_WORD.match(text[n.end]))
    glued_before = n.start > 0 and bool(_JA_WORD.match(text[n.start - 1])) \
        and not _KANJI.match(text[n.start - 1])  # 第2, 約3, 計5 are words
    return glued_after or glued_before


def score_numbers(text: str, words: Sequence[tuple[str, float]], language: str) -> list[ScoredNumber]:
    """Every number of ``text`` scored by the decoded pieces (``(text, probability)``) its digits came from;
    ``words`` joined may differ from ``text`` (masking, corrections, stripping): they are aligned to it.

    The score is the lowest probability of those pieces, leaving out the first when the next one goes on with
    digits: that first token only chose how to spell the value (24000 or 2万4千, 5|400 or 54|00), so Whisper
    spreads its probability over spellings of one value; on the dev split leaving it out separated wrong
    numbers from right ones best (docs/QUALITY.md). Before a separator (``$1.65`` for $65) it counts.
    """
    found = number_spans(text, language)
    if not found:
        return []
    raw = "".join(w[0] for w in words)
    owner: list[int] = []  # raw character -> index of its piece
    for i, w in enumerate(words):
        owner.extend([i] * len(w[0]))
    source: dict[int, int] = {}  # text character -> raw character
    for a, b, size in SequenceMatcher(None, raw, text, autojunk=False).get_matching_blocks():
        for k in range(size):
            source[b + k] = a + k
    out = []
    for n in found:
        taken = sorted({owner[source[k]] for k in range(n.core_start, n.core_end) if k in source})
        probs = tuple(float(words[i][1]) for i in taken)
        spelling = len(taken) > 1 and words[taken[1]][0].lstrip()[:1] in _NUMERALS
        score = min(probs[1:] if spelling else probs) if probs else None
        out.append(ScoredNumber(n.start, n.end, n.value, score, probs, implausible(text, n, language)))
    return out


def uncertain_spans(text: str, words: Sequence[tuple[str, float]], language: str,
                    threshold: float = DEFAULT_THRESHOLD) -> list[tuple[int, int]]:
    """``(start, end)`` of the numbers of ``text`` scored under ``threshold``, or implausible as said; ``[]``
    when ``threshold`` is 0 (off). Without pieces (a recognizer that gives no probabilities) only implausible
    numbers are flagged; numbers that masking or correction wrote have no pieces and are never under it."""
    if threshold <= 0:
        return []
    return [(n.start, n.end) for n in score_numbers(text, words, language)
            if n.implausible or (n.probability is not None and n.probability < threshold)]


# ---------------------------------------------------------------- notes


def turn_values(turn: Turn, language: str) -> tuple[set[str], set[str]]:
    """Values of the turn's numbers: those inside an uncertain span, and those only ever outside one."""
    unsure: set[str] = set()
    sure: set[str] = set()
    for start, end, value in numbers(turn.text, language):
        inside = any(start < b and end > a for a, b in turn.uncertain)
        (unsure if inside else sure).add(value)
    return unsure, sure - unsure


def _mark(text: str, values: set[str], lang: str) -> tuple[str, list[tuple[str, str]]]:
    """``text`` with ``MARK`` after each number whose value is in ``values``; the marked ``(text, value)`` pairs."""
    out, marked, pos = [], [], 0
    for start, end, value in numbers(text, lang):
        if value not in values or text.startswith(MARK[lang], end):
            continue
        out += [text[pos:end], MARK[lang]]
        marked.append((text[start:end], value))
        pos = end
    out.append(text[pos:])
    return "".join(out), marked


def mark_uncertain(notes: CallNotes, turns: Sequence[Turn]) -> CallNotes:
    """The notes (a copy) with every number a line or entity took from a turn where it was uncertain marked
    (lines) or moved to ``to_confirm`` (entities); each such number is listed once in ``to_confirm``."""
    lang = _language(notes.language)
    if notes.status != "ok" or not any(t.uncertain for t in turns):
        return notes
    values_of = {t.index: turn_values(t, lang) for t in turns}
    by_turn = {i: unsure for i, (unsure, _) in values_of.items() if unsure}

    def uncertain_in(where: Iterable[int]) -> set[str]:
        """Uncertain in one of these turns and heard well in none of them (an agent's clear read-back counts)."""
        unsure = set().union(*(values_of.get(i, (set(), set()))[0] for i in where))
        return unsure - set().union(*(values_of.get(i, (set(), set()))[1] for i in where))

    checked = notes.model_copy(deep=True)
    confirm: dict[str, Entity] = {}

    def note(kind: EntityKind, text: str, value: str, where: Iterable[int]) -> None:
        entity = confirm.setdefault(value, Entity(kind=kind, text=text, value=value))
        entity.turns = sorted({*entity.turns, *(i for i in where if value in by_turn.get(i, ()))})

    lines: list[NoteLine] = [*checked.inquiry, *checked.actions, *checked.follow_ups]
    if checked.result_line is not None:
        lines.append(checked.result_line)
    for line in lines:
        if values := uncertain_in(line.turns):
            line.text, marked = _mark(line.text, values, lang)
            for text, value in marked:
                note("other", text, value, line.turns)
    kept = []
    for entity in checked.entities:
        hit = {v for _, _, v in numbers(entity.text, lang)} & uncertain_in(entity.turns)
        if not hit:
            kept.append(entity)
            continue
        for value in sorted(hit):
            noted = confirm.pop(value, None)  # the entity's kind and wording say more than the line's
            note(entity.kind, entity.text, value, [*entity.turns, *(noted.turns if noted else ())])
    checked.entities = kept
    checked.to_confirm = [*checked.to_confirm, *confirm.values()]
    return checked


def without_flagged(text: str, language: str) -> str:
    """A note line without the numbers it marks ``MARK``: what it states as fact (for ``eval``)."""
    lang = _language(language)
    out, pos = [], 0
    for start, end, _ in numbers(text, lang):
        if text.startswith(MARK[lang], end):
            out.append(text[pos:start] + " ")
            pos = end + len(MARK[lang])
    out.append(text[pos:])
    return "".join(out)


def unmark(text: str) -> str:
    """A note line without its marks, in either language (what it says, for fact coverage)."""
    for mark in MARK.values():
        text = text.replace(mark, "")
    return text
