"""Scripted stand-ins for the model stages, driven by the bundled demo call (assist/static/demo/call.json).

The real server runs with these in place of Whisper, the knowledge base and the summarizer, so a browser
test about the widget sees the real websockets, hub, store and REST, with events timed by the audio the
widget actually streams: a turn's partial once half of it has arrived, its final 0.3 s after it ends.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from asr.audio import SAMPLE_RATE
from asr.base import Leg, Utterance
from assist.stages import CallStages
from knowledge.article import Article
from retrieval.base import Hit, Suggestion
from summarize.base import ArticleRef, Turn
from summarize.notes import CallNotes, Entity, NoteLine
from summarize.reply import ReplyDraft

DEMO = Path(__file__).resolve().parents[2] / "assist" / "static" / "demo" / "call.json"

ARTICLES = {
    "lost-card": ("カードを紛失・盗難にあった場合", "カード", "すぐにカードの利用を停止し、再発行の手続きをご案内します。"),
    "reissue": ("カードの再発行", "カード", "再発行したカードは1週間ほどでご登録の住所へお届けします。"),
    "fees": ("各種手数料", "料金", "紛失による再発行手数料は1,100円（税込）です。"),
}


def demo_call() -> dict[str, Any]:
    return json.loads(DEMO.read_text(encoding="utf-8"))


class ScriptedLeg:
    def __init__(self, call_id: str, leg: Leg, on_event: Callable[[Utterance], None],
                 turns: list[tuple[int, dict[str, Any]]]) -> None:
        self.call_id, self.leg, self.on_event = call_id, leg, on_event
        self.pending = list(turns)
        self.partial_sent: set[int] = set()
        self.samples = 0
        self.lag_s = 0.1

    def _emit(self, index: int, turn: dict[str, Any], final: bool) -> None:
        text = turn["text"] if final else turn["text"][: max(2, len(turn["text"]) // 2)]
        self.on_event(Utterance(self.call_id, self.leg, f"{self.leg[0]}{index}", text, final,
                                turn["start"], turn["end"], "ja", latency_s=0.3 if final else 0.0))

    def feed(self, samples: np.ndarray) -> None:
        self.samples += len(samples)
        now = self.samples / SAMPLE_RATE
        while self.pending:
            index, turn = self.pending[0]
            if index not in self.partial_sent and now >= (turn["start"] + turn["end"]) / 2:
                self._emit(index, turn, False)
                self.partial_sent.add(index)
            if now < turn["end"] + 0.3:
                return
            self._emit(index, turn, True)
            self.pending.pop(0)

    def close(self) -> None:
        for index, turn in self.pending:
            self._emit(index, turn, True)
        self.pending.clear()

    def join(self, timeout: float | None = None) -> bool:
        return True


class ScriptedAsr:
    def __init__(self) -> None:
        self.turns = list(enumerate(demo_call()["turns"]))

    def open_leg(self, call_id: str, leg: Leg, *, language: str | None,
                 on_event: Callable[[Utterance], None]) -> ScriptedLeg:
        return ScriptedLeg(call_id, leg, on_event, [(i, t) for i, t in self.turns if t["speaker"] == leg])

    def stats(self) -> dict[str, float | int]:
        return {}


class KeywordRetrieval:
    """Answers the demo's customer turns: the lost card first, the fee question later."""

    RULES = (("落とし", ["lost-card", "reissue"]), ("手数料", ["fees", "reissue"]))

    def search(self, query: str, *, k: int = 3, language: str | None = None) -> list[Hit]:
        ids = next((ids for word, ids in self.RULES if word in query), [])[:k]
        return [Hit(a, ARTICLES[a][0], ARTICLES[a][2], 0.9 - 0.15 * i, category=ARTICLES[a][1],
                    confidence="high" if i == 0 else "medium") for i, a in enumerate(ids)]

    def suggest(self, latest: str, previous: str | None = None, *, language: str | None = None,
                k: int | None = None) -> Suggestion:
        hits = self.search(latest, k=k or 3, language=language)
        return Suggestion(latest, hits, 4.0, abstained=not hits)

    def get_article(self, article_id: str) -> Article | None:
        if article_id not in ARTICLES:
            return None
        title, category, answer = ARTICLES[article_id]
        return Article(id=article_id, title=title, answer=answer, category=category, language="ja")


class DemoSummarizer:
    """Notes of the shape the real one writes, with one flagged line and two entities."""

    name = "scripted"

    def summarize(self, turns: Sequence[Turn], *, language: str, articles: Sequence[ArticleRef] = ()) -> CallNotes:
        by_text = {t.text: t.index for t in turns}

        def idx(fragment: str) -> list[int]:
            return [i for text, i in by_text.items() if fragment in text]

        return CallNotes(
            language=language, backend=self.name,
            inquiry=[NoteLine(text="財布ごとカードを紛失した", turns=idx("落として"))],
            actions=[NoteLine(text="本人確認のうえ、カードの利用を停止", turns=idx("停止") + idx("生年月日"))],
            result="resolved",
            result_line=NoteLine(text="停止済み。再発行を手配", turns=idx("停止")),
            follow_ups=[NoteLine(text="新しいカードを一週間ほどで発送", turns=idx("一週間")),
                        NoteLine(text="再発行手数料 1,000円", turns=idx("手数料は"), flagged=True)],
            entities=[Entity(kind="date", text="1985年4月12日", value="1985-04-12", turns=idx("1985")),
                      Entity(kind="amount", text="1100円", value="1100", turns=idx("1100"))],
            disposition=articles[0].title if articles else None,
            flags=["「1,000円」は文字起こしにありません（1100円）"],
        )


def draft(article: Article, query: str, language: str) -> ReplyDraft:
    return ReplyDraft(text=f"ご不便をおかけしております。{article.answer}", cited_ids=[article.id])


def demo_stages() -> CallStages:
    return CallStages(asr=ScriptedAsr(), retrieval=KeywordRetrieval(), summarizer=DemoSummarizer(), draft=draft)
