"""FAISS inner-product index over normalized passage vectors, keyed by deterministic passage ids.

Flat (``IndexIDMap2(IndexFlatIP)``) up to ``hnsw_above`` passages: exact, and it can delete, so edits
are applied to a copy. HNSW cannot delete (faiss #3339), so above the threshold an edit rebuilds from the
stored vectors. Either way the result is a new object and readers keep the one they started with.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import faiss
import numpy as np

log = logging.getLogger(__name__)


def _build(vectors: np.ndarray, pids: np.ndarray, dim: int, hnsw_above: int) -> faiss.IndexIDMap2:
    inner: faiss.Index
    if len(pids) > hnsw_above:
        inner = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = 80
        inner.hnsw.efSearch = 64
    else:
        inner = faiss.IndexFlatIP(dim)
    index = faiss.IndexIDMap2(inner)
    if len(pids):
        index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), pids.astype(np.int64))
    return index


class DenseIndex:
    """Passage vectors by passage id: an ``IndexIDMap2`` over a flat index, or HNSW above ``hnsw_above``."""

    def __init__(self, index: faiss.IndexIDMap2, hnsw_above: int) -> None:
        self.index = index
        self.hnsw_above = hnsw_above

    @property
    def dim(self) -> int:
        return int(self.index.d)

    @property
    def size(self) -> int:
        return int(self.index.ntotal)

    @property
    def is_flat(self) -> bool:
        return isinstance(faiss.downcast_index(self.index.index), faiss.IndexFlat)

    @classmethod
    def build(cls, vectors: np.ndarray, pids: np.ndarray, dim: int, hnsw_above: int) -> DenseIndex:
        return cls(_build(vectors, pids, dim, hnsw_above), hnsw_above)

    def ids(self) -> np.ndarray:
        return faiss.vector_to_array(self.index.id_map).astype(np.int64)

    def vectors(self) -> np.ndarray:
        if self.size == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.index.index.reconstruct_n(0, self.size)

    def vector_map(self) -> dict[int, np.ndarray]:
        return dict(zip(self.ids().tolist(), self.vectors(), strict=True))

    def with_changes(self, remove: np.ndarray, add_vectors: np.ndarray, add_pids: np.ndarray) -> DenseIndex:
        new_size = self.size - len(remove) + len(add_pids)
        if self.is_flat and new_size <= self.hnsw_above:
            index = faiss.clone_index(self.index)
            assert isinstance(index, faiss.IndexIDMap2)  # faiss clones to the same class; its stubs say ``Index``
            if len(remove):
                index.remove_ids(np.asarray(remove, dtype=np.int64))  # type: ignore[arg-type]  # stubs: IDSelector only
            if len(add_pids):
                index.add_with_ids(np.ascontiguousarray(add_vectors, dtype=np.float32), add_pids.astype(np.int64))
            return DenseIndex(index, self.hnsw_above)
        ids, vectors = self.ids(), self.vectors()
        keep = ~np.isin(ids, remove)
        all_ids = np.concatenate([ids[keep], add_pids.astype(np.int64)])
        all_vectors = np.concatenate([vectors[keep], add_vectors.reshape(-1, self.dim)])
        return DenseIndex.build(all_vectors, all_ids, self.dim, self.hnsw_above)

    def search(self, query: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(passage ids, cosine scores) best first; -1 ids (fewer results than n) are dropped."""
        if self.size == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        scores, ids = self.index.search(np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32),
                                        min(n, self.size))
        keep = ids[0] >= 0
        return ids[0][keep], scores[0][keep]

    def stored(self, pids: list[int]) -> np.ndarray:
        """The stored vectors of these passages (zeros for an id not in the index)."""
        vectors = np.zeros((len(pids), self.dim), dtype=np.float32)
        for i, pid in enumerate(pids):
            try:
                vectors[i] = self.index.reconstruct(int(pid))
            except RuntimeError:  # not in the index
                continue
        return vectors

    def save(self, path: Path) -> None:
        """Written to a temporary name and renamed, so a reader never opens half a file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + f".tmp{os.getpid()}")
        faiss.write_index(self.index, str(tmp))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path, hnsw_above: int) -> DenseIndex:
        """``RuntimeError`` for a file faiss cannot read or that this class did not write (the caller rebuilds)."""
        index = faiss.read_index(str(path))
        if not isinstance(index, faiss.IndexIDMap2):
            raise RuntimeError(f"{path} holds a {type(index).__name__}, not an IndexIDMap2")
        return cls(index, hnsw_above)
