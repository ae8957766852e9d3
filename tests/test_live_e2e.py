"""End to end with the real models: whisper-base + e5-small/BM25 retrieval + extractive notes, over websockets."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pytest
from support.live import LiveServer
from support.wait import wait_until
from support.wav import read_wav

from assist.replay import replay_call
from assist.services import Services
from config import Settings
from knowledge.io import apply_import, parse_text, read_path
from knowledge.store import KnowledgeStore

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
KB = ROOT / "eval" / "data" / "kb.jsonl"
FALLBACK_KB = """\
{"id": "lost-card", "title": "カードを紛失・盗難にあった場合", "question": "カードをなくしました", "answer": "カードの利用を停止し、再発行の手続きをご案内します。", "category": "カード", "tags": ["紛失", "盗難", "利用停止", "再発行"], "language": "ja"}
{"id": "address-change", "title": "住所・電話番号の変更", "question": "引っ越したので住所を変えたい", "answer": "会員サイトまたは書面で変更できます。", "category": "会員情報", "tags": ["住所変更", "引っ越し"], "language": "ja"}
{"id": "annual-fee", "title": "年会費について", "question": "年会費はいくらですか", "answer": "年会費は初年度無料、2年目以降1,375円（税込）です。", "category": "料金", "tags": ["年会費"], "language": "ja"}
{"id": "pin-forgot", "title": "暗証番号を忘れた場合", "question": "暗証番号がわからない", "answer": "暗証番号照会の書類をお送りします。", "category": "カード", "tags": ["暗証番号"], "language": "ja"}
"""


async def test_lost_card_call_with_real_models(tmp_path: Path, registry, whisper_path, e5_path) -> None:
    (tmp_path / "models").symlink_to(whisper_path.parent)
    settings = Settings(home=tmp_path, server={"preload_models": True}, auth={"mode": "open"})
    kb = KnowledgeStore(settings.kb_path)
    articles = read_path(KB) if KB.exists() else parse_text(FALLBACK_KB, "jsonl")
    apply_import(kb, articles)
    kb.close()
    audio = read_wav(ROOT / "tests" / "fixtures" / "audio" / "ja_lost_card.wav")
    audio = np.concatenate([np.zeros(8000, np.float32), audio, np.zeros(16000, np.float32)])

    with LiveServer(settings, Services(settings)) as srv:
        wait_until(lambda: srv.services.readiness()["ready"], 120, "the models to load", interval_s=0.2)
        ready = httpx.get(f"{srv.http}/readyz", timeout=5).json()
        assert ready["ready"], ready
        events = await replay_call(srv.url, "e2e-1", {"customer": audio}, language="ja", timeout_s=120)

    finals = [e for e in events if e["type"] == "transcript" and e["final"]]
    assert finals and any("カード" in e["text"] for e in finals), finals
    suggestions = [e for e in events if e["type"] == "suggestions"]
    assert suggestions and suggestions[0]["items"][0]["article_id"] == "lost-card", suggestions
    assert any(e["type"] == "reply_draft" and e["cited_ids"] == ["lost-card"] for e in events)
    summary = [e for e in events if e["type"] == "summary"]
    assert summary and summary[0]["notes"]["language"] == "ja"
