"""What the call is about: the articles its request turns pointed at, decaying as the talk moves on, and the
ones the agent's own words confirmed.

A single high-confidence top card is enough to draft a reply; a medium one is not, unless the call kept
coming back to that article (two request turns) or the agent already said what it says. Greetings, identity
answers and closings never reach here (``retrieval/turns.py`` gates them), so they cannot move the topic.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass, field

from common.text_ja import tokenize
from retrieval.base import Hit
from summarize.base import ArticleRef

DECAY = 0.6  # evidence kept per later request turn: a topic two requests old weighs a third
RANK_SHARE = (1.0, 0.35, 0.15)  # how much of a turn's evidence goes to its 1st, 2nd and 3rd card
CONFIDENCE_WEIGHT = {"high": 1.0, "medium": 0.5, "low": 0.2}
_BANDS = ("high", "medium", "low")
SUPPORT = 0.9  # evidence at which a draft may cite the article
CONFIRM_BONUS = 0.5  # an agent turn that says what the article says
CONFIRM_MIN = 1.0  # content words an agent turn shares with the card it says most of (one all n cards have counts 1/n)
CONFIRM_LEAD = 2.0  # what the agent's turns said of a card beyond the next best card, summed, to confirm it

_EN_WORD = re.compile(r"[a-z][a-z']+")
_EN_STOP = frozenset({  # words of three letters or more that name no topic (shorter ones never count)
    "the", "and", "for", "are", "was", "were", "you", "your", "our", "with", "this", "that", "have", "has", "had",
    "can", "could", "will", "would", "just", "from", "about", "not", "there", "get", "got", "please", "it's", "i'm",
    "i've", "we've", "we'll", "you're", "any", "all", "yes", "thanks", "thank", "sorry", "let", "check", "one",
    "what", "how", "when", "which", "also", "once", "then", "them", "they", "their", "its", "did", "does",
})
# Words of the call's own business (verifying who calls, courtesy, "I will check"): every card shares them
_TALK = frozenset({"名前", "生年月日", "電話", "電話番号", "番号", "本人", "本人確認", "確認", "登録", "願う", "承る", "調べる",
                   "連絡", "手続き", "失礼", "心配", "不便", "掛ける", "待つ", "取れる", "申し訳", "有り難い", "案内", "新しい"})
_CONTENT_POS = {"名詞", "動詞", "形容詞", "形状詞"}
_FUNCTION_SUBPOS = {"数詞", "非自立可能", "助数詞可能", "副詞可能"}


def _terms(text: str) -> set[str]:
    """Content words of a text, compared between an agent's turn and a card: SudachiPy normalized forms (引落し =
    引き落とし) of nouns, verbs and adjectives for Japanese, crude stems for English; numbers, counters, courtesy
    and the words of verifying a caller carry no topic."""
    text = unicodedata.normalize("NFKC", text)
    if text.isascii():
        words = (w.strip("'") for w in _EN_WORD.findall(text.lower()))
        return {w[:-1] if len(w) > 4 and w.endswith("s") else w for w in words if len(w) > 2 and w not in _EN_STOP}
    out = set()
    for m in tokenize(text[:2000]):
        pos = m.part_of_speech()
        word = m.normalized_form()
        if pos[0] in _CONTENT_POS and not _FUNCTION_SUBPOS & {pos[1], pos[2]} and word not in _TALK:
            out.add(word.lower())
    return out


@dataclass
class _Evidence:
    article_id: str
    title: str
    weight: float = 0.0
    terms: set[str] = field(default_factory=set)
    confirmed: bool = False
    first_turn: int | None = None
    category: str | None = None
    confidence: str = "low"  # the best band it came up with
    lead: float = 0.0  # how much more of it than of the other cards the agent's turns said, summed


class TopicState:
    """Per call, on the event loop; cheap (one SudachiPy pass per text, set operations over a handful of cards)."""

    def __init__(self) -> None:
        self._articles: dict[str, _Evidence] = {}
        self._current: _Evidence | None = None  # the top card of the latest request turn whose cards were shown

    def observe_request(self, hits: Sequence[Hit], turn: int) -> None:
        """A request turn's cards: older evidence decays, this turn's cards add theirs by rank and band."""
        for older in self._articles.values():
            older.weight *= DECAY
        for share, hit in zip(RANK_SHARE, hits, strict=False):
            evidence = self._articles.get(hit.article_id)
            if evidence is None:
                evidence = self._articles[hit.article_id] = _Evidence(hit.article_id, hit.title, first_turn=turn,
                                                                      category=hit.category)
            if _BANDS.index(hit.confidence) < _BANDS.index(evidence.confidence):
                evidence.confidence = hit.confidence
            evidence.terms |= _terms(f"{hit.title} {hit.snippet}")
            evidence.weight += share * CONFIDENCE_WEIGHT.get(hit.confidence, 0.2)
        if hits:
            self._current = self._articles[hits[0].article_id]

    def keeps_cards(self, hits: Sequence[Hit], shown: Container[str], *, new_topic: bool) -> bool:
        """Whether a request turn's cards should leave the call's cards on screen instead of replacing them.

        Follow-ups within a topic (いつ届くんですか, カードとかは作り直しですか, "when do I get my money back?") ask
        about what the agent is already handling; searched, they bring up neighbours of the topic's article or
        weak guesses, and pushed, those would bury the good card. So once a topic is on screen a turn keeps it when
        its top article is already shown (unless a card it would add is high), or when it is a follow-up (no
        opener such as あと/それと/そういえば/"also") whose top card is not high or shares the topic's category. A
        turn that opens a topic switches unless its top card is the topic's own; a high card of another category
        switches as before; the call's first request always pushes."""
        if self._current is None or not hits:
            return False
        top = hits[0]
        if new_topic and top.article_id != self._current.article_id:
            return False  # a request the caller opened as another one takes the top slot, even from the 2nd card
        if top.article_id in shown:
            fresh = next((h for h in hits if h.article_id not in shown), None)
            return fresh is None or fresh.confidence != "high"
        if new_topic:
            return False
        return top.confidence != "high" or (top.category is not None and top.category == self._current.category)

    def observe_agent(self, text: str) -> list[str]:
        """Articles the agent's turns confirm: each turn credits the card shown in the call whose content words it
        says most, by how much more than the next card (a word all the cards share counts little); a card whose
        credit reaches ``CONFIRM_LEAD`` is confirmed and gains evidence once. Summed over turns, so two turns
        that each lean to the card (ASR drops a word or two of every turn) confirm it as one clear turn does."""
        said = _terms(text)
        shared = {aid: said & e.terms for aid, e in self._articles.items()}
        counts = Counter(t for terms in shared.values() for t in terms)
        scores = sorted(((sum(1 / counts[t] for t in terms), aid) for aid, terms in shared.items()), reverse=True)
        if not scores:
            return []
        best, article_id = scores[0]
        runner_up = scores[1][0] if len(scores) > 1 else 0.0
        evidence = self._articles[article_id]
        if best >= CONFIRM_MIN - 1e-9:
            evidence.lead += best - runner_up
        if evidence.lead < CONFIRM_LEAD - 1e-9:
            return []
        if not evidence.confirmed:
            evidence.weight += CONFIRM_BONUS
            evidence.confirmed = True
        return [article_id]

    def supports(self, article_id: str) -> bool:
        """The article carries enough evidence and no other article of the call carries more."""
        evidence = self._articles.get(article_id)
        if evidence is None or evidence.weight < SUPPORT - 1e-9:
            return False
        return all(other.weight <= evidence.weight + 1e-9 for other in self._articles.values())

    def weight(self, article_id: str) -> float:
        evidence = self._articles.get(article_id)
        return 0.0 if evidence is None else evidence.weight

    def confirmed(self) -> list[str]:
        """Articles the agent's turns confirmed, strongest first."""
        return [e.article_id for e in self._strongest(e for e in self._articles.values() if e.confirmed)]

    def confirmed_refs(self) -> list[ArticleRef]:
        """The confirmed articles as the notes take them, tied to the request turn they first came up for: a
        second or third card the agent's words picked counts as much as a top card."""
        return [ArticleRef(e.article_id, e.title, e.category, turn=e.first_turn, confidence=e.confidence,
                           confirmed=True) for e in self._strongest(e for e in self._articles.values() if e.confirmed)]

    @staticmethod
    def _strongest(items: Iterable[_Evidence]) -> list[_Evidence]:
        return sorted(items, key=lambda e: -e.weight)
