"""The recognition pool on Ray Serve (asr/serve_pool.py) and its worker-side client (asr/pool.py).

One local Ray instance (2 CPUs, no dashboard) serves a fake recognizer for the whole module, over the same HTTP
route the workers use; the slow test adds the real whisper-base beside it and compares with in-process decodes.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from support.fake_recognizer import FAIL_PROMPT, FakeRecognizer, tagged
from support.ray_serve import concurrently, free_port, local_serve
from support.wav import FIXTURES, read_wav

from asr.base import ContextRecognizer, FinalContext, PartialRecognizer, Recognizer, Transcription, Word
from asr.glossary import approx_tokens
from asr.pool import (
    PoolError,
    RemoteRecognizer,
    decode_request,
    encode_request,
    recognizer_from_settings,
    transcription_from_dict,
    transcription_to_dict,
)
from config import AsrSettings
from gpu.batching import batch_limit
from models import ModelRegistry

WORKERS = 6


@pytest.fixture(scope="module")
def ray_serve() -> Iterator[int]:
    """A local Ray with Serve listening on a free port; shut down (every Ray process) after the module."""
    pytest.importorskip("ray")
    with local_serve() as port:
        yield port


@pytest.fixture(scope="module")
def pool_settings(ray_serve: int) -> AsrSettings:
    """Settings of the fake pool: a long batch wait, so finals posted together are certainly batched."""
    from asr.serve_pool import build_app, deploy

    asr = AsrSettings(pool="ray", pool_address=f"http://127.0.0.1:{ray_serve}/asr", pool_batch_size=WORKERS,
                      pool_batch_wait_s=0.5, pool_cpus_per_replica=0.0, pool_timeout_s=20.0)
    deploy(build_app(FakeRecognizer, asr), asr.pool_address)
    return asr


@pytest.fixture
def remote(pool_settings: AsrSettings) -> Iterator[RemoteRecognizer]:
    rec = RemoteRecognizer(pool_settings.pool_address, context_audio_s=2.0, timeout_s=20.0)
    yield rec
    rec.close()


# ---- wire format (no Ray needed) -------------------------------------------------------------------------
def test_request_round_trip_keeps_samples_exactly() -> None:
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(n).astype(np.float32) for n in (16000, 0, 7)]
    header, back = decode_request(encode_request({"language": "ja", "prompt": "カード、ポイント。"}, arrays))
    assert header["language"] == "ja" and header["prompt"] == "カード、ポイント。" and header["lengths"] == [16000, 0, 7]
    assert all(a.dtype == np.float32 and np.array_equal(a, b) for a, b in zip(arrays, back, strict=True))


@pytest.mark.parametrize("body", [b"", b"\x05\x00\x00\x00{}", b"\x02\x00\x00\x00{}", b"\x0d\x00\x00\x00{\"lengths\":[2]}"])
def test_malformed_request_is_a_coded_error(body: bytes) -> None:
    with pytest.raises(PoolError) as err:
        decode_request(body)
    assert err.value.code == "asr_pool_bad_request"


def test_transcription_round_trip_is_exact() -> None:
    tr = Transcription(text="カードを紛失", language="ja", avg_logprob=-0.123456789012345, no_speech_prob=0.01,
                       compression_ratio=1.3, words=(Word("カード", 0.987654321), Word("を紛失", 0.5)))
    import json

    assert transcription_from_dict(json.loads(json.dumps(transcription_to_dict(tr)))) == tr


def test_remote_recognizer_fits_the_engine_contracts() -> None:
    rec = RemoteRecognizer("http://127.0.0.1:9/asr", context_audio_s=10.0)
    try:
        assert isinstance(rec, Recognizer) and isinstance(rec, PartialRecognizer)
        assert isinstance(rec, ContextRecognizer)
        assert batch_limit(rec, 8) == 1  # one final per engine worker: the pool does the batching
    finally:
        rec.close()


def test_workers_never_import_ray() -> None:
    """Ray is the optional `scale` extra: the service's and the eval tools' imports must not pull it in."""
    code = ("import sys; import asr.pool, asr.engine, assist.services, eval.asr; "
            "assert not [m for m in sys.modules if m == 'ray' or m.startswith('ray.')], 'ray imported'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def test_unreachable_pool_is_a_coded_error() -> None:
    rec = RemoteRecognizer(f"http://127.0.0.1:{free_port()}/asr", timeout_s=5.0)
    try:
        with pytest.raises(PoolError) as err:
            rec.transcribe(tagged(1), language="ja")
        assert err.value.code == "asr_pool_unavailable"
        assert "cannot be reached" in err.value.message
    finally:
        rec.close()


# ---- through Ray Serve ------------------------------------------------------------------------------------
def test_finals_from_several_workers_share_one_batch(pool_settings: AsrSettings) -> None:
    before = RemoteRecognizer(pool_settings.pool_address).pool_stats()
    clients = [RemoteRecognizer(pool_settings.pool_address, timeout_s=20.0) for _ in range(WORKERS)]
    try:
        results = concurrently(WORKERS, lambda i: clients[i].transcribe(tagged(100 + i), language="ja"))
        assert all(isinstance(r, Transcription) for r in results), results
        # every caller got its own final back, none another worker's
        assert [r.text for r in results] == [f"final:{100 + i} ctx=- ja beam=5" for i in range(WORKERS)]
        assert results[0].words == (Word("final", 0.9), Word(":100", 0.5))
        stats = clients[0].pool_stats()
        assert stats["batch_size_max"] >= 2
        assert stats["finals"] - before["finals"] == WORKERS
        assert stats["batches"] - before["batches"] < WORKERS
        assert max(c.batch_size_max for c in clients) >= 2
    finally:
        for c in clients:
            c.close()


def test_contexts_and_options_reach_the_recognizer(remote: RemoteRecognizer) -> None:
    ctx = FinalContext(audio=tagged(5, seconds=3.0), text="前の発話")
    out = remote.transcribe_finals([tagged(7), tagged(8)], language="en", beam_size=3, prompt="refund.",
                                   contexts=[ctx, None])
    # only context_audio_s (2 s) of the previous utterance travels; the fake echoes the text and length
    assert [t.text for t in out] == ["final:7 ctx=前の発話/32000 en beam=3", "final:8 ctx=- en beam=3"]
    assert remote.transcribe_finals([], language="ja", contexts=[]) == []
    partial = remote.transcribe_partial(tagged(9), language="ja")
    assert partial.text == "partial:9 beam=1"


def test_languages_in_one_batch_are_decoded_apart(pool_settings: AsrSettings) -> None:
    clients = [RemoteRecognizer(pool_settings.pool_address, timeout_s=20.0) for _ in range(4)]
    try:
        langs = ["ja", "en", "ja", "en"]
        results = concurrently(4, lambda i: clients[i].transcribe(tagged(200 + i), language=langs[i]))
        assert [r.text for r in results] == [f"final:{200 + i} ctx=- {langs[i]} beam=5" for i in range(4)]
    finally:
        for c in clients:
            c.close()


def test_a_failed_decode_is_coded_and_spares_the_rest_of_the_batch(pool_settings: AsrSettings) -> None:
    clients = [RemoteRecognizer(pool_settings.pool_address, timeout_s=20.0) for _ in range(3)]
    try:
        prompts = [None, FAIL_PROMPT, None]
        results = concurrently(3, lambda i: clients[i].transcribe(tagged(300 + i), language="ja",
                                                                    prompt=prompts[i]))
        assert isinstance(results[1], PoolError) and results[1].code == "asr_pool_decode_failed"
        assert "the fake model broke" in results[1].message
        assert [results[0].text, results[2].text] == ["final:300 ctx=- ja beam=5", "final:302 ctx=- ja beam=5"]
    finally:
        for c in clients:
            c.close()


def test_bad_requests_and_routes_answer_coded_errors(pool_settings: AsrSettings) -> None:
    url = pool_settings.pool_address
    r = httpx.post(f"{url}/finals", content=b"\x00\x01", timeout=20)
    assert r.status_code == 400 and r.json()["error"]["code"] == "asr_pool_bad_request"
    r = httpx.get(f"{url}/nope", timeout=20)
    assert r.status_code == 404 and r.json()["error"]["code"] == "asr_pool_not_found"


def test_settings_select_the_pool_and_token_counts_fall_back(pool_settings: AsrSettings, tmp_path: Path) -> None:
    rec = recognizer_from_settings(pool_settings, ModelRegistry(tmp_path))
    try:
        assert isinstance(rec, RemoteRecognizer) and rec.context_audio_s == pool_settings.final_context_audio_s
        assert rec.count_tokens("カード紛失") == approx_tokens("カード紛失")  # the fake has no tokenizer
    finally:
        rec.close()


def test_engine_decodes_a_call_through_the_pool(pool_settings: AsrSettings) -> None:
    """The streaming engine unchanged: VAD and legs here, finals (after their leg's previous one) in the pool."""
    from asr.engine import AsrEngine, transcribe_stream

    audio = read_wav(FIXTURES / "audio" / "ja_lost_card.wav")
    rec = RemoteRecognizer.from_settings(pool_settings)
    engine = AsrEngine(rec, pool_settings.model_copy(update={"partial_interval_s": 0.0, "workers": 2}))
    try:
        events = transcribe_stream(engine, np.concatenate([audio, np.zeros(8000, np.float32), audio]),
                                   language="ja", timeout=60)
    finally:
        engine.close()
        rec.close()
    finals = [e for e in events if e.final]
    assert len(finals) >= 2
    assert all(e.text.startswith("final:") for e in finals)
    assert " ctx=- " in finals[0].text
    assert f" ctx={finals[-2].text}/" in finals[-1].text  # the later final heard the earlier one, text and audio


@pytest.mark.slow
def test_real_whisper_through_the_pool_matches_in_process(ray_serve: int, registry: ModelRegistry,
                                                          whisper_path: Path) -> None:
    """whisper-base in one replica vs the same settings in this process: the same texts, scores and tokens."""
    from asr.serve_pool import build_app, deploy, load_whisper
    from asr.whisper import WhisperRecognizer

    asr = AsrSettings(device="cpu", compute_type="int8", workers=1, cpu_threads=1, pool="ray",
                      pool_address=f"http://127.0.0.1:{ray_serve}/asr_real", pool_cpus_per_replica=0.0,
                      pool_timeout_s=120.0)
    from functools import partial

    deploy(build_app(partial(load_whisper, asr, registry.cache_dir, False), asr), asr.pool_address, name="asr_real")
    local = WhisperRecognizer.from_settings(asr, registry)
    remote = RemoteRecognizer.from_settings(asr)
    try:
        lost_card = read_wav(FIXTURES / "audio" / "ja_lost_card.wav")
        points = read_wav(FIXTURES / "audio" / "ja_points.wav")
        ctx = [None, FinalContext(lost_card, "カードを紛失しました")]
        want = local.transcribe_finals([lost_card, points], language="ja", contexts=ctx)
        got = remote.transcribe_finals([lost_card, points], language="ja", contexts=ctx)
        assert [t.text for t in got] == [t.text for t in want] and want[0].text
        assert [t.avg_logprob for t in got] == [t.avg_logprob for t in want]
        assert remote.count_tokens("カード紛失") == local.count_tokens("カード紛失")
    finally:
        remote.close()
        from ray import serve

        serve.delete("asr_real")


def test_finals_arriving_while_the_model_is_busy_are_decoded_together(ray_serve: int) -> None:
    """Serve closes a batch when its wait ends, busy model or not; the batches closed during a decode merge."""
    from functools import partial

    from asr.serve_pool import build_app, deploy

    asr = AsrSettings(pool="ray", pool_address=f"http://127.0.0.1:{ray_serve}/asr-busy", pool_batch_size=8,
                      pool_batch_wait_s=0.01, pool_cpus_per_replica=0.0, pool_timeout_s=20.0)
    deploy(build_app(partial(FakeRecognizer, 1.5), asr), asr.pool_address, name="asr-busy")
    clients = [RemoteRecognizer(asr.pool_address, timeout_s=20.0) for _ in range(4)]
    try:
        # one final starts a 1.5 s decode; three more arrive 0.3 s apart while it runs, each closing its own batch
        results = concurrently(4, lambda i: (time.sleep(0.3 * i), clients[i].transcribe(tagged(300 + i),
                                                                                        language="ja"))[1])
        assert [r.text for r in results] == [f"final:{300 + i} ctx=- ja beam=5" for i in range(4)]
        stats = clients[0].pool_stats()
        assert stats["batch_sizes"] == {"1": 1, "3": 1}, stats
        assert [c.batch_size_max for c in clients] == [1, 3, 3, 3]
    finally:
        for c in clients:
            c.close()
