"""Which customer finals may replace the cards: what ASR really produced on the dev call set.

Every text below is a final whisper-base returned for a dev call (`eval calls --split dev`, issue 13), masked as
the live session masks it ([電話番号], [生年月日]), with the agent's final just before it. Each of the gated
ones pushed an unrelated card before: misheard names, read-out numbers, answers to the agent's own question,
reactions and closings. The request turns must still search.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from support.live import FakeAsr, FakeRetrieval

from asr.base import Utterance
from assist.hub import CallHub
from assist.session import CallOptions, CallSession
from assist.stages import CallStages
from retrieval.query import build_query
from retrieval.turns import TurnKind, classify_turn, should_query
from summarize.masking import Masker

I, A, C, R = TurnKind.IDENTITY, TurnKind.ANSWER, TurnKind.CLOSING, TurnKind.REQUEST  # noqa: E741

# (customer final, the agent's final before it, language, kind)
GATED = [
    # identity data read out: masked numbers, names whisper misheard
    ("えっと、[電話番号]です。", "ありがとうございます。ご登録の電話番号もお願いいたします。", "ja", I),
    ("[電話番号]です。", "ありがとうございます。ご登録の電話番号もお願いいたします。", "ja", I),
    ("[電話番号]で、まえだです。まえだまこと。", "ご心配をおかけしております。お客様番号とお名前をお願いいたします。", "ja", I),
    ("高橋県内地です。電話は[電話番号]です。", "ご本人確認のため、お名前とご登録の電話番号をお願いいたします。", "ja", I),
    ("携帯は変わらず[電話番号]です。", "新しい電話番号に変更はございますか。", "ja", I),
    ("いのえです。いのえ大好きです。", "ありがとうございます。お名前もお願いいたします。", "ja", I),
    ("ハラシケンタ、[生年月日]です。", "ご住所の変更ですね、お名前と青年学機をお願いいたします。", "ja", I),
    ("ささき県にち、[生年月日]、[電話番号]です。", "ご本人確認のため。お名前と正年学費。電話番号をお願いします。", "ja", I),
    ("Sarah Miller, [DOB], and 450-2003-77789.", "Sorry about that, can I have your full name, date on birth and "
     "phone on birth?", "en", I),
    ("The order number is age 77,120, and the email is www.serodot.org.", "I'm sorry about that, can I have your "
     "order number and the email on the order?", "en", I),
    # answers to the agent's own question: a wish described (〜んですけど) is no new topic there
    ("50万円くらいあると安心なんですけど。", "現在の限度額は30万年でございます。いくらまでご希望でしょうか。", "ja", A),
    ("昨日の夜、駅前のコンビニで、えー、3,200円くらい使ったのが最後だと思います。",  # as scripted
     "ご本人確認が取れました。最後にカードを使いになったのはいつ頃でしょうか。", "ja", A),
    # reactions and closings
    ("え、そんなに使ったかな?", "今月のご使用量は520キロワット幅で、先月の2倍近くでございます。", "ja", C),
    ("カリカスワードが届いてからじゃないとダメなんですね。", "新しいカリパスワードを正面でご自宅に優秀いたします。", "ja", C),
    ("セール品だったからか、わかりました。", "そのクーポンは5000年以上のお買い物が対象で、セール品には使えません。", "ja", C),
    ("どうかいです。ありがとうございます。", "ミライネットの交換画面からお手続きいただけます。", "ja", C),
    ("Rate, thank you.", "Yes, we will send a confirmation text message within the hour.", "en", C),
]

QUERIED = [
    ("よかった、あと、電気台をこのカードで払ってるんですけど、口座からの引き落としに変えたほうがいいですか。",
     "ただいま、カードのご利用を定しました。変更行のご利用はございません。", "ja"),
    # identity data and a wish in one turn, after the agent asked for the identity data
    ("1511万、7124、松田めぐみです、グロノ24cm、25cmにしてほしいんです。", "ご注文番号とお名前をお願いします。", "ja"),
    ("お願いします。それとポイントって期限とかありますか?", "結果は1週間未来にお電話でご連絡します。", "ja"),
    ("じゃあオンラインで、あと、娘の別の会社なんですけど、こっちに移ったら何か安くなります。",
     "既死の変更はオンラインショップなら手数料無料、店頭デストさん850円です。", "ja"),
    # a problem described after an open question is the request itself
    ("あの、パスワードを何回か間違えてしまって、ログインできなくなっちゃったんですけど。",
     "お電話ありがとうございます、サクラ銀行インターネット番キングヘルクディスクの岡田でございます。", "ja"),
    ("カードが届かないんですけど。", "どうされましたか?", "ja"),
    ("Great! Also, will I pay extra for using the card in Canada?",
     "Our fraud system paused the card after another 600 for the charge from a new country.", "en"),
    # the same as ASR heard it on a dev run: no question word, no "?", but "also" opens another request
    ("Great, also, we like extra for using the card in Canada.",
     "Our fraud system paused the card after another 600 for the charge from a new country.", "en"),
    ("Hi, yeah, the blender I order derived with a correct charge, so I'd like to return it.",
     "Thanks for calling to my shop, my name is Kevin, how can I help?", "en"),
    ("Okay, and the month can't be the same order came cheap. Can I hand that back?",
     "It shipped yesterday from our Osaka warehouse, and it should arrive on Friday.", "en"),
]


@pytest.mark.parametrize(("text", "prompt", "language", "kind"), GATED)
def test_misrecognized_identity_answers_reactions_and_closings_never_search(text: str, prompt: str, language: str,
                                                                              kind: TurnKind) -> None:
    got = classify_turn(text, language, prompt=prompt)
    assert got == kind
    assert not should_query(got)


@pytest.mark.parametrize(("text", "prompt", "language"), QUERIED)
def test_requests_after_the_agents_turn_still_search(text: str, prompt: str, language: str) -> None:
    assert classify_turn(text, language, prompt=prompt) == R


def test_masked_numbers_and_bare_names_are_identity_without_the_agents_question() -> None:
    assert classify_turn("えっと、[電話番号]です。", "ja") == I
    assert classify_turn("いのえです。いのえ大好きです。", "ja") == I
    assert classify_turn("My number is [PHONE].", "en") == I


def test_an_answer_needs_a_closed_question_before_it() -> None:
    wish = "50万円くらいあると安心なんですけど。"
    assert classify_turn(wish, "ja") == R  # no question before it: it may be the request
    assert classify_turn(wish, "ja", prompt="限度額を上げました。") == R  # a statement asks nothing
    assert classify_turn(wish, "ja", prompt="ほかにご不明な点はございますか?") == R  # an open question invites one
    assert classify_turn(wish, "ja", prompt="いくらまでご希望でしょうか。") == A
    # a question back, or another topic, is a request even right after the agent's question
    assert classify_turn("その前に、カードが使えないんですけど。", "ja", prompt="お名前をお願いします。") == R
    assert classify_turn("それって手数料かかりますか?", "ja", prompt="いくらまでご希望でしょうか。") == R


def test_a_turn_opening_another_topic_is_searched_without_the_previous_one() -> None:
    earlier = "もしもし、機能の夜、新宿で飲んだ帰りにカードを無くしちゃったみたいなんです。"
    new = build_query("よかった、あと、電気台をこのカードで払ってるんですけど、口座からの引き落としに変えたほうがいいですか。",
                      earlier)
    assert not new.used_context and "無くし" not in new.text
    assert not build_query("Great! Also, will I pay extra for using the card in Canada?",
                           "my card just got declined at my hotel").used_context
    follow_up = build_query("あと何日で届きますか", "荷物がまだ届いてないんですけど")  # あと = "how many more"
    assert follow_up.used_context


def _final(uid: str, leg: str, text: str, start: float) -> Utterance:
    return Utterance("c", leg, uid, text, True, start, start + 0.8, "ja", latency_s=0.1)  # type: ignore[arg-type]


async def test_the_session_gives_the_classifier_the_agents_question() -> None:
    """The dev call ja-credit-limit as ASR heard it: only the request searches; the numbers read out are masked
    before the gate sees them, and the amount answers the agent's question."""
    loop = asyncio.get_running_loop()
    hub = CallHub("c", loop=loop, writer=None, queue_size=256)
    retrieval = FakeRetrieval({})
    stages = CallStages(asr=FakeAsr(), retrieval=retrieval, mask=Masker())
    session = CallSession("c", CallOptions(language="ja", legs=("customer", "agent")), stages=stages, hub=hub,
                          writer=None, loop=loop, status_interval_s=60)
    request = "えっと、来月海外旅行に行くので、その間だけ利用限度額をあげてもらいたいんですけど。"
    finals = [
        ("agent", "お電話ありがとうございます、ミライカードの糸が受けたまわります。"),
        ("customer", request),
        ("agent", "かしこまりました、ご本人確認のため、お名前とご登録の電話番号をお願いいたします。"),
        ("customer", "高橋県内地です。電話は03-5678-1234です。"),
        ("agent", "ありがとうございます。現在の限度額は30万年でございます。いくらまでご希望でしょうか。"),
        ("customer", "50万円くらいあると安心なんですけど。"),
        ("agent", "ご旅行の期間を教えていただけますか。"),
        ("customer", "11月3日から11月10日までです。"),
        ("agent", "11月1日から11月30日までの期間、限度額を50万年に一時的に引き上げました。"),
        ("customer", "ありがとうございます。何か処理とか必要ですか?"),
        ("agent", "書類は不要です。12月1日以降は自動的に30万年に戻ります。"),
        ("customer", "了解です。助かりました。"),
    ]
    for i, (leg, text) in enumerate(finals):
        session._on_transcript(_final(f"{leg[0]}{i}", leg, text, float(i)), time.monotonic())
        await asyncio.sleep(0)
    await session.end("stop")
    assert retrieval.queries == [request, "ありがとうございます。何か処理とか必要ですか?"]


def test_an_instruction_is_no_question() -> None:
    problem = "カードが届かないんですけど。"
    assert classify_turn(problem, "ja", prompt="少々お待ちください。") == R
    assert classify_turn(problem, "ja", prompt="明日届かない場合は、お手数ですが再度ご連絡ください。") == R
    assert classify_turn(problem, "ja", prompt="ご旅行の期間を教えてください。") == A


@pytest.mark.parametrize(("text", "querying"), [
    ("もしもし、すみません、ちょっと聞きたいことがあって。", False),  # a preamble names no topic
    ("すみません、質問があるんですけど。", False),
    ("ちょっと聞きたいことがあって、カードの限度額を上げたいんです", True),  # … the ask after it does
])
def test_a_preamble_alone_never_searches(text: str, querying: bool) -> None:
    assert should_query(classify_turn(text, "ja")) is querying
