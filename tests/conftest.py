"""Shared fixtures: one model cache for the whole run (the README's bootstrap prepares it)."""

from __future__ import annotations

import os
import wave
from pathlib import Path

import numpy as np
import pytest

from models import ModelRegistry, enforce_offline
from models.offline import _OFFLINE_VARS

enforce_offline()
# Tests about calls, retrieval or notes run the app open; tests/test_auth_*.py opt in with auth={"mode": "keys"}.
os.environ.setdefault("ASSIST_AUTH__MODE", "open")
# Starlette's TestClient sends `Host: testserver`; open mode serves loopback hosts only (assist/origin_guard.py).
os.environ.setdefault("ASSIST_SECURITY__ALLOWED_HOSTS", '["testserver"]')
FIXTURES = Path(__file__).parent / "fixtures"


def read_wav(path: Path) -> np.ndarray:
    """16 kHz mono PCM16 WAV -> float32 in [-1, 1]."""
    with wave.open(str(path), "rb") as w:
        assert w.getframerate() == 16000 and w.getnchannels() == 1 and w.getsampwidth() == 2
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0


@pytest.fixture(scope="session")
def assist_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = os.environ.get("ASSIST_HOME")
    return Path(home).expanduser() if home else Path.home() / ".cache" / "agent-assist"


@pytest.fixture(scope="session")
def registry(assist_home: Path) -> ModelRegistry:
    assert all(os.environ.get(v) == "1" for v in _OFFLINE_VARS)
    return ModelRegistry(assist_home / "models")


@pytest.fixture(scope="session")
def whisper_path(registry: ModelRegistry) -> Path:
    return registry.prepare("whisper-base")


@pytest.fixture(scope="session")
def e5_path(registry: ModelRegistry) -> Path:
    return registry.prepare("e5-small")
