"""``Recognizer`` over faster-whisper's ``WhisperModel``: one model per process, shared by every call.

CTranslate2 releases the GIL and runs ``num_workers`` decodes in parallel, so the engine's worker
threads call ``transcribe`` concurrently. Utterances arrive already cut by our streaming VAD, hence
``vad_filter=False`` and ``condition_on_previous_text=False`` (no cross-utterance drift).
"""

from __future__ import annotations

import bisect
import logging
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
from faster_whisper import BatchedInferencePipeline, WhisperModel
from faster_whisper.transcribe import Segment

from asr.audio import SAMPLE_RATE
from asr.base import FinalContext, Transcription
from asr.context import compose, decode_in_context
from asr.short_context import decode_short, fits
from config import AsrSettings
from gpu.device import DevicePlan, plan_device
from models import ModelRegistry

log = logging.getLogger(__name__)

# Whisper keeps at most n_text_ctx // 2 - 1 = 223 prompt tokens; faster-whisper silently keeps the tail.
PROMPT_TOKEN_LIMIT = 223
FINAL_TEMPERATURES = (0.0, 0.4)
DEFAULT_CONTEXT_PAD_S = 5.0


def merge_segments(segments: Iterable[Segment], language: str) -> Transcription:
    """One utterance's segments -> one ``Transcription`` with the scores the guards need."""
    segs = list(segments)
    if not segs:
        return Transcription(text="", language=language, avg_logprob=0.0, no_speech_prob=1.0)
    weights = [max(1, len(s.tokens)) for s in segs]
    avg_logprob = float(np.average([s.avg_logprob for s in segs], weights=weights))
    return Transcription(
        text="".join(s.text for s in segs).strip(),
        language=language,
        avg_logprob=avg_logprob,
        no_speech_prob=float(segs[0].no_speech_prob),
        compression_ratio=float(max(s.compression_ratio for s in segs)),
    )


class WhisperRecognizer:
    """Thread-safe Whisper decoder; finals use beam search, partials (``beam_size=1``) a greedy pass.

    Finals (``transcribe``, ``transcribe_batch``) encode Whisper's whole 30 s window unless
    ``final_context="short"``; partials (``transcribe_partial``) always use the cheap short context.
    """

    def __init__(
        self,
        model_path: str | Path,
        plan: DevicePlan,
        *,
        name: str | None = None,
        context_pad_s: float | None = DEFAULT_CONTEXT_PAD_S,
        final_context: Literal["full", "short"] = "full",
        context_audio_s: float = 0.0,
        final_window_s: float = 15.0,
    ) -> None:
        """``context_pad_s``: short-context decodes cut the audio context to utterance + this padding
        (``asr/short_context.py``); ``None`` hands every decode to faster-whisper's own ``transcribe``.
        ``final_context``: ``"full"`` decodes finals over the whole 30 s window (``asr.final_context``).
        ``context_audio_s``: how much of a leg's previous utterance ``transcribe_finals`` may put before a final
        (``asr/context.py``; full-window finals only).
        ``final_window_s``: the encoder window of full-context finals (``asr.final_window_s``)."""
        self.plan = plan
        self.context_pad_s = context_pad_s
        self.final_context = final_context
        self.context_audio_s = context_audio_s
        self.final_window_s = final_window_s
        self.name = name or Path(model_path).name
        self.model = WhisperModel(
            str(model_path),
            device=plan.device,
            compute_type=plan.compute_type,
            cpu_threads=plan.cpu_threads,
            num_workers=plan.num_workers,
            local_files_only=True,
        )
        self._batch_lock = threading.Lock()
        self._batched: BatchedInferencePipeline | None = None
        log.info(
            "whisper %s loaded on %s (%s, %d workers x %d threads)",
            self.name, plan.device, plan.compute_type, plan.num_workers, plan.cpu_threads,
        )

    @classmethod
    def from_settings(
        cls, asr: AsrSettings, registry: ModelRegistry, *, allow_downloads: bool = False
    ) -> WhisperRecognizer:
        """``allow_downloads`` is the service-wide ``Settings.allow_downloads`` (a hub name may be fetched)."""
        path = registry.resolve(asr.model, allow_downloads=allow_downloads)
        plan = plan_device(asr.device, asr.compute_type, cpu_threads=asr.cpu_threads, workers=asr.workers)
        return cls(path, plan, name=asr.model, context_pad_s=asr.context_pad_s, final_context=asr.final_context,
                   context_audio_s=asr.final_context_audio_s, final_window_s=asr.final_window_s)

    @property
    def device(self) -> str:
        return self.plan.device

    def count_tokens(self, text: str) -> int:
        """Whisper tokens in ``text``, for keeping the glossary prompt inside its budget."""
        return len(self.model.hf_tokenizer.encode(" " + text.strip(), add_special_tokens=False).ids)

    def transcribe(
        self,
        audio: np.ndarray,
        *,
        language: str | None,
        beam_size: int = 5,
        prompt: str | None = None,
    ) -> Transcription:
        """A final: the audio context ``final_context`` asks for."""
        return self._decode(audio, language, beam_size, prompt, full_window=self.final_context == "full")

    def transcribe_finals(
        self,
        audios: Sequence[np.ndarray],
        *,
        language: str | None,
        beam_size: int = 5,
        prompt: str | None = None,
        contexts: Sequence[FinalContext | None],
    ) -> list[Transcription]:
        """Finals, each after its leg's previous utterance where one is given and there is room (``asr/context.py``);
        the others as ``transcribe_batch`` / ``transcribe`` would."""
        composed: list[tuple[np.ndarray, str | None]] = [(a, None) for a in audios]
        if language is not None and self.final_context == "full" and self.context_audio_s > 0:
            composed = [compose(np.asarray(a, np.float32), c, self.context_audio_s, self.final_window_s)
                        for a, c in zip(audios, contexts, strict=True)]
        with_ctx = [i for i, (_, prefix) in enumerate(composed) if prefix]
        alone = [i for i, (_, prefix) in enumerate(composed) if not prefix]
        out: list[Transcription | None] = [None] * len(audios)
        if with_ctx and language is not None:
            results = decode_in_context(self.model, [composed[i][0] for i in with_ctx],
                                        [composed[i][1] or "" for i in with_ctx], language=language,
                                        beam_size=beam_size, prompt=prompt,
                                        utterance_lengths=[len(audios[i]) for i in with_ctx],
                                        window_s=self.final_window_s)
            for i, tr in zip(with_ctx, results, strict=True):
                out[i] = tr
        if len(alone) > 1 and language is not None:
            results = self.transcribe_batch([audios[i] for i in alone], language=language, beam_size=beam_size,
                                            prompt=prompt)
        else:
            results = [self.transcribe(audios[i], language=language, beam_size=beam_size, prompt=prompt) for i in alone]
        for i, tr in zip(alone, results, strict=True):
            out[i] = tr
        return [tr for tr in out if tr is not None]

    def transcribe_partial(self, audio: np.ndarray, *, language: str | None, beam_size: int = 1) -> Transcription:
        """A partial: always the short context (it is shown for a second, then replaced by the final)."""
        return self._decode(audio, language, beam_size, None, full_window=False)

    def _decode(
        self, audio: np.ndarray, language: str | None, beam_size: int, prompt: str | None, *, full_window: bool
    ) -> Transcription:
        audio = np.asarray(audio, dtype=np.float32)
        pad_s = self.context_pad_s
        if language is not None and pad_s is not None and fits(len(audio), 0.0 if full_window else pad_s):
            return decode_short(
                self.model, [audio], language=language, beam_size=beam_size, prompt=prompt, pad_s=pad_s,
                full_window=full_window, window_s=self.final_window_s,
            )[0]
        partial = beam_size <= 1
        segments, info = self.model.transcribe(
            audio,
            language=language,
            beam_size=beam_size,
            best_of=1 if partial else 5,
            temperature=0.0 if partial else FINAL_TEMPERATURES,
            condition_on_previous_text=False,
            initial_prompt=prompt or None,
            without_timestamps=partial,
            vad_filter=False,
            log_progress=False,
        )
        return merge_segments(segments, info.language)

    def transcribe_batch(
        self,
        audios: Sequence[np.ndarray],
        *,
        language: str,
        beam_size: int = 5,
        prompt: str | None = None,
    ) -> list[Transcription]:
        """Decode several utterances (of one language) in one batched encoder/decoder pass.

        They are stacked as one batch of windows (``decode_short``: 30 s ones, or utterance + padding with
        ``final_context="short"``); without ``context_pad_s`` (or past 30 s) they are laid end to end and
        handed to ``BatchedInferencePipeline`` as clips, each segment coming back tagged with its clip's
        offset (``seek``), which maps it to its utterance.
        """
        if not audios:
            return []
        full = self.final_context == "full"
        pad_s = self.context_pad_s
        if pad_s is not None and all(fits(len(a), 0.0 if full else pad_s) for a in audios):
            return decode_short(
                self.model, audios, language=language, beam_size=beam_size, prompt=prompt, pad_s=pad_s,
                full_window=full, window_s=self.final_window_s,
            )
        clips: list[dict[str, float]] = []
        offset = 0
        for a in audios:
            clips.append({"start": offset / SAMPLE_RATE, "end": (offset + len(a)) / SAMPLE_RATE})
            offset += len(a)
        joined = np.concatenate([np.asarray(a, dtype=np.float32) for a in audios])
        with self._batch_lock:  # the pipeline keeps per-call state
            if self._batched is None:
                self._batched = BatchedInferencePipeline(self.model)
            segments, info = self._batched.transcribe(
                joined,
                language=language,
                beam_size=beam_size,
                batch_size=len(audios),
                initial_prompt=prompt or None,
                clip_timestamps=clips,
                without_timestamps=True,
                vad_filter=False,
                log_progress=False,
            )
            segs = list(segments)
        by_clip: list[list[Segment]] = [[] for _ in audios]
        starts = [c["start"] * 100 - 1 for c in clips]  # seek is the clip offset in 10 ms frames, truncated
        for seg in segs:
            by_clip[bisect.bisect_right(starts, seg.seek) - 1].append(seg)
        return [merge_segments(s, info.language) for s in by_clip]
