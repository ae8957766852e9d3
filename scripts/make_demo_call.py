"""Synthesize the widget's demo call (a customer who lost their credit card) with pyopenjtalk-plus.

Writes ``assist/static/demo/call.wav`` (16 kHz mono PCM16, both speakers one after the other) and
``assist/static/demo/call.json`` (the turns with their speaker, text and start/end seconds). The widget
routes each turn's samples to its leg's channel and streams a 2-channel call (0 customer, 1 agent)
through the real audio socket. One mono file instead of a stereo one halves the bundled size, and
nothing is lost: the legs never overlap. The JSON follows the ``calls.jsonl`` shape of the eval tools.

Usage: ``.venv/bin/python scripts/make_demo_call.py [--out assist/static/demo]`` (needs the ``tts`` extra).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pyopenjtalk

from asr.audio import SAMPLE_RATE, decode_pcm16, resample, write_wav

LEAD_IN_S = 0.5
GAP_S = 0.7
TAIL_S = 1.2

# Different pitch and tempo so the two legs sound like two people (pyopenjtalk ships one voice).
VOICES: dict[str, dict[str, float]] = {
    "agent": {"half_tone": 1.0, "speed": 1.2},
    "customer": {"half_tone": -3.0, "speed": 1.3},
}

TURNS: list[tuple[str, str]] = [
    ("agent", "お電話ありがとうございます。さくらカードの佐藤でございます。"),
    ("customer", "あの、財布ごとカードを落としてしまって、どうしたらいいですか。"),
    ("agent", "ご本人確認のため、お名前と生年月日をお願いいたします。"),
    ("customer", "山田花子、1985年4月12日生まれです。"),
    ("agent", "ただいまカードを停止いたしました。新しいカードは一週間ほどでお届けします。"),
    ("customer", "再発行の手数料はかかりますか。"),
    ("agent", "手数料は1100円でございます。ほかにご不明な点はございますか。"),
    ("customer", "いえ、大丈夫です。ありがとうございました。"),
]


def synthesize(text: str, speaker: str) -> np.ndarray:
    """One turn as float32 at 16 kHz."""
    wav, sr = pyopenjtalk.tts(text, **VOICES[speaker])
    return resample(decode_pcm16(np.asarray(wav)), sr)


def build(turns: list[tuple[str, str]]) -> tuple[np.ndarray, list[dict[str, object]]]:
    """Concatenate the turns with pauses; return the audio and each turn's timing."""
    pieces: list[np.ndarray] = [np.zeros(int(LEAD_IN_S * SAMPLE_RATE), np.float32)]
    cursor = len(pieces[0])
    script: list[dict[str, object]] = []
    for i, (speaker, text) in enumerate(turns):
        audio = synthesize(text, speaker)
        script.append({"speaker": speaker, "text": text, "start": round(cursor / SAMPLE_RATE, 3),
                       "end": round((cursor + len(audio)) / SAMPLE_RATE, 3)})
        pause = np.zeros(int((GAP_S if i < len(turns) - 1 else TAIL_S) * SAMPLE_RATE), np.float32)
        pieces += [audio, pause]
        cursor += len(audio) + len(pause)
    mix = np.concatenate(pieces)
    peak = float(np.max(np.abs(mix))) or 1.0
    return mix * (0.7 / peak), script


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "assist/static/demo")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    audio, turns = build(TURNS)
    write_wav(args.out / "call.wav", audio)
    meta = {
        "id": "demo-lost-card",
        "language": "ja",
        "audio": "call.wav",
        "sample_rate": SAMPLE_RATE,
        "duration_s": round(len(audio) / SAMPLE_RATE, 3),
        "channels": {"customer": 0, "agent": 1},
        "turns": turns,
        "expected": {"1": ["lost-card"]},
        "facts": ["紛失", "停止", "再発行", "1100円"],
    }
    (args.out / "call.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"{args.out / 'call.wav'}: {meta['duration_s']} s, {len(turns)} turns")  # noqa: T201 (CLI output)


if __name__ == "__main__":
    main()
