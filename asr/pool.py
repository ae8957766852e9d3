"""A ``Recognizer`` whose decodes run in the shared recognition pool (``asr/serve_pool.py``, Ray Serve).

Each worker keeps its VAD, its legs and its decode scheduling (``asr.engine.AsrEngine``); only the decodes
leave the process: finals (with the leg's previous utterance as context, ``asr/context.py``) and partials are
posted to the pool's HTTP route, where one replica batches finals from every worker (``@serve.batch``) and
runs the same ``WhisperRecognizer`` code as in-process decoding. Plain HTTP keeps Ray out of the workers:
this module needs only ``httpx`` and ``numpy``, and nothing here imports ``ray``.

Wire format (``gpu.serving``, shared with the embeddings pool): a request is a little-endian ``u32`` header
length, a JSON header, then the float32 samples of each array it lists; the answer is JSON, ``{"results": [...]}``
or the project's error body ``{"error": {"code", "message", "fields"}}``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import httpx
import numpy as np

from asr.audio import SAMPLE_RATE
from asr.base import FinalContext, Recognizer, Transcription, Word
from asr.glossary import approx_tokens
from common.errors import CodedError
from config import AsrSettings
from gpu.serving import encode_request, parse_request

if TYPE_CHECKING:
    from tokenizers import Tokenizer

    from models import ModelRegistry

log = logging.getLogger(__name__)



class PoolError(CodedError, RuntimeError):
    """A decode the pool could not do: ``code`` says why (``asr_pool_unavailable``, ``asr_pool_timeout``,
    ``asr_pool_decode_failed``, ``asr_pool_bad_request``, ``asr_pool_bad_response``)."""


# ---- wire format (gpu/serving.py) -------------------------------------------------------------------
def decode_request(body: bytes) -> tuple[dict[str, Any], list[np.ndarray]]:
    """The header and arrays of ``encode_request``'s body; ``PoolError("asr_pool_bad_request")`` if malformed."""
    try:
        return parse_request(body)
    except ValueError as exc:
        raise PoolError("asr_pool_bad_request", str(exc)) from exc


def transcription_to_dict(tr: Transcription) -> dict[str, Any]:
    """A ``Transcription`` as JSON (floats round-trip exactly, so pooled decodes equal in-process ones)."""
    return {"text": tr.text, "language": tr.language, "avg_logprob": tr.avg_logprob,
            "no_speech_prob": tr.no_speech_prob, "compression_ratio": tr.compression_ratio,
            "words": [[w.text, w.probability] for w in tr.words]}


def transcription_from_dict(d: dict[str, Any]) -> Transcription:
    return Transcription(text=str(d["text"]), language=str(d["language"]), avg_logprob=float(d["avg_logprob"]),
                         no_speech_prob=float(d["no_speech_prob"]), compression_ratio=float(d["compression_ratio"]),
                         words=tuple(Word(str(t), float(p)) for t, p in d.get("words", ())))


# ---- client ------------------------------------------------------------------------------------------
class RemoteRecognizer:
    """``Recognizer``, ``PartialRecognizer`` and ``ContextRecognizer`` over the pool's HTTP route; thread-safe
    (the engine's decode workers post concurrently, and the pool batches them with other workers' finals).

    ``batch_size_max`` is the largest pool batch any of this client's finals was decoded in.
    """

    def __init__(self, url: str, *, name: str = "pool", context_audio_s: float = 0.0, timeout_s: float = 60.0,
                 client: httpx.Client | None = None) -> None:
        """``context_audio_s``: the pool's ``asr.final_context_audio_s`` (the engine orders a leg's finals by it;
        only that much of a previous utterance is sent)."""
        self.url = url.rstrip("/")
        self.name = name
        self.context_audio_s = context_audio_s
        self._http = client or httpx.Client(timeout=timeout_s, limits=httpx.Limits(max_connections=64))
        self._lock = threading.Lock()
        self._tokenizer: Tokenizer | None = None
        self._tokenizer_loaded = False
        self.batch_size_max = 0

    @classmethod
    def from_settings(cls, asr: AsrSettings) -> RemoteRecognizer:
        """The client of ``asr.pool_address``; fails now (``asr_pool_unavailable``) when no pool answers."""
        rec = cls(asr.pool_address, name=asr.model, context_audio_s=asr.final_context_audio_s,
                  timeout_s=asr.pool_timeout_s)
        stats = rec.pool_stats()
        log.info("ASR pool at %s: %s", rec.url, stats)
        return rec

    def transcribe(self, audio: np.ndarray, *, language: str | None, beam_size: int = 5,
                   prompt: str | None = None) -> Transcription:
        return self.transcribe_finals([audio], language=language, beam_size=beam_size, prompt=prompt,
                                      contexts=[None])[0]

    def transcribe_finals(self, audios: Sequence[np.ndarray], *, language: str | None, beam_size: int = 5,
                          prompt: str | None = None,
                          contexts: Sequence[FinalContext | None]) -> list[Transcription]:
        if not audios:
            return []
        keep = int(self.context_audio_s * SAMPLE_RATE)
        arrays: list[np.ndarray] = []
        texts: list[str | None] = []
        for audio, ctx in zip(audios, contexts, strict=True):
            arrays.append(audio)
            arrays.append(ctx.audio[-keep:] if ctx is not None and keep > 0 else np.zeros(0, np.float32))
            texts.append(ctx.text if ctx is not None and keep > 0 else None)
        header = {"language": language, "beam_size": beam_size, "prompt": prompt, "context_texts": texts}
        results = self._post("finals", header, arrays, expected=len(audios))
        sizes = [int(r.get("batch_size", 1)) for r in results]
        with self._lock:
            self.batch_size_max = max(self.batch_size_max, *sizes)
        return [transcription_from_dict(r) for r in results]

    def transcribe_partial(self, audio: np.ndarray, *, language: str | None, beam_size: int = 1) -> Transcription:
        header = {"language": language, "beam_size": beam_size}
        return transcription_from_dict(self._post("partial", header, [audio], expected=1)[0])

    def count_tokens(self, text: str) -> int:
        """Whisper tokens in ``text`` by the pool model's own tokenizer (fetched once), so the glossary prompt
        holds the same terms as in-process; ``approx_tokens`` when the pool's recognizer has none."""
        with self._lock:
            if not self._tokenizer_loaded:
                spec = self._get("tokenizer").get("tokenizer")
                if spec:
                    from tokenizers import Tokenizer

                    self._tokenizer = Tokenizer.from_str(spec)
                self._tokenizer_loaded = True
        if self._tokenizer is None:
            return approx_tokens(text)
        return len(self._tokenizer.encode(" " + text.strip(), add_special_tokens=False).ids)

    def pool_stats(self) -> dict[str, Any]:
        """The answering replica's counters: ``batches``, ``finals``, ``partials``, ``batch_size_max``."""
        return self._get("stats")

    def close(self) -> None:
        self._http.close()

    # ---- internals ---------------------------------------------------------------------------------
    def _post(self, route: str, header: dict[str, Any], arrays: Sequence[np.ndarray], *, expected: int
              ) -> list[dict[str, Any]]:
        body = self._request("POST", route, content=encode_request(header, arrays))
        results = body.get("results")
        if not isinstance(results, list) or len(results) != expected:
            raise PoolError("asr_pool_bad_response", f"the pool at {self.url} answered {route} without its results")
        return results

    def _get(self, route: str) -> dict[str, Any]:
        return self._request("GET", route)

    def _request(self, method: str, route: str, content: bytes | None = None) -> dict[str, Any]:
        url = f"{self.url}/{route}"
        try:
            response = self._http.request(method, url, content=content,
                                          headers={"content-type": "application/octet-stream"} if content else None)
        except httpx.TimeoutException as exc:
            raise PoolError("asr_pool_timeout", f"the ASR pool at {url} did not answer in time: {exc}") from exc
        except httpx.HTTPError as exc:
            raise PoolError("asr_pool_unavailable", f"the ASR pool at {url} cannot be reached: {exc}") from exc
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code != 200 or not isinstance(body, dict):
            err = body.get("error") if isinstance(body, dict) else None
            if isinstance(err, dict) and "code" in err:
                raise PoolError(str(err["code"]), str(err.get("message", "")))
            code = "asr_pool_unavailable" if response.status_code in (404, 502, 503) else "asr_pool_bad_response"
            raise PoolError(code, f"the ASR pool at {url} answered {response.status_code}: {response.text[:200]}")
        return body


def recognizer_from_settings(asr: AsrSettings, registry: ModelRegistry, *, allow_downloads: bool = False
                             ) -> Recognizer:
    """The recognizer ``asr.pool`` names: Whisper in this process (``local``) or the shared pool (``ray``)."""
    if asr.pool == "ray":
        return RemoteRecognizer.from_settings(asr)
    from asr.whisper import WhisperRecognizer

    return WhisperRecognizer.from_settings(asr, registry, allow_downloads=allow_downloads)
