"""Synthesize the dev call set's audio: one 16 kHz mono PCM16 WAV per turn, plus ``calls_audio.jsonl``.

Takes calls from ``eval/data/calls.jsonl`` (GUIDE.md calls format), speaks Japanese with pyopenjtalk-plus
and English with espeak-ng (a different pitch/tempo per speaker), trims silences, and writes the same rows
with ``audio`` paths relative to the output file. Deterministic and offline:

    .venv/bin/python scripts/make_call_audio.py [--ids call-a call-b ...] [--per-language 6]
    (needs: pip install -e '.[tts]', apt-get install -y espeak-ng)

``--varied`` renders the split call set instead (``eval/data/calls_v2.jsonl`` -> ``calls_audio/calls_v2.jsonl``
and ``calls_audio/v2/``) with the voices, speaking rates, telephone channel and noise of
``scripts/make_asr_set.py`` (imported, not copied), so that no single voice can be tuned to: agent and customer
speak with different voices, the synthesizer pairs vary from call to call, ``test`` customers often speak
with a voice ``dev`` never had, a third of the calls pass the telephone channel on both legs (300-3400 Hz,
G.711 mu-law 8 kHz) and one call per split has light noise (15-20 dB SNR) on the customer's leg::

    KOKORO_JA_CACHE=/tmp/kokoro .venv/bin/python scripts/make_call_audio.py --varied
    (needs also: apt-get install -y sox)
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import make_asr_set as asrset  # noqa: E402  (voices, channels and noise of the ASR dev/test set)

from asr.audio import SAMPLE_RATE, write_wav  # noqa: E402
from eval.speech import synthesize  # noqa: E402

SEED = 13
SPEAKERS = ("agent", "customer")


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


def _voices(lang: str, split: str) -> tuple[list[str], list[str]]:
    """(voices both splits use, voices only ``test`` uses) of make_asr_set for ``lang``."""
    usable = [v for v in asrset.VOICES if v.language == lang and v.name not in asrset.LEGACY]
    return [v.name for v in usable if "dev" in v.splits], [v.name for v in usable if v.splits == ("test",)
                                                         and split == "test"]


def plan_calls(rows: list[dict]) -> dict[str, dict]:
    """Per call id: each speaker's voice and rate, the channel, and the customer leg's noise (seeded).

    Agents cycle over the shared voices; on every other ``test`` call the customer takes a held-out voice,
    otherwise a shared one of the other synthesizer on even calls and of the same one on odd calls.
    Every third call of a split passes the telephone channel; the second of those carries noise too.
    """
    rng = random.Random(SEED)
    plans: dict[str, dict] = {}
    for split in ("dev", "test"):
        in_split = [r for r in rows if r.get("split", "dev") == split]
        for lang in sorted({r.get("language", "ja") for r in in_split}):
            shared, held = _voices(lang, split)
            rng.shuffle(shared)
            for k, row in enumerate(r for r in in_split if r.get("language", "ja") == lang):
                agent = shared[k % len(shared)]
                synth = asrset.BY_NAME[agent].synth
                others = [v for v in shared if v != agent]
                pool = ([v for v in others if (asrset.BY_NAME[v].synth == synth) == bool(k % 2)] or others)
                customer = held[(k // 2) % len(held)] if held and k % 2 == 0 else pool[k % len(pool)]
                plans[row["id"]] = {"voices": {"agent": agent, "customer": customer}}
        for k, row in enumerate(in_split):
            plan = plans[row["id"]]
            plan["channel"] = "phone" if k % 3 == 1 else "clean"
            if k % 6 == 4:
                plan["noise"] = asrset.NOISES[rng.randrange(len(asrset.NOISES))]
                plan["snr_db"] = round(rng.uniform(15.0, 20.0), 1)
    # speaking rates drawn as make_asr_set draws them, one per speaker and call
    legs = [{"id": f"{call_id}-{s}", "split": "dev", "language": "", "voice": plan["voices"][s], "channel": "clean"}
            for call_id, plan in plans.items() for s in SPEAKERS]
    for leg in asrset.plan(legs):
        call_id, speaker = leg["id"].rsplit("-", 1)
        plans[call_id].setdefault("rates", {})[speaker] = leg["rate"]
    return plans


def render_varied(rows: list[dict], out: Path, only: list[str] | None = None) -> tuple[float, int]:
    """Every turn of ``rows`` as planned (``only``: just these calls, the others' files are kept); writes
    ``out/calls_v2.jsonl``. Returns (seconds rendered now, bytes of the set)."""
    plans = plan_calls(rows)
    audio_dir = out / "v2"
    audio_dir.mkdir(parents=True, exist_ok=True)
    seconds, names = 0.0, set()
    with open(out / "calls_v2.jsonl", "w", encoding="utf-8") as f:
        for row in rows:
            plan = plans[row["id"]]
            turns = []
            for i, turn in enumerate(row["turns"]):
                name = f"v2/{row['id']}-{i:02d}.wav"
                speaker = turn["speaker"]
                noisy = speaker == "customer" and "noise" in plan
                leg = {"id": f"{row['id']}-{i:02d}", "text": turn["text"], "voice": plan["voices"][speaker],
                       "rate": plan["rates"][speaker], "channel": "noisy" if noisy else plan["channel"]}
                if noisy:
                    leg |= {"noise": plan["noise"], "snr_db": plan["snr_db"]}
                if turn.get("say"):
                    leg["say"] = turn["say"]
                names.add(Path(name).name)
                if only and row["id"] not in only and (out / name).is_file():
                    continue
                samples = asrset.render(leg)
                write_wav(out / name, samples)
                seconds += len(samples) / SAMPLE_RATE
                turns.append({**{k: v for k, v in turn.items() if k != "audio"}, "audio": name})
            f.write(json.dumps({**row, "turns": turns, **plan}, ensure_ascii=False) + "\n")
            f.flush()
            sys.stdout.write(f"{row['id']}: {plan['voices']} {plan['channel']} {plan.get('noise', '')}\n")
    for stale in audio_dir.glob("*.wav"):
        if stale.name not in names:
            stale.unlink()
    return seconds, sum((audio_dir / n).stat().st_size for n in names)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=Path, help="default eval/data/calls.jsonl (calls_v2.jsonl with --varied)")
    parser.add_argument("--out", type=Path, default=ROOT / "eval" / "data" / "calls_audio")
    parser.add_argument("--ids", nargs="+", help="calls to take (default: the first --per-language of each; "
                        "with --varied: re-render only these)")
    parser.add_argument("--per-language", type=int, default=6)
    parser.add_argument("--varied", action="store_true", help="the split call set: several voices and channels")
    args = parser.parse_args(argv)

    data = ROOT / "eval" / "data"
    calls = args.calls or data / ("calls_v2.jsonl" if args.varied else "calls.jsonl")
    rows = [json.loads(line) for line in calls.read_text(encoding="utf-8").splitlines() if line.strip()]
    if args.varied:
        seconds, size = render_varied(rows, args.out, args.ids and [r["id"] for r in select(rows, args.ids, 0)])
        sys.stdout.write(f"{len(rows)} calls, {seconds:.0f} s of speech, {size / 1e6:.2f} MB in {args.out / 'v2'}\n")
        return 0
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
                seconds += len(samples) / SAMPLE_RATE
                turns.append({**{k: v for k, v in turn.items() if k != "audio"}, "audio": name})
            f.write(json.dumps({**row, "turns": turns}, ensure_ascii=False) + "\n")
    size = sum(p.stat().st_size for p in audio_dir.glob("*.wav"))
    langs = sorted({r.get("language", "ja") for r in chosen})
    sys.stdout.write(f"{len(chosen)} calls ({', '.join(langs)}), {seconds:.0f} s of speech, {size / 1e6:.2f} MB in {args.out}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
