"""How sure the recognizer was of each piece of a final: the probability Whisper gave every token it chose.

Beam search returns one score per hypothesis, not per token, and CTranslate2's ``return_logits_vocab`` comes
back empty under beam search (CTranslate2 4.x). ``Whisper.align`` — what faster-whisper's word timestamps use —
runs the decoder once more over the chosen tokens (teacher forcing, same prompt prefix, same encoder output)
and returns each token's probability: about 50 ms per 30 s window for whisper-base int8 on one thread,
against ~0.9 s for the encoder and ~0.3 s for the beam search (docs/QUALITY.md).

Tokens are byte-level BPE: one kanji may span two tokens, so pieces gather tokens until they decode to whole
characters, and a piece's probability is the product of its tokens'. The pieces' texts joined give the decoded
text; ``summarize/uncertain.py`` turns low-probability numbers into the spans the widget underlines.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import replace

import ctranslate2
from faster_whisper import WhisperModel
from faster_whisper.tokenizer import Tokenizer

from asr.base import Transcription, Word

log = logging.getLogger(__name__)

_REPLACEMENT = "\ufffd"  # what a token sequence that ends inside a UTF-8 character decodes to
HOP = 160  # samples per mel frame
MAX_PIECE_TOKENS = 6  # a UTF-8 character has at most 4 bytes: longer runs of broken bytes are cut anyway
# anything that may hold a number (a superset of what summarize/numbers.py reads as one)
_NUMERAL = re.compile(r"[0-9０-９〇一二三四五六七八九十百千万億兆]|\b(?:zero|one|two|three|four|five|six|seven|eight|"
                      r"nine|ten|eleven|twelve|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|"
                      r"thousand|million|first|second|third)\b", re.IGNORECASE)


def has_numerals(text: str) -> bool:
    """Only numbers are ever marked uncertain, so finals without any skip the alignment pass."""
    return _NUMERAL.search(text) is not None


def pieces(tokenizer: Tokenizer, tokens: Sequence[int], probs: Sequence[float]) -> tuple[Word, ...]:
    """Tokens grouped into pieces of whole characters, each with the product of its tokens' probabilities."""
    out: list[Word] = []
    group: list[int] = []
    p = 1.0
    for token, prob in zip(tokens, probs, strict=True):
        group.append(token)
        p *= float(prob)
        text = tokenizer.decode(group)
        if _REPLACEMENT not in text or len(group) >= MAX_PIECE_TOKENS:
            out.append(Word(text, min(1.0, max(0.0, p))))
            group, p = [], 1.0
    if group:  # the decode ended inside a character
        out.append(Word(tokenizer.decode(group), min(1.0, max(0.0, p))))
    return tuple(out)


def word_probabilities(
    model: WhisperModel,
    encoded: ctranslate2.StorageView,
    tokens: Sequence[Sequence[int]],
    tokenizer: Tokenizer,
    *,
    start_sequence: Sequence[int],
    num_frames: Sequence[int],
) -> list[tuple[Word, ...]]:
    """Per batch item of ``encoded``, its ``tokens`` (text tokens, no special ones) as pieces with probabilities.

    ``start_sequence``: the decoder prefix the tokens were generated after, without ``<|notimestamps|>``
    (``align`` adds it): the prompt's ``<|startofprev|>`` part, then ``tokenizer.sot_sequence``.
    ``num_frames``: each item's mel frames of audio (the alignment's extent; the probabilities do not use it).
    A failure costs the pieces, never the final: every item then gets ``()``.
    """
    if not any(tokens):
        return [() for _ in tokens]
    # align cannot take an empty token list: give empty items one token and drop its result
    padded = [list(t) if t else [tokenizer.eot] for t in tokens]
    frames = [max(1, int(n)) for n in num_frames]
    try:
        results = model.model.align(encoded, list(start_sequence), padded, frames)
    except (RuntimeError, ValueError):
        log.exception("token probabilities failed; the finals keep no word probabilities")
        return [() for _ in tokens]
    return [pieces(tokenizer, t, r.text_token_probs[: len(t)]) if t else () for t, r in zip(tokens, results,
                                                                                            strict=True)]


def with_words(
    model: WhisperModel,
    encoded: ctranslate2.StorageView,
    results: Sequence[ctranslate2.models.WhisperGenerationResult],
    transcriptions: Sequence[Transcription],
    tokenizer: Tokenizer,
    *,
    prefix: Sequence[int],
    audio_lengths: Sequence[int],
) -> list[Transcription]:
    """``transcriptions`` (one per item of ``encoded``, decoded as ``results`` after ``prefix``) with ``words``."""
    if not any(has_numerals(tr.text) for tr in transcriptions):
        return list(transcriptions)
    tokens = [[t for t in r.sequences_ids[0] if t < tokenizer.eot] for r in results]
    start = [t for t in prefix if t != tokenizer.no_timestamps]
    frames = [n // HOP for n in audio_lengths]
    words = word_probabilities(model, encoded, tokens, tokenizer, start_sequence=start, num_frames=frames)
    return [replace(tr, words=w) for tr, w in zip(transcriptions, words, strict=True)]
