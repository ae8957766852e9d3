"""Dates, times, amounts, counts and products said on the call, read from already-masked text.

Japanese numbers and their counters come from SudachiPy tokens (数詞 + 円 / 月 日 / 時 分 / 枚 件 営業日 …);
English from a few patterns. Values are normalized so the store can search them (32000, --04-12, 15:30).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from common.text_ja import tokenize
from summarize.base import Turn
from summarize.notes import Entity, EntityKind
from summarize.numbers import canonical_value, number_mentions

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
# Names the customer says: places (大阪市, Denver) and shops or companies (ローソン, Netflix); never people's names.
_JA_ERAS = {"明治", "大正", "昭和", "平成", "令和"}
_JA_SHOP_AFTER = re.compile(r"^(?:で(?:買|購入|注文|使|利用|支払|払)|から(?:の)?(?:請求|引き落とし|引落|メール|荷物|電話))")
_JA_SHOP_WORD = re.compile(r"^(?:お?店|店舗|支店|本店|駅|ショップ|モール|デパート|百貨店)$")
# お店は梅田のユニバースシューズで / 利用先はABCストアです: the shop named after the word for it
_JA_SHOP_IS = re.compile(r"(?:お店|店名|加盟店|利用先|ご利用先|ショップ|サイト)(?:の名前)?(?:は|が|って)"
                         r"(?:[^、。\s]{1,8}?の)?([ァ-ヶーA-Za-zＡ-Ｚａ-ｚ0-9０-９・&＆\u4e00-\u9fff]{2,20}?)"
                         r"(?=で|です|っていう|という|って|、|。|$)")
_JA_CALLED = re.compile(r"([ァ-ヶーA-Za-zＡ-Ｚａ-ｚ0-9０-９・&＆]{3,})(?:という|っていう|って)(?:お?店|ところ|サイト|会社|ショップ|アプリ)")
_EN_NAME = re.compile(r"\b(?:at|from|to|in|with|by|called)\s+((?:[A-Z][\w&'.-]*)(?:\s+[A-Z][\w&'.-]*){0,2})")
_EN_NOT_NAMES = {"I", "I'm", "I've", "I'll", "The", "My", "Our", "Your", "A", "An", "This", "That", "It", "Monday", "Tuesday",
                 "Wednesday", "Thursday", "Friday", "Saturday", "Sunday", "Today", "Tomorrow"}
_EN_PLACE_BEFORE = re.compile(r"\b(?:move|moving|moved|live|living|lived|relocat\w*|transfer\w*|out|over)\s+(?:\w+\s+)?$",
                              re.IGNORECASE)
_EN_PERSON_BEFORE = re.compile(r"\b(?:talk|talked|speak|spoke|ask|asked|name is|this is)\s*$", re.IGNORECASE)
_EN_PLAN_BEFORE = re.compile(r"\b(?:switch|change|upgrade|downgrade)\w*\s+(?:\w+\s+){0,2}$", re.IGNORECASE)
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


def _ja_names(text: str, turn: int) -> list[Entity]:
    """Proper nouns (SudachiPy) other than people's names and eras: places, else shops and companies; a place
    name someone bought at (アマゾンで買った) is a shop. A surname-like word alone before の and a shop
    (梅田のユニバースシューズっていうお店) is the shop's place."""
    out: list[Entity] = []
    morphs = list(tokenize(text))
    named = [*_JA_CALLED.finditer(text), *_JA_SHOP_IS.finditer(text)]
    shops = {c.start(1) for c in named}
    for i, m in enumerate(morphs):
        pos = m.part_of_speech()
        if pos[1] != "固有名詞" or m.surface() in _JA_ERAS or len(m.surface()) < 2:
            continue
        if pos[2] == "人名":
            alone = not any(x.part_of_speech()[2] == "人名" for x in morphs[max(0, i - 1):i] + morphs[i + 1:i + 2])
            before_shop = i + 2 < len(morphs) and morphs[i + 1].surface() == "の" and (
                morphs[i + 2].begin() in shops or morphs[i + 2].part_of_speech()[1] == "固有名詞"
                or _JA_SHOP_WORD.match(morphs[i + 2].surface()))
            if alone and before_shop:
                out.append(_entity("place", m.surface(), None, turn))
            continue
        after = "".join(x.surface() for x in morphs[i + 1:i + 4])
        kind: EntityKind = "place" if pos[2] == "地名" and not _JA_SHOP_AFTER.match(after) else "organization"
        out.append(_entity(kind, m.surface(), None, turn))
    for c in named:
        if not any(e.text == c.group(1) for e in out):
            out.append(_entity("organization", c.group(1), None, turn))
    return out


def _en_names(text: str, turn: int) -> list[Entity]:
    """Capitalized names after at / from / to / in …: places when the caller moves or lives there, else shops
    and companies (a charge from Netflix, bought at Walmart)."""
    out: list[Entity] = []
    for m in _EN_NAME.finditer(text):
        words = m.group(1).split()
        while words and (words[0] in _EN_NOT_NAMES or words[0].lower() in _EN_MONTHS):
            words = words[1:]
        words = [w.rstrip(".'") for w in words]
        if not words or words[0] in _EN_NOT_NAMES or words[0].lower() in _EN_MONTHS:
            continue
        name = " ".join(words[: next((i for i, w in enumerate(words) if w in _EN_NOT_NAMES or w.lower() in _EN_MONTHS),
                                     len(words))])
        before = text[max(0, m.start() - 40):m.start()]
        if _EN_PERSON_BEFORE.search(before):
            continue
        kind: EntityKind = "product" if _EN_PLAN_BEFORE.search(before) and m.group(0).startswith("to ") else \
            "place" if _EN_PLACE_BEFORE.search(before) or m.group(0).startswith("in ") else "organization"
        if name:
            out.append(_entity(kind, name, None, turn))
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
        if turn.speaker == "customer":  # what the caller names; the agent's own company name is no news
            found += _ja_names(turn.text, turn.index) if language == "ja" else _en_names(turn.text, turn.index)
        for e in found:
            key = (e.kind, e.value or e.text) if e.kind in ("amount", "date", "time") else (e.kind, e.text)
            if key in merged:
                if turn.index not in merged[key].turns:
                    merged[key].turns.append(turn.index)
            else:
                merged[key] = e
    return list(merged.values())
