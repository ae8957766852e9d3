"""Schemathesis against the app's own OpenAPI: generated (valid and invalid) requests to every REST
operation of the real server must never produce a 5xx. Bounded: a few examples per operation."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from support.live import LiveServer, fake_stages
from support.retrieval_fakes import KbRetrieval

from assist.app import create_app
from assist.services import Services
from config import Settings
from knowledge.store import KnowledgeStore

pytestmark = pytest.mark.slow  # schemathesis: every operation, many generated requests


def _settings(home: Path) -> Settings:
    return Settings(home=home, auth={"mode": "open"},
                    server={"preload_models": False, "max_json_bytes": 16_384, "max_upload_bytes": 65_536})


def _schema() -> Any:
    home = Path(tempfile.mkdtemp(prefix="fuzz-schema-"))
    app = create_app(_settings(home), Services(_settings(home), stages=fake_stages()))
    return schemathesis.openapi.from_dict(app.openapi())


schema = _schema()


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    home = tmp_path_factory.mktemp("fuzz")
    services = Services(_settings(home), stages=fake_stages())
    services.kb = KnowledgeStore(home / "knowledge.db")
    services.retrieval = KbRetrieval(services.kb)
    services.call_store.create_call("c1", language="ja", source="websocket", legs=["customer"])
    srv = LiveServer(services.settings, services).__enter__()
    yield srv
    srv.__exit__(None, None, None)  # the app's shutdown closes the services and their store


@schema.parametrize()
@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture])
def test_no_server_errors(case: Any, fuzz_server: LiveServer) -> None:
    response = case.call(base_url=fuzz_server.http, timeout=10)
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:300]}"
    content_type = str(response.headers.get("content-type") or "")
    if response.status_code >= 400 and "application/json" in content_type:
        error = response.json().get("error") or response.json().get("detail")
        assert error, f"{case.method} {case.formatted_path}: a 4xx without an error body: {response.text[:200]}"
