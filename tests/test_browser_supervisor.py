"""The supervisor console (/supervisor) in headless Chromium against the real server in keys mode.

Four calls run at once through the real audio sockets, as the widget's demo streams them (two-channel PCM16,
start with metadata, then stop), each with its own agent key; the server's stages are the scripted demo
(tests/browser/fake_call.py), so each call goes through the demo's turns, cards and notes. The page watches with
a supervisor key: rows with agent and a ticking duration, the top card as the topic, talk time from the finals,
an alert and a sentiment trend published on a call's hub, a read-only call view, calls moving to the recent list
with their notes, and a reload mid-call that rebuilds the rows (alerts included) from the wall and a backfill.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import websockets
from browser.driver import chromium, console_errors, require_chromium, screenshot
from browser.fake_call import ARTICLES, demo_call, demo_stages
from support.live import LiveServer
from support.wait import wait_until

from assist.auth import KeyStore
from assist.events import AlertEvent, AlertText, SentimentEvent
from assist.services import Services
from config import Settings

pytestmark = pytest.mark.slow  # a real browser

AGENTS = {"sup-a": "佐藤", "sup-b": "鈴木", "sup-c": "高橋", "sup-d": "田中"}
FRAME_S = 0.1
FRAME = bytes(int(16000 * FRAME_S) * 2 * 2)  # 100 ms of two-channel PCM16 silence: the scripted ASR counts samples
SPEED = 3.0  # the demo's 38 s in about 13 s
TAP_SOCKETS = """
window.__sockets = [];
const Native = window.WebSocket;
window.WebSocket = class extends Native {
  constructor(...args) { super(...args); window.__sockets.push(this); }
};
"""


@dataclass
class Keys:
    supervisor: str
    agents: dict[str, str]  # call id -> agent key
    agent_only: str


@dataclass
class Calls:
    """Streams the calls on one event loop in a background thread. Each call plays the demo's audio length at
    SPEED, then keeps sending silence in real time until the test releases it (so the test decides when it
    ends), then sends `stop`."""

    url: str
    keys: dict[str, str]
    release: dict[str, threading.Event] = field(default_factory=dict)
    errors: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.release = {call_id: threading.Event() for call_id in self.keys}
        self.thread = threading.Thread(target=lambda: asyncio.run(self._all()), daemon=True)

    def start(self) -> None:
        self.thread.start()

    async def _all(self) -> None:
        await asyncio.gather(*(self._one(call_id, key) for call_id, key in self.keys.items()))

    async def _one(self, call_id: str, key: str) -> None:
        demo_s = demo_call()["duration_s"]
        headers = {"Authorization": f"Bearer {key}"}
        try:
            async with websockets.connect(f"{self.url}/ws/calls/{call_id}/audio", additional_headers=headers,
                                          max_size=None) as ws:
                await ws.send(json.dumps({"type": "start", "encoding": "pcm16", "sample_rate": 16000,
                                          "channels": 2, "legs": ["customer", "agent"], "language": "ja",
                                          "metadata": {"agent": AGENTS[call_id]}}))
                sent, started = 0.0, time.monotonic()
                while sent < demo_s + 0.5 or not self.release[call_id].is_set():
                    speed = SPEED if sent < demo_s + 0.5 else 1.0
                    await ws.send(FRAME)
                    sent += FRAME_S
                    started += FRAME_S / speed
                    await asyncio.sleep(max(0.0, started - time.monotonic()))
                await ws.send(json.dumps({"type": "stop"}))
                async for message in ws:  # only errors come back; the server closes once the legs are flushed
                    self.errors.append(json.loads(message))
        except Exception as exc:  # reported by the test, not lost in the thread
            self.errors.append(repr(exc))

    def finish(self, call_id: str) -> None:
        self.release[call_id].set()

    def join(self) -> None:
        for event in self.release.values():
            event.set()
        self.thread.join(timeout=60)


def _keyed(tmp_path) -> Settings:
    return Settings(home=tmp_path, server={"preload_models": False}, auth={"mode": "keys"},
                    security={"max_audio_speed": 10.0})


@pytest.fixture
def keyed(tmp_path) -> Iterator[tuple[LiveServer, Keys]]:
    require_chromium()
    settings = _keyed(tmp_path)
    store = KeyStore(settings.db_path)
    keys = Keys(supervisor=store.create("supervisor", "floor-lead")[1],
                agents={call_id: store.create("agent", name)[1] for call_id, name in AGENTS.items()},
                agent_only=store.create("agent", "curious")[1])
    with LiveServer(settings, Services(settings, stages=demo_stages()), status_interval_s=1.0) as srv:
        yield srv, keys


def publish(srv: LiveServer, event: Any) -> None:
    """Publish on a live call's hub, on the server's loop: numbered, stored and fanned out like any event."""
    calls = srv.app.state.calls
    hub = calls.hub(event.call_id)
    assert hub is not None, f"call {event.call_id} is not live"
    calls.loop.call_soon_threadsafe(hub.publish, event)


def row(driver: Any, call_id: str) -> Any:
    return driver.find_element("css selector", f'#live-rows tr[data-call="{call_id}"]')


# read in one script: rows come and go while the test polls (a found element may be gone when read)
def rows(driver: Any) -> list[str]:
    return driver.execute_script("return [...document.querySelectorAll('#live-rows tr')].map((r) => r.dataset.call)")


def seconds(driver: Any, call_id: str) -> int:
    return int(driver.execute_script(
        "return document.querySelector(`#live-rows tr[data-call='${arguments[0]}'] .duration`).dataset.seconds",
        call_id))


def talk(turns: list[dict[str, Any]], leg: str) -> float:
    return sum(t["end"] - t["start"] for t in turns if t["speaker"] == leg)


def test_supervisor_console_with_four_live_calls(keyed: tuple[LiveServer, Keys]) -> None:
    srv, keys = keyed
    turns = demo_call()["turns"]
    calls = Calls(srv.url, keys.agents)
    with chromium(width=1600, height=1100) as driver:
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": TAP_SOCKETS})
        driver.get(f"{srv.http}/supervisor")
        assert driver.find_element("css selector", "h1").text == "スーパーバイザー"
        wait_until(lambda: driver.find_element("id", "key-form").is_displayed(), 10, "the key form")
        driver.find_element("id", "api-key").send_keys(keys.supervisor)
        driver.find_element("css selector", "#key-form button").click()
        wait_until(lambda: driver.find_element("id", "wall-text").get_attribute("data-state") == "open", 10,
                   "the wall socket")
        assert driver.find_element("id", "live-empty").is_displayed()
        # the only console error so far: the page's first request, made before it had a key (401)
        assert all(" 401 " in e for e in console_errors(driver)), console_errors(driver)

        # four concurrent calls: a row each, with its agent, and a duration that ticks
        calls.start()
        wait_until(lambda: sorted(rows(driver)) == sorted(AGENTS), 20, "four rows")
        for call_id, agent in AGENTS.items():
            assert row(driver, call_id).find_element("css selector", ".agent-name").text == agent
        before = {c: seconds(driver, c) for c in AGENTS}
        wait_until(lambda: all(seconds(driver, c) >= before[c] + 2 for c in AGENTS), 10, "durations to tick")

        # the top card becomes the topic; once the fee question is asked it is the fees article
        wait_until(lambda: row(driver, "sup-a").find_element("css selector", ".topic-text").text
                   in (ARTICLES["lost-card"][0], ARTICLES["fees"][0]), 20, "the first top card as the topic")

        # an alert and a falling sentiment, published on one call's hub, show on its row
        publish(srv, AlertEvent(call_id="sup-b", rule="test-manager", condition="manager_request",
                                severity="critical", message=AlertText(ja="上司への交代を求めています",
                                                                       en="Asks for a manager"),
                                turn=1, leg="customer", at=6.0, matched="上司を出して"))
        for i, score in enumerate([0.8, 0.8, 0.8, -0.8, -0.8, -0.8]):
            label = "positive" if score > 0 else "negative"
            publish(srv, SentimentEvent(call_id="sup-b", utterance_id=f"test-s{i}", turn=1000 + i, score=score,
                                        label=label))
        chip = wait_until(lambda: row(driver, "sup-b").find_elements(
            "css selector", '.alert-chip[data-rule="test-manager"]'), 10, "the alert on its row")[0]
        assert chip.text == "上司への交代を求めています" and chip.get_attribute("data-severity") == "critical"
        assert row(driver, "sup-b").get_attribute("data-severity") == "critical"
        sentiment = row(driver, "sup-b").find_element("css selector", ".sentiment")
        wait_until(lambda: sentiment.get_attribute("data-trend") == "worse", 10, "the sentiment trend")
        assert sentiment.get_attribute("data-label") == "negative" and "悪化" in sentiment.text
        assert sentiment.find_elements("css selector", "svg.spark polyline")
        assert not row(driver, "sup-a").find_elements("css selector", ".alert-chip[data-rule='test-manager']")

        # every turn done: topic = the last request's top card, talk time = the finals' start..end per leg
        def talk_of(call_id: str) -> tuple[float, float]:
            el = row(driver, call_id).find_element("css selector", ".talk-text")
            return float(el.get_attribute("data-agent")), float(el.get_attribute("data-customer"))

        expected = (talk(turns, "agent"), talk(turns, "customer"))
        for call_id in AGENTS:
            wait_until(lambda c=call_id: all(abs(a - b) < 0.05 for a, b in zip(talk_of(c), expected, strict=True)),
                       40, f"the talk time of {call_id}")
            assert row(driver, call_id).find_element("css selector", ".topic-text").text == ARTICLES["fees"][0]

        # clicking a row opens its live transcript and cards, read-only
        row(driver, "sup-c").click()
        wait_until(lambda: len(driver.find_elements("css selector", "#detail-transcript li.final")) == len(turns),
                   15, "the call's transcript")
        assert [el.text for el in driver.find_elements("css selector", "#detail-transcript li.final .text")] \
            == [t["text"] for t in turns]
        assert driver.find_element("id", "detail-agent").text == "高橋"
        cards = driver.find_elements("css selector", "#detail-cards li.card")
        assert [c.get_attribute("data-article") for c in cards] == ["fees", "lost-card", "reissue"]
        assert not any(b.is_displayed() for b in driver.find_elements("css selector", "#detail-cards button.up"))
        assert "selected" in row(driver, "sup-c").get_attribute("class")
        screenshot(driver, "supervisor-live")

        # three calls end: they leave the wall for the recent list, with their notes
        for call_id in ("sup-a", "sup-b", "sup-c"):
            calls.finish(call_id)
        wait_until(lambda: rows(driver) == ["sup-d"], 30, "the ended calls to leave the wall")

        def recent_notes(call_id: str) -> str:
            return driver.execute_script(
                "const el = document.querySelector(`#recent > li[data-call='${arguments[0]}'] .recent-notes`);"
                "return el && el.dataset.state === 'ready' ? el.textContent : ''", call_id)

        for call_id in ("sup-a", "sup-b", "sup-c"):
            wait_until(lambda c=call_id: "財布ごとカードを紛失した" in recent_notes(c), 20, f"the notes of {call_id}")
        item = driver.find_element("css selector", '#recent li[data-call="sup-b"]')
        assert item.find_element("css selector", ".agent-name").text == "鈴木"
        assert item.find_element("css selector", ".outcome").text == "解決"
        # the open call's view follows it to its end: state and notes
        wait_until(lambda: driver.find_element("id", "detail-state").get_attribute("data-state") == "ended", 10,
                   "the open call's end")
        wait_until(lambda: "財布ごとカードを紛失した" in driver.find_element("id", "detail-notes").text, 10,
                   "the notes in the open call's view")

        # a reload mid-call: the live row comes back from the wall's status (agent, topic, talk), the recent list
        # from REST, and the alert raised before the reload from the call's own events (the backfill)
        publish(srv, AlertEvent(call_id="sup-d", rule="test-silence", condition="silence", severity="warning",
                                message=AlertText(ja="沈黙が続いています", en="Long silence"), at=30.0, value=9.0))
        wait_until(lambda: row(driver, "sup-d").find_elements("css selector", '[data-rule="test-silence"]'), 10,
                   "the second alert")
        driver.refresh()
        wait_until(lambda: rows(driver) == ["sup-d"], 15, "the live row after a reload")
        reloaded = row(driver, "sup-d")
        assert reloaded.find_element("css selector", ".agent-name").text == "田中"
        assert reloaded.find_element("css selector", ".topic-text").text == ARTICLES["fees"][0]
        assert seconds(driver, "sup-d") >= 10
        wait_until(lambda: row(driver, "sup-d").find_elements("css selector", '[data-rule="test-silence"]'), 10,
                   "the earlier alert, backfilled")
        assert row(driver, "sup-d").get_attribute("data-severity") == "warning"
        wait_until(lambda: all(recent_notes(c) for c in ("sup-a", "sup-b", "sup-c")), 10, "the recent list")
        urls = driver.execute_script("return window.__sockets.map((s) => s.url)")
        assert any(u.endswith("/ws/events") for u in urls), urls

        # English at the flip of a switch
        driver.find_element("id", "lang-toggle").click()
        assert driver.find_element("id", "live-heading").text == "Live calls"
        assert "Agent" in row(driver, "sup-d").find_element("css selector", ".talk-text").text
        assert row(driver, "sup-d").find_element("css selector", '[data-rule="test-silence"]').text == "Long silence"
        driver.find_element("id", "lang-toggle").click()

        # the last call ends too
        calls.finish("sup-d")
        wait_until(lambda: not rows(driver) and driver.find_element("id", "live-empty").is_displayed(), 30,
                   "an empty wall")
        wait_until(lambda: "財布ごとカードを紛失した" in recent_notes("sup-d"), 20, "the last call's notes")
        order = [el.get_attribute("data-call") for el in driver.find_elements("css selector", "#recent > li")]
        assert order[0] == "sup-d" and sorted(order) == sorted(AGENTS)
        screenshot(driver, "supervisor-ended")
        assert console_errors(driver) == []
    calls.join()
    assert calls.errors == []


def test_a_non_supervisor_key_is_refused(keyed: tuple[LiveServer, Keys]) -> None:
    srv, keys = keyed
    with chromium(width=1200, height=800) as driver:
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": TAP_SOCKETS})
        driver.get(f"{srv.http}/supervisor")
        wait_until(lambda: driver.find_element("id", "key-form").is_displayed(), 10, "the key form")
        assert "unauthorized" in driver.find_element("id", "alert").get_attribute("data-code")
        driver.find_element("id", "api-key").send_keys(keys.agent_only)
        driver.find_element("css selector", "#key-form button").click()
        wait_until(lambda: driver.find_element("id", "alert").get_attribute("data-code") == "forbidden", 10,
                   "the refusal of an agent key")
        assert "スーパーバイザー" in driver.find_element("id", "alert").text
        assert driver.find_element("id", "wall-text").get_attribute("data-state") == "refused"
        assert driver.find_element("id", "key-form").is_displayed()
        assert not driver.execute_script("return window.__sockets.length"), "no socket opened with that key"
        screenshot(driver, "supervisor-refused")
    headers = {"Authorization": f"Bearer {keys.agent_only}"}
    refused = httpx.get(f"{srv.http}/api/supervisor/recent", headers=headers)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    allowed = httpx.get(f"{srv.http}/api/supervisor/recent",
                        headers={"Authorization": f"Bearer {keys.supervisor}"})
    assert allowed.status_code == 200 and allowed.json()["calls"] == []
    page = httpx.get(f"{srv.http}/supervisor")
    assert page.status_code == 200 and "js/supervisor.js" in page.text

