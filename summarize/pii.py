"""Personal data masking: card numbers, phone numbers, birth dates, addresses, e-mail, マイナンバー.

Callers read these aloud, so ASR writes them in every spelling: full-width digits, kanji digits read one by
one (四五三二…), separators of any kind. Patterns run over a *shadow* copy of the text in which every such
character is mapped one-to-one to ASCII, so spans found there replace the same spans of the original.
Company numbers (0120 / 0800 / 0570 / 1-800) are not personal and stay. The live service masks every
utterance with ``mask_pii`` before anything is stored or logged.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection

_LABELS = {
    "ja": {"card": "[カード番号]", "phone": "[電話番号]", "dob": "[生年月日]", "address": "[住所]",
           "email": "[メール]", "mynumber": "[マイナンバー]"},
    "en": {"card": "[CARD]", "phone": "[PHONE]", "dob": "[DOB]", "address": "[ADDRESS]", "email": "[EMAIL]",
           "mynumber": "[ID NUMBER]"},
}

_SHADOW = {**{0xFF01 + i: 0x21 + i for i in range(94)},  # full-width ASCII
           **{ord(k): ord(v) for k, v in zip("〇零一二三四五六七八九", "00123456789", strict=True)},
           **{ord(c): ord("-") for c in "ー－‐‑–—―−"}, 0x3000: 0x20}


def _shadow(text: str) -> str:
    return text.translate(_SHADOW)


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


_SEP = r"[\s\-.・、,]?"
_CARD = re.compile(rf"(?<!\d)\d(?:{_SEP}\d){{12,18}}(?!\d)")
_CARD_CTX = re.compile(r"カ[ー-]ドの?番号|card number|card no", re.IGNORECASE)
_MYNUMBER_CTX = re.compile(r"マイナンバ[ー-]|個人番号|my ?number|individual number", re.IGNORECASE)
_TOLL_FREE = re.compile(r"^(?:0120|0800|0570|0088|1800|800|888|877|866)")
_PHONE = re.compile(
    r"(?<![\dA-Za-z])(?:\+\s?81[\s\-]?\(?0?\)?\d{1,4}[\s\-]?\d{1,4}[\s\-]?\d{3,4}"   # +81 …
    r"|\+\s?[2-9]\d{0,2}(?:[\s\-]?\(?\d{1,4}\)?){2,4}"                              # +44 20 7946 0958
    r"|\+?1?[\s\-]?\(\d{3}\)\s?\d{3}[\s\-]\d{4}"                                # (555) 123-4567
    r"|\+1[\s\-]?\d{3}[\s\-]\d{3}[\s\-]\d{4}"                                   # +1 555 123 4567
    r"|0\d{1,4}[\s\-()]{1,2}\d{1,4}[\s\-()]{1,2}\d{3,4}"                               # 090-1234-5678, 03-1234-5678
    r"|0[789]0\d{8}|0\d{9}"                                                     # 09012345678, 0312345678
    r"|\d{3}[\s\-.]\d{3}[\s\-.]\d{4})(?!\d)"                                    # 555-123-4567
)
_EMAIL = re.compile(r"[\w.+\-]+\s?(?:@|＠|アットマ[ー-]ク)\s?[\w\-]+(?:\s?(?:\.|ドット)\s?[\w\-]+)+",
                    re.ASCII | re.IGNORECASE)
_EMAIL_SPOKEN = re.compile(r"\b(?:\w+ dot )*[\w.+\-]+ at [\w\-]+ dot (?:com|net|org|co|jp|ne)(?: dot [a-z]{2})?\b", re.IGNORECASE)

_ERA = r"(?:昭和|平成|令和|大正|[SHRT])"
_JA_NUM = r"[\d十]{1,3}"
_JA_DATE_FULL = re.compile(rf"(?:(?:19|20)\d\d|{_ERA}\s?(?:元|{_JA_NUM}))\s?年\s?の?\s?{_JA_NUM}\s?月\s?{_JA_NUM}\s?日")
_JA_DATE_MD = re.compile(rf"{_JA_NUM}\s?月\s?{_JA_NUM}\s?日")
_JA_DOB_CTX = re.compile(r"生年月日|誕生日|生まれ")
_EN_MONTHS = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
              r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)")
_EN_DATE_FULL = re.compile(
    rf"\b(?:{_EN_MONTHS}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+(?:19|20)\d\d"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_EN_MONTHS},?\s+(?:19|20)\d\d"
    rf"|\d{{1,2}}[/.-]\d{{1,2}}[/.-](?:19|20)\d\d|(?:19|20)\d\d-\d\d-\d\d)\b",
    re.IGNORECASE,
)
_EN_DATE_MD = re.compile(rf"\b{_EN_MONTHS}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?\b", re.IGNORECASE)
_EN_DOB_CTX = re.compile(r"\b(?:born|birth|birthday|dob|d\.o\.b)\b", re.IGNORECASE)
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
    r"\b\d{1,5}\s+(?:[A-Z][a-z]+\s+){1,3}(?:Street|St|Avenue|Ave|Road|Rd|Lane|Ln|Drive|Dr|Boulevard|Blvd|Court|Ct|"
    r"Place|Pl|Way|Terrace)\b\.?(?:,?\s+(?:Apt|Apartment|Suite|Unit|#)\.?\s*\w+)?"
    r"(?:,\s+[A-Z][a-z]+(?:\s[A-Z][a-z]+)?(?:,\s+[A-Z]{2})?(?:\s+\d{5}(?:-\d{4})?)?)?"
)

_Span = tuple[int, int, str]
_DIGIT_NO = re.compile(r"(?<=\d)[の、](?=\d)")


def _digits(s: str) -> str:
    return re.sub(r"\D", "", s)


def _cards(shadow: str) -> list[_Span]:
    """Luhn-valid digit runs, or any 13-19 digits right after the words "card number" (ASR slips a digit)."""
    out = []
    for m in _CARD.finditer(shadow):
        d = _digits(m.group(0))
        context = _CARD_CTX.search(shadow[max(0, m.start() - 15):m.start()])
        if 13 <= len(d) <= 19 and (luhn_ok(d) or context):
            out.append((m.start(), m.end(), "card"))
    return out


def _mynumbers(shadow: str) -> list[_Span]:
    out = []
    for m in re.finditer(r"(?<!\d)\d{4}[\s\-]?\d{4}[\s\-]?\d{4}(?!\d)", shadow):
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
    return out


def _dates(shadow: str, full: re.Pattern[str], md: re.Pattern[str], ctx: re.Pattern[str]) -> list[_Span]:
    """A full date with a year before 2010 is a birth date; any date is one when birth is mentioned nearby."""
    out = []
    for pattern in (full, md):
        for m in pattern.finditer(shadow):
            near = shadow[max(0, m.start() - 25):m.end() + 8]
            year = _YEAR.search(m.group(0))
            old = pattern is full and (year is None or int(year.group(0)) < 2010)
            if old or ctx.search(near):
                out.append((m.start(), m.end(), "dob"))
    return out


def _regex(pattern: re.Pattern[str], kind: str) -> Callable[[str], list[_Span]]:
    return lambda shadow: [(m.start(), m.end(), kind) for m in pattern.finditer(shadow)]


_DETECTORS: dict[str, list[Callable[[str], list[_Span]]]] = {
    "ja": [_regex(_EMAIL, "email"), _cards, _mynumbers, _phones,
           lambda s: _dates(s, _JA_DATE_FULL, _JA_DATE_MD, _JA_DOB_CTX),
           _regex(_JA_ADDRESS, "address"), _regex(_JA_ADDRESS_NUMBER, "address"), _regex(_POSTAL, "address")],
    "en": [_regex(_EMAIL, "email"), _regex(_EMAIL_SPOKEN, "email"), _cards, _mynumbers, _phones,
           lambda s: _dates(s, _EN_DATE_FULL, _EN_DATE_MD, _EN_DOB_CTX), _regex(_EN_ADDRESS, "address")],
}


ENTITIES = frozenset(_LABELS["en"])


def find_pii(text: str, language: str, entities: Collection[str] | None = None) -> list[_Span]:
    """Non-overlapping ``(start, end, kind)`` spans of personal data, earliest and longest first.

    ``entities`` limits the kinds (settings ``privacy.mask_entities``); ``None`` means all of them.
    """
    # 〇九〇の一二三四の五六七八: spoken groups joined by の or 、 are separators (same length: spans line up)
    shadow = _DIGIT_NO.sub("-", _shadow(text))
    spans: list[_Span] = []
    for detect in _DETECTORS["ja" if language == "ja" else "en"]:
        spans.extend(detect(shadow))
    if entities is not None:
        spans = [s for s in spans if s[2] in entities]
    spans.sort(key=lambda s: (s[0], -(s[1] - s[0])))
    kept: list[_Span] = []
    for span in spans:
        if kept and span[0] < kept[-1][1]:
            continue
        kept.append(span)
    return kept


def mask_pii(text: str, language: str, entities: Collection[str] | None = None) -> str:
    """``text`` with every span of personal data replaced by a label such as ``[電話番号]`` / ``[PHONE]``."""
    labels = _LABELS["ja" if language == "ja" else "en"]
    out: list[str] = []
    pos = 0
    for start, end, kind in find_pii(text, language, entities):
        out.append(text[pos:start])
        out.append(labels[kind])
        pos = end
    out.append(text[pos:])
    return "".join(out)


def masker(entities: Collection[str] | None = None) -> Callable[[str, str], str]:
    """``mask_pii`` bound to the configured kinds, in the ``(text, language)`` shape the live service calls."""
    kinds = None if entities is None else frozenset(entities)
    unknown = (kinds or frozenset()) - ENTITIES
    if unknown:
        raise ValueError(f"unknown PII kinds {sorted(unknown)}; expected some of {sorted(ENTITIES)}")
    return lambda text, language: mask_pii(text, language, kinds)
