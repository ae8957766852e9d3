"""Synthesize the test fixtures' speech: Japanese (pyopenjtalk-plus) and English (espeak-ng).

Writes 16 kHz mono PCM16 WAVs into ``tests/fixtures/audio/``. The older eval utterances below (``JA``, ``EN``)
are now part of ``eval/data/asr/`` (voices ``ojt-legacy``, ``espeak-legacy``), which
``scripts/make_asr_set.py`` rebuilds with this file's recipe for them. Deterministic, offline:

    .venv/bin/python scripts/make_fixtures.py            # tests/fixtures/audio/
    (needs: pip install -e '.[tts]', apt-get install -y espeak-ng sox)
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from asr.audio import SAMPLE_RATE, decode_pcm16, read_wav, resample, write_wav

ROOT = Path(__file__).resolve().parent.parent

# Colloquial caller utterances (fillers えーと/あの, ちゃって, ですけど) in four contact-center domains.
JA: dict[str, str] = {
    "ja-card-lost": "えーと、クレジットカードを落としちゃったんですけど、止めてもらえますか。",
    "ja-card-double": "あの、今月の請求額がなんか高いんですけど、二重に引き落とされてませんか。",
    "ja-card-reissue": "カードの再発行って、どれくらいかかりますか。",
    "ja-card-pin": "暗証番号を忘れちゃって、ロックされちゃったんですけど。",
    "ja-card-revo": "リボ払いを一括払いに変更したいんですけど。",
    "ja-tel-plan": "えーと、スマホの料金プランを変更したいんですけど。",
    "ja-tel-net": "あの、昨日からインターネットがつながらなくなっちゃって。",
    "ja-tel-sim": "SIMカードの再発行をお願いしたいんですが。",
    "ja-tel-model": "機種変更の時に、データ移行ってやってもらえますか。",
    "ja-ec-delivery": "注文した商品がまだ届いてないんですけど、配送状況を確認できますか。",
    "ja-ec-return": "サイズが合わなかったので、返品して返金してほしいんですけど。",
    "ja-ec-points": "えーと、ポイントが付与されてないみたいなんですけど。",
    "ja-util-move": "あの、引っ越しするので、電気の契約を解約したいんですけど。",
    "ja-util-gas": "ガスの開栓の立ち会いって、土曜日でも大丈夫ですか。",
    "ja-util-water": "水道料金の口座振替の手続きをしたいんですけど。",
    "ja-util-meter": "えーと、検針票の使用量がいつもより多いんですけど。",
}
EN: dict[str, str] = {
    "en-card-lost": "Hi, I lost my credit card yesterday and I need to block it.",
    "en-card-double": "I was charged twice on my last bill, can you check that for me?",
    "en-tel-net": "My internet connection keeps dropping since this morning.",
    "en-ec-return": "I would like to return the shoes I ordered and get a refund.",
    "en-tel-plan": "Can I change my mobile plan to the unlimited data option?",
    "en-util-move": "I am moving next month, so I need to cancel my electricity contract.",
}
TEST_FIXTURES = {"en_refund.wav": "en-ec-return", "ja_points.wav": "ja-ec-points"}
# Test-only utterances, older than the eval set: normal speed, untrimmed, so the committed WAVs reproduce byte for byte.
STANDALONE_FIXTURES: dict[str, str] = {"ja_lost_card.wav": "クレジットカードをなくしてしまいました。"}


def tts_ja(text: str, speed: float = 1.2) -> np.ndarray:
    import pyopenjtalk

    x, sr = pyopenjtalk.tts(text, speed=speed)
    return resample(decode_pcm16(x), sr)


def tts_en(text: str) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "en.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "175", "-w", str(out), text], check=True)
        return read_wav(out)


def trim(x: np.ndarray, pad_s: float = 0.25) -> np.ndarray:
    """Cut synthesis silence to ``pad_s`` on each side (keeps files small, leaves VAD room)."""
    loud = np.flatnonzero(np.abs(x) > 0.01)
    if loud.size == 0:
        return x
    pad = int(pad_s * SAMPLE_RATE)
    core = x[max(0, loud[0] - pad // 3) : loud[-1] + pad // 3]
    return np.concatenate([np.zeros(pad, np.float32), core, np.zeros(pad, np.float32)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixtures", type=Path, default=ROOT / "tests" / "fixtures" / "audio")
    args = parser.parse_args(argv)
    for name, key in TEST_FIXTURES.items():
        write_wav(args.fixtures / name, trim(tts_ja(JA[key])) if key in JA else trim(tts_en(EN[key])), truncate=True)
    for name, text in STANDALONE_FIXTURES.items():
        write_wav(args.fixtures / name, tts_ja(text, speed=1.0), truncate=True)
    sys.stdout.write(f"{len(TEST_FIXTURES) + len(STANDALONE_FIXTURES)} fixtures in {args.fixtures}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
