"""Dates, times, amounts, counts and products said on the call, read from already-masked text.

Japanese numbers and their counters come from SudachiPy tokens (数詞 + 円 / 月 日 / 時 分 / 枚 件 営業日 …);
English from a few patterns. Values are normalized so the store can search them (32000, --04-12, 15:30).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from summarize.base import Turn
from summarize.notes import Entity, EntityKind
from summarize.numbers import canonical_value, number_mentions, tokenize

_JA_COUNTERS = ("営業日", "日間", "週間", "か月", "ヶ月", "カ月", "ヵ月", "年間", "時間", "分間", "枚", "件", "回", "個",
                "台", "本", "点", "人", "名", "GB", "ギガ", "歳", "才", "泊", "箱", "通")
_JA_DURATION_AFTER = ("後", "間", "ほど", "程度", "以内", "前", "くらい", "ぐらい")
_JA_PRODUCT = re.compile(r"[ァ-ヶーA-Za-z0-9＋+]{2,}(?:プラン|コース|パック|オプション|カード|会員|サービス)")
_EN_PRODUCT = re.compile(r"\b(?:[A-Z][\w+-]*\s){1,3}(?:Plan|Card|Package|Membership|Bundle|Subscription)\b")
_EN_MONTHS = {m: i for i, m in enumerate(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
     "november", "december"], start=1)}
_EN_DATE = re.compile(r"\b(January|February|March|April|May|June|July|August|September|October|November|December)"
                      r"\s+(\d{1,2})(?:st|nd|rd|th)?\b", re.IGNORECASE)
_EN_TIME = re.compile(r"\b(\d{1,2})(?::(\d\d))?\s?([ap])(?:\.m\.|m\b)|\b(\d{1,2}):(\d\d)\b", re.IGNORECASE)
_EN_WEEKDAY = re.compile(r"\b(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b")
_JA_WEEKDAY = re.compile(r"[月火水木金土日]曜日?")
_EN_AMOUNT = re.compile(r"[$¥€£]\s?\d[\d,]*(?:\.\d+)?|\b\d[\d,]*(?:\.\d+)?\s?(?:dollars|yen|euros|pounds)\b",
                        re.IGNORECASE)
_EN_COUNT_UNITS = {"business", "days", "day", "weeks", "week", "months", "month", "items", "item", "cards", "times",
                   "gb", "gigabytes", "lines", "hours", "minutes", "years", "packages", "boxes", "orders"}


def _entity(kind: EntityKind, text: str, value: str | None, turn: int) -> Entity:
    return Entity(kind=kind, text=text, value=value, turns=[turn])


def _ja_entities(text: str, turn: int) -> list[Entity]:
    morphs = list(tokenize(text))
    surf = [m.surface() for m in morphs]
    out: list[Entity] = []
    i = 0
    while i < len(morphs):
        m = morphs[i]
        value = canonical_value(m.normalized_form()) if m.part_of_speech()[1] == "数詞" else None
        if value is None:
            i += 1
            continue
        nxt = surf[i + 1] if i + 1 < len(surf) else ""
        rest = "".join(surf[i + 1:i + 4])

        def num(j: int) -> str | None:
            if j < len(morphs) and morphs[j].part_of_speech()[1] == "数詞":
                return canonical_value(morphs[j].normalized_form())
            return None

        if nxt in ("円", "万円"):
            out.append(_entity("amount", m.surface() + nxt, value if nxt == "円" else str(int(value) * 10000), turn))
            i += 2
        elif nxt == "年" and num(i + 2) and i + 3 < len(surf) and surf[i + 3] == "月" and num(i + 4) \
                and i + 5 < len(surf) and surf[i + 5] == "日":
            out.append(_entity("date", "".join(surf[i:i + 6]),
                               f"{value}-{int(num(i + 2) or 0):02d}-{int(num(i + 4) or 0):02d}", turn))
            i += 6
        elif nxt == "月" and num(i + 2) and i + 3 < len(surf) and surf[i + 3] == "日":
            out.append(_entity("date", "".join(surf[i:i + 4]), f"--{int(value):02d}-{int(num(i + 2) or 0):02d}", turn))
            i += 4
        elif nxt == "時" and not rest.startswith("時間"):
            j, minutes = i + 2, "00"
            if num(j) and j + 1 < len(surf) and surf[j + 1] == "分":
                minutes, j = f"{int(num(j) or 0):02d}", j + 2
            elif j < len(surf) and surf[j] == "半":
                minutes, j = "30", j + 1
            out.append(_entity("time", "".join(surf[i:j]), f"{int(value):02d}:{minutes}", turn))
            i = j
        elif nxt == "日" and not any(rest[1:].startswith(a) for a in _JA_DURATION_AFTER):
            out.append(_entity("date", m.surface() + "日", f"---{int(value):02d}", turn))
            i += 2
        else:
            unit = next((c for c in _JA_COUNTERS if rest.startswith(c)), None)
            if unit is None and nxt == "日":
                unit = "日"
            if unit:
                out.append(_entity("count", m.surface() + unit, value, turn))
            i += 1
    for w in _JA_WEEKDAY.finditer(text):
        out.append(_entity("date", w.group(0), w.group(0)[0] + "曜日", turn))
    for p in _JA_PRODUCT.finditer(text):
        out.append(_entity("product", p.group(0), None, turn))
    return out


def _en_entities(text: str, turn: int) -> list[Entity]:
    out: list[Entity] = []
    for m in _EN_AMOUNT.finditer(text):
        value = canonical_value(re.sub(r"[^\d.,]", "", m.group(0)))
        out.append(_entity("amount", m.group(0), value, turn))
    for m in _EN_DATE.finditer(text):
        out.append(_entity("date", m.group(0), f"--{_EN_MONTHS[m.group(1).lower()]:02d}-{int(m.group(2)):02d}", turn))
    for w in _EN_WEEKDAY.finditer(text):
        out.append(_entity("date", w.group(0), w.group(0).lower(), turn))
    for m in _EN_TIME.finditer(text):
        if m.group(1):
            hour = int(m.group(1)) % 12 + (12 if m.group(3).lower() == "p" else 0)
            value = f"{hour:02d}:{m.group(2) or '00'}"
        else:
            value = f"{int(m.group(4)):02d}:{m.group(5)}"
        out.append(_entity("time", m.group(0), value, turn))
    taken = [(e.text, 0) for e in out]
    for n in number_mentions(text, "en"):
        if n.unit in _EN_COUNT_UNITS and not any(n.text in t for t, _ in taken):
            tail = re.match(r"\s*(?:business\s+)?[A-Za-z]+", text[n.end:])
            out.append(_entity("count", n.text + (tail.group(0) if tail else ""), n.value, turn))
    for p in _EN_PRODUCT.finditer(text):
        out.append(_entity("product", p.group(0), None, turn))
    return out


def extract_entities(turns: Sequence[Turn], language: str) -> list[Entity]:
    """Entities in call order, one per (kind, value or text); each lists every turn that mentioned it."""
    merged: dict[tuple[str, str], Entity] = {}
    for turn in turns:
        found = _ja_entities(turn.text, turn.index) if language == "ja" else _en_entities(turn.text, turn.index)
        for e in found:
            key = (e.kind, e.value or e.text) if e.kind in ("amount", "date", "time") else (e.kind, e.text)
            if key in merged:
                if turn.index not in merged[key].turns:
                    merged[key].turns.append(turn.index)
            else:
                merged[key] = e
    return list(merged.values())
