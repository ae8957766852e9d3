"""Twilio Media Streams messages (https://www.twilio.com/docs/voice/media-streams/websocket-messages).

Twilio adds fields over time, so unknown fields are ignored rather than rejected; the fields the service
relies on are validated.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from assist.events import Leg


class _Twilio(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class MediaFormat(_Twilio):
    encoding: Literal["audio/x-mulaw"] = "audio/x-mulaw"
    sample_rate: Literal[8000] = Field(8000, alias="sampleRate")
    channels: Literal[1] = 1


Track = Literal["inbound", "outbound"]


def _inbound_only() -> list[Track]:
    return ["inbound"]


class StartInfo(_Twilio):
    account_sid: str | None = Field(None, alias="accountSid")
    call_sid: str = Field(alias="callSid", min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")
    stream_sid: str | None = Field(None, alias="streamSid")
    tracks: list[Track] = Field(default_factory=_inbound_only)
    custom_parameters: dict[str, str] = Field(default_factory=dict, alias="customParameters")
    media_format: MediaFormat = Field(default_factory=MediaFormat, alias="mediaFormat")


class MediaInfo(_Twilio):
    track: Literal["inbound", "outbound"] = "inbound"
    chunk: str | None = None
    timestamp: str | None = None
    payload: str = Field(description="Base64 μ-law, 8 kHz mono")


class TwilioConnected(_Twilio):
    """First message of every stream."""

    event: Literal["connected"] = "connected"
    protocol: str | None = None
    version: str | None = None


class TwilioStart(_Twilio):
    """Stream metadata: the call, its tracks and the audio format. Opens the call."""

    event: Literal["start"] = "start"
    sequence_number: str | None = Field(None, alias="sequenceNumber")
    stream_sid: str | None = Field(None, alias="streamSid")
    start: StartInfo


class TwilioMedia(_Twilio):
    """One chunk of audio (20 ms) on one track: `inbound` = customer, `outbound` = agent."""

    event: Literal["media"] = "media"
    sequence_number: str | None = Field(None, alias="sequenceNumber")
    stream_sid: str | None = Field(None, alias="streamSid")
    media: MediaInfo


class TwilioStop(_Twilio):
    """The stream ended (hang-up or `<Stop>`): the call ends."""

    event: Literal["stop"] = "stop"
    sequence_number: str | None = Field(None, alias="sequenceNumber")
    stream_sid: str | None = Field(None, alias="streamSid")


class TwilioMark(_Twilio):
    """Playback marks and DTMF digits; accepted and ignored."""

    event: Literal["mark", "dtmf"] = "mark"


TwilioMessage = Annotated[
    TwilioConnected | TwilioStart | TwilioMedia | TwilioStop | TwilioMark, Field(discriminator="event")
]
TWILIO_ADAPTER: TypeAdapter[TwilioConnected | TwilioStart | TwilioMedia | TwilioStop | TwilioMark] = (
    TypeAdapter(TwilioMessage)
)
TWILIO_MODELS: tuple[type[_Twilio], ...] = (TwilioConnected, TwilioStart, TwilioMedia, TwilioStop)
TRACK_LEGS: dict[str, Leg] = {"inbound": "customer", "outbound": "agent"}
