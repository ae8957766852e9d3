"""The embeddings pool on Ray Serve (retrieval/serve_pool.py) and its worker-side client (retrieval/pool.py).

One local Ray instance (2 CPUs, no dashboard) serves a fake embedder for the whole module, over the same HTTP
route the workers use; the slow test adds the real default embedder beside it and compares with in-process.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import httpx
import numpy as np
import pytest
from pydantic import ValidationError
from support.fake_embedder import FAIL_TEXT, FakeEmbedder, fake_vector
from support.ray_serve import concurrently, free_port, local_serve

import retrieval.embedders
from config import RetrievalSettings
from gpu.serving import encode_request
from knowledge.io import apply_import, read_path
from knowledge.store import KnowledgeStore
from models import ModelRegistry
from retrieval.base import Embedder
from retrieval.pool import (
    PASSAGE_CHUNK,
    EmbedPoolError,
    PoolPart,
    RemoteEmbedder,
    decode_texts,
    decode_vectors,
    embedder_from_settings,
    encode_texts,
    encode_vectors,
)
from retrieval.service import RetrievalService

KB = Path(__file__).parents[1] / "eval" / "data" / "kb.jsonl"
WORKERS = 6
QUERIES = ["サイフごとカードを落としました", "ポイントの有効期限は?", "I lost my card", "請求額が高い"]


@pytest.fixture(scope="module")
def ray_serve() -> Iterator[int]:
    """A local Ray with Serve listening on a free port; shut down (every Ray process) after the module."""
    pytest.importorskip("ray")
    with local_serve() as port:
        yield port


@pytest.fixture(scope="module")
def pool_settings(ray_serve: int) -> RetrievalSettings:
    """Settings of the fake pool: a long batch wait, so queries posted together are certainly batched."""
    from asr.serve_pool import deploy
    from retrieval.serve_pool import APP_NAME, build_app

    settings = RetrievalSettings(embedder="fake-a+fake-b", pool="ray",
                                 pool_address=f"http://127.0.0.1:{ray_serve}/embed", pool_batch_size=WORKERS,
                                 pool_batch_wait_s=0.5, pool_cpus_per_replica=0.0, pool_timeout_s=20.0)
    deploy(build_app(FakeEmbedder, settings), settings.pool_address, name=APP_NAME)
    return settings


@pytest.fixture
def remote(pool_settings: RetrievalSettings) -> Iterator[RemoteEmbedder]:
    emb = RemoteEmbedder(pool_settings.pool_address, timeout_s=20.0)
    yield emb
    emb.close()


def _mocked(handler: Callable[[httpx.Request], httpx.Response]) -> RemoteEmbedder:
    return RemoteEmbedder("http://pool.test/embed", client=httpx.Client(transport=httpx.MockTransport(handler)))


def _service(tmp_path: Path, embedder: Embedder | None, settings: RetrievalSettings) -> RetrievalService:
    store = KnowledgeStore(tmp_path / "kb.db")
    apply_import(store, read_path(KB))
    if embedder is None:
        service = RetrievalService.from_settings(settings, ModelRegistry(tmp_path / "models"), store, index_dir=None)
    else:
        service = RetrievalService(settings, embedder, store)
    service.load()
    return service


# ---- wire format, client errors, settings (no Ray needed) --------------------------------------------------
def test_texts_and_vectors_round_trip_exactly() -> None:
    texts = ["カード、ポイント。", "", "refund"]
    assert decode_texts(encode_texts(texts)) == texts
    vectors = np.stack([fake_vector("query", t) for t in texts])
    back, size = decode_vectors(encode_vectors(vectors, 3), len(texts))
    assert back.dtype == np.float32 and np.array_equal(back, vectors) and size == 3
    empty, _ = decode_vectors(encode_vectors(np.zeros((0, 8), np.float32), 0), 0)
    assert empty.shape == (0, 8)


@pytest.mark.parametrize("body", [b"", b"\x05\x00\x00\x00{}", encode_texts([]).replace(b"[]", b"{}"),
                                  encode_request({"texts": [1]}, []), encode_request({"texts": ["a"]}, [np.ones(2)])])
def test_malformed_request_is_a_coded_error(body: bytes) -> None:
    with pytest.raises(EmbedPoolError) as err:
        decode_texts(body)
    assert err.value.code == "embed_pool_bad_request"


def test_vectors_of_the_wrong_count_are_a_bad_response() -> None:
    with pytest.raises(EmbedPoolError) as err:
        decode_vectors(encode_vectors(np.zeros((2, 8), np.float32), 1), 3)
    assert err.value.code == "embed_pool_bad_response"


def test_unreachable_pool_is_a_coded_error() -> None:
    settings = RetrievalSettings(pool="ray", pool_address=f"http://127.0.0.1:{free_port()}/embed", pool_timeout_s=5)
    with pytest.raises(EmbedPoolError) as err:
        RemoteEmbedder.from_settings(settings)
    assert err.value.code == "embed_pool_unavailable" and "cannot be reached" in err.value.message


def test_garbage_answers_are_coded_errors() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/info"):
            return httpx.Response(200, json={"name": "fake", "dim": 8})
        if request.url.path.endswith("/queries"):
            return httpx.Response(200, content=b"<html>not vectors</html>")
        if request.url.path.endswith("/stats"):
            return httpx.Response(200, text="not json")
        return httpx.Response(500, text="Internal Server Error")

    emb = _mocked(handler)
    for call in (lambda: emb.embed_queries(["a"]), emb.pool_stats, lambda: emb.embed_passages(["a"])):
        with pytest.raises(EmbedPoolError) as err:
            call()
        assert err.value.code == "embed_pool_bad_response"
    broken = _mocked(lambda request: httpx.Response(200, json={"dim": "eight"}))
    with pytest.raises(EmbedPoolError) as err:
        broken.load()
    assert err.value.code == "embed_pool_bad_response"


def test_timeouts_and_the_pools_own_codes_reach_the_caller() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("no answer", request=request)

    with pytest.raises(EmbedPoolError) as err:
        _mocked(slow).load()
    assert err.value.code == "embed_pool_timeout"
    coded = _mocked(lambda request: httpx.Response(500, json=EmbedPoolError("embed_pool_encode_failed", "x").body()))
    with pytest.raises(EmbedPoolError) as err:
        coded.pool_stats()
    assert err.value.code == "embed_pool_encode_failed"


@pytest.mark.parametrize("bad", [{"pool": "gpu"}, {"pool_address": "127.0.0.1:8100/embed"},
                                 {"pool_batch_size": 0}, {"pool_batch_wait_s": -0.1}, {"pool_replicas": 0},
                                 {"pool_gpus_per_replica": -1}, {"pool_timeout_s": 0}])
def test_pool_settings_are_validated(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError) as err:
        RetrievalSettings(**bad)
    assert err.value.errors()[0]["loc"] == (next(iter(bad)),)


def test_local_stays_the_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    settings = RetrievalSettings()
    assert settings.pool == "local" and settings.pool_address == "http://127.0.0.1:8100/embed"
    built = FakeEmbedder()
    monkeypatch.setattr(retrieval.embedders, "build_embedder", lambda s, registry, **kw: built)
    assert embedder_from_settings(settings, ModelRegistry(tmp_path)) is built


def test_workers_never_import_ray() -> None:
    code = ("import sys; import retrieval.pool, retrieval.service, assist.services; "
            "assert not [m for m in sys.modules if m == 'ray' or m.startswith('ray.')], 'ray imported'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def test_the_serving_command_checks_its_pools(monkeypatch: pytest.MonkeyPatch) -> None:
    from assist.asr_pool import main

    with pytest.raises(SystemExit):
        main(["--pools", "asr,llm"])
    monkeypatch.setenv("ASSIST_RETRIEVAL__POOL_ADDRESS", "http://127.0.0.1:8200/embed")
    with pytest.raises(SystemExit):
        main(["--pools", "asr,embed"])


# ---- through Ray Serve ------------------------------------------------------------------------------------
def test_pool_vectors_equal_in_process_ones(remote: RemoteEmbedder) -> None:
    local = FakeEmbedder(encode_s=0.0)
    assert isinstance(remote, Embedder)
    assert (remote.name, remote.dim, remote.scales) == (local.name, local.dim, list(local.scales))
    assert remote.parts == [PoolPart("fake-a", 4), PoolPart("fake-b", 4)]
    assert np.array_equal(remote.embed_queries(QUERIES), local.embed_queries(QUERIES))
    passages = [f"passage {i}" for i in range(2 * PASSAGE_CHUNK + 5)]  # three posts
    assert np.array_equal(remote.embed_passages(passages), local.embed_passages(passages))
    assert remote.embed_queries([]).shape == remote.embed_passages([]).shape == (0, 8)


def test_queries_from_several_workers_share_one_batch(pool_settings: RetrievalSettings) -> None:
    before = RemoteEmbedder(pool_settings.pool_address).pool_stats()
    clients = [RemoteEmbedder(pool_settings.pool_address, timeout_s=20.0) for _ in range(WORKERS)]
    try:
        results = concurrently(WORKERS, lambda i: clients[i].embed_queries([f"query {i}"]))
        assert all(isinstance(r, np.ndarray) for r in results), results
        # every caller got its own vector back, none another worker's
        assert all(np.array_equal(r[0], fake_vector("query", f"query {i}")) for i, r in enumerate(results))
        stats = clients[0].pool_stats()
        assert stats["batch_size_max"] >= 2
        assert stats["texts"] - before["texts"] == WORKERS
        assert stats["batches"] - before["batches"] < WORKERS
        assert max(c.batch_size_max for c in clients) >= 2
    finally:
        for c in clients:
            c.close()


def test_a_failed_encode_is_coded_and_the_pool_serves_on(remote: RemoteEmbedder) -> None:
    for call in (remote.embed_queries, remote.embed_passages):
        with pytest.raises(EmbedPoolError) as err:
            call(["ok", FAIL_TEXT])
        assert err.value.code == "embed_pool_encode_failed" and "the fake model broke" in err.value.message
    assert np.array_equal(remote.embed_queries(["ok"])[0], fake_vector("query", "ok"))


def test_bad_requests_and_routes_answer_coded_errors(pool_settings: RetrievalSettings) -> None:
    url = pool_settings.pool_address
    r = httpx.post(f"{url}/queries", content=b"\x00\x01", timeout=20)
    assert r.status_code == 400 and r.json()["error"]["code"] == "embed_pool_bad_request"
    r = httpx.get(f"{url}/nope", timeout=20)
    assert r.status_code == 404 and r.json()["error"]["code"] == "embed_pool_not_found"
    info = httpx.get(f"{url}/info", timeout=20).json()
    assert info == {"name": "fake-a+fake-b", "dim": 8, "parts": [{"name": "fake-a", "dim": 4},
                    {"name": "fake-b", "dim": 4}], "scales": [pytest.approx(0.7071068)] * 2}


def test_settings_select_the_pool_and_refuse_another_model(pool_settings: RetrievalSettings, tmp_path: Path) -> None:
    emb = embedder_from_settings(pool_settings, ModelRegistry(tmp_path))
    assert isinstance(emb, RemoteEmbedder)
    emb.close()
    with pytest.raises(EmbedPoolError) as err:
        RemoteEmbedder.from_settings(pool_settings.model_copy(update={"embedder": "e5-small"}))
    assert err.value.code == "embed_pool_mismatch"


def test_the_service_searches_through_the_pool_as_in_process(pool_settings: RetrievalSettings,
                                                             tmp_path: Path) -> None:
    """Index, hits and the second stage's per-model features (``dense@fake-a`` …) equal the in-process ones."""
    pooled = _service(tmp_path / "pool", None, pool_settings)
    local = _service(tmp_path / "local", FakeEmbedder(encode_s=0.0), pool_settings.model_copy(update={"pool": "local"}))
    try:
        assert isinstance(pooled.embedder, RemoteEmbedder)
        for query in QUERIES:
            assert pooled.candidates(query, language="ja") == local.candidates(query, language="ja")
            assert pooled.search(query, k=3, language="ja") == local.search(query, k=3, language="ja")
        assert any("dense@fake-a" in c.features for c in pooled.candidates(QUERIES[0], language="ja"))
    finally:
        pooled.close()
        local.close()


@pytest.mark.slow
def test_real_embedder_through_the_pool_matches_in_process(ray_serve: int, registry: ModelRegistry,
                                                           tmp_path: Path) -> None:
    """The default embedder (e5-small + USE) in one replica vs in this process: the same vectors and hits."""
    from asr.serve_pool import deploy
    from retrieval.embedders import build_embedder
    from retrieval.serve_pool import build_app, load_embedder

    settings = RetrievalSettings(pool="ray", pool_address=f"http://127.0.0.1:{ray_serve}/embed_real",
                                 pool_cpus_per_replica=0.0, pool_timeout_s=120.0)
    deploy(build_app(partial(load_embedder, settings, registry.cache_dir, False), settings), settings.pool_address,
           name="embed_real")
    local = build_embedder(settings, registry)
    remote = RemoteEmbedder.from_settings(settings)
    try:
        assert (remote.name, remote.dim) == (local.name, local.dim) == ("e5-small+use-multilingual", 896)
        assert np.allclose(remote.embed_queries(QUERIES), local.embed_queries(QUERIES), atol=1e-5)
        assert np.allclose(remote.embed_passages(QUERIES), local.embed_passages(QUERIES), atol=1e-5)
        pooled = _service(tmp_path / "pool", remote, settings)
        in_process = _service(tmp_path / "local", local, settings.model_copy(update={"pool": "local"}))
        for query in QUERIES:
            got, want = pooled.search(query, k=3, language="ja"), in_process.search(query, k=3, language="ja")
            assert [h.article_id for h in got] == [h.article_id for h in want] and want
            assert [h.confidence for h in got] == [h.confidence for h in want]
            assert np.allclose([h.score for h in got], [h.score for h in want], atol=1e-4)
    finally:
        remote.close()
        from ray import serve

        serve.delete("embed_real")
