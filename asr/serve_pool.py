"""The shared recognition pool: a Ray Serve deployment around the in-process recognizer (``WhisperRecognizer``).

Workers (``asr.pool.RemoteRecognizer``) post each final with its leg's previous utterance; a replica gathers
finals from every worker with ``@serve.batch`` (up to ``asr.pool_batch_size``, waiting at most
``asr.pool_batch_wait_s``) and decodes each batch's same-language finals with one ``transcribe_finals`` call,
the same code, and so the same text, as in-process decoding. The batches that close while the model is decoding
wait at it and are decoded together when it is free (``gpu.serving``, up to ``asr.pool_batch_size`` finals): a
busy replica batches what arrived meanwhile instead of decoding it one final at a time. Partials are decoded one by one beside the batches
(they are dropped when stale, so a batch wait would only age them). Replicas scale out by ``asr.pool_replicas``,
each with ``asr.pool_cpus_per_replica`` / ``asr.pool_gpus_per_replica``.

Only the pool side imports this module (it imports ``ray``, the optional ``scale`` extra); workers import
``asr.pool``. ``python -m assist.asr_pool`` serves it (docs/SCALING.md).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
from ray import serve
from ray.serve.handle import DeploymentHandle
from starlette.requests import Request
from starlette.responses import JSONResponse

from asr.base import ContextRecognizer, FinalContext, PartialRecognizer, Recognizer, Transcription
from asr.pool import PoolError, decode_request, transcription_to_dict
from common.errors import CodedError
from config import AsrSettings
from gpu.serving import QUEUED_BATCHES, MergingQueue, deployment_options

log = logging.getLogger(__name__)

APP_NAME = "asr"
DEPLOYMENT_NAME = "recognizer_pool"


@dataclass(frozen=True, slots=True)
class FinalRequest:
    """One final as the batch handler sees it; finals batch together when the three decode options match."""

    audio: np.ndarray
    context: FinalContext | None
    language: str | None
    beam_size: int
    prompt: str | None


class RecognizerPool:
    """One replica: one recognizer, one batch queue of finals; records the size of every batch it decodes."""

    def __init__(self, factory: Callable[[], Recognizer], batch_size: int, batch_wait_s: float) -> None:
        """``factory`` builds the recognizer on the replica (it is pickled to it: the model is not)."""
        self.recognizer = factory()
        batcher: Any = self.decode_final  # @serve.batch's setters are not in its type
        batcher.set_max_batch_size(batch_size)
        batcher.set_batch_wait_timeout_s(batch_wait_s)
        self.batch_sizes: Counter[int] = Counter()
        self.partials = 0
        self._model: MergingQueue[FinalRequest, tuple[Transcription | PoolError, int]] = MergingQueue(
            batch_size, self._decode_merged)

    async def __call__(self, request: Request) -> JSONResponse:
        """Routes under the app's prefix: ``POST finals``, ``POST partial``, ``GET stats``, ``GET tokenizer``."""
        route = request.url.path.rstrip("/").rsplit("/", 1)[-1]
        try:
            if request.method == "POST" and route in ("finals", "partial"):
                header, arrays = decode_request(await request.body())
                if route == "finals":
                    return JSONResponse({"results": await self._finals(header, arrays)})
                return JSONResponse({"results": [await self._partial(header, arrays)]})
            if request.method == "GET" and route == "stats":
                return JSONResponse(self.stats())
            if request.method == "GET" and route == "tokenizer":
                return JSONResponse({"tokenizer": self._tokenizer_spec()})
            raise PoolError("asr_pool_not_found", f"no pool route {request.method} {route!r}")
        except CodedError as exc:
            status = 404 if exc.code == "asr_pool_not_found" else 400 if exc.code == "asr_pool_bad_request" else 500
            return JSONResponse(exc.body(), status_code=status)

    def stats(self) -> dict[str, Any]:
        """This replica's counters; ``batch_size_max`` is what ``eval cluster`` reports."""
        return {"batches": sum(self.batch_sizes.values()),
                "finals": sum(size * n for size, n in self.batch_sizes.items()),
                "partials": self.partials,
                "batch_size_max": max(self.batch_sizes, default=0),
                "batch_sizes": {str(k): v for k, v in sorted(self.batch_sizes.items())}}

    @serve.batch(max_batch_size=8, batch_wait_timeout_s=0.02, max_concurrent_batches=QUEUED_BATCHES)
    async def decode_final(self, requests: list[FinalRequest]) -> list[tuple[Transcription | PoolError, int]]:
        """Every final that arrived within the wait, from any worker, and those of the batches that closed while
        the model was busy: one decode per set of decode options."""
        return await self._model.submit(requests)

    async def _decode_merged(self, requests: list[FinalRequest]) -> list[tuple[Transcription | PoolError, int]]:
        size = len(requests)
        self.batch_sizes[size] += 1
        groups: dict[tuple[str | None, int, str | None], list[int]] = {}
        for i, r in enumerate(requests):
            groups.setdefault((r.language, r.beam_size, r.prompt), []).append(i)
        decoded: dict[int, Transcription | PoolError] = {}
        for (language, beam_size, prompt), members in groups.items():
            batch = [requests[i] for i in members]
            results: list[Transcription | PoolError]
            try:
                results = list(await asyncio.to_thread(self._decode_finals, batch, language, beam_size, prompt))
            except Exception as exc:  # every caller of this group gets the coded error, the others their text
                log.exception("pool decode of %d finals failed", len(batch))
                err = PoolError("asr_pool_decode_failed", f"decoding {len(batch)} finals failed: "
                                f"{type(exc).__name__}: {exc}")
                results = [err] * len(batch)
            decoded.update(zip(members, results, strict=True))
        return [(decoded[i], size) for i in range(size)]

    # ---- internals ---------------------------------------------------------------------------------
    async def _finals(self, header: dict[str, Any], arrays: list[np.ndarray]) -> list[dict[str, Any]]:
        texts = header.get("context_texts") or []
        if len(arrays) != 2 * len(texts):
            raise PoolError("asr_pool_bad_request", f"{len(arrays)} arrays for {len(texts)} finals")
        requests = [FinalRequest(audio=arrays[2 * i],
                                 context=None if text is None else FinalContext(arrays[2 * i + 1], str(text)),
                                 language=header.get("language"), beam_size=int(header.get("beam_size", 5)),
                                 prompt=header.get("prompt"))
                    for i, text in enumerate(texts)]
        decoded = await asyncio.gather(*(self.decode_final(r) for r in requests))
        failed = [tr for tr, _ in decoded if isinstance(tr, PoolError)]
        if failed:
            raise failed[0]
        return [{**transcription_to_dict(tr), "batch_size": size} for tr, size in decoded
                if isinstance(tr, Transcription)]

    def _decode_finals(self, batch: list[FinalRequest], language: str | None, beam_size: int,
                       prompt: str | None) -> list[Transcription]:
        rec = self.recognizer
        audios = [r.audio for r in batch]
        if isinstance(rec, ContextRecognizer):
            return rec.transcribe_finals(audios, language=language, beam_size=beam_size, prompt=prompt,
                                         contexts=[r.context for r in batch])
        return [rec.transcribe(a, language=language, beam_size=beam_size, prompt=prompt) for a in audios]

    async def _partial(self, header: dict[str, Any], arrays: list[np.ndarray]) -> dict[str, Any]:
        if len(arrays) != 1:
            raise PoolError("asr_pool_bad_request", f"a partial is one array, got {len(arrays)}")
        rec = self.recognizer
        decode = rec.transcribe_partial if isinstance(rec, PartialRecognizer) else rec.transcribe
        try:
            tr = await asyncio.to_thread(decode, arrays[0], language=header.get("language"),
                                         beam_size=int(header.get("beam_size", 1)))
        except Exception as exc:
            log.exception("pool decode of a partial failed")
            raise PoolError("asr_pool_decode_failed", f"decoding a partial failed: {type(exc).__name__}: {exc}") \
                from exc
        self.partials += 1
        return transcription_to_dict(tr)

    def _tokenizer_spec(self) -> str | None:
        """The model's tokenizer as JSON, for the workers' glossary budget (``RemoteRecognizer.count_tokens``)."""
        model = getattr(self.recognizer, "model", None)
        tokenizer = getattr(model, "hf_tokenizer", None)
        return None if tokenizer is None else str(tokenizer.to_str())


def load_whisper(asr: AsrSettings, models_dir: Path, allow_downloads: bool) -> Recognizer:
    """The replica's recognizer: the in-process one, built the same way (module level, so it pickles)."""
    from asr.whisper import WhisperRecognizer
    from models import ModelRegistry

    return WhisperRecognizer.from_settings(asr, ModelRegistry(models_dir), allow_downloads=allow_downloads)


def build_app(factory: Callable[[], Recognizer], asr: AsrSettings) -> serve.Application:
    """The pool as a Serve application: ``asr.pool_replicas`` replicas, each with its share of CPUs/GPUs."""
    # partials are decoded beside the batches of finals
    deployment = serve.deployment(**deployment_options(
        DEPLOYMENT_NAME, replicas=asr.pool_replicas, cpus=asr.pool_cpus_per_replica,
        gpus=asr.pool_gpus_per_replica, batch_size=asr.pool_batch_size))(RecognizerPool)
    return deployment.bind(factory, asr.pool_batch_size, asr.pool_batch_wait_s)


def deploy(app: serve.Application, url: str, *, host: str | None = None, name: str = APP_NAME) -> DeploymentHandle:
    """Run the application on the connected Ray cluster where ``url`` (``asr.pool_address``) points, and wait
    until it serves; ``host`` overrides the address Serve listens on (``0.0.0.0`` for workers elsewhere)."""
    parts = urlsplit(url)
    serve.start(http_options={"host": host or parts.hostname or "127.0.0.1", "port": parts.port or 80})
    return serve.run(app, name=name, route_prefix=parts.path.rstrip("/") or "/")
