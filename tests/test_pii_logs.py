"""A call whose customer reads out a card number, streamed with an API key into a real server process
logging at DEBUG: neither the digits nor the key may appear in its log, its database files, or the API."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx
import pytest
import websockets
from support.server_process import start_server

from assist.auth import KeyStore, split_key
from config import Settings

CARD = "4532 0151 1283 0366"
PHONE = "090-4321-8765"
CUSTOMER = [f"カード番号は{CARD}です", "電話は〇九〇の四三二一の八七六五です", "よろしくお願いします"]
CALL_ID = "call-09043218765"  # integrators do put phone numbers in call ids: the log must still not show it


def serve(home: str, port: int) -> None:
    """Entry point of the child process: keys mode, DEBUG logs, the real masker on scripted speech."""
    import uvicorn
    from support.live import fake_stages

    from assist.app import create_app
    from assist.logging_setup import setup_logging
    from assist.services import Services
    from summarize.pii import masker

    setup_logging("DEBUG")
    settings = Settings(home=Path(home), auth={"mode": "keys"}, server={"preload_models": False})
    stages = fake_stages({"customer": CUSTOMER}, {})
    stages.mask = masker(settings.privacy.mask_entities)
    uvicorn.run(create_app(settings, Services(settings, stages=stages)), host="127.0.0.1", port=port,
                log_config=None)


def _secrets(key: str) -> list[str]:
    return [CARD, CARD.replace(" ", ""), "4321-8765", "43218765", "四三二一", split_key(key)[1]]


@pytest.mark.slow
async def test_no_card_number_or_key_in_logs_store_or_api(tmp_path: Path) -> None:
    store = KeyStore(Settings(home=tmp_path).db_path)
    _, key = store.create("admin", "pii-test")
    store.close()
    log = tmp_path / "server.log"
    proc, port = start_server(tmp_path, log, Path(__file__))
    headers = {"Authorization": f"Bearer {key}"}
    try:
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws/calls/{CALL_ID}/audio", additional_headers=headers,
                                      open_timeout=10) as ws:
            await ws.send(json.dumps({"type": "start", "encoding": "pcm16", "sample_rate": 16000, "leg": "customer",
                                      "metadata": {"callback": PHONE}}))
            for _ in range(80):
                await ws.send(b"\x00\x00" * 320)
            await ws.send(json.dumps({"type": "stop"}))
            async for _ in ws:
                pass
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=10) as client:
            detail = (await client.get(f"/api/calls/{CALL_ID}")).text.replace(CALL_ID, "<call id>")
            await client.get("/api/calls", headers={"Authorization": f"Bearer {key}x"})  # a failed auth is logged
    finally:
        proc.terminate()
        proc.wait(30)
    logged = log.read_text(encoding="utf-8")
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("assist.db*")).decode("utf-8", "replace")
    stored = stored.replace(CALL_ID, "<call id>")  # the id is the integrator's key for the call, kept as given
    assert "[カード番号]" in detail and "[電話番号]" in detail, detail[:500]
    assert "call call-[PHONE] started" in logged, "the redacting log filter masks what the code logs"
    for secret in _secrets(key):
        assert secret not in logged, f"{secret!r} in the server log"
        assert secret not in stored, f"{secret!r} in the database"
        assert secret not in detail, f"{secret!r} in the API"


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    serve(sys.argv[1], int(sys.argv[2]))
