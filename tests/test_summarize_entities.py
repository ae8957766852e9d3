"""Entities: dates, times, amounts, counts and products with normalized values."""

from __future__ import annotations

from summarize.base import Turn
from summarize.entities import extract_entities


def _found(text: str, language: str) -> set[tuple[str, str, str | None]]:
    return {(e.kind, e.text, e.value) for e in extract_entities([Turn(0, "agent", text)], language)}


def test_japanese_entities() -> None:
    found = _found("年会費は三万二千円、4月12日の15時30分に、5営業日以内に2枚、ギガライトプランで木曜日にお届けします。", "ja")
    assert {("amount", "三万二千円", "32000"), ("date", "4月12日", "--04-12"), ("time", "15時30分", "15:30"),
            ("count", "5営業日", "5"), ("count", "2枚", "2"), ("product", "ギガライトプラン", None),
            ("date", "木曜日", "木曜日")} <= found


def test_english_entities() -> None:
    found = _found("We will refund $89.99 by April 12th, around 3 pm on Thursday, within 5 business days.", "en")
    assert {("amount", "$89.99", "89.99"), ("date", "April 12th", "--04-12"), ("time", "3 pm", "15:00"),
            ("date", "Thursday", "thursday"), ("count", "5 business days", "5")} <= found


def test_same_value_merges_turns() -> None:
    turns = [Turn(0, "customer", "三万二千円の請求です"), Turn(1, "agent", "32,000円のご請求ですね")]
    amounts = [e for e in extract_entities(turns, "ja") if e.kind == "amount"]
    assert len(amounts) == 1 and amounts[0].turns == [0, 1]
