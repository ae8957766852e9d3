"""Alerts through the live service with fake models: an abusive turn's alert reaches the call's stream (the agent's
widget) and the supervisor wall within the same turn; paraphrases follow from the executor; rules reload live."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
from support.live import connect, fake_stages, recv_json, silence
from support.retrieval_fakes import KeywordEmbedder

from assist.alerts.live import AlertMonitor
from assist.alerts.paraphrase import Paraphraser
from assist.alerts.rules import RulesSource
from assist.events import parse_event
from assist.replay import replay_call

CUSTOMER = ["カードをなくしました", "ふざけるな、いつまで待たせるんだ", "再発行はできますか"]
RESPONSES = {"カードをなくしました": ["lost-card"], "再発行はできますか": ["reissue"]}


def _stages(customer: list[str], monitor: AlertMonitor) -> Any:
    stages = fake_stages({"customer": customer, "agent": ["お電話ありがとうございます"]}, RESPONSES)
    stages.alerts = monitor
    return stages


def _index(events: list[dict[str, Any]], **match: Any) -> int:
    return next(i for i, e in enumerate(events) if all(e.get(k) == v for k, v in match.items()))


async def test_abusive_turn_alerts_the_call_stream_and_the_wall_within_the_turn(live) -> None:
    srv = live(stages=_stages(CUSTOMER, AlertMonitor(RulesSource(None))))
    async with await connect(f"{srv.url}/ws/events") as wall:
        events = await replay_call(srv.url, "abusive", {"customer": silence(1.7), "agent": silence(0.6)},
                                   realtime=False, timeout_s=30)
        on_wall: list[dict[str, Any]] = []
        while not any(e["type"] == "summary" for e in on_wall):
            on_wall.append(await recv_json(wall))
    for e in events:
        parse_event(e)
    alerts = [e for e in events if e["type"] == "alert"]
    assert [(a["rule"], a["category"], a["utterance_id"], a["leg"]) for a in alerts] == [
        ("kasuhara-abuse", "verbal_abuse", "c1", "customer")]
    alert = alerts[0]
    assert alert["notify_agent"] and alert["severity"] == "warning" and alert["turn"] is not None
    assert alert["message"]["ja"].startswith("カスハラの可能性（暴言）") and "ふざけるな" in alert["matched"]

    final = _index(events, type="transcript", final=True, utterance_id="c1")
    following = _index(events, type="transcript", final=True, utterance_id="c2")
    at = events.index(alert)
    assert final < at < following, "the alert comes with its own turn, before the next final"
    assert alert["ts"] - events[final]["ts"] < 2.0

    sentiment = {e["utterance_id"]: e for e in events if e["type"] == "sentiment"}
    assert set(sentiment) == {"c0", "c1", "c2"}, "one sentiment event per customer final"
    assert sentiment["c1"]["label"] == "negative" and sentiment["c0"]["label"] == "neutral"

    assert [e["rule"] for e in on_wall if e["type"] == "alert"] == ["kasuhara-abuse"], "the supervisor wall sees it"


async def test_paraphrase_alert_arrives_before_the_call_ends(live) -> None:
    paraphraser = Paraphraser(KeywordEmbedder(), examples={"threat": ["夜道には気をつけろ"]},
                              calm=["手続きを教えてください"], similarity=0.5)
    customer = ["カードをなくしました", "夜道を一人で歩くときは気をつけたほうがいいですよ"]
    srv = live(stages=_stages(customer, AlertMonitor(RulesSource(None), paraphraser)))
    events = await replay_call(srv.url, "veiled", {"customer": silence(1.2), "agent": silence(0.6)},
                               realtime=False, timeout_s=30)
    alerts = [e for e in events if e["type"] == "alert"]
    assert [(a["rule"], a["category"], a["utterance_id"]) for a in alerts] == [("kasuhara-threat", "threat", "c1")]
    assert alerts[0]["value"] > 0.5 and alerts[0]["severity"] == "critical"
    assert events.index(alerts[0]) < _index(events, type="call_ended")


async def test_calm_call_raises_no_alert_and_rules_reload_between_calls(live, tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text('[[rules]]\nid = "fees"\ncondition = "keywords"\nphrases = ["手数料"]\n', encoding="utf-8")
    srv = live(stages=_stages(["カードをなくしました", "再発行はできますか"],
                              AlertMonitor(RulesSource(path, check_interval_s=0.0))))
    events = await replay_call(srv.url, "calm-1", {"customer": silence(1.2)}, realtime=False, timeout_s=30)
    assert [e for e in events if e["type"] == "alert"] == []

    path.write_text('[[rules]]\nid = "reissue"\ncondition = "keywords"\nphrases = ["再発行"]\nseverity = "info"\n',
                    encoding="utf-8")
    os.utime(path, ns=(path.stat().st_mtime_ns + 10**9,) * 2)
    events = await replay_call(srv.url, "calm-2", {"customer": silence(1.2)}, realtime=False, timeout_s=30)
    assert [(e["rule"], e["utterance_id"]) for e in events if e["type"] == "alert"] == [("reissue", "c1")]

    path.write_text('[[rules]]\nid = "broken"\ncondition = "keywords"\n', encoding="utf-8")
    os.utime(path, ns=(path.stat().st_mtime_ns + 2 * 10**9,) * 2)
    events = await replay_call(srv.url, "calm-3", {"customer": silence(1.2)}, realtime=False, timeout_s=30)
    assert [e["rule"] for e in events if e["type"] == "alert"] == ["reissue"], "a bad edit keeps the rules in force"
    assert srv.services.stages.alerts.source.error is not None


@pytest.mark.slow  # a real browser
def test_widget_shows_agent_alerts_as_banners(live) -> None:
    from browser.driver import chromium, console_errors, require_chromium, screenshot
    from support.wait import wait_until

    require_chromium()
    customer = ["カードをなくしました", "ふざけるな、いつまで待たせるんだ", "上司を出せ"]
    srv = live(stages=_stages(customer, AlertMonitor(RulesSource(None))))
    asyncio.run(replay_call(srv.url, "banner", {"customer": silence(1.7), "agent": silence(0.6)}, realtime=False,
                            timeout_s=30))
    with chromium() as driver:
        driver.get(f"{srv.http}/?call=banner&lang=ja")
        banners = lambda: driver.find_elements("css selector", "#alerts .alert-banner")  # noqa: E731
        wait_until(lambda: len(banners()) == 2, 15, "two alert banners")
        first = banners()[0]  # the newest on top
        assert first.get_attribute("data-rule") == "manager-request"
        assert first.find_element("css selector", ".alert-severity").text == "注意"
        assert "責任者対応の依頼" in first.find_element("css selector", ".alert-message").text
        assert banners()[1].get_attribute("data-rule") == "kasuhara-abuse"
        screenshot(driver, "alerts-widget")
        driver.find_element("id", "lang-toggle").click()
        wait_until(lambda: banners()[0].find_element("css selector", ".alert-severity").text == "Warning", 5,
                   "the banner in English")
        assert "asks for a manager" in banners()[0].find_element("css selector", ".alert-message").text
        banners()[0].find_element("css selector", ".alert-close").click()
        wait_until(lambda: len(banners()) == 1, 5, "a dismissed banner")
        assert console_errors(driver) == []
