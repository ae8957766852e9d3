"""A fast fused-looking embedder for the embeddings pool's tests (``tests/test_embed_serve_pool.py``): each
vector is a hash of its text (queries and passages differ), so a result can be checked against its caller.

Ray's replicas import it as ``support.fake_embedder`` (the tests put ``tests/`` on their ``PYTHONPATH``).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence

import numpy as np

from retrieval.pool import PoolPart

FAIL_TEXT = "fail"  # a batch holding this text raises, as a broken model would
ENCODE_S = 0.05  # each call sleeps this long: a (very fast) model whose cost is per batch


def fake_vector(kind: str, text: str, dim: int = 8) -> np.ndarray:
    """A unit vector of ``dim`` floats taken from the hash of ``kind:text``."""
    raw = np.frombuffer(hashlib.sha256(f"{kind}:{text}".encode()).digest()[:dim], np.uint8).astype(np.float32)
    v = raw - 127.5
    return (v / np.linalg.norm(v)).astype(np.float32)


class FakeEmbedder:
    """Two "models" of 4 dims each, like ``ConcatEmbedder``, so the pool has parts and scales to report."""

    name = "fake-a+fake-b"
    dim = 8
    parts = (PoolPart("fake-a", 4), PoolPart("fake-b", 4))
    scales = (float(np.sqrt(0.5)), float(np.sqrt(0.5)))

    def __init__(self, encode_s: float = ENCODE_S) -> None:
        self.encode_s = encode_s
        self.loaded = False

    def load(self) -> None:
        self.loaded = True

    def _encode(self, kind: str, texts: Sequence[str]) -> np.ndarray:
        if FAIL_TEXT in texts:
            raise RuntimeError("the fake model broke")
        time.sleep(self.encode_s)
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return np.stack([fake_vector(kind, t, self.dim) for t in texts])

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode("query", texts)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode("passage", texts)
