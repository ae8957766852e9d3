"""Alert rules: the file's validation and hot reload, each condition on real sentences, cool-downs, paraphrases."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import pytest
from support.retrieval_fakes import KeywordEmbedder

from assist.alerts.engine import AlertEngine, FinalTurn
from assist.alerts.lexicon import ABUSE, PhraseMatcher
from assist.alerts.measure import morae, speaking_rate
from assist.alerts.paraphrase import Paraphraser
from assist.alerts.rules import DEFAULT_RULES_FILE, AlertRulesError, RulesSource, load_rules, parse_rules
from assist.alerts.sentiment import score_sentiment
from assist.events import AlertEvent, parse_event
from common.errors import CodedError

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = load_rules(DEFAULT_RULES_FILE)


def run(texts: Sequence[tuple[str, str] | tuple[str, str, float, float]], rules=DEFAULT, *, language: str = "ja",
        engine: AlertEngine | None = None) -> list[AlertEvent]:
    """Feed finals (leg, text[, start, end]) to one engine; by default 3 s turns 0.5 s apart."""
    engine = engine or AlertEngine("c")
    out: list[AlertEvent] = []
    for i, item in enumerate(texts):
        leg, text = item[0], item[1]
        start, end = (item[2], item[3]) if len(item) == 4 else (i * 3.5, i * 3.5 + 3.0)
        out += engine.observe(rules, FinalTurn(f"{leg}-{i}", leg, text, start, end, i, language)).alerts
    return out


def fired(alerts: list[AlertEvent]) -> list[tuple[str, str | None]]:
    return [(a.rule, a.category) for a in alerts]


# ---------------------------------------------------------------- the file


def test_default_rules_cover_every_condition() -> None:
    conditions = {r.condition for r in DEFAULT.rules}
    assert conditions >= {"abuse", "manager_request", "cancellation", "negative_sentiment", "silence", "overtalk",
                          "speaking_rate"}
    assert DEFAULT.needs_paraphrase and len({r.id for r in DEFAULT.rules}) == len(DEFAULT.rules)


BAD = """version = 1

[[rules]]
id = "x"
condition = "abuse"
severity = "urgent"
categories = ["threat", "nonsense"]

[[rules]]
id = "y"
condition = "manager_request"
patterns = ["(unclosed", ".*"]
message = { ja = "{who}が", en = "ok" }

[[rules]]
id = "x"
condition = "silence"
min_s = 0.1
colour = "red"

[[rules]]
id = "z"
condition = "teleport"
"""


def test_bad_rules_are_one_coded_error_with_located_fields() -> None:
    with pytest.raises(AlertRulesError) as caught:
        parse_rules(BAD, source="ops.toml")
    err = caught.value
    assert isinstance(err, CodedError) and err.code == "bad_alert_rules"
    got = {(f.field, f.code): f.line for f in err.fields}
    assert got[("rules.0.severity", "literal_error")] == 6
    assert got[("rules.0.categories.1", "literal_error")] == 7
    assert got[("rules.1.patterns", "bad_pattern")] == 12
    assert got[("rules.1.message.ja", "unknown_placeholder")] == 13
    assert got[("rules.2.min_s", "greater_than_equal")] == 18
    assert got[("rules.2.colour", "extra_forbidden")] == 19
    assert got[("rules.3.condition", "union_tag_invalid")] == 23
    assert got[("rules.2.id", "duplicate_id")] == 16
    assert all(f.file == "ops.toml" for f in err.fields)
    assert "rule 'x'" in next(f.message for f in err.fields if f.field == "rules.0.severity")
    assert "line 6" in err.message, "the message alone already points at the first problem"
    body = err.to_dict()
    assert body["code"] == "bad_alert_rules" and {"code", "message", "line", "field", "file"} == set(body["fields"][0])


def test_patterns_that_match_everything_and_empty_keyword_rules_are_refused() -> None:
    with pytest.raises(AlertRulesError) as caught:
        parse_rules('[[rules]]\nid = "k"\ncondition = "keywords"\npatterns = ["a*"]\n')
    assert [f.code for f in caught.value.fields] == ["bad_pattern"]
    assert "empty text" in caught.value.fields[0].message
    with pytest.raises(AlertRulesError) as caught:
        parse_rules('[[rules]]\nid = "k"\ncondition = "keywords"\n')
    assert [f.code for f in caught.value.fields] == ["no_keywords"]


def test_toml_syntax_errors_carry_their_line() -> None:
    with pytest.raises(AlertRulesError) as caught:
        parse_rules('version = 1\n\n[[rules]\nid = "a"\n', source="r.toml")
    (issue,) = caught.value.fields
    assert issue.code == "toml_syntax" and issue.line == 3 and issue.file == "r.toml"


def test_unreadable_file_is_a_coded_error(tmp_path: Path) -> None:
    with pytest.raises(AlertRulesError) as caught:
        load_rules(tmp_path / "missing.toml")
    assert caught.value.fields[0].code == "unreadable"
    (tmp_path / "latin1.toml").write_bytes("# caf\xe9\n".encode("latin-1"))
    with pytest.raises(AlertRulesError) as caught:
        load_rules(tmp_path / "latin1.toml")
    assert caught.value.fields[0].code == "encoding"


KEYWORDS = '[[rules]]\nid = "{id}"\ncondition = "keywords"\nphrases = ["{word}"]\ncooldown_s = 0\n'


def _touch(path: Path, text: str, tick: int) -> None:
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(tick * 1_000_000_000, tick * 1_000_000_000))


def test_hot_reload_takes_good_edits_and_keeps_rules_over_bad_ones(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    _touch(path, KEYWORDS.format(id="a", word="クーポン"), 1)
    now = [0.0]
    reports: list[AlertRulesError | None] = []
    source = RulesSource(path, check_interval_s=2.0, clock=lambda: now[0], on_error=reports.append)
    assert [r.id for r in source.current().rules] == ["a"]

    _touch(path, KEYWORDS.format(id="b", word="ポイント"), 2)
    now[0] = 1.0
    assert [r.id for r in source.current().rules] == ["a"], "not checked again before check_interval_s"
    now[0] = 2.5
    assert [r.id for r in source.current().rules] == ["b"] and source.reloads == 1 and reports == [None]
    assert fired(run([("customer", "ポイントは使えますか")], source.current())) == [("b", None)]

    _touch(path, 'version = 1\n[[rules]]\nid = "c"\ncondition = "silence"\nmin_s = -1\n', 3)
    now[0] = 5.0
    assert [r.id for r in source.current().rules] == ["b"], "a bad edit keeps the rules in force"
    assert source.error is not None and source.error.fields[0].line == 5 and reports[-1] is source.error

    now[0] = 10.0
    assert [r.id for r in source.current().rules] == ["b"] and len(reports) == 2, "a bad file is reported once"

    _touch(path, KEYWORDS.format(id="d", word="ポイント"), 4)
    now[0] = 15.0
    assert [r.id for r in source.current().rules] == ["d"] and source.error is None and reports[-1] is None


def test_a_bad_file_at_start_up_raises(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(BAD, encoding="utf-8")
    with pytest.raises(AlertRulesError):
        RulesSource(path)


# ---------------------------------------------------------------- conditions on real sentences

ABUSIVE = [
    ("ふざけるな！お前の説明なんか聞きたくない", "ja", "verbal_abuse"),
    ("いい加減にしろよ、このバカが", "ja", "verbal_abuse"),
    ("殺すぞ、覚えてろよ", "ja", "threat"),
    ("訴えてやるからな", "ja", "threat"),
    ("客をなんだと思ってるんだ", "ja", "intimidation"),
    ("あんたみたいなのがいるから会社がダメになるんだよ", "ja", "personal_attack"),
    ("納得するまで電話は切らないからな", "ja", "long_restraint"),
    ("今すぐ家まで来て土下座しろ", "ja", "dogeza_demand"),
    ("この対応、全部SNSに晒してやるからな", "ja", "sns_exposure"),
    ("慰謝料を払ってもらうからな", "ja", "excessive_demand"),
    ("Shut up and listen to me, you idiot", "en", "verbal_abuse"),
    ("I know where you live", "en", "threat"),
    ("Who do you think you're talking to?", "en", "intimidation"),
    ("You people are useless, all of you", "en", "personal_attack"),
    ("I'm not hanging up until you fix this", "en", "long_restraint"),
    ("Get down on your knees and apologize", "en", "dogeza_demand"),
    ("I'm going to post this online and name and shame you", "en", "sns_exposure"),
    ("I demand compensation for my suffering", "en", "excessive_demand"),
]


@pytest.mark.parametrize(("text", "language", "category"), ABUSIVE)
def test_abuse_fires_with_its_category(text: str, language: str, category: str) -> None:
    alerts = [a for a in run([("customer", text)], language=language) if a.condition == "abuse"]
    assert category in [a.category for a in alerts], (text, fired(alerts))
    alert = next(a for a in alerts if a.category == category)
    assert alert.notify_agent and alert.severity in ("warning", "critical") and alert.matched
    assert alert.utterance_id == "customer-0" and alert.turn == 0 and alert.leg == "customer"
    parse_event(alert.model_dump(mode="json"))  # a valid wire event


@pytest.mark.parametrize("text", [
    "バカンスの予約を変更したいんですが", "先週買ったばかりなのに壊れました", "カスタマーセンターにつながりません",
    "お客様をなんだと思うかというアンケートです", "That was a stupid question of mine, sorry", "How do I pay for this?",
    "My password manager stopped working", "I need to cancel... no wait, I just need to change the date",
    "The shutdown of the old app was confusing", "Killing time while I wait, no worries",
])
def test_everyday_words_that_contain_abuse_do_not_fire(text: str) -> None:
    assert [a for a in run([("customer", text)]) if a.condition == "abuse"] == []


def _calm_calls() -> list[tuple[str, list[dict[str, str]]]]:
    calls = []
    for name in ("calls.jsonl", "calls_v2.jsonl"):
        for line in (ROOT / "eval" / "data" / name).read_text(encoding="utf-8").splitlines():
            call = json.loads(line)
            calls.append((call["language"], call["turns"]))
    return calls


def test_calm_calls_raise_no_text_alert() -> None:
    """Every turn of the 32 scripted calm calls: no abuse, manager, cancellation or sentiment alert."""
    for language, turns in _calm_calls():
        alerts = run([(t["speaker"], t["text"]) for t in turns], language=language)
        assert [a for a in alerts if a.condition not in ("speaking_rate",)] == [], turns[0]["text"]


@pytest.mark.parametrize(("text", "language"), [
    ("もういい、上司を出せ", "ja"), ("責任者と話をさせてください", "ja"), ("あなたじゃ話にならない", "ja"),
    ("Can I speak to your supervisor?", "en"), ("Get me a manager right now", "en"),
])
def test_manager_request(text: str, language: str) -> None:
    assert ("manager-request", None) in fired(run([("customer", text)], language=language))


def test_manager_words_from_the_agent_or_about_something_else_do_not_fire() -> None:
    assert fired(run([("customer", "上司を出せとは言いませんが、ちゃんと説明してください")])) == []
    assert fired(run([("agent", "上の者に確認いたしますので、少々お待ちください")])) == []
    assert fired(run([("customer", "My password manager lost my login")], language="en")) == []


@pytest.mark.parametrize(("text", "language", "fires"), [
    ("こんな対応ならもう解約します", "ja", True), ("他社に乗り換えることも考えてます", "ja", True),
    ("注文をキャンセルしたいです", "ja", True), ("I want to cancel my subscription", "en", True),
    ("I'm switching to another provider", "en", True), ("解約はしません、プランを変えたいだけです", "ja", False),
    ("I don't want to cancel my account, just pause it", "en", False), ("電車の乗り換えで遅れました", "ja", False),
])
def test_cancellation_threat(text: str, language: str, fires: bool) -> None:
    assert (("cancellation-threat", None) in fired(run([("customer", text)], language=language))) is fires


def test_negative_sentiment_for_three_customer_turns() -> None:
    turns = [("customer", "本当に困っているんです"), ("agent", "申し訳ございません"), ("customer", "はい"),
             ("customer", "もう最悪です、何度も電話してるのに"), ("customer", "納得できません")]
    alerts = run(turns)
    assert fired(alerts) == [("negative-sentiment", None)]
    assert alerts[0].utterance_id == "customer-4" and alerts[0].value is not None and alerts[0].value <= -0.4
    assert "3" in alerts[0].message.ja and "3 turns" in alerts[0].message.en
    broken = [("customer", "本当に困っているんです"), ("customer", "もう最悪です"),
              ("customer", "住所は東京都の新宿区です"), ("customer", "納得できません")]
    assert fired(run(broken)) == [], "a neutral turn breaks the run; はい does not"


def test_sentiment_scores() -> None:
    calm = [t["text"] for _, turns in _calm_calls() for t in turns if t["speaker"] == "customer"]
    assert len(calm) > 150 and [t for t in calm if score_sentiment(t).label == "negative"] == []
    assert score_sentiment("I'm really frustrated, this is unacceptable").label == "negative"
    assert score_sentiment("ありがとうございます、助かりました").label == "positive"
    assert score_sentiment("ネットが遅くて動画が見られないんです").label == "neutral"
    assert score_sentiment("困ってはいないです").score > 0, "a negated complaint is not negative"
    assert score_sentiment("I am not happy with this").score < 0
    assert -1 <= score_sentiment("ふざけるな、最悪、最低、ひどい").score <= -0.7


def test_silence_between_finals() -> None:
    turns = [("agent", "少々お待ちください", 0.0, 2.0), ("agent", "お待たせいたしました", 19.0, 21.0),
             ("customer", "はい", 24.0, 24.5)]
    alerts = run(turns)
    assert fired(alerts) == [("long-silence", None)]
    assert alerts[0].value == 17.0 and alerts[0].at == 19.0 and alerts[0].utterance_id == "agent-1"
    assert "17秒" in alerts[0].message.ja and not alerts[0].notify_agent


def test_agent_talking_over_the_customer() -> None:
    turns = [("customer", "それでですね、先月の請求なんですけど", 0.0, 4.0),
             ("agent", "はい、請求の件ですね", 2.5, 5.0)]
    alerts = run(turns)
    assert fired(alerts) == [("agent-overtalk", None)]
    assert alerts[0].leg == "agent" and alerts[0].value == 1.5 and alerts[0].at == 2.5 and alerts[0].notify_agent
    late = [("agent", "はい、請求の件ですね", 2.5, 5.0), ("customer", "それでですね、先月の請求なんですけど", 0.0, 4.0)]
    assert fired(run(late)) == [("agent-overtalk", None)], "the customer's final may arrive after the agent's"
    customer_over = [("agent", "ご案内いたします。まず初めに", 0.0, 4.0), ("customer", "ちょっと待って", 2.0, 5.0)]
    assert fired(run(customer_over)) == [], "the default rule is about the agent talking over"
    short = [("customer", "それでですね", 0.0, 3.0), ("agent", "はい", 2.5, 3.5)]
    assert fired(run(short)) == [], "0.5 s of overlap is a back-channel"


def test_speaking_rate_of_the_agent() -> None:
    text = "ただいまカードを停止いたしました。新しいカードは一週間ほどでお届けします。"
    assert 36 <= morae(text) <= 44
    assert fired(run([("agent", text, 0.0, 3.2)])) == [("agent-speaking-rate-ja", None)]
    assert fired(run([("agent", text, 0.0, 5.0)])) == [], "about 8 morae/s is a normal pace"
    assert fired(run([("agent", "かしこまりました", 0.0, 1.0)])) == [], "finals under min_duration_s are not measured"
    fast = "Thank you for calling, I can definitely help you with resetting your online banking password today"
    assert fired(run([("agent", fast, 0.0, 3.5)], language="en")) == [("agent-speaking-rate-en", None)]
    assert fired(run([("agent", fast, 0.0, 6.5)], language="en")) == []
    assert speaking_rate("abc", 0.0) is None


def test_cool_down_per_rule_and_category() -> None:
    engine = AlertEngine("c")
    first = run([("customer", "ふざけるな", 0.0, 1.0), ("customer", "ふざけんなよ", 10.0, 11.0),
                 ("customer", "黙れ、訴えてやる", 20.0, 21.0)], engine=engine)
    first = [a for a in first if a.condition == "abuse"]
    assert fired(first) == [("kasuhara-abuse", "verbal_abuse"), ("kasuhara-threat", "threat")], \
        "verbal abuse again inside the rule's 60 s is held back; another category of the same kind is not"
    again = [a for a in run([("customer", "ふざけるな", 70.0, 71.0)], engine=engine) if a.condition == "abuse"]
    assert fired(again) == [("kasuhara-abuse", "verbal_abuse")], "after the cool-down it fires again"


def test_own_rules_messages_languages_and_legs() -> None:
    rules = parse_rules("""
[[rules]]
id = "competitor"
condition = "keywords"
phrases = ["ライバル社", "rival corp"]
patterns = ["(他|ほか)の会社.{0,4}安い"]
severity = "info"
notify_agent = true
languages = ["ja"]
message = { ja = "競合の話題（{leg}）:{matched}", en = "Competitor mentioned by the {leg}: {matched}" }

[[rules]]
id = "custom-abuse"
condition = "abuse"
categories = ["verbal_abuse"]
phrases = { verbal_abuse = ["へなちょこ"] }
leg = "any"
""")
    alerts = run([("customer", "ほかの会社のほうが安いって聞いたんですけど")], rules)
    assert fired(alerts) == [("competitor", None)]
    assert alerts[0].message.ja == "競合の話題（お客様）:ほかの会社のほうが安いって聞いたんですけど"
    assert alerts[0].message.en.startswith("Competitor mentioned by the customer:") and alerts[0].severity == "info"
    assert fired(run([("customer", "rival corp is cheaper")], rules, language="en")) == [], "languages = [ja]"
    assert fired(run([("agent", "へなちょこですみません")], rules)) == [("custom-abuse", "verbal_abuse")]


def test_paraphrases_fire_through_the_embedder_margin() -> None:
    para = Paraphraser(KeywordEmbedder(), examples={"threat": ["夜道には気をつけろ"]}, calm=["手続きを教えてください"],
                       similarity=0.5)
    engine = AlertEngine("c")
    text = "夜道を一人で歩くときは気をつけたほうがいいですよ"
    final = FinalTurn("customer-0", "customer", text, 0.0, 3.0, 0)
    obs = engine.observe(DEFAULT, final)
    assert obs.alerts == [] and set(obs.paraphrase) == {"kasuhara-threat", "kasuhara-abuse", "kasuhara-demand"}
    found = para.score(text)
    assert found is not None and found.scores["threat"] > 0.5
    alerts = engine.paraphrased(DEFAULT, final, found, para.default_similarity, obs.paraphrase)
    assert fired(alerts) == [("kasuhara-threat", "threat")] and alerts[0].value == pytest.approx(found.scores["threat"], abs=1e-3)
    calm = "解約の手続きについて教えてください"
    calm_found = para.score(calm)
    assert calm_found is not None and calm_found.scores["threat"] < 0.5
    assert para.score("はい") is None, "short finals are not scored"
    no_default = Paraphraser(KeywordEmbedder(), examples={"threat": ["夜道には気をつけろ"]}, calm=[])
    assert no_default.default_similarity is None, "an uncalibrated embedder has no threshold of its own"
    assert engine.paraphrased(DEFAULT, final, found, None, obs.paraphrase) == []


def test_lexicon_matcher_reports_the_clause() -> None:
    hit = PhraseMatcher(ABUSE).find("すみません。でもね、ふざけるなって話ですよ！ほんとに")
    assert hit is not None and hit.key == "verbal_abuse" and hit.clause == "でもね、ふざけるなって話ですよ"
