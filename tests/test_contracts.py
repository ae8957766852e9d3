"""Every implementation of a stage contract, real or fake, satisfies it: ``isinstance`` against the
``runtime_checkable`` protocol (its members are there) and, method by method, a signature the session can call
the way the protocol says (names, kinds, defaults). mypy checks the same for the packages; this covers the test
fakes, which mypy does not see."""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pytest
from browser.fake_call import DemoSummarizer, KeywordRetrieval, ScriptedAsr, demo_stages
from support.live import FakeAsr, FakeRetrieval, FakeSummarizer, fake_article, fake_draft, fake_stages
from support.retrieval_fakes import HashEmbedder, KbRetrieval

from asr.base import (
    ContextRecognizer,
    LegAudio,
    PartialRecognizer,
    Recognizer,
    StreamingRecognizer,
    Transcription,
)
from asr.engine import AsrEngine
from asr.whisper import WhisperRecognizer
from assist.services import build_draft
from config import Settings
from eval.bench_retrieval import RandomPassages
from eval.retrieval import CachingEmbedder
from knowledge.store import KnowledgeStore
from retrieval.base import Embedder, Hit, Retriever, Suggester, Suggestion
from retrieval.embedders import ConcatEmbedder, SentenceTransformerEmbedder, UseEmbedder
from retrieval.service import RetrievalService
from summarize.base import Summarizer
from summarize.extractive import ExtractiveSummarizer
from summarize.generative import GenerativeSummarizer, Message
from summarize.reply import ReplyDraft

_EMPTY = inspect.Parameter.empty
_VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


def _members(protocol: type) -> dict[str, object]:
    """The protocol's own members (methods, properties, annotated attributes), its protocol bases' included."""
    out: dict[str, object] = {}
    for base in reversed(protocol.__mro__):
        if base in (object, Protocol) or not getattr(base, "_is_protocol", False):
            continue
        out.update({n: None for n in getattr(base, "__annotations__", {}) if not n.startswith("_")})
        out.update({n: v for n, v in vars(base).items() if not n.startswith("_")})
    return out


def _check_signature(expected: inspect.Signature, actual: inspect.Signature, where: str) -> None:
    """``actual`` accepts every call ``expected`` allows: the same parameters in the same order and kinds, the
    same defaults, and anything extra optional."""
    given = dict(actual.parameters)
    positional = [p.name for p in actual.parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    wanted = [p.name for p in expected.parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    assert positional[: len(wanted)] == wanted, f"{where}: positional parameters {positional}, expected {wanted}"
    for p in expected.parameters.values():
        q = given.pop(p.name, None)
        assert q is not None, f"{where}: no parameter {p.name!r}"
        assert q.kind == p.kind, f"{where}: {p.name!r} is {q.kind.description}, expected {p.kind.description}"
        if p.default is not _EMPTY:
            assert q.default == p.default, f"{where}: {p.name!r} defaults to {q.default!r}, expected {p.default!r}"
    for q in given.values():
        assert q.kind in _VARIADIC or q.default is not _EMPTY, f"{where}: extra parameter {q.name!r} is required"


def assert_implements(impl: object, protocol: type) -> None:
    """``impl`` (an instance, or a class whose instances are costly) implements ``protocol``."""
    cls = impl if isinstance(impl, type) else type(impl)
    if not isinstance(impl, type):
        assert isinstance(impl, protocol), f"{cls.__name__} is not a {protocol.__name__}"
    for name, member in _members(protocol).items():
        if inspect.isfunction(member):
            method = getattr(cls, name, None)
            assert inspect.isfunction(method), f"{cls.__name__}.{name} is not a method"
            _check_signature(inspect.signature(member), inspect.signature(method), f"{cls.__name__}.{name}")
        elif not isinstance(impl, type):
            assert hasattr(impl, name), f"{cls.__name__} has no {name!r}"


class _Silent:
    """The smallest ``Recognizer``, to open a real ``AsrEngine``."""

    name = "silent"

    def transcribe(self, audio: np.ndarray, *, language: str | None, beam_size: int = 5,
                   prompt: str | None = None) -> Transcription:
        return Transcription("", language or "ja")


class _Chat:
    name = "stub"

    def complete(self, messages: list[Message], *, json_mode: bool) -> str:
        return "{}"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[AsrEngine]:
    engine = AsrEngine(_Silent(), Settings(home=tmp_path).asr)
    yield engine
    engine.close()


@pytest.fixture
def service(tmp_path: Path) -> Iterator[RetrievalService]:
    store = KnowledgeStore(":memory:")
    yield RetrievalService(Settings(home=tmp_path).retrieval, HashEmbedder(), store)
    store.close()


def test_recognizers(engine: AsrEngine) -> None:
    assert_implements(_Silent(), Recognizer)
    for protocol in (Recognizer, PartialRecognizer, ContextRecognizer):
        assert_implements(WhisperRecognizer, protocol)  # loading weights is not needed to read its methods


@pytest.mark.parametrize("asr", [FakeAsr(), ScriptedAsr()], ids=type)
def test_streaming_fakes(asr: StreamingRecognizer) -> None:
    assert_implements(asr, StreamingRecognizer)
    assert_implements(asr.open_leg("c", "customer", language="ja", on_event=lambda u: None), LegAudio)


def test_asr_engine_and_its_legs(engine: AsrEngine) -> None:
    assert_implements(engine, StreamingRecognizer)
    leg = engine.open_leg("c", "customer", language="ja", on_event=lambda u: None)
    assert_implements(leg, LegAudio)
    leg.close()
    assert leg.join(10)
    assert {"queue_finals", "queue_partials", "dropped_partials"} <= set(engine.stats())


def test_retrievers(service: RetrievalService) -> None:
    for suggester in (service, FakeRetrieval(), KeywordRetrieval()):
        assert_implements(suggester, Suggester)
    kb = KbRetrieval(KnowledgeStore(":memory:"))
    assert_implements(kb, Retriever)
    kb.close()


def test_fake_suggestions_are_typed() -> None:
    suggestion = FakeRetrieval({"カードをなくしました": ["lost-card", "reissue"]}).search("カードをなくしました")
    assert [type(h) for h in suggestion] == [Hit, Hit] and suggestion[0].confidence == "high"
    found = KeywordRetrieval().suggest("財布を落としました")
    assert isinstance(found, Suggestion) and found.hits[0].category == "カード"


def test_embedders(tmp_path: Path) -> None:
    st = SentenceTransformerEmbedder(tmp_path, name="e5-small", dim=384)  # weights load on first use
    use = UseEmbedder(tmp_path, name="use-multilingual", dim=512)
    for embedder in (HashEmbedder(), st, use, ConcatEmbedder([st, use]), CachingEmbedder(HashEmbedder()),
                     RandomPassages(HashEmbedder())):
        assert_implements(embedder, Embedder)
    vectors = CachingEmbedder(HashEmbedder()).embed_queries(["カード", "住所"])
    assert vectors.shape == (2, HashEmbedder.dim) and vectors.dtype == np.float32


def test_summarizers() -> None:
    for summarizer in (ExtractiveSummarizer(), GenerativeSummarizer(_Chat()), FakeSummarizer(), DemoSummarizer()):
        assert_implements(summarizer, Summarizer)


@pytest.mark.parametrize("make", [fake_stages, demo_stages], ids=lambda f: f.__name__)
def test_fake_stages_hold_contract_implementations(make: Any) -> None:
    stages = make()
    assert_implements(stages.asr, StreamingRecognizer)
    assert_implements(stages.retrieval, Suggester)
    assert_implements(stages.summarizer, Summarizer)
    article = stages.retrieval.get_article("lost-card")
    assert article is not None and article.id == "lost-card"
    assert isinstance(stages.draft(article, "カードをなくしました", "ja"), ReplyDraft)


def test_drafts_take_an_article(tmp_path: Path) -> None:
    for draft in (fake_draft, build_draft(Settings(home=tmp_path))):
        made = draft(fake_article("lost-card"), "カードをなくしました", "ja")
        assert isinstance(made, ReplyDraft) and made.text and "lost-card" in made.cited_ids


class _Drifted:
    """Looks like a ``Retriever`` to ``isinstance`` (it has ``search``), but its ``k`` drifted."""

    def search(self, query: str, *, k: int = 5, language: str | None = None) -> list[Hit]:
        return []


class _Positional:
    def search(self, query: str, k: int = 3, language: str | None = None) -> list[Hit]:
        return []


class _Needy:
    def search(self, query: str, *, k: int = 3, language: str | None = None, tenant: str) -> list[Hit]:
        return []


@pytest.mark.parametrize(("impl", "message"), [
    (_Drifted(), "defaults to 5"), (_Positional(), "positional or keyword"), (_Needy(), "'tenant' is required"),
])
def test_the_check_catches_drift(impl: object, message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        assert_implements(impl, Retriever)


def test_the_check_catches_a_missing_member() -> None:
    class Nameless:
        dim = 3

        def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
            return np.zeros((len(texts), 3), np.float32)

        def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
            return np.zeros((len(texts), 3), np.float32)

    with pytest.raises(AssertionError, match="not a Embedder"):
        assert_implements(Nameless(), Embedder)
