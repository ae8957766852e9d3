"""Streaming Silero VAD (the ONNX model faster-whisper ships), one state per call leg.

faster-whisper's ``get_speech_timestamps`` re-reads a whole buffer; live audio needs the model run
once per 512-sample window with its LSTM state (h, c) and 64-sample context carried between frames.
The ONNX graph takes a sequence of windows, so each incoming frame is one ``session.run``.
"""

from __future__ import annotations

import threading

import numpy as np
from faster_whisper.vad import SileroVADModel, get_vad_model

WINDOW = 512  # samples at 16 kHz = 32 ms
CONTEXT = 64

_shared: SileroVADModel | None = None
_shared_lock = threading.Lock()


def shared_vad_model() -> SileroVADModel:
    """One ONNX session for the process: ``run`` is thread-safe and the state lives in ``StreamingVad``."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = get_vad_model()
        return _shared


class StreamingVad:
    """Speech probability per 32 ms window of one continuous stream; leftover samples wait for more."""

    def __init__(self, model: SileroVADModel | None = None) -> None:
        self._session = (model or shared_vad_model()).session
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(CONTEXT, dtype=np.float32)
        self._rest = np.zeros(0, dtype=np.float32)
        self.windows = 0  # windows scored so far; window i covers samples [i*512, (i+1)*512)

    def process(self, samples: np.ndarray) -> np.ndarray:
        """Score every complete window in ``samples`` (plus what was left over); returns their probabilities."""
        buf = np.concatenate([self._rest, samples.astype(np.float32, copy=False)]) if self._rest.size else samples
        n = len(buf) // WINDOW
        self._rest = np.array(buf[n * WINDOW :], dtype=np.float32)
        if n == 0:
            return np.zeros(0, dtype=np.float32)
        windows = np.asarray(buf[: n * WINDOW], dtype=np.float32).reshape(n, WINDOW)
        contexts = np.empty((n, CONTEXT), dtype=np.float32)
        contexts[0] = self._context
        contexts[1:] = windows[:-1, -CONTEXT:]
        self._context = windows[-1, -CONTEXT:].copy()
        probs, self._h, self._c = self._session.run(
            None, {"input": np.concatenate([contexts, windows], axis=1), "h": self._h, "c": self._c}
        )
        self.windows += n
        return np.asarray(probs, dtype=np.float32).reshape(-1)
