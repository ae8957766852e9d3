"""The widget in headless Chromium against the real server with scripted models (tests/browser/fake_call.py).

One demo call is played through the real audio socket (4x real time); the test then checks what the
agent sees and what the widget sends back: transcript, cards, feedback, notes, saving, reload, language.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from browser.driver import chromium, console_errors, require_chromium, screenshot
from browser.fake_call import demo_call, demo_stages
from support.live import LiveServer, make_settings
from support.wait import async_wait_until, wait_until

from assist.services import Services
from config import Settings

# Installed before the page's own scripts: keeps every WebSocket so the test can drop one mid-call.
pytestmark = pytest.mark.slow  # a real browser
TAP_SOCKETS = """
window.__sockets = [];
const Native = window.WebSocket;
window.WebSocket = class extends Native {
  constructor(...args) { super(...args); window.__sockets.push(this); }
};
"""
DROP_EVENTS = "window.__sockets.filter((s) => s.url.includes('/events') && s.readyState === 1).forEach((s) => s.close())"

WATCH = """
window.__seen = {partials: 0, dupes: 0, lostCard: null};
new MutationObserver(() => {
  const lines = [...document.querySelectorAll('#transcript li')];
  window.__seen.partials += lines.filter((l) => l.classList.contains('partial')).length;
  const ids = lines.map((l) => l.dataset.utterance);
  if (new Set(ids).size !== ids.length) window.__seen.dupes += 1;
  window.__seen.lostCard ??= document.querySelector('[data-article="lost-card"]');
}).observe(document.body, {childList: true, subtree: true, attributes: true});
"""


# ?demo_speed=N plays the demo at N× real time; the default limit refuses audio above 1.5× (audio_too_fast)
FAST_DEMO = {"max_audio_speed": 10.0}


@pytest.fixture
def server(tmp_path) -> Iterator[LiveServer]:
    require_chromium()
    settings = Settings(home=tmp_path, server={"preload_models": False}, auth={"mode": "open"}, security=FAST_DEMO)
    with LiveServer(settings, Services(settings, stages=demo_stages()), status_interval_s=1.0) as srv:
        yield srv


def texts(driver: Any, selector: str) -> list[str]:
    return [el.text for el in driver.find_elements("css selector", selector)]


def test_demo_call_in_the_widget(server: LiveServer) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    turns = demo_call()["turns"]
    with chromium() as driver:
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": TAP_SOCKETS})
        driver.get(f"{server.http}/?demo_speed=4")
        assert driver.find_element("id", "transcript-heading").text == "文字起こし"
        driver.execute_script(WATCH)
        driver.find_element("id", "demo-button").click()
        # the events socket drops mid-call: the widget reconnects with after_seq and misses nothing
        wait_until(lambda: len(texts(driver, "#transcript li.final")) >= 2, 30, "the first finals")
        driver.execute_script(DROP_EVENTS)
        wait_until(lambda: driver.find_element("id", "notes-form").is_displayed(), 60, "the after-call notes")
        call_id = driver.find_element("id", "call-id").get_attribute("value")
        assert call_id.startswith("demo-") and f"call={call_id}" in driver.current_url

        # transcript: every turn once, final, on its leg, in order; partials were shown and replaced
        assert texts(driver, "#transcript li.final .text") == [t["text"] for t in turns]
        legs = [el.get_attribute("class").split()[1] for el in driver.find_elements("css selector", "#transcript li")]
        assert legs == [t["speaker"] for t in turns]
        assert not driver.find_elements("css selector", "#transcript li.partial")
        seen = driver.execute_script("return window.__seen")
        assert seen["partials"] > 0 and seen["dupes"] == 0
        urls = driver.execute_script("return window.__sockets.map((s) => s.url)")
        resumed = [u for u in urls if "/events?after_seq=" in u and not u.endswith("after_seq=0")]
        assert resumed, urls

        # cards: newest first, each article once, updated in place (same DOM node)
        cards = driver.find_elements("css selector", "#suggestions li.card")
        assert [c.get_attribute("data-article") for c in cards] == ["fees", "lost-card", "reissue"]
        assert driver.execute_script(
            "return window.__seen.lostCard === document.querySelector('[data-article=\"lost-card\"]')")
        lost = driver.find_element("css selector", '[data-article="lost-card"]')
        assert lost.find_element("css selector", ".title").text == "カードを紛失・盗難にあった場合"
        assert "落として" in lost.find_element("css selector", ".query").text
        assert "ご不便をおかけしております" in driver.find_element("id", "draft-text").get_attribute("value")
        assert "fees" in texts(driver, "#draft-cites .cite")
        assert not driver.find_elements("css selector", "#draft-cites .cross-lingual"), "same-language draft"
        assert "提示" in driver.find_element("id", "sugg-latency").text

        # feedback from the card buttons reaches the store
        lost.find_element("css selector", ".up").click()
        lost.find_element("css selector", ".title").click()
        driver.find_element("css selector", '[data-article="fees"] .copy').click()

        def feedback() -> list[tuple[str, str]]:
            detail = httpx.get(f"{server.http}/api/calls/{call_id}").json()
            return [(f["article_id"], f["action"]) for f in detail["feedback"]]

        # every card rendered reported `shown`, once (the socket dropped and resumed in between)
        wanted = {("lost-card", "used"), ("lost-card", "clicked"), ("fees", "copied"),
                  ("lost-card", "shown"), ("reissue", "shown"), ("fees", "shown")}
        wait_until(lambda: wanted <= set(feedback()), 10, "feedback rows")
        assert sorted(a for a, action in feedback() if action == "shown") == ["fees", "lost-card", "reissue"]

        # notes: sources highlight on hover, the flagged line is marked 要確認
        inquiry = driver.find_element("css selector", '[data-field="inquiry"] .note-line')
        ActionChains(driver).move_to_element(inquiry).perform()
        highlighted = wait_until(lambda: texts(driver, "#transcript li.highlight .text"), 5, "highlighted turns")
        assert highlighted == [turns[1]["text"]]
        flagged = driver.find_element("css selector", ".note-line.flagged")
        assert flagged.find_element("css selector", ".flag").text == "要確認"
        assert "1,000円" in flagged.find_element("css selector", "textarea").get_attribute("value")
        assert driver.find_element("id", "notes-outcome").get_attribute("value") == "resolved"
        assert len(driver.find_elements("css selector", ".note-line.entity")) == 2
        driver.find_elements("css selector", ".note-line.entity .remove")[1].click()

        # edit and save: PATCH stores the edited notes
        area = inquiry.find_element("css selector", "textarea")
        area.clear()
        area.send_keys("財布ごとクレジットカードを紛失")
        driver.find_element("id", "notes-save").click()
        wait_until(lambda: driver.find_element("id", "notes-save-state").text == "保存しました", 10, "saved")
        summary = httpx.get(f"{server.http}/api/calls/{call_id}").json()["summary"]
        assert summary["edited"] and summary["notes"]["inquiry"][0]["text"] == "財布ごとクレジットカードを紛失"
        assert summary["notes"]["follow_ups"][1]["flagged"] is True
        assert [e["text"] for e in summary["notes"]["entities"]] == ["1985年4月12日"]

        # a reload replays the call from the server: nothing lost, nothing doubled, edits kept
        driver.refresh()
        wait_until(lambda: len(texts(driver, "#transcript li.final")) == len(turns), 20, "replayed transcript")
        wait_until(lambda: driver.find_element("id", "notes-form").is_displayed(), 20, "replayed notes")
        wait_until(lambda: driver.find_element("css selector", '[data-field="inquiry"] textarea')
                 .get_attribute("value") == "財布ごとクレジットカードを紛失", 10, "edited notes restored")
        assert len(driver.find_elements("css selector", "#suggestions li.card")) == 3
        up = driver.find_element("css selector", '[data-article="lost-card"] .up')
        assert up.get_attribute("aria-pressed") == "true"

        # English at the flip of a switch
        driver.find_element("id", "lang-toggle").click()
        assert driver.find_element("id", "transcript-heading").text == "Transcript"
        assert driver.find_element("css selector", ".note-line.flagged .flag").text == "unverified"
        assert texts(driver, "#transcript .who")[:2] == ["Agent", "Customer"]
        driver.find_element("id", "lang-toggle").click()
        screenshot(driver, "widget-fake-demo")
        assert console_errors(driver) == []


def test_bad_call_id_is_refused_in_the_page(server: LiveServer) -> None:
    with chromium(width=480, height=900) as driver:
        driver.get(server.http)
        box = driver.find_element("id", "call-id")
        box.send_keys("bad id!")
        driver.find_element("css selector", "#call-form button").click()
        alert = wait_until(lambda: driver.find_element("id", "alert").text, 5, "an error message")
        assert "bad_call_id" in alert
        driver.get(f"{server.http}/?call=no-such-call")
        alert = wait_until(lambda: driver.find_element("id", "alert").text, 10, "unknown_call")
        assert "unknown_call" in alert
        assert driver.find_element("id", "conn-text").get_attribute("data-state") == "closed"
        screenshot(driver, "widget-side-panel-error")


def test_api_key_mode(tmp_path) -> None:
    """A server in `keys` mode: the page asks for a key, refuses a wrong one, and streams with a right one
    (REST with a bearer header, websockets with the `bearer, <key>` subprotocol)."""
    from assist.auth import KeyStore

    require_chromium()
    settings = Settings(home=tmp_path, server={"preload_models": False}, auth={"mode": "keys"}, security=FAST_DEMO)
    _, key = KeyStore(settings.db_path).create("agent", "widget-test")
    with (LiveServer(settings, Services(settings, stages=demo_stages())) as srv,
          chromium(width=480, height=900) as driver):
        driver.get(f"{srv.http}/?demo_speed=8")
        wait_until(lambda: driver.find_element("id", "key-form").is_displayed(), 10, "the key form")
        driver.find_element("id", "api-key").send_keys("aa_0000_wrongwrongwrongwrong")
        driver.find_element("css selector", "#key-form button").click()
        driver.find_element("id", "demo-button").click()
        alert = wait_until(lambda: driver.find_element("id", "alert").text, 10, "a refused key")
        assert "invalid_key" in alert

        driver.find_element("id", "api-key").send_keys(key)
        driver.find_element("css selector", "#key-form button").click()
        driver.find_element("id", "demo-button").click()
        wait_until(lambda: driver.find_element("id", "notes-form").is_displayed(), 60, "the notes with a valid key")
        assert len(texts(driver, "#transcript li.final")) == len(demo_call()["turns"])
        driver.find_element("css selector", '[data-article="lost-card"] .up').click()
        call_id = driver.find_element("id", "call-id").get_attribute("value")
        headers = {"Authorization": f"Bearer {key}"}
        wait_until(lambda: httpx.get(f"{srv.http}/api/calls/{call_id}", headers=headers).json()["feedback"], 10,
                 "feedback sent with the key")


def test_refused_demo_call_is_reported_and_not_retried(tmp_path) -> None:
    """At the server's call limit the demo's audio socket is refused: the page says why (with the code)
    and its events socket stops waiting for a call that will never exist."""
    import asyncio

    import websockets

    require_chromium()
    settings = make_settings(tmp_path, max_calls=1)

    async def hold_a_call(url: str, release: asyncio.Event) -> None:
        async with websockets.connect(f"{url}/ws/calls/busy/audio") as ws:
            await ws.send('{"type": "start", "call_id": "busy"}')
            await release.wait()

    with (LiveServer(settings, Services(settings, stages=demo_stages())) as srv,
          chromium(width=480, height=900) as driver):
        loop = asyncio.new_event_loop()
        release = asyncio.Event()
        task = loop.create_task(hold_a_call(srv.url, release))
        loop.run_until_complete(async_wait_until(lambda: srv.app.state.calls.active == 1, 10, "the busy call"))
        try:
            driver.get(srv.http)
            driver.find_element("id", "demo-button").click()
            alert = wait_until(lambda: driver.find_element("id", "alert").text, 10, "the refusal")
            assert "too_many_calls" in alert
            wait_until(lambda: driver.find_element("id", "conn-text").get_attribute("data-state") == "closed", 15,
                     "the events socket to give up")
            assert driver.find_element("id", "demo-button").get_attribute("data-state") == "idle"
        finally:
            release.set()
            loop.run_until_complete(task)
            loop.close()
