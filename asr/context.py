"""Finals decoded after the leg's previous utterance: its real audio in the window, its text as the forced prefix.

A final alone in Whisper's 30 s window is followed by 25 s of digital silence. Putting the same speaker's
previous utterance (same voice, same telephone channel) in front of it, with the text already finalized for
it forced as the decoder's prefix, lets the encoder hear more of the voice and the channel and the decoder
continue a transcript instead of starting one; the decoder only generates the new utterance's text. On the
dev split this took Japanese CER with the glossary from 16.6 % to 13.6 % on direct decodes, most on the phone
and noisy channels (docs/QUALITY.md, "Final decode"). Costs about 10 % more than a lone full-window final
(the prefix tokens); the window is 30 s either way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import ctranslate2
import numpy as np
from faster_whisper import WhisperModel
from faster_whisper.tokenizer import Tokenizer
from faster_whisper.transcribe import get_suppressed_tokens

from asr.audio import SAMPLE_RATE
from asr.base import FinalContext, Transcription
from asr.confidence import has_numerals, word_probabilities
from asr.short_context import (
    FALLBACK_TEMPERATURE,
    HOP,
    MAX_FRAMES,
    MIN_PAD_S,
    TOKENS_PER_S,
    _to_transcription,
    encode,
    prompt_head,
    window_frames,
)

GAP_S = 0.6  # silence between the previous utterance and this one (what was measured)
WINDOW_MARGIN_S = 1.0  # the composed audio stays this far inside the 30 s window


@dataclass(frozen=True, slots=True)
class _Stripped:
    """A generation result without its forced prefix tokens (what ``_to_transcription`` reads)."""

    sequences_ids: list[list[int]]
    scores: list[float]
    no_speech_prob: float


def compose(audio: np.ndarray, context: FinalContext | None, max_context_s: float,
            window_s: float = MAX_FRAMES / 100) -> tuple[np.ndarray, str | None]:
    """The window's audio (the context's tail, a gap, the utterance) and the prefix; unchanged without room.

    The context only fills what the utterance leaves of the ``window_s`` window (less its padding): a long
    utterance, which carries its own voice and channel, is decoded alone in a small window instead of
    growing the window to 30 s.
    """
    limit = min(MAX_FRAMES * HOP / SAMPLE_RATE - WINDOW_MARGIN_S, window_s - MIN_PAD_S)
    room = int((limit - GAP_S) * SAMPLE_RATE) - len(audio)
    keep = min(room, int(max_context_s * SAMPLE_RATE))
    if context is None or not context.text.strip() or keep < SAMPLE_RATE // 2 or not len(context.audio):
        return audio, None
    gap = np.zeros(int(GAP_S * SAMPLE_RATE), np.float32)
    return np.concatenate([np.asarray(context.audio[-keep:], np.float32), gap, np.asarray(audio, np.float32)]), \
        context.text.strip()


def decode_in_context(
    model: WhisperModel,
    audios: Sequence[np.ndarray],
    prefixes: Sequence[str],
    *,
    language: str,
    beam_size: int,
    prompt: str | None,
    utterance_lengths: Sequence[int],
    window_s: float = MAX_FRAMES / 100,
) -> list[Transcription]:
    """Decode composed windows (``compose``) in one batch, each after its own forced prefix.

    ``utterance_lengths``: samples of each new utterance (the end of each window's audio), for the token cap.
    ``window_s``: the encoder's window (``short_context.window_frames``: grown to hold the composed audio).
    """
    feats, encoded = encode(model, audios, window_frames(max(len(a) for a in audios), window_s))
    tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language=language)
    head = prompt_head(model, tokenizer, prompt)
    forced = [tokenizer.encode(p)[-(model.max_length // 4) :] for p in prefixes]
    prompts = [head + f for f in forced]
    max_new = min(model.max_length // 2, 20 + int(TOKENS_PER_S * max(utterance_lengths) / SAMPLE_RATE))
    common = {
        "max_length": min(model.max_length, max(len(p) for p in prompts) + max_new),
        "return_scores": True,
        "return_no_speech_prob": True,
        "suppress_blank": True,
        "suppress_tokens": get_suppressed_tokens(tokenizer, [-1]),
    }
    results = model.model.generate(encoded, prompts, beam_size=beam_size, **common)
    stripped = [_strip(r, len(f)) for r, f in zip(results, forced, strict=True)]
    out = [_to_transcription(r, tokenizer, language) for r in stripped]
    for i, tr in enumerate(out):
        if tr.compression_ratio > 2.4 or tr.avg_logprob < -1.0:
            one = encoded if len(audios) == 1 else model.model.encode(
                ctranslate2.StorageView.from_array(feats[i : i + 1]), to_cpu=False)
            retry = _strip(model.model.generate(one, [prompts[i]], beam_size=1, sampling_temperature=FALLBACK_TEMPERATURE,
                                                sampling_topk=0, **common)[0], len(forced[i]))
            candidate = _to_transcription(retry, tokenizer, language)
            if candidate.avg_logprob > tr.avg_logprob and candidate.compression_ratio <= 2.4:
                out[i], stripped[i] = candidate, retry
    if beam_size <= 1 or not any(has_numerals(tr.text) for tr in out):
        return out
    return _with_words(model, encoded, stripped, forced, out, tokenizer, head, [len(a) for a in audios])


def _strip(result: ctranslate2.models.WhisperGenerationResult, n: int) -> _Stripped:
    """CTranslate2 returns the forced prefix with the generated tokens: drop it."""
    return _Stripped([list(result.sequences_ids[0][n:])], list(result.scores), float(result.no_speech_prob))


def _with_words(model: WhisperModel, encoded: ctranslate2.StorageView, stripped: list[_Stripped],
                forced: list[list[int]], out: list[Transcription], tokenizer: Tokenizer, head: list[int],
                lengths: list[int]) -> list[Transcription]:
    """Word probabilities (``asr/confidence.py``) aligned over prefix + new tokens, the prefix's pieces dropped."""
    new = [[t for t in s.sequences_ids[0] if t < tokenizer.eot] for s in stripped]
    start = [t for t in head if t != tokenizer.no_timestamps]
    words = word_probabilities(model, encoded, [f + n for f, n in zip(forced, new, strict=True)], tokenizer,
                               start_sequence=start, num_frames=[n // HOP for n in lengths])
    done = []
    for tr, w, f in zip(out, words, forced, strict=True):
        skip, seen = len(tokenizer.decode(f)), 0
        rest = list(w)
        while rest and seen < skip:
            seen += len(rest.pop(0).text)
        done.append(replace(tr, words=tuple(rest)) if seen == skip else tr)
    return done
