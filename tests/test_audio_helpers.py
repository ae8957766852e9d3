"""asr/audio.py's helpers: PCM16 both ways, WAV files in and out, resampling to the working rate."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from asr.audio import (
    SAMPLE_RATE,
    AudioFormatError,
    decode_pcm16,
    encode_pcm16,
    read_wav,
    resample,
    write_wav,
)


def tone(freq: float, rate: int, seconds: float, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def peak_hz(x: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x))
    return float(np.fft.rfftfreq(len(x), 1 / rate)[int(np.argmax(spectrum))])


def test_sample_rate_is_whispers() -> None:
    assert SAMPLE_RATE == 16000


def test_pcm16_known_values_nearest_and_truncated() -> None:
    x = np.array([0.0, 0.5, -0.5, 1.0, -1.0, 1.5, -2.0, 0.99999], np.float32)
    nearest = np.frombuffer(encode_pcm16(x), "<i2").tolist()
    truncated = np.frombuffer(encode_pcm16(x, truncate=True), "<i2").tolist()
    assert nearest == [0, 16384, -16384, 32767, -32767, 32767, -32768, 32767]
    assert truncated == [0, 16383, -16383, 32767, -32767, 32767, -32767, 32766]
    assert decode_pcm16(np.array([0, 16384, -32768, 32767], "<i2").tobytes()).tolist() == [
        0.0, 0.5, -1.0, 32767 / 32768]


def test_pcm16_round_trip_is_within_half_a_step() -> None:
    x = np.random.default_rng(3).uniform(-1.0, 1.0, 10_000).astype(np.float32)
    back = decode_pcm16(encode_pcm16(x))
    assert back.dtype == np.float32 and back.shape == x.shape
    # half a step of rounding, plus the 32767-up / 32768-down scale difference (at most one step at full scale)
    assert float(np.max(np.abs(back - x))) <= 1.5 / 32768
    assert float(np.max(np.abs(decode_pcm16(encode_pcm16(x, truncate=True)) - x))) <= 2 / 32768


def test_decode_accepts_samples_on_the_int16_scale() -> None:
    """A TTS engine's float64 output in int16 units decodes exactly like the same samples as bytes."""
    ints = np.array([-32768, -1, 0, 1, 12345, 32767], np.int16)
    assert decode_pcm16(ints.astype(np.float64)).tolist() == decode_pcm16(ints.tobytes()).tolist()
    assert decode_pcm16(ints.astype(np.float64)).dtype == np.float32


def test_resample_keeps_duration_and_pitch() -> None:
    x8 = tone(500, 8000, 1.0)
    y = resample(x8, 8000)
    assert y.dtype == np.float32 and abs(len(y) - SAMPLE_RATE) <= 2
    assert peak_hz(y, SAMPLE_RATE) == pytest.approx(500, abs=2)
    same = tone(300, SAMPLE_RATE, 0.1)
    assert resample(same, SAMPLE_RATE) is same  # nothing to do at the working rate


def test_wav_write_read_round_trip_at_16k(tmp_path: Path) -> None:
    x = tone(440, SAMPLE_RATE, 0.5)
    path = tmp_path / "sub" / "dir" / "a.wav"  # parents are created
    write_wav(path, x)
    with wave.open(str(path), "rb") as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes()) == (16000, 1, 2, len(x))
    y = read_wav(path, strict=True)
    assert y.dtype == np.float32 and y.tolist() == decode_pcm16(encode_pcm16(x)).tolist()


def test_wav_at_8k_is_resampled_on_read_and_refused_when_strict(tmp_path: Path) -> None:
    path = tmp_path / "phone.wav"
    write_wav(path, tone(700, 8000, 0.5, amp=0.3), rate=8000)
    y = read_wav(path)
    assert abs(len(y) - SAMPLE_RATE // 2) <= 2
    assert peak_hz(y, SAMPLE_RATE) == pytest.approx(700, abs=3)
    assert float(np.max(np.abs(y[200:-200]))) == pytest.approx(0.3, abs=0.02)
    with pytest.raises(AudioFormatError) as err:
        read_wav(path, strict=True)
    assert err.value.code == "unsupported_wav" and "expected 16 kHz mono PCM16" in err.value.message


def test_stereo_wav_keeps_or_mixes_its_channels(tmp_path: Path) -> None:
    left, right = tone(300, SAMPLE_RATE, 0.25), tone(1200, SAMPLE_RATE, 0.25, amp=0.2)
    path = tmp_path / "stereo.wav"
    write_wav(path, np.stack([left, right], axis=1))
    both = read_wav(path, mono=False)
    assert both.shape == (len(left), 2)
    assert peak_hz(both[:, 0], SAMPLE_RATE) == pytest.approx(300, abs=5)
    assert peak_hz(both[:, 1], SAMPLE_RATE) == pytest.approx(1200, abs=5)
    np.testing.assert_allclose(read_wav(path), both.mean(axis=1), atol=1e-7)
    with pytest.raises(AudioFormatError):
        read_wav(path, strict=True)


def test_8_bit_wav_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "u8.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(1)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(bytes(160))
    with pytest.raises(AudioFormatError, match="only 16-bit PCM"):
        read_wav(path)
