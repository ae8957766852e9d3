"""The wire protocol: every message that crosses a websocket, as pydantic models discriminated by ``type``.

Inbound (client → server, audio socket): ``start`` then binary audio frames, then ``stop``.
Outbound (server → widgets): call events. Every outbound event carries ``call_id``, ``seq`` and ``ts``;
``seq`` numbers one call's stream from 1 with no gaps, so a reconnecting widget can ask for what it missed.
Messages that concern only one connection (a rejected frame, a lagging subscriber) are ``error`` events
with ``seq`` 0: they are not part of the call's stream and are never replayed.

``docs/PROTOCOL.md`` is generated from this module (``python scripts/gen_protocol_docs.py``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from asr.base import Leg, Utterance
from common.errors import FieldIssue
from summarize.notes import CallNotes, ChecklistMark

StreamLanguage = Literal["ja", "en", "auto"]  # a stream's language: the server's languages or per-utterance detection
CallState = Literal["live", "ending", "ended", "interrupted"]

# Machine-readable error codes a client can branch on: the one list. ``ErrorEvent.code`` is typed by it, so an
# error event with any other code fails validation instead of reaching a client; ERROR_CODES documents each
# (docs/PROTOCOL.md is generated from it; a test keeps both in step).
ErrorCode = Literal[
    "bad_json", "unknown_type", "bad_start", "bad_message", "not_started", "already_started", "frame_too_large",
    "unsupported_encoding", "bad_audio", "too_many_calls", "too_many_calls_for_key", "rate_limited",
    "audio_too_fast", "audio_backlog", "start_timeout", "idle_timeout", "call_too_long", "unauthorized",
    "invalid_key", "no_policy", "key_revoked", "call_exists", "call_id_mismatch", "unknown_call", "bad_after_seq",
    "forbidden", "lagging", "not_ready", "internal",
]
ERROR_CODES: dict[ErrorCode, str] = {
    "bad_json": "A text frame was not a JSON object.",
    "unknown_type": "A JSON message had a `type` this endpoint does not accept.",
    "bad_start": "The `start` message failed validation; `message` names the field.",
    "bad_message": "A control message failed validation.",
    "not_started": "Audio or `stop` arrived before `start`.",
    "already_started": "A second `start` arrived on the same audio socket.",
    "frame_too_large": "A frame exceeded the server's size limit.",
    "unsupported_encoding": "The audio encoding, sample rate or channel count is not supported.",
    "bad_audio": "A binary frame could not be decoded with the announced format.",
    "too_many_calls": "The server is at its configured maximum of concurrent calls.",
    "too_many_calls_for_key": "This API key already has `security.max_calls_per_key` live calls (fatal, 1013).",
    "rate_limited": "More messages a second than `security.max_messages_per_s` allows beyond its burst (fatal).",
    "audio_too_fast": "A leg's audio arrived faster than `security.max_audio_speed` × real time beyond a burst of "
                      "`security.audio_burst_s` seconds (fatal, 1008): stream audio as it is spoken.",
    "audio_backlog": "Recognition of a leg is more than `asr.max_backlog_s` of audio behind: the server is "
                     "overloaded (fatal, 1013).",
    "start_timeout": "No `start` within `security.start_timeout_s` of connecting (fatal).",
    "idle_timeout": "A started stream sent no audio for `security.idle_audio_s`; the call ends (fatal).",
    "call_too_long": "The call reached `security.max_call_s` (wall clock or audio); it ends with its notes (fatal).",
    "unauthorized": "No API key within `auth.ws_auth_timeout_s`, or not in a form the server accepts (fatal, "
                    "1008).",
    "invalid_key": "The API key is unknown or revoked (fatal, 1008).",
    "no_policy": "The endpoint has no access policy: the server refuses rather than guesses (fatal, 1008).",
    "key_revoked": "The API key of this connection was revoked; every socket it opened is closed (fatal, 1008).",
    "call_exists": "Audio for this call and leg is already being received.",
    "call_id_mismatch": "`start.call_id` differs from the call id in the URL.",
    "unknown_call": "No live or stored call has this id.",
    "bad_after_seq": "`after_seq` must be a non-negative integer (ASCII digits, at most 15).",
    "forbidden": "The key's role may not do this, or the call belongs to another agent (also when a `wait=1` "
                 "subscription's call opens for another key, or a `start` names another agent's call).",
    "lagging": "This subscriber fell too far behind and was disconnected; reconnect with after_seq.",
    "not_ready": "Models are still loading; retry when /readyz answers 200.",
    "internal": "An unexpected server error; the call continues where possible.",
}


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- inbound (client -> server)


class StartMessage(_Message):
    """Opens an audio stream. Two channels carry both legs interleaved (channel 0 customer, channel 1
    agent); a client that streams each leg on its own socket sends one ``start`` per socket with ``leg``."""

    type: Literal["start"] = "start"
    call_id: str | None = Field(None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$",
                                description="Must equal the URL's call id when given")
    language: StreamLanguage | None = Field(
        None, description="Spoken language; omitted = the server's configured language. `auto` detects per "
        "utterance (about twice the recognition cost)")
    encoding: Literal["pcm16", "mulaw"] = Field("pcm16", description="PCM16 little-endian or G.711 μ-law")
    sample_rate: Literal[8000, 16000] = 16000
    channels: Literal[1, 2] = 1
    legs: list[Leg] | None = Field(
        None, min_length=1, max_length=2,
        description='Legs carried by the channels in order: ["customer"] or ["customer", "agent"]; '
        "default: one channel = customer, two = customer + agent")
    leg: Leg | None = Field(None, description="For one-socket-per-leg clients: the single leg of this socket")
    interim_results: bool = Field(True, description="Send partial transcripts (`final: false`)")
    endpointing: int | None = Field(
        None, ge=100, le=5000, description="Milliseconds of silence that end an utterance. Accepted for "
        "Deepgram-style clients and validated; the server's `asr.endpointing_ms` currently applies to every call")
    utterance_end_ms: int | None = Field(
        None, ge=100, le=30000, description="Longest utterance in ms before it is cut. Accepted and validated; "
        "the server's `asr.max_utterance_s` currently applies")
    metadata: dict[str, str] = Field(default_factory=dict, description="Free-form labels (agent id, queue)")

    @model_validator(mode="after")
    def _legs_match_channels(self) -> StartMessage:
        if self.leg is not None:
            if self.channels != 1:
                raise ValueError("`leg` is for single-channel streams; use `legs` with 2 channels")
            if self.legs not in (None, [self.leg]):
                raise ValueError("`leg` and `legs` disagree")
            self.legs = [self.leg]
        if self.legs is None:
            self.legs = ["customer"] if self.channels == 1 else ["customer", "agent"]
        if len(self.legs) != self.channels:
            raise ValueError(f"{self.channels} channel(s) need {self.channels} leg(s), got {self.legs}")
        if len(set(self.legs)) != len(self.legs):
            raise ValueError("each leg may appear once")
        return self

    @property
    def channel_legs(self) -> list[Leg]:
        """Leg of each channel, in channel order (always set after validation)."""
        return list(self.legs or [])


class StopMessage(_Message):
    """Ends the audio stream: trailing speech is flushed, then (when no leg is left) the call ends."""

    type: Literal["stop"] = "stop"


InboundMessage = Annotated[StartMessage | StopMessage, Field(discriminator="type")]
INBOUND_ADAPTER: TypeAdapter[StartMessage | StopMessage] = TypeAdapter(InboundMessage)


# ---------------------------------------------------------------- outbound (server -> clients)


class _Event(_Message):
    call_id: str
    seq: int = Field(0, ge=0, description="Per-call sequence from 1; 0 = connection-scoped, never replayed")
    ts: float = Field(default_factory=time.time, description="Server time, seconds since the Unix epoch")


class CallStartedEvent(_Event):
    type: Literal["call_started"] = "call_started"
    language: str = Field(description="ja, en or auto")
    legs: list[Leg]
    source: Literal["websocket", "twilio"] = "websocket"
    metadata: dict[str, str] = Field(default_factory=dict)


class TextSpan(_Message):
    """``text[start:end]`` of the event it belongs to (Python string indexes: Unicode code points)."""

    start: int = Field(ge=0)
    end: int = Field(ge=0)


_LONG_DIGITS = re.compile(r"\d{4}")  # what masking removes from partials: never sent as a heard form


def _corrected(utterance: Utterance, text: str) -> list[CorrectedSpan]:
    """The utterance's vocabulary corrections that still stand, unmasked, at the same place in ``text``."""
    out = []
    for c in utterance.corrections:
        if c.replacement and text[c.start:c.end] == c.replacement and not _LONG_DIGITS.search(c.original):
            out.append(CorrectedSpan(start=c.start, end=c.end, heard=c.original))
    return out


class CorrectedSpan(TextSpan):
    """A word the vocabulary correction replaced (``asr/vocab.py``): ``text[start:end]`` was heard as ``heard``."""

    heard: str


class TranscriptEvent(_Event):
    """A partial (``final: false``) or final hypothesis; a final replaces every partial with its
    ``utterance_id``. Personal data (card and phone numbers, birth dates, addresses) is masked; partials also
    lose every run of 4 or more digits. A final may come again with the same ``utterance_id`` and more of it
    masked (a number read across two finals): it replaces the earlier one."""

    type: Literal["transcript"] = "transcript"
    leg: Leg
    utterance_id: str
    text: str
    final: bool
    start: float = Field(description="Seconds from call start (audio time)")
    end: float = Field(description="Seconds from call start (audio time)")
    language: str | None = None
    uncertain: list[TextSpan] = Field(
        default_factory=list, description="Finals: numbers (digits, amounts, dates) the recognizer was unsure of, "
        "as character spans of `text`; the widget underlines them (要確認) and the notes never state them as fact")
    corrected: list[CorrectedSpan] = Field(
        default_factory=list, description="Finals: words the vocabulary correction replaced, with what the "
        "recognizer heard (`heard`); the widget shows it on hover. A correction masking touched is left out")

    @classmethod
    def of(cls, utterance: Utterance, *, text: str, language: str,
           uncertain: Sequence[tuple[int, int]] = ()) -> TranscriptEvent:
        """The wire form of the recognizer's ``utterance``: the one place the stage's event becomes the
        protocol's. ``text`` is what may leave the process (masked), ``language`` the resolved one (an ``auto``
        call's detected language), ``uncertain`` the ``(start, end)`` spans of ``text``."""
        return cls(call_id=utterance.call_id, leg=utterance.leg, utterance_id=utterance.utterance_id, text=text,
                   final=utterance.final, start=utterance.start, end=utterance.end, language=language,
                   uncertain=[TextSpan(start=a, end=b) for a, b in uncertain],
                   corrected=_corrected(utterance, text))


class SuggestionItem(_Message):
    article_id: str
    title: str
    snippet: str
    score: float = Field(description="Ranking score (the second stage's probability, else the fused score); for "
                         "ordering and logs, not for display")
    rank: int = Field(ge=1, description="1 = best for this utterance")
    category: str | None = None
    confidence: Literal["high", "medium", "low"] = Field(
        "low", description="Calibrated per embedder on the dev queries: high = the top card was right ≥ 95 % of the "
        "time there; what the widget shows instead of the score")


class SuggestionsEvent(_Event):
    """Knowledge cards for one final customer utterance. Only articles not yet shown in this call, or
    shown before at a worse rank, are included; an utterance that yields nothing new sends nothing."""

    type: Literal["suggestions"] = "suggestions"
    utterance_id: str
    query: str = Field(description="The text the knowledge base was searched with")
    items: list[SuggestionItem]
    latency_ms: float = Field(description="Retrieval time for this query")
    speech_to_suggestion_ms: float | None = Field(
        None, description="From the end of the customer's speech to this event")


class ReplyDraftEvent(_Event):
    """A polite reply the agent may read out or paste, built from the top suggestion."""

    type: Literal["reply_draft"] = "reply_draft"
    utterance_id: str
    article_id: str
    text: str
    cited_ids: list[str]
    language: str = Field("ja", description="The draft's language: always the cited article's (drafts are not "
                          "translated, so every sentence stays checkable against the article)")
    cross_lingual: bool = Field(False, description="The article, and so the draft, is not in the call's language: "
                                "the agent has to put it in their own words")
    backend: str = Field("template", description="`template`, or the rewrite's backend (`openai:MODEL`) when its "
                         "every sentence was supported by the article")


class SummaryEvent(_Event):
    """After-call notes (用件 / 対応内容 / 結果 / 次回対応 + entities), ready for the agent to review."""

    type: Literal["summary"] = "summary"
    notes: CallNotes
    latency_ms: float = Field(0.0, description="Time to write the notes after the call ended")


class StatusEvent(_Event):
    """Sent every few seconds while a call is live, and once per live call to a supervisor wall that connects:
    what a row of the supervisor console (`/supervisor`) shows without having seen the call's earlier events."""

    type: Literal["status"] = "status"
    state: CallState
    lag_s: dict[str, float] = Field(default_factory=dict, description="Recognition lag per leg, seconds")
    queue_depth: int = Field(0, ge=0, description="Events waiting to be processed for this call")
    audio_s: dict[str, float] = Field(default_factory=dict, description="Audio received per leg, seconds")
    agent: str | None = Field(None, description="Who takes the call: the `agent` label of `start.metadata`, else "
                              "the id of the API key that opened it (`metadata.owner`)")
    duration_s: float = Field(0.0, ge=0, description="Wall-clock seconds since the call started")
    topic: str | None = Field(None, description="Title of the current top card (the best article of the latest "
                              "request turn that got cards); none before the first cards")
    talk_s: dict[str, float] = Field(default_factory=dict, description="Speech per leg, seconds: the sum of its "
                                     "finals' `end - start`")


AlertSeverity = Literal["info", "warning", "critical"]
AlertCondition = Literal["abuse", "manager_request", "cancellation", "keywords", "negative_sentiment", "silence",
                         "overtalk", "speaking_rate"]


class AlertText(_Message):
    """One message in both of the widget's languages."""

    ja: str
    en: str


class AlertEvent(_Event):
    """A rule of the alert rules file fired (docs/ALERTS.md): sent on the call's stream, so the supervisor wall
    (`/ws/events`) sees every alert; the agent's widget shows those with `notify_agent` as a banner. A rule fires
    at most once per its cool-down."""

    type: Literal["alert"] = "alert"
    rule: str = Field(description="The rule's id in the rules file")
    condition: AlertCondition = Field(description="What kind of condition fired")
    severity: AlertSeverity
    category: str | None = Field(
        None, description="`abuse`: the カスハラ category (verbal_abuse 暴言, threat 脅迫, intimidation 威圧, "
        "personal_attack 人格否定, long_restraint 長時間拘束, dogeza_demand 土下座要求, sns_exposure SNS晒し, "
        "excessive_demand 過剰要求); other conditions: none")
    message: AlertText = Field(description="What the supervisor or agent reads, in Japanese and English")
    utterance_id: str | None = Field(None, description="The final that fired the rule")
    turn: int | None = Field(None, ge=0, description="Its index among the call's finals (as in the notes)")
    leg: Leg | None = Field(None, description="Whose final fired it")
    at: float = Field(description="Seconds from call start (audio time) of the evidence")
    matched: str | None = Field(None, description="Text conditions: the clause of the final that matched "
                                "(masked text)")
    value: float | None = Field(None, description="The measured value: seconds of silence or overtalk, "
                                "characters per second, the sentiment score, the paraphrase similarity")
    notify_agent: bool = Field(False, description="The rule asks for the agent's widget to show it")


class SentimentEvent(_Event):
    """The customer's sentiment for one final customer utterance (a lexicon score, docs/ALERTS.md): what the
    supervisor's trend plots and the `negative_sentiment` rules count."""

    type: Literal["sentiment"] = "sentiment"
    utterance_id: str
    turn: int = Field(ge=0, description="Its index among the call's finals")
    score: float = Field(ge=-1.0, le=1.0, description="-1 most negative … 0 neutral … 1 most positive")
    label: Literal["negative", "neutral", "positive"]


class ChecklistEvent(_Event):
    """The call's guidance checklist (`assist/checklists.toml`), sent whole whenever an item is done or a
    category's items join (a confident top card of that category): what the agent did and what is missing.
    The final state is also in the notes (`summary.notes.checklist`) and the stored call's QA metrics."""

    type: Literal["checklist"] = "checklist"
    items: list[ChecklistMark] = Field(description="Every item in order: the default ones, then each category's")
    categories: list[str] = Field(default_factory=list, description="Categories whose items are on the list")


class CallEndedEvent(_Event):
    type: Literal["call_ended"] = "call_ended"
    reason: Literal["stop", "disconnect", "error", "shutdown"] = "stop"
    duration_s: float = 0.0


class ErrorEvent(_Event):
    """A problem with a frame or a connection. ``fatal`` means the server closes the socket next."""

    type: Literal["error"] = "error"
    code: ErrorCode = Field(description="Machine-readable; see the table of codes")
    message: str = Field(description="For people")
    fatal: bool = False
    fields: list[FieldIssue] = Field(
        default_factory=list, description="The problems with parts of the message (`field` is its dotted path), "
        "as in REST error bodies; empty when the error concerns the whole message or connection")


OutboundEvent = Annotated[
    CallStartedEvent
    | TranscriptEvent
    | SuggestionsEvent
    | ReplyDraftEvent
    | SummaryEvent
    | StatusEvent
    | AlertEvent
    | SentimentEvent
    | ChecklistEvent
    | CallEndedEvent
    | ErrorEvent,
    Field(discriminator="type"),
]
EVENT_ADAPTER: TypeAdapter[OutboundEvent] = TypeAdapter(OutboundEvent)

INBOUND_MODELS: tuple[type[_Message], ...] = (StartMessage, StopMessage)
EVENT_MODELS: tuple[type[_Event], ...] = (
    CallStartedEvent, TranscriptEvent, SuggestionsEvent, ReplyDraftEvent, SummaryEvent, StatusEvent, AlertEvent,
    SentimentEvent, ChecklistEvent, CallEndedEvent, ErrorEvent,
)


def parse_event(data: str | bytes | dict) -> OutboundEvent:
    """Parse one outbound event (JSON text or a dict); for clients, tests and the eval tools."""
    if isinstance(data, dict):
        return EVENT_ADAPTER.validate_python(data)
    return EVENT_ADAPTER.validate_json(data)
