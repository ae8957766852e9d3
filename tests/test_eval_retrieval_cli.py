"""``python -m eval retrieval`` and ``bench-retrieval`` on tiny inputs: the last stdout line is the JSON
QA and CI read. Quality runs the real e5-small (its numbers are the point); the benchmark test is
about the output's shape, so it uses the hash embedder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support.retrieval_fakes import HashEmbedder

import eval.bench_retrieval
from eval.__main__ import main

ARTICLES = [
    {"id": "lost-card", "title": "カードを紛失・盗難にあった場合", "question": "カードをなくしました",
     "answer": "紛失受付デスク（24時間）へご連絡ください。カードの利用を止めて再発行します。", "category": "カード"},
    {"id": "address-change", "title": "住所を変更したい", "question": "引っ越しました",
     "answer": "会員サイトの登録情報から新しい住所に変更できます。", "category": "手続き"},
    {"id": "billing-amount", "title": "今月の請求額を確認したい", "question": "請求額はいくらですか",
     "answer": "請求額は会員サイトの明細ページで確認できます。確定は毎月15日です。", "category": "請求"},
    {"id": "gas-leak", "title": "ガス漏れの疑いがある場合", "question": "ガス臭い",
     "answer": "火を使わず窓を開け、ガス漏れ専用ダイヤルへすぐにお電話ください。", "category": "ガス"},
    {"id": "plan-change-en", "title": "Changing your mobile plan", "question": "I want a cheaper plan",
     "answer": "You can switch plans in the app; the new plan starts next month.", "category": "Telecom",
     "language": "en"},
]
QUERIES = [
    {"id": "q1", "query": "えっと財布ごと落としちゃって", "relevant": ["lost-card"], "language": "ja"},
    {"id": "q2", "query": "あの引っ越したので住所を変えたいんですけど", "relevant": ["address-change"], "language": "ja"},
    {"id": "q3", "query": "今月の成球学っていくらですか", "relevant": ["billing-amount"], "language": "ja"},
    {"id": "q4", "query": "なんか台所がガス臭いんですけど", "relevant": ["gas-leak"], "language": "ja"},
    {"id": "q5", "query": "uh i want to switch to a cheaper phone plan", "relevant": ["plan-change-en"],
     "language": "en"},
    {"id": "q6", "query": "明日の天気は晴れますか", "relevant": [], "language": "ja"},
]
METRICS = {"recall@1", "recall@3", "recall@5", "mrr", "ndcg@10", "abstain_rate", "false_abstain_rate",
           "offtopic_abstain_rate", "latency_ms_p50", "latency_ms_p95", "n", "min_score", "confidence",
           "offtopic_silenced_with_gate", "answerable_gated"}


def _write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, assist_home: Path) -> tuple[Path, Path]:
    home = tmp_path / "home"
    home.mkdir()
    (home / "models").symlink_to((assist_home / "models").resolve(), target_is_directory=True)
    monkeypatch.setenv("ASSIST_HOME", str(home))
    monkeypatch.delenv("ASSIST_CONFIG", raising=False)
    return _write(tmp_path / "kb.jsonl", ARTICLES), _write(tmp_path / "q.jsonl", QUERIES)


@pytest.mark.slow
def test_retrieval_reports_metrics_as_last_json_line(files: tuple[Path, Path], e5_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    kb, queries = files
    assert main(["retrieval", "--kb", str(kb), "--queries", str(queries)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-2].startswith("e5-small+use-multilingual dense 1.0")  # the human-readable report comes first
    metrics = json.loads(lines[-1])
    assert set(metrics) == METRICS
    assert metrics["n"] == 6
    assert metrics["recall@3"] == metrics["recall@5"] == 1.0 and metrics["recall@1"] >= 0.8
    assert metrics["recall@1"] <= metrics["mrr"] <= 1.0 and 0.0 < metrics["ndcg@10"] <= 1.0
    assert metrics["offtopic_abstain_rate"] == 1.0 and metrics["false_abstain_rate"] <= 0.2
    assert metrics["abstain_rate"] == pytest.approx(
        (metrics["false_abstain_rate"] * 5 + metrics["offtopic_abstain_rate"]) / 6, abs=1e-3)
    assert 0.0 < metrics["latency_ms_p50"] <= metrics["latency_ms_p95"]


def test_retrieval_json_flag_prints_only_the_json_line(files: tuple[Path, Path],
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    kb, queries = files
    # Character bigrams only: no model to load, so this checks the output contract cheaply.
    assert main(["retrieval", "--kb", str(kb), "--queries", str(queries), "--dense-weight", "0",
                 "--reading-weight", "0", "--min-score", "0", "--json"]) == 0
    [line] = capsys.readouterr().out.splitlines()
    metrics = json.loads(line)
    assert set(metrics) == METRICS and metrics["n"] == 6 and metrics["min_score"] == 0.0
    # A zero threshold abstains only where nothing matched: 「財布ごと落としちゃって」 shares no character
    # pair with its article, while the weather question shares 「ます」 with several.
    assert metrics["false_abstain_rate"] == 0.2 and metrics["offtopic_abstain_rate"] == 0.0
    assert metrics["recall@1"] == metrics["recall@5"] == 0.8


class _LoadableHash(HashEmbedder):
    def load(self) -> None:
        """The benchmark loads its embedder up front; the hash embedder has nothing to load."""


def test_bench_retrieval_json_shape(files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    kb, queries = files
    monkeypatch.setattr(eval.bench_retrieval, "build_embedder", lambda settings, registry, **kw: _LoadableHash())
    assert main(["bench-retrieval", "--sizes", "40,120", "--kb", str(kb), "--queries", str(queries),
                 "--json"]) == 0
    [line] = capsys.readouterr().out.splitlines()
    report = json.loads(line)
    assert set(report) == {"embedding", "scales", "config", "queries"}
    assert report["queries"] == 5  # the off-topic query is not timed
    assert set(report["embedding"]) == {"passages", "seconds", "passages_per_s"}
    assert report["embedding"]["passages"] >= len(ARTICLES)
    assert report["config"]["embedder"] == "e5-small+use-multilingual" and "hnsw_above" in report["config"]
    assert [row["articles"] for row in report["scales"]] == [40, 120]
    for row in report["scales"]:
        assert set(row) == {"articles", "passages", "index", "build_s", "save_s", "index_file_mb", "rss_delta_mb",
                            "query_ms_p50", "query_ms_p95", "index_ms_p50", "index_ms_p95"}
        assert row["passages"] >= row["articles"] and row["index"] == "flat"
        assert 0.0 < row["query_ms_p50"] <= row["query_ms_p95"] and row["index_ms_p50"] <= row["index_ms_p95"]
    assert not (kb.parent / "home" / "bench-index" / "bench.faiss").exists()  # the scratch index is removed
