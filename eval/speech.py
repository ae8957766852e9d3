"""Test speech for call replays: Japanese with pyopenjtalk-plus, English with espeak-ng (the ``tts`` extra).

Both are deterministic and offline. Each speaker gets its own pitch/tempo so the two legs of a call sound
like two people; silences are trimmed so replays (and the committed dev set) stay short.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from asr.audio import SAMPLE_RATE, decode_pcm16, read_wav, resample

_THRESHOLD = 0.01

# pyopenjtalk ships one voice: pitch and tempo tell the legs apart.
_JA_VOICES: dict[str, dict[str, float]] = {
    "agent": {"half_tone": 1.0, "speed": 1.15},
    "customer": {"half_tone": -3.0, "speed": 1.2},
}
_EN_VOICES: dict[str, list[str]] = {
    "agent": ["-v", "en-us+f3", "-s", "170"],
    "customer": ["-v", "en-us", "-s", "165"],
}


class SpeechUnavailableError(RuntimeError):
    """The synthesizer for a language is not installed (``pip install -e '.[tts]'``, ``apt install espeak-ng``)."""


def synthesize(text: str, language: str, speaker: str = "customer") -> np.ndarray:
    """One turn as trimmed 16 kHz mono float32."""
    raw = _tts_ja(text, speaker) if language == "ja" else _tts_en(text, speaker)
    return trim(raw)


def _tts_ja(text: str, speaker: str) -> np.ndarray:
    try:
        import pyopenjtalk
    except ImportError as exc:
        raise SpeechUnavailableError("Japanese speech needs pyopenjtalk-plus (the `tts` extra)") from exc
    voice = _JA_VOICES.get(speaker, _JA_VOICES["customer"])
    wav, sr = pyopenjtalk.tts(text, half_tone=voice["half_tone"], speed=voice["speed"])
    return resample(decode_pcm16(np.asarray(wav)), sr)


def _tts_en(text: str, speaker: str) -> np.ndarray:
    binary = shutil.which("espeak-ng")
    if binary is None:
        raise SpeechUnavailableError("English speech needs espeak-ng (apt-get install espeak-ng)")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "en.wav"
        voice = _EN_VOICES.get(speaker, _EN_VOICES["customer"])
        subprocess.run([binary, *voice, "-w", str(out), text], check=True, capture_output=True)
        return read_wav(out)


def speech_span(x: np.ndarray, threshold: float = _THRESHOLD) -> tuple[float, float]:
    """(first, last) second with sound above ``threshold``; (0, 0) for silence."""
    loud = np.flatnonzero(np.abs(x) > threshold)
    if loud.size == 0:
        return 0.0, 0.0
    return loud[0] / SAMPLE_RATE, (loud[-1] + 1) / SAMPLE_RATE


def trim(x: np.ndarray, pad_s: float = 0.1) -> np.ndarray:
    """Cut leading/trailing silence down to ``pad_s`` and normalize the peak to 0.7."""
    start, end = speech_span(x)
    if end <= start:
        return x.astype(np.float32)
    pad = int(pad_s * SAMPLE_RATE)
    core = x[max(0, int(start * SAMPLE_RATE) - pad) : min(len(x), int(end * SAMPLE_RATE) + pad)]
    peak = float(np.max(np.abs(core))) or 1.0
    return (core * (0.7 / peak)).astype(np.float32)

