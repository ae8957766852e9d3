"""Light fakes of the model stages and a real uvicorn server, for tests about the live service's own logic.

The ``live`` fixture (tests/conftest.py) starts a ``LiveServer`` with these fakes; tests import the fakes directly.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import uvicorn
import websockets

from asr.audio import SAMPLE_RATE
from asr.base import Leg, Utterance
from assist.app import create_app
from assist.services import Services
from assist.stages import CallStages
from config import Settings
from knowledge.article import Article
from retrieval.base import Hit, Suggestion
from summarize.base import ArticleRef, Turn
from summarize.notes import CallNotes, NoteLine
from summarize.reply import ReplyDraft
from support.wait import wait_until

UTTERANCE_SAMPLES = 8000  # the fake recognizer finishes one scripted utterance per 0.5 s of audio
TURN_S = 3.0  # ... each a turn of its own: they lie this far apart on the leg's clock, as if the other side spoke


class FakeLeg:
    """A ``LegAudio`` that finishes one scripted utterance (a partial, then its final) per 0.5 s of audio."""

    def __init__(self, call_id: str, leg: Leg, on_event: Callable[[Utterance], None], script: list[str]) -> None:
        self.call_id, self.leg, self.on_event, self.script = call_id, leg, on_event, script
        self.samples = 0
        self.index = 0
        self.closed = False
        self.lag_s = 0.0

    def feed(self, samples: np.ndarray) -> None:
        assert samples.dtype == np.float32 and samples.ndim == 1
        self.samples += len(samples)
        while self.index < len(self.script) and self.samples >= (self.index + 1) * UTTERANCE_SAMPLES:
            text = self.script[self.index]
            start, end = self.index * TURN_S, self.index * TURN_S + 0.4
            uid = f"{self.leg[0]}{self.index}"
            self.on_event(Utterance(self.call_id, self.leg, uid, text[:2], False, start, end, "ja"))
            self.on_event(Utterance(self.call_id, self.leg, uid, text, True, start, end, "ja", latency_s=0.2))
            self.index += 1

    def close(self) -> None:
        self.closed = True

    def join(self, timeout: float | None = None) -> bool:
        return True


@dataclass
class FakeAsr:
    """A ``StreamingRecognizer``: ``scripts`` maps a leg to the texts its audio turns into."""

    scripts: dict[str, list[str]] = field(default_factory=dict)
    legs: list[FakeLeg] = field(default_factory=list)

    def open_leg(self, call_id: str, leg: Leg, *, language: str | None,
                 on_event: Callable[[Utterance], None]) -> FakeLeg:
        stream = FakeLeg(call_id, leg, on_event, list(self.scripts.get(leg, [])))
        self.legs.append(stream)
        return stream

    def stats(self) -> dict[str, float | int]:
        return {"legs": len(self.legs)}


ARTICLES = {
    "lost-card": "カードを紛失・盗難にあった場合",
    "reissue": "カードの再発行",
    "address-change": "住所の変更",
    "fees": "手数料について",
}


def fake_article(article_id: str) -> Article:
    return Article(id=article_id, title=ARTICLES[article_id], answer="ご案内します。", language="ja")


@dataclass
class FakeRetrieval:
    """A ``Suggester``: ``responses`` maps an utterance to the ranked article ids the fake returns for it."""

    responses: dict[str, list[str]] = field(default_factory=dict)
    queries: list[str] = field(default_factory=list)
    delay_s: float = 0.0

    def search(self, query: str, *, k: int = 3, language: str | None = None) -> list[Hit]:
        return [Hit(a, ARTICLES[a], f"{ARTICLES[a]}の手順", 1.0 - 0.1 * i, confidence="high" if i == 0 else "medium")
                for i, a in enumerate(self.responses.get(query, [])[:k])]

    def suggest(self, latest: str, previous: str | None = None, *, language: str | None = None,
                k: int | None = None) -> Suggestion:
        assert threading.current_thread() is not threading.main_thread()
        time.sleep(self.delay_s)
        self.queries.append(latest)
        hits = self.search(latest, k=k or 3, language=language)
        return Suggestion(latest, hits, 5.0, abstained=not hits)

    def get_article(self, article_id: str) -> Article | None:
        return fake_article(article_id) if article_id in ARTICLES else None


class FakeSummarizer:
    """A ``Summarizer`` that remembers the articles it was given."""

    name = "fake"

    def __init__(self) -> None:
        self.articles: list[ArticleRef] = []  # the articles of the last call summarized

    def summarize(self, turns: Sequence[Turn], *, language: str, articles: Sequence[ArticleRef] = ()) -> CallNotes:
        self.articles = list(articles)
        customer = [t for t in turns if t.speaker == "customer"]
        return CallNotes(language=language, backend="fake",
                         inquiry=[NoteLine(text=t.text, turns=[t.index]) for t in customer[:1]],
                         disposition=articles[0].title if articles else None)


def fake_draft(article: Article, query: str, language: str) -> ReplyDraft:
    return ReplyDraft(text=f"{article.title}についてご案内いたします。", cited_ids=[article.id])


def fake_mask(text: str, language: str) -> str:
    return re.sub(r"\d{4}", "****", text)


def fake_stages(scripts: dict[str, list[str]] | None = None,
                responses: dict[str, list[str]] | None = None) -> CallStages:
    return CallStages(asr=FakeAsr(scripts or {}), retrieval=FakeRetrieval(responses or {}),
                      summarizer=FakeSummarizer(), draft=fake_draft, mask=fake_mask)


class LiveServer:
    """The real app under uvicorn on a free port, in a background thread."""

    def __init__(self, settings: Settings, services: Services, status_interval_s: float = 30.0) -> None:
        self.settings = settings
        self.services = services
        self.app = create_app(settings, services, status_interval_s=status_interval_s)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_config=None, ws_max_size=1 << 20,
                                lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        wait_until(lambda: self.server.started, 20, "the server to start", interval_s=0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)


def make_settings(tmp_path: Path, **server: Any) -> Settings:
    return Settings(home=tmp_path, server={"preload_models": False, **server}, auth={"mode": "open"})


async def recv_json(ws: Any, timeout: float = 10.0) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def recv_all(ws: Any, timeout: float = 15.0) -> list[dict[str, Any]]:
    """Every message until the server closes the socket."""
    out: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        async for message in ws:
            out.append(json.loads(message))
    return out


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SAMPLE_RATE), np.float32)


async def connect(url: str) -> Any:
    return await websockets.connect(url, max_size=None, open_timeout=10, max_queue=None)
