"""Process-wide services: the model registry, the models it loads and the stores, shared by all calls."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from assist.checklist import load_checklists
from assist.metrics import ASR_VOCAB_CORRECTIONS
from assist.stages import CallStages, DraftFn
from assist.store import CallStore
from config import Settings
from models import ModelRegistry
from summarize.masking import Masker

if TYPE_CHECKING:
    from asr.engine import AsrEngine
    from knowledge.article import Article
    from knowledge.store import KnowledgeStore
    from retrieval.service import RetrievalService
    from summarize.reply import ReplyDraft, ReplyDrafter

log = logging.getLogger(__name__)
T = TypeVar("T")


class Services:
    """Owns every loaded model; ``load`` runs in a worker thread at start-up.

    ``stages`` may be given (tests pass fakes); otherwise ``load`` builds the real ones:
    KnowledgeStore → RetrievalService, WhisperRecognizer → AsrEngine, summarizer, reply drafts, PII masking.
    ``masker`` is the one ``Masker`` (settings ``privacy.mask_entities``) behind every masking point: live
    transcripts and drafts (``CallStages.mask``), call metadata, the summarizers, the log redaction.
    """

    def __init__(self, settings: Settings, *, stages: CallStages | None = None) -> None:
        self.settings = settings
        self.masker = Masker(settings.privacy.mask_entities)
        _redact_logs_with(self.masker)
        self.registry = ModelRegistry(settings.models_dir)
        self.call_store = CallStore(settings.calls_db)
        self.kb: KnowledgeStore | None = None
        self.retrieval: RetrievalService | None = None
        self.asr: AsrEngine | None = None
        self.stages: CallStages | None = stages
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._ready = stages is not None
        self._error: str | None = None
        self._loaded: dict[str, float] = {}
        self._index_listeners: list[Callable[[], None]] = []

    def load(self) -> None:
        with self._lock:
            if self._ready:
                return
            try:
                self._build()
                self._ready = True
                log.info("models ready: %s", self._loaded)
            except Exception as exc:  # readiness reports it; the process stays up for /healthz
                self._error = f"{type(exc).__name__}: {exc}"
                log.exception("model loading failed")

    def _timed(self, name: str, fn: Callable[[], T]) -> T:
        started = time.perf_counter()
        result = fn()
        self._loaded[name] = round(time.perf_counter() - started, 3)
        return result

    def _build(self) -> None:
        from asr.engine import AsrEngine
        from asr.pool import recognizer_from_settings
        from knowledge.store import KnowledgeStore
        from retrieval.service import RetrievalService
        from summarize.factory import build_summarizer

        s = self.settings
        self.kb = self._timed("knowledge", lambda: KnowledgeStore(s.kb_db))
        retrieval = RetrievalService.from_settings(s.retrieval, self.registry, self.kb, index_dir=s.index_dir,
                                                   allow_downloads=s.allow_downloads)
        self._timed(s.retrieval.embedder, retrieval.load)
        self.retrieval = retrieval
        recognizer = self._timed(s.asr.model, lambda: recognizer_from_settings(
            s.asr, self.registry, allow_downloads=s.allow_downloads))
        asr = self.asr = AsrEngine(recognizer, s.asr, on_corrections=ASR_VOCAB_CORRECTIONS.inc)
        asr.set_glossary(retrieval.glossary(), vocabulary=retrieval.vocabulary())
        retrieval.add_listener(lambda: asr.set_glossary(retrieval.glossary(), vocabulary=retrieval.vocabulary()))
        for fn in self._index_listeners:
            retrieval.add_listener(fn)
        # retrieval, drafts and notes: one worker per core the ASR does not hold busy
        self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="assist-model")
        alerts = None
        if s.alerts.enabled:  # an unusable rules file fails readiness with its located problems
            from assist.alerts.live import AlertMonitor

            alerts = AlertMonitor.build(s.alerts.rules_file, check_interval_s=s.alerts.reload_check_s,
                                        embedder=retrieval.embedder)
        checklists = load_checklists(s.alerts.checklists_file)  # a bad file fails readiness with its lines
        self.stages = CallStages(asr=asr, retrieval=retrieval, summarizer=build_summarizer(s.summarize, self.masker),
                                 draft=build_draft(s), mask=self.masker, executor=self._executor,
                                 top_k=s.retrieval.top_k, keep_topic_cards=s.retrieval.keep_topic_cards,
                                 join_gap_s=s.retrieval.join_gap_s,
                                 uncertain_below=s.asr.uncertain_below, alerts=alerts,
                                 checklists=checklists)

    def on_index_change(self, fn: Callable[[], None]) -> None:
        """Call ``fn`` (in the writing thread) whenever the search index changes, once it is loaded."""
        self._index_listeners.append(fn)
        if self.retrieval is not None:
            self.retrieval.add_listener(fn)

    def readiness(self) -> dict[str, Any]:
        return {"ready": self._ready, "loaded": dict(self._loaded), "error": self._error}

    def close(self) -> None:
        """Release workers and files; safe to call twice."""
        if self.asr is not None:
            self.asr.close()
            self.asr = None
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
        if self.retrieval is not None:
            self.retrieval.close()  # stops its KB watcher thread
            self.retrieval = None
        if self.kb is not None:
            self.kb.close()
            self.kb = None
        self.call_store.close()


def _redact_logs_with(masker: Masker) -> None:
    """Point the log redaction that ``setup_logging`` installed at the configured masker (the handlers of a
    process that never called it, e.g. a test runner's, are left alone)."""
    from assist.security import RedactingFilter

    for handler in logging.getLogger().handlers:
        for f in handler.filters:
            if isinstance(f, RedactingFilter):
                f.mask = masker


def build_draft(settings: Settings) -> DraftFn:
    """The session's draft function: the template, or the rewrite behind the support check when configured."""
    from summarize.factory import SummarizerConfigError
    from summarize.reply import ReplyDrafter

    s = settings.summarize
    if s.reply_backend == "template":
        return partial(_draft_from_article, ReplyDrafter())
    if not s.openai_base_url or not s.openai_model:
        raise SummarizerConfigError("summarize.reply_backend=openai needs summarize.openai_base_url and openai_model")
    from summarize.openai_compat import OpenAIChat

    chat = OpenAIChat(s.openai_base_url, s.openai_model, api_key=s.openai_api_key, timeout_s=s.reply_timeout_s,
                      max_tokens=256)  # 2-4 sentences
    return partial(_draft_from_article, ReplyDrafter(chat))


def _draft_from_article(drafter: ReplyDrafter, article: Article, query: str, language: str) -> ReplyDraft:
    """Adapts a knowledge ``Article`` to ``ReplyDrafter.draft``; ``language`` is the draft's."""
    from summarize.reply import ArticleText

    text = ArticleText(article.id, article.title, article.answer, article.language or language)
    return drafter.draft(text, query, language)
