"""Second stage, reading normalisation and confidence bands (retrieval/rerank.py, reading.py, calibration.py).

The demo utterance is checked with the real default models (e5-small + use-multilingual) on the KB that
``scripts/serve.sh`` imports: 「あの、サイフごとカードを落としてしまって、どうしたらいいですか?」 must bring the
lost-card article first, labelled high; before this stage e5-small put カードの解約 first (issue 13).
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from support.retrieval_fakes import HashEmbedder

from config import RetrievalSettings
from eval.__main__ import main
from eval.retrieval_fit import _cuts, fit_rerank
from knowledge.io import apply_import, read_path
from knowledge.store import KnowledgeStore
from models import ModelRegistry
from retrieval.calibration import RERANK_MODELS
from retrieval.embedders import CALIBRATED_MIN_SCORE, ConcatEmbedder, build_embedder
from retrieval.reading import to_reading
from retrieval.rerank import FEATURES, RerankModel, fit_logistic
from retrieval.service import RetrievalService

DATA = Path(__file__).parents[1] / "eval" / "data"
KB = DATA / "kb.jsonl"
DEMO = "あの、サイフごとカードを落としてしまって、どうしたらいいですか?"


def _service(tmp_path: Path, embedder: object, **settings: object) -> RetrievalService:
    store = KnowledgeStore(tmp_path / "kb.db")
    apply_import(store, read_path(KB))
    service = RetrievalService(RetrievalSettings(**settings), embedder, store)  # type: ignore[arg-type]
    service.load()
    return service


# ---------------------------------------------------------------- reading normalisation


@pytest.mark.parametrize(("a", "b"), [
    ("サイフ", "財布"), ("けんしんひょう", "検針票"), ("ケータイ", "携帯"), ("成球学", "請求額"), ("テーデン", "停電"),
    ("ワイファイ", "Wi-Fi"), ("ＡＴＭ", "ATM"), ("コーザ", "口座"),
])
def test_spellings_of_one_word_share_their_reading(a: str, b: str) -> None:
    assert to_reading(a).replace(" ", "") == to_reading(b).replace(" ", "")


def test_function_words_do_not_count_but_kana_words_split_oddly_survive() -> None:
    assert to_reading("けんしんひょうってどこで見られますか").split() == ["ケンシン", "ヒョウ", "ミ"]
    assert "デン" in to_reading("ばいでんの振り込み").split()  # でん is misread as an auxiliary: kept
    assert to_reading("I lost my credit card") == "ロスト クレジットカアド"


def test_reading_signal_finds_the_article_the_surface_bigrams_miss(tmp_path: Path) -> None:
    service = _service(tmp_path, None, dense_weight=0.0, min_score=0.0)
    lexical = service._current().lexical
    query = "けんしんひょうってどこで見られますか"
    assert lexical["reading"].search(query, 1)[0][0] == "meter-reading"
    assert "meter-reading" not in [aid for aid, _ in lexical["bigram"].search(query, 5)]
    assert lexical["reading"].search("サイフごと", 1)[0][0] == "lost-card"  # 財布ごと盗まれました
    assert lexical["bigram"].search("サイフごと", 1)[0][0] != "lost-card"


# ---------------------------------------------------------------- model and confidence bands


def test_fit_logistic_separates_and_reports_raw_scale_weights() -> None:
    rng = np.random.default_rng(0)
    rows, labels = [], []
    for _ in range(400):
        label = int(rng.random() < 0.3)
        rows.append({"dense": 0.8 + 0.05 * label + rng.normal(0, 0.01), "head": rng.random()})
        labels.append(label)
    weights, bias = fit_logistic(rows, labels)
    assert set(weights) == {"dense", "head"} and weights["dense"] > 50 and abs(weights["head"]) < 1.0
    model = RerankModel(weights, bias, 0.9, 0.5, 0.1)
    assert model.probability({"dense": 0.86, "head": 0.5}) > 0.9 > 0.1 > model.probability({"dense": 0.79, "head": 0.5})


def test_bands_cut_where_the_dev_precision_says() -> None:
    model = RerankModel({"dense": 1.0}, 0.0, high=0.7, medium=0.4, abstain=0.1)
    assert [model.band(p) for p in (0.95, 0.7, 0.69, 0.4, 0.39, 0.0)] == ["high", "high", "medium", "medium", "low",
                                                                          "low"]
    # 19 right then 1 wrong at the top keeps 95 %; the next wrong one drops below it
    tops = [(1.0 - i / 100, True, True) for i in range(19)] + [(0.80, False, True), (0.79, False, True),
                                                               (0.5, True, True), (0.4, False, False)]
    high, medium, abstain = _cuts(tops)
    assert high == 0.80 and medium <= high and abstain <= medium


@pytest.mark.parametrize("name", ["e5-small", "use-multilingual", "e5-small+use-multilingual", "embeddinggemma"])
def test_every_registry_embedder_is_calibrated(name: str) -> None:
    """The opt-in model too: without a second stage none of its cards could be "high" (no reply draft)."""
    model = RERANK_MODELS[name]
    assert 0.0 < model.abstain <= model.medium <= model.high < 1.0
    assert {"dense_gap", "question_gap", "reading", "head", "title", "category"} <= set(model.weights) <= set(
        FEATURES) | {f"{f}@{part}" for f in ("dense", "dense_gap", "question_gap") for part in name.split("+")}
    assert name in CALIBRATED_MIN_SCORE


def test_uncalibrated_embedder_keeps_fused_order_and_is_never_high(tmp_path: Path) -> None:
    service = _service(tmp_path, HashEmbedder(), min_score=0.0)
    assert service.rerank_model is None
    hits = service.search("ETCカードを追加で作りたい", k=3)
    assert hits[0].article_id == "etc-card" and {h.confidence for h in hits} == {"low"}
    assert hits[0].score >= hits[1].score and "fused" not in hits[0].signals


def test_second_stage_reorders_and_bands_with_a_given_model(tmp_path: Path) -> None:
    service = _service(tmp_path, HashEmbedder(), min_score=None)
    query = "サイフごとなくしちゃって"
    fused = [h.article_id for h in service.search(query, k=3, language="ja")]
    # a model that only trusts the reading coverage of title/questions/tags
    model = RerankModel({"head": 12.0}, -4.0, high=0.8, medium=0.4, abstain=0.2)
    service.use_rerank_model(model)
    suggestion = service.suggest(query, language="ja")
    top = suggestion.hits[0]
    assert fused[0] != "lost-card", fused  # the hash embedder alone gets it wrong
    assert top.article_id == "lost-card" and top.confidence == model.band(top.score) == "high"
    assert not suggestion.abstained
    assert 0.0 <= top.score <= 1.0 and "fused" in top.signals
    assert [h.score for h in suggestion.hits] == sorted((h.score for h in suggestion.hits), reverse=True)
    assert service.abstain_threshold == 0.2
    quiet = service.suggest("明日の天気は晴れますか", language="ja")
    assert quiet.hits[0].confidence == "low" and quiet.abstained is (quiet.hits[0].score < 0.2)
    assert service.suggest("明日の天気は晴れますか", language="ja").hits[0].score < top.score


def test_lexical_pool_brings_buried_candidates_to_the_second_stage(tmp_path: Path) -> None:
    service = _service(tmp_path, HashEmbedder(), min_score=0.0, rerank_depth=3)
    candidates = service.candidates("けんしんひょうってどこで見られますか", language="ja")
    ids = [c.article_id for c in candidates]
    assert "meter-reading" in ids and len(ids) > 3  # top 3 fused + the reading signal's best
    meter = candidates[ids.index("meter-reading")]
    assert meter.features["reading"] == 1.0 and meter.features["head"] > 0.3


def test_fit_rerank_on_labelled_queries(tmp_path: Path) -> None:
    service = _service(tmp_path, HashEmbedder(), min_score=0.0)
    q = SimpleNamespace
    queries = [q(query="ETCカードを作りたい", previous=None, language="ja", relevant=["etc-card"]),
               q(query="サイフを落とした", previous=None, language="ja", relevant=["lost-card"]),
               q(query="けんしんひょうが来ない", previous=None, language="ja", relevant=["meter-reading"]),
               q(query="家族カードがほしい", previous=None, language="ja", relevant=["family-card"]),
               q(query="今日はいい天気ですね", previous=None, language="ja", relevant=[]),
               q(query="I lost my credit card", previous=None, language="en", relevant=["lost-card-en", "lost-card"])]
    model = fit_rerank(service, queries * 3)
    assert 0.0 <= model.abstain <= model.medium <= model.high <= 1.0
    service.use_rerank_model(model)
    assert service.search("ETCカードを作りたい", k=1)[0].article_id == "etc-card"


# ---------------------------------------------------------------- fusion and the eval CLI


def test_concat_embedder_inner_product_is_the_mean_of_cosines() -> None:
    class Fixed:
        def __init__(self, name: str, vectors: dict[str, list[float]]) -> None:
            self.name, self.vectors = name, vectors
            self.dim = len(next(iter(vectors.values())))

        def load(self) -> None:
            """Nothing to load."""

        def embed_queries(self, texts: list[str]) -> np.ndarray:
            v = np.array([self.vectors[t] for t in texts], dtype=np.float32)
            return v / np.linalg.norm(v, axis=1, keepdims=True)

        embed_passages = embed_queries

    a = Fixed("a", {"x": [1, 0], "y": [0.6, 0.8]})
    b = Fixed("b", {"x": [1, 0, 0], "y": [0, 1, 0]})
    fused = ConcatEmbedder([a, b])  # type: ignore[list-item]
    q, p = fused.embed_queries(["x"])[0], fused.embed_passages(["y"])[0]
    assert fused.name == "a+b" and fused.dim == 5
    assert float(np.linalg.norm(q)) == pytest.approx(1.0) and float(q @ p) == pytest.approx((0.6 + 0.0) / 2)


def test_eval_split_runs_only_that_split(capsys: pytest.CaptureFixture[str]) -> None:
    rows = [json.loads(line) for line in (DATA / "queries_v2.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(rows) >= 300 and {r["split"] for r in rows} == {"dev", "test"}
    relevant = {a for r in rows for a in r["relevant"]}
    assert len(relevant) >= 100 and sum(not r["relevant"] for r in rows) >= 30
    assert main(["retrieval", "--split", "test", "--dense-weight", "0", "--min-score", "0", "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert metrics["n"] == sum(r["split"] == "test" for r in rows)
    assert metrics["answerable_gated"] == 0.0 and metrics["offtopic_silenced_with_gate"] >= 0.8


def test_typed_queries_cover_both_splits_and_real_articles(capsys: pytest.CaptureFixture[str]) -> None:
    """What an agent types in the widget's search box (`queries_typed.jsonl`): keywords, no particles."""
    rows = [json.loads(line) for line in (DATA / "queries_typed.jsonl").read_text(encoding="utf-8").splitlines()]
    kb = {json.loads(line)["id"] for name in ("kb.jsonl", "kb_extra.jsonl")
          for line in (DATA / name).read_text(encoding="utf-8").splitlines()}
    assert {r["split"] for r in rows} == {"dev", "test"} and all(r["relevant"] for r in rows)
    assert {a for r in rows for a in r["relevant"]} <= kb
    assert max(len(r["query"]) for r in rows) <= 20
    assert main(["retrieval", "--queries", str(DATA / "queries_typed.jsonl"), "--split", "dev", "--dense-weight", "0",
                 "--min-score", "0", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["n"] == sum(r["split"] == "dev" for r in rows)


# ---------------------------------------------------------------- the demo call with the real models


@pytest.mark.slow
def test_demo_utterance_brings_lost_card_first_with_high_confidence(tmp_path: Path, registry: ModelRegistry) -> None:
    embedder = build_embedder(RetrievalSettings(), registry)  # the default embedder, as scripts/serve.sh runs it
    service = _service(tmp_path, embedder)
    suggestion = service.suggest(DEMO, language="ja")
    top = suggestion.hits[0]
    assert top.article_id == "lost-card" and top.confidence == "high" and not suggestion.abstained, suggestion.hits
    closing = service.suggest("いえ、大丈夫です。ありがとうございました。", DEMO, language="ja")
    assert closing.abstained or closing.hits[0].article_id == "lost-card"
    english = service.suggest("uh someone stole my wallet with my card in it", language="en")
    assert english.hits[0].article_id == "lost-card-en"


def test_the_abstain_setting_overrides_the_models_cut(tmp_path: Path) -> None:
    model = RerankModel({"head": 12.0}, -4.0, high=0.8, medium=0.4, abstain=0.2)
    service = _service(tmp_path, HashEmbedder(), min_score=None, abstain=0.9)
    service.use_rerank_model(model)
    assert service.abstain_threshold == 0.9
    loud = service.suggest("サイフごとなくしちゃって", language="ja")
    assert loud.hits[0].score < 0.9 and loud.abstained  # what the model's own 0.2 would have shown
    assert _service(tmp_path / "b", HashEmbedder(), min_score=0.3, abstain=0.9).abstain_threshold == 0.3  # min_score wins
