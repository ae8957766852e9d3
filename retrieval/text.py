"""The BM25 signal's word tokenizer (the bigram signal's is ``common.text_ja.char_bigrams``).

Whitespace splitting silently fails on Japanese (bm25s #34), so words come from SudachiPy (its
normalized form folds spelling variants: 引き落し/引落し, ゴールド/Gold) with particles, auxiliaries and
punctuation dropped; Latin-script words are lowercased by the same pass.
"""

from __future__ import annotations

from common.text_ja import NON_WORD, Mode, normalize, tokenize

_DROP_POS = {"助詞", "助動詞", "補助記号", "空白", "記号", "感動詞"}
_EN_STOP = {
    "a", "an", "the", "and", "or", "of", "to", "in", "on", "for", "is", "are", "was", "be", "it", "my",
    "i", "me", "you", "your", "we", "our", "do", "does", "did", "can", "could", "would", "will", "with",
    "this", "that", "have", "has", "had", "so", "just", "like", "um", "uh", "how", "what", "at", "by",
    "from", "about", "am", "if", "but", "not", "no", "there", "get", "got", "want", "please",
}
_JA_STOP = {"為る", "居る", "有る", "成る", "言う", "思う", "こと", "もの", "よう", "ちょっと", "其れ", "此れ",
            "一寸", "私", "貰う", "下さる", "頂く", "致す", "御座る", "今", "ちゃう", "仕舞う"}


class WordTokenizer:
    """SudachiPy content words in one split mode (A: short units … C: the longest)."""

    def __init__(self, mode: Mode = "C") -> None:
        self.mode_name = mode

    def __call__(self, text: str) -> list[str]:
        words = []
        for m in tokenize(normalize(text)[:4000], self.mode_name):
            if m.part_of_speech()[0] in _DROP_POS:
                continue
            word = m.normalized_form().lower()
            if m.surface().isascii():
                word = m.surface()
            if not word.strip() or word in _EN_STOP or word in _JA_STOP or NON_WORD.fullmatch(word):
                continue
            words.append(word)
        return words
