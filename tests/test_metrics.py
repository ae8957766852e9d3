"""/metrics after calls streamed through the live server: latency histograms, queue depths, dropped partials.

Metrics are process-wide (several apps in one test process share them), so every check is on the change
across one call.
"""

from __future__ import annotations

import asyncio
import threading

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from support.live import fake_stages, silence
from support.wait import wait_until

from assist.replay import replay_call

CUSTOMER = ["カードをなくしました", "再発行はできますか", "手数料はかかりますか", "住所も変わりました"]
RESPONSES = {"カードをなくしました": ["lost-card"], "再発行はできますか": ["reissue"],
             "手数料はかかりますか": ["fees"], "住所も変わりました": ["address-change"]}


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
"""(sample name, sorted labels) -> value"""


def _samples(text: str) -> Samples:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


async def _scrape(client: httpx.AsyncClient) -> Samples:
    response = await client.get("/metrics")
    assert response.status_code == 200
    return _samples(response.text)


def _delta(after: Samples, before: Samples, name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    assert key in after, f"{name}{labels} missing from /metrics"
    return after[key] - before.get(key, 0.0)


async def test_latency_histograms_and_dropped_partials_count_a_call(live) -> None:
    srv = live({"customer": CUSTOMER, "agent": ["承知しました"]}, RESPONSES)
    async with httpx.AsyncClient(base_url=srv.http) as client:
        before = await _scrape(client)
        events = await replay_call(srv.url, "m-1", {"customer": silence(2.2), "agent": silence(0.6)},
                                   realtime=False, start_options={"interim_results": False}, timeout_s=30)
        after = await _scrape(client)

    cards = [e for e in events if e["type"] == "suggestions"]
    assert len(cards) == len(CUSTOMER)
    final_to_cards = _delta(after, before, "assist_final_to_suggestions_seconds_count")
    assert final_to_cards == len(cards)
    assert _delta(after, before, "assist_final_to_suggestions_seconds_bucket", le="+Inf") == len(cards)
    assert 0 < _delta(after, before, "assist_final_to_suggestions_seconds_sum") < 5.0 * len(cards)
    # the fake recognizer reports 0.2 s from speech end to each final
    assert _delta(after, before, "assist_speech_end_to_final_seconds_count", leg="customer") == len(CUSTOMER)
    assert _delta(after, before, "assist_speech_end_to_final_seconds_bucket", leg="agent", le="0.25") == 1
    assert _delta(after, before, "assist_speech_end_to_suggestions_seconds_count") == len(cards)
    # interim_results off: one partial per utterance (4 customer + 1 agent) counted, none sent
    assert _delta(after, before, "assist_partials_dropped_total") == len(CUSTOMER) + 1
    assert not any(e["type"] == "transcript" and not e["final"] for e in events)
    # the call is over: nothing waiting, no call live
    assert after[("assist_queue_depth", (("queue", "suggestions"),))] == 0
    assert after[("assist_active_calls", ())] == 0


@pytest.mark.slow  # a real-time call: 2.2 s of audio, 0.8 s per retrieval
async def test_queue_depth_and_active_calls_while_a_call_waits_for_retrieval(live) -> None:
    stages = fake_stages({"customer": CUSTOMER}, RESPONSES)
    # a final every 0.5 s of real-time audio, 0.8 s to retrieve each: finals queue up while the call is live
    stages.retrieval.delay_s = 0.8  # type: ignore[attr-defined]
    srv = live(stages=stages)
    seen: list[tuple[float, float]] = []
    async with httpx.AsyncClient(base_url=srv.http) as client:
        call = asyncio.create_task(replay_call(srv.url, "m-2", {"customer": silence(2.2)}, timeout_s=30))
        while not call.done():
            now = await _scrape(client)
            seen.append((now[("assist_queue_depth", (("queue", "suggestions"),))], now[("assist_active_calls", ())]))
            await asyncio.sleep(0.05)
        events = await call
        after = await _scrape(client)
    assert max((depth for depth, active in seen if active == 1), default=0) >= 1, "finals queued while live"
    assert max(depth for depth, _ in seen) <= len(CUSTOMER), "the waiting finals (and the end marker), no more"
    assert max(active for _, active in seen) == 1, seen
    assert len([e for e in events if e["type"] == "suggestions"]) == len(CUSTOMER)
    assert after[("assist_queue_depth", (("queue", "suggestions"),))] == 0


async def test_store_writer_depth_is_the_writes_waiting(live) -> None:
    srv = live()
    writer = srv.app.state.calls.writer
    running, release = threading.Event(), threading.Event()
    writer.submit(lambda _store: (running.set(), release.wait(10)))
    try:
        wait_until(running.is_set, 10, "the store writer to take the blocking write")
        for _ in range(3):
            writer.submit(lambda _store: None)
        async with httpx.AsyncClient(base_url=srv.http) as client:
            blocked = await _scrape(client)
            release.set()
            await asyncio.to_thread(writer.flush)
            drained = await _scrape(client)
    finally:
        release.set()
    depth = ("assist_queue_depth", (("queue", "store_writer"),))
    assert blocked[depth] == 3, "three writes wait behind the blocked one"
    assert drained[depth] == 0
