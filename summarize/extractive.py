"""The default summarizer: grounded extraction, deterministic, about a tenth of a second per call.

No bundled generative model writes trustworthy Japanese notes on a CPU (docs/ARCHITECTURE.md), so the
default picks the call's own sentences: the customer's request (用件), what the agent reports as done
(対応内容), what was promised or asked for (次回対応), and the outcome (結果), each linked to its turns. A call
with several requests (a lost card, then a payment change) gets a 用件 line for each, its handling in call
order and a result per request (``CallNotes.requests``).
Text is masked first by the service's ``Masker`` (numbers split across a speaker's turns included) and
cleaned of fillers; the fact check runs last, as for every backend.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from common.openers import starts_new_topic
from common.text_ja import bigrams, strip_sentence_fillers
from retrieval.turns import TurnKind, classify_turn, should_query
from summarize.base import ArticleRef, Turn
from summarize.entities import extract_entities
from summarize.factcheck import fact_check
from summarize.masking import Masker
from summarize.notes import CallNotes, NoteLine, Outcome, RequestNote
from summarize.numbers import number_values
from summarize.text import Aspect, aspect, content_length, split_clauses, split_sentences
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
_EXPLAINS = {  # reasons, conditions and states the agent told the customer (立ち会いは不要です, it shipped)
    "ja": re.compile(r"により|によって|のため|ため、|原因|理由|加え|必要|不要|対象|無料|できません|使えません|かかりません|"
                     r"いただけません|発送|出荷|到着"),
    "en": re.compile(r"\b(?:because|due to|caused by|since|reason|required|no need|free|eligible|only|can't|cannot|"
                     r"won't|shipped|delivered|tracking number|in transit|on its way)\b", re.IGNORECASE),
}
# What a customer says before the request itself (ちょっと聞きたいことがあって, "I have a quick question").
_PREAMBLE = {
    "ja": (re.compile(r"もしもし|すみません|すいません|ちょっと|あの|えっと|実は|[、。,.\s]"),
           re.compile(r"(?:(?:お?聞き|伺い|お伺い|確認|相談|質問|問い合わせ|お願い)したい|聞きたい|教えてほしい|"
                      r"教えていただきたい)(?:こと|ん|の|事)(?:が|で)?(?:あって|ありまして|ございまして|あるんです(?:けど|が)?|"
                      r"です(?:が|けど)?|なんです(?:が|けど)?)?|(?:質問|相談|お願い)が(?:あって|ありまして|あるんです(?:けど|が)?)")),
    "en": (re.compile(r"\b(?:hi|hello|hey|so|um+|uh+|yeah|well)\b|[,.!?\s]", re.IGNORECASE),
           re.compile(r"(?:ihave|i'vegot|igot)(?:a|one|some)(?:quick|small)?questions?|ineed(?:some)?help(?:withsomething)?|"
                      r"quickquestion|canyouhelpme|iwashopingyoucouldhelp(?:me)?", re.IGNORECASE)),
}
# A request the customer adds to the one under way (商品券に替えたいです) joins its 用件 line.
_WANTS = {
    "ja": re.compile(r"たい|ほしい|欲しい|ください|てもらえ|ていただけ|お願いでき"),
    "en": re.compile(r"^(?!(?:do|does|did|will|when|how|what|where|is|are)\b).*\b(?:i'd like|i would like|i want|"
                     r"i need to|can you|could you|would you|please)\b", re.IGNORECASE),  # "Do I need to …?" asks
}
# Courtesy that reads like a request or a promise but asks and promises nothing.
_COURTESY = {
    "ja": re.compile(r"お気をつけ|ご安心ください|お大事に|ごゆっくり|よろしくお願い"),
    "en": re.compile(r"\b(?:take care|have a (?:nice|good|great) (?:day|evening|trip|weekend)|enjoy (?:your|the))\b",
                     re.IGNORECASE),
}
_RESTATES = re.compile(r"(?:ですね|でございますね)。?$")
# The agent's question a request may answer: "anything else?" invites one; any other question gets an answer.
_ANYTHING_ELSE = {
    "ja": re.compile(r"ほかに|他に|ほかの|他の|以上|何かございます|なにかございます"),
    "en": re.compile(r"\b(?:anything else|something else|other questions?|else (?:can|could) I)\b", re.IGNORECASE),
}
_SEVERITY = {"unknown": 0, "resolved": 1, "pending": 2, "escalated": 3}
NEW_REQUEST_CUES = 2  # request cues a later turn needs, without an article or an opener, to be a new request …
NEW_REQUEST_OVERLAP = 0.25  # … and the most of its content bigrams the earlier requests may share
_PENDING = {
    "ja": re.compile(r"折り返し|確認のうえ|確認の上|確認して|調査|後日|改めて|お調べして|確認でき次第"),
    "en": re.compile(r"\b(?:call you back|get back to you|investigat\w*|look into|follow up|contact you)\b",
                     re.IGNORECASE),
}


def _bigrams(text: str) -> set[str]:
    return set(bigrams(re.sub(r"\W", "", text.lower())))


_CONTENT_CHAR = re.compile(r"[\u4e00-\u9fff\u30a1-\u30faA-Za-z0-9]")  # kanji, katakana, Latin, digits
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
        requests = self._requests(sentences, masked, articles, lang)
        starts = [r[0].turn for r in requests] or [0]
        last = max((t.index for t in masked), default=0)
        spans = [(0 if i == 0 else start, (starts[i + 1] - 1) if i + 1 < len(starts) else last)
                 for i, start in enumerate(starts)]
        # each request's handling, in call order: its done actions, what was explained, what was promised
        parts = [(self._actions(sentences, lang, span), self._follow_ups(sentences, lang, span)) for span in spans]
        inquiry: list[NoteLine] = []
        for chosen in requests:
            inquiry.extend(self._inquiry(chosen, sentences, lang))
        inquiry = _dedupe(inquiry)
        actions = _dedupe([line for done, _ in parts for line in done], inquiry)
        follow_ups = _dedupe([line for _, later in parts for line in later], inquiry + actions)
        result, result_line = self._result(sentences, actions, follow_ups, lang)
        querying = {t.index for t in masked if t.speaker == "customer" and should_query(classify_turn(t.text, lang))}
        named = self._request_articles(starts[0] if requests else None, querying, articles)
        if named and inquiry:
            titles = _LABELS[lang]["sep"].join(dict.fromkeys(a.title for a in named))
            tied = sorted({a.turn for a in named if a.turn is not None}) or [inquiry[0].turns[0]]
            inquiry.append(NoteLine(text=_LABELS[lang]["articles"] + titles, turns=tied))
        notes_requests: list[RequestNote] = []
        results: list[tuple[Outcome, NoteLine | None]] = []
        for chosen, (lo, hi), (done, later) in zip(requests, spans, parts, strict=False):
            results.append(self._result([s for s in sentences if lo <= s.turn <= hi], done, later, lang))
            ids = dict.fromkeys(a.article_id for a in named if a.turn is not None and lo <= a.turn <= hi)
            notes_requests.append(RequestNote(turn=chosen[0].turn, until=hi, result=results[-1][0],
                                              articles=list(ids)))
        if len(results) > 1:  # the call is as settled as its least settled request; an action done shows it best
            worst = max(_SEVERITY[outcome] for outcome, _ in results)
            least = [(o, line) for o, line in results if _SEVERITY[o] == worst]
            explained = _LABELS[lang]["explained"]
            result, result_line = next((r for r in reversed(least) if r[1] and not r[1].text.startswith(explained)),
                                       least[-1])
        return CallNotes(
            language=lang,
            backend=self.name,
            inquiry=inquiry,
            actions=actions,
            result=result,
            result_line=result_line,
            follow_ups=follow_ups,
            entities=extract_entities(masked, lang),
            requests=notes_requests,
            disposition=self.disposition(named),
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
                    text = strip_sentence_fillers(clause, lang)
                    if content_length(text, lang) >= (3 if lang == "ja" else 2):
                        out.append(_Sentence(t.index, t.speaker, text, aspect(text, lang, t.speaker)))
        return out

    def _requests(self, sentences: list[_Sentence], turns: Sequence[Turn], articles: Sequence[ArticleRef],
                  lang: str) -> list[list[_Sentence]]:
        """Each distinct request's sentences (the customer's words stating it), in call order.

        The first is the first customer turn that asks for something, as before. A later turn the turn
        classifier would search for (no closing, no identity answer) is another request when the service
        matched it an article no earlier request had (and the agent's turns did not leave it unconfirmed), or
        when it asks plainly (``NEW_REQUEST_CUES``) about what the earlier requests did not mention, or opens
        with あと / それと / "also" and asks. A follow-up question on the same matter (いつ届きますか) is none; a
        later turn that asks for more of the request under way (それを25センチにしてほしいんです) joins it."""
        title_grams = {g for a in articles for g in _bigrams(a.title) if _CONTENT_CHAR.search(g)}  # not った, のご
        customer = [s for s in sentences if s.speaker == "customer" and not _IDENTITY[lang].search(s.text)]

        def score(s: _Sentence) -> float:
            if _is_preamble(s.text, lang):
                return 0.0
            return 2.0 * len(_REQUEST[lang].findall(s.text)) + len(_bigrams(s.text) & title_grams) / 4

        stated = [s for s in customer if not _is_preamble(s.text, lang)] or customer
        first = next((s for s in customer if score(s) >= 1.0), stated[0] if stated else None)
        if first is None:
            return []
        requests = [[s for s in customer if s.turn == first.turn and (score(s) > 0 or s is first)]]
        said = set().union(*(_bigrams(s.text) for s in requests[0]))
        seen = {a.article_id for a in articles if a.turn is not None and a.turn <= first.turn}
        text_of = {t.index: t.text for t in turns}
        # the turn classifier already left identity answers out: a later request may name an address to change
        for turn in sorted({s.turn for s in sentences if s.speaker == "customer" and s.turn > first.turn}):
            own = [s for s in sentences if s.speaker == "customer" and s.turn == turn]
            tied = {a.article_id for a in articles if a.turn == turn and _trusted(a)}
            if not should_query(classify_turn(text_of.get(turn, ""), lang)):
                continue
            cues = sum(len(_REQUEST[lang].findall(s.text)) for s in own)
            grams = set().union(*(_bigrams(s.text) for s in own)) - _POLITE_GRAMS
            fresh = bool(grams) and len(grams & said) < NEW_REQUEST_OVERLAP * len(grams)
            asked = next((s for s in reversed(sentences) if s.turn < turn and s.speaker == "agent"), None)
            answers = asked is not None and asked.aspect == "question" and asked.turn == turn - 1 \
                and not _ANYTHING_ELSE[lang].search(asked.text)  # どちらでのご利用でしょうか → an answer, no request
            opens = bool(cues) and starts_new_topic(own[0].text)
            if opens or (not answers and ((tied - seen) or (cues >= NEW_REQUEST_CUES and fresh))):
                requests.append([s for s in own if score(s) > 0] or own[:1])
                said |= grams
            else:  # more of the request under way: それを25センチにしてほしいんです
                requests[-1].extend(s for s in own if _WANTS[lang].search(s.text) and score(s) > 0)
            seen |= tied
        return requests

    def _inquiry(self, chosen: list[_Sentence], sentences: list[_Sentence], lang: str) -> list[NoteLine]:
        """One request's 用件 line (the sentences stating it, of its turn and of later turns adding to it), plus
        the agent's restatement."""
        joiner = "" if lang == "ja" else " "
        lines = [NoteLine(text=joiner.join(s.text for s in chosen), turns=list(dict.fromkeys(s.turn for s in chosen)))]
        turn = chosen[0].turn
        restated = next((s for s in sentences if s.turn > turn and s.speaker == "agent"), None)
        if lang == "ja" and restated is not None and _RESTATES.search(restated.text) \
                and _bigrams(restated.text) & _bigrams("".join(s.text for s in chosen)) - _POLITE_GRAMS:
            lines.append(NoteLine(text=restated.text, turns=[restated.turn]))
        return lines

    @staticmethod
    def _request_articles(first: int | None, querying: set[int], articles: Sequence[ArticleRef]) -> list[ArticleRef]:
        """The 該当FAQ articles: those matched for the call's request turns (from the first request on), in call
        order, leaving out any the agent's turns did not confirm (when known; unknown: any below ``high``).
        With no turns known, every such article. Cards for a "thank you" or a birth date are not what the call
        was about."""
        trusted = [a for a in articles if _trusted(a)]
        tied = sorted((a for a in trusted if a.turn is not None and a.turn in querying
                       and (first is None or a.turn >= first)), key=lambda a: a.turn or 0)
        return (tied or [a for a in trusted if a.turn is None])[:NAMED_ARTICLES]

    def _actions(self, sentences: list[_Sentence], lang: str, span: tuple[int, int] | None = None) -> list[NoteLine]:
        """Done actions, then (marked as explanations) what the agent told the customer with a figure or
        a reason in it: 対応内容 in Japanese notes covers both. ``span``: only these turns (one request's)."""
        if span is not None:
            sentences = [s for s in sentences if span[0] <= s.turn <= span[1]]
        done = [s for s in sentences if s.speaker == "agent" and s.aspect == "done"]
        explained = [
            s for s in sentences
            if s.speaker == "agent" and s.aspect == "other" and not _RESTATES.search(s.text)
            and (_EXPLAINS[lang].search(s.text) or (number_values(s.text, lang) and not _IDENTITY[lang].search(s.text)))
        ]  # a reason or a state may name the e-mail it went to; a figure beside an identity word is identity data
        lines = self._merge(done, lang)[: self.max_lines]
        for line in self._merge(explained, lang)[:3]:
            lines.append(line.model_copy(update={"text": _LABELS[lang]["explained"] + line.text}))
        return lines

    def _follow_ups(self, sentences: list[_Sentence], lang: str, span: tuple[int, int] | None = None
                    ) -> list[NoteLine]:
        picked: list[_Sentence] = []
        for i, s in enumerate(sentences):
            if s.aspect not in ("promise", "request"):
                continue
            if span is not None and not span[0] <= s.turn <= span[1]:
                continue
            strong = _STRONG_PROMISE[lang].search(s.text)
            if _IMMEDIATE[lang].search(s.text) and not strong:
                continue
            if s.aspect == "request" and _IDENTITY[lang].search(s.text) and not strong:
                continue
            if s.speaker == "agent" and s.aspect == "promise" and _done_later(s, sentences[i + 1:]):
                continue
            if _COURTESY[lang].search(s.text) and not strong:
                continue
            if s.speaker == "customer" and content_length(s.text, lang) <= (5 if lang == "ja" else 2) \
                    and classify_turn(s.text, lang) in (TurnKind.CLOSING, TurnKind.GREETING):
                continue  # 助かります, 失礼します
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
        cases: tuple[tuple[dict[str, re.Pattern[str]], Outcome], ...] = ((_ESCALATED, "escalated"), (_PENDING, "pending"))
        for pattern, outcome in cases:
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


def _is_preamble(text: str, lang: str) -> bool:
    """The sentence only announces a request to come (ちょっと聞きたいことがあって)."""
    noise, preamble = _PREAMBLE[lang]
    return bool(preamble.fullmatch(noise.sub("", text)))


def _trusted(article: ArticleRef) -> bool:
    """Confirmed by the agent's turns (any band: the agent said what it says), or, confirmation unknown, not
    known to have come up below ``high``."""
    return article.confirmed is True or (article.confirmed is None and article.confidence in (None, "high"))


def _done_later(promise: _Sentence, later: Sequence[_Sentence]) -> bool:
    """A promise the agent carried out on the call (解除いたします … 解除いたしました) is no follow-up."""
    grams = _bigrams(promise.text)
    return any(s.speaker == "agent" and s.aspect == "done" and len(grams & _bigrams(s.text)) >= 0.5 * len(grams)
               for s in later)


def _dedupe(lines: list[NoteLine], earlier: Sequence[NoteLine] = ()) -> list[NoteLine]:
    """Each text once, and none already in ``earlier`` (another section): nothing is listed twice."""
    seen = {re.sub(r"\W", "", line.text.lower()) for line in earlier}
    out = []
    for line in lines:
        key = re.sub(r"\W", "", line.text.lower())
        if key not in seen:
            seen.add(key)
            out.append(line)
    return out
