"""Synthesize the dev call set's audio: one 16 kHz mono PCM16 WAV per turn, plus ``calls_audio.jsonl``.

Takes calls from ``eval/data/calls.jsonl`` (GUIDE.md calls format), speaks Japanese with pyopenjtalk-plus
and English with espeak-ng (a different pitch/tempo per speaker), trims silences, and writes the same rows
with ``audio`` paths relative to the output file. Deterministic and offline:

    .venv/bin/python scripts/make_call_audio.py [--ids call-a call-b ...] [--per-language 6]
    (needs: pip install -e '.[tts]', apt-get install -y espeak-ng)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eval.speech import synthesize, write_wav  # noqa: E402


def select(rows: list[dict], ids: list[str] | None, per_language: int) -> list[dict]:
    """The named calls, or the first ``per_language`` calls of each language."""
    if ids:
        by_id = {r["id"]: r for r in rows}
        missing = [i for i in ids if i not in by_id]
        if missing:
            raise SystemExit(f"unknown call ids: {', '.join(missing)}")
        return [by_id[i] for i in ids]
    counts: dict[str, int] = {}
    chosen = []
    for row in rows:
        lang = row.get("language", "ja")
        if counts.get(lang, 0) < per_language:
            counts[lang] = counts.get(lang, 0) + 1
            chosen.append(row)
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=Path, default=ROOT / "eval" / "data" / "calls.jsonl")
    parser.add_argument("--out", type=Path, default=ROOT / "eval" / "data" / "calls_audio")
    parser.add_argument("--ids", nargs="+", help="calls to take (default: the first --per-language of each)")
    parser.add_argument("--per-language", type=int, default=6)
    args = parser.parse_args(argv)

    rows = [json.loads(line) for line in args.calls.read_text(encoding="utf-8").splitlines() if line.strip()]
    chosen = select(rows, args.ids, args.per_language)
    audio_dir = args.out / "audio"
    audio_dir.mkdir(parents=True, exist_ok=True)
    for old in audio_dir.glob("*.wav"):
        old.unlink()
    seconds = 0.0
    with open(args.out / "calls_audio.jsonl", "w", encoding="utf-8") as f:
        for row in chosen:
            lang = row.get("language", "ja")
            turns = []
            for i, turn in enumerate(row["turns"]):
                name = f"audio/{row['id']}-{i:02d}.wav"
                samples = synthesize(turn["text"], lang, turn["speaker"])
                write_wav(args.out / name, samples)
                seconds += len(samples) / 16000
                turns.append({**{k: v for k, v in turn.items() if k != "audio"}, "audio": name})
            f.write(json.dumps({**row, "turns": turns}, ensure_ascii=False) + "\n")
    size = sum(p.stat().st_size for p in audio_dir.glob("*.wav"))
    langs = sorted({r.get("language", "ja") for r in chosen})
    sys.stdout.write(f"{len(chosen)} calls ({', '.join(langs)}), {seconds:.0f} s of speech, {size / 1e6:.2f} MB in {args.out}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
