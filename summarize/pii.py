"""Personal data detection: card numbers, phone numbers, birth dates, addresses, e-mail, マイナンバー.

Callers read these aloud, so ASR writes them in every spelling: full-width digits, kanji digits read one by
one (四五三二…), digits spelled out ("four five three two", ヨンゴーサンニー), up to three separators between
groups (``4532, 0151``, ``4532 - 0151``, ``4532。0151``). Patterns run over a *shadow* copy of the text in
which digits are ASCII; a map from shadow to original positions puts the spans found back on the original.
Both languages' detectors run on every text (a Japanese call quotes English e-mail addresses and dates); the
language only picks the labels. Company numbers (0120 / 0800 / 0570 / 1-800) are not personal and stay.
The configured kinds, the partial rule and the rolling window over finals are ``summarize.masking.Masker``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable

_LABELS = {
    "ja": {"card": "[カード番号]", "phone": "[電話番号]", "dob": "[生年月日]", "address": "[住所]",
           "email": "[メール]", "mynumber": "[マイナンバー]", "number": "[番号]"},
    "en": {"card": "[CARD]", "phone": "[PHONE]", "dob": "[DOB]", "address": "[ADDRESS]", "email": "[EMAIL]",
           "mynumber": "[ID NUMBER]", "number": "[NUMBER]"},
}

_SHADOW = {**{0xFF01 + i: 0x21 + i for i in range(94)},  # full-width ASCII
           **{ord(k): ord(v) for k, v in zip("〇零一二三四五六七八九", "00123456789", strict=True)},
           **{ord(c): ord("-") for c in "ー－‐‑–—―−"}, 0x3000: 0x20}

# spelled-out digits: English words (digits may sit inside a run: "oh nine oh 1234 5678"), and Japanese
# readings in katakana (runs of ≥ 3) or hiragana (≥ 6: に, し, ご, く are everyday particles and endings)
_EN_DIGIT = {"zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
             "seven": "7", "eight": "8", "nine": "9", "niner": "9"}
_EN_WORD = r"(?:(?:double|triple)\s+)?(?:zero|oh|one|two|three|four|five|six|seven|eight|niner|nine)"
_EN_TOKEN = re.compile(rf"{_EN_WORD}|\d+", re.IGNORECASE)
_EN_RUN = re.compile(rf"(?<![A-Za-z\d])(?:{_EN_WORD}|\d+)(?:[\s,.\-]{{1,3}}(?:{_EN_WORD}|\d+))+(?![A-Za-z\d])",
                     re.IGNORECASE)
_KATA = {"ゼロ": "0", "レイ": "0", "マル": "0", "イチ": "1", "ニー": "2", "ニ": "2", "サン": "3", "ヨン": "4",
         "ヨー": "4", "シ": "4", "ゴー": "5", "ゴ": "5", "ロク": "6", "ナナ": "7", "シチ": "7", "ハチ": "8",
         "キュウ": "9", "キュー": "9", "ク": "9"}
_KANA_DIGIT = {**_KATA, **{"".join(chr(ord(c) - 0x60) if "ァ" <= c <= "ヶ" else c for c in k): v
                           for k, v in _KATA.items()}}


def _kana_run(readings: Iterable[str], least: int) -> tuple[re.Pattern[str], re.Pattern[str]]:
    token = "(?:" + "|".join(sorted(readings, key=len, reverse=True)) + ")"
    return re.compile(rf"{token}(?:(?:[\s,、。・\-]{{0,2}}|の){token}){{{least - 1},}}"), re.compile(token)


_KATA_RUN, _KATA_TOKEN = _kana_run(_KATA, 3)
_HIRA_RUN, _HIRA_TOKEN = _kana_run(set(_KANA_DIGIT) - set(_KATA), 6)


def _spoken_value(token: str) -> str | None:
    """The digits a spoken token stands for; ``None`` for a token that is already digits."""
    if token in _KANA_DIGIT:
        return _KANA_DIGIT[token]
    words = token.lower().split()
    if words[-1] not in _EN_DIGIT:
        return None
    return _EN_DIGIT[words[-1]] * {"double": 2, "triple": 3}.get(words[0], 1)


def _spoken(text: str) -> tuple[str, list[int], list[int]] | None:
    """``text`` with spelled-out digits as digits, and each character's original ``[start, end)``.

    Whitespace between two spoken digits goes ("four five" → "45"); other separators stay as group breaks.
    ``None`` when nothing is spelled out (the common case: the shadow is then position for position).
    """
    runs = [(m, _EN_TOKEN) for m in _EN_RUN.finditer(text)]
    runs += [(m, _KATA_TOKEN) for m in _KATA_RUN.finditer(text)] + [(m, _HIRA_TOKEN) for m in _HIRA_RUN.finditer(text)]
    runs = [(m, tok) for m, tok in runs if any(_spoken_value(t.group(0)) for t in tok.finditer(m.group(0)))]
    if not runs:
        return None
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []

    def keep(a: int, b: int) -> None:
        out.extend(text[a:b])
        starts.extend(range(a, b))
        ends.extend(range(a + 1, b + 1))

    pos = 0
    for run, token in sorted(runs, key=lambda r: r[0].start()):
        if run.start() < pos:
            continue
        keep(pos, run.start())
        last, spoken_before = run.start(), False
        for t in token.finditer(text, run.start(), run.end()):
            value = _spoken_value(t.group(0))
            if not (value and spoken_before and text[last:t.start()].isspace()):
                keep(last, t.start())
            if value:
                out.extend(value)
                starts.extend([t.start()] * len(value))
                ends.extend([t.end()] * len(value))
            else:
                keep(t.start(), t.end())
            last, spoken_before = t.end(), bool(value)
        pos = last
    keep(pos, len(text))
    return "".join(out), starts, ends


def _normalize(text: str) -> tuple[str, list[int] | None, list[int] | None]:
    """The shadow of ``text`` and, when it is not position for position, the map back to ``text``."""
    spoken = _spoken(text)
    base, starts, ends = spoken if spoken is not None else (text, None, None)
    # 〇九〇の一二三四の五六七八: spoken groups joined by の or 、 are separators (same length: spans line up)
    return _DIGIT_NO.sub("-", base.translate(_SHADOW)), starts, ends


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def mynumber_ok(digits: str) -> bool:
    """マイナンバー check digit (12 digits; weights 2..7, 2..6 from the right)."""
    if len(digits) != 12:
        return False
    body = [int(c) for c in digits[:11]][::-1]
    s = sum(p * (n + 1 if n <= 6 else n - 5) for n, p in enumerate(body, start=1))
    r = s % 11
    return int(digits[11]) == (0 if r <= 1 else 11 - r)


_SEP = r"[\s,.、。・\-]"  # between digit groups, up to three of them: "4532, 0151", "4532 - 0151", "4532。0151"
_GROUPS = re.compile(rf"(?<!\d)\d+(?:{_SEP}{{1,3}}\d+)*(?!\d)")
_CARD_CTX = re.compile(r"カ[ー-]ドの?番号|card number|card no", re.IGNORECASE)
_MYNUMBER = re.compile(rf"(?<!\d)\d{{4}}{_SEP}{{0,3}}\d{{4}}{_SEP}{{0,3}}\d{{4}}(?!\d)")
_MYNUMBER_CTX = re.compile(r"マイナンバ[ー-]|個人番号|my ?number|individual number", re.IGNORECASE)
_TOLL_FREE = re.compile(r"^(?:0120|0800|0570|0088|1800|800|888|877|866)")
_PHONE = re.compile(
    r"(?<![\dA-Za-z])(?:\+\s?81[\s,.\-]{0,3}\(?0?\)?\d{1,4}[\s,.\-]{0,3}\d{1,4}[\s,.\-]{0,3}\d{3,4}"  # +81 …
    r"|\+\s?[2-9]\d{0,2}(?:[\s\-]?\(?\d{1,4}\)?){2,4}"                              # +44 20 7946 0958
    r"|\+?1?[\s\-]?\(\d{3}\)\s?\d{3}[\s\-]\d{4}"                                # (555) 123-4567
    r"|\+1[\s,.\-]{0,3}\d{3}[\s,.\-]{1,3}\d{3}[\s,.\-]{1,3}\d{4}"               # +1 555 123 4567
    r"|0\d{1,4}[\s,.、。・\-()]{1,3}\d{1,4}[\s,.、。・\-()]{1,3}\d{3,4}"         # 090-1234-5678, 03、1234、5678
    r"|0[789]0\d{8}|0\d{9}"                                                     # 09012345678, 0312345678
    r"|\d{3}[\s,.\-]{1,3}\d{3}[\s,.\-]{1,3}\d{4})(?!\d)"                        # 555-123-4567, 555, 123, 4567
)
# ten or eleven digits in one breath ("nine oh nine five five five one two three four") after a phone word
_PHONE_BARE = re.compile(r"(?<!\d)[1-9]\d{9,10}(?!\d)")
_PHONE_CTX = re.compile(r"電話|携帯|連絡先|phone|cell|mobile|call me|reach me|text me", re.IGNORECASE)
_EMAIL = re.compile(r"[\w.+\-]+\s?(?:@|＠|アットマ[ー-]ク)\s?[\w\-]+(?:\s?(?:\.|ドット)\s?[\w\-]+)+",
                    re.ASCII | re.IGNORECASE)
_EMAIL_SPOKEN = re.compile(r"\b(?:\w+ dot )*[\w.+\-]+ at [\w\-]+ dot (?:com|net|org|co|jp|ne)(?: dot [a-z]{2})?\b",
                           re.ASCII | re.IGNORECASE)

_ERA = r"(?:昭和|平成|令和|大正|[SHRT])"
_JA_NUM = r"[\d十]{1,3}"
_JA_DATE_FULL = re.compile(rf"(?:(?:19|20)\d\d|{_ERA}\s?(?:元|{_JA_NUM}))\s?年\s?の?\s?{_JA_NUM}\s?月\s?{_JA_NUM}\s?日")
_JA_DATE_MD = re.compile(rf"{_JA_NUM}\s?月\s?{_JA_NUM}\s?日")
_EN_MONTHS = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
              r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)")
# lookarounds rather than \b: in 誕生日はApril 12, 1985 or 誕生日は04/12/1985 the kana before is a word character
_EN_DATE_FULL = re.compile(
    rf"(?<![A-Za-z\d])(?:{_EN_MONTHS}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+(?:19|20)\d\d"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_EN_MONTHS},?\s+(?:19|20)\d\d)(?![A-Za-z\d])",
    re.IGNORECASE,
)
_NUM_DATE = re.compile(  # 1985/04/12, 1985.4.12, 1985-04-12, 04/12/1985
    r"(?<![\d/.\-])(?:(?:19|20)\d\d\s?[/.\-]\s?\d{1,2}\s?[/.\-]\s?\d{1,2}|\d{1,2}[/.\-]\d{1,2}[/.\-](?:19|20)\d\d)"
    r"(?![/.\-]?\d)"
)
_EN_DATE_MD = re.compile(rf"(?<![A-Za-z]){_EN_MONTHS}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?(?![A-Za-z\d])", re.IGNORECASE)
_DOB_CTX = re.compile(r"生年月日|誕生日|生まれ|(?<![A-Za-z])(?:born|birth|birthday|dob|d\.o\.b)(?![A-Za-z])",
                      re.IGNORECASE)
_YEAR = re.compile(r"(?:19|20)\d\d")

_PREFS = (r"(?:北海道|東京都|(?:京都|大阪)府|(?:青森|岩手|宮城|秋田|山形|福島|茨城|栃木|群馬|埼玉|千葉|神奈川|新潟|富山|石川|"
          r"福井|山梨|長野|岐阜|静岡|愛知|三重|滋賀|兵庫|奈良|和歌山|鳥取|島根|岡山|広島|山口|徳島|香川|愛媛|高知|福岡|佐賀|"
          r"長崎|熊本|大分|宮崎|鹿児島|沖縄)県)")
_JA_ADDRESS = re.compile(
    rf"(?:〒\s?\d{{3}}-?\d{{4}}\s?)?(?:{_PREFS}[^\s、。,]{{0,12}}?[市区町村郡]|[^\s、。,はがをにのでと]{{1,6}}[市区])"
    rf"[^\s、。,]{{0,12}}?[\d十]{{1,3}}(?:\s?丁目|-)\s?[\d十]{{1,4}}(?:\s?番地?|-)?\s?(?:[\d十]{{1,4}}\s?号?)?"
    rf"(?:\s?[^\s、。,]{{0,12}}?\d{{1,4}}号室)?"
)
_JA_ADDRESS_NUMBER = re.compile(  # 京都府京都市左京区下鴨本町15: a prefecture makes a bare house number safe to mask
    rf"{_PREFS}[^\s、。,\d]{{0,12}}?[市区町村郡][^\s、。,\d]{{1,12}}?[\d十]{{1,4}}(?:\s?番地?|\s?号)?(?![\d円])"
)
_POSTAL = re.compile(r"〒\s?\d{3}-?\d{4}|郵便番号[はがをで\s]*\d{3}-?\d{4}")
_EN_ADDRESS = re.compile(
    r"(?<![A-Za-z\d])\d{1,5}\s+(?:[A-Z][a-z]+\s+){1,3}(?:Street|St|Avenue|Ave|Road|Rd|Lane|Ln|Drive|Dr|Boulevard|"
    r"Blvd|Court|Ct|Place|Pl|Way|Terrace)(?![A-Za-z])\.?(?:,?\s+(?:Apt|Apartment|Suite|Unit|#)\.?\s*\w+)?"
    r"(?:,\s+[A-Z][a-z]+(?:\s[A-Z][a-z]+)?(?:,\s+[A-Z]{2})?(?:\s+\d{5}(?:-\d{4})?)?)?"
)

_Span = tuple[int, int, str]
_DIGIT_NO = re.compile(r"(?<=\d)[の、](?=\d)")
_DIGIT_GROUP = re.compile(r"\d+")


def _digits(s: str) -> str:
    return re.sub(r"\D", "", s)


def _cards(shadow: str) -> list[_Span]:
    """Luhn-valid 13-19 digits, or any 13-19 right after the words "card number" (ASR slips a digit).

    A run of digit groups may hold more than one number (a card read back twice, a phone number then a card):
    every stretch of whole groups is a candidate; the whole run, then 15-16 digits, then the longest win.
    """
    out: list[_Span] = []
    for run in _GROUPS.finditer(shadow):
        groups = [(g.start(), g.end()) for g in _DIGIT_GROUP.finditer(shadow, run.start(), run.end())]
        context = _CARD_CTX.search(shadow[max(0, run.start() - 15):run.start()])
        candidates = []
        for i in range(len(groups)):
            digits = ""
            for j in range(i, len(groups)):
                digits += shadow[groups[j][0]:groups[j][1]]
                if len(digits) > 19:
                    break
                if len(digits) >= 13 and (luhn_ok(digits) or (context and i == 0)):
                    whole = i == 0 and j == len(groups) - 1
                    candidates.append((not whole, len(digits) not in (15, 16), -len(digits), groups[i][0],
                                       groups[j][1]))
        taken: list[tuple[int, int]] = []
        for *_, start, end in sorted(candidates):
            if all(end <= a or start >= b for a, b in taken):
                taken.append((start, end))
        out.extend((a, b, "card") for a, b in taken)
    return out


def _mynumbers(shadow: str) -> list[_Span]:
    out = []
    for m in _MYNUMBER.finditer(shadow):
        ctx = shadow[max(0, m.start() - 20):m.start()]
        if mynumber_ok(_digits(m.group(0))) or _MYNUMBER_CTX.search(ctx):
            out.append((m.start(), m.end(), "mynumber"))
    return out


def _phones(shadow: str) -> list[_Span]:
    out = []
    for m in _PHONE.finditer(shadow):
        d = _digits(m.group(0))
        if len(d) < 10 or _TOLL_FREE.match(d) or _TOLL_FREE.match(d.removeprefix("1")):
            continue
        out.append((m.start(), m.end(), "phone"))
    for m in _PHONE_BARE.finditer(shadow):
        if _PHONE_CTX.search(shadow[max(0, m.start() - 25):m.start()]) and not _TOLL_FREE.match(m.group(0)):
            out.append((m.start(), m.end(), "phone"))
    return out


def _dates(shadow: str) -> list[_Span]:
    """A full date with a year before 2010 is a birth date; any date is one when birth is mentioned nearby."""
    out = []
    for full, pattern in ((True, _JA_DATE_FULL), (True, _EN_DATE_FULL), (True, _NUM_DATE), (False, _JA_DATE_MD),
                          (False, _EN_DATE_MD)):
        for m in pattern.finditer(shadow):
            near = shadow[max(0, m.start() - 25):m.end() + 8]
            year = _YEAR.search(m.group(0))
            old = full and (year is None or int(year.group(0)) < 2010)
            if old or _DOB_CTX.search(near):
                out.append((m.start(), m.end(), "dob"))
    return out


def _regex(pattern: re.Pattern[str], kind: str) -> Callable[[str], list[_Span]]:
    return lambda shadow: [(m.start(), m.end(), kind) for m in pattern.finditer(shadow)]


# (kind, detector): both languages' detectors, run on every text
_DETECTORS: list[tuple[str, Callable[[str], list[_Span]]]] = [
    ("email", _regex(_EMAIL, "email")), ("email", _regex(_EMAIL_SPOKEN, "email")), ("card", _cards),
    ("mynumber", _mynumbers), ("phone", _phones), ("dob", _dates), ("address", _regex(_JA_ADDRESS, "address")),
    ("address", _regex(_JA_ADDRESS_NUMBER, "address")), ("address", _regex(_POSTAL, "address")),
    ("address", _regex(_EN_ADDRESS, "address")),
]


ENTITIES = frozenset(k for k in _LABELS["en"] if k != "number")


def find_pii(text: str, language: str, entities: Collection[str] | None = None) -> list[_Span]:
    """Non-overlapping ``(start, end, kind)`` spans of personal data, earliest and longest first.

    ``entities`` limits the kinds (settings ``privacy.mask_entities``); ``None`` means all of them.
    ``language`` is the caller's: every text runs both languages' detectors.
    """
    kinds = ENTITIES if entities is None else frozenset(entities)
    if not kinds:
        return []
    shadow, starts, ends = _normalize(text)
    spans: list[_Span] = []
    for kind, detect in _DETECTORS:
        if kind in kinds:
            spans.extend(detect(shadow))
    if starts is not None and ends is not None:
        spans = [(starts[a], ends[b - 1], k) for a, b, k in spans]
    spans.sort(key=lambda s: (s[0], -(s[1] - s[0])))
    kept: list[_Span] = []
    for span in spans:
        if kept and span[0] < kept[-1][1]:
            continue
        kept.append(span)
    return kept


def number_runs(text: str, min_digits: int) -> list[_Span]:
    """Runs of digit groups (any spelling) holding at least ``min_digits`` digits, as ``number`` spans."""
    shadow, starts, ends = _normalize(text)
    spans = [(m.start(), m.end(), "number") for m in _GROUPS.finditer(shadow)
             if len(_digits(m.group(0))) >= min_digits]
    if starts is not None and ends is not None:
        spans = [(starts[a], ends[b - 1], k) for a, b, k in spans]
    return spans


def label(kind: str, language: str) -> str:
    """The placeholder that replaces personal data of ``kind``: ``[電話番号]``, ``[PHONE]``…"""
    return _LABELS["ja" if language == "ja" else "en"][kind]


def apply_spans(text: str, spans: Iterable[_Span], language: str) -> str:
    """``text`` with every span replaced by its label; overlapping spans are merged, the first kind names it."""
    merged: list[list] = []
    for start, end, kind in sorted(spans, key=lambda s: (s[0], -(s[1] - s[0]))):
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        elif start < end:
            merged.append([start, end, kind])
    out: list[str] = []
    pos = 0
    for start, end, kind in merged:
        out.append(text[pos:start])
        out.append(label(kind, language))
        pos = end
    out.append(text[pos:])
    return "".join(out)


def mask_pii(text: str, language: str, entities: Collection[str] | None = None) -> str:
    """``text`` with every span of personal data replaced by a label such as ``[電話番号]`` / ``[PHONE]``."""
    return apply_spans(text, find_pii(text, language, entities), language)


def masker(entities: Collection[str] | None = None) -> Callable[[str, str], str]:
    """The configured ``Masker`` (kept for callers that want the plain ``(text, language)`` function)."""
    from summarize.masking import Masker  # the masker builds on this module

    return Masker(entities)
