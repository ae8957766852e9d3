"""AudioDecoder: encodings, rates, stereo split, and frames split at awkward byte offsets."""

from __future__ import annotations

import numpy as np
import pytest

from asr.audio import MULAW_TABLE, AudioDecoder, AudioFormatError


def tone(freq: float, sr: int, seconds: float, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def pcm16(x: np.ndarray) -> bytes:
    return (np.clip(x, -1, 1) * 32767).astype("<i2").tobytes()


def mulaw_encode(x: np.ndarray) -> bytes:
    """Nearest μ-law code for each sample (inverse of the decode table)."""
    order = np.argsort(MULAW_TABLE)
    idx = np.clip(np.searchsorted(MULAW_TABLE[order], x), 1, 255)
    lo, hi = order[idx - 1], order[idx]
    pick = np.where(np.abs(MULAW_TABLE[lo] - x) <= np.abs(MULAW_TABLE[hi] - x), lo, hi)
    return pick.astype(np.uint8).tobytes()


def feed_in_pieces(dec: AudioDecoder, data: bytes, sizes: list[int]) -> list[np.ndarray]:
    out: list[list[np.ndarray]] = [[] for _ in range(dec.channels)]
    pos, i = 0, 0
    while pos < len(data):
        n = sizes[i % len(sizes)]
        for ch, arr in enumerate(dec.feed(data[pos : pos + n])):
            out[ch].append(arr)
        pos += n
        i += 1
    for ch, arr in enumerate(dec.flush()):
        out[ch].append(arr)
    return [np.concatenate(o) for o in out]


def test_pcm16_16k_odd_splits_lose_nothing() -> None:
    x = tone(440, 16000, 0.5)
    data = pcm16(x)
    (y,) = feed_in_pieces(AudioDecoder("pcm16", 16000, 1), data, [1, 333, 7, 640, 3])
    assert len(y) == len(x)
    np.testing.assert_allclose(y, np.frombuffer(data, "<i2") / 32768.0, atol=1e-6)


def test_stereo_interleaved_split_into_customer_and_agent() -> None:
    a, b = tone(300, 16000, 0.2), tone(1000, 16000, 0.2, amp=0.25)
    inter = np.stack([a, b], axis=1).reshape(-1)
    left, right = feed_in_pieces(AudioDecoder("pcm16", 16000, 2), pcm16(inter), [5, 161, 2, 1000])
    assert len(left) == len(right) == len(a)
    np.testing.assert_allclose(left, a, atol=1e-4)
    np.testing.assert_allclose(right, b, atol=1e-4)


def test_mulaw_table_known_values() -> None:
    assert MULAW_TABLE[0xFF] == 0.0 and MULAW_TABLE[0x7F] == 0.0
    assert MULAW_TABLE[0x00] == pytest.approx(-32124 / 32768)
    assert MULAW_TABLE[0x80] == pytest.approx(32124 / 32768)


def test_mulaw_8k_resampled_to_16k_seamlessly() -> None:
    x = tone(500, 8000, 1.0, amp=0.4)
    y_pieces = feed_in_pieces(AudioDecoder("mulaw", 8000, 1), mulaw_encode(x), [160, 1, 79, 1600])[0]
    y_whole = feed_in_pieces(AudioDecoder("mulaw", 8000, 1), mulaw_encode(x), [8000])[0]
    assert abs(len(y_pieces) - 16000) <= 2
    np.testing.assert_allclose(y_pieces, y_whole, atol=1e-5)  # frame edges leave no trace
    ref = tone(500, 16000, 1.0, amp=0.4)
    core = slice(400, 15600)
    assert np.corrcoef(y_pieces[core], ref[core])[0, 1] > 0.99


def test_stereo_mulaw_8k() -> None:
    a, b = tone(400, 8000, 0.5, 0.3), tone(900, 8000, 0.5, 0.3)
    inter = np.stack([a, b], axis=1).reshape(-1)
    left, right = feed_in_pieces(AudioDecoder("mulaw", 8000, 2), mulaw_encode(inter), [3, 320])
    assert abs(len(left) - 8000) <= 2 and len(left) == len(right)
    spec_l, spec_r = np.abs(np.fft.rfft(left)), np.abs(np.fft.rfft(right))
    freqs = np.fft.rfftfreq(len(left), 1 / 16000)
    assert abs(freqs[spec_l.argmax()] - 400) < 5 and abs(freqs[spec_r.argmax()] - 900) < 5


def test_dangling_byte_carried_over() -> None:
    dec = AudioDecoder("pcm16", 16000, 1)
    (first,) = dec.feed(b"\x01")
    assert first.size == 0
    (second,) = dec.feed(b"\x40")
    assert second.tolist() == [pytest.approx(0x4001 / 32768)]


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("opus", 16000, 1), "unsupported_encoding"),
        (("pcm16", 44100, 1), "unsupported_sample_rate"),
        (("pcm16", 16000, 3), "unsupported_channels"),
    ],
)
def test_bad_format_rejected_with_code(args: tuple, code: str) -> None:
    with pytest.raises(AudioFormatError) as err:
        AudioDecoder(*args)
    assert err.value.code == code and err.value.message


def test_bad_frames_rejected_and_stream_survives() -> None:
    dec = AudioDecoder("pcm16", 8000, 1, max_frame_ms=200)
    with pytest.raises(AudioFormatError) as err:
        dec.feed(b"\x00" * 3202)
    assert err.value.code == "frame_too_large"
    with pytest.raises(AudioFormatError) as err:
        dec.feed("text")  # type: ignore[arg-type]
    assert err.value.code == "invalid_frame"
    (y,) = dec.feed(pcm16(tone(300, 8000, 0.2)))  # still usable after rejected frames
    assert y.size > 0
    dec.flush()
    with pytest.raises(AudioFormatError) as err:
        dec.feed(b"\x00\x00")
    assert err.value.code == "stream_closed"
