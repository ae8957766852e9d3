"""Alerts in a live call: the session hands every non-empty final to ``CallAlerts.on_final``.

The engine runs inline on the event loop (a few regular expressions and, for the agent's speaking rate, one
SudachiPy pass: well under a millisecond per final), so an abusive turn's ``alert`` event follows its
``transcript`` event at once. Paraphrase scoring needs the embedder: it runs in the stages' executor and its
alerts follow when it returns; the session awaits them (``drain``) before ``call_ended``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Executor
from pathlib import Path

from assist.alerts.engine import AlertEngine, FinalTurn
from assist.alerts.paraphrase import Paraphraser
from assist.alerts.rules import RuleSet, RulesSource
from assist.events import AlertEvent, OutboundEvent, SentimentEvent
from retrieval.base import Embedder

log = logging.getLogger(__name__)


class AlertMonitor:
    """What every call shares: the rules in force (hot-reloaded) and the paraphrase matcher, if any."""

    def __init__(self, source: RulesSource, paraphraser: Paraphraser | None = None) -> None:
        self.source = source
        self.paraphraser = paraphraser

    @classmethod
    def build(cls, rules_file: Path | None, *, check_interval_s: float = 2.0,
              embedder: Embedder | None = None) -> AlertMonitor:
        """The service's monitor (built in the start-up thread); raises ``AlertRulesError`` when the rules file
        is unusable."""
        source = RulesSource(rules_file, check_interval_s=check_interval_s)
        paraphraser = Paraphraser(embedder) if embedder is not None else None
        if paraphraser is not None and source.rules.needs_paraphrase:
            paraphraser.warm()
        return cls(source, paraphraser)

    def rules(self) -> RuleSet:
        return self.source.current()

    def for_call(self, call_id: str, *, publish: Callable[[OutboundEvent], int], loop: asyncio.AbstractEventLoop,
                 executor: Executor | None) -> CallAlerts:
        return CallAlerts(self, AlertEngine(call_id), publish=publish, loop=loop, executor=executor)


class CallAlerts:
    """One call's alerts: feeds finals to its engine and publishes what fires (and the customer's sentiment)."""

    def __init__(self, monitor: AlertMonitor, engine: AlertEngine, *, publish: Callable[[OutboundEvent], int],
                 loop: asyncio.AbstractEventLoop, executor: Executor | None) -> None:
        self.monitor = monitor
        self.engine = engine
        self._publish = publish
        self._loop = loop
        self._executor = executor
        self._pending: set[asyncio.Task[None]] = set()

    def on_final(self, final: FinalTurn) -> None:
        """Evaluate one final (on the loop); never raises into the session."""
        try:
            rules = self.monitor.rules()
            obs = self.engine.observe(rules, final, paraphrases=self.monitor.paraphraser is not None)
        except Exception:
            log.exception("call %s: alert rules failed on %s", self.engine.call_id, final.utterance_id)
            return
        if obs.sentiment is not None:
            self._publish(SentimentEvent(call_id=self.engine.call_id, utterance_id=final.utterance_id,
                                         turn=final.turn, score=obs.sentiment.score, label=obs.sentiment.label))
        self._send(obs.alerts)
        if obs.paraphrase and self.monitor.paraphraser is not None:
            task = self._loop.create_task(self._paraphrase(rules, final, obs.paraphrase),
                                          name=f"paraphrase-{self.engine.call_id}-{final.utterance_id}")
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def _paraphrase(self, rules: RuleSet, final: FinalTurn, rule_ids: tuple[str, ...]) -> None:
        paraphraser = self.monitor.paraphraser
        assert paraphraser is not None
        try:
            found = await self._loop.run_in_executor(self._executor, paraphraser.score, final.text)
        except Exception:
            log.exception("call %s: paraphrase scoring failed on %s", self.engine.call_id, final.utterance_id)
            found = None
        if found is None:  # the sentiment run waits for this final's verdict: settle it by the lexicon
            self._send(self.engine.unscored(rules, final))
        else:
            self._send(self.engine.paraphrased(rules, final, found, paraphraser.default_similarity, rule_ids))

    def _send(self, alerts: list[AlertEvent]) -> None:
        for alert in alerts:
            log.info("call %s: alert %s (%s) on %s", alert.call_id, alert.rule, alert.severity, alert.utterance_id)
            self._publish(alert)

    async def drain(self) -> None:
        """Wait for the paraphrase checks still running (the call is ending)."""
        if self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)
