"""The ASR glossary follows the knowledge base: edits through the service and imports by another process
both reach the prompt that finals are decoded with, without a restart.

Everything is the real ``Services`` wiring (KnowledgeStore → RetrievalService → AsrEngine, the KB watcher);
only Whisper is replaced by a recorder, since what is under test is which prompt it is handed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import REGISTRY
from support.wait import wait_until
from support.wav import FIXTURES, read_wav

from asr.base import Transcription
from asr.engine import transcribe_stream
from asr.whisper import WhisperRecognizer
from assist.services import Services
from config import Settings
from knowledge.article import parse_article
from knowledge.store import KnowledgeStore

SEED = [
    {"id": "lost-card", "title": "カードを紛失した場合", "answer": "カードの利用を停止します。", "tags": ["紛失", "盗難"]},
    {"id": "annual-fee", "title": "年会費について", "answer": "初年度は無料です。", "tags": ["年会費"]},
]


class PromptRecorder:
    """Stands in for Whisper: remembers the prompt of every decode."""

    name = "prompt-recorder"

    def __init__(self) -> None:
        self.prompts: list[str | None] = []
        self._lock = threading.Lock()

    def transcribe(self, audio: np.ndarray, *, language: str | None, beam_size: int = 5,
                   prompt: str | None = None) -> Transcription:
        with self._lock:
            self.prompts.append(prompt)
        return Transcription("クレジットカードをなくしてしまいました。", language or "ja")


@pytest.fixture
def services(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Services, PromptRecorder]]:
    settings = Settings(home=tmp_path, retrieval={"dense_weight": 0.0}, asr={"partial_interval_s": 0.0},
                        server={"preload_models": False})
    seed = KnowledgeStore(settings.kb_path)
    for row in SEED:
        seed.upsert(parse_article(row))
    seed.close()
    recorder = PromptRecorder()
    monkeypatch.setattr(WhisperRecognizer, "from_settings", lambda settings, registry, **kw: recorder)
    svc = Services(settings)
    svc.load()
    assert svc.readiness()["ready"], svc.readiness()
    yield svc, recorder
    svc.close()


def ja_prompt(svc: Services) -> str:
    return svc.asr.prompt("ja") or ""


def terms(svc: Services) -> list[str]:
    return ja_prompt(svc).rstrip("。").split("、")


def test_glossary_follows_edits_imports_and_deletes(services: tuple[Services, PromptRecorder]) -> None:
    svc, _ = services
    assert set(terms(svc)[:3]) == {"紛失", "盗難", "年会費"}  # loaded from the KB at start-up, tags first
    assert "カードを紛失した場合" in terms(svc) and "ワンニャンプラン" not in terms(svc)

    svc.retrieval.upsert(parse_article({"id": "pet", "title": "ペット保険", "answer": "ワンニャンプランは月額1,200円です。",
                                        "tags": ["ワンニャンプラン"]}))
    assert "ワンニャンプラン" in terms(svc)  # an edit through the service: at once

    other = KnowledgeStore(svc.settings.kb_path)  # e.g. `assist kb import` elsewhere
    try:
        other.upsert(parse_article({"id": "drone", "title": "ドローン保険", "answer": "補償内容のご案内です。",
                                    "tags": ["ドローン"]}))
        other.delete("annual-fee")
    finally:
        other.close()
    wait_until(lambda: "ドローン" in terms(svc), 15, "the KB watcher to add ドローン to the prompt")
    assert "年会費" not in terms(svc) and "年会費について" not in terms(svc)
    assert "ワンニャンプラン" in terms(svc)


def test_finals_are_decoded_with_the_refreshed_glossary(services: tuple[Services, PromptRecorder]) -> None:
    svc, recorder = services
    svc.retrieval.upsert(parse_article({"id": "etc", "title": "ETCカードの追加発行", "answer": "ETCカードは無料です。",
                                        "tags": ["ETCカード"]}))
    speech = read_wav(FIXTURES / "audio" / "ja_lost_card.wav")
    events = transcribe_stream(svc.asr, speech, 100, language="ja", timeout=30)
    assert [e.final for e in events] == [True]
    assert recorder.prompts and all(p is not None and "ETCカード" in p and "紛失" in p for p in recorder.prompts)


def test_services_count_vocab_corrections_on_the_metric(services: tuple[Services, PromptRecorder]) -> None:
    """asr/ only exposes a hook; the service wires it to ``assist_asr_vocab_corrections_total``."""
    svc, _ = services
    before = REGISTRY.get_sample_value("assist_asr_vocab_corrections_total") or 0.0
    assert svc.asr.vocab.on_corrections is not None
    svc.asr.vocab.on_corrections(2)
    assert REGISTRY.get_sample_value("assist_asr_vocab_corrections_total") == before + 2


def test_the_articles_wording_reaches_the_vocabulary_correction(services: tuple[Services, PromptRecorder]) -> None:
    """An answer's spelling (財布ごとカード) respells a final that reads exactly like it, once the article is in."""
    svc, _ = services
    heard = "サイフごとカードを落としました。"
    assert svc.asr.vocab.correct(heard)[0] == heard
    svc.retrieval.upsert(parse_article({"id": "wallet", "title": "財布を落とした場合",
                                        "answer": "財布ごとカードを落とされた場合は、利用を停止します。"}))
    assert svc.asr.vocab.correct(heard)[0] == "財布ごとカードを落としました。"
