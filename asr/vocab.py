"""Reading-aware vocabulary correction of Japanese finals: 5成球 → ご請求, 1000月 → 先月, 講座 → 口座.

Whisper writes domain words it half-heard as homophones, digits or unknown strings. The prompt
(``asr/glossary.py``) biases decoding but cannot undo that, so after decoding the hypothesis is split
into words (SudachiPy, a main dependency), spans of up to four nominal words are read as kana (digits
by their Japanese readings: 5 → ご, 1000 → せん), and a span is replaced by a lexicon term when:

- the span looks misrecognized (holds an OOV word, a proper noun, digits glued to words, or a run of
  single-kanji words) and its reading is within ``max_distance`` of the term's (a mora edit distance
  where voicing pairs, shared vowels and long vowels cost less), or
- the span is a real word with exactly the term's reading and the utterance holds one of the term's
  cue words (講座 → 口座 only beside 引き落とし, 振替, 名義 …);

and the span is not a lexicon term itself, the next word fits a noun (particle, noun, suffix, end),
and no digit in it belongs to an amount, date or count (100円, 3万2千円, 5日, 2つ are never touched).
Terms come from the knowledge base (the same list as the ASR glossary) plus ``BUILTIN``. The articles' own
wording (questions and answers: 財布, 電気代, さくら銀行) adds *exact* terms, matched by their exact reading only:
a knowledge base holds far more of them than the glossary, and a tolerant match against that many turns 業者
into 当社; an exact one only respells what was heard (サイフ → 財布, 5本人確認 → ご本人確認). Yen heard as its
near-homophone right after an amount is respelled too (30万年 → 30万円, 500英文 → 500円分).
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

from asr.base import Correction, Utterance
from asr.morae import Mora, distance, morae, number_readings, to_hiragana
from common.text_ja import tokenize

log = logging.getLogger(__name__)

DEFAULT_MAX_DISTANCE = 0.25  # chosen on the dev split (docs/QUALITY.md)
MAX_SPAN_WORDS = 4
MAX_TERMS = 800
MAX_EXACT_TERMS = 5000
LONG_TERM_MORAE = 5  # real words are replaced by a near (not exact) reading only for terms this long

# term -> cue words; a real word that only sounds like the term is replaced when one cue is in the utterance.
BUILTIN: dict[str, tuple[str, ...]] = {
    "住所": ("変更", "引っ越", "転居", "郵送", "送り先", "番地", "登録"),
    "ご住所": ("変更", "引っ越", "転居", "郵送", "送り先", "番地", "登録"),
    "請求": ("金額", "明細", "料金", "支払", "引き落と", "円", "高い"),
    "ご請求": ("金額", "明細", "料金", "支払", "引き落と", "円", "高い"),
    "請求額": ("明細", "料金", "支払", "引き落と", "円", "高い"),
    "請求書": ("明細", "料金", "支払", "郵送", "送り先"),
    "先月": ("請求", "明細", "料金", "引き落と", "支払", "利用"),
    "お荷物": ("届", "配送", "配達", "発送", "宅配", "不在"),
    "荷物": ("届", "配送", "配達", "発送", "宅配", "不在"),
    "口座": ("引き落と", "振替", "振込", "振り込", "名義", "銀行", "残高", "入金", "開設", "番号"),
    "再発行": ("カード", "紛失", "手続", "届"),
    "手数料": ("振込", "振り込", "支払", "円", "無料", "かか"),
    "郵送": ("書類", "送付", "用紙", "届"),
    "暗証番号": ("カード", "忘れ", "ロック", "変更", "間違"),
    "解約": ("契約", "違約金", "プラン", "手続"),
    "紛失": ("カード", "財布", "落と", "盗難", "届"),
    "明細": ("請求", "利用", "引き落と", "料金"),
    "明細書": ("請求", "利用", "引き落と", "料金"),
    "引き落とし": ("口座", "請求", "残高"),
    "振込": ("口座", "手数料", "銀行", "返金"),
    "名義": ("口座", "変更", "契約", "カード"),
    "変更": ("住所", "名義", "プラン", "契約", "支払"),
    "残高": ("口座", "照会", "引き落と", "足り"),
    "振替": ("口座", "引き落と"),
    "返金": ("返品", "円", "口座", "振込"),
    "返品": ("商品", "交換", "送料", "返金"),
    "利用明細": ("請求", "カード"),
    "再配達": ("荷物", "不在", "届"),
    "不在票": ("荷物", "配達", "届"),
    "契約": ("解約", "名義", "変更", "プラン"),
    "限度額": ("カード", "上げ", "引き出", "円"),
    "違約金": ("解約", "契約", "かか", "円"),
    "有効期限": ("ポイント", "カード", "切れ"),
    "年会費": ("カード", "円", "払"),
    # 届く: a verb, listed for completeness; only nominal spans are matched, so it never replaces a span.
    "届く": (),
}

# Yen written as its near-homophone right after an amount: 30万円 heard as 30万年 (まんえん → まんねん), 500円分 as
# 500英文. No caller says thirty myriad years, and a year is written 2024年, never with 千, 万 or 億 (万年筆 stays).
_COUNTER_SLIPS = re.compile(r"(?<=[0-9０-９])(?:(?P<unit>[千万億])年(?!筆)|英文)")
# Words that are never worth proposing (titles yield them when split into nominal runs).
_STOP_TERMS = frozenset({"場合", "方法", "こと", "もの", "ため", "とき", "際", "件", "等", "方", "について", "問い合わせ"})
_NOMINAL = frozenset({"名詞", "接頭辞", "接尾辞"})
_FOLLOW_OK = frozenset({"助詞", "助動詞", "補助記号", "名詞", "接尾辞", "空白"})
_AMOUNT_MARK = re.compile(r"[万億兆千百,.，．]")
_DIGITS = re.compile(r"^[0-9]+$")
_LATIN = re.compile(r"^[\x00-\x7f]+$")
_KANJI = re.compile(r"^[\u4e00-\u9fff々]$")
_JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")

# Counters read differently after digits than alone (Sudachi reads 月 as がつ): both readings are tried.
_COUNTER_ALTS: dict[str, tuple[str, ...]] = {"月": ("がつ", "げつ"), "日": ("にち", "か", "ひ"), "年": ("ねん",)}
_MONTH_MAX = 12


# ---- words ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Word:
    surface: str
    start: int
    end: int
    pos: tuple[str, ...]
    readings: tuple[str, ...]
    oov: bool
    lemma: str = ""

    @property
    def digits(self) -> bool:
        return bool(_DIGITS.match(self.surface))

    @property
    def nominal(self) -> bool:
        return self.pos[0] in _NOMINAL or (self.oov and self.pos[0] != "補助記号")

    @property
    def counter(self) -> bool:
        return "助数詞" in self.pos[2] or "助数詞" in self.pos[1]


def words(text: str) -> list[Word]:
    """SudachiPy (mode C) words with character offsets, POS and candidate kana readings."""
    out: list[Word] = []
    for m in tokenize(text):
        surface = m.surface()
        norm = unicodedata.normalize("NFKC", surface)
        if _DIGITS.match(norm):
            readings = number_readings(norm)
        else:
            reading = to_hiragana(m.reading_form()) if m.reading_form() not in ("", "キゴウ") else to_hiragana(norm)
            alts = _COUNTER_ALTS.get(surface, ())
            if m.part_of_speech()[1] == "固有名詞" and len(norm) > 1 and all(_KANJI.match(c) for c in norm):
                chars = [_char_reading(c) for c in norm]  # a "name" that was a word: 重書 → じゅうしょ
                alts = ("".join(chars),) if all(chars) else ()
            readings = tuple(dict.fromkeys((reading, *alts)))
            if any(_KANJI.match(c) for c in reading):  # no reading in the dictionary (送): cannot be matched
                readings = ()
        out.append(Word(norm, m.begin(), m.end(), tuple(m.part_of_speech()[:3]), readings, m.is_oov(),
                        m.dictionary_form()))
    return out


@lru_cache(maxsize=4096)
def _char_reading(char: str) -> str:
    """One kanji's reading on its own (Sudachi's; often the on-yomi that misheard compounds carry)."""
    return "".join(w.readings[0] if w.readings else "" for w in words(char))


def _is_amount(w: Word) -> bool:
    """Digits with 万/千/separators in one word (3万2千, 1,000): always part of an amount."""
    return bool(_AMOUNT_MARK.search(w.surface)) and any(c.isdigit() for c in w.surface)


def _protected_number(ws: Sequence[Word], i: int) -> bool:
    """Digits that are an amount, a date or a count: 100円, 3万2千, 5日, 2つ, 12月 (but not 1000月)."""
    w = ws[i]
    nxt = ws[i + 1] if i + 1 < len(ws) else None
    if nxt is None or not nxt.counter:
        return nxt is not None and nxt.digits
    if nxt.surface == "月":
        return w.digits and 1 <= int(w.surface) <= _MONTH_MAX
    return True


def _suspicious(ws: Sequence[Word]) -> bool:
    """Looks like a misrecognition: OOV, a proper noun, digits glued to words, or single-kanji runs."""
    has_digits = any(w.digits for w in ws)
    if has_digits and not all(w.digits for w in ws):
        return True
    if any((w.oov and not w.digits and len(w.surface) > 1) or w.pos[1] == "固有名詞" for w in ws):
        return True
    singles = [bool(_KANJI.match(w.surface)) and w.pos[0] in _NOMINAL for w in ws]
    return any(a and b for a, b in zip(singles, singles[1:], strict=False))


# ---- lexicon -------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Term:
    surface: str
    morae: tuple[Mora, ...]
    cues: tuple[str, ...]


def _reading(surface: str) -> str:
    return "".join(w.readings[0] for w in words(surface))


def key_terms(raw: Iterable[str], *, parts: bool = False) -> list[str]:
    """Short Japanese terms from glossary entries: a tag as it is, a title's nominal runs (紛失, 盗難); with
    ``parts`` also each word of two or more characters inside a longer run (財布 of 財布ごと紛失)."""
    out = [t for item in raw for t in _item_terms(unicodedata.normalize("NFKC", str(item)).strip(), parts)]
    return [t for t in dict.fromkeys(out) if t not in _STOP_TERMS]


@lru_cache(maxsize=16384)
def _item_terms(text: str, parts: bool) -> tuple[str, ...]:
    """One entry's terms, cached: a knowledge-base change re-reads only the texts it changed (SudachiPy takes
    about a millisecond per answer, which a KB of thousands of articles would pay on every edit: 2,720 answers
    0.74 s at start, 0.07 s after an edit)."""
    if not text or _LATIN.match(text) or not _JAPANESE.search(text):
        return ()
    ws = words(text)
    if len(text) <= 10 and all(w.nominal for w in ws):
        return (text,)
    out: list[str] = []
    run: list[Word] = []
    for w in [*ws, None]:
        if w is not None and w.nominal and w.pos[0] != "補助記号" and not w.digits:
            run.append(w)
            continue
        phrase = "".join(x.surface for x in run)
        if 2 <= len(phrase) <= 10:
            out.append(phrase)
        if parts and len(run) > 1:
            out.extend(x.surface for x in run if len(x.surface) >= 2 and x.pos[0] == "名詞")
        run = []
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Lexicon:
    """Terms indexed for both kinds of match: ``terms`` for the tolerant one, ``by_reading`` (those and the exact
    terms, tolerant ones first) for the exact one."""

    terms: tuple[Term, ...]
    by_reading: dict[tuple[Mora, ...], tuple[Term, ...]]
    surfaces: frozenset[str]


def _terms(surfaces: Iterable[str], cues: dict[str, tuple[str, ...]]) -> list[Term]:
    out: list[Term] = []
    for s in surfaces:
        units = morae(_reading(s))
        if len(units) >= 2 and not s.endswith("く"):  # verbs (届く) are cues only
            out.append(Term(s, units, cues.get(s, ())))
    return out


def build_lexicon(terms: Iterable[str], *, exact: Iterable[str] = (), builtin: bool = True) -> Lexicon:
    """The built-in call-center words (with cues; first, so a large knowledge base never crowds them out) and
    knowledge-base terms (cue-less) for both matches, plus ``exact`` texts' terms for the exact match only."""
    cues = dict(BUILTIN) if builtin else {}
    tolerant = _terms(list(dict.fromkeys([*cues, *key_terms(terms)]))[:MAX_TERMS], cues)
    known = {t.surface for t in tolerant}
    extra = _terms([t for t in key_terms(exact, parts=True) if t not in known][:MAX_EXACT_TERMS], {})
    by_reading: dict[tuple[Mora, ...], tuple[Term, ...]] = {}
    for t in [*tolerant, *extra]:
        by_reading[t.morae] = (*by_reading.get(t.morae, ()), t)
    return Lexicon(tuple(tolerant), by_reading, frozenset(t.surface for t in [*tolerant, *extra]))


# ---- correction ----------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Candidate:
    start: int
    end: int  # word indexes, end exclusive
    term: Term
    cost: float


class VocabCorrector:
    """Thread-safe; ``set_terms`` swaps the lexicon when the knowledge base changes."""

    def __init__(self, terms: Iterable[str] = (), *, exact: Iterable[str] = (), enabled: bool = True,
                 max_distance: float = DEFAULT_MAX_DISTANCE, builtin: bool = True,
                 on_corrections: Callable[[int], None] | None = None) -> None:
        self.enabled = enabled
        self.on_corrections = on_corrections  # told how many words each final had replaced (the service's metric)
        self.max_distance = max_distance
        self.builtin = builtin
        self._lock = threading.Lock()
        self._lexicon = build_lexicon(terms, exact=exact, builtin=builtin) if enabled else None

    def set_terms(self, terms: Iterable[str], *, exact: Iterable[str] = ()) -> None:
        """New knowledge-base terms; ``exact``: texts (the articles' questions and answers) whose terms are matched
        by exact reading only. The lexicon is built here, on the caller's thread (a large knowledge base's
        answers take a second or so to tokenize), never on a decode worker."""
        if not self.enabled:
            return
        lexicon = build_lexicon(terms, exact=exact, builtin=self.builtin)
        with self._lock:
            self._lexicon = lexicon
        log.info("vocab correction: %d terms, %d spellings", len(lexicon.terms), len(lexicon.surfaces))

    def lexicon(self) -> Lexicon:
        with self._lock:
            if self._lexicon is None:  # switched off: only built if someone asks
                self._lexicon = build_lexicon((), builtin=self.builtin)
            return self._lexicon

    def correct(self, text: str) -> tuple[str, tuple[Correction, ...]]:
        """The corrected text and its corrections (offsets into the corrected text)."""
        if not self.enabled or not _JAPANESE.search(text):
            return text, ()
        ws = words(text)
        spans = [(ws[c.start].start, ws[c.end - 1].end, c.term.surface) for c in self._choose(ws, text, self.lexicon())]
        spans += [(m.start(), m.end(), f"{m.group('unit')}円" if m.group("unit") else "円分")
                  for m in _COUNTER_SLIPS.finditer(text) if all(m.end() <= a or m.start() >= b for a, b, _ in spans)]
        out, corrections, shift, cursor = [], [], 0, 0
        for a, b, surface in sorted(spans):
            out += [text[cursor:a], surface]
            corrections.append(Correction(text[a:b], surface, a + shift, a + shift + len(surface)))
            shift += len(surface) - (b - a)
            cursor = b
        out.append(text[cursor:])
        return "".join(out), tuple(corrections)

    def apply(self, event: Utterance) -> Utterance:
        """A Japanese final with its text corrected (the originals kept in ``corrections``)."""
        if not (self.enabled and event.final and event.language in ("ja", "")):
            return event
        try:
            text, corrections = self.correct(event.text)
        except Exception:  # correction is an improvement, never a reason to lose a final
            log.exception("vocab correction failed on %r", event.text[:40])
            return event
        if not corrections:
            return event
        if self.on_corrections is not None:
            self.on_corrections(len(corrections))
        return replace(event, text=text, corrections=corrections)

    def wrap(self, on_event: Callable[[Utterance], None]) -> Callable[[Utterance], None]:
        """``on_event`` that sees corrected finals."""
        return lambda event: on_event(self.apply(event))

    def _choose(self, ws: list[Word], text: str, lexicon: Lexicon) -> list[_Candidate]:
        """Best match per span, then the cheapest (and longest) non-overlapping ones."""
        found: list[_Candidate] = []
        for i in range(len(ws)):
            for j in range(i + 1, min(len(ws), i + MAX_SPAN_WORDS) + 1):
                if not ws[j - 1].nominal:
                    break
                if self._context_ok(ws, i, j, text, lexicon) and (best := self._match(ws, i, j, text, lexicon)):
                    found.append(best)
        found.sort(key=lambda c: (c.cost, -(c.end - c.start), c.start))
        taken: list[_Candidate] = []
        for c in found:
            if all(c.end <= t.start or c.start >= t.end for t in taken):
                taken.append(c)
        return sorted(taken, key=lambda c: c.start)

    @staticmethod
    def _context_ok(ws: list[Word], i: int, j: int, text: str, lexicon: Lexicon) -> bool:
        if text[ws[i].start:ws[j - 1].end] in lexicon.surfaces:
            return False
        if any(_is_amount(w) or (w.digits and _protected_number(ws, k)) for k, w in enumerate(ws[i:j], i)):
            return False
        return j == len(ws) or ws[j].pos[0] in _FOLLOW_OK or ws[j].lemma == "する"  # 解約 したい

    def _match(self, ws: list[Word], i: int, j: int, text: str, lexicon: Lexicon) -> _Candidate | None:
        span = ws[i:j]
        readings = [""]
        for w in span:
            readings = [r + x for r in readings for x in w.readings][:16]
        units = [morae(r) for r in readings]
        if _suspicious(span):
            for u in units:  # an exact reading wins outright (the only match the exact terms take)
                if same := lexicon.by_reading.get(u):
                    return _Candidate(i, j, same[0], 0.0)
            best: _Candidate | None = None
            for term in lexicon.terms:
                for u in units:
                    if abs(len(u) - len(term.morae)) > 2 or (len(term.morae) < 3 and u != term.morae):
                        continue
                    cost = distance(u, term.morae)
                    if cost <= self.max_distance and (best is None or cost < best.cost):
                        best = _Candidate(i, j, term, cost)
            return best
        if len(span) == 1 and span[0].digits:
            return None
        rest = text[:ws[i].start] + " " + text[ws[j - 1].end:]
        for u in units:
            for term in lexicon.by_reading.get(u, ()):
                if (len(span) > 1 and len(term.morae) >= 4) or any(cue in rest for cue in term.cues):
                    return _Candidate(i, j, term, 0.0)
        if len(span) < 2:
            return None
        # several real words that together almost read as one long term: 講座振り会 → 口座振替
        near = [(distance(u, t.morae), t) for t in lexicon.terms if len(t.morae) >= LONG_TERM_MORAE for u in units
                if abs(len(u) - len(t.morae)) <= 1]
        closest: tuple[float, Term | None] = min(near, key=lambda ct: ct[0], default=(1.0, None))
        cost, nearest = closest
        return _Candidate(i, j, nearest, cost) if nearest is not None and cost <= self.max_distance / 2 else None
