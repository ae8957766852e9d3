"""Where the sentence-transformers embedders run (``retrieval.device``): CPU here, CUDA where a GPU is lent."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from config import RetrievalSettings
from models.errors import DeviceUnavailableError
from retrieval.embedders import SentenceTransformerEmbedder, build_embedder, resolve_device


def test_auto_follows_what_torch_sees_and_cuda_without_a_gpu_is_a_coded_error() -> None:
    assert resolve_device("auto", True) == "cuda"
    assert resolve_device("auto", False) == "cpu"
    assert resolve_device("cpu", True) == "cpu"
    assert resolve_device("cuda", True) == "cuda"
    with pytest.raises(DeviceUnavailableError) as err:
        resolve_device("cuda", False)
    assert err.value.code == "device_unavailable" and "retrieval.device" in err.value.message


def test_the_setting_is_validated_and_reaches_the_embedders(registry) -> None:
    with pytest.raises(ValidationError):
        RetrievalSettings(device="tpu")  # type: ignore[arg-type]
    fused = build_embedder(RetrievalSettings(device="cuda"), registry)
    e5 = [p for p in fused.parts if isinstance(p, SentenceTransformerEmbedder)]  # type: ignore[union-attr]
    assert [p.device for p in e5] == ["cuda"]


def test_cuda_asked_for_on_a_machine_without_one_fails_at_load(registry) -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a GPU is visible here")
    e5 = build_embedder(RetrievalSettings(embedder="e5-small", device="cuda"), registry)
    with pytest.raises(DeviceUnavailableError):
        e5.load()


@pytest.mark.slow
def test_e5_on_cuda_matches_the_cpu(registry) -> None:
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device visible to torch")
    texts = ["カードを落としてしまいました", "How do I change my plan?"]
    cpu = build_embedder(RetrievalSettings(embedder="e5-small", device="cpu"), registry)
    gpu = build_embedder(RetrievalSettings(embedder="e5-small", device="auto"), registry)
    gpu.load()
    assert gpu.device == "cuda"  # type: ignore[union-attr]
    assert np.allclose(cpu.embed_queries(texts), gpu.embed_queries(texts), atol=2e-3)
