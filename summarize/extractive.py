"""The default summarizer: grounded extraction, deterministic, about a tenth of a second per call.

No bundled generative model writes trustworthy Japanese notes on a CPU (docs/ARCHITECTURE.md), so the
default picks the call's own sentences: the customer's request (用件), what the agent reports as done
(対応内容), what was promised or asked for (次回対応), and the outcome (結果), each linked to its turns.
Text is masked first by the service's ``Masker`` (numbers split across a speaker's turns included) and
cleaned of fillers; the fact check runs last, as for every backend.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from summarize.base import ArticleRef, Turn
from summarize.entities import extract_entities
from summarize.factcheck import fact_check
from summarize.masking import Masker
from summarize.notes import CallNotes, NoteLine, Outcome
from summarize.numbers import number_values
from summarize.text import Aspect, aspect, content_length, split_clauses, split_sentences, strip_fillers
from summarize.uncertain import mark_uncertain


@dataclass(frozen=True, slots=True)
class _Sentence:
    turn: int
    speaker: str
    text: str
    aspect: Aspect


NAMED_ARTICLES = 3  # titles in the 該当FAQ line
_LABELS = {"ja": {"articles": "該当FAQ: ", "customer": "お客様: ", "explained": "案内: ", "sep": "、"},
           "en": {"articles": "Matched FAQ: ", "customer": "Customer: ", "explained": "Explained: ", "sep": "; "}}

_REQUEST = {
    "ja": re.compile(r"たい|ください|ほしい|欲しい|てもらえ|ていただけ|んですけど|んですが|のですが|できますか|どうすれば|"
                     r"どうしたら|なくし|無くし|落とし|紛失|盗ま|届かない|届いてない|届いていない|変更|解約|返品|交換|引っ越|"
                     r"請求|止め|間違|壊れ|使えな|わからな|分からな|高い|支払|払い|移転|開始|停止|遅れ|遅く|遅い|られない|"
                     r"できな|ないんです|なくて|困って"),
    "en": re.compile(r"\b(?:i'd like|i would like|i want|i need|can you|could you|how do i|how can i|i lost|"
                     r"lost my|can't|cannot|hasn't|haven't|didn't|wrong|cancel|return|refund|change|switch|move|"
                     r"moving|charged|bill|broken|damaged|stolen|upgrade|downgrade|late|missing)\b", re.IGNORECASE),
}
_IDENTITY = {
    "ja": re.compile(r"お名前|生年月日|電話番号|ご住所|カード番号|ご本人|暗証|お客様番号|契約者|ご登録の|フルネーム|注文番号|\[[^\]]+\]"),
    "en": re.compile(r"\b(?:name|date of birth|birthday|phone number|address|account number|card number|verify|"
                     r"security|zip|postcode|e-?mail)\b|\[[A-Z ]+\]", re.IGNORECASE),
}
_IMMEDIATE = {
    "ja": re.compile(r"ただいま|只今|今から|すぐ|少々|お待ち|お調べ|確認(?:いた|さ)?(?:し|せていただき)ます|お伺い|伺います|"
                     r"頂戴します|復唱|読み上げ"),
    "en": re.compile(r"\b(?:let me|one moment|hold on|please hold|bear with me|I'll (?:just )?(?:check|look|pull up|"
                     r"verify|confirm))\b", re.IGNORECASE),
}
_STRONG_PROMISE = {
    "ja": re.compile(r"折り返し|後日|後ほど|予定|までに|以内|週間|営業日|お送り|お届け|発送|ご連絡|郵送|届きます|反映"),
    "en": re.compile(r"\b(?:call you back|get back to you|within|by (?:monday|tuesday|wednesday|thursday|friday|"
                     r"tomorrow|next)|send|mail|email you|arrive|ship|business days)\b", re.IGNORECASE),
}
_ESCALATED = {
    "ja": re.compile(r"担当部署|専門部署|専門の部署|専門の担当|上席|上長|責任者|エスカレ|おつなぎ|お繋ぎ|転送|技術担当"),
    "en": re.compile(r"\b(?:escalat\w*|supervisor|specialist|transfer\w*|another department|claims team|"
                     r"technical team|manager)\b", re.IGNORECASE),
}
_EXPLAINS = {
    "ja": re.compile(r"により|によって|のため|ため、|原因|理由|加え"),
    "en": re.compile(r"\b(?:because|due to|caused by|since|reason)\b", re.IGNORECASE),
}
_RESTATES = re.compile(r"(?:ですね|でございますね)。?$")
_PENDING = {
    "ja": re.compile(r"折り返し|確認のうえ|確認の上|確認して|調査|後日|改めて|お調べして|確認でき次第"),
    "en": re.compile(r"\b(?:call you back|get back to you|investigat\w*|look into|follow up|contact you)\b",
                     re.IGNORECASE),
}


def _bigrams(text: str) -> set[str]:
    t = re.sub(r"\W", "", text.lower())
    return {t[i:i + 2] for i in range(len(t) - 1)}


_POLITE_GRAMS = _bigrams("でございますね") | _bigrams("ですね") | _bigrams("ご心配ご不便")


class ExtractiveSummarizer:
    """Grounded extractive notes; ``min_customer_turns`` / ``min_customer_chars`` (words in English) say
    when a call has too little content to summarize at all."""

    name = "extractive"

    def __init__(self, *, min_customer_turns: int = 2, min_customer_chars: int = 15, max_lines: int = 6,
                 masker: Masker | None = None) -> None:
        self.masker = masker if masker is not None else Masker()  # the service passes the configured one
        self.min_customer_turns = min_customer_turns
        self.min_customer_chars = min_customer_chars
        self.max_lines = max_lines

    def summarize(
        self, turns: Sequence[Turn], *, language: str, articles: Sequence[ArticleRef] = ()
    ) -> CallNotes:
        notes = self.extract(turns, language=language, articles=articles)
        if notes.status != "ok":
            return notes
        checked, _ = fact_check(notes, turns, sources=[a.title for a in articles])
        return mark_uncertain(checked, turns)

    def extract(
        self, turns: Sequence[Turn], *, language: str, articles: Sequence[ArticleRef] = ()
    ) -> CallNotes:
        """The notes before the fact check (the generative backends' fallback calls ``summarize``)."""
        lang = "ja" if language == "ja" else "en"
        masked = self.masker.mask_turns(turns, lang)
        if not self.has_content(masked, lang):
            return CallNotes(status="insufficient_content", language=lang, backend=self.name)
        sentences = self._sentences(masked, lang)
        actions = self._actions(sentences, lang)
        follow_ups = self._follow_ups(sentences, lang)
        result, result_line = self._result(sentences, actions, follow_ups, lang)
        inquiry = self._inquiry(sentences, articles, lang)
        articles = self._request_articles(inquiry, articles)
        if articles and inquiry:
            titles = _LABELS[lang]["sep"].join(dict.fromkeys(a.title for a in articles))
            inquiry.append(NoteLine(text=_LABELS[lang]["articles"] + titles, turns=[inquiry[0].turns[0]]))
        return CallNotes(
            language=lang,
            backend=self.name,
            inquiry=inquiry,
            actions=actions,
            result=result,
            result_line=result_line,
            follow_ups=follow_ups,
            entities=extract_entities(masked, lang),
            disposition=self.disposition(articles),
        )

    def has_content(self, turns: Sequence[Turn], lang: str) -> bool:
        """Enough customer content to summarize (fillers and masked personal data do not count)."""
        sizes = [content_length(re.sub(r"\[[^\]]*\]", "", t.text), lang) for t in turns if t.speaker == "customer"]
        substantive = [n for n in sizes if n >= (4 if lang == "ja" else 2)]
        limit = self.min_customer_chars if lang == "ja" else max(3, self.min_customer_chars // 2)
        return len(substantive) >= self.min_customer_turns and sum(substantive) >= limit

    @staticmethod
    def _sentences(turns: Sequence[Turn], lang: str) -> list[_Sentence]:
        """Clauses of every turn, fillers stripped; the agent's opening greeting is left out."""
        out = []
        greeting = True
        for t in turns:
            greeting = greeting and t.speaker == "agent"
            if greeting:
                continue
            for raw in split_sentences(t.text, lang):
                for clause in split_clauses(raw, lang):
                    text = strip_fillers(clause, lang)
                    if content_length(text, lang) >= (3 if lang == "ja" else 2):
                        out.append(_Sentence(t.index, t.speaker, text, aspect(text, lang, t.speaker)))
        return out

    def _inquiry(self, sentences: list[_Sentence], articles: Sequence[ArticleRef], lang: str) -> list[NoteLine]:
        """The customer turn that states the request (its request sentences), plus the agent's restatement."""
        title_grams = set().union(*(_bigrams(a.title) for a in articles)) if articles else set()
        customer = [s for s in sentences if s.speaker == "customer" and not _IDENTITY[lang].search(s.text)]

        def score(s: _Sentence) -> float:
            return 2.0 * len(_REQUEST[lang].findall(s.text)) + len(_bigrams(s.text) & title_grams) / 4

        first = next((s for s in customer if score(s) >= 1.0), customer[0] if customer else None)
        if first is None:
            return []
        chosen = [s for s in customer if s.turn == first.turn and (score(s) > 0 or s is first)]
        lines = self._merge(chosen, lang)
        restated = next((s for s in sentences if s.turn > first.turn and s.speaker == "agent"), None)
        if lang == "ja" and restated is not None and _RESTATES.search(restated.text) \
                and _bigrams(restated.text) & _bigrams("".join(s.text for s in chosen)) - _POLITE_GRAMS:
            lines.append(NoteLine(text=restated.text, turns=[restated.turn]))
        return lines

    @staticmethod
    def _request_articles(inquiry: list[NoteLine], articles: Sequence[ArticleRef]) -> list[ArticleRef]:
        """The articles that answered the request turn; all of them when none is tied to it (or turns are
        unknown). Cards for a later "thank you" are not what the call was about."""
        request = {t for line in inquiry for t in line.turns}
        tied = [a for a in articles if a.turn is not None and a.turn in request]
        return (tied or list(articles))[:NAMED_ARTICLES]

    def _actions(self, sentences: list[_Sentence], lang: str) -> list[NoteLine]:
        """Done actions, then (marked as explanations) what the agent told the customer with a figure or
        a reason in it: 対応内容 in Japanese notes covers both."""
        done = [s for s in sentences if s.speaker == "agent" and s.aspect == "done"]
        explained = [
            s for s in sentences
            if s.speaker == "agent" and s.aspect == "other" and not _IDENTITY[lang].search(s.text)
            and (number_values(s.text, lang) or _EXPLAINS[lang].search(s.text)) and not _RESTATES.search(s.text)
        ]
        lines = self._merge(done, lang)[: self.max_lines]
        for line in self._merge(explained, lang)[:3]:
            lines.append(line.model_copy(update={"text": _LABELS[lang]["explained"] + line.text}))
        return lines

    def _follow_ups(self, sentences: list[_Sentence], lang: str) -> list[NoteLine]:
        picked: list[_Sentence] = []
        for i, s in enumerate(sentences):
            if s.aspect not in ("promise", "request"):
                continue
            strong = _STRONG_PROMISE[lang].search(s.text)
            if _IMMEDIATE[lang].search(s.text) and not strong:
                continue
            if s.aspect == "request" and _IDENTITY[lang].search(s.text) and not strong:
                continue
            if s.speaker == "agent" and s.aspect == "promise" and _done_later(s, sentences[i + 1:]):
                continue
            picked.append(s)
        lines = []
        for s in picked[-self.max_lines:]:
            to_customer = s.speaker == "customer" or s.aspect == "request"
            prefix = _LABELS[lang]["customer"] if to_customer else ""
            lines.append(NoteLine(text=prefix + s.text, turns=[s.turn]))
        return _dedupe(lines)

    @staticmethod
    def _result(
        sentences: list[_Sentence], actions: list[NoteLine], follow_ups: list[NoteLine], lang: str
    ) -> tuple[Outcome, NoteLine | None]:
        agent = [s for s in sentences if s.speaker == "agent" and s.aspect != "question"]
        for pattern, outcome in ((_ESCALATED, "escalated"), (_PENDING, "pending")):
            hit = next((s for s in reversed(agent) if pattern[lang].search(s.text)), None)
            if hit is not None:
                return outcome, NoteLine(text=hit.text, turns=[hit.turn])
        done = [a for a in actions if not a.text.startswith(_LABELS[lang]["explained"])]
        if done:
            return "resolved", done[-1].model_copy()
        if follow_ups:
            return "pending", follow_ups[0].model_copy()
        if actions:
            return "resolved", actions[-1].model_copy()
        return "unknown", None

    @staticmethod
    def disposition(articles: Sequence[ArticleRef]) -> str | None:
        categories = [a.category for a in articles if a.category]
        return Counter(categories).most_common(1)[0][0] if categories else None

    @staticmethod
    def _merge(sentences: Sequence[_Sentence], lang: str) -> list[NoteLine]:
        """Consecutive sentences of one turn become one line."""
        lines: list[NoteLine] = []
        joiner = "" if lang == "ja" else " "
        last_turn = None
        for s in sentences:
            if lines and s.turn == last_turn:
                lines[-1].text += joiner + s.text
            else:
                lines.append(NoteLine(text=s.text, turns=[s.turn]))
            last_turn = s.turn
        return _dedupe(lines)


def _done_later(promise: _Sentence, later: Sequence[_Sentence]) -> bool:
    """A promise the agent carried out on the call (解除いたします … 解除いたしました) is no follow-up."""
    grams = _bigrams(promise.text)
    return any(s.speaker == "agent" and s.aspect == "done" and len(grams & _bigrams(s.text)) >= 0.5 * len(grams)
               for s in later)


def _dedupe(lines: list[NoteLine]) -> list[NoteLine]:
    seen: set[str] = set()
    out = []
    for line in lines:
        key = re.sub(r"\W", "", line.text.lower())
        if key not in seen:
            seen.add(key)
            out.append(line)
    return out
