"""A small lexicon sentiment scorer for customer finals, Japanese and English.

Support calls are full of problem words (故障, 不具合, "not working") that describe the matter, not the mood: they
weigh little here, and emotion words (困っている, 最悪, 納得できない, "frustrated", "unacceptable") weigh most, so a
calm report of a fault stays neutral and a customer losing patience turns negative. Intensifiers (本当に, いつも,
"really") raise the turn's weight; a negation right after a Japanese term or just before an English one
(困ってはいない, "not happy") turns it the other way at half its weight. カスハラ phrases (``lexicon.ABUSE``) count as
strongly negative. The score is ``s / (|s| + 2)`` of the signed sum: -1 … 1, with one strong word near ±0.5.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from assist.alerts.lexicon import ABUSE, CANCELLATION, MANAGER, PhraseMatcher, compact_form, words_form

Label = Literal["negative", "neutral", "positive"]
NEGATIVE_BELOW = -0.4  # label cuts; a rule's own threshold may differ
POSITIVE_ABOVE = 0.4
ABUSE_WEIGHT = 2.5
INTENSIFIER_GAIN = 1.5

_NEGATIVE_JA = {
    "最悪": 2.0, "最低": 2.0, "ひどい": 1.5, "酷い": 1.5, "ひどすぎ": 2.0, "不満": 1.5, "納得できない": 2.0, "納得いかない": 2.0,
    "納得できません": 2.0, "腹が立": 2.0, "腹立": 2.0, "頭にくる": 2.0, "頭にきた": 2.0, "むかつ": 2.0, "ムカつ": 2.0,
    "イライラ": 1.5, "いらいら": 1.5, "迷惑": 1.5, "がっかり": 1.5, "ありえない": 2.0, "あり得ない": 2.0, "話にならない": 2.0,
    "信じられない": 1.5, "意味がわからない": 1.5, "意味がわかんない": 1.5, "意味わからない": 1.5, "意味が分からない": 1.5,
    "ふざけ": 2.0, "不親切": 1.5, "失礼": 1.5, "怒って": 1.5, "怒り": 1.5, "困って": 1.0, "困る": 1.0, "困ります": 1.0,
    "困りました": 1.0, "困った": 1.0, "待たされ": 1.5, "いつまで": 1.0, "まだですか": 1.0, "我慢": 1.0, "うんざり": 2.0,
    "残念": 1.0, "不安": 1.0, "心配": 0.5, "不便": 1.0, "使えない": 1.5, "おかしい": 1.0, "嫌だ": 1.0, "いやだ": 1.0,
    "勘弁": 1.5, "困惑": 1.0, "疲れ": 0.5, "遅い": 0.5, "遅すぎ": 1.5, "つながらない": 0.5, "繋がらない": 0.5,
    "何度も": 1.0, "何回も": 1.0, "二度目": 0.5, "またですか": 1.5, "いい加減": 1.5, "どうなってる": 1.5,
    "どうなっている": 1.5, "説明と違う": 1.5, "聞いてない": 1.0, "聞いていない": 1.0, "不具合": 0.3, "故障": 0.3,
    # casual, dialect and polite forms of the same moods (ありえねー, 話にならん, 伺っておりません)
    "不愉快": 2.0, "ありえね": 2.0, "ありえへん": 2.0, "あり得へん": 2.0, "使えね": 1.5, "使えへん": 1.5, "話にならん": 2.0,
    "話になんね": 2.0, "埒があか": 1.5, "埒あか": 1.5, "らちがあか": 1.5, "らちあか": 1.5, "段取りが悪": 1.0, "段取り悪": 1.0,
    "信用できない": 1.5, "信用できません": 1.5, "信用でけへん": 1.5, "冗談じゃない": 2.0, "冗談じゃありません": 2.0,
    "やってられない": 2.0, "やってられへん": 2.0, "呆れ": 1.5, "あきれ": 1.5, "言い訳": 1.0, "伺っておりません": 1.0,
    "聞いておりません": 1.0, "伺っていません": 1.0, "どないなって": 1.5,
}
_POSITIVE_JA = {
    "ありがとう": 1.5, "ありがたい": 1.5, "助かり": 1.5, "助かる": 1.5, "助かった": 1.5, "良かった": 1.0, "よかった": 1.0,
    "安心": 1.0, "嬉しい": 1.5, "うれしい": 1.5, "丁寧": 1.0, "分かりやすい": 1.0, "わかりやすい": 1.0, "解決": 0.5,
    "さすが": 1.0, "素晴らしい": 1.5, "すばらしい": 1.5, "満足": 1.5, "感謝": 1.5, "スムーズ": 0.5,
}
_NEGATIVE_EN = {
    "frustrated": 2.0, "frustrating": 2.0, "annoyed": 1.5, "annoying": 1.5, "angry": 2.0, "furious": 2.5, "upset": 1.5,
    "terrible": 2.0, "awful": 2.0, "horrible": 2.0, "ridiculous": 2.0, "unacceptable": 2.0, "disappointed": 1.5,
    "disappointing": 1.5, "worst": 2.0, "useless": 1.5, "fed up": 2.0, "sick of": 2.0, "tired of": 1.5,
    "nonsense": 1.5, "hate": 2.0, "unhappy": 1.5, "outrageous": 2.0, "disgusted": 2.0, "pathetic": 2.0,
    "waste of time": 2.0, "again and again": 1.5, "still not": 1.0, "still waiting": 1.5, "how many times": 1.5,
    "no one": 0.5, "nobody": 0.5, "worried": 0.5, "confused": 1.0, "rude": 1.5, "unbelievable": 1.5,
    "not working": 0.3, "broken": 0.3, "problem": 0.3,
    "a joke": 1.5, "no clue": 1.5, "haven't got a clue": 1.5, "not got a clue": 1.5, "clueless": 1.5, "for real": 1.0, "stress": 1.0, "fuming": 2.0,
    "livid": 2.0, "disgraceful": 2.0, "shambles": 2.0, "joke of a": 2.0,
}
_POSITIVE_EN = {
    "thank you": 1.5, "thanks": 1.5, "great": 1.5, "appreciate": 1.5, "helpful": 1.5, "perfect": 1.5,
    "wonderful": 1.5, "glad": 1.0, "relieved": 1.0, "excellent": 1.5, "awesome": 1.5, "happy": 1.0, "good": 0.7,
    "lovely": 1.5, "brilliant": 1.5, "that helps": 1.0, "satisfied": 1.5,
}
_INTENSIFIERS_JA = ("本当に", "ほんとに", "ほんとうに", "ほんっと", "ほんま", "マジで", "まじで", "すごく", "全く", "まったく", "全然", "いつも", "毎回",
                    "何度も", "めちゃくちゃ", "とても", "非常に")
_INTENSIFIERS_EN = ("really", "so", "very", "totally", "absolutely", "extremely", "completely", "always")

# Complaint cues: how a customer who has run out of patience talks without an emotion word (言われたきり, 何の連絡も
# なかった, "third time", "nothing changes"), and sarcasm, where a praise word is said against the matter
# (さすがですね、勝手に…とは; "oh, wonderful"): its weight outweighs the praise word it contains. Weights as above.
_CUES_JA: tuple[tuple[str, float], ...] = (
    ("(言われた|言った|した|聞いた|言われて)きり", 1.5),
    ("(何の|なんの|何も|なにも)(連絡|説明|対応|返事|音沙汰)(も)?(なかった|ない|なし|来ない|こない)"
     "|(連絡|返事|折り返し)(も|が)(なかった|来ない|こない|来なかった)", 1.5),
    ("たらい回し|盥回し", 2.0),
    ("(二|三|四|五|2|3|4|5|何)(回|度)目", 1.5),
    ("同じ(説明|こと|話|質問)(を)?.{0,6}(させられ|繰り返|何度|何回|また)", 1.0),
    ("勝手に", 1.0),
    ("説明(も)?(なし|ない|なかった|がない)", 1.5),
    ("(頼んだ|頼んで|申し込んだ|申し込んで)(覚え|おぼえ)は?(ない|ありません)|頼んで(ない|ません)", 1.0),
    ("^もう(結構|けっこう|いい|ええ)", 1.0),
    ("(謝って|申し訳ないで|ごめんで|すみませんで|謝罪で)(済む|すむ)(なら|と思|話|問題|わけ)", 2.0),
    ("(した|入った|加入した|契約した|使った|申し込んだ|頼んだ)(覚え|おぼえ)(は|が|も)?(ない|ありません|ございません|ねー|ねえ)", 1.5),
    ("黙って(取|引|請求|決め|変え)", 1.5),
    ("(払って(る|いる)のに|お金(を)?払って(る|いる)のに)", 1.0),
    ("(さすが|素晴らしい|すばらしい|ご立派|大した|たいした)(もの|もん)?(です|でした)?(ね|な|よ).{0,24}"
     "(とは|なんて|くせに|ておいて|でおいて|のに)", 3.0),
)
_CUES_EN: tuple[tuple[str, float], ...] = (
    (r"(second|third|fourth|fifth|sixth|\d+(st|nd|rd|th)) time", 1.5),
    (r"every (single )?time", 1.0),
    (r"on hold for", 1.0),
    (r"(keep|kept) (calling|asking|getting|being)", 1.0),
    (r"nothing (changes|changed|happens|happened|gets done|ever changes)", 1.5),
    (r"never (showed up|arrived|came|called back|got back|heard back|fixed)", 1.5),
    (r"(said|told me|promised) the same thing", 1.5),
    (r"paying for nothing|thanks for nothing", 2.0),
    (r"not good enough", 2.0),
    (r"(oh|wow|well) (wonderful|great|perfect|fantastic|brilliant|lovely|terrific|amazing)", 3.0),
    (r"(great|wonderful|fantastic|amazing|excellent|brilliant) (service|job|work|help) (really|truly|as always)", 3.0),
    (r"(so|just|guess) i (get to|have to|need to) (wait|call|start)", 1.5),
    (r"(does|do|did) (anyone|anybody|someone|you|you people)( there| here)? (actually |even |ever )?(know|knows) what"
     r" (they're|you're|they are|you are) doing", 2.0),
    (r"none of (those|these|them|the) \w+ (worked|work|helped|did anything)", 1.0),
    (r"the last (two|three|four|five|few|\d+) (people|agents|times|calls)", 1.0),
    (r"(put|putting|put) me through", 1.0),
)
# Disbelief that echoes the agent's date or wait at the start of the turn: 「明後日？」, "Five days?", "Next Thursday?"
_ECHO_JA = re.compile(r"^\s*(明日|明後日|あさって|来週|来月|再来週|[0-9一二三四五六七八九十]+(日|週間|か月|ヶ月|カ月|年|時間|分)(後|前|も)?)"
                      r"(も|って|ですか|なの)?[?？]")
_ECHO_EN = re.compile(r"^\s*(next (week|month|\w+day)|tomorrow|(\w+ )?(more )?(days?|weeks?|months?|hours?))\?",
                      re.IGNORECASE)
ECHO_WEIGHT = 1.5
# Terms that are not a mood when followed by this: 「どうなっているか確認したい」 is a question, not a complaint.
_JA_NOT_BEFORE = {"どうなっている": re.compile("^か"), "どうなってる": re.compile("^か")}
ESCALATION_WEIGHT = 1.5  # a manager request or a cancellation threat: said by a customer who is not content

_JA_NEGATION_AFTER = re.compile(r"^(は|も)?(い|でき)?(ない|ません|なかった|ませんでした|じゃない|ではない|ではありません)")
_EN_NEGATION_BEFORE = re.compile(r"\b(not|don't|dont|isn't|wasn't|aren't|never|no|didn't|doesn't|won't)( \w+){0,2} $")


def _alternation(terms: list[str], *, english: bool) -> re.Pattern[str]:
    ordered = sorted(terms, key=len, reverse=True)  # the longest term wins where two start together
    body = "|".join(r"\s+".join(re.escape(w) for w in t.split()) if english else re.escape(t) for t in ordered)
    return re.compile(rf"(?<![\w'])(?:{body})(?![\w])" if english else body)


_JA_WEIGHTS = {compact_form(t): -w for t, w in _NEGATIVE_JA.items()} | {compact_form(t): w for t, w in _POSITIVE_JA.items()}
_EN_WEIGHTS = {words_form(t): -w for t, w in _NEGATIVE_EN.items()} | {words_form(t): w for t, w in _POSITIVE_EN.items()}
_JA_TERMS = _alternation(list(_JA_WEIGHTS), english=False)
_EN_TERMS = _alternation(list(_EN_WEIGHTS), english=True)
_JA_INTENSIFIER = re.compile("|".join(re.escape(compact_form(t)) for t in _INTENSIFIERS_JA))
_EN_INTENSIFIER = _alternation(list(_INTENSIFIERS_EN), english=True)
_ABUSE = PhraseMatcher(ABUSE)
_ESCALATION = PhraseMatcher({"manager": MANAGER, "cancellation": CANCELLATION}, negatable=True)
_JA_CUES = [(re.compile(p), w) for p, w in _CUES_JA]
_EN_CUES = [(re.compile(rf"(?<![\w'])(?:{p})(?![\w])"), w) for p, w in _CUES_EN]


@dataclass(frozen=True, slots=True)
class Sentiment:
    score: float  # -1 … 1
    label: Label
    terms: tuple[str, ...]  # what counted, for logs and tests


def score_sentiment(text: str) -> Sentiment:
    """The sentiment of one utterance (either language; both lexicons run on every text)."""
    compact, words = compact_form(text), words_form(text)
    total, terms = 0.0, []
    for m in _JA_TERMS.finditer(compact):
        if (after := _JA_NOT_BEFORE.get(m.group(0))) is not None and after.match(compact[m.end():]):
            continue
        weight = _JA_WEIGHTS[m.group(0)]
        if _JA_NEGATION_AFTER.match(compact[m.end():]) and not m.group(0).endswith(("ない", "ません")):
            weight = -weight / 2
        total += weight
        terms.append(m.group(0))
    for m in _EN_TERMS.finditer(words):
        weight = _EN_WEIGHTS[" ".join(m.group(0).split())]
        if _EN_NEGATION_BEFORE.search(words[:m.start()]):
            weight = -weight / 2
        total += weight
        terms.append(m.group(0))
    abuse = _ABUSE.find_all(text)
    if abuse:  # an abusive turn's praise words are sarcasm ("Automatically. Brilliant."): they do not count
        total = min(total, 0.0)
    total -= ABUSE_WEIGHT * len(abuse)
    terms += [h.matched for h in abuse]
    for cues, form in ((_JA_CUES, compact), (_EN_CUES, words)):
        for regex, weight in cues:
            if (cue := regex.search(form)) is not None:
                total -= weight
                terms.append(cue.group(0))
    nfkc = unicodedata.normalize("NFKC", text)
    if (echo := _ECHO_JA.match(nfkc) or _ECHO_EN.match(nfkc)) is not None:
        total -= ECHO_WEIGHT
        terms.append(echo.group(0).strip())
    escalation = _ESCALATION.find_all(text)
    total -= ESCALATION_WEIGHT * len(escalation)
    terms += [h.matched for h in escalation]
    if total and (_JA_INTENSIFIER.search(compact) or _EN_INTENSIFIER.search(words)):
        total *= INTENSIFIER_GAIN
    score = round(total / (abs(total) + 2.0), 3)
    label: Label = "negative" if score <= NEGATIVE_BELOW else "positive" if score >= POSITIVE_ABOVE else "neutral"
    return Sentiment(score, label, tuple(terms))
