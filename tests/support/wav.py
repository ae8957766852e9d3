"""The recorded fixtures directory and a WAV reader for tests that feed real speech to the models."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from asr import audio

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def read_wav(path: Path) -> np.ndarray:
    """A recorded 16 kHz mono PCM16 WAV -> float32 in [-1, 1); any other format fails (nothing is resampled)."""
    return audio.read_wav(path, strict=True)
