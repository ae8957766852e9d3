"""``eval calls`` end to end: a real server (real models) on a tiny knowledge base, one short synthesized call."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from config import Settings
from eval.calls import load_audio, notes_scorer, replay_all
from eval.callscore import aggregate
from eval.callset import parse_call
from eval.server import prepare_home, running_server

pytest.importorskip("pyopenjtalk")

KB = [
    {"id": "lost-card", "title": "カードを紛失・盗難にあった場合", "answer": "カードの利用を停止し、再発行をご案内します。",
     "category": "カード", "tags": ["紛失", "盗難", "利用停止", "再発行"], "language": "ja"},
    {"id": "address-change", "title": "住所を変更したい", "answer": "マイページから変更できます。",
     "category": "手続き", "tags": ["住所変更", "引っ越し"], "language": "ja"},
    {"id": "points", "title": "ポイントが付与されていない", "answer": "付与は翌月です。",
     "category": "ポイント", "tags": ["ポイント"], "language": "ja"},
]
CALL = {
    "id": "ja-short", "language": "ja",
    "turns": [
        {"speaker": "agent", "text": "お電話ありがとうございます。"},
        {"speaker": "customer", "text": "カードを落としてしまったので、止めてもらえますか。"},
        {"speaker": "agent", "text": "ただいまカードの利用を停止いたしました。再発行いたします。"},
    ],
    "expected": {"1": ["lost-card"]},
    "facts": ["停止", "再発行"],
}


@pytest.fixture
def kb(tmp_path: Path) -> Path:
    path = tmp_path / "kb.jsonl"
    path.write_text("\n".join(json.dumps(a, ensure_ascii=False) for a in KB) + "\n", encoding="utf-8")
    return path


def test_prepare_home_links_models_and_imports_the_kb(tmp_path: Path, kb: Path, assist_home: Path) -> None:
    home = tmp_path / "home"
    assert prepare_home(home, kb, Settings(home=assist_home)) == 3
    assert (home / "models").resolve() == (assist_home / "models").resolve()
    assert (home / "knowledge.db").is_file()


@pytest.mark.slow
def test_one_call_replayed_through_the_real_service(
    kb: Path, assist_home: Path, whisper_path: Path, e5_path: Path
) -> None:
    settings = Settings(home=assist_home)
    call = parse_call(CALL, kb.parent)
    audio = load_audio([call], progress=False)
    with running_server(kb, settings) as url:
        [result] = asyncio.run(replay_all(url, [call], audio, notes_scorer=notes_scorer(kb), progress=False))
    assert result.errors == []
    customer = result.turns[1]
    assert customer.hit3 is True and customer.suggestion_latency_s is not None
    assert "カード" in customer.hypothesis
    assert result.error_rate is not None and result.error_rate < 0.35
    assert result.notes is not None and result.summary_latency_s is not None
    assert result.invented_numbers == 0
    summary = aggregate([result])
    assert summary["hit@3"] == 1.0 and summary["n_calls"] == 1
    assert summary["final_latency_s_p95"] is not None
