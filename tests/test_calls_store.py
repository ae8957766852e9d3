"""Call history: written as it happens, interrupted calls marked at start-up, REST and CLI over it."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from support.live import silence
from support.postgres import StoreTarget

from assist.cli import main
from assist.replay import replay_call
from assist.store import CallStore


def test_store_round_trip_and_interrupted(store_target: StoreTarget) -> None:
    store = CallStore(store_target("a.db"))
    store.create_call("c1", language="ja", source="websocket", legs=["customer"])
    store.add_events([("c1", 1, "call_started", 1.0, '{"seq": 1}'), ("c1", 2, "status", 2.0, '{"seq": 2}')])
    store.add_utterance("c1", "u0", leg="customer", text="カードを****", start=0.0, end=1.0)
    store.add_feedback("c1", "lost-card", "used")
    store.close()
    again = CallStore(store_target("a.db"))
    assert again.interrupt_calls(None, by="w2") == ["c1"], "a call stored without a worker id"
    call = again.get_call("c1")
    assert call is not None and call.state == "interrupted"
    assert again.last_seq("c1") == 2 and again.events_after("c1", 1) == [{"seq": 2}]
    assert [u["text"] for u in again.utterances("c1")] == ["カードを****"]
    assert again.feedback("c1")[0]["action"] == "used"


async def test_rest_calls_feedback_and_summary_patch(live) -> None:
    srv = live({"customer": ["カードをなくしました"]}, {"カードをなくしました": ["lost-card"]})
    await replay_call(srv.url, "rest-1", {"customer": silence(0.6)}, realtime=False, timeout_s=20)
    async with httpx.AsyncClient(base_url=srv.http) as client:
        listing = (await client.get("/api/calls")).json()
        assert [c["id"] for c in listing["calls"]] == ["rest-1"]
        assert (await client.get("/api/calls", params={"state": "live"})).json()["calls"] == []

        missing = await client.get("/api/calls/nope")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "unknown_call"

        ok = await client.post("/api/calls/rest-1/feedback", json={"article_id": "lost-card", "action": "copied"})
        assert ok.status_code == 201 and ok.json()["action"] == "copied"
        bad = await client.post("/api/calls/rest-1/feedback", json={"article_id": "lost-card", "action": "liked"})
        assert bad.status_code == 422
        assert bad.json()["error"]["code"] == "invalid_request"
        assert [f["field"] for f in bad.json()["error"]["fields"]] == ["action"]

        notes = (await client.get("/api/calls/rest-1")).json()["summary"]["notes"]
        notes["follow_ups"] = [{"text": "再発行カードの到着を確認", "turns": [0]}]
        patched = await client.patch("/api/calls/rest-1/summary", json=notes)
        assert patched.status_code == 200
        body = patched.json()
        assert body["edited"] and body["notes"]["edited"] and body["notes"]["follow_ups"][0]["text"].startswith("再発行")
        assert body["generated"]["follow_ups"] == [], "the generated notes are kept beside the edit"
        invalid = await client.patch("/api/calls/rest-1/summary", json={"result": "maybe"})
        assert invalid.status_code == 422 and "result" in {f["field"] for f in invalid.json()["error"]["fields"]}

        detail = (await client.get("/api/calls/rest-1")).json()
        assert [f["action"] for f in detail["feedback"]] == ["copied"]
        metrics = (await client.get("/metrics")).text
        assert "assist_speech_end_to_suggestions_seconds_bucket" in metrics and "assist_active_calls 0.0" in metrics


def test_calls_cli(tmp_path: Path, store_target: StoreTarget, monkeypatch, capsys) -> None:
    monkeypatch.setenv("ASSIST_HOME", str(tmp_path))
    target = store_target("assist.db")
    if isinstance(target, str):
        monkeypatch.setenv("ASSIST_DATABASE_URL", target)  # the CLI finds the calls where the settings say
    store = CallStore(target)
    store.create_call("cli-1", language="ja", source="websocket", legs=["customer"])
    store.add_utterance("cli-1", "u0", leg="customer", text="カードをなくしました", start=0.0, end=1.0)
    store.end_call("cli-1", reason="stop")
    store.close()
    assert main(["calls", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["id"] == "cli-1"
    assert main(["calls", "show", "cli-1"]) == 0
    assert "カードをなくしました" in capsys.readouterr().out
    out = tmp_path / "export.jsonl"
    assert main(["calls", "export", "--output", str(out)]) == 0
    exported = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert exported[0]["id"] == "cli-1" and exported[0]["utterances"][0]["text"] == "カードをなくしました"
    assert main(["calls", "show", "nope"]) == 1
