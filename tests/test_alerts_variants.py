"""The broader alert wording (assist/alerts/variants.py), the complaint and sarcasm cues of the sentiment scorer,
the calm bait calls, and the checklists file setting."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.alerts import RULES, text_alerts

from assist.alerts.engine import AlertEngine, FinalTurn, ParaphraseScore
from assist.alerts.lexicon import ABUSE, PhraseMatcher
from assist.alerts.sentiment import score_sentiment
from assist.checklist import DEFAULT_FILE, ChecklistError, load_checklists
from config import Settings

ROOT = Path(__file__).resolve().parents[1]


# Written for this test, not taken from any call script: the same intents as the dev calls in other words.
@pytest.mark.parametrize(("text", "language", "rule", "category"), [
    ("これ以上ごまかすなら国民生活センターに相談しますからね", "ja", "kasuhara-threat", "threat"),
    ("弁護士に頼んで法的措置を取らせてもらいます", "ja", "kasuhara-threat", "threat"),
    ("I'll be talking to my attorney about this call", "en", "kasuhara-threat", "threat"),
    ("I'm reporting your company to the better business bureau", "en", "kasuhara-threat", "threat"),
    ("インスタに今日のこと全部載せますから", "ja", "kasuhara-threat", "sns_exposure"),
    ("このやりとりはネットで公開させてもらいます", "ja", "kasuhara-threat", "sns_exposure"),
    ("I'll be leaving a one star review on every site I can find", "en", "kasuhara-threat", "sns_exposure"),
    ("あなた本当にこの仕事向いてないですよ", "ja", "kasuhara-abuse", "personal_attack"),
    ("新人のバイトだってもっとまともな説明するよ", "ja", "kasuhara-abuse", "personal_attack"),
    ("Honestly a trained parrot could handle this better", "en", "kasuhara-abuse", "personal_attack"),
    ("なんだその態度は、お客に向かって", "ja", "kasuhara-abuse", "intimidation"),
    ("Don't test me, I mean it", "en", "kasuhara-abuse", "intimidation"),
    ("店長が自宅まで来て頭を下げるべきでしょう", "ja", "kasuhara-demand", "dogeza_demand"),
    ("返事がもらえるまでこのまま何時間でも話し続けますよ", "ja", "kasuhara-demand", "long_restraint"),
    ("I'm not hanging up till this is sorted", "en", "kasuhara-demand", "long_restraint"),
])
def test_new_wording_fires_with_its_category(text: str, language: str, rule: str, category: str) -> None:
    assert (rule, category, 0) in text_alerts([("customer", text)], language)


@pytest.mark.parametrize(("text", "language", "rule"), [
    ("もう埒が明かないので、判断できる人につないでもらえますか", "ja", "manager-request"),
    ("あなたでは話にならない、マネージャーを呼んでください", "ja", "manager-request"),
    ("担当を変えてください、別の人と話させて", "ja", "manager-request"),
    ("Put me through to someone with authority, please", "en", "manager-request"),
    ("I'd like to speak with whoever is in charge there", "en", "manager-request"),
    ("こんな会社、二度と使いませんから", "ja", "cancellation-threat"),
    ("来月からは違う携帯会社に移ります", "ja", "cancellation-threat"),
    ("I'm shopping around for other providers as we speak", "en", "cancellation-threat"),
    ("Consider my membership cancelled", "en", "cancellation-threat"),
])
def test_manager_requests_and_cancellations_in_other_words(text: str, language: str, rule: str) -> None:
    assert (rule, None, 0) in text_alerts([("customer", text)], language)


@pytest.mark.parametrize(("text", "language"), [
    ("解約の手続きの方法を教えていただけますか", "ja"), ("解約すると手数料はいくらかかりますか", "ja"),
    ("上司と話してから決めます", "ja"), ("上司に代わってお電話しました", "ja"),
    ("引き落とし口座を別の銀行に変えたいんですが", "ja"), ("弁護士事務所宛てに領収書を送ってもらえますか", "ja"),
    ("ネットで見た口コミに書いてあったんですけど", "ja"), ("FAXで流してもらえますか", "ja"),
    ("How do I cancel my plan, and is there a fee?", "en"), ("I'm the office manager at a dental clinic", "en"),
    ("My supervisor asked me to call about the bill", "en"), ("I'll leave a good review, thanks", "en"),
])
def test_calm_bait_does_not_fire(text: str, language: str) -> None:
    assert text_alerts([("customer", text)], language) == []


def test_negation_in_an_earlier_sentence_does_not_take_back_a_request() -> None:
    assert ("manager-request", None, 0) in text_alerts(
        [("customer", "That's not good enough. I want your supervisor on the line.")], "en")
    assert text_alerts([("customer", "I don't want your supervisor, just fix it.")], "en") == []


@pytest.mark.parametrize("text", [
    "先週も電話して、折り返しますと言われたきり何の連絡もありません",
    "これで三回目なんですよ、同じ説明を何度もさせられて",
    "さすがですね、勝手に解約金を取っておいて説明もなしとは",
    "This is the fourth time I've called and nothing ever changes",
    "Oh, fantastic, so I just have to wait again",
    "You promised the same thing last week and the refund never arrived",
])
def test_complaints_and_sarcasm_score_negative_without_emotion_words(text: str) -> None:
    assert score_sentiment(text).score <= -0.4, score_sentiment(text)


@pytest.mark.parametrize("text", [
    "さすがですね、すぐ直りました", "Great service, thank you so much", "これで手続きは終わりですか",
    "I called last week and it's working now, thanks",
])
def test_praise_and_plain_questions_are_not_negative(text: str) -> None:
    assert score_sentiment(text).score > -0.4, score_sentiment(text)


def test_calm_bait_calls_raise_no_text_alert() -> None:
    """eval/data/calm_bait.jsonl: how to cancel, 'manager' as a job title, 上司 and 弁護士 in a story."""
    rows = [json.loads(line) for line in (ROOT / "eval" / "data" / "calm_bait.jsonl").read_text("utf-8").splitlines()]
    assert len(rows) >= 4 and {r["language"] for r in rows} == {"ja", "en"}
    for row in rows:
        assert "alerts" not in row, "a calm call: every alert on it is false"
        assert text_alerts([(t["speaker"], t["text"]) for t in row["turns"]], row["language"]) == [], row["id"]


def test_checklists_file_setting_is_loaded_and_validated_with_lines(tmp_path: Path) -> None:
    own = tmp_path / "checklists.toml"
    own.write_text(DEFAULT_FILE.read_text(encoding="utf-8").replace('id = "closing"', 'id = "farewell"'), "utf-8")
    settings = Settings(alerts={"checklists_file": own})
    assert settings.alerts.checklists_file == own
    assert "farewell" in {s.id for s in load_checklists(settings.alerts.checklists_file).default}
    assert Settings().alerts.checklists_file is None
    bad = tmp_path / "bad.toml"
    bad.write_text('[[default]]\nid = "identity"\nlabel = { ja = "本人確認", en = "Identity" }\npatterns = [\n'
                   "  'ok',\n  '(broken',\n]\n\n[[category]]\nnames = [\"カード\"]\n[[category.items]]\n"
                   'id = "Bad Id"\nlabel = { ja = "x", en = "y" }\npatterns = ["fee"]\n', "utf-8")
    with pytest.raises(ChecklistError) as err:
        load_checklists(bad)
    assert err.value.code == "checklist_invalid"
    assert [(f.field, f.line) for f in err.value.fields] == [("category.0.items.0.id", 12)]
    bad.write_text(bad.read_text("utf-8").replace("Bad Id", "card-terms"), "utf-8")
    with pytest.raises(ChecklistError) as err:
        load_checklists(bad)
    assert [(f.code, f.field, f.line) for f in err.value.fields] == [("bad_pattern", "default.0.patterns.1", 6)]
    bad.write_text("[[default]\n", "utf-8")
    with pytest.raises(ChecklistError) as err:
        load_checklists(bad)
    assert err.value.code == "checklist_unreadable" and err.value.fields[0].line == 1


def test_a_paraphrase_alert_does_not_hold_back_a_later_lexicon_hit_of_its_category() -> None:
    """A guess starts only its own cool-down: the phrase actually said two turns later still fires."""
    engine = AlertEngine("c")
    guess = FinalTurn("u0", "customer", "まだ話してる途中でしょう", 0.0, 3.0, 0, "ja")
    engine.observe(RULES, guess)
    first = engine.paraphrased(RULES, guess, ParaphraseScore({"long_restraint": 0.3}, {"long_restraint": "x"}), 0.085,
                               ("kasuhara-demand",))
    assert [(a.rule, a.category) for a in first] == [("kasuhara-demand", "long_restraint")]
    said = FinalTurn("u1", "customer", "納得するまで電話は切りませんからね", 10.0, 13.0, 1, "ja")
    assert ("kasuhara-demand", "long_restraint") in [(a.rule, a.category) for a in engine.observe(RULES, said).alerts]
    again = FinalTurn("u2", "customer", "まだ話してる途中でしょう", 20.0, 23.0, 2, "ja")
    engine.observe(RULES, again)
    assert engine.paraphrased(RULES, again, ParaphraseScore({"long_restraint": 0.3}, {"long_restraint": "x"}), 0.085,
                              ("kasuhara-demand",)) == [], "the lexicon alert's cool-down holds later guesses"


@pytest.mark.parametrize(("text", "hit"), [
    ("カリカスワードが届いてからじゃないとダメなんですね。", None),  # パスワード as ASR heard it
    ("アホウドリの写真集を注文しました", None),
    ("カスタマーセンターに何度も電話しました", None),
    ("お前はカスだな", "カス"),
    ("アホか、お前は", "アホ"),
    ("このバカヤローが", "バカヤロー"),
])
def test_katakana_entries_never_match_inside_a_katakana_word(text: str, hit: str | None) -> None:
    found = PhraseMatcher(ABUSE).find_all(text)
    assert [h.matched for h in found] == ([hit] if hit else [])
