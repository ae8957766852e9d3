"""Reply drafts: a polite answer in the call's language, built from the top article and citing it.

Runs on every suggestion, so the default is a template (well under 5 ms): a cushion phrase, the article's
answer sentences that best match the customer's words (character-bigram overlap, robust to ASR spellings),
and a closing. A generative rewrite is optional and kept only when every sentence is supported by the
cited article (its numbers appear there, its content overlaps it); otherwise the template stands.
Drafts are never translated: a draft is in its ``language`` (the live service passes the article's), even when
the customer spoke another one, so every sentence stays checkable against the article.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from common.text_ja import bigrams
from summarize.generative import ChatBackend, ChatError
from summarize.numbers import number_values
from summarize.text import split_sentences

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ArticleText:
    article_id: str
    title: str
    answer: str
    language: str = "ja"


@dataclass(frozen=True, slots=True)
class ReplyDraft:
    text: str
    cited_ids: list[str]
    sentences: list[str] = field(default_factory=list)
    backend: str = "template"


_TROUBLE = {
    "ja": re.compile(r"なくし|無くし|落とし|紛失|盗|届かない|届いてない|できない|出来ない|使えない|困|壊れ|故障|間違|"
                     r"遅れ|つながらない|繋がらない|不具合|請求|高い|不正|エラー"),
    "en": re.compile(r"\b(?:lost|stolen|missing|broken|damaged|can't|cannot|won't|doesn't|didn't|wrong|late|"
                     r"error|problem|issue|charged|overcharged|not working)\b", re.IGNORECASE),
}
_CUSHION = {
    "ja": ("ご不便をおかけしております。", "お問い合わせいただきありがとうございます。"),
    "en": ("I'm sorry for the inconvenience.", "Thank you for your question."),
}
_CLOSING = {"ja": "ほかにご不明な点はございますか。", "en": "Is there anything else I can help you with?"}
_FIXED = {s for pair in _CUSHION.values() for s in pair} | set(_CLOSING.values())
_MAX_SENTENCES = 2


def _grams(text: str, language: str) -> set[str]:
    if language == "ja":
        return set(bigrams(re.sub(r"[\s、。！？!?「」（）()・]", "", text)))
    return {w for w in re.findall(r"[a-z0-9']+", text.lower()) if len(w) > 2}


def _polite(sentence: str, language: str) -> str:
    s = sentence.strip()
    if language == "ja" and not s.endswith(("。", "！", "？")):
        s += "。"
    if language != "ja" and not s.endswith((".", "!", "?")):
        s += "."
    return s


def draft_reply(article: ArticleText, query: str, language: str) -> ReplyDraft:
    """Cushion + the answer sentences closest to ``query`` (in the article's order) + closing."""
    lang = "ja" if language == "ja" else "en"
    answer = split_sentences(article.answer, lang)
    q, title = _grams(query, lang), _grams(article.title, lang)
    grams = [_grams(a, lang) for a in answer]
    ranked = sorted(range(len(answer)), key=lambda i: (-len(grams[i] & q), -len(grams[i] & title), i))
    body = [_polite(answer[i], lang) for i in sorted(ranked[:_MAX_SENTENCES])]
    # the customer may speak another language than the article's: look for trouble words in either
    trouble = any(pattern.search(query) for pattern in _TROUBLE.values())
    cushion = _CUSHION[lang][0 if trouble else 1]
    sentences = [cushion, *body, _CLOSING[lang]]
    return ReplyDraft(text=("" if lang == "ja" else " ").join(sentences), cited_ids=[article.article_id],
                      sentences=sentences)


def supported(sentences: list[str], article: ArticleText, language: str, *, min_overlap: float = 0.5) -> bool:
    """Every sentence is a fixed courtesy phrase, or overlaps the article and adds no number of its own."""
    source = f"{article.title}\n{article.answer}"
    allowed = number_values(source, language)
    source_grams = _grams(source, language)
    for s in sentences:
        if s in _FIXED:
            continue
        if number_values(s, language) - allowed:
            return False
        grams = _grams(s, language)
        if grams and len(grams & source_grams) / len(grams) < min_overlap:
            return False
    return True


_REWRITE_PROMPT = {
    "ja": ("あなたはコールセンターのオペレーターです。次のFAQの回答だけを根拠に、お客様の言葉に答える丁寧な返答を"
           "2〜4文で書いてください。FAQにない事実や数字は書かないでください。返答の文だけを出力してください。"),
    "en": ("You are a contact-center agent. Using only the FAQ answer below, write a polite reply of 2-4 sentences "
           "to the customer's words, in English. Add no fact or number that is not in the FAQ. Output only the reply."),
}


class ReplyDrafter:
    """Template drafts, optionally rewritten by a chat backend behind the support check."""

    def __init__(self, chat: ChatBackend | None = None) -> None:
        self.chat = chat

    def draft(self, article: ArticleText, query: str, language: str) -> ReplyDraft:
        template = draft_reply(article, query, language)
        if self.chat is None:
            return template
        lang = "ja" if language == "ja" else "en"
        messages = [
            {"role": "system", "content": _REWRITE_PROMPT[lang]},
            {"role": "user", "content": f"FAQ: {article.title}\n{article.answer}\n\nCustomer: {query}"},
        ]
        try:
            text = self.chat.complete(messages, json_mode=False).strip()
        except ChatError as exc:
            log.warning("reply rewrite failed (%s); keeping the template", exc)
            return template
        sentences = split_sentences(text, lang)
        if not sentences or not supported(sentences, article, lang):
            log.info("reply rewrite not supported by article %s; keeping the template", article.article_id)
            return template
        return ReplyDraft(text=text, cited_ids=[article.article_id], sentences=sentences, backend=self.chat.name)
