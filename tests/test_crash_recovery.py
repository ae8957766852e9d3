"""SIGKILL mid-call: whatever the widget already saw is in the store, the call is marked interrupted
after restart, and the restarted server takes new calls.

The server is the real app (store, sessions, websockets) in a subprocess with scripted models (this file
run as a script), so the kill hits a process with live threads and an open SQLite WAL.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import websockets
from support.server_process import start_server

HERE = Path(__file__).parent
CUSTOMER = ["カードをなくしました", "再発行はできますか", "手数料はかかりますか", "いつ届きますか", "以上です"]
RESPONSES = {"カードをなくしました": ["lost-card"], "再発行はできますか": ["reissue"],
             "手数料はかかりますか": ["fees"], "いつ届きますか": ["reissue"]}


def serve(home: str, port: int) -> None:
    """Entry point of the child process."""
    sys.path.insert(0, str(HERE))
    import uvicorn
    from support.live import fake_stages

    from assist.app import create_app
    from assist.logging_setup import setup_logging
    from assist.services import Services
    from config import Settings

    setup_logging("INFO")
    settings = Settings(home=Path(home), auth={"mode": "open"}, server={"preload_models": False})
    services = Services(settings, stages=fake_stages({"customer": CUSTOMER, "agent": ["承知しました"]}, RESPONSES))
    uvicorn.run(create_app(settings, services), host="127.0.0.1", port=port, log_config=None)


async def _stream_until_killed(port: int, proc: subprocess.Popen) -> list[dict]:
    """Stream 3 utterances' worth of audio, wait for their suggestions, then SIGKILL with the call live."""
    seen: list[dict] = []
    base = f"ws://127.0.0.1:{port}/ws/calls/crash-1"
    async with websockets.connect(f"{base}/events?wait=1", open_timeout=10) as events, \
            websockets.connect(f"{base}/audio", open_timeout=10) as audio:
        await audio.send(json.dumps({"type": "start", "encoding": "pcm16", "sample_rate": 16000, "leg": "customer"}))
        for _ in range(3 * 25):  # 3 × 0.5 s in 20 ms frames: the scripted recognizer finishes 3 utterances
            await audio.send(b"\x00\x00" * 320)
        async with asyncio.timeout(20):
            while sum(e["type"] == "suggestions" for e in seen) < 3:
                seen.append(json.loads(await events.recv()))
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    return seen


@pytest.mark.slow
async def test_sigkill_mid_call_loses_nothing_emitted(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    proc, port = start_server(tmp_path, log, Path(__file__))
    try:
        seen = await _stream_until_killed(port, proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    finals = [e for e in seen if e["type"] == "transcript" and e["final"]]
    suggested = [(e["utterance_id"], i["article_id"]) for e in seen if e["type"] == "suggestions" for i in e["items"]]
    assert len(finals) >= 3 and len(suggested) >= 3

    proc, port = start_server(tmp_path, log, Path(__file__))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            detail = (await client.get("/api/calls/crash-1")).json()
        assert detail["state"] == "interrupted" and detail["end_reason"] == "interrupted"
        stored = {(u["utterance_id"], u["text"]) for u in detail["utterances"]}
        assert {(e["utterance_id"], e["text"]) for e in finals} <= stored
        assert set(suggested) <= {(s["utterance_id"], s["article_id"]) for s in detail["suggestions"]}
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws/calls/crash-1/events", open_timeout=10) as ws:
            replayed = [json.loads(m) async for m in ws]
        assert replayed[: len(seen)] == seen, "every event the widget saw replays from the store, unchanged"
        assert [e["seq"] for e in replayed] == list(range(1, len(replayed) + 1))

        sys.path.insert(0, str(HERE))
        from support.live import silence

        from assist.replay import replay_call

        events = await replay_call(f"ws://127.0.0.1:{port}", "after-crash", {"customer": silence(1.1)},
                                   realtime=False, timeout_s=30)
        assert [e["type"] for e in events][-2:] == ["call_ended", "summary"]
        assert any(e["type"] == "suggestions" for e in events)
    finally:
        proc.terminate()
        proc.wait(30)


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]))
