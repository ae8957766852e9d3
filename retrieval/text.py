"""Tokenizers for the lexical signals.

Whitespace splitting silently fails on Japanese (bm25s #34), so words come from SudachiPy (its
normalized form folds spelling variants: 引き落し/引落し, ゴールド/Gold) with particles, auxiliaries and
punctuation dropped; Latin-script words are lowercased by the same pass. Character bigrams are the
fallback that survives kana-only ASR spellings and homophones.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from typing import Any, Literal

SplitMode = Literal["A", "B", "C"]

_DROP_POS = {"助詞", "助動詞", "補助記号", "空白", "記号", "感動詞"}
_EN_STOP = {
    "a", "an", "the", "and", "or", "of", "to", "in", "on", "for", "is", "are", "was", "be", "it", "my",
    "i", "me", "you", "your", "we", "our", "do", "does", "did", "can", "could", "would", "will", "with",
    "this", "that", "have", "has", "had", "so", "just", "like", "um", "uh", "how", "what", "at", "by",
    "from", "about", "am", "if", "but", "not", "no", "there", "get", "got", "want", "please",
}
_JA_STOP = {"為る", "居る", "有る", "成る", "言う", "思う", "こと", "もの", "よう", "ちょっと", "其れ", "此れ",
            "一寸", "私", "貰う", "下さる", "頂く", "致す", "御座る", "今", "ちゃう", "仕舞う"}
_NON_WORD = re.compile(r"[\s\W_]+", re.UNICODE)


def normalize(text: str) -> str:
    """NFKC + lowercase: full-width digits and letters (２, ＡＢＣ) match their ASCII forms."""
    return unicodedata.normalize("NFKC", text).lower()


class WordTokenizer:
    """SudachiPy words; one tokenizer per thread (SudachiPy tokenizers are not thread-safe)."""

    def __init__(self, mode: SplitMode = "C") -> None:
        self.mode_name = mode
        self._local = threading.local()

    def _tokenizer(self) -> Any:
        tok = getattr(self._local, "tok", None)
        if tok is None:
            from sudachipy import Dictionary

            tok = self._local.tok = Dictionary().tokenizer(mode=self.mode_name)
        return tok

    def __call__(self, text: str) -> list[str]:
        words = []
        for m in self._tokenizer().tokenize(normalize(text)[:4000]):
            if m.part_of_speech()[0] in _DROP_POS:
                continue
            word = m.normalized_form().lower()
            if m.surface().isascii():
                word = m.surface()
            if not word.strip() or word in _EN_STOP or word in _JA_STOP or _NON_WORD.fullmatch(word):
                continue
            words.append(word)
        return words


def char_bigrams(text: str) -> list[str]:
    """Overlapping character bigrams of the text with spaces and punctuation removed."""
    compact = _NON_WORD.sub("", normalize(text))
    if len(compact) < 2:
        return [compact] if compact else []
    return [compact[i : i + 2] for i in range(len(compact) - 1)]
