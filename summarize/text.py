"""Sentence-level analysis for grounded notes: splitting, and what a sentence *does*.

The one distinction notes must never get wrong is done vs promised. Japanese marks it in the verb's
morphology (停止いたしました: past → done; お送りいたします / 折り返し / 予定: non-past → promised), read here
from SudachiPy's parts of speech; English from auxiliaries and tense ("I've cancelled" vs "we will send").
"""

from __future__ import annotations

import re
from typing import Literal

from sudachipy import Morpheme

from common.text_ja import strip_sentence_fillers, tokenize

Aspect = Literal["done", "promise", "request", "question", "other"]

_JA_SPLIT = re.compile(r"(?<=[。！？!?\n])|(?<=[ぁ-ん])[ \u3000]+")  # ASR often ends sentences with a space
_EN_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'(\[])|\n")


def split_sentences(text: str, language: str) -> list[str]:
    parts = (_JA_SPLIT if language == "ja" else _EN_SPLIT).split(text.strip())
    return [p.strip() for p in parts if p.strip()]


_JA_CLAUSE = re.compile(r"(?<=ました、)|(?<=まして、)|(?<=ましたので、)|(?<=ましたが、)|(?<=ですので、)")
_EN_CLAUSE = re.compile(r",?\s+(?:and|so)\s+(?=(?:it|we|you|I|they|this|that|your|a|the)\b[^.]*?"
                        r"\b(?:will|'ll|should (?:arrive|get|receive|see|reach)|within \d))")


def split_clauses(sentence: str, language: str) -> list[str]:
    """Splits where a done clause meets a promised one (停止いたしましたので、…お送りいたします)."""
    parts = (_JA_CLAUSE if language == "ja" else _EN_CLAUSE).split(sentence)
    return [p.strip() for p in parts if p.strip()]


def content_length(sentence: str, language: str) -> int:
    """Characters (Japanese) or words (English) left once fillers and punctuation are gone."""
    s = strip_sentence_fillers(sentence, language)
    if language == "ja":
        return len(re.sub(r"[\s、。！？!?…ー]", "", s))
    return len(re.findall(r"[A-Za-z0-9']+", s))


# Set phrases in the past tense that report no action taken for the customer.
_JA_COURTESY = {"かしこまる", "承知", "待たせる", "ありがとう", "失礼", "分かる", "わかる", "申し訳", "助かる", "了解",
                "有り難い", "ありがたい", "お世話", "致す", "電話", "存じる", "確認", "聞こえる"}
_JA_COURTESY_TEXT = re.compile(r"^(?:かしこまりました|承知(?:いた|し)?しました|お待たせ(?:いた|し)しました|"
                               r"ありがとうございました|失礼(?:いた|し)しました|大変失礼|申し訳ございませんでした|"
                               r"お電話ありがとうございました|わかりました|分かりました|了解しました|(?:確認|承知|了解)(?:いた|し)しました$)")
_JA_DONE_NOUN = re.compile(r"完了|済み|済ませ|手配済|受付済|対応済|反映されて|変更されて|停止されて|されております|"
                           r"しております(?:ので)?$")
_JA_PROMISE_WORDS = re.compile(r"予定|場合|次第|折り返し|後ほど|のちほど|後日|改めて|あらためて|次回|までに|以内に|日後|週間|届きます|"
                               r"お届け(?:いた)?します|お送り(?:いた)?します|ご連絡(?:いた)?します|発送(?:いた)?します|"
                               r"させていただきます|手配(?:いた)?します|ご案内(?:いた)?します")
_JA_THANKS = re.compile(r"ありがとう|恐れ入ります|申し訳|失礼|よろしいでしょうか|お疲れ|おかけ|いってらっしゃい|お大事に|"
                        r"承ります|でございます")
_JA_STATE_END = re.compile(r"(?:て|で)(?:おり|い)ます$|いただけます$|られます$|できます$")
_JA_DO = {"いたす", "致す", "する", "為る"}
_JA_REQUEST = re.compile(r"(?:ください|お願い(?:いた)?します|お願いできますでしょうか|いただけますか|いただきますよう)")
_JA_NOT_REQUEST = re.compile(r"^(?:少々|しばらく|(?:今後とも)?よろしくお願い|お待ちください|はい)")
_JA_STATE_VERBS = {"ござる", "おる", "ある", "いる", "なる", "です", "できる", "出来る", "思う", "存じる", "言う",
                   "かかる", "掛かる", "申す", "いただける", "頂ける"}


def _ja_aspect(sentence: str, speaker: str) -> Aspect:
    s = sentence.rstrip("。！!")
    if re.search(r"(?:か|かね|でしょうか|ですか|ますか)[？?]?$|[？?]$", s):
        return "question"
    morphs = [m for m in tokenize(s) if m.part_of_speech()[0] not in ("補助記号", "空白")]
    if not morphs or _JA_NOT_REQUEST.match(s):
        return "other"
    if speaker == "customer":
        return _ja_customer_aspect(s, morphs)
    if _JA_REQUEST.search(s):
        return "request"
    past = any(m.part_of_speech()[0] == "助動詞" and m.dictionary_form() == "た" for m in morphs[-3:])
    if _JA_THANKS.search(s) and not (past and len(morphs) > 6) and not _JA_PROMISE_WORDS.search(s):
        return "other"
    if past:
        verbs = {m.dictionary_form() for m in morphs if m.part_of_speech()[0] == "動詞"}
        if _JA_COURTESY_TEXT.match(s) or (len(morphs) <= 4 and verbs & _JA_COURTESY):
            return "other"
        return "done"
    if _JA_DONE_NOUN.search(s) and not _JA_PROMISE_WORDS.search(s):
        return "done"
    if _JA_PROMISE_WORDS.search(s):
        return "promise"
    if _JA_STATE_END.search(s) or s.endswith("ません"):  # セール品には使えません: a statement, no promise
        return "other"
    ends_masu = any(m.normalized_form() == "ます" for m in morphs[-3:]) or morphs[-1].part_of_speech()[0] == "動詞"
    if ends_masu:
        lemmas = {m.dictionary_form() for m in morphs[-5:] if m.part_of_speech()[0] == "動詞"}
        if lemmas and not lemmas <= _JA_STATE_VERBS | _JA_DO:
            return "promise"
        if lemmas & _JA_DO and len(morphs) > 4:
            return "promise"
    return "other"


def _ja_customer_aspect(s: str, morphs: list[Morpheme]) -> Aspect:
    """A customer's promise is first-person volitional: 送ります, 出しておきます, 考えます (not ください, nor a state
    such as 点滅してます)."""
    last = morphs[-1]
    if last.normalized_form() != "ます" or re.search(r"ください|お願い|たい|ません|(?:て|で)(?:い|おり)?ます$", s):
        return "other"
    verbs = [m.dictionary_form() for m in morphs[-5:] if m.part_of_speech()[0] == "動詞"]
    if verbs and verbs[0] not in _JA_STATE_VERBS | {"待つ", "分かる", "わかる"}:
        return "promise"
    return "other"


_EN_QUESTION = re.compile(r"\?\s*$")
_EN_DONE = re.compile(
    r"\b(?:I've|I have|we've|we have|I just|I went ahead and|has been|have been|is now|are now|is all set|"
    r"(?:I|we) (?:\w+ed|sent|made|put|set|took|gave|reset|paid|blocked|issued|done|found|got)\b)",
    re.IGNORECASE)
_EN_PROMISE = re.compile(
    r"\b(?:will|'ll|going to|shall|expect|should (?:arrive|receive|get|see)|within \d+|scheduled to|planning to|"
    r"call you back|get back to you|follow up)\b",
    re.IGNORECASE)
_EN_PERFECT = re.compile(r"^(?:I've|I have|we've|we have)\b", re.IGNORECASE)
_EN_REQUEST = re.compile(r"\b(?:please|you(?:'ll| will)? need to|make sure|could you|can you)\b", re.IGNORECASE)
_EN_COURTESY = re.compile(r"^(?:thank|thanks|sorry|I'm sorry|I apologize|I understand|I see|got it|great|perfect)",
                          re.IGNORECASE)


def _en_aspect(sentence: str, speaker: str) -> Aspect:
    s = sentence.strip()
    if _EN_QUESTION.search(s):
        return "question"
    if _EN_COURTESY.match(s) and len(s.split()) <= 8 and not (_EN_PROMISE.search(s) or _EN_PERFECT.search(s)):
        return "other"
    if speaker == "agent" and _EN_REQUEST.search(s) and not re.search(r"\b(?:please hold|one moment)\b", s, re.I):
        return "request"
    if _EN_PERFECT.match(s) or (_EN_DONE.search(s) and not _EN_PROMISE.search(s)):
        return "done"
    if _EN_PROMISE.search(s):
        return "promise"
    return "other"


def aspect(sentence: str, language: str, speaker: str = "agent") -> Aspect:
    """What a sentence reports: an action done on the call, a promise, a request to the other side, a question."""
    return _ja_aspect(sentence, speaker) if language == "ja" else _en_aspect(sentence, speaker)


def is_future(text: str, language: str) -> bool:
    """A note line with any promised (future / volitional) sentence is a follow-up, never a done action."""
    return any(aspect(s, language) == "promise" for s in split_sentences(text, language))
