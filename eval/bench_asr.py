"""``python -m eval bench-asr --streams N [--seconds S]``: N call legs fed in real time through one engine.

Each leg plays turns back to back with 0.6-1.6 s pauses (seeded, staggered per leg): the eval set's
Japanese utterances (clean and telephone; the noisy ones have no readable speech end), and one turn in
four a long agent turn (three agent turns of an `eval/data/calls_audio` call joined by 0.2 s, 10-20 s).
Frames are paced by the wall clock like a telephony gateway, each sent once its audio is complete.
Speech end -> final latency is reported from two points: the client's (``client_final_*``: the moment
the frame holding the turn's last speech sample was sent, to the final covering the turn) and the
engine's (``final_*``: the arrival of the audio holding the VAD's last speech window, a later point).
Both include the ``endpointing_ms`` wait. Also partial latency, CPU use, dropped partials and whether the
engine kept up. The last line of stdout is one JSON object (one per N with ``--streams 1,2,4``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from asr.audio import SAMPLE_RATE, read_wav
from asr.base import Utterance
from asr.engine import AsrEngine
from asr.glossary import build_prompts
from asr.whisper import DEFAULT_CONTEXT_PAD_S, WhisperRecognizer
from config import Settings, load_settings
from eval.asr import kb_glossary, kb_vocabulary, read_manifest
from eval.callset import read_calls
from eval.speech import speech_span
from eval.stats import percentile
from gpu.device import plan_device
from models import ModelRegistry

DEFAULT_MANIFEST = Path(__file__).parent / "data" / "asr" / "manifest.jsonl"
DEFAULT_KB = Path(__file__).parent / "data" / "asr" / "kb.jsonl"
DEFAULT_CALLS = Path(__file__).parent / "data" / "calls_audio" / "calls_audio.jsonl"
LONG_TURN_EVERY = 4  # one turn in four is a long agent turn
LONG_TURN_PARTS = 3
LONG_TURN_GAP_S = 0.2  # under the endpointing wait: the parts stay one turn
DECODE_COST_CLIPS = 24
KEEP_UP_LAG_S = 3.0  # a leg whose backlog never exceeds this is serving live
DRAIN_S = 10.0


@dataclass(frozen=True, slots=True)
class Turn:
    """Where one turn's speech lies on its leg (samples from the leg's first frame)."""

    speech_start: int
    speech_end: int
    long: bool


def long_turns(calls_file: Path) -> list[np.ndarray]:
    """Long agent turns: each run of ``LONG_TURN_PARTS`` agent turns of a Japanese call, trimmed and joined."""
    gap = np.zeros(int(LONG_TURN_GAP_S * SAMPLE_RATE), np.float32)
    out = []
    for call in read_calls(calls_file):
        agent = [t.audio for t in call.turns if t.speaker == "agent" and t.audio and call.language == "ja"]
        for k in range(0, len(agent) - LONG_TURN_PARTS + 1, LONG_TURN_PARTS):
            parts = []
            for path in agent[k : k + LONG_TURN_PARTS]:
                x = read_wav(path, strict=True)
                first, last = speech_span(x)
                parts += [x[round(first * SAMPLE_RATE) : round(last * SAMPLE_RATE)], gap]
            out.append(np.concatenate(parts[:-1]))
    return out


def build_call(clips: list[np.ndarray], longs: list[np.ndarray], seconds: float,
               rng: np.random.Generator) -> tuple[np.ndarray, list[Turn]]:
    """Turns with pauses, starting at a random clip; every ``LONG_TURN_EVERY``-th a long one (if any)."""
    parts = [np.zeros(int(rng.uniform(0.2, 1.5) * SAMPLE_RATE), np.float32)]
    turns: list[Turn] = []
    total, i = len(parts[0]), int(rng.integers(len(clips)))
    while total < seconds * SAMPLE_RATE:
        is_long = bool(longs) and len(turns) % LONG_TURN_EVERY == LONG_TURN_EVERY - 1
        clip = longs[int(rng.integers(len(longs)))] if is_long else clips[i % len(clips)]
        first, last = speech_span(clip)
        turns.append(Turn(total + round(first * SAMPLE_RATE), total + round(last * SAMPLE_RATE), is_long))
        pause = np.zeros(int(rng.uniform(0.6, 1.6) * SAMPLE_RATE), np.float32)
        parts += [clip, pause]
        total += len(clip) + len(pause)
        i += 0 if is_long else 1
    return np.concatenate(parts), turns


def client_latencies(turns: list[Turn], sent: dict[int, float], finals: list[tuple[float, Utterance]],
                     step: int) -> list[float | None]:
    """Per turn: from the send of the frame holding its last speech sample to the arrival of the final that
    covers it (the latest-ending final overlapping the turn's speech); ``None`` when no final covers it."""
    out: list[float | None] = []
    for turn in turns:
        start, end = turn.speech_start / SAMPLE_RATE, turn.speech_end / SAMPLE_RATE
        covering = [(e.end, t) for t, e in finals if e.start < end + 0.3 and e.end > start]
        if not covering:
            out.append(None)
            continue
        out.append(max(covering)[1] - sent[(turn.speech_end - 1) // step])
    return out


def bench(engine: AsrEngine, clips: list[np.ndarray], longs: list[np.ndarray], streams: int, seconds: float,
          chunk_ms: int) -> dict:
    rng = np.random.default_rng(streams)
    calls = [build_call(clips, longs, seconds, rng) for _ in range(streams)]
    events: list[tuple[float, Utterance]] = []
    lock = threading.Lock()

    def collect(event: Utterance) -> None:
        with lock:
            events.append((time.perf_counter(), event))

    before = dict(engine.stats())
    legs = [engine.open_leg(f"bench-{streams}-{k}", "customer", language="ja", on_event=collect) for k in range(streams)]
    step = SAMPLE_RATE * chunk_ms // 1000
    length = max(len(audio) for audio, _ in calls)
    sent: list[dict[int, float]] = [{} for _ in calls]  # frame index -> send time, for frames ending a turn
    ends = [{(t.speech_end - 1) // step for t in turns} for _, turns in calls]
    max_lag, late_frames = 0.0, 0
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for frame, i in enumerate(range(0, length, step)):
        delay = wall0 + (i + step) / SAMPLE_RATE - time.perf_counter()  # a frame goes once its audio is complete
        if delay > 0:
            time.sleep(delay)
        elif delay < -0.1:
            late_frames += 1
        for k, (leg, (audio, _)) in enumerate(zip(legs, calls, strict=True)):
            if i < len(audio):
                leg.feed(audio[i : i + step])
                if frame in ends[k]:
                    sent[k][frame] = time.perf_counter()
        if frame % 25 == 0:
            max_lag = max(max_lag, *(leg.lag_s for leg in legs))
    fed_s = time.perf_counter() - wall0
    for leg in legs:
        leg.close()
    drained = all(leg.join(DRAIN_S) for leg in legs)
    drain_s = time.perf_counter() - wall0 - fed_s
    cpu = time.process_time() - cpu0
    after = engine.stats()
    finals = [e for _, e in events if e.final]
    partials = [e for _, e in events if not e.final]
    final_lat = [e.latency_s for e in finals]
    client: list[float | None] = []
    is_long: list[bool] = []
    for k, (leg, (_, turns)) in enumerate(zip(legs, calls, strict=True)):
        mine = [(t, e) for t, e in events if e.final and e.call_id == leg.call_id]
        client += client_latencies(turns, sent[k], mine, step)
        is_long += [t.long for t in turns]
    done = [v for v in client if v is not None]
    done_long = [v for v, long in zip(client, is_long, strict=True) if v is not None and long]
    kept_up = drained and max_lag <= KEEP_UP_LAG_S and len(done) == len(client)
    return {
        "streams": streams,
        "seconds": round(length / SAMPLE_RATE, 1),
        "turns": len(client),
        "long_turns": sum(is_long),
        "turns_finalized": len(done),
        "finals": len(finals),
        "client_final_p50_s": percentile(done, 50),
        "client_final_p95_s": percentile(done, 95),
        "client_final_max_s": round(max(done), 3) if done else None,
        "client_final_long_p95_s": percentile(done_long, 95),
        "final_p50_s": percentile(final_lat, 50),
        "final_p95_s": percentile(final_lat, 95),
        "final_max_s": round(max(final_lat), 3) if final_lat else None,
        "partials": len(partials),
        "partial_p50_s": percentile([e.latency_s for e in partials], 50),
        "partial_p95_s": percentile([e.latency_s for e in partials], 95),
        "dropped_partials": after["dropped_partials"] - before["dropped_partials"],
        "decodes_partial": after["decodes_partial"] - before["decodes_partial"],
        "cpu_cores_used": round(cpu / (fed_s + drain_s), 2),
        "max_lag_s": round(max_lag, 3),
        "drain_s": round(drain_s, 2),
        "late_frames": late_frames,
        "kept_up": kept_up,
    }


def decode_cost(settings: Settings, clips: list[np.ndarray], prompt_terms: list[str]) -> list[dict]:
    """CPU seconds per decode, one worker thread: faster-whisper's transcribe, our 30 s and 20 s windows (and
    ``asr.final_window_s`` when it is another), short context."""
    path = ModelRegistry(settings.models_dir).resolve(settings.asr.model, allow_downloads=settings.allow_downloads)
    rows = []
    windows = sorted({30.0, 20.0, settings.asr.final_window_s}, reverse=True)
    variants: list[tuple[str, float | None, str, float]] = [("faster-whisper 30s", None, "full", 30.0)]
    variants += [(f"{w:g}s window", DEFAULT_CONTEXT_PAD_S, "full", w) for w in windows]
    variants += [(f"utterance+{DEFAULT_CONTEXT_PAD_S:g}s", DEFAULT_CONTEXT_PAD_S, "short", 30.0)]
    for label, pad, context, window in variants:
        plan = plan_device("cpu", "int8", cpu_threads=1, workers=1)
        rec = WhisperRecognizer(path, plan, context_pad_s=pad, final_context=context,  # type: ignore[arg-type]
                                final_window_s=window)
        prompt = build_prompts(prompt_terms, count_tokens=rec.count_tokens)["ja"]
        for kind, beam, p in (("final", 5, None), ("final+glossary", 5, prompt), ("partial", 1, None)):
            cpu0, wall0 = time.process_time(), time.perf_counter()
            for clip in clips:
                rec.transcribe(clip, language="ja", beam_size=beam, prompt=p)
            rows.append({
                "context": label,
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
    parser.add_argument("--calls-file", type=Path, default=DEFAULT_CALLS, help="source of the long agent turns")
    parser.add_argument("--no-long-turns", action="store_true", help="only the eval set's short utterances")
    parser.add_argument("--decode-cost", action="store_true", help="only measure CPU seconds per decode")
    args = parser.parse_args(argv)

    settings = load_settings(args.config)
    clips = [read_wav(i.audio, strict=True) for i in read_manifest(args.manifest)
             if i.language == "ja" and i.channel != "noisy"]
    if args.decode_cost:
        for row in decode_cost(settings, clips[:DECODE_COST_CLIPS], kb_glossary(args.kb)):
            print(json.dumps(row))
        return 0
    recognizer = WhisperRecognizer.from_settings(settings.asr, ModelRegistry(settings.models_dir),
                                                 allow_downloads=settings.allow_downloads)
    engine = AsrEngine(recognizer, settings.asr)
    if not args.no_glossary:
        engine.set_glossary(kb_glossary(args.kb), vocabulary=kb_vocabulary(args.kb))
    longs = [] if args.no_long_turns else long_turns(args.calls_file)
    load = os.getloadavg()[0]
    results = []
    try:
        for n in [int(x) for x in args.streams.split(",")]:
            result = bench(engine, clips, longs, n, args.seconds, args.chunk_ms)
            result |= {
                "cores": os.cpu_count(),
                "loadavg_before": round(load, 2),
                "device": recognizer.device,
                "workers": engine.n_workers,
                "glossary": not args.no_glossary,
                "final_context": settings.asr.final_context,
            }
            results.append(result)
            print(" ".join(f"{k}={v}" for k, v in result.items()), file=sys.stderr)
            load = os.getloadavg()[0]
    finally:
        engine.close()
    for result in results:
        print(json.dumps(result))
    return 0
