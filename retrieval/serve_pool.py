"""The shared embeddings pool: a Ray Serve deployment around the in-process embedder (``build_embedder``).

Workers (``retrieval.pool.RemoteEmbedder``) post each search's query; a replica gathers query texts from every
worker with ``@serve.batch`` (up to ``retrieval.pool_batch_size``, waiting at most
``retrieval.pool_batch_wait_s``) and encodes each batch with one ``embed_queries`` call, the same code as
in-process. Passages (index builds, already chunked by the client) are encoded directly: they come in bulk
and nobody waits on one of them. Replicas scale out by ``retrieval.pool_replicas``, each with
``retrieval.pool_cpus_per_replica`` / ``retrieval.pool_gpus_per_replica``.

Only the pool side imports this module (``ray``, the ``scale`` extra); ``python -m assist.asr_pool --pools
embed`` serves it (docs/SCALING.md).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from ray import serve
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from common.errors import CodedError
from config import RetrievalSettings
from gpu.serving import QUEUED_BATCHES, MergingQueue, deployment_options
from retrieval.base import Embedder
from retrieval.pool import VECTORS_TYPE, EmbedPoolError, decode_texts, encode_vectors

log = logging.getLogger(__name__)

APP_NAME = "embed"
DEPLOYMENT_NAME = "embedder_pool"
_STATUS = {"embed_pool_not_found": 404, "embed_pool_bad_request": 400}


class EmbedderPool:
    """One replica: one embedder (loaded before it serves), one batch queue of query texts."""

    def __init__(self, factory: Callable[[], Embedder], batch_size: int, batch_wait_s: float) -> None:
        """``factory`` builds the embedder on the replica (it is pickled to it: the model is not)."""
        self.embedder = factory()
        load = getattr(self.embedder, "load", None)
        if callable(load):  # the first query must not pay for the weights, and ``dim`` is known after it
            load()
        batcher: Any = self.embed_query  # @serve.batch's setters are not in its type
        batcher.set_max_batch_size(batch_size)
        batcher.set_batch_wait_timeout_s(batch_wait_s)
        self.batch_sizes: Counter[int] = Counter()
        self._model: MergingQueue[str, tuple[np.ndarray | EmbedPoolError, int]] = MergingQueue(
            batch_size, self._embed_merged)
        self.passages = 0

    async def __call__(self, request: Request) -> Response:
        """Routes under the app's prefix: ``POST queries``, ``POST passages``, ``GET stats``, ``GET info``."""
        route = request.url.path.rstrip("/").rsplit("/", 1)[-1]
        try:
            if request.method == "POST" and route in ("queries", "passages"):
                texts = decode_texts(await request.body())
                if route == "queries":
                    vectors, size = await self._queries(texts)
                else:
                    vectors, size = await self._passages(texts), 0
                return Response(encode_vectors(vectors, size), media_type=VECTORS_TYPE)
            if request.method == "GET" and route == "stats":
                return JSONResponse(self.stats())
            if request.method == "GET" and route == "info":
                return JSONResponse(self.info())
            raise EmbedPoolError("embed_pool_not_found", f"no pool route {request.method} {route!r}")
        except CodedError as exc:
            return JSONResponse(exc.body(), status_code=_STATUS.get(exc.code, 500))

    def stats(self) -> dict[str, Any]:
        """This replica's counters: query ``batches`` and ``texts``, ``passages``, the batch-size histogram."""
        return {"batches": sum(self.batch_sizes.values()),
                "texts": sum(size * n for size, n in self.batch_sizes.items()),
                "passages": self.passages,
                "batch_size_max": max(self.batch_sizes, default=0),
                "batch_sizes": {str(k): v for k, v in sorted(self.batch_sizes.items())}}

    def info(self) -> dict[str, Any]:
        """What a worker's index and second stage need to know of the model: its name, size and fused parts."""
        parts = getattr(self.embedder, "parts", None) or []
        return {"name": self.embedder.name, "dim": self.embedder.dim,
                "parts": [{"name": p.name, "dim": p.dim} for p in parts],
                "scales": [float(s) for s in getattr(self.embedder, "scales", None) or []]}

    @serve.batch(max_batch_size=16, batch_wait_timeout_s=0.02, max_concurrent_batches=QUEUED_BATCHES)
    async def embed_query(self, texts: list[str]) -> list[tuple[np.ndarray | EmbedPoolError, int]]:
        """Every query text that arrived within the wait, from any worker, and those of the batches that closed
        while the model was busy (``gpu.serving``): one ``embed_queries`` call."""
        return await self._model.submit(texts)

    async def _embed_merged(self, texts: list[str]) -> list[tuple[np.ndarray | EmbedPoolError, int]]:
        size = len(texts)
        self.batch_sizes[size] += 1
        try:
            vectors = await asyncio.to_thread(self._encode, self.embedder.embed_queries, texts)
        except EmbedPoolError as err:  # every caller of this batch gets the coded error
            return [(err, size)] * size
        return [(v, size) for v in vectors]

    # ---- internals ---------------------------------------------------------------------------------
    async def _queries(self, texts: list[str]) -> tuple[np.ndarray, int]:
        if not texts:
            return np.zeros((0, self.embedder.dim), np.float32), 0
        encoded = await asyncio.gather(*(self.embed_query(t) for t in texts))
        failed = [v for v, _ in encoded if isinstance(v, EmbedPoolError)]
        if failed:
            raise failed[0]
        return np.stack([v for v, _ in encoded if isinstance(v, np.ndarray)]), max(size for _, size in encoded)

    async def _passages(self, texts: list[str]) -> np.ndarray:
        vectors = await asyncio.to_thread(self._encode, self.embedder.embed_passages, texts)
        self.passages += len(texts)
        return vectors

    def _encode(self, fn: Callable[[Sequence[str]], np.ndarray], texts: list[str]) -> np.ndarray:
        """``fn(texts)`` as float32 rows of the model's size; a model that raises or answers another shape is
        ``embed_pool_encode_failed``."""
        try:
            vectors = np.asarray(fn(texts), dtype=np.float32)
            if vectors.shape != (len(texts), self.embedder.dim):
                raise ValueError(f"shape {vectors.shape} for {len(texts)} texts of dim {self.embedder.dim}")
        except Exception as exc:
            log.exception("pool encode of %d texts failed", len(texts))
            raise EmbedPoolError("embed_pool_encode_failed", f"encoding {len(texts)} texts failed: "
                                 f"{type(exc).__name__}: {exc}") from exc
        return vectors


def load_embedder(settings: RetrievalSettings, models_dir: Path, allow_downloads: bool) -> Embedder:
    """The replica's embedder: the in-process one, built the same way (module level, so it pickles)."""
    from models import ModelRegistry
    from retrieval.embedders import build_embedder

    return build_embedder(settings, ModelRegistry(models_dir), allow_downloads=allow_downloads)


def build_app(factory: Callable[[], Embedder], settings: RetrievalSettings) -> serve.Application:
    """The pool as a Serve application: ``retrieval.pool_replicas`` replicas, each with its share of CPUs/GPUs."""
    # passage chunks are encoded beside the query batches
    deployment = serve.deployment(**deployment_options(
        DEPLOYMENT_NAME, replicas=settings.pool_replicas, cpus=settings.pool_cpus_per_replica,
        gpus=settings.pool_gpus_per_replica, batch_size=settings.pool_batch_size))(EmbedderPool)
    return deployment.bind(factory, settings.pool_batch_size, settings.pool_batch_wait_s)
