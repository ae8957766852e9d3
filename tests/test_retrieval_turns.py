"""Turn gating: which customer finals may query the KB (greeting, identity answer, closing, request, complaint).

Labelled turns in Japanese and English, written the way callers speak (fillers, punctuation or none, ASR-ish
spellings), plus the whole retrieval query set: no answerable query may be gated away.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from retrieval.turns import TurnKind, classify_turn, should_query

G, I, C, R, P = (TurnKind.GREETING, TurnKind.IDENTITY, TurnKind.CLOSING, TurnKind.REQUEST,  # noqa: E741
                 TurnKind.COMPLAINT)
DATA = Path(__file__).parents[1] / "eval" / "data"

CASES = [
    ('もしもし', 'ja', G),
    ('もしもし、聞こえてますか', 'ja', G),
    ('あ、お世話になります', 'ja', G),
    ('こんにちは、よろしくお願いします', 'ja', G),
    ('はい、もしもし', 'ja', G),
    ('お電話ありがとうございます、よろしくお願いします', 'ja', G),
    ('山田花子です', 'ja', I),
    ('山田花子、1985年4月12日生まれです', 'ja', I),
    ('佐藤一郎と申します', 'ja', I),
    ('生年月日は1985年4月12日です', 'ja', I),
    ('電話番号は090-1234-5678です', 'ja', I),
    ('昭和60年4月12日です', 'ja', I),
    ('住所は東京都世田谷区の、えっと、三軒茶屋一丁目です', 'ja', I),
    ('カード番号は4111 1111 1111 1111です', 'ja', I),
    ('はい、本人です', 'ja', I),
    ('会員番号は12345678です', 'ja', I),
    ('たなかです', 'ja', I),
    ('いえ、大丈夫です。ありがとうございました。', 'ja', C),
    ('はい、わかりました。失礼します', 'ja', C),
    ('はい', 'ja', C),
    ('はい、そうです', 'ja', C),
    ('ありがとうございます', 'ja', C),
    ('助かりました、また何かあったら電話します', 'ja', C),
    ('了解です、じゃあそれでお願いします', 'ja', C),
    ('いえいえ、こちらこそありがとうございました', 'ja', C),
    ('大丈夫です、特にほかにはないです', 'ja', C),
    ('ああ、なるほどね、そうなんだ', 'ja', C),
    ('ええ、ええ', 'ja', C),
    ('ちょっとお待ちください、今ペンを取ってきます', 'ja', C),
    ('すみません、子供が泣いてて、ちょっと待ってもらえますか', 'ja', C),
    ('わかりました、それでお願いします', 'ja', C),
    ('以上です', 'ja', C),
    ('あの、サイフごとカードを落としてしまって、どうしたらいいですか?', 'ja', R),
    ('カードを解約したいんですが', 'ja', R),
    ('引き落とし日はいつですか', 'ja', R),
    ('けんしんひょうが届かないんですけど', 'ja', R),
    ('再発行の手数料はかかりますか', 'ja', R),
    ('スマホの画面が割れちゃって', 'ja', R),
    ('住所を変更したいんです', 'ja', R),
    ('今月の請求額を教えてください', 'ja', R),
    ('ネットがつながらなくて困ってるんです', 'ja', R),
    ('はい、それで、ポイントの有効期限も知りたいんですけど', 'ja', R),
    ('えっと財布ごと落としちゃって', 'ja', R),
    ('電話番号が変わったので登録を直したいんですけど', 'ja', R),
    ('生年月日の登録が間違ってるみたいなので直してほしいんです', 'ja', R),
    ('それ、止めてもらえますか', 'ja', R),
    ('ガスくさいんです', 'ja', R),
    ('クーポンが使えないんですけど', 'ja', R),
    ('キャッシュカードをなくしました', 'ja', R),
    ('何回電話してもたらい回しにされて、もういい加減にしてほしいんですけど', 'ja', P),
    ('前に電話したときの担当の人の態度がひどくて', 'ja', P),
    ('責任者を出してください', 'ja', P),
    ('説明が違うじゃないですか、納得できません', 'ja', P),
    ('こんな対応、最悪ですよ', 'ja', P),
    ('hello', 'en', G),
    ('hi there', 'en', G),
    ('good morning', 'en', G),
    ('my name is John Smith', 'en', I),
    ('my date of birth is March 3rd 1990', 'en', I),
    ("it's Mary Jones", 'en', I),
    ('my number is 555 123 4567', 'en', I),
    ("thank you so much, that's all I needed", 'en', C),
    ('ok great, bye', 'en', C),
    ("yes that's correct", 'en', C),
    ('hold on a second please', 'en', C),
    ('thanks for your help', 'en', C),
    ('have a nice day', 'en', C),
    ('sorry, the train is really noisy', 'en', C),
    ('okay', 'en', C),
    ('I lost my credit card', 'en', R),
    ('how do I return these shoes?', 'en', R),
    ('my card keeps getting declined online', 'en', R),
    ('can I change my plan', 'en', R),
    ('the wifi at home stopped working this morning', 'en', R),
    ('I was charged twice', 'en', R),
    ('I need to update my address', 'en', R),
    ('this is unacceptable, I want to speak to a manager', 'en', P),
    ("I've called five times and nobody helped", 'en', P),
    ('your service is terrible', 'en', P),
]


def test_enough_labelled_turns_in_both_languages() -> None:
    assert len(CASES) >= 60
    assert sum(lang == "en" for _, lang, _ in CASES) >= 20 and sum(lang == "ja" for _, lang, _ in CASES) >= 40
    # an answer needs the agent's question before it (tests/test_suggest_gating.py)
    assert {kind for _, _, kind in CASES} == set(TurnKind) - {TurnKind.ANSWER}


@pytest.mark.parametrize(("text", "language", "kind"), CASES)
def test_classify_turn(text: str, language: str, kind: TurnKind) -> None:
    assert classify_turn(text, language) is kind


def test_only_requests_and_complaints_query() -> None:
    assert [k for k in TurnKind if should_query(k)] == [TurnKind.REQUEST, TurnKind.COMPLAINT]


def test_language_is_guessed_from_the_script_when_unknown() -> None:
    assert classify_turn("thank you, bye", None) is C
    assert classify_turn("カードをなくしたんですけど", None) is R
    assert classify_turn("", "ja") is C and classify_turn("   ", "en") is C


@pytest.mark.parametrize("name", ["queries.jsonl", "queries_v2.jsonl"])
def test_no_answerable_query_is_gated_and_most_offtopic_ones_are(name: str) -> None:
    rows = [json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines() if line.strip()]
    gated = [r for r in rows if not should_query(classify_turn(r["query"], r.get("language")))]
    assert [r["id"] for r in gated if r["relevant"]] == []
    if name == "queries_v2.jsonl":  # its off-topic rows are mostly closings and identity answers
        offtopic = [r for r in rows if not r["relevant"]]
        assert len([r for r in gated if not r["relevant"]]) >= 0.8 * len(offtopic)
