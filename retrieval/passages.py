"""Articles → passages for the dense index.

Each passage is the title plus the caller-side questions plus a piece of the answer: callers ask the
way the questions are written, and a short passage keeps the embedding about one thing. Long answers
are cut at sentence ends into pieces of about ``chunk_chars``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from knowledge.article import Article

_SENTENCE_END = re.compile(r"(?<=[。！？!?\.\n])\s*")


@dataclass(frozen=True, slots=True)
class Passage:
    pid: int
    article_id: str
    chunk: int
    text: str


def passage_id(article_id: str, chunk: int) -> int:
    """Deterministic 63-bit FAISS id, so an edit replaces exactly its own vectors."""
    digest = hashlib.blake2b(f"{article_id}\x00{chunk}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & ((1 << 63) - 1)


def chunk_text(text: str, chunk_chars: int) -> list[str]:
    """Greedy packing of whole sentences; a single overlong sentence is cut hard."""
    sentences = [s for s in _SENTENCE_END.split(text.strip()) if s]
    chunks: list[str] = []
    current = ""
    for sentence in sentences:
        while len(sentence) > chunk_chars:
            if current:
                chunks.append(current)
                current = ""
            chunks.append(sentence[:chunk_chars])
            sentence = sentence[chunk_chars:]
        if current and len(current) + len(sentence) > chunk_chars:
            chunks.append(current)
            current = ""
        current = f"{current} {sentence}".strip() if current and current[-1].isascii() else current + sentence
    if current:
        chunks.append(current)
    return chunks or [text[:chunk_chars]]


QUESTION_CHUNK_BASE = 10_000


def article_passages(article: Article, chunk_chars: int) -> list[Passage]:
    """Answer pieces (with title and questions in front), plus one short passage per question: a caller's
    colloquial wording sits closer to a question than to a whole answer."""
    head = "\n".join([article.title, *article.questions])
    passages = [
        Passage(passage_id(article.id, i), article.id, i, f"{head}\n{piece}")
        for i, piece in enumerate(chunk_text(article.answer, chunk_chars))
    ]
    for i, question in enumerate(article.questions):
        chunk = QUESTION_CHUNK_BASE + i
        passages.append(Passage(passage_id(article.id, chunk), article.id, chunk, f"{article.title}\n{question}"))
    return passages


def lexical_text(article: Article) -> str:
    """What the lexical signals see: everything a caller might name, tags and category included."""
    return "\n".join([article.title, *article.questions, *article.tags, article.category or "", article.answer])


def snippet(article: Article, limit: int = 160) -> str:
    text = " ".join(article.answer.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
