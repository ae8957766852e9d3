"""Replay recorded audio into a running service as a live call, paced on the wall clock.

Used for demos (``assist replay``), end-to-end tests and the QA tools::

    events = await replay_call("ws://127.0.0.1:8000", "demo-1", {"customer": samples}, language="ja")
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import websockets
from websockets.exceptions import ConnectionClosed, ConnectionClosedError

from asr.audio import SAMPLE_RATE, encode_pcm16
from asr.base import Leg

log = logging.getLogger(__name__)

FRAME_MS = 20
TURN_GAP_S = 0.6


@dataclass(frozen=True, slots=True)
class ReplayTurn:
    """One turn of a scripted call: who speaks, and their audio (16 kHz mono float32)."""

    leg: Leg
    audio: np.ndarray


def turns_to_legs(turns: Sequence[ReplayTurn], gap_s: float = TURN_GAP_S) -> dict[Leg, np.ndarray]:
    """Lay turns end to end (with a pause between) on per-leg tracks of equal length; the other leg is silent."""
    gap = int(gap_s * SAMPLE_RATE)
    total = sum(len(t.audio) + gap for t in turns) + gap
    legs: dict[Leg, np.ndarray] = {t.leg: np.zeros(total, np.float32) for t in turns}
    pos = gap
    for t in turns:
        legs[t.leg][pos : pos + len(t.audio)] = t.audio
        pos += len(t.audio) + gap
    return legs


async def _stream(ws: Any, frames: list[bytes], realtime: bool, on_audio_start: Callable[[], None] | None,
                  on_frame_sent: Callable[[int, float], None] | None = None) -> None:
    step = FRAME_MS / 1000
    started = time.monotonic()
    if on_audio_start is not None:
        on_audio_start()
    for i, frame in enumerate(frames):
        if realtime:
            delay = started + i * step - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        elif i % 50 == 0:
            await asyncio.sleep(0)
        await ws.send(frame)
        if on_frame_sent is not None:
            on_frame_sent(i, time.monotonic())
    await ws.send(json.dumps({"type": "stop"}))


async def replay_call(
    url: str,
    call_id: str | None = None,
    legs_audio: Mapping[Leg, np.ndarray] | None = None,
    *,
    turns: Sequence[ReplayTurn] | None = None,
    language: str = "ja",
    stereo: bool = False,
    realtime: bool = True,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    start_options: Mapping[str, Any] | None = None,
    on_audio_start: Callable[[], None] | None = None,
    timeout_s: float = 300.0,
    api_key: str | None = None,
    on_frame_sent: Callable[[int, float], None] | None = None,
) -> list[dict[str, Any]]:
    """Stream a call's legs (or its turns) to ``url`` and return every event of the call, in order.

    One socket per leg, or one two-channel socket with ``stereo``. Returns once the server closes the
    events socket (after the summary) or ``timeout_s`` passes. ``on_audio_start`` is called just before
    the first audio frame is sent (call time 0, for latency measurements); ``on_frame_sent(i, t)`` after each
    of that socket's frames (``FRAME_MS`` each) went out, with its ``time.monotonic()``. ``api_key`` is sent as a
    bearer header on every socket (servers in ``auth.mode = keys``).
    """
    if (legs_audio is None) == (turns is None):
        raise ValueError("give exactly one of legs_audio and turns")
    legs = dict(legs_audio) if legs_audio is not None else turns_to_legs(turns or [])
    if not legs:
        raise ValueError("nothing to replay")
    call_id = call_id or f"replay-{uuid.uuid4().hex[:8]}"
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    base = url.rstrip("/")
    events: list[dict[str, Any]] = []
    start = {"type": "start", "call_id": call_id, "language": language, "encoding": "pcm16", "sample_rate": SAMPLE_RATE,
             **(start_options or {})}

    def sink(event: dict[str, Any]) -> None:
        events.append(event)
        if on_event is not None:
            on_event(event)

    async def collect() -> None:
        """Follow the call's events; a subscriber dropped for lagging resumes after its last seq."""
        last = 0
        while True:
            url_events = f"{base}/ws/calls/{call_id}/events?wait=1&after_seq={last}"
            async with websockets.connect(url_events, max_size=None, additional_headers=headers) as ws:
                try:
                    async for message in ws:
                        event = json.loads(message)
                        if event.get("code") == "lagging":
                            break
                        if event.get("type") == "error" and event.get("fatal"):  # refused: retrying cannot help
                            sink(event)
                            return
                        last = max(last, event.get("seq", 0))
                        sink(event)
                    else:
                        return
                except ConnectionClosedError:
                    pass

    collector = asyncio.create_task(collect())
    if stereo:
        order: list[Leg] = ["customer", "agent"]
        n = max(len(legs.get(leg, ())) for leg in order)
        both = np.zeros((n, 2), np.float32)
        for i, leg in enumerate(order):
            both[: len(legs.get(leg, ())), i] = legs.get(leg, np.zeros(0, np.float32))
        sockets = [({**start, "channels": 2, "legs": order}, both.reshape(-1), 2)]
    else:
        sockets = [({**start, "leg": leg}, audio, 1) for leg, audio in legs.items()]
    try:
        async with asyncio.timeout(timeout_s):
            ready = asyncio.Barrier(len(sockets))
            await asyncio.gather(*(_one_socket(base, call_id, msg, audio, channels, realtime, sink,
                                               on_audio_start if i == 0 else None, headers, ready,
                                               on_frame_sent if i == 0 else None)
                                   for i, (msg, audio, channels) in enumerate(sockets)))
            if any(e.get("type") == "error" and e.get("fatal") for e in events):
                collector.cancel()  # the call was refused or broken: its events socket would wait forever
            await asyncio.gather(collector, return_exceptions=True)
    except TimeoutError:
        log.warning("replay of %s timed out after %.0f s", call_id, timeout_s)
    finally:
        collector.cancel()
    return events


async def _one_socket(base: str, call_id: str, start: dict[str, Any], interleaved: np.ndarray, channels: int,
                      realtime: bool, sink: Callable[[dict[str, Any]], None],
                      on_audio_start: Callable[[], None] | None, headers: dict[str, str],
                      ready: asyncio.Barrier, on_frame_sent: Callable[[int, float], None] | None = None) -> None:
    frame = SAMPLE_RATE * FRAME_MS // 1000 * channels
    pcm = encode_pcm16(interleaved, truncate=True)
    frames = [pcm[i : i + frame * 2] for i in range(0, len(pcm), frame * 2)]
    try:
        ws = await websockets.connect(f"{base}/ws/calls/{call_id}/audio", max_size=None, additional_headers=headers)
    except BaseException:
        await ready.abort()
        raise
    async with ws:
        try:
            await ws.send(json.dumps(start))
        except ConnectionClosed:  # refused at once (auth): its error event is still buffered below
            pass
        try:
            # every leg has joined before audio flows: a short leg that stops first cannot end the call alone
            await ready.wait()
        except asyncio.BrokenBarrierError:
            return
        sender = asyncio.create_task(_stream(ws, frames, realtime, on_audio_start, on_frame_sent))
        try:
            async for message in ws:  # only errors come back here; the server closes after flushing
                sink(json.loads(message))
        except ConnectionClosedError:
            pass
        finally:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
