"""``python -m eval asr --manifest M.jsonl [--kb KB.jsonl] [--json]``: ASR accuracy through the streaming path.

Every utterance goes through the same ``AsrEngine`` the live service uses (VAD cuts, guards), fed as
fast as possible with partials off. Japanese is scored by CER (NFKC, punctuation and spaces removed),
English by WER (lower-cased, punctuation removed). With ``--kb`` the run is repeated with the
knowledge base's tags and titles as the glossary, and both figures are reported.
The last line of stdout is one JSON object: ``cer``, ``wer``, ``by_language``, ``rtf``, ``n``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import unicodedata
import wave
from dataclasses import dataclass
from pathlib import Path

import jiwer
import numpy as np
from tqdm import tqdm

from asr.engine import AsrEngine, transcribe_stream
from asr.whisper import WhisperRecognizer
from assist.config import load_settings
from models import ModelRegistry

_PUNCT = re.compile(r"[\W_]+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class Item:
    id: str
    audio: Path
    text: str
    language: str


def read_manifest(path: Path) -> list[Item]:
    items = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            items.append(Item(row["id"], path.parent / row["audio"], row["text"], row.get("language", "ja")))
    return items


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        if (w.getframerate(), w.getnchannels(), w.getsampwidth()) != (16000, 1, 2):
            raise ValueError(f"{path}: expected 16 kHz mono PCM16")
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0


def kb_glossary(path: Path) -> list[str]:
    """Tags first (short, specific), then titles: the order the prompt budget is spent in."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    tags = [t for r in rows for t in (r.get("tags") or [])]
    return tags + [r["title"] for r in rows if r.get("title")]


def normalize_ja(text: str) -> str:
    return _PUNCT.sub("", unicodedata.normalize("NFKC", text))


def normalize_en(text: str) -> str:
    return " ".join(_PUNCT.sub(" ", unicodedata.normalize("NFKC", text).lower()).split())


def score(refs: list[str], hyps: list[str], language: str) -> float:
    """Corpus-level CER (Japanese) or WER (other languages)."""
    if language == "ja":
        return float(jiwer.cer([normalize_ja(r) for r in refs], [normalize_ja(h) or "∅" for h in hyps]))
    return float(jiwer.wer([normalize_en(r) for r in refs], [normalize_en(h) or "∅" for h in hyps]))


def run(engine: AsrEngine, items: list[Item], audio: dict[str, np.ndarray], label: str) -> tuple[dict[str, str], float]:
    hyps: dict[str, str] = {}
    started = time.perf_counter()
    for item in tqdm(items, desc=f"asr {label}", file=sys.stderr, leave=False):
        events = transcribe_stream(
            engine, audio[item.id], 100, call_id=f"{label}-{item.id}", language=item.language, timeout=120
        )
        sep = "" if item.language == "ja" else " "
        hyps[item.id] = sep.join(e.text for e in events if e.final).strip()
    return hyps, time.perf_counter() - started


def summarize(items: list[Item], hyps: dict[str, str]) -> dict[str, dict[str, float | int]]:
    out: dict[str, dict[str, float | int]] = {}
    groups: dict[str, list[Item]] = {}
    for item in items:
        groups.setdefault(item.language, []).append(item)
        if item.id.startswith("tel-"):
            groups.setdefault(f"{item.language}-telephone", []).append(item)
    for name, group in groups.items():
        lang = group[0].language
        metric = "cer" if lang == "ja" else "wer"
        out[name] = {metric: round(score([i.text for i in group], [hyps[i.id] for i in group], lang), 4), "n": len(group)}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval asr", description="ASR accuracy (CER/WER) on a manifest")
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--kb", type=Path, help="knowledge base jsonl: its tags and titles become the glossary")
    parser.add_argument("--json", action="store_true", help="print only the JSON summary")
    parser.add_argument("--config", type=Path, help="settings TOML")
    args = parser.parse_args(argv)

    settings = load_settings(args.config)
    asr_settings = settings.asr.model_copy(update={"partial_interval_s": 0.0})
    items = read_manifest(args.manifest)
    audio = {i.id: read_wav(i.audio) for i in items}
    seconds = sum(len(a) for a in audio.values()) / 16000
    engine = AsrEngine(WhisperRecognizer.from_settings(settings, ModelRegistry(settings.models_dir)), asr_settings)
    try:
        plain, plain_s = run(engine, items, audio, "plain")
        results = {"plain": summarize(items, plain)}
        final_hyps, elapsed = plain, plain_s
        if args.kb:
            engine.set_glossary(kb_glossary(args.kb))
            final_hyps, elapsed = run(engine, items, audio, "glossary")
            results["glossary"] = summarize(items, final_hyps)
    finally:
        engine.close()

    best = results["glossary" if args.kb else "plain"]
    by_language: dict[str, dict[str, float | int]] = {}
    for name, row in best.items():
        by_language[name] = dict(row)
        if args.kb:
            for metric, value in results["plain"][name].items():
                if metric != "n":
                    by_language[name][f"{metric}_no_glossary"] = value
    summary = {
        "cer": best.get("ja", {}).get("cer"),
        "wer": best.get("en", {}).get("wer"),
        "cer_no_glossary": results["plain"].get("ja", {}).get("cer"),
        "by_language": by_language,
        "rtf": round(elapsed / seconds, 3) if seconds else None,
        "n": len(items),
        "audio_s": round(seconds, 1),
        "glossary": bool(args.kb),
    }
    if not args.json:
        for item in items:
            print(f"{item.id:24s} ref: {item.text}\n{'':24s} hyp: {final_hyps[item.id]}")
        for name, row in by_language.items():
            print(f"{name:14s} " + "  ".join(f"{k}={v}" for k, v in row.items()))
    print(json.dumps(summary, ensure_ascii=False))
    return 0
