"""Audio in one place: the working sample rate, PCM16 <-> float32, WAV files, and telephony frames.

Every stage works on 16 kHz mono float32 in [-1, 1) (Whisper's and Silero's input). Live audio arrives as
PCM16 LE or G.711 μ-law, 8/16 kHz, mono or 2-channel interleaved; ``AudioDecoder`` turns it into that.
Frames may split a sample (or a stereo frame) anywhere: the dangling bytes wait for the next frame
instead of being dropped, and one streaming soxr resampler per channel keeps frame edges seamless.
Recordings (fixtures, eval sets, replays) go through ``read_wav`` / ``write_wav``.
"""

from __future__ import annotations

import wave
from pathlib import Path
from typing import Final, Literal

import numpy as np
import soxr

from common.errors import CodedError

SAMPLE_RATE: Final = 16_000
Encoding = Literal["pcm16", "mulaw"]
ENCODINGS: tuple[str, ...] = ("pcm16", "mulaw")
SAMPLE_RATES: tuple[int, ...] = (8000, SAMPLE_RATE)
CHANNELS: tuple[int, ...] = (1, 2)


class AudioFormatError(CodedError, ValueError):
    """Bad audio description or frame; ``code`` is machine-readable, the message is for people."""


def _mulaw_table() -> np.ndarray:
    """G.711 μ-law byte -> linear sample, scaled to [-1, 1)."""
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent = (u >> 4) & 0x07
    mantissa = u & 0x0F
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return (np.where(u & 0x80, -magnitude, magnitude) / 32768.0).astype(np.float32)


MULAW_TABLE = _mulaw_table()


def decode_pcm16(pcm: bytes | np.ndarray) -> np.ndarray:
    """PCM16 LE bytes, or samples on the int16 scale (a TTS engine's output), -> float32 in [-1, 1)."""
    if isinstance(pcm, np.ndarray):
        return np.asarray(pcm, np.float32) / 32768.0
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0


def encode_pcm16(samples: np.ndarray, *, truncate: bool = False) -> bytes:
    """float32 -> PCM16 LE bytes, rounded to the nearest step. ``truncate`` rounds toward zero instead: the
    conversion the committed fixtures, the ASR eval set and the live replays were made and measured with,
    kept so they reproduce byte for byte."""
    if truncate:
        pcm = np.clip(samples, -1.0, 1.0) * 32767.0
    else:
        pcm = np.clip(np.round(samples * 32767.0), -32768, 32767)
    return pcm.astype("<i2").tobytes()


def resample(samples: np.ndarray, rate: int) -> np.ndarray:
    """Samples at ``rate`` (1-D, or [n, channels]) -> float32 at ``SAMPLE_RATE`` (soxr, high quality)."""
    samples = np.asarray(samples, np.float32)
    return samples if rate == SAMPLE_RATE else soxr.resample(samples, rate, SAMPLE_RATE).astype(np.float32)


def read_wav(path: Path | str, *, mono: bool = True, strict: bool = False) -> np.ndarray:
    """A PCM16 WAV as float32 at ``SAMPLE_RATE``. ``mono`` averages the channels (before resampling);
    otherwise a multi-channel file comes back as [n, channels]. ``strict`` refuses anything but 16 kHz mono:
    measured audio (eval sets, test fixtures) must never pass through a resampler unnoticed."""
    with wave.open(str(path), "rb") as w:
        width, channels, rate = w.getsampwidth(), w.getnchannels(), w.getframerate()
        if width != 2:
            raise AudioFormatError("unsupported_wav", f"{path}: only 16-bit PCM WAV is supported")
        if strict and (rate, channels) != (SAMPLE_RATE, 1):
            raise AudioFormatError("unsupported_wav", f"{path}: expected 16 kHz mono PCM16")
        samples = decode_pcm16(w.readframes(w.getnframes()))
    if channels > 1:
        samples = samples.reshape(-1, channels)
        if mono:
            samples = samples.mean(axis=1)
    return resample(samples, rate)


def write_wav(path: Path | str, samples: np.ndarray, *, rate: int = SAMPLE_RATE, truncate: bool = False) -> None:
    """float32 samples (1-D, or [n, channels]) -> a PCM16 WAV at ``rate``; parent folders are created.
    ``truncate``: see ``encode_pcm16``."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1 if samples.ndim == 1 else samples.shape[1])
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(encode_pcm16(samples, truncate=truncate))


class AudioDecoder:
    """Stateful decoder for one audio stream; ``feed`` returns one 16 kHz float32 array per channel."""

    def __init__(
        self,
        encoding: Encoding,
        sample_rate: Literal[8000, 16000],
        channels: Literal[1, 2] = 1,
        *,
        max_frame_ms: int = 1000,
    ) -> None:
        if encoding not in ENCODINGS:
            raise AudioFormatError("unsupported_encoding", f"encoding must be one of {ENCODINGS}, got {encoding!r}")
        if sample_rate not in SAMPLE_RATES:
            raise AudioFormatError(
                "unsupported_sample_rate", f"sample_rate must be one of {SAMPLE_RATES}, got {sample_rate!r}"
            )
        if channels not in CHANNELS:
            raise AudioFormatError("unsupported_channels", f"channels must be one of {CHANNELS}, got {channels!r}")
        self.encoding = encoding
        self.sample_rate = sample_rate
        self.channels = channels
        self.bytes_per_frame = (2 if encoding == "pcm16" else 1) * channels
        self.max_frame_bytes = self.bytes_per_frame * sample_rate * max_frame_ms // 1000
        self._pending = b""
        self._resamplers = (
            [soxr.ResampleStream(sample_rate, SAMPLE_RATE, 1, dtype="float32") for _ in range(channels)]
            if sample_rate != SAMPLE_RATE
            else None
        )
        self._flushed = False

    def feed(self, data: bytes | bytearray | memoryview) -> list[np.ndarray]:
        """Decode one frame; a trailing partial sample is kept for the next call."""
        if self._flushed:
            raise AudioFormatError("stream_closed", "audio arrived after the stream was flushed")
        if not isinstance(data, bytes | bytearray | memoryview):
            raise AudioFormatError("invalid_frame", f"audio frames must be bytes, got {type(data).__name__}")
        if len(data) > self.max_frame_bytes:
            raise AudioFormatError(
                "frame_too_large", f"frame of {len(data)} bytes exceeds the limit of {self.max_frame_bytes} bytes"
            )
        buf = self._pending + bytes(data)
        usable = len(buf) - len(buf) % self.bytes_per_frame
        self._pending = buf[usable:]
        return self._convert(buf[:usable], last=False)

    def flush(self) -> list[np.ndarray]:
        """End of stream: drain the resamplers; an incomplete trailing sample is discarded (it has no value)."""
        if self._flushed:
            return [np.zeros(0, np.float32) for _ in range(self.channels)]
        self._flushed = True
        self._pending = b""
        return self._convert(b"", last=True)

    def _convert(self, raw: bytes, *, last: bool) -> list[np.ndarray]:
        if self.encoding == "pcm16":
            samples = decode_pcm16(raw)
        else:
            samples = MULAW_TABLE[np.frombuffer(raw, dtype=np.uint8)]
        per_channel = [samples[ch :: self.channels] for ch in range(self.channels)]
        if self._resamplers is None:
            return [np.ascontiguousarray(x) for x in per_channel]
        return [rs.resample_chunk(x, last=last) for rs, x in zip(self._resamplers, per_channel, strict=True)]
