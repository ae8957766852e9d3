"""Hallucination guards: Whisper invents text on silence, noise and music; these checks drop it.

VAD gating keeps most non-speech from reaching Whisper at all; what still gets through is caught by
Whisper's own confidence scores, a repetition-loop check, and a list of phrases Whisper is known to
produce from nothing (subtitle credits of its training data, see faster-whisper issues #506, #850).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from asr.base import Transcription

# Normalized (NFKC, lower-case, no punctuation or spaces) phrases Whisper emits on non-speech.
BROADCAST_PHRASES: frozenset[str] = frozenset(
    {
        "ご視聴ありがとうございました",
        "ご視聴ありがとうございます",
        "最後までご視聴ありがとうございました",
        "ご清聴ありがとうございました",
        "チャンネル登録お願いします",
        "チャンネル登録よろしくお願いします",
        "おやすみなさい",
        "字幕視聴ありがとうございました",
        "thanksforwatching",
        "thankyouforwatching",
        "thankyouforwatchingandseeyounexttime",
        "pleasesubscribe",
        "subtitlesbytheamaraorgcommunity",
        "thankyou",
        "you",
        "bye",
    }
)
_ANNOTATION = re.compile(r"[\[(（【♪][^\])）】♪]{0,30}[\])）】♪]|[♪♫]")
_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)
_LOOP = re.compile(r"(.{1,20}?)(?:\s*[、。,.!?！？]?\s*\1){3,}", re.DOTALL)


@dataclass(frozen=True, slots=True)
class GuardThresholds:
    """Defaults follow Whisper's own fallback thresholds, tightened a little for telephone speech."""

    no_speech_prob: float = 0.6
    no_speech_logprob: float = -0.8
    min_avg_logprob: float = -1.2
    max_compression_ratio: float = 2.4
    loop_no_speech_prob: float = 0.5
    loop_min_speech_ratio: float = 0.5
    phrase_min_speech_ratio: float = 0.8
    phrase_min_logprob: float = -0.35


def normalize(text: str) -> str:
    """NFKC, lower case, punctuation and spaces removed: the form phrases are compared in."""
    return _NOT_WORD.sub("", unicodedata.normalize("NFKC", text).lower())


def collapse_loops(text: str) -> str:
    """A unit repeated four or more times in a row is a decoding loop: keep one copy.

    ``clean_text`` drops a looped decode outright when the audio looks like non-speech, and keeps the
    collapsed text otherwise (「はい、はい、はい、はい」 is real).
    """
    return _LOOP.sub(r"\1", text)


def clean_text(tr: Transcription, *, speech_ratio: float, limits: GuardThresholds | None = None) -> str:
    """The utterance text worth showing, or ``""`` when the decode looks invented.

    ``speech_ratio`` is the share of the utterance's VAD windows above threshold: a broadcast phrase
    survives only when the audio clearly held speech and Whisper was confident.
    """
    lim = limits or GuardThresholds()
    text = _ANNOTATION.sub("", tr.text).strip()
    if not normalize(text):
        return ""
    if tr.no_speech_prob > lim.no_speech_prob and tr.avg_logprob < lim.no_speech_logprob:
        return ""
    if tr.avg_logprob < lim.min_avg_logprob:
        return ""
    collapsed = collapse_loops(text)
    if collapsed != text:
        looped = len(normalize(collapsed)) * 2 < len(normalize(text))
        if tr.no_speech_prob > lim.loop_no_speech_prob or speech_ratio < lim.loop_min_speech_ratio or (
            looped and tr.compression_ratio > lim.max_compression_ratio
        ):
            return ""
        text = collapsed
    if normalize(text) in BROADCAST_PHRASES and not (
        speech_ratio >= lim.phrase_min_speech_ratio and tr.avg_logprob >= lim.phrase_min_logprob
    ):
        return ""
    return text
