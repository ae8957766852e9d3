from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from config import ConfigFileError, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("ASSIST_CONFIG", "ASSIST_HOME", "ASSIST_ASR__BEAM_SIZE", "ASSIST_SERVER__PORT"):
        monkeypatch.delenv(key, raising=False)


def test_defaults() -> None:
    s = load_settings()
    assert s.server.port == 8000 and s.asr.model == "whisper-base" and s.retrieval.embedder == "e5-small+use-multilingual"
    assert s.models_dir == s.home / "models"


def test_precedence_args_over_env_over_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "assist.toml"
    cfg.write_text('language = "en"\n[asr]\nbeam_size = 3\nendpointing_ms = 600\n[server]\nport = 9000\n')
    monkeypatch.setenv("ASSIST_ASR__BEAM_SIZE", "4")
    s = load_settings(cfg)
    assert s.language == "en"  # from TOML
    assert s.asr.endpointing_ms == 600  # from TOML
    assert s.asr.beam_size == 4  # env beats TOML
    assert s.server.port == 9000
    s2 = load_settings(cfg, language="ja")
    assert s2.language == "ja"  # explicit beats TOML


def test_home_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ASSIST_HOME", str(tmp_path))
    assert load_settings().models_dir == tmp_path / "models"


def test_invalid_values_are_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSIST_SERVER__PORT", "70000")
    with pytest.raises(ValidationError, match="port"):
        load_settings()
    monkeypatch.delenv("ASSIST_SERVER__PORT")
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[asr]\nno_such_knob = 1\n")
    with pytest.raises(ValidationError, match="no_such_knob"):
        load_settings(cfg)
    with pytest.raises(ConfigFileError):
        load_settings(tmp_path / "missing.toml")
