"""Process-wide services: the model registry and the models it loads, shared by all calls."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from assist.config import Settings
from models import ModelRegistry

log = logging.getLogger(__name__)


class Services:
    """Owns every loaded model; ``load`` runs in a worker thread at start-up."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.registry = ModelRegistry(settings.models_dir)
        self._lock = threading.Lock()
        self._ready = False
        self._error: str | None = None
        self._loaded: dict[str, float] = {}

    def load(self) -> None:
        with self._lock:
            if self._ready:
                return
            try:
                for ref in (self.settings.asr.model, self.settings.retrieval.embedder):
                    started = time.perf_counter()
                    self.registry.resolve(ref, allow_downloads=self.settings.allow_downloads)
                    self._loaded[ref] = round(time.perf_counter() - started, 3)
                self._ready = True
                log.info("models ready: %s", self._loaded)
            except Exception as exc:  # readiness reports it; the process stays up for /healthz
                self._error = f"{type(exc).__name__}: {exc}"
                log.exception("model loading failed")

    def readiness(self) -> dict[str, Any]:
        return {"ready": self._ready, "loaded": dict(self._loaded), "error": self._error}

    def close(self) -> None:
        """Release workers and files; safe to call twice."""
