"""An app built in code (no CLI) must also keep the hub libraries offline."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from assist.app import create_app
from config import Settings
from models.offline import _OFFLINE_VARS


def _build_and_close(settings: Settings) -> None:
    app = create_app(settings)
    app.state.services.close()
    app.state.auth.close()


def test_create_app_sets_offline_switches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _OFFLINE_VARS:
        monkeypatch.delenv(name, raising=False)
    _build_and_close(Settings(home=tmp_path, server={"preload_models": False}))
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    assert os.environ.get("TRANSFORMERS_OFFLINE") == "1"
    assert all(os.environ.get(name) == "1" for name in _OFFLINE_VARS)


def test_create_app_leaves_hub_reachable_when_downloads_are_allowed(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _OFFLINE_VARS:
        monkeypatch.delenv(name, raising=False)
    _build_and_close(Settings(home=tmp_path, allow_downloads=True, server={"preload_models": False}))
    assert not any(name in os.environ for name in _OFFLINE_VARS)
