"""What the call is about: the articles its request turns pointed at, decaying as the talk moves on, and the
ones the agent's own words confirmed.

A single high-confidence top card is enough to draft a reply; a medium one is not, unless the call kept
coming back to that article (two request turns) or the agent already said what it says. Greetings, identity
answers and closings never reach here (``retrieval/turns.py`` gates them), so they cannot move the topic.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from retrieval.base import Hit

DECAY = 0.6  # evidence kept per later request turn: a topic two requests old weighs a third
RANK_SHARE = (1.0, 0.35, 0.15)  # how much of a turn's evidence goes to its 1st, 2nd and 3rd card
CONFIDENCE_WEIGHT = {"high": 1.0, "medium": 0.5, "low": 0.2}
SUPPORT = 0.9  # evidence at which a draft may cite the article
CONFIRM_BONUS = 0.5  # an agent turn that says what the article says
CONFIRM_MIN_SHARED = 3  # content bigrams an agent turn must share with the card …
CONFIRM_MIN_SHARE = 0.35  # … and the share of its own content bigrams they make up

_NOISE = re.compile(r"[\s\W_0-9０-９]+", re.UNICODE)
_POLITE = re.compile(r"いたします|致します|ございます|でございます|させていただきます|ください|ませ|ました|ます|です|"
                     r"お客様|かしこまりました|承知|ありがとう|申し訳|少々|お待ち")


def _content_bigrams(text: str) -> set[str]:
    """Character bigrams of the text's content: courtesy formulas and punctuation removed, so an agent's
    「カードを停止いたします」 is compared on カード and 停止, not on いたします."""
    text = _NOISE.sub(" ", _POLITE.sub(" ", unicodedata.normalize("NFKC", text).lower()))
    return {chunk[i:i + 2] for chunk in text.split() for i in range(len(chunk) - 1)}


@dataclass
class _Evidence:
    article_id: str
    title: str
    weight: float = 0.0
    terms: set[str] = field(default_factory=set)
    confirmed: bool = False
    first_turn: int | None = None


class TopicState:
    """Per call, on the event loop; cheap (set operations over a handful of articles)."""

    def __init__(self) -> None:
        self._articles: dict[str, _Evidence] = {}

    def observe_request(self, hits: Sequence[Hit], turn: int) -> None:
        """A request turn's cards: older evidence decays, this turn's cards add theirs by rank and band."""
        for evidence in self._articles.values():
            evidence.weight *= DECAY
        for share, hit in zip(RANK_SHARE, hits, strict=False):
            evidence = self._articles.get(hit.article_id)
            if evidence is None:
                evidence = self._articles[hit.article_id] = _Evidence(hit.article_id, hit.title, first_turn=turn)
            evidence.terms |= _content_bigrams(f"{hit.title} {hit.snippet}")
            evidence.weight += share * CONFIDENCE_WEIGHT.get(getattr(hit, "confidence", "low"), 0.2)

    def observe_agent(self, text: str) -> list[str]:
        """Articles the agent's turn confirms (it says what the card says); they gain evidence once."""
        said = _content_bigrams(text)
        confirmed = []
        for evidence in self._articles.values():
            shared = said & evidence.terms
            if len(shared) >= CONFIRM_MIN_SHARED and len(shared) >= CONFIRM_MIN_SHARE * len(said):
                if not evidence.confirmed:
                    evidence.weight += CONFIRM_BONUS
                    evidence.confirmed = True
                confirmed.append(evidence.article_id)
        return confirmed

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

    @staticmethod
    def _strongest(items: Iterable[_Evidence]) -> list[_Evidence]:
        return sorted(items, key=lambda e: -e.weight)
