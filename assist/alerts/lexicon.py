"""Phrase lexicons for the text conditions and the matcher that finds them in a final.

カスハラ categories follow the MHLW 「カスタマーハラスメント対策企業マニュアル」 (2022): 暴言, 脅迫, 威圧, 人格否定,
長時間拘束, 土下座の要求, SNS への晒し, and 不当・過剰な要求. Every entry is either a plain phrase or a regular
expression; each is matched against one of two normalized forms of the text, chosen by the entry itself:

- an entry with any non-ASCII character (Japanese) matches the *compact* form: NFKC, lowercase, every space and
  punctuation mark removed (ASR puts 、 and spaces anywhere), so ``ふざけるな`` matches 「ふ ざけるな！」;
- an ASCII entry (English) matches the *words* form: NFKC, lowercase, runs of anything but letters, digits and
  apostrophes turned into one space, and only at word boundaries (``idiot`` never matches inside ``idiotic``).

Entries are chosen to be said *at* someone: words that also name everyday things (バカンス, ばかり, カスタマー,
"stupid question") are excluded by lookaheads or by asking for the addressee ("you idiot"). A katakana entry never
matches inside a longer katakana word: ASR spells unknown words in katakana (パスワード → カリカスワード), and
アホウドリ holds no アホ.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from assist.alerts.families import ABUSE_FAMILIES, CANCELLATION_FAMILIES, MANAGER_FAMILIES
from assist.alerts.variants import ABUSE_MORE, CANCELLATION_MORE, INQUIRY_EN, INQUIRY_JA, MANAGER_MORE

AbuseCategory = Literal["verbal_abuse", "threat", "intimidation", "personal_attack", "long_restraint",
                        "dogeza_demand", "sns_exposure", "excessive_demand"]
ABUSE_CATEGORIES: tuple[AbuseCategory, ...] = ("verbal_abuse", "threat", "intimidation", "personal_attack",
                                               "long_restraint", "dogeza_demand", "sns_exposure",
                                               "excessive_demand")
# How the category reads in each language (the {category} placeholder of a rule's message).
CATEGORY_NAMES: dict[str, tuple[str, str]] = {
    "verbal_abuse": ("暴言", "verbal abuse"),
    "threat": ("脅迫", "threat"),
    "intimidation": ("威圧", "intimidation"),
    "personal_attack": ("人格否定", "personal attack"),
    "long_restraint": ("長時間拘束", "holding the line"),
    "dogeza_demand": ("土下座・謝罪の要求", "demand to grovel"),
    "sns_exposure": ("SNSでの晒し", "exposure online"),
    "excessive_demand": ("過剰な要求", "excessive demand"),
}

_WORD_CHAR = re.compile(r"[\w']", re.UNICODE)
_CLAUSE_END = set("。．.!?！？\n")
_CLAUSE_MAX = 60


@dataclass(frozen=True, slots=True)
class _Form:
    """A normalized form of a text and, for each of its characters, the index it came from in ``source``."""

    text: str
    source: str  # the NFKC text (what a matched clause is cut from)
    index: tuple[int, ...]

    def clause(self, start: int, end: int) -> str:
        """The clause of ``source`` around ``text[start:end]`` (between sentence marks, at most 60 characters)."""
        if not self.index:
            return ""
        a, b = self.index[start], self.index[max(end - 1, start)] + 1
        while a > 0 and self.source[a - 1] not in _CLAUSE_END and b - a < _CLAUSE_MAX:
            a -= 1
        while b < len(self.source) and self.source[b] not in _CLAUSE_END and b - a < _CLAUSE_MAX:
            b += 1
        return " ".join(self.source[a:b].split())


def _compact(text: str) -> _Form:
    source = unicodedata.normalize("NFKC", text)
    out: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(source):
        if ch == "_" or not _WORD_CHAR.match(ch) or ch == "'":
            continue
        low = ch.lower()
        out.append(low)
        index.extend([i] * len(low))
    return _Form("".join(out), source, tuple(index))


def _words(text: str) -> _Form:
    source = unicodedata.normalize("NFKC", text).replace("\u2019", "'")
    out: list[str] = []
    index: list[int] = []
    gap = False
    for i, ch in enumerate(source):
        if not _WORD_CHAR.match(ch):
            gap = True
            continue
        if gap and out:
            out.append(" ")
            index.append(i - 1)
        gap = False
        low = ch.lower()
        out.append(low)
        index.extend([i] * len(low))
    return _Form("".join(out), source, tuple(index))


def compact_form(text: str) -> str:
    """What Japanese entries match: NFKC, lowercase, no spaces or punctuation."""
    return _compact(text).text


def words_form(text: str) -> str:
    """What English entries match: NFKC, lowercase, one space between words (apostrophes kept)."""
    return _words(text).text


@dataclass(frozen=True, slots=True)
class Lexicon:
    """Phrases (matched literally) and patterns (regular expressions) for one kind of utterance."""

    phrases: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()

    def __add__(self, other: Lexicon) -> Lexicon:
        return Lexicon(self.phrases + other.phrases, self.patterns + other.patterns)


ABUSE: dict[str, Lexicon] = {  # by AbuseCategory
    "verbal_abuse": Lexicon(
        phrases=("馬鹿", "アホ", "ボケ", "クズ", "ふざけるな", "ふざけんな", "ざけんな", "ふざけてんの", "ふざけてるのか",
                 "死ね", "黙れ", "だまれ", "てめえ", "てめー", "貴様", "この野郎", "このやろう", "うるせえ", "うるせー",
                 "ポンコツ", "くそったれ", "クソが", "くそが",
                 "idiot", "moron", "imbecile", "asshole", "bitch", "bastard", "fuck you", "fucking", "shut up",
                 "screw you", "piece of shit", "bullshit", "dumbass", "go to hell", "shut your mouth"),
        patterns=("バカ(?!ンス)", "ばか(?!り|ばかし|らし|でか)", "あほ(?!う)", "カス(?![タテトケハ])",
                  r"you('re| are) (so |such an? |an? )?(stupid|dumb)", r"you (stupid|dumb) \w+")),
    "threat": Lexicon(
        phrases=("殺す", "殺すぞ", "ぶっ殺", "ころすぞ", "殺してやる", "ぶっ飛ばす", "ぶっとばす", "ぶん殴", "殴るぞ",
                 "殴ってやる", "覚えてろ", "覚えとけ", "おぼえてろ", "ただじゃおかない", "ただじゃすまない",
                 "ただで済むと思", "ただですむと思", "夜道に気をつけ", "火をつけ", "燃やしてやる", "訴えてやる", "訴えるぞ",
                 "訴えますよ", "訴えるからな", "裁判にする", "裁判を起こす", "出るとこ出る", "出るところに出る",
                 "会社に乗り込", "乗り込んでやる", "押しかけ", "痛い目", "後悔させ", "後悔するぞ", "家族がどうなっても",
                 "kill you", "hurt you", "beat you up", "you'll regret", "you will regret", "i'm going to sue",
                 "i am going to sue", "i'll sue", "i will sue", "see you in court", "i know where you live",
                 "watch your back", "i'll find you", "i will find you", "you'll pay for this", "you will pay for this",
                 "you're going to pay for this", "burn your", "make you regret"),
        patterns=(r"i('ll| will| am going to|'m going to|'m gonna) (come down there|come over there|show up)",)),
    "intimidation": Lexicon(
        phrases=("なめてんのか", "なめてる", "なめんな", "舐めてる", "舐めてんのか", "舐めるな", "なめるな", "誰に向かって",
                 "誰に口きいて", "分かってんのか", "わかってんのか", "どういうつもりだ", "どうしてくれるんだ",
                 "どうしてくれんだ", "今すぐ来い", "家に来い", "家まで来い", "説明しに来い", "何様", "客を何だと",
                 "客をなんだと", "俺を誰だと", "私を誰だと", "いい加減にしろ", "いいかげんにしろ", "ちゃんとしろよ",
                 "who do you think you're talking to", "do you know who i am", "don't you dare",
                 "i'm warning you", "i am warning you", "last warning", "you better listen"),
    ),
    "personal_attack": Lexicon(
        phrases=("人間失格", "頭悪い", "頭が悪い", "頭おかしい", "頭がおかしい", "親の顔が見たい", "生きてる価値",
                 "生きている価値", "給料泥棒", "常識がない", "常識ない", "社会人失格", "お前みたいな", "あんたみたいな",
                 "使えないやつ", "使えない奴", "辞めちまえ", "やめちまえ", "仕事辞めろ", "仕事やめろ", "低能", "無能",
                 "役立たず", "能無し",
                 "worthless", "pathetic", "brainless", "waste of space", "should be fired", "get another job",
                 "can't do anything right", "cannot do anything right"),
        patterns=(r"you('re| are) (so |completely |totally )?(useless|incompetent|hopeless|clueless)",
                  r"you people are (useless|incompetent|idiots|hopeless)",
                  r"what kind of (idiot|moron|person) (are you|would)")),
    "long_restraint": Lexicon(
        phrases=("電話を切るな", "電話切るな", "何時間でも", "朝までかかっても", "朝まで付き合", "切ったら許さない",
                 "切らせない", "帰さない",
                 "i'm not hanging up", "i am not hanging up", "i won't hang up", "i will not hang up",
                 "don't you dare hang up", "i have all day", "all night if i have to"),
        patterns=("(納得|答え|謝|解決|返事|返金).{0,6}まで(電話[をは]?)?(切らない|切りません|切らせない|切るな|帰さない|帰らない)",
                  "まで.{0,8}電話[をは]?.{0,6}(切らない|切りません|切らせない)",
                  r"i'm not going anywhere until")),
    "dogeza_demand": Lexicon(
        phrases=("土下座", "手をついて謝", "頭を下げろ", "謝りに来い", "謝罪に来い", "家に来て謝", "直接謝罪に来",
                 "謝罪文を書け", "詫び状を書け", "一筆書け", "念書を書", "誠意を見せろ", "跪け", "ひざまずけ",
                 "get down on your knees", "on your knees", "beg for forgiveness", "beg me", "grovel",
                 "apologize in person", "written apology"),
        patterns=(r"come (here|over here|to my house|to my home) and apologi[sz]e",
                  "(家|自宅)(まで|に)来て.{0,8}(謝|詫び|頭を下げ)")),
    "sns_exposure": Lexicon(
        phrases=("晒してやる", "さらしてやる", "晒すぞ", "さらすぞ", "拡散して", "拡散する", "拡散します", "拡散してやる",
                 "名前を晒", "名前をさら", "実名を出", "炎上させ", "録音を公開", "全部公開",
                 "post this online", "post it online", "post about this", "go viral", "expose you", "tweet about",
                 "tell everyone online", "upload the recording", "name and shame"),
        patterns=("(sns|ネット|インターネット|twitter|ツイッター|youtube|ユーチューブ|インスタ|tiktok|ティックトック|口コミ|"
                  "レビュー|掲示板).{0,6}(晒|さら|書き込|書いて(?!あ|た|る|い)|書く|書きます|書いてやる|上げ|あげて|あげる|投稿|拡散|流す|"
                  "流して|出す|出して)",
                  r"(put|putting|post|posting) (this|you|it|your (company's )?name) (on|all over) (social media|twitter|facebook|youtube|tiktok"
                  r"|instagram|the internet)",
                  r"leave (a )?(bad |terrible |one star )?reviews? everywhere")),
    "excessive_demand": Lexicon(
        phrases=("慰謝料", "賠償しろ", "賠償金を払え", "弁償しろ", "金を払え", "金払え", "全額返金しろ", "無料にしろ",
                 "タダにしろ", "ただにしろ", "誠意を見せて", "菓子折り", "社長に謝罪させ",
                 "i demand compensation", "emotional damages", "compensation for my suffering", "pay me for my time"),
        patterns=(r"give (it|this|me everything) (to me )?for free or",)),
}

MANAGER = Lexicon(
    phrases=("上司を出", "上司に代わ", "上司に替わ", "上司を呼", "上司の方", "上の人を出", "上の人に代わ",
             "上の者を出", "上の者に代わ", "上の方を出", "上の方に代わ", "責任者を出", "責任者に代わ", "責任者に替わ",
             "責任者と話", "責任者の方", "責任者を呼", "責任者はいない", "責任者いない", "店長を出", "店長を呼", "社長を出",
             "社長を呼", "社長と話", "管理者を出", "担当を変え", "担当を代え", "担当者を変え", "担当者を代え",
             "別の人に代わ", "他の人に代わ", "ほかの人に代わ", "話がわかる人", "話の分かる人", "話のわかる人",
             "お前じゃ話にならない", "あなたじゃ話にならない", "あんたじゃ話にならない", "あなたでは話にならない",
             "someone in charge", "someone more senior", "escalate this", "escalate my", "escalate it",
             "your superior", "someone higher up", "someone above you"),
    patterns=("上の(立場|役職)の(人|方|者).{0,10}(出し|出せ|代わ|替わ)", "上司と話(?!して(から|み|おき)|し合|しあ)",
              r"(speak|talk|speaking|talking) (to|with) (a|your|the|someone's) (manager|supervisor|boss|superior)",
              r"(get|put|transfer) me (through )?(to )?(a|your|the) (manager|supervisor|boss)",
              r"(your|a|the) (manager|supervisor) (please|now|right now|on the line)",
              r"(want|need|demand) (a|your|the) (manager|supervisor)"),
)

CANCELLATION = Lexicon(
    phrases=("解約", "退会", "契約をやめ", "契約を打ち切", "契約を切", "もう使わない", "二度と使わない", "二度と利用しない",
             "取引をやめ", "乗り換えます", "乗り換える", "乗り換えを検討",
             "cancel my", "i want to cancel", "i'd like to cancel", "i would like to cancel", "i'm cancelling",
             "i'm canceling", "i will cancel", "i'll cancel", "going to cancel", "close my account",
             "take my business elsewhere", "never use you again", "done with your company", "unsubscribe me"),
    patterns=("(他社|よそ|別の会社|ほかの会社|他の会社)(に|へ)(乗り換え|乗りかえ|変え|替え|切り替え|切りかえ|移)",
              "キャンセル(したい|する|します|して|させ|を)",
              r"cancel (the|this|our) (subscription|contract|account|service|plan|membership|order)",
              r"terminate (my|the|our) (contract|account|service|subscription)",
              r"switch(ing)? to (another|a different|a competitor|your competitor)",
              r"(go|going|move|moving) to (a|your) competitor"),
)

# The broader wording of variants.py (the same intents in other words) and families.py (families of wording).
for _more in (ABUSE_MORE, ABUSE_FAMILIES):
    for _key, (_phrases, _patterns) in _more.items():
        ABUSE[_key] = ABUSE[_key] + Lexicon(_phrases, _patterns)
MANAGER = MANAGER + Lexicon(*MANAGER_MORE) + Lexicon(*MANAGER_FAMILIES)
CANCELLATION = CANCELLATION + Lexicon(*CANCELLATION_MORE) + Lexicon(*CANCELLATION_FAMILIES)

# Negations that take back a manager request or a cancellation: 「解約はしません」, "I don't want to cancel".
_JA_NEGATED_AFTER = re.compile(r"^(は|を|とか|なんて)?(しない|しません|しなくて|せず|するつもりはない|するつもりはありません|"
                               r"は考えていない|は考えていません|ではない|ではありません|じゃない|じゃなくて|するわけでは|"
                               r"しようとは思っていない|しようとは思っていません|したくない|したくありません|するのはやめ)"
                               r"|^\w{0,3}(とは|なんて)(言わない|言いません|言ってない|言っていません)")
_EN_NEGATED_BEFORE = re.compile(r"\b(not|don't|dont|do not|won't|will not|never|no need to|didn't|did not|"
                                r"wasn't|isn't|not going to|no intention to)( \w+){0,3} $")


@dataclass(frozen=True, slots=True)
class PhraseHit:
    """One match: the lexicon key it belongs to (a category, or ``""``), the matched text (normalized) and the
    clause of the utterance it sits in (what an alert shows)."""

    key: str
    matched: str
    clause: str


def _is_ascii(entry: str) -> bool:
    return entry.isascii()


def _english_pattern(body: str) -> str:
    return rf"(?<![\w'])(?:{body})(?![\w])"


_KATAKANA = "\u30a1-\u30fa\u30fc"  # ァ … ヺ and ー


def _katakana_bounded(regex: str, source: str, *, whole: bool) -> str:
    """``regex`` that cannot start right after a katakana character when ``source`` starts with one, nor (for a
    ``whole`` katakana phrase) end right before one."""
    if not source or not re.match(f"[{_KATAKANA}]", source):
        return regex
    tail = f"(?![{_KATAKANA}])" if whole and re.fullmatch(f"[{_KATAKANA}]+", source) else ""
    return f"(?<![{_KATAKANA}])(?:{regex}){tail}"


class PhraseMatcher:
    """Compiled lexicons: ``find`` returns the first hit in key order (one regex per key and form)."""

    def __init__(self, lexicons: Mapping[str, Lexicon], *, negatable: bool = False) -> None:
        self.negatable = negatable
        self._compiled: list[tuple[str, re.Pattern[str] | None, re.Pattern[str] | None]] = []
        for key, lex in lexicons.items():
            ja: list[str] = []
            en: list[str] = []
            for phrase in lex.phrases:
                if _is_ascii(phrase):
                    en.append(r"\s+".join(re.escape(w) for w in words_form(phrase).split()))
                else:
                    ja.append(_katakana_bounded(re.escape(compact_form(phrase)), compact_form(phrase), whole=True))
            for pattern in lex.patterns:
                if _is_ascii(pattern):
                    en.append(pattern)
                else:
                    ja.append(_katakana_bounded(pattern, pattern, whole=False))
            self._compiled.append((key, re.compile("|".join(ja)) if ja else None,
                                   re.compile(_english_pattern("|".join(en))) if en else None))

    def find(self, text: str) -> PhraseHit | None:
        hits = self.find_all(text, first=True)
        return hits[0] if hits else None

    def find_all(self, text: str, *, first: bool = False) -> list[PhraseHit]:
        """Hits per key (one per key at most), in key order; negated ones dropped when ``negatable``."""
        compact, words = _compact(text), _words(text)
        out: list[PhraseHit] = []
        for key, ja, en in self._compiled:
            hit = self._search(ja, compact, english=False) or self._search(en, words, english=True)
            if hit is not None:
                out.append(PhraseHit(key, hit[0], hit[1]))
                if first:
                    break
        return out

    def _search(self, regex: re.Pattern[str] | None, form: _Form, *, english: bool) -> tuple[str, str] | None:
        if regex is None:
            return None
        text = form.text
        for m in regex.finditer(text):
            if m.end() == m.start():
                continue
            clause = form.clause(m.start(), m.end())
            if self.negatable and self._taken_back(m, text, clause, english=english):
                continue
            return m.group(0), clause
        return None

    @staticmethod
    def _taken_back(m: re.Match[str], text: str, clause: str, *, english: bool) -> bool:
        """A negated hit (解約はしません; "I don't want to cancel", in the hit's own sentence: "That's not good
        enough. I want a manager" still asks), or one in a clause that asks how cancelling works or calls for
        one's boss: not a threat, not a manager request."""
        if INQUIRY_EN.search(words_form(clause)) or INQUIRY_JA.search(compact_form(clause)):
            return True
        if not english:
            return bool(_JA_NEGATED_AFTER.match(text[m.end():]))
        own = words_form(clause)
        at = own.find(m.group(0))
        return bool(_EN_NEGATED_BEFORE.search(own[:at] if at >= 0 else text[:m.start()]))
        return None


def check_pattern(pattern: str) -> str | None:
    """Why ``pattern`` is not a usable regular expression, or ``None`` when it is."""
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        return str(exc)
    if compiled.search(""):
        return "it matches the empty text, so it would match every utterance"
    return None


def merged(base: Mapping[str, Lexicon], extra: Iterable[tuple[str, Lexicon]]) -> dict[str, Lexicon]:
    """``base`` with the ``extra`` entries added to their keys (new keys appended)."""
    out = dict(base)
    for key, lex in extra:
        out[key] = out[key] + lex if key in out else lex
    return out
