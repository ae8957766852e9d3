"""``python -m eval bench-asr --streams N [--seconds S]``: N call legs fed in real time through one engine.

Each leg plays the eval set's Japanese utterances back to back with 0.6-1.6 s pauses (seeded, staggered
per leg), paced by the wall clock in 20 ms frames like a telephony gateway. Reports speech end -> final
latency (p50/p95; includes the ``endpointing_ms`` wait), partial latency, CPU use, dropped partials and
whether the engine kept up. The last line of stdout is one JSON object (one per N with ``--streams 1,2,4``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np

from asr.base import SAMPLE_RATE, TranscriptEvent
from asr.engine import AsrEngine
from asr.glossary import build_prompts
from asr.whisper import DEFAULT_CONTEXT_PAD_S, WhisperRecognizer
from assist.config import Settings, load_settings
from eval.asr import kb_glossary, read_manifest, read_wav
from gpu.device import plan_device
from models import ModelRegistry

DEFAULT_MANIFEST = Path(__file__).parent / "data" / "asr" / "manifest.jsonl"
DEFAULT_KB = Path(__file__).parent / "data" / "asr" / "kb.jsonl"
KEEP_UP_LAG_S = 3.0  # a leg whose backlog never exceeds this is serving live
DRAIN_S = 10.0


def build_call(clips: list[np.ndarray], seconds: float, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """Utterances with pauses, starting at a random clip; returns the audio and its utterance count."""
    parts = [np.zeros(int(rng.uniform(0.2, 1.5) * SAMPLE_RATE), np.float32)]
    total, n, i = len(parts[0]), 0, int(rng.integers(len(clips)))
    while total < seconds * SAMPLE_RATE:
        clip = clips[i % len(clips)]
        pause = np.zeros(int(rng.uniform(0.6, 1.6) * SAMPLE_RATE), np.float32)
        parts += [clip, pause]
        total += len(clip) + len(pause)
        n, i = n + 1, i + 1
    return np.concatenate(parts), n


def pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 3) if values else None


def bench(engine: AsrEngine, clips: list[np.ndarray], streams: int, seconds: float, chunk_ms: int) -> dict:
    rng = np.random.default_rng(streams)
    calls = [build_call(clips, seconds, rng) for _ in range(streams)]
    events: list[TranscriptEvent] = []
    lock = threading.Lock()

    def collect(event: TranscriptEvent) -> None:
        with lock:
            events.append(event)

    before = dict(engine.stats())
    legs = [engine.open_leg(f"bench-{streams}-{k}", "customer", language="ja", on_event=collect) for k in range(streams)]
    step = SAMPLE_RATE * chunk_ms // 1000
    length = max(len(audio) for audio, _ in calls)
    max_lag, late_frames = 0.0, 0
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for frame, i in enumerate(range(0, length, step)):
        delay = wall0 + i / SAMPLE_RATE - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        elif delay < -0.1:
            late_frames += 1
        for leg, (audio, _) in zip(legs, calls, strict=True):
            if i < len(audio):
                leg.feed(audio[i : i + step])
        if frame % 25 == 0:
            max_lag = max(max_lag, *(leg.lag_s for leg in legs))
    fed_s = time.perf_counter() - wall0
    for leg in legs:
        leg.close()
    drained = all(leg.join(DRAIN_S) for leg in legs)
    drain_s = time.perf_counter() - wall0 - fed_s
    cpu = time.process_time() - cpu0
    after = engine.stats()
    finals = [e for e in events if e.final]
    partials = [e for e in events if not e.final]
    final_lat = [e.latency_s for e in finals]
    expected = sum(n for _, n in calls)
    kept_up = drained and max_lag <= KEEP_UP_LAG_S and len(finals) >= expected
    return {
        "streams": streams,
        "seconds": round(length / SAMPLE_RATE, 1),
        "utterances": expected,
        "finals": len(finals),
        "final_p50_s": pct(final_lat, 50),
        "final_p95_s": pct(final_lat, 95),
        "final_max_s": round(max(final_lat), 3) if final_lat else None,
        "partials": len(partials),
        "partial_p50_s": pct([e.latency_s for e in partials], 50),
        "partial_p95_s": pct([e.latency_s for e in partials], 95),
        "dropped_partials": after["dropped_partials"] - before["dropped_partials"],
        "decodes_partial": after["decodes_partial"] - before["decodes_partial"],
        "cpu_cores_used": round(cpu / (fed_s + drain_s), 2),
        "max_lag_s": round(max_lag, 3),
        "drain_s": round(drain_s, 2),
        "late_frames": late_frames,
        "kept_up": kept_up,
    }


def decode_cost(settings: Settings, clips: list[np.ndarray], prompt_terms: list[str]) -> list[dict]:
    """CPU seconds per decode, one worker thread: 30 s window vs short context, final vs partial."""
    path = ModelRegistry(settings.models_dir).resolve(settings.asr.model, allow_downloads=settings.allow_downloads)
    rows = []
    for pad in (None, DEFAULT_CONTEXT_PAD_S):
        rec = WhisperRecognizer(path, plan_device("cpu", "int8", cpu_threads=1, workers=1), context_pad_s=pad)
        prompt = build_prompts(prompt_terms, count_tokens=rec.count_tokens)["ja"]
        for kind, beam, p in (("final", 5, None), ("final+glossary", 5, prompt), ("partial", 1, None)):
            cpu0, wall0 = time.process_time(), time.perf_counter()
            for clip in clips:
                rec.transcribe(clip, language="ja", beam_size=beam, prompt=p)
            rows.append({
                "context": "30s" if pad is None else f"utterance+{pad:g}s",
                "decode": kind,
                "cpu_s": round((time.process_time() - cpu0) / len(clips), 3),
                "wall_s": round((time.perf_counter() - wall0) / len(clips), 3),
                "mean_utterance_s": round(float(np.mean([len(c) for c in clips])) / SAMPLE_RATE, 2),
            })
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval bench-asr", description=__doc__.splitlines()[0])
    parser.add_argument("--streams", default="4", help="legs fed at once; a comma list runs each in turn")
    parser.add_argument("--seconds", type=float, default=60.0, help="audio per leg")
    parser.add_argument("--chunk-ms", type=int, default=20)
    parser.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST)
    parser.add_argument("--kb", type=Path, default=DEFAULT_KB, help="glossary source, as in production")
    parser.add_argument("--no-glossary", action="store_true")
    parser.add_argument("--config", type=Path)
    parser.add_argument("--decode-cost", action="store_true", help="only measure CPU seconds per decode")
    args = parser.parse_args(argv)

    settings = load_settings(args.config)
    clips = [read_wav(i.audio) for i in read_manifest(args.manifest) if i.language == "ja"]
    if args.decode_cost:
        for row in decode_cost(settings, clips, kb_glossary(args.kb)):
            print(json.dumps(row))
        return 0
    recognizer = WhisperRecognizer.from_settings(settings, ModelRegistry(settings.models_dir))
    engine = AsrEngine(recognizer, settings.asr)
    engine.set_glossary([] if args.no_glossary else kb_glossary(args.kb))
    load = os.getloadavg()[0]
    results = []
    try:
        for n in [int(x) for x in args.streams.split(",")]:
            result = bench(engine, clips, n, args.seconds, args.chunk_ms)
            result |= {
                "cores": os.cpu_count(),
                "loadavg_before": round(load, 2),
                "device": recognizer.device,
                "workers": engine.n_workers,
                "glossary": not args.no_glossary,
            }
            results.append(result)
            print(" ".join(f"{k}={v}" for k, v in result.items()), file=sys.stderr)
            load = os.getloadavg()[0]
    finally:
        engine.close()
    for result in results:
        print(json.dumps(result))
    return 0
