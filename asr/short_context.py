"""Whisper decoding with the audio context cut to the utterance (plus padding) instead of 30 s.

faster-whisper always pads to a 30 s window, so every decode pays a fixed ~0.7 CPU-s encoder cost
however short the utterance. CTranslate2's encoder accepts fewer frames (whisper.cpp calls this
``audio_ctx``). On the first, one-voice eval set, 5 s of padding after the speech matched the 30 s window
at about a third of the CPU; on the 14-voice dev split it costs finals 1-2 CER points and the glossary's gain on
telephone audio (docs/QUALITY.md, "Final decode"), so finals use the whole window (``full_window``) unless
``asr.final_context = "short"``; partials keep the short one. 2 s of padding degraded Japanese badly (22 %),
hence the 3 s floor. Several utterances share one encoder/decoder batch.
"""

from __future__ import annotations

from collections.abc import Sequence

import ctranslate2
import numpy as np
from faster_whisper import WhisperModel
from faster_whisper.tokenizer import Tokenizer
from faster_whisper.transcribe import get_compression_ratio, get_suppressed_tokens

from asr.audio import SAMPLE_RATE
from asr.base import Transcription
from asr.confidence import with_words

MIN_PAD_S = 3.0
MAX_FRAMES = 3000  # Whisper's 30 s window
HOP = 160  # samples per mel frame
FALLBACK_TEMPERATURE = 0.4
TOKENS_PER_S = 15  # generous upper bound on speech tokens per second; caps runaway loops


def _features(model: WhisperModel, audio: np.ndarray, frames: int) -> np.ndarray:
    """Log-mel of the audio padded with silence to ``frames`` frames (Whisper's own padding)."""
    padded = np.zeros(frames * HOP, dtype=np.float32)
    n = min(len(audio), len(padded))
    padded[:n] = audio[:n]
    return model.feature_extractor(padded)[:, :frames]


def encode(model: WhisperModel, audios: Sequence[np.ndarray], frames: int) -> tuple[np.ndarray, ctranslate2.StorageView]:
    """Log-mel features of each audio padded to ``frames``, and their encoder output in one batch."""
    feats = np.stack([_features(model, np.asarray(a, dtype=np.float32), frames) for a in audios])
    return feats, model.model.encode(ctranslate2.StorageView.from_array(feats), to_cpu=False)


def prompt_head(model: WhisperModel, tokenizer: Tokenizer, prompt: str | None) -> list[int]:
    """The decoder's start: the glossary prompt (as previous text), then start-of-transcript, no timestamps."""
    ids: list[int] = []
    if prompt:
        ids = [tokenizer.sot_prev, *tokenizer.encode(" " + prompt.strip())[-(model.max_length // 2 - 1) :]]
    return ids + [*tokenizer.sot_sequence, tokenizer.no_timestamps]


def window_frames(longest: int, window_s: float) -> int:
    """Encoder frames of a final: at least ``window_s``, grown to hold the longest audio + ``MIN_PAD_S``, at most 30 s."""
    need = max(window_s, longest / SAMPLE_RATE + MIN_PAD_S)
    return min(MAX_FRAMES, int(np.ceil(round(need * 100, 6))))


def fits(audio_len: int, pad_s: float) -> bool:
    """Whether ``audio_len`` samples plus ``pad_s`` of padding fit Whisper's 30 s window (0 for a full-window decode)."""
    return audio_len + pad_s * SAMPLE_RATE <= MAX_FRAMES * HOP


def decode_short(
    model: WhisperModel,
    audios: Sequence[np.ndarray],
    *,
    language: str,
    beam_size: int,
    prompt: str | None,
    pad_s: float,
    fallback: bool = True,
    full_window: bool = False,
    window_s: float = MAX_FRAMES / 100,
) -> list[Transcription]:
    """Decode utterances (each under 30 s minus ``pad_s``) of one language in one batch.

    ``full_window``: encode a window of ``window_s`` (Whisper's 30 s by default, what it was trained on; the
    accurate path for finals, docs/QUALITY.md) instead of utterance + ``pad_s``; utterances then only need to
    be under 30 s.
    """
    pad_s = max(pad_s, MIN_PAD_S)
    longest = max(len(a) for a in audios)
    frames = window_frames(longest, window_s) if full_window else \
        min(MAX_FRAMES, int(np.ceil((longest / SAMPLE_RATE + pad_s) * 100)))
    feats, encoded = encode(model, audios, frames)
    tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language=language)
    prompt_ids = prompt_head(model, tokenizer, prompt)
    max_new = min(model.max_length // 2, 20 + int(TOKENS_PER_S * longest / SAMPLE_RATE))
    common = {
        "max_length": min(model.max_length, len(prompt_ids) + max_new),
        "return_scores": True,
        "return_no_speech_prob": True,
        "suppress_blank": True,
        "suppress_tokens": get_suppressed_tokens(tokenizer, [-1]),
    }
    results = model.model.generate(encoded, [prompt_ids] * len(audios), beam_size=beam_size, **common)
    out = [_to_transcription(r, tokenizer, language) for r in results]
    if not fallback:
        return _words(model, encoded, results, out, tokenizer, prompt_ids, audios, beam_size)
    for i, tr in enumerate(out):
        if tr.compression_ratio > 2.4 or tr.avg_logprob < -1.0:
            retry = model.model.generate(
                _select(encoded, i, feats, model),
                [prompt_ids],
                beam_size=1,
                sampling_temperature=FALLBACK_TEMPERATURE,
                sampling_topk=0,
                **common,
            )[0]
            candidate = _to_transcription(retry, tokenizer, language)
            if candidate.avg_logprob > tr.avg_logprob and candidate.compression_ratio <= 2.4:
                out[i], results[i] = candidate, retry
    return _words(model, encoded, results, out, tokenizer, prompt_ids, audios, beam_size)


def _words(model: WhisperModel, encoded: ctranslate2.StorageView,
           results: list[ctranslate2.models.WhisperGenerationResult], out: list[Transcription],
           tokenizer: Tokenizer, prompt_ids: list[int], audios: Sequence[np.ndarray], beam_size: int
           ) -> list[Transcription]:
    """Finals (beam search) get each piece's probability (``asr/confidence.py``); greedy partials do not."""
    if beam_size <= 1:
        return out
    lengths = [len(a) for a in audios]
    return with_words(model, encoded, results, out, tokenizer, prefix=prompt_ids, audio_lengths=lengths)


def _select(encoded: ctranslate2.StorageView, i: int, feats: np.ndarray, model: WhisperModel) -> ctranslate2.StorageView:
    """Encoder output of item ``i`` alone (re-encoded: a StorageView cannot be sliced on every device)."""
    if feats.shape[0] == 1:
        return encoded
    return model.model.encode(ctranslate2.StorageView.from_array(feats[i : i + 1]), to_cpu=False)


def _to_transcription(result: ctranslate2.models.WhisperGenerationResult, tokenizer: Tokenizer, language: str) -> Transcription:
    tokens = [t for t in result.sequences_ids[0] if t < tokenizer.eot]
    text = tokenizer.decode(tokens).strip()
    seq_len = len(result.sequences_ids[0])
    avg_logprob = result.scores[0] * seq_len / (seq_len + 1)
    return Transcription(
        text=text,
        language=language,
        avg_logprob=float(avg_logprob),
        no_speech_prob=float(result.no_speech_prob),
        compression_ratio=float(get_compression_ratio(text)) if text else 0.0,
    )
