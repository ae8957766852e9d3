"""``python -m eval asr --manifest M.jsonl [--kb KB.jsonl] [--split dev|test|all] [--json]``: ASR accuracy.

Every utterance goes through the same ``AsrEngine`` the live service uses (VAD cuts, guards, vocabulary
correction), fed as fast as possible with partials off. Japanese is scored by CER (NFKC, punctuation and
spaces removed), English by WER (lower-cased, punctuation removed). With ``--kb`` the run is repeated with
the knowledge base's tags and titles as the glossary, and both figures are reported. ``--decoder offline``
scores the reference instead: faster-whisper's own ``transcribe`` of each whole file (30 s window, beam 5, the
same prompt and vocabulary correction).
Manifest rows may carry ``split`` (dev/test), ``voice``, ``synth`` and ``channel`` (clean/phone/noisy);
``--split`` keeps one split, and the summary breaks the figures down per split and per channel, each with
the figure before vocabulary correction (``*_no_vocab``: the finals' text with ``corrections`` undone).
The last line of stdout is one JSON object: ``cer``, ``wer``, ``by_language``, ``rtf``, ``n``, ``by_split``,
``by_channel``, ``by_synth``, ``cer_no_vocab``, ``vocab`` (every replacement, and those the reference does not bear out).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jiwer
import numpy as np
from tqdm import tqdm

from asr.audio import SAMPLE_RATE, read_wav
from asr.base import Correction, Utterance
from asr.engine import AsrEngine, transcribe_stream
from asr.pool import recognizer_from_settings
from config import load_settings
from models import ModelRegistry

_PUNCT = re.compile(r"[\W_]+", re.UNICODE)
CHAIN_GAP_S = 1.0


@dataclass(frozen=True, slots=True)
class Item:
    id: str
    audio: Path
    text: str
    language: str
    split: str = ""
    voice: str = ""
    synth: str = ""
    channel: str = "clean"


def read_manifest(path: Path, split: str = "all") -> list[Item]:
    """Rows of ``path`` (all, or those of one ``split``); ``channel`` defaults to phone for ``tel-*`` ids."""
    items = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            if split != "all" and row.get("split") != split:
                continue
            channel = row.get("channel") or ("phone" if row["id"].startswith("tel-") else "clean")
            items.append(Item(row["id"], path.parent / row["audio"], row["text"], row.get("language", "ja"),
                              row.get("split", ""), row.get("voice", ""), row.get("synth", ""), channel))
    return items


def _kb_rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def kb_glossary(path: Path) -> list[str]:
    """Tags first (short, specific), then titles: the order the prompt budget is spent in."""
    rows = _kb_rows(path)
    tags = [t for r in rows for t in (r.get("tags") or [])]
    return tags + [r["title"] for r in rows if r.get("title")]


def kb_vocabulary(path: Path) -> list[str]:
    """The articles' questions and answers, as the live service passes them (``RetrievalService.vocabulary``)."""
    rows = _kb_rows(path)
    return [*(q for r in rows for q in (r.get("questions") or [])), *(r["answer"] for r in rows if r.get("answer"))]


def normalize_ja(text: str) -> str:
    return _PUNCT.sub("", unicodedata.normalize("NFKC", text))


def normalize_en(text: str) -> str:
    return " ".join(_PUNCT.sub(" ", unicodedata.normalize("NFKC", text).lower()).split())


def score(refs: list[str], hyps: list[str], language: str) -> float:
    """Corpus-level CER (Japanese) or WER (other languages)."""
    if language == "ja":
        return float(jiwer.cer([normalize_ja(r) for r in refs], [normalize_ja(h) or "∅" for h in hyps]))
    return float(jiwer.wer([normalize_en(r) for r in refs], [normalize_en(h) or "∅" for h in hyps]))


@dataclass(frozen=True, slots=True)
class Hyp:
    """One utterance's finals joined: as shown (``text``) and before vocabulary correction (``raw``)."""

    text: str
    raw: str
    corrections: tuple[Correction, ...] = ()


def undo_corrections(event: Utterance) -> str:
    """A final's text with its vocabulary corrections reverted (their offsets are into ``event.text``)."""
    text = event.text
    for c in sorted(event.corrections, key=lambda c: -c.start):
        text = text[: c.start] + c.original + text[c.end :]
    return text


def run(engine: AsrEngine, items: list[Item], audio: dict[str, np.ndarray], label: str) -> tuple[dict[str, Hyp], float]:
    hyps: dict[str, Hyp] = {}
    started = time.perf_counter()
    for item in tqdm(items, desc=f"asr {label}", file=sys.stderr, leave=False):
        events = transcribe_stream(
            engine, audio[item.id], 100, call_id=f"{label}-{item.id}", language=item.language, timeout=120
        )
        finals = [e for e in events if e.final]
        sep = "" if item.language == "ja" else " "
        hyps[item.id] = Hyp(sep.join(e.text for e in finals).strip(), sep.join(map(undo_corrections, finals)).strip(),
                            tuple(c for e in finals for c in e.corrections))
    return hyps, time.perf_counter() - started


def run_chained(engine: AsrEngine, items: list[Item], audio: dict[str, np.ndarray], label: str
                ) -> tuple[dict[str, Hyp], float]:
    """Each (split, voice, channel, language) group's rows in manifest order on one leg, ``CHAIN_GAP_S`` apart:
    every utterance but a group's first is heard after the same speaker's previous one, as in a call. Finals go
    to the row their audio overlaps most."""
    groups: dict[tuple[str, str, str, str], list[Item]] = {}
    for item in items:
        groups.setdefault((item.split, item.voice, item.channel, item.language), []).append(item)
    gap = np.zeros(int(CHAIN_GAP_S * SAMPLE_RATE), np.float32)
    hyps: dict[str, Hyp] = {}
    started = time.perf_counter()
    for n, group in enumerate(tqdm(list(groups.values()), desc=f"asr {label} (chained)", file=sys.stderr,
                                   leave=False)):
        spans, pos = [], len(gap)
        for item in group:
            spans.append((pos / SAMPLE_RATE, (pos + len(audio[item.id])) / SAMPLE_RATE))
            pos += len(audio[item.id]) + len(gap)
        samples = np.concatenate([gap] + [x for item in group for x in (audio[item.id], gap)])
        events = transcribe_stream(engine, samples, 100, call_id=f"{label}-chain-{n}", language=group[0].language,
                                   timeout=600)
        mine: dict[str, list[Utterance]] = {item.id: [] for item in group}
        for e in (e for e in events if e.final):
            overlap = [min(e.end, b) - max(e.start, a) for a, b in spans]
            mine[group[int(np.argmax(overlap))].id].append(e)
        for item in group:
            finals, sep = mine[item.id], "" if item.language == "ja" else " "
            hyps[item.id] = Hyp(sep.join(e.text for e in finals).strip(),
                                sep.join(map(undo_corrections, finals)).strip(),
                                tuple(c for e in finals for c in e.corrections))
    return hyps, time.perf_counter() - started


def run_offline(engine: AsrEngine, items: list[Item], audio: dict[str, np.ndarray], label: str
                ) -> tuple[dict[str, Hyp], float]:
    """The reference decoder: faster-whisper's own ``transcribe`` over each whole file (30 s window, beam 5,
    its temperature fallback, no VAD) with the engine's prompt, then the engine's vocabulary correction."""
    model = engine.recognizer.model  # type: ignore[attr-defined]
    hyps: dict[str, Hyp] = {}
    started = time.perf_counter()
    for item in tqdm(items, desc=f"offline {label}", file=sys.stderr, leave=False):
        segments, _ = model.transcribe(audio[item.id], language=item.language, beam_size=5,
                                       initial_prompt=engine.prompt(item.language), vad_filter=False)
        sep = "" if item.language == "ja" else " "
        raw = sep.join(s.text.strip() for s in segments).strip()
        text, corrections = engine.vocab.correct(raw)
        hyps[item.id] = Hyp(text, raw, corrections)
    return hyps, time.perf_counter() - started


def summarize(items: list[Item], hyps: dict[str, str]) -> dict[str, dict[str, float | int]]:
    out: dict[str, dict[str, float | int]] = {}
    groups: dict[str, list[Item]] = {}
    for item in items:
        groups.setdefault(item.language, []).append(item)
        if item.channel != "clean":  # phone, and noisy (which also went through the phone channel)
            groups.setdefault(f"{item.language}-telephone", []).append(item)
    for name, group in groups.items():
        lang = group[0].language
        metric = "cer" if lang == "ja" else "wer"
        out[name] = {metric: round(score([i.text for i in group], [hyps[i.id] for i in group], lang), 4), "n": len(group)}
    return out


def breakdown(items: list[Item], hyps: dict[str, Hyp], field: str) -> dict[str, dict[str, dict[str, float | int]]]:
    """CER/WER per value of ``field`` (split, channel, voice) and language, with and without vocab correction."""
    groups: dict[str, dict[str, list[Item]]] = {}
    for item in items:
        groups.setdefault(getattr(item, field) or "-", {}).setdefault(item.language, []).append(item)
    out: dict[str, dict[str, dict[str, float | int]]] = {}
    for name, by_lang in sorted(groups.items()):
        out[name] = {}
        for lang, group in sorted(by_lang.items(), key=lambda kv: kv[0] != "ja"):
            metric = "cer" if lang == "ja" else "wer"
            refs = [i.text for i in group]
            out[name][lang] = {metric: round(score(refs, [hyps[i.id].text for i in group], lang), 4),
                               f"{metric}_no_vocab": round(score(refs, [hyps[i.id].raw for i in group], lang), 4),
                               "n": len(group)}
    return out


def vocab_report(items: list[Item], hyps: dict[str, Hyp]) -> dict[str, object]:
    """Every replacement; ``wrong`` ones put a term the reference does not have (or took out one it has)."""
    rows = []
    for item in items:
        ref = normalize_ja(item.text)
        for c in hyps[item.id].corrections:
            right = normalize_ja(c.replacement) in ref and normalize_ja(c.original) not in ref
            rows.append({"id": item.id, "split": item.split, "original": c.original, "replacement": c.replacement,
                         "right": right})
    return {"corrections": len(rows), "wrong": [r for r in rows if not r["right"]], "all": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval asr", description="ASR accuracy (CER/WER) on a manifest")
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--kb", type=Path, help="knowledge base jsonl: its tags and titles become the glossary")
    parser.add_argument("--split", choices=("dev", "test", "all"), default="all",
                        help="manifest rows of one split (tune on dev, report test)")
    parser.add_argument("--json", action="store_true", help="print only the JSON summary")
    parser.add_argument("--save-hyps", type=Path, help="write every utterance's reference and hypotheses (jsonl)")
    parser.add_argument("--config", type=Path, help="settings TOML")
    parser.add_argument("--decoder", choices=("engine", "offline"), default="engine",
                        help="engine: the streaming engine as configured; offline: faster-whisper's own transcribe "
                        "of each whole file (30 s window, beam 5, same prompt), the reference the finals must match")
    parser.add_argument("--chain", action="store_true",
                        help="engine: feed each voice+channel group's rows one after another on one leg (as in a "
                        "call: finals hear the speaker's previous utterance, asr.final_context_audio_s)")
    args = parser.parse_args(argv)

    settings = load_settings(args.config)
    asr_settings = settings.asr.model_copy(update={"partial_interval_s": 0.0})
    items = read_manifest(args.manifest, args.split)
    if not items:
        parser.error(f"no manifest rows for split {args.split!r}")
    audio = {i.id: read_wav(i.audio, strict=True) for i in items}
    seconds = sum(len(a) for a in audio.values()) / SAMPLE_RATE
    recognizer = recognizer_from_settings(settings.asr, ModelRegistry(settings.models_dir),
                                          allow_downloads=settings.allow_downloads)
    engine = AsrEngine(recognizer, asr_settings)
    decode = run_offline if args.decoder == "offline" else run_chained if args.chain else run
    try:
        plain, plain_s = decode(engine, items, audio, "plain")
        passes = {"plain": plain}
        final_hyps, elapsed = plain, plain_s
        if args.kb:
            engine.set_glossary(kb_glossary(args.kb), vocabulary=kb_vocabulary(args.kb))
            final_hyps, elapsed = decode(engine, items, audio, "glossary")
            passes["glossary"] = final_hyps
    finally:
        engine.close()

    results = {name: summarize(items, {k: h.text for k, h in hyps.items()}) for name, hyps in passes.items()}
    best = results["glossary" if args.kb else "plain"]
    by_language: dict[str, dict[str, float | int]] = {}
    for name, row in best.items():
        by_language[name] = dict(row)
        if args.kb:
            for metric, value in results["plain"][name].items():
                if metric != "n":
                    by_language[name][f"{metric}_no_glossary"] = value
    raw = summarize(items, {k: h.raw for k, h in final_hyps.items()})
    summary = {
        "cer": best.get("ja", {}).get("cer"),
        "wer": best.get("en", {}).get("wer"),
        "cer_no_glossary": results["plain"].get("ja", {}).get("cer"),
        "cer_no_vocab": raw.get("ja", {}).get("cer"),
        "by_language": by_language,
        "by_split": breakdown(items, final_hyps, "split"),
        "by_channel": breakdown(items, final_hyps, "channel"),
        "by_synth": breakdown(items, final_hyps, "synth"),
        "vocab": vocab_report(items, final_hyps),
        "rtf": round(elapsed / seconds, 3) if seconds else None,
        "n": len(items),
        "audio_s": round(seconds, 1),
        "glossary": bool(args.kb),
        "split": args.split,
        "decoder": args.decoder,
        "chain": args.chain and args.decoder == "engine",
        "final_context": settings.asr.final_context,
        "final_context_audio_s": settings.asr.final_context_audio_s,
    }
    if args.kb:
        summary["by_split_no_glossary"] = breakdown(items, plain, "split")
        summary["by_channel_no_glossary"] = breakdown(items, plain, "channel")
    if args.save_hyps:
        with open(args.save_hyps, "w", encoding="utf-8") as f:
            for item in items:
                saved = {"id": item.id, "split": item.split, "channel": item.channel, "voice": item.voice,
                         "language": item.language, "ref": item.text,
                         **{f"hyp_{name}": hyps[item.id].text for name, hyps in passes.items()},
                         **{f"raw_{name}": hyps[item.id].raw for name, hyps in passes.items()}}
                f.write(json.dumps(saved, ensure_ascii=False) + "\n")
    if not args.json:
        for item in items:
            print(f"{item.id:24s} ref: {item.text}\n{'':24s} hyp: {final_hyps[item.id].text}")
        for name, row in by_language.items():
            print(f"{name:14s} " + "  ".join(f"{k}={v}" for k, v in row.items()))
        for field in ("split", "channel"):
            for name, langs in summary[f"by_{field}"].items():
                for lang, row in langs.items():
                    print(f"{field}={name:6s} {lang}  " + "  ".join(f"{k}={v}" for k, v in row.items()))
        for r in summary["vocab"]["all"]:
            print(f"vocab {'ok ' if r['right'] else 'BAD'} {r['id']}: {r['original']} -> {r['replacement']}")
    print(json.dumps(summary, ensure_ascii=False))
    return 0
