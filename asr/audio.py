"""Telephony audio in: PCM16 LE or G.711 μ-law, 8/16 kHz, mono or 2-channel interleaved -> 16 kHz float32.

Frames may split a sample (or a stereo frame) anywhere: the dangling bytes wait for the next frame
instead of being dropped, and one streaming soxr resampler per channel keeps frame edges seamless.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import soxr

from asr.base import SAMPLE_RATE

Encoding = Literal["pcm16", "mulaw"]
ENCODINGS: tuple[str, ...] = ("pcm16", "mulaw")
SAMPLE_RATES: tuple[int, ...] = (8000, 16000)
CHANNELS: tuple[int, ...] = (1, 2)


class AudioFormatError(ValueError):
    """Bad audio description or frame; ``code`` is machine-readable, the message is for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _mulaw_table() -> np.ndarray:
    """G.711 μ-law byte -> linear sample, scaled to [-1, 1)."""
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent = (u >> 4) & 0x07
    mantissa = u & 0x0F
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return (np.where(u & 0x80, -magnitude, magnitude) / 32768.0).astype(np.float32)


MULAW_TABLE = _mulaw_table()


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
            samples = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
        else:
            samples = MULAW_TABLE[np.frombuffer(raw, dtype=np.uint8)]
        per_channel = [samples[ch :: self.channels] for ch in range(self.channels)]
        if self._resamplers is None:
            return [np.ascontiguousarray(x) for x in per_channel]
        return [rs.resample_chunk(x, last=last) for rs, x in zip(self._resamplers, per_channel, strict=True)]
