"""What the supervisor console reads from the server, without a browser: the wall (`WS /ws/events`) greets a
supervisor who connects mid-call with each live call's `status` (agent, duration, topic = the current top card,
talk time per leg from the finals), and `GET /api/supervisor/recent` lists ended calls with their notes."""

from __future__ import annotations

import json
from typing import Any

import httpx
import numpy as np
from support.live import ARTICLES, connect, recv_json

from asr.audio import SAMPLE_RATE
from assist.events import StatusEvent, parse_event

CUSTOMER = ["カードをなくしました", "手数料はかかりますか"]
RESPONSES = {"カードをなくしました": ["lost-card", "reissue"], "手数料はかかりますか": ["fees", "reissue"]}


async def _until(ws: Any, kind: str, call_id: str) -> dict[str, Any]:
    while (event := await recv_json(ws))["type"] != kind or event["call_id"] != call_id:
        pass
    return event


async def test_wall_status_carries_agent_topic_talk_and_recent_lists_notes(live) -> None:
    srv = live({"customer": CUSTOMER, "agent": ["承知しました"]}, RESPONSES)
    start = {"type": "start", "encoding": "pcm16", "sample_rate": SAMPLE_RATE, "channels": 2,
             "legs": ["customer", "agent"], "metadata": {"agent": "佐藤"}}
    frame = np.zeros(SAMPLE_RATE // 10 * 2, np.int16).tobytes()  # 100 ms of both legs
    async with await connect(f"{srv.url}/ws/events") as wall, \
            await connect(f"{srv.url}/ws/calls/w-1/audio") as call:
        await call.send(json.dumps(start))
        for _ in range(11):  # 1.1 s: two customer finals and one agent final
            await call.send(frame)
        first = await _until(wall, "suggestions", "w-1")
        assert first["items"][0]["article_id"] == "lost-card"
        await _until(wall, "suggestions", "w-1")  # the fee question's cards: the topic moves on

        async with await connect(f"{srv.url}/ws/events") as late:  # a supervisor who opens the page now
            status = parse_event(await recv_json(late))
        assert isinstance(status, StatusEvent) and status.call_id == "w-1" and status.seq == 0
        assert status.state == "live" and status.agent == "佐藤" and status.duration_s > 0
        assert status.topic == ARTICLES["fees"]
        assert status.talk_s == {"customer": 0.8, "agent": 0.4}  # each fake final lasts 0.4 s

        await call.send(json.dumps({"type": "stop"}))
        summary = await _until(wall, "summary", "w-1")
    assert summary["notes"]["inquiry"][0]["text"] == CUSTOMER[0]

    async with httpx.AsyncClient(base_url=srv.http, timeout=10) as client:
        recent = (await client.get("/api/supervisor/recent", params={"limit": 5})).json()
        bad = await client.get("/api/supervisor/recent", params={"limit": 0})
    [ended] = recent["calls"]
    assert ended["id"] == "w-1" and ended["state"] == "ended" and ended["metadata"]["agent"] == "佐藤"
    assert ended["notes"]["inquiry"][0]["text"] == CUSTOMER[0] and ended["edited"] is False
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_request"
