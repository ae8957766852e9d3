"""Knowledge gaps: requests recorded by a live call, the store's gap query on both engines (no card, low
confidence, dismissed), greedy clustering (a hash embedder for the mechanics, the real one for the threshold),
`assist kb gaps`, `GET /api/kb/gaps` and the eval report's section."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import httpx
import numpy as np
import pytest
from support.live import FakeAsr, FakeRetrieval, FakeSummarizer, fake_draft, fake_mask, silence
from support.postgres import StoreTarget
from support.retrieval_fakes import HashEmbedder

from assist.cli import main
from assist.gaps import GAP_THRESHOLDS, cluster_gaps, group_requests, pair_scores
from assist.insights_report import gap_report
from assist.replay import replay_call
from assist.stages import CallStages
from assist.store import CallStore
from assist.store_insights import RequestRow
from eval.report_html import render
from retrieval.base import Suggestion

DEV = Path(__file__).resolve().parent.parent / "eval" / "data" / "gaps_dev.jsonl"
T0 = datetime(2025, 4, 10, 9).timestamp()


class LoadableHash(HashEmbedder):
    def load(self) -> None:
        """The real embedders load their weights here."""


def _seed(store: CallStore) -> None:
    """Two calls: a request with no card, one with only low cards, one whose card was dismissed, one dismissed but
    another card used, one answered well, and a greeting (never recorded: the classifier gates it)."""
    for call_id, offset in (("g1", 0), ("g2", 3600)):
        store.create_call(call_id, language="ja", source="websocket", legs=["customer", "agent"], started=T0 + offset)
    rows = [("g1", "c0", "ポイントを現金に換えたいんですけど", "no_card", [], T0 + 10),
            ("g1", "c1", "ペット保険はありますか", "low_confidence", ["fees"], T0 + 20),
            ("g1", "c2", "カードをなくしました", "cards", ["lost-card"], T0 + 30),
            ("g1", "c3", "再発行はできますか", "cards", ["reissue", "fees"], T0 + 40),
            ("g2", "c0", "貯まったポイントを現金に換えられますか", "no_card", [], T0 + 3610),
            ("g2", "c1", "住所を変えたいです", "cards", ["address-change"], T0 + 3620)]
    for call_id, uid, text, outcome, articles, ts in rows:
        store.add_utterance(call_id, uid, leg="customer", text=text, start=0.0, end=1.0)
        store.add_request(call_id, uid, kind="request", outcome=outcome, confidence=None if not articles else "high",
                          articles=articles, language="ja", ts=ts)
        if articles:
            store.add_suggestions(call_id, uid, text, [(a, a, r, 0.9) for r, a in enumerate(articles, start=1)])
    store.add_feedback("g1", "lost-card", "dismissed")
    store.add_feedback("g1", "reissue", "dismissed")
    store.add_feedback("g1", "fees", "used")  # c3's other card helped: not a gap


def test_store_finds_gaps_on_both_engines(store_target: StoreTarget) -> None:
    store = CallStore(store_target("calls.db"))
    try:
        _seed(store)
        store.redact_utterance("g2", "c0", "貯まったポイントを[番号]に換えられますか")  # masked later: read at query time
        gaps = store.kb_gaps(T0, T0 + 86400)
        assert [(g.call_id, g.utterance_id, g.reason) for g in gaps] == [
            ("g2", "c0", "no_card"), ("g1", "c2", "dismissed"), ("g1", "c1", "low_confidence"),
            ("g1", "c0", "no_card")], "newest first; c3 (another card used) and answered requests are not gaps"
        assert gaps[0].text == "貯まったポイントを[番号]に換えられますか" and gaps[2].articles == ["fees"]
        assert store.request_count(T0, T0 + 86400) == 6
        assert [g.utterance_id for g in store.kb_gaps(T0, T0 + 25)] == ["c1", "c0"]
        assert len(store.kb_gaps(T0, T0 + 86400, limit=2)) == 2
        report = gap_report(store, HashEmbedder(), T0, T0 + 86400, threshold=0.3)
        assert (report["requests"], report["gaps"], report["threshold"]) == (6, 4, 0.3)
        first = report["clusters"][0]
        assert first["calls"] == 2 and first["size"] == 2 and first["reasons"] == {"no_card": 2}
        assert [e["call_id"] for e in first["examples"]] == ["g2", "g1"], "examples newest first"
    finally:
        store.close()


def _row(call: str, uid: str, text: str, ts: float, reason: str = "no_card", articles: tuple[str, ...] = ()
         ) -> RequestRow:
    return RequestRow(call, uid, text, "request", reason, list(articles), "ja", ts)  # type: ignore[arg-type]


def test_clusters_largest_first_with_call_counts() -> None:
    rows = [_row("a", "1", "ポイントを現金に換えたいんですけど", T0 + 1),
            _row("b", "1", "ポイントを現金に交換できますか", T0 + 2),
            _row("b", "2", "貯まったポイントを現金に換えられますか", T0 + 3),
            _row("c", "1", "ペット保険はありますか", T0 + 4, "low_confidence", ("fees", "reissue")),
            _row("d", "1", "ペット保険に入りたいです", T0 + 5, "dismissed", ("fees",)),
            _row("e", "1", "Do you ship to Canada?", T0 + 6)]
    clusters = cluster_gaps(rows, HashEmbedder(), threshold=0.3)
    assert [(c.calls, c.size) for c in clusters] == [(2, 3), (2, 2), (1, 1)]
    points, pets, ship = clusters
    assert points.label == "ポイントを現金に換えたいんですけど"  # the member nearest the centroid names the group
    assert [e["text"] for e in points.examples][0] == "貯まったポイントを現金に換えられますか"
    assert pets.articles == ["fees"] and pets.reasons == {"low_confidence": 1, "dismissed": 1}
    assert ship.last_ts == T0 + 6 and ship.languages == {"ja": 1}
    # same size: the newer group first
    tie = cluster_gaps([_row("x", "1", "ペット保険はありますか", T0), _row("y", "1", "Do you ship to Canada?", T0 + 9)],
                       HashEmbedder(), threshold=0.3)
    assert [c.label for c in tie] == ["Do you ship to Canada?", "ペット保険はありますか"]
    assert cluster_gaps([], HashEmbedder()) == []


def test_average_linkage_grouping_and_pair_scores() -> None:
    v = np.array([[1, 0], [0.96, 0.28], [0, 1], [0.28, 0.96]], dtype=np.float32)
    assert group_requests(v, 0.9) == [0, 0, 1, 1]
    assert group_requests(v, 0.99) == [0, 1, 2, 3]
    assert group_requests(v, 0.0) == [0, 0, 0, 0]
    assert group_requests(v[:1], 0.5) == [0] and group_requests(v[:0], 0.5) == []
    # order does not matter: the same pairs end up together whichever request came first
    assert group_requests(v[[3, 0, 2, 1]], 0.9) == [0, 1, 0, 1]
    # average, not single linkage: a chain of close neighbours does not pull in its far end
    chain = np.array([[np.cos(a), np.sin(a)] for a in (0.0, 0.35, 0.7, 1.05)], dtype=np.float32)
    assert len(set(group_requests(chain, 0.9))) > 1
    assert pair_scores(["a", "a", "b", "b"], [0, 0, 1, 1]) == {"precision": 1.0, "recall": 1.0, "f1": 1.0}
    assert pair_scores(["a", "a", "b", "b"], [0, 0, 0, 0]) == {"precision": 0.333, "recall": 1.0, "f1": 0.5}


@pytest.mark.slow  # the real embedder
def test_real_embedder_groups_paraphrases_at_its_threshold(registry) -> None:
    from config import Settings
    from retrieval.embedders import build_embedder

    embedder = build_embedder(Settings().retrieval, registry)
    embedder.load()
    dev = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [replace(_row(f"call-{i}", "1", d["text"], T0 + i), language=d["language"]) for i, d in enumerate(dev)]
    clusters = cluster_gaps(rows, embedder, max_examples=100)
    assert embedder.name in GAP_THRESHOLDS
    label = {e["call_id"]: n for n, c in enumerate(clusters) for e in c.examples}
    scores = pair_scores([d["group"] for d in dev], [label[f"call-{i}"] for i in range(len(dev))])
    # dev: 0.72 / F1 0.74 at the fused embedder's 0.64 (docs/QUALITY.md); the greedy pass it replaced got F1 0.70
    assert scores["precision"] >= 0.68 and scores["f1"] >= 0.72, scores
    assert any(set(c.languages) == {"ja", "en"} for c in clusters), "a question asked in both languages is one gap"
    assert len(clusters) < len(dev) / 2


class _GapKb(FakeRetrieval):
    """No card for the points question, only low cards for the pet one; an embedder for the gaps endpoint."""

    embedder = HashEmbedder()

    def suggest(self, latest: str, previous: str | None = None, *, language: str | None = None,
                k: int | None = None) -> Suggestion:
        found = super().suggest(latest, previous, language=language, k=k)
        if "保険" in latest:
            return replace(found, hits=[replace(h, confidence="low") for h in found.hits])
        return found


CUSTOMER = ["ポイントを現金に換えたいんですけど", "ペット保険はありますか", "カードをなくしました", "ありがとうございました"]
RESPONSES = {"ペット保険はありますか": ["fees"], "カードをなくしました": ["lost-card", "reissue"]}


async def test_live_call_records_requests_and_rest_groups_them(live) -> None:
    stages = CallStages(asr=FakeAsr({"customer": CUSTOMER}), retrieval=_GapKb(RESPONSES), summarizer=FakeSummarizer(),
                        draft=fake_draft, mask=fake_mask)
    srv = live(stages=stages)
    await replay_call(srv.url, "call-gap", {"customer": silence(2.2)}, realtime=False, timeout_s=30)
    store = srv.services.call_store
    async with httpx.AsyncClient(base_url=srv.http) as client:
        before = (await client.get("/api/kb/gaps")).json()
        r = await client.post("/api/calls/call-gap/feedback", json={"article_id": "lost-card", "action": "dismissed"})
        assert r.status_code == 201
        after = (await client.get("/api/kb/gaps", params={"threshold": 0.99})).json()
        bad = await client.get("/api/kb/gaps", params={"until": "2025-01-01", "since": "2025-02-01"})
    assert before["requests"] == 3, "the closing turn is no request"
    assert sorted(tuple(g["reasons"].items()) for g in before["clusters"]) == [(("low_confidence", 1),),
                                                                              (("no_card", 1),)]
    assert before["embedder"] == "hash-test"
    texts = {e["text"]: e["reason"] for c in after["clusters"] for e in c["examples"]}
    assert texts == {"ポイントを現金に換えたいんですけど": "no_card", "ペット保険はありますか": "low_confidence",
                     "カードをなくしました": "dismissed"}
    assert after["threshold"] == 0.99 and store.request_count(0, 2e9) == 3
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "bad_range"


async def test_gaps_endpoint_without_an_embedder(live) -> None:
    srv = live({}, {})  # the plain fake retrieval has no embedder (dense retrieval off)
    async with httpx.AsyncClient(base_url=srv.http) as client:
        r = await client.get("/api/kb/gaps")
    assert r.status_code == 409 and r.json()["error"]["code"] == "no_embedder"


def test_cli_kb_gaps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import retrieval.embedders

    monkeypatch.setenv("ASSIST_HOME", str(tmp_path))
    monkeypatch.setattr(retrieval.embedders, "build_embedder", lambda settings, registry, **kw: LoadableHash())
    store = CallStore(tmp_path / "assist.db")
    _seed(store)
    store.close()
    assert main(["kb", "gaps", "--since", "2025-04-10", "--until", "2025-04-10", "--threshold", "0.3", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["gaps"] == 4 and report["clusters"][0]["calls"] == 2
    assert main(["kb", "gaps", "--since", "2025-04-10", "--until", "2025-04-10", "--threshold", "0.3"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("4 of 6 request(s) failed the knowledge base") and "2 call(s), 2 request(s)" in text
    assert "- 貯まったポイントを現金に換えられますか  [g2]" in text
    assert main(["kb", "gaps", "--since", "2025-04-11"]) == 0  # a range without gaps
    assert "0 of 0 request(s)" in capsys.readouterr().out
    assert main(["kb", "gaps", "--until", "not-a-date"]) == 2


def test_eval_report_section(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import retrieval.embedders
    from eval.report import knowledge_gaps

    monkeypatch.setattr(retrieval.embedders, "build_embedder", lambda settings, registry, **kw: LoadableHash())
    from config import Settings

    assert knowledge_gaps(tmp_path / "none.db", Settings(home=tmp_path)) is None
    store = CallStore(tmp_path / "calls.db")
    _seed(store)
    store.close()
    monkeypatch.setattr("assist.insights_report.time.time", lambda: T0 + 86400)
    gaps = knowledge_gaps(tmp_path / "calls.db", Settings(home=tmp_path))
    assert gaps is not None and gaps["gaps"] == 4 and gaps["source"] == str(tmp_path / "calls.db")
    gaps["clusters"][0]["examples"][0]["text"] = "<b>ポイント</b>"
    html = render({"generated": "now", "sections": {}, "kb_gaps": gaps}, {})
    assert "<h2>Knowledge gaps</h2>" in html and "4 of 6 customer requests" in html
    assert "&lt;b&gt;ポイント&lt;/b&gt;" in html and "<b>ポイント" not in html
    empty = render({"generated": "now", "sections": {}, "kb_gaps": {**gaps, "clusters": []}}, {})
    assert "No knowledge gaps recorded" in empty
    assert "Knowledge gaps" not in render({"generated": "now", "sections": {}, "kb_gaps": None}, {})
