"""An ``Embedder`` whose encodes run in the shared embeddings pool (``retrieval/serve_pool.py``, Ray Serve).

The worker keeps its index, its lexical signals and its second stage (``retrieval.service.RetrievalService``);
only the texts travel. Queries are posted as they come, and a replica batches them with other workers' queries
(``@serve.batch``); passages (index builds) are posted in chunks. Like ``asr.pool`` this needs only ``httpx``
and ``numpy``: nothing here imports ``ray``.

Wire format: the pools' own (``gpu.serving``: a ``u32`` header length, a JSON header, float32 arrays). A request is a header
``{"texts": [...]}`` with no arrays; an answer is a header ``{"dim", "batch_size"}`` with one array per text,
so the vectors arrive bit for bit, or the project's JSON error body.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import numpy as np

from common.errors import CodedError
from config import RetrievalSettings
from gpu.serving import encode_request, parse_request

if TYPE_CHECKING:
    from models import ModelRegistry
    from retrieval.base import Embedder

log = logging.getLogger(__name__)

PASSAGE_CHUNK = 64  # passages per post: an index build streams, and no answer outgrows the header limit
VECTORS_TYPE = "application/octet-stream"


class EmbedPoolError(CodedError, RuntimeError):
    """An encode the pool could not do: ``code`` says why (``embed_pool_unavailable``, ``embed_pool_timeout``,
    ``embed_pool_encode_failed``, ``embed_pool_bad_request``, ``embed_pool_not_found``,
    ``embed_pool_bad_response``, ``embed_pool_mismatch``)."""


@dataclass(frozen=True, slots=True)
class PoolPart:
    """One model of the pool's fused embedder: ``RetrievalService`` scores each model's slice on its own."""

    name: str
    dim: int


# ---- wire format -------------------------------------------------------------------------------------
def _decode(body: bytes, code: str) -> tuple[dict[str, Any], list[np.ndarray]]:
    try:
        return parse_request(body)
    except ValueError as exc:
        raise EmbedPoolError(code, str(exc)) from exc


def encode_texts(texts: Sequence[str]) -> bytes:
    return encode_request({"texts": list(texts)}, [])


def decode_texts(body: bytes) -> list[str]:
    """The texts of ``encode_texts``'s body; ``embed_pool_bad_request`` unless it is a list of strings."""
    header, arrays = _decode(body, "embed_pool_bad_request")
    texts = header.get("texts")
    if arrays or not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise EmbedPoolError("embed_pool_bad_request", "a pool request is {\"texts\": [str, ...]} and no arrays")
    return texts


def encode_vectors(vectors: np.ndarray, batch_size: int) -> bytes:
    return encode_request({"dim": int(vectors.shape[1]), "batch_size": batch_size}, list(vectors))


def decode_vectors(body: bytes, rows: int) -> tuple[np.ndarray, int]:
    """``(rows, dim)`` float32 vectors and the largest batch they were encoded in; ``embed_pool_bad_response``
    unless there is one vector of ``dim`` per text."""
    header, arrays = _decode(body, "embed_pool_bad_response")
    dim = header.get("dim")
    if not isinstance(dim, int) or len(arrays) != rows or any(len(a) != dim for a in arrays):
        raise EmbedPoolError("embed_pool_bad_response", f"expected {rows} vectors of the pool's dim, got "
                             f"{len(arrays)} (dim {dim})")
    vectors = np.stack(arrays) if arrays else np.zeros((0, dim), np.float32)
    return vectors, int(header.get("batch_size", 1))


# ---- client ------------------------------------------------------------------------------------------
class RemoteEmbedder:
    """``Embedder`` over the pool's HTTP route; thread-safe (searches and index builds post concurrently).

    ``name``, ``dim`` and a fused model's ``parts`` / ``scales`` are the pool's (``GET info``, fetched once by
    ``load``), so the index, the calibrated second stage and its per-model features are the in-process ones.
    ``batch_size_max`` is the largest pool batch any of this client's queries was encoded in.
    """

    def __init__(self, url: str, *, timeout_s: float = 30.0, client: httpx.Client | None = None) -> None:
        self.url = url.rstrip("/")
        self._http = client or httpx.Client(timeout=timeout_s, limits=httpx.Limits(max_connections=64))
        self._lock = threading.Lock()
        self._info: dict[str, Any] | None = None
        self.batch_size_max = 0

    @classmethod
    def from_settings(cls, settings: RetrievalSettings) -> RemoteEmbedder:
        """The client of ``retrieval.pool_address``; fails now when no pool answers (``embed_pool_unavailable``)
        or it serves another model than ``retrieval.embedder`` (``embed_pool_mismatch``: its calibration and
        persisted index would not fit)."""
        emb = cls(settings.pool_address, timeout_s=settings.pool_timeout_s)
        emb.load()
        expected = "+".join(Path(part.strip()).name for part in settings.embedder.split("+"))
        if emb.name != expected:
            emb.close()
            raise EmbedPoolError("embed_pool_mismatch", f"the pool at {emb.url} serves {emb.name!r}, "
                                 f"retrieval.embedder is {settings.embedder!r}")
        log.info("embeddings pool at %s: %s (%d dims)", emb.url, emb.name, emb.dim)
        return emb

    def load(self) -> None:
        self._pool_info()

    @property
    def name(self) -> str:
        return str(self._pool_info()["name"])

    @property
    def dim(self) -> int:
        return int(self._pool_info()["dim"])

    @property
    def parts(self) -> list[PoolPart]:
        return [PoolPart(str(p["name"]), int(p["dim"])) for p in self._pool_info().get("parts", [])]

    @property
    def scales(self) -> list[float]:
        return [float(s) for s in self._pool_info().get("scales", [])]

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        vectors, size = decode_vectors(self._request("POST", "queries", encode_texts(texts)).content, len(texts))
        with self._lock:
            self.batch_size_max = max(self.batch_size_max, size)
        return vectors

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        chunks = []
        for start in range(0, len(texts), PASSAGE_CHUNK):
            chunk = texts[start:start + PASSAGE_CHUNK]
            chunks.append(decode_vectors(self._request("POST", "passages", encode_texts(chunk)).content, len(chunk))[0])
        return np.concatenate(chunks) if chunks else np.zeros((0, self.dim), np.float32)

    def pool_stats(self) -> dict[str, Any]:
        """The answering replica's counters: ``batches``, ``texts``, ``passages``, ``batch_size_max``."""
        return self._json("stats")

    def close(self) -> None:
        self._http.close()

    # ---- internals ---------------------------------------------------------------------------------
    def _pool_info(self) -> dict[str, Any]:
        with self._lock:
            if self._info is None:
                info = self._json("info")
                if not isinstance(info.get("name"), str) or not isinstance(info.get("dim"), int):
                    raise EmbedPoolError("embed_pool_bad_response", f"the pool at {self.url} answered info "
                                         f"without its name and dim: {info}")
                self._info = info
            return self._info

    def _json(self, route: str) -> dict[str, Any]:
        response = self._request("GET", route)
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise EmbedPoolError("embed_pool_bad_response", f"the pool at {self.url} answered {route} with "
                                 f"{response.text[:200]!r}")
        return body

    def _request(self, method: str, route: str, content: bytes | None = None) -> httpx.Response:
        """The pool's 200 answer; any other is raised as the pool's coded error, or one naming the status."""
        url = f"{self.url}/{route}"
        try:
            response = self._http.request(method, url, content=content,
                                          headers={"content-type": VECTORS_TYPE} if content else None)
        except httpx.TimeoutException as exc:
            raise EmbedPoolError("embed_pool_timeout", f"the embeddings pool at {url} did not answer in time: "
                                 f"{exc}") from exc
        except httpx.HTTPError as exc:
            raise EmbedPoolError("embed_pool_unavailable", f"the embeddings pool at {url} cannot be reached: "
                                 f"{exc}") from exc
        if response.status_code == 200:
            return response
        try:
            err = response.json().get("error")
        except (ValueError, AttributeError):
            err = None
        if isinstance(err, dict) and "code" in err:
            raise EmbedPoolError(str(err["code"]), str(err.get("message", "")))
        code = "embed_pool_unavailable" if response.status_code in (404, 502, 503) else "embed_pool_bad_response"
        raise EmbedPoolError(code, f"the embeddings pool at {url} answered {response.status_code}: "
                             f"{response.text[:200]}")


def embedder_from_settings(settings: RetrievalSettings, registry: ModelRegistry, *,
                           allow_downloads: bool = False) -> Embedder:
    """The embedder ``retrieval.pool`` names: the models in this process (``local``) or the shared pool (``ray``)."""
    if settings.pool == "ray":
        return RemoteEmbedder.from_settings(settings)
    from retrieval.embedders import build_embedder

    return build_embedder(settings, registry, allow_downloads=allow_downloads)
