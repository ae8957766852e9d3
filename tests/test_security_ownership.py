"""Calls are isolated between agents: two agent keys (A owns the calls, B attacks) against the real server in keys
mode with fake models; reconnects continue a call with new utterance ids and never overwrite rows or edited notes.
The store-level rules (epochs, insert-only utterances, edited notes kept) are tested on a bare ``CallStore``."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from support.auth import KeyedServer, start_keyed, ws_outcome
from support.live import FakeSummarizer, recv_all, recv_json
from support.postgres import StoreTarget
from support.wait import async_wait_until

from assist.calls import CallManager
from assist.store import CallStore
from summarize.base import ArticleRef, Turn
from summarize.notes import CallNotes

START = {"type": "start", "encoding": "pcm16", "sample_rate": 16000, "leg": "customer"}
FIRST = ["カードをなくしました", "再発行できますか"]
SECOND = ["住所も変えたいです"]


class RecordingSummarizer(FakeSummarizer):
    """The fake summarizer, remembering the turns it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.turns: list[Turn] = []

    def summarize(self, turns: Sequence[Turn], *, language: str, articles: Sequence[ArticleRef] = ()) -> CallNotes:
        self.turns = list(turns)
        return super().summarize(turns, language=language, articles=articles)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeyedServer]:
    keyed = start_keyed(tmp_path_factory.mktemp("ownership"), scripts={"customer": FIRST})
    keyed.srv.services.stages.summarizer = RecordingSummarizer()
    yield keyed
    keyed.srv.__exit__(None, None, None)


def _manager(server: KeyedServer) -> CallManager:
    return server.srv.app.state.calls


def _socket(server: KeyedServer, role: str, path: str) -> Any:
    return websockets.connect(f"{server.url}{path}", additional_headers=server.headers(role), open_timeout=10,
                              max_size=None)


async def _send_audio(audio: Any, seconds: float) -> None:
    for _ in range(round(seconds / 0.1)):
        await audio.send(b"\x00\x00" * 1600)


async def _call_as(url: str, headers: dict[str, str], manager: CallManager, call_id: str,
                   utterances: int) -> list[dict[str, Any]]:
    """Start, ``utterances`` × 0.5 s of audio, stop; every event of the call from seq 1 (ends after the summary).
    The events socket connects once the call is live: ``wait=1`` on an ended call replays it and closes."""
    def connect(path: str) -> Any:
        return websockets.connect(f"{url}{path}", additional_headers=headers, open_timeout=10, max_size=None)

    async with connect(f"/ws/calls/{call_id}/audio") as audio:
        await audio.send(json.dumps(START))
        await async_wait_until(lambda: (s := manager.get(call_id)) is not None and s.state == "live", 10,
                               f"{call_id} to be live")
        async with connect(f"/ws/calls/{call_id}/events?after_seq=0") as events:
            await _send_audio(audio, 0.5 * utterances)
            await audio.send(json.dumps({"type": "stop"}))
            seen = await recv_all(events)
    assert not [e for e in seen if e["type"] == "error"], seen
    return seen


async def _whole_call(server: KeyedServer, role: str, call_id: str, utterances: int) -> list[dict[str, Any]]:
    return await _call_as(server.url, server.headers(role), _manager(server), call_id, utterances)


async def _refusal(ws: Any) -> tuple[str, int | None]:
    """The error code the server sent and the close code that followed."""
    message = await recv_json(ws)
    try:
        await asyncio.wait_for(ws.recv(), 5)
    except websockets.ConnectionClosed as exc:
        return message.get("code"), exc.rcvd.code if exc.rcvd else None
    raise AssertionError(f"socket not closed after {message}")


async def _get(server: KeyedServer, role: str, path: str, **params: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=server.http, timeout=10) as client:
        return await client.get(path, headers=server.headers(role), params=params)


# ---------------------------------------------------------------- subscribing


async def test_agent_cannot_subscribe_to_another_agents_call_live_or_ended(server: KeyedServer) -> None:
    call = "iso-sub"
    async with _socket(server, "agent", f"/ws/calls/{call}/events?wait=1") as mine, \
            _socket(server, "agent", f"/ws/calls/{call}/audio") as audio:
        await audio.send(json.dumps(START))
        assert (await recv_json(mine))["type"] == "call_started"
        message, code = await ws_outcome(f"{server.url}/ws/calls/{call}/events", headers=server.headers("agent2"))
        assert message is not None and message["code"] == "forbidden" and code == 1008, (message, code)
        async with _socket(server, "supervisor", f"/ws/calls/{call}/events") as watcher:
            assert (await recv_json(watcher))["type"] == "call_started", "supervisors read every call"
        await _send_audio(audio, 0.5)
        await audio.send(json.dumps({"type": "stop"}))
        owner_saw = [e["type"] for e in await recv_all(mine)]
    assert owner_saw[-2:] == ["call_ended", "summary"]
    for after in ("0", "3"):  # ended: replayed from memory or the store, never to another agent
        message, code = await ws_outcome(f"{server.url}/ws/calls/{call}/events?after_seq={after}",
                                         headers=server.headers("agent2"))
        assert message is not None and message["code"] == "forbidden" and code == 1008
        assert "text" not in message
    assert (await _get(server, "agent2", f"/api/calls/{call}")).status_code == 403
    replay = await _get(server, "supervisor", f"/api/calls/{call}")
    assert replay.status_code == 200 and [u["text"] for u in replay.json()["utterances"]] == FIRST[:1]


async def test_waiting_subscription_is_refused_when_the_call_opens_for_another_key(server: KeyedServer) -> None:
    call = "iso-wait"
    manager = _manager(server)
    async with _socket(server, "agent2", f"/ws/calls/{call}/events?wait=1") as spy, \
            _socket(server, "agent", f"/ws/calls/{call}/events?wait=1") as mine:
        await async_wait_until(lambda: manager.waiting() >= 2, 10, "two waiting sockets")
        async with _socket(server, "agent", f"/ws/calls/{call}/audio") as audio:
            await audio.send(json.dumps(START))
            code, close = await _refusal(spy)
            assert (code, close) == ("forbidden", 1008), "the spy never sees call_started"
            assert (await recv_json(mine))["type"] == "call_started"
            await audio.send(json.dumps({"type": "stop"}))
            await recv_all(mine)
    assert call not in manager._waiters


async def test_abandoned_waiters_are_removed(server: KeyedServer) -> None:
    manager = _manager(server)
    for n in range(3):
        async with _socket(server, "agent", f"/ws/calls/never-starts-{n}/events?wait=1"):
            await async_wait_until(lambda n=n: f"never-starts-{n}" in manager._waiters, 10, f"waiter never-starts-{n}")
    await async_wait_until(lambda: manager.waiting() == 0 and not manager._waiters, 10, "no waiters left")


# ---------------------------------------------------------------- streaming


async def test_agent_cannot_stream_into_or_revive_another_agents_call(server: KeyedServer) -> None:
    call = "iso-stream"
    # B's sockets open before the call exists, so the connect-time check cannot stop them: join must
    async with _socket(server, "agent2", f"/ws/calls/{call}/audio") as early, \
            _socket(server, "agent2", f"/ws/calls/{call}/audio") as late, \
            _socket(server, "agent", f"/ws/calls/{call}/events?wait=1") as mine, \
            _socket(server, "agent", f"/ws/calls/{call}/audio") as audio:
        await audio.send(json.dumps(START))
        assert (await recv_json(mine))["type"] == "call_started"
        await early.send(json.dumps({**START, "leg": "agent"}))
        assert await _refusal(early) == ("forbidden", 1008), "B may not attach a leg to A's live call"
        message, code = await ws_outcome(f"{server.url}/ws/calls/{call}/audio", headers=server.headers("agent2"))
        assert message is not None and message["code"] == "forbidden" and code == 1008
        message, code = await ws_outcome(f"{server.url}/ws/calls/{call}/audio", headers=server.headers("supervisor"))
        assert message is not None and message["code"] == "forbidden" and code == 1008, "supervisors never stream"
        await _send_audio(audio, 0.5)
        await audio.send(json.dumps({"type": "stop"}))
        await recv_all(mine)
        await async_wait_until(lambda: _manager(server).get(call) is None, 10, f"{call} to be retired")
        await late.send(json.dumps(START))
        assert await _refusal(late) == ("forbidden", 1008), "B may not revive A's ended call"
    message, code = await ws_outcome(f"{server.url}/ws/calls/{call}/audio", headers=server.headers("agent2"))
    assert message is not None and message["code"] == "forbidden" and code == 1008
    detail = (await _get(server, "agent", f"/api/calls/{call}")).json()
    assert detail["state"] == "ended" and detail["epoch"] == 0
    assert detail["metadata"]["owner"] == server.key_ids["agent"]
    assert [u["utterance_id"] for u in detail["utterances"]] == ["c0"]


async def test_agent_cannot_edit_or_give_feedback_on_another_agents_call(server: KeyedServer) -> None:
    call = "iso-rest"
    await _whole_call(server, "agent", call, 1)
    notes = {"language": "ja", "inquiry": [{"text": "B was here", "turns": [0]}]}
    feedback = {"article_id": "lost-card", "action": "used"}
    async with httpx.AsyncClient(base_url=server.http, timeout=10) as client:
        for role in ("agent2", "supervisor"):
            patch = await client.patch(f"/api/calls/{call}/summary", json=notes, headers=server.headers(role))
            post = await client.post(f"/api/calls/{call}/feedback", json=feedback, headers=server.headers(role))
            assert patch.status_code == post.status_code == 403, (role, patch.text, post.text)
            assert patch.json()["error"]["code"] == "forbidden"
        detail = (await client.get(f"/api/calls/{call}", headers=server.headers("agent"))).json()
        own = await client.post(f"/api/calls/{call}/feedback", json=feedback, headers=server.headers("agent"))
    assert detail["feedback"] == [] and not detail["summary"]["edited"]
    assert own.status_code == 201


# ---------------------------------------------------------------- reconnects and notes


async def test_reconnect_continues_the_call_and_keeps_rows_and_edited_notes(server: KeyedServer) -> None:
    call = "recon-1"
    stages = server.srv.services.stages
    first = await _whole_call(server, "agent", call, 2)
    assert [e["utterance_id"] for e in first if e["type"] == "transcript" and e["final"]] == ["c0", "c1"]
    edited = {"language": "ja", "inquiry": [{"text": "カード番号 4532 0151 1283 0366 の再発行", "turns": [0]}],
              "entities": [{"kind": "card", "text": "4532-0151-1283-0366", "value": "4532015112830366"}],
              "follow_ups": [{"text": "到着確認", "turns": [1]}]}
    async with httpx.AsyncClient(base_url=server.http, timeout=10) as client:
        patched = await client.patch(f"/api/calls/{call}/summary", json=edited, headers=server.headers("agent"))
    assert patched.status_code == 200, patched.text
    stored = patched.json()["notes"]
    assert stored["inquiry"][0]["text"] == "カード番号 **** **** **** **** の再発行", "edited notes are masked"
    assert "4532" not in json.dumps(stored) and stored["edited"]

    stages.asr.scripts["customer"] = SECOND
    try:
        second = await _whole_call(server, "agent", call, 1)
    finally:
        stages.asr.scripts["customer"] = FIRST
    finals = [e for e in second if e["type"] == "transcript" and e["final"]]
    assert [(e["utterance_id"], e["text"]) for e in finals][-1] == ("e1:c0", SECOND[0])
    seqs = [e["seq"] for e in second]
    assert seqs == list(range(1, len(seqs) + 1)), "the reconnect continues the call's seq (the widget replays all)"

    detail = (await _get(server, "agent", f"/api/calls/{call}")).json()
    assert detail["epoch"] == 1 and detail["state"] == "ended"
    assert [(u["utterance_id"], u["idx"], u["text"]) for u in detail["utterances"]] == [
        ("c0", 0, FIRST[0]), ("c1", 1, FIRST[1]), ("e1:c0", 2, SECOND[0])]
    assert [t.text for t in stages.summarizer.turns] == [*FIRST, *SECOND], "notes cover every stored utterance"
    assert [t.index for t in stages.summarizer.turns] == [0, 1, 2]
    summary = detail["summary"]
    assert summary["edited"] and summary["notes"] == stored, "the agent's edit survives the end-of-call notes"
    assert summary["generated"]["inquiry"][0] == {"text": FIRST[0], "turns": [0], "flagged": False}


async def test_offset_and_after_seq_are_bounded(server: KeyedServer) -> None:
    assert (await _get(server, "agent", "/api/calls", offset=100_000)).status_code == 200
    too_far = await _get(server, "agent", "/api/calls", offset=100_001)
    assert too_far.status_code == 422 and "query.offset" in {f["field"] for f in too_far.json()["error"]["fields"]}
    for raw in ("%C2%B2", "%D9%A3", "1e3", "-1", "", "1" * 16):  # ², Arabic-Indic 3: isdigit() but not ASCII
        message, code = await ws_outcome(f"{server.url}/ws/calls/iso-sub/events?after_seq={raw}",
                                         headers=server.headers("agent"))
        assert message is not None and message["code"] == "bad_after_seq" and code == 1008, (raw, message)


async def test_open_mode_reconnects_get_epochs(live) -> None:
    srv = live({"customer": FIRST[:1]})
    for _ in range(2):
        await _call_as(srv.url, {}, srv.app.state.calls, "open-recon", 1)
    async with httpx.AsyncClient(base_url=srv.http, timeout=10) as client:
        detail = (await client.get("/api/calls/open-recon")).json()
    assert [u["utterance_id"] for u in detail["utterances"]] == ["c0", "e1:c0"] and detail["epoch"] == 1


# ---------------------------------------------------------------- the store


def test_store_epochs_and_owner_guard(store_target: StoreTarget) -> None:
    store = CallStore(store_target("calls.db"))
    meta_a = {"owner": "aaaa"}
    assert store.create_call("c", language="ja", source="websocket", legs=["customer"], metadata=meta_a) == 0
    store.end_call("c", reason="stop")
    refused = store.create_call("c", language="ja", source="websocket", legs=["customer"],
                                metadata={"owner": "bbbb"}, same_owner=True)
    row = store.get_call("c")
    assert refused is None and row is not None and row.state == "ended" and row.epoch == 0
    assert store.create_call("c", language="ja", source="websocket", legs=["customer"], metadata=meta_a,
                             same_owner=True) == 1
    assert store.create_call("c", language="en", source="websocket", legs=["agent"],
                             metadata={"owner": "admin", "x": "y"}) == 2
    row = store.get_call("c")
    assert row is not None and row.state == "live" and row.metadata == meta_a and row.language == "ja"
    assert store.create_call("open", language="ja", source="websocket", legs=["customer"]) == 0
    assert store.create_call("open", language="ja", source="websocket", legs=["customer"], same_owner=True) == 1


def test_store_never_overwrites_utterances_or_edited_notes(store_target: StoreTarget) -> None:
    store = CallStore(store_target("calls.db"))
    store.create_call("c", language="ja", source="websocket", legs=["customer"])
    assert store.add_utterance("c", "customer-0", leg="customer", text="一回目", start=0.0, end=1.0)
    assert store.add_utterance("c", "customer-1", leg="customer", text="二回目", start=1.0, end=2.0)
    assert not store.add_utterance("c", "customer-0", leg="customer", text="上書き", start=0.0, end=1.0)
    assert store.add_utterance("c", "e1:customer-0", leg="customer", text="再接続", start=0.0, end=1.0)
    assert [(u["utterance_id"], u["idx"], u["text"]) for u in store.utterances("c")] == [
        ("customer-0", 0, "一回目"), ("customer-1", 1, "二回目"), ("e1:customer-0", 2, "再接続")]

    store.save_summary("c", {"v": "generated-1"})
    assert store.summary("c")["notes"] == {"v": "generated-1"}
    store.save_summary("c", {"v": "generated-2"})
    assert store.summary("c")["notes"] == {"v": "generated-2"}, "unedited notes follow the newest generation"
    store.save_summary("c", {"v": "agent"}, edited=True)
    store.save_summary("c", {"v": "generated-3"})
    summary = store.summary("c")
    assert summary["notes"] == {"v": "agent"} and summary["generated"] == {"v": "generated-3"} and summary["edited"]


def test_store_adds_the_epoch_column_to_an_old_database(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE calls (id TEXT PRIMARY KEY, started REAL NOT NULL, ended REAL, state TEXT NOT NULL, "
                   "language TEXT, source TEXT, legs TEXT NOT NULL DEFAULT '[]', metadata TEXT NOT NULL DEFAULT '{}', "
                   "end_reason TEXT)")
        db.execute("INSERT INTO calls (id, started, state) VALUES ('old', 1.0, 'ended')")
    store = CallStore(path)
    row = store.get_call("old")
    assert row is not None and row.epoch == 0
    assert store.create_call("old", language="ja", source="websocket", legs=["customer"]) == 1
    store.close()
    assert CallStore(path).get_call("old").epoch == 1, "the migration runs once"
