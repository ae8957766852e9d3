"""What kind of turn a customer's final utterance is, so only requests, questions and complaints query the KB.

A closing (「いえ、大丈夫です。ありがとうございました」) or an identity answer (「山田花子、1985年4月12日生まれです」)
has no topic; searched anyway (alone or glued to the previous turn) it pushes unrelated cards over good ones.
Rules, not a model: cue lexicons for Japanese and English plus the endings Japanese callers put on requests
(〜たいんですが, 〜ですか, 〜してしまって, どうしたら…). When nothing decides, the turn counts as a request: a
missing card costs the agent more than an extra one, and retrieval's own abstain threshold still applies.
"""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum

from common.openers import opens_new_topic
from common.text_ja import strip_fillers


class TurnKind(StrEnum):
    GREETING = "greeting"
    IDENTITY = "identity"  # name, birth date, phone/card/member number, address given on request
    CLOSING = "closing"  # acknowledgements, thanks, goodbyes, "hold on"
    REQUEST = "request"  # requests and questions
    COMPLAINT = "complaint"
    ANSWER = "answer"  # a reply to the agent's own question (an amount, dates, which shop): the topic stays


_QUERYING = frozenset({TurnKind.REQUEST, TurnKind.COMPLAINT})


def should_query(kind: TurnKind) -> bool:
    """Only requests, questions and complaints search the KB; other turns never replace the cards on screen."""
    return kind in _QUERYING


def _alt(*words: str) -> str:
    return "(?:" + "|".join(sorted(words, key=len, reverse=True)) + ")"


# ---- Japanese cue lexicons (matched on NFKC text without fillers, spaces or punctuation)
_JA_GREETING = _alt("ちょっと聞きたいことがあって", "聞きたいことがあって", "聞きたいことがあるんですけど", "お聞きしたいことがあって",
                    "お伺いしたいことがあって", "質問があって", "質問があるんですけど", "相談があって", "ご相談があって",
                    "もしもし", "お世話になります", "お世話になっております", "こんにちは", "こんばんは", "おはようございます",
                    "はじめまして", "よろしくお願いします", "よろしくお願いいたします", "お願いします", "お電話ありがとうございます",
                    "聞こえますか", "聞こえてますか", "失礼します", "すみません", "あのすみません")
_JA_CLOSING = _alt("ありがとうございました", "ありがとうございます", "ありがとう", "どうもありがとう", "どうも", "助かりました",
                   "助かります", "わかりました", "分かりました", "了解です", "了解しました", "承知しました", "かしこまりました",
                   "大丈夫です", "大丈夫", "以上です", "それだけです", "失礼します", "失礼しました", "はい", "ええ", "うん",
                   "いいえ", "いえ", "いえいえ", "こちらこそ", "そうです", "そうですね", "そうなんですね", "そうなんだ", "なるほど",
                   "なるほどね", "お願いします", "それでお願いします", "じゃあそれで", "ではそれで", "結構です", "特にないです",
                   "特にありません", "ほかにはないです", "他にはないです", "ほかには", "また電話します", "またかけます",
                   "かけ直します", "また何かあったら", "何かあったら", "電話します", "連絡します", "合ってます", "間違いないです", "よろしくお願いします", "さようなら", "ではでは",
                   "少々お待ちください", "ちょっと待ってください", "待ってください", "お待ちください", "待ってもらえますか")
_JA_GREETING_WORD = re.compile(r"もしもし|お世話に|こんにちは|こんばんは|おはよう|はじめまして|聞こえ|お電話ありがとう")
_JA_HOLD = re.compile(r"(?:待って(?:ください|もらえますか|くださいね)|お待ちください|かけ直し|かけなおし|メモ|ペン)")
_JA_COMPLAINT = re.compile(
    r"(?:ひど[いかくす]|酷[いかくす]|態度|腹が立|頭にくる|頭に来|ふざけ|いい加減にし|いいかげんにし|たらい回し|何回電話|何度電話|何度も電話|"
    r"納得でき|納得いか|責任者|上の人|苦情|クレーム|不満|最悪|許せな|誠意|態度が悪|失礼じゃ|失礼です|対応が悪|もういい|"
    r"怒って|訴え|消費者センター|がっかり|説明が違|話が違)")
_JA_REQUEST = re.compile(
    r"(?:たい(?:ん|の)?(?:です|ですが|ですけど|んですけれども)?|てほしい|て欲しい|ていただけ|てもらえ|てもらいたい|てください|"
    r"ですか|ますか|でしょうか|ませんか|ますでしょうか|かな|んですが|んですけど|んですけれども|のですが|"
    r"てしまって|てしまいまして|ちゃって|じゃって|てしまった|ちゃった|なくて|なくなって|ないんです|できない|できなく|"
    r"どうしたら|どうすれば|どうやって|どうなって|どうなり|どこで|どこに|いつ|いくら|なぜ|なんで(?!す)|何で|どれくらい|どのくらい|"
    r"教えて|知りたい|わからな|分からな|困って|届かな|届いてな|使えな|つながらな|動かな|止めて|変えたい|変更|解約|"
    r"申し込|手続き|確認したい|お願いしたい|ほしい|欲しい)")
_JA_NAME = re.compile(r"^(?:私は|わたしは|名前は|契約者は|本人は)?[\u4e00-\u9fff\u30a0-\u30ff\u3040-\u309f]{1,8}"
                      r"(?:です|と申します|といいます|でございます)$")
_JA_IDENTITY = re.compile(
    r"(?:(?:19|20)\d{2}年\d{1,2}月\d{1,2}日|(?:昭和|平成|令和)\S{1,3}年\d{1,2}月\d{1,2}日|生年月日|生まれ|"
    r"\d{2,4}[-‐ー−]\d{2,4}[-‐ー−]\d{3,4}|(?:\d[\s-]?){12,19}|〒|郵便番号|(?:都|道|府|県)\S{1,6}(?:市|区|町|村)|"
    r"丁目|番地|会員番号|お客様番号|契約番号|注文番号|伝票番号|受付番号|電話番号は|住所は|名前は|と申します|本人です|"
    r"[A-Za-z]-?\d{4,}|\d{7,}|[\w.+-]+@[\w-]+\.[\w.]+|\d{1,2}月\d{1,2}日)")
# Statements of what the caller will do (送ります, やってみます) and echoes of the agent (明日の15時ですね) answer
# the agent; they ask for nothing.
_JA_ACK_END = re.compile(r"(?:ます|(?<!よ)ね)$")  # ですよね asks for confirmation: a question
# … and so does a turn that ends by acknowledging (セール品だったからか、わかりました)
_JA_ACK_TAIL = re.compile(r"(?:わかりました|分かりました|了解です|了解しました|承知しました|なるほど|なるほどね|"
                          r"ありがとうございます|ありがとうございました|助かりました|助かります)$")
# A reaction to what the agent said (え、そんなに使ったかな?, 本当ですか): a degree or a "really" and little else
_JA_REACTION = re.compile(r"そんなに|こんなに|あんなに|そんな|本当に|ほんとに|ほんとう|本当|マジ|まじ")
_JA_REACTION_MAX = 12  # characters of a reaction without fillers and punctuation
_JA_QUESTION_WORD = re.compile(r"いつ|いくら|どう|どこ|どれ|なぜ|なんで(?!す)|何|たい|てほしい|てもらえ|ください")
# What really asks (a wish, a question word or form; or another topic opens), as against a problem being described
# (〜てしまって, 〜んですけど), which after the agent's own question is its answer
_JA_ASKING = re.compile(
    r"(?:たい|てほしい|て欲しい|ていただけ|てもらえ|てもらい|てください|教えて|知りたい|どうしたら|どうすれば|"
    r"どうやって|どうなり|どうなって|いつ|いくら|なぜ|なんで(?!す)|どこ|ですか|ますか|でしょうか|ませんか|[?？])")

# ---- English
_EN_GREETING = re.compile(r"^(?:hello|hi|hey|good (?:morning|afternoon|evening)|hello there|hi there|can you hear me)"
                          r"(?: there)?[,.!\s]*$", re.IGNORECASE)
_EN_CLOSING = re.compile(
    r"^(?:(?:ok(?:ay)?|great|perfect|alright|all right|sure|fine|yes|yeah|yep|no|nope|right|got it|i see|"
    r"thanks?(?: you)?(?: (?:so|very) much)?|thank you|cheers|bye|goodbye|bye bye|see you|have a (?:nice|good) day|"
    r"that'?s (?:all|everything|it|correct|right)(?: i needed)?|that is (?:all|correct)|nothing else|no that'?s all|"
    r"hold on(?: a (?:second|sec|moment|minute))?|one (?:second|moment)|just a (?:second|moment)|please|"
    r"for your help|for the help|thanks for your help|i(?:'ll| will) call (?:you )?back|will do|sounds good)"
    r"[,.!\s]*)+$", re.IGNORECASE)
_EN_HOLD = re.compile(r"\b(?:hold on|one (?:second|moment)|give me a (?:second|minute)|let me (?:find|grab|get) "
                      r"(?:a |my )?(?:pen|card)|my (?:kid|dog|baby) is|the train is)\b", re.IGNORECASE)
_EN_COMPLAINT = re.compile(
    r"\b(?:terrible|unacceptable|ridiculous|awful service|worst|fed up|sick of|angry|furious|complain|complaint|"
    r"speak to (?:a |your )?(?:manager|supervisor)|manager|supervisor|rude|disgusting|outrageous|this is a joke|"
    r"i(?:'ve| have) called (?:\w+ )?times|nobody (?:helps|helped)|waste of (?:my )?time)\b", re.IGNORECASE)
_EN_REQUEST = re.compile(
    r"\b(?:i (?:want|need|would like|'d like)|i'd like|can (?:i|you)|could (?:i|you)|would you|how|why|when|where|what|"
    r"which|is there|are there|do you|does|did|will i|should i|do i|am i|is it|help|lost|stolen|forgot|can't|"
    r"cannot|won't|doesn't|isn't|hasn't|"
    r"don't|haven't|didn't|still|anymore|"
    r"not working|problem|issue|wrong|broken|declined|charged|cancel|change|switch|upgrade|return|refund|send|"
    r"track|close|open|set up|unlock|pay|bill|fee)\b|\?", re.IGNORECASE)
_EN_NAMED = re.compile(r"^(?:[Tt]his is|[Ii]t'?s|[Ii]t is) [A-Z][a-z]+(?: [A-Z][a-z]+)?[.!\s]*$")  # case matters: a name
_EN_IDENTITY = re.compile(
    r"(?:\bmy name is\b|\bdate of birth\b|\bborn (?:on|in)\b|"
    r"\bmy (?:phone )?number is\b|\bmy address is\b|\bzip code\b|\bpostcode\b|\baccount number is\b|"
    r"\bmember (?:number|id) is\b|\border number\b|\be-?mail (?:is|address)\b|\baddress is\b|[\w.+-]+@[\w-]+\.\w|"
    r"(?:\d[\s-]?){7,19})", re.IGNORECASE)
_EN_ACK_TAIL = re.compile(r"\b(?:thanks?(?: you)?(?: (?:so|very) much| a lot)?|got it|i see|sounds good|good to know|"
                          r"perfect|great|okay|ok|bye)[.!\s]*$", re.IGNORECASE)
_EN_ASKING = re.compile(r"\?|\b(?:i (?:want|need|would like)|i'd like|can (?:i|you)|could (?:i|you)|would you|how|why|when|"
                        r"where|what|which|is there|are there|do you|does|will i|should i|do i|also|another|one more)\b",
                        re.IGNORECASE)
_EN_COMMIT = re.compile(r"^(?:i'?ll|i will|we'?ll|let'?s|i can|i'?m going to|okay|ok|perfect|great|good|that'?s|sure)\b",
                        re.IGNORECASE)

# ---- the agent's turn just before: a question it asked is answered, unless the caller asks something back
_MASKED = re.compile(r"\[[^\[\]]{1,16}\]")  # personal data the service masked: [電話番号], [生年月日], [PHONE]
# a question, or a request for information (…をお願いします, 教えてください); not an instruction (ご連絡ください)
_JA_ASKS = re.compile(r"(?:か|[をも]お願い(?:いたし|致し|し)?ます|(?:教えて|お聞かせ)(?:ください|下さい))$")
_JA_ASKS_IDENTITY = re.compile(r"お名前|ご氏名|生年月日|電話番号|ご住所|郵便番号|本人確認|番号を|番号と|番号も|暗証|"
                               r"メールアドレス|ご登録の")
# Open questions invite a request (どうされましたか, ほかにご不明な点はございますか)
_JA_OPEN = re.compile(r"どうされ|どうなさ|いかが|ご用件|ご用|どのような|どういった|お困り|ほかに|他に|ご不明|以上|"
                      r"お伺い|承ります|うけたまわります|受けたまわります")
_EN_ASKS = re.compile(r"\?\s*$|\b(?:can i (?:get|have)|could (?:i|you)|may i (?:have|get)|please (?:give|tell|confirm|"
                      r"spell|read)|what(?:'s| is) your)\b", re.IGNORECASE)
_EN_ASKS_IDENTITY = re.compile(r"\b(?:name|date of birth|birth ?date|birthday|phone|mobile number|account number|"
                               r"order number|card number|e-?mail|address|zip|post ?code|pin|last four|security|verify|"
                               r"verification)\b", re.IGNORECASE)
_EN_OPEN = re.compile(r"\b(?:how (?:can|may|could) i (?:help|assist)|what can i do|anything else|something else|"
                      r"other questions?|how are you|what seems)\b", re.IGNORECASE)
_SENTENCE = re.compile(r"[^。.!?！？]+[。.!?！？]*")


def _last_sentence(text: str) -> str:
    sentences = [m.group(0).strip() for m in _SENTENCE.finditer(unicodedata.normalize("NFKC", text))]
    sentences = [s for s in sentences if s]
    return sentences[-1] if sentences else ""


def _asked(prompt: str | None, language: str) -> TurnKind | None:
    """What the agent's turn before asked for: ``IDENTITY`` (a name, a number, a birth date), ``ANSWER`` (any
    other closed question) or None (no question, or an open one that invites a request)."""
    if not prompt or not prompt.strip():
        return None
    last = _last_sentence(prompt)
    if language == "en":
        if not _EN_ASKS.search(last) or _EN_OPEN.search(last):
            return None
        return TurnKind.IDENTITY if _EN_ASKS_IDENTITY.search(last) else TurnKind.ANSWER
    core = _PUNCT.sub("", last)
    if not _JA_ASKS.search(core) or _JA_OPEN.search(core):
        return None
    return TurnKind.IDENTITY if _JA_ASKS_IDENTITY.search(core) else TurnKind.ANSWER


_PUNCT = re.compile(r"[\s、。,.!?！？・…「」『』()（）]+")


def _compact(text: str) -> str:
    return _PUNCT.sub("", unicodedata.normalize("NFKC", text))


def _strip_all(text: str, lexicon: str) -> str:
    """What is left after removing every occurrence of the lexicon's phrases (and punctuation)."""
    return re.sub(lexicon, "", text)


def _identity_ja(raw: str, core: str) -> bool:
    """Names, numbers, dates, addresses read out: a cue or a masked span anywhere ([電話番号]です), or nothing but
    bare names, sentence by sentence (いのえです。いのえ大好きです: a name ASR misheard)."""
    if _JA_IDENTITY.search(raw) or _MASKED.search(raw):
        return True
    parts = [p for p in (_compact(strip_fillers(x)) for x in re.split(r"[。!?！？]", raw)) if p] or [core]
    return all(_JA_NAME.match(p) and not p.endswith(("んです", "のです")) for p in parts)


def _classify_ja(text: str, prompt: str | None) -> TurnKind:
    raw = unicodedata.normalize("NFKC", text)
    core = _compact(strip_fillers(raw))
    if not core:
        return TurnKind.CLOSING
    if _JA_COMPLAINT.search(core):
        return TurnKind.COMPLAINT
    request = bool(_JA_REQUEST.search(core))
    # what is left besides courtesy words; an interjection or two (あ, えっ) is not a topic
    leftover = _strip_all(_strip_all(core, _JA_GREETING), _JA_CLOSING)
    if len(leftover) <= 2:
        return TurnKind.GREETING if _JA_GREETING_WORD.search(core) else TurnKind.CLOSING
    if _JA_HOLD.search(core) and len(leftover) < 20:
        return TurnKind.CLOSING
    if not request and _identity_ja(raw, core):
        return TurnKind.IDENTITY
    if len(core) <= _JA_REACTION_MAX and _JA_REACTION.search(core) and not _JA_QUESTION_WORD.search(core):
        return TurnKind.CLOSING
    if not request and _JA_ACK_TAIL.search(core):
        return TurnKind.CLOSING
    asked = _asked(prompt, "ja")
    if asked is not None and not _JA_ASKING.search(core) and not opens_new_topic(raw):
        return TurnKind.IDENTITY if asked is TurnKind.IDENTITY or _MASKED.search(raw) else TurnKind.ANSWER
    if request:
        return TurnKind.REQUEST
    return TurnKind.CLOSING if len(leftover) <= 3 or _JA_ACK_END.search(core) else TurnKind.REQUEST


def _classify_en(text: str, prompt: str | None) -> TurnKind:
    raw = unicodedata.normalize("NFKC", text).strip()
    core = strip_fillers(raw).strip()
    if not core:
        return TurnKind.CLOSING
    if _EN_COMPLAINT.search(core):
        return TurnKind.COMPLAINT
    if _EN_GREETING.match(raw) or _EN_GREETING.match(core):
        return TurnKind.GREETING
    if _EN_CLOSING.match(raw) or _EN_CLOSING.match(core):
        return TurnKind.CLOSING
    request = bool(_EN_REQUEST.search(raw))
    if _EN_HOLD.search(core) and not re.search(r"\b(?:lost|stolen|need|want|how|why)\b", core, re.IGNORECASE):
        return TurnKind.CLOSING
    identity = bool(_EN_IDENTITY.search(core) or _EN_NAMED.match(raw) or _MASKED.search(raw))
    if not request and identity:
        return TurnKind.IDENTITY
    if not request and _EN_ACK_TAIL.search(core):
        return TurnKind.CLOSING
    asked = _asked(prompt, "en")
    if asked is not None and not _EN_ASKING.search(core):
        return TurnKind.IDENTITY if asked is TurnKind.IDENTITY or identity else TurnKind.ANSWER
    if request or (opens_new_topic(core) and len(core.split()) > 3):  # "Great, also, …": ASR may drop the "?"
        return TurnKind.REQUEST
    return TurnKind.CLOSING if len(core.split()) <= 2 or _EN_COMMIT.match(core) else TurnKind.REQUEST


def classify_turn(text: str, language: str | None = None, prompt: str | None = None) -> TurnKind:
    """The kind of one finished customer utterance. ``language`` ``ja``/``en``; None decides by script.
    ``prompt``: the agent's turn just before, when known. After a closed question (お名前をお願いします, "how
    much?") a reply that asks nothing back answers it: a problem described there (〜んですけど) is no new topic."""
    if language not in ("ja", "en"):
        language = "en" if unicodedata.normalize("NFKC", text).isascii() else "ja"
    return _classify_en(text, prompt) if language == "en" else _classify_ja(text, prompt)
