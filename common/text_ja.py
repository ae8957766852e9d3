"""Japanese-first text helpers every stage shares: the SudachiPy tokenizer, character bigrams, fillers.

One SudachiPy dictionary per process (it is large and read-only) and one tokenizer per thread over it
(SudachiPy tokenizers must not cross threads), whatever stage asks: ASR vocabulary repair, the lexical
retrieval signals and the notes all read the same morphemes. Character bigrams are the lexical fallback that
survives kana-only ASR spellings and homophones. Fillers (えーと, あの, um) carry no meaning: search drops them
anywhere, notes only at the start of a sentence and after a pause, so the two keep their own lists here.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from typing import Literal

from sudachipy import Dictionary, MorphemeList, SplitMode, Tokenizer

Mode = Literal["A", "B", "C"]
_MODES: dict[str, SplitMode] = {"A": SplitMode.A, "B": SplitMode.B, "C": SplitMode.C}

NON_WORD = re.compile(r"[\s\W_]+", re.UNICODE)
# Spaces and pause marks a cleaned-up utterance is trimmed of.
TRIM_CHARS = " \t\n、。,.!?！？・…"

_dict_lock = threading.Lock()
_dict: Dictionary | None = None
_local = threading.local()


def _dictionary() -> Dictionary:
    global _dict
    with _dict_lock:
        if _dict is None:
            _dict = Dictionary()
        return _dict


def tokenize(text: str, mode: Mode = "C") -> MorphemeList:
    """SudachiPy morphemes of ``text`` (mode C, the longest units, unless told), from this thread's tokenizer."""
    tok: Tokenizer | None = getattr(_local, "tokenizer", None)
    if tok is None:
        tok = _local.tokenizer = _dictionary().tokenizer()
    return tok.tokenize(text, _MODES[mode])


def normalize(text: str) -> str:
    """NFKC + lowercase: full-width digits and letters (２, ＡＢＣ) match their ASCII forms."""
    return unicodedata.normalize("NFKC", text).lower()


def bigrams(chunk: str) -> list[str]:
    """Overlapping character bigrams of one run of characters; none under two characters."""
    return [chunk[i : i + 2] for i in range(len(chunk) - 1)]


def char_bigrams(text: str) -> list[str]:
    """The lexical ``bigram`` signal's tokens: bigrams of the normalized text without spaces and punctuation;
    a one-character text is its own token."""
    compact = NON_WORD.sub("", normalize(text))
    return bigrams(compact) or ([compact] if compact else [])


# Hesitations are never words: both lists drop them even unpunctuated, as ASR writes them.
_JA_HESITATIONS = ("えーっと", "えーと", "えっと", "ええと", "あのー", "そのー", "うーん")

# ---- search: fillers go anywhere; the short ones are also parts of words (うんてん, あのひと), so only at a boundary
_QUERY_JA = (*_JA_HESITATIONS, "あのう", "なんていうか", "ちょっと", "やっぱり", "えー", "あー", "んー")
_QUERY_JA_SHORT = ("あの", "その", "なんか", "まあ", "まぁ", "ええ", "えと")
_QUERY_EN = ("um", "umm", "uh", "uhh", "er", "erm", "hmm", "like", "you know", "i mean", "well", "so", "okay so")
_QUERY_JA_RE = re.compile("|".join(sorted((re.escape(f) for f in _QUERY_JA), key=len, reverse=True)))
_QUERY_JA_SHORT_RE = re.compile(r"(?:^|(?<=[\s、。,]))(?:" + "|".join(re.escape(f) for f in _QUERY_JA_SHORT)
                                + r")[ー〜]*")
_QUERY_EN_RE = re.compile(r"\b(?:" + "|".join(re.escape(f) for f in _QUERY_EN) + r")\b[,]?", re.IGNORECASE)
_PUNCT_RUNS = re.compile(r"[\s、。,.!?！？・…ー〜~]{2,}")
_SPACES = re.compile(r"\s+")

# ---- notes: a leading run of fillers, and fillers after a pause mark; ちょっと mid-sentence is a word there
_NOTE_JA = re.compile(
    r"^(?:(?:" + "|".join(_JA_HESITATIONS) + r")[、,\s…ー]*"
    r"|(?:あの|なんか|まあ|えー|ええ|はい|あっ|あ|いや|そうですね|すみません|ちょっと)[、,\s…ー]+)+"
)
_NOTE_JA_INNER = re.compile(r"(?<=[、\s])(?:えーっと|えーと|えっと|あのー|あの|なんか|そのー)[、\s]+")
_NOTE_EN = re.compile(r"^(?:(?:hi|hello|hey|um+|uh+|er+|hmm+|well|so|okay|ok|oh|yeah|yes|right|like|you know)"
                      r"[,\s.…]+)+", re.IGNORECASE)
_NOTE_EN_INNER = re.compile(r"\b(?:um+|uh+|er+|you know),?\s+", re.IGNORECASE)


def strip_fillers(text: str) -> str:
    """A query without hesitation words (they move embeddings and add BM25 noise); everything else stays
    verbatim, ASR errors included (the KB side copes). NFKC-normalized, runs of pauses squeezed."""
    text = unicodedata.normalize("NFKC", text)
    text = _QUERY_EN_RE.sub(" ", text)
    text = _QUERY_JA_RE.sub(" ", text)
    for _ in range(3):  # fillers come in runs: "あの なんか"
        text = _QUERY_JA_SHORT_RE.sub(" ", text.strip())
    text = _PUNCT_RUNS.sub(" ", text)
    return _SPACES.sub(" ", text).strip(TRIM_CHARS)


def strip_sentence_fillers(sentence: str, language: str) -> str:
    """A sentence for the notes without its leading fillers and those after a pause; the rest keeps its
    wording (an English sentence its capital)."""
    if language == "ja":
        s = _NOTE_JA_INNER.sub("", _NOTE_JA.sub("", sentence))
    else:
        s = _NOTE_EN_INNER.sub("", _NOTE_EN.sub("", sentence))
        s = s[:1].upper() + s[1:]
    return s.strip(" 、,")
