"""The wording families of assist/alerts/families.py (fourth pass of issue 16): each family fires on wording it was
not written from, and the calm lookalikes it was guarded against stay silent; the sentiment cues that came with it."""

from __future__ import annotations

import pytest
from support.alerts import text_alerts

from assist.alerts.paraphrase import CALIBRATED_SIMILARITY, CALM_EXAMPLES, EXAMPLES
from assist.alerts.sentiment import score_sentiment


# Written for this test (not the dev calls' sentences): other members of each family.
@pytest.mark.parametrize(("text", "language", "rule", "category"), [
    ("さっきから何回言わせんねん、お前の頭は飾りか", "ja", "kasuhara-abuse", "verbal_abuse"),
    ("脳味噌腐っとんちゃうか", "ja", "kasuhara-abuse", "verbal_abuse"),
    ("何ぬかしとんねん、ほんまに", "ja", "kasuhara-abuse", "verbal_abuse"),
    ("Are you dense or something? I said the other account", "en", "kasuhara-abuse", "verbal_abuse"),
    ("Listen to me, you complete buffoon", "en", "kasuhara-abuse", "verbal_abuse"),
    ("それで通ると思ってるなら、私にも考えがありますから", "ja", "kasuhara-threat", "threat"),
    ("友達何人か連れて、そっちに行くからな", "ja", "kasuhara-threat", "threat"),
    ("あんたの声、絶対忘れへんで", "ja", "kasuhara-threat", "threat"),
    ("You'd better pray nobody from my family finds you", "en", "kasuhara-threat", "threat"),
    ("Shame if something happened to that shiny office of yours. Would be a pity if anything did.", "en",
     "kasuhara-threat", "threat"),
    ("おとなしく話してるうちに、ちゃんと対応した方がいいですよ", "ja", "kasuhara-abuse", "intimidation"),
    ("Be careful about what you say next", "en", "kasuhara-abuse", "intimidation"),
    ("Try hanging up on me and see what happens", "en", "kasuhara-abuse", "intimidation"),
    ("こんな計算もできない人に窓口を任せてるんですか", "ja", "kasuhara-abuse", "personal_attack"),
    ("どういう育てられ方をしたらそうなるの", "ja", "kasuhara-abuse", "personal_attack"),
    ("I genuinely can't understand how someone like you got this job", "en", "kasuhara-abuse", "personal_attack"),
    ("Did they even train you before putting you on the phones?", "en", "kasuhara-abuse", "personal_attack"),
    ("話の決着がつくまで、今日は帰りませんからね", "ja", "kasuhara-demand", "long_restraint"),
    ("このお電話、絶対に切らせませんよ", "ja", "kasuhara-demand", "long_restraint"),
    ("I'm sitting right here on this line till someone sorts my refund", "en", "kasuhara-demand", "long_restraint"),
    ("課長さんが直接うちに来て、頭を下げてちょうだい", "ja", "kasuhara-demand", "dogeza_demand"),
    ("床に額をすりつけるぐらいのことはしてもらわないと", "ja", "kasuhara-demand", "dogeza_demand"),
    ("I expect a handwritten apology from the person who made this mess", "en", "kasuhara-demand", "dogeza_demand"),
    ("近所のグループで、この会社はやめとけって広めとくわ", "ja", "kasuhara-threat", "sns_exposure"),
    ("登録者さんに向けて今日のことを発信しますね", "ja", "kasuhara-threat", "sns_exposure"),
    ("This whole call is going straight up on my YouTube channel", "en", "kasuhara-threat", "sns_exposure"),
    ("迷惑料ってことで、一万円くらいは上乗せしてもらえる？", "ja", "kasuhara-demand", "excessive_demand"),
    ("年会費なんか無料にするのが筋でしょう", "ja", "kasuhara-demand", "excessive_demand"),
    ("I want fifty pounds in cash for my trouble", "en", "kasuhara-demand", "excessive_demand"),
])
def test_family_fires_on_wording_it_was_not_written_from(text: str, language: str, rule: str, category: str) -> None:
    assert (rule, category, 0) in text_alerts([("customer", text)], language)


@pytest.mark.parametrize(("text", "language", "rule"), [
    ("もうちょっと話のわかる人に代わってくれへん？", "ja", "manager-request"),
    ("部長さん呼んでください、今すぐ", "ja", "manager-request"),
    ("I want this escalated to your line manager", "en", "manager-request"),
    ("Put your supervisor on, please", "en", "manager-request"),
    ("車の保険も火災保険も、全部よそに移りますから", "ja", "cancellation-threat"),
    ("次の更新のタイミングでやめますので", "ja", "cancellation-threat"),
    ("We're pulling all our savings out of this bank", "en", "cancellation-threat"),
    ("I'm switching my mortgage to another bank this month", "en", "cancellation-threat"),
    ("Don't count on me staying after this", "en", "cancellation-threat"),
])
def test_manager_requests_and_cancellations_of_the_new_families(text: str, language: str, rule: str) -> None:
    assert (rule, None, 0) in text_alerts([("customer", text)], language)


# Calm sentences that share the families' words: each was a false alert of a first draft or is how a calm caller talks.
@pytest.mark.parametrize(("text", "language"), [
    ("何時になっても構わないので、折り返しのお電話をお願いします", "ja"), ("電話は切らずにこのまま待ってますね", "ja"),
    ("店長さんが直接謝ってくれたので、それで十分です", "ja"), ("深々とお辞儀する配達員さんで好印象でした", "ja"),
    ("子どもでもできる手続きですか", "ja"), ("親の育て方の本を注文したんですけど届かなくて", "ja"),
    ("失うものは何もないって言われて加入したんです", "ja"), ("これって無料でいいんですか", "ja"),
    ("LINEで家族に共有しておきますね", "ja"), ("ネットの皆さんの口コミを見て決めました", "ja"),
    ("給料の振込先を別の銀行に変えたいんですが、手続きを教えてください", "ja"),
    ("引っ越し先でも使えるなら、解約せずにこのまま続けたいです", "ja"), ("話の分かる方で助かりました", "ja"),
    ("支店の場所は分かってるので、明日行きますね", "ja"), ("耳が遠いので、大きな声でお願いします", "ja"),
    ("Sure, I'll stay on the line.", "en"), ("I'll wait on the line until you find it, thanks", "en"),
    ("I want to transfer money to another bank", "en"),
    ("I'd like to move my direct debit to another bank account", "en"),
    ("I received a letter of apology last week, thank you", "en"),
    ("I wanted to apologize personally for getting upset earlier", "en"),
    ("I'd like to cut my card up safely, how should I dispose of it", "en"),
    ("Don't count on me remembering the password, please email it", "en"),
    ("Why is my policy not renewing automatically?", "en"), ("Are you thick-skinned, doing calls all day?", "en"),
    ("How do you keep this job fun? You're all so nice", "en"), ("My last chance to get the discount is today, right?", "en"),
    ("Shut it down and restart it, like you said?", "en"), ("I saw your notice on the community page this morning", "en"),
    ("Does the policy cover lost wages?", "en"), ("Sorry for the trouble, and thanks for your time", "en"),
    ("Okay. I'll probably cancel if it goes up again, so if I close the account early, is there a fee for that?", "en"),
])
def test_calm_lookalikes_do_not_fire(text: str, language: str) -> None:
    assert text_alerts([("customer", text)], language) == []


@pytest.mark.parametrize("text", [
    "明後日？それじゃ間に合わないんですけど", "Two weeks? I needed it yesterday",
    "話になんねーわ、ほんま", "正直、不愉快です", "加入した覚えはありません",
    "Does anyone there actually know what they're doing?",
    "Brilliant. Just brilliant. You absolute clown.",
])
def test_disbelief_dialect_and_sarcasm_score_negative(text: str) -> None:
    assert score_sentiment(text).score <= -0.4, score_sentiment(text)


@pytest.mark.parametrize("text", [
    "父の請求がどうなっているか確認したくて電話しました", "明日？助かります、ありがとうございます",
    "Tomorrow? Perfect, thank you", "Brilliant, that's sorted then",
])
def test_questions_and_plain_praise_are_not_negative(text: str) -> None:
    assert score_sentiment(text).score > -0.4, score_sentiment(text)


def test_paraphrase_examples_are_distinct_and_calibrated() -> None:
    everything = [t for texts in EXAMPLES.values() for t in texts] + list(CALM_EXAMPLES)
    assert len(everything) == len(set(everything)), "an example in two lists would cancel itself out"
    assert all(len(texts) >= 6 for texts in EXAMPLES.values())
    assert all({any(t.isascii() for t in texts), any(not t.isascii() for t in texts)} == {True}
               for texts in EXAMPLES.values()), "both languages in every category"
    assert CALIBRATED_SIMILARITY["e5-small+use-multilingual"] == pytest.approx(0.06)
