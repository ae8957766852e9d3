"""Light fakes of the model stages and a real uvicorn server, for tests about the live service's own logic.

(No tests here; the test_live_* / test_protocol_* / test_calls_* modules import it.)
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import uvicorn
import websockets

from asr.base import TranscriptEvent
from assist.app import create_app
from config import Settings
from assist.pipeline import Pipeline
from assist.services import Services
from retrieval.base import Hit
from summarize.notes import CallNotes, NoteLine

UTTERANCE_SAMPLES = 8000  # the fake recognizer finishes one scripted utterance per 0.5 s of audio


class FakeLeg:
    def __init__(self, call_id: str, leg: str, on_event: Any, script: list[str]) -> None:
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
            start, end = self.index * 0.5, self.index * 0.5 + 0.4
            uid = f"{self.leg[0]}{self.index}"
            self.on_event(TranscriptEvent(self.call_id, self.leg, uid, text[:2], False, start, end, "ja"))
            self.on_event(TranscriptEvent(self.call_id, self.leg, uid, text, True, start, end, "ja", latency_s=0.2))
            self.index += 1

    def close(self) -> None:
        self.closed = True

    def join(self, timeout: float | None = None) -> bool:
        return True


@dataclass
class FakeAsr:
    scripts: dict[str, list[str]] = field(default_factory=dict)
    legs: list[FakeLeg] = field(default_factory=list)

    def open_leg(self, call_id: str, leg: str, *, language: str | None, on_event: Any) -> FakeLeg:
        stream = FakeLeg(call_id, leg, on_event, list(self.scripts.get(leg, [])))
        self.legs.append(stream)
        return stream


ARTICLES = {
    "lost-card": "カードを紛失・盗難にあった場合",
    "reissue": "カードの再発行",
    "address-change": "住所の変更",
    "fees": "手数料について",
}


@dataclass
class FakeRetrieval:
    """``responses`` maps an utterance to the ranked article ids the fake returns for it."""

    responses: dict[str, list[str]] = field(default_factory=dict)
    queries: list[str] = field(default_factory=list)
    delay_s: float = 0.0

    def suggest(self, latest: str, previous: str | None = None, *, language: str | None = None,
                k: int | None = None) -> Any:
        assert threading.current_thread() is not threading.main_thread()
        time.sleep(self.delay_s)
        self.queries.append(latest)
        ids = self.responses.get(latest, [])[: k or 3]
        hits = [Hit(a, ARTICLES[a], f"{ARTICLES[a]}の手順", 1.0 - 0.1 * i, confidence="high" if i == 0 else "medium")
                for i, a in enumerate(ids)]
        return SimpleNamespace(query=latest, hits=hits, latency_ms=5.0, abstained=not hits)

    def get_article(self, article_id: str) -> Any:
        if article_id not in ARTICLES:
            return None
        return SimpleNamespace(id=article_id, title=ARTICLES[article_id], answer="ご案内します。", language="ja")


class FakeSummarizer:
    name = "fake"

    def __init__(self) -> None:
        self.articles: list[Any] = []  # the articles of the last call summarized

    def summarize(self, turns: Any, *, language: str, articles: Any = ()) -> CallNotes:
        self.articles = list(articles)
        customer = [t for t in turns if t.speaker == "customer"]
        return CallNotes(language=language, backend="fake",
                         inquiry=[NoteLine(text=t.text, turns=[t.index]) for t in customer[:1]],
                         disposition=articles[0].title if articles else None)


def fake_draft(article: Any, query: str, language: str) -> Any:
    return SimpleNamespace(text=f"{article.title}についてご案内いたします。", cited_ids=[article.id])


def fake_mask(text: str, language: str) -> str:
    return re.sub(r"\d{4}", "****", text)


def fake_pipeline(scripts: dict[str, list[str]] | None = None,
                  responses: dict[str, list[str]] | None = None) -> Pipeline:
    return Pipeline(asr=FakeAsr(scripts or {}), retrieval=FakeRetrieval(responses or {}),
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
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)


def make_settings(tmp_path: Path, **server: Any) -> Settings:
    return Settings(home=tmp_path, server={"preload_models": False, **server}, auth={"mode": "open"})


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Any]:
    """Factory: ``live(scripts, responses, **server_settings)`` -> a started ``LiveServer`` with fakes."""
    servers: list[LiveServer] = []

    def start(scripts: dict[str, list[str]] | None = None, responses: dict[str, list[str]] | None = None,
              pipeline: Pipeline | None = None, **server: Any) -> LiveServer:
        settings = make_settings(tmp_path, **server)
        services = Services(settings, pipeline=pipeline or fake_pipeline(scripts, responses))
        srv = LiveServer(settings, services).__enter__()
        servers.append(srv)
        return srv

    yield start
    for srv in servers:
        srv.__exit__(None, None, None)


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
    return np.zeros(int(seconds * 16000), np.float32)


async def connect(url: str) -> Any:
    return await websockets.connect(url, max_size=None, open_timeout=10, max_queue=None)
