from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from assist.app import create_app
from assist.cli import main
from config import Settings


def test_health_and_readiness(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, server={"preload_models": False})
    with TestClient(create_app(settings)) as client:
        assert client.get("/healthz").json()["status"] == "ok"
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["ready"] is False
        assert "/healthz" in client.get("/openapi.json").json()["paths"]


def test_cli_reports_unknown_model(capsys, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("ASSIST_HOME", str(tmp_path))
    assert main(["models", "prepare", "nope"]) == 2
    assert "unknown_model" in capsys.readouterr().err
    assert main(["models", "verify", "use-multilingual"]) == 1
