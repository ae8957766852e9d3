"""Shared fixtures, used by name: one model cache for the whole run (the README's bootstrap prepares it), the
live server with fake stages, the stub chat server. Plain helpers live in tests/support/."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from models import ModelRegistry, enforce_offline
from models.offline import _OFFLINE_VARS

if TYPE_CHECKING:
    from support.live import LiveServer

    from assist.stages import CallStages

enforce_offline()
# Tests about calls, retrieval or notes run the app open; tests/test_auth_*.py opt in with auth={"mode": "keys"}.
os.environ.setdefault("ASSIST_AUTH__MODE", "open")
# Starlette's TestClient sends `Host: testserver`; open mode serves loopback hosts only (assist/origin_guard.py).
os.environ.setdefault("ASSIST_SECURITY__ALLOWED_HOSTS", '["testserver"]')
STUB = Path(__file__).parent / "fixtures" / "openai_stub.py"
pytest_plugins = ["support.postgres"]  # store_target: the store tests on SQLite and on PostgreSQL


@pytest.fixture(scope="session")
def assist_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = os.environ.get("ASSIST_HOME")
    return Path(home).expanduser() if home else Path.home() / ".cache" / "agent-assist"


@pytest.fixture(scope="session")
def registry(assist_home: Path) -> ModelRegistry:
    assert all(os.environ.get(v) == "1" for v in _OFFLINE_VARS)
    return ModelRegistry(assist_home / "models")


@pytest.fixture(scope="session")
def whisper_path(registry: ModelRegistry) -> Path:
    return registry.prepare("whisper-base")


@pytest.fixture(scope="session")
def e5_path(registry: ModelRegistry) -> Path:
    return registry.prepare("e5-small")


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """Factory: ``live(scripts, responses, stages=None, **server_settings)`` -> a started ``LiveServer`` with fakes."""
    # imported here, not at the top: the offline switches above must be set before the app's imports run
    from support.live import LiveServer, fake_stages, make_settings

    from assist.services import Services

    servers: list[LiveServer] = []

    def start(scripts: dict[str, list[str]] | None = None, responses: dict[str, list[str]] | None = None,
              stages: CallStages | None = None, **server: Any) -> LiveServer:
        settings = make_settings(tmp_path, **server)
        services = Services(settings, stages=stages or fake_stages(scripts, responses))
        srv = LiveServer(settings, services).__enter__()
        servers.append(srv)
        return srv

    yield start
    for srv in servers:
        srv.__exit__(None, None, None)


@pytest.fixture(scope="module")
def stub_url() -> Iterator[str]:
    """The OpenAI-compatible stub (tests/fixtures/openai_stub.py) as a subprocess; its base URL."""
    proc = subprocess.Popen([sys.executable, str(STUB)], stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.startswith("PORT "), line
        yield f"http://127.0.0.1:{int(line.split()[1])}/v1"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
