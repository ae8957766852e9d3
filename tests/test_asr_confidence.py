"""Word probabilities of finals (``asr/confidence.py``) on the real model, and the threshold that turns them into
uncertain number spans (``summarize/uncertain.py``)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from support.wav import FIXTURES, read_wav

from asr import confidence
from asr.base import Word
from asr.confidence import has_numerals, pieces, word_probabilities
from asr.short_context import _features
from asr.whisper import WhisperRecognizer
from gpu.device import plan_device
from summarize.uncertain import score_numbers, uncertain_spans


@pytest.fixture(scope="module")
def recognizer(whisper_path: Path) -> WhisperRecognizer:
    return WhisperRecognizer(whisper_path, plan_device("cpu", "int8", workers=1))


@pytest.fixture(scope="module")
def lost_card() -> np.ndarray:
    return read_wav(FIXTURES / "audio" / "ja_lost_card.wav")


@pytest.mark.slow
def test_finals_carry_probabilities_that_reassemble_the_text(recognizer: WhisperRecognizer,
                                                             lost_card: np.ndarray,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    plain = recognizer.transcribe(lost_card, language="ja", beam_size=5, prompt="紛失、盗難、再発行")
    assert "カード" in plain.text and not has_numerals(plain.text)
    assert plain.words == (), "a final without numerals skips the alignment pass (only numbers are ever flagged)"
    monkeypatch.setattr(confidence, "_NUMERAL", re.compile("."))  # every final now counts as holding a number
    final = recognizer.transcribe(lost_card, language="ja", beam_size=5, prompt="紛失、盗難、再発行")
    assert final.text == plain.text and final.words
    assert "".join(w.text for w in final.words).strip() == final.text
    assert all(0.0 <= w.probability <= 1.0 and "\ufffd" not in w.text for w in final.words)
    assert np.mean([w.probability for w in final.words]) > 0.5, "a clean fixture is mostly heard well"
    english = recognizer.transcribe(read_wav(FIXTURES / "audio" / "en_refund.wav"), language="en", beam_size=5)
    assert "".join(w.text for w in english.words).strip() == english.text and "refund" in english.text.lower()
    assert recognizer.transcribe_partial(lost_card, language="ja").words == (), "greedy partials skip the pass"


@pytest.mark.slow
def test_forced_wrong_digits_get_low_probability(recognizer: WhisperRecognizer, lost_card: np.ndarray) -> None:
    """Teacher-forced tokens the audio does not hold score far below the recognizer's own."""
    import ctranslate2
    from faster_whisper.tokenizer import Tokenizer

    model = recognizer.model
    tokenizer = Tokenizer(model.hf_tokenizer, True, task="transcribe", language="ja")
    heard = recognizer.transcribe(lost_card, language="ja", beam_size=5).text
    wrong = "4821" + heard
    feats = np.ascontiguousarray(_features(model, lost_card, 3000)[None])
    encoded = model.model.encode(ctranslate2.StorageView.from_array(feats), to_cpu=False)
    tokens = [tokenizer.encode(" " + text.strip()) for text in (heard, wrong)]
    both = model.model.encode(ctranslate2.StorageView.from_array(np.concatenate([feats, feats])), to_cpu=False)
    right_words, wrong_words = word_probabilities(model, both, tokens, tokenizer,
                                                  start_sequence=tokenizer.sot_sequence,
                                                  num_frames=[len(lost_card) // 160] * 2)
    assert "".join(w.text for w in wrong_words).strip() == wrong
    digits = [w.probability for w in wrong_words if any(c.isdigit() for c in w.text)]
    assert digits and max(digits) < 0.1, wrong_words
    assert np.mean([w.probability for w in right_words]) > 0.5
    [empty] = word_probabilities(model, encoded, [[]], tokenizer, start_sequence=tokenizer.sot_sequence,
                                 num_frames=[100])
    assert empty == ()


def test_pieces_join_split_characters(whisper_path: Path) -> None:
    from faster_whisper.tokenizer import Tokenizer
    from tokenizers import Tokenizer as HfTokenizer

    tokenizer = Tokenizer(HfTokenizer.from_file(str(whisper_path / "tokenizer.json")), True, task="transcribe",
                          language="ja")
    text = "暗証番号は𠮷田です"
    tokens = tokenizer.encode(text)
    assert len(tokens) > len(text) - 3, "some characters span several byte-level tokens"
    out = pieces(tokenizer, tokens, [0.5] * len(tokens))
    assert "".join(w.text for w in out) == text and all("\ufffd" not in w.text for w in out)
    assert any(w.probability == pytest.approx(0.5 ** 2) or w.probability < 0.25 for w in out), \
        "a piece of several tokens gets the product of their probabilities"


WORDS = [Word("ご", 0.9), Word("請求", 0.95), Word("額", 0.99), Word("が", 0.98), Word("1", 0.2),
         Word("万", 0.97), Word("2", 0.41), Word("千", 0.94), Word("円", 0.3), Word("で", 0.99),
         Word("、", 0.9), Word("電話", 0.99), Word("は", 0.98), Word("090", 0.3), Word("-", 0.9), Word("1234", 0.2),
         Word("-", 0.9), Word("5678", 0.2), Word("、", 0.9), Word("3", 0.97), Word("日", 0.99), Word("です", 0.99)]


def test_threshold_marks_only_numbers_under_it() -> None:
    raw = "".join(w.text for w in WORDS)
    masked = raw.replace("090-1234-5678", "[電話番号]")  # masking changed the text: spans are on the final text
    scored = score_numbers(masked, WORDS, "ja")
    assert [(masked[n.start:n.end], n.value) for n in scored] == [("1万2千円", "12000"), ("3日", "3")]
    # the digits' pieces count, the first one (it also picks the spelling: 1万2千 or 12000) and the counter not
    assert scored[0].pieces == (0.2, 0.97, 0.41, 0.94) and scored[0].probability == pytest.approx(0.41)
    assert scored[1].probability == pytest.approx(0.97) and not any(n.implausible for n in scored)
    assert [masked[a:b] for a, b in uncertain_spans(masked, WORDS, "ja", 0.5)] == ["1万2千円"]
    assert uncertain_spans(masked, WORDS, "ja", 0.4) == [], "0.41 is not under 0.4"
    assert uncertain_spans(masked, WORDS, "ja", 0.0) == [] and uncertain_spans(masked, (), "ja", 0.5) == []
    corrected = "ご請求額が1万2千円で、[電話番号]、3日です"  # 電話は dropped as well: the alignment still holds
    at = corrected.index("3日")
    assert uncertain_spans(corrected, WORDS, "ja", 0.98) == [(5, 10), (at, at + 2)]
    english = [Word(" I", 0.9), Word(" paid", 0.9), Word(" $", 0.9), Word("65", 0.2), Word(" on", 0.9),
               Word(" March", 0.9), Word(" 5", 0.95), Word("th", 0.2)]
    text = "".join(w.text for w in english).strip()
    assert [text[a:b] for a, b in uncertain_spans(text, english, "en", 0.5)] == ["$65"]
    # $65 heard as $1.65: the unsure first digit counts, it is no mere spelling of the value
    misheard = [Word(" $", 0.9), Word("1", 0.38), Word(".", 0.96), Word("65", 0.95), Word(" a", 0.9)]
    assert uncertain_spans("$1.65 a", misheard, "en", 0.5) == [(0, 5)]
    assert uncertain_spans("$5400 a", [Word(" $", 0.9), Word("5", 0.3), Word("400", 0.95)], "en", 0.5) == []


def test_numbers_no_caller_says_are_uncertain_however_sure() -> None:
    """Whisper writes a half-heard word as digits with confidence: 先月 → 1000月, ご請求 → 5成球, お荷物 → オニモ2."""
    for text, flagged in (("1000月の請求が高い", "1000月"), ("5成球の確認", "5"), ("オニモ2が届かない", "2"),
                          ("13月3日に", "13月")):
        words = [Word(c, 0.99) for c in text]
        assert [text[a:b] for a, b in uncertain_spans(text, words, "ja", 0.5)] == [flagged], text
        assert [text[a:b] for a, b in uncertain_spans(text, (), "ja", 0.5)] == [flagged], "no pieces needed"
    for text in ("12月31日の23時59分に", "第2営業日に", "3,000円と2つ", "電話は090-1234-5678です"):
        assert uncertain_spans(text, [Word(c, 0.99) for c in text], "ja", 0.5) == [], text
    assert uncertain_spans("1000月", [Word("1000月", 0.99)], "ja", 0.0) == [], "0 switches it off"
    phone = [Word("98", 0.9), Word(",", 0.9), Word("765", 0.9), Word(",", 0.9), Word("1321", 0.2), Word("に", 0.9)]
    assert uncertain_spans("98,765,1321に", phone, "ja", 0.5) == [(0, 11)], "digit groups are one number"


def test_numeral_check_is_a_superset_of_numbers() -> None:
    for text in ("3万円です", "電話番号は０９０の", "二十五日に", "about twenty dollars", "order 4512"):
        assert has_numerals(text), text
    for text in ("カードを落としました", "I lost my card"):
        assert not has_numerals(text), text
