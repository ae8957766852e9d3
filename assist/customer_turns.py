"""A customer's turn as the live search sees it: every final of one turn, however many pauses split it.

The recognizer cuts a final at a short pause (``asr.endpointing_ms``, 400 ms), so a caller who stops mid-sentence
(「…全然知らないネットのゲーム会社から、4、」 | 「980円の請求が来てるんですよ。使ってないのに。」) arrives as several
finals. Searched one by one, the last fragment's cards replace the first's and the turn's whole request is never
searched, nor shown when its best card was already on screen at a lower rank. Here the finals of one turn are
searched together: a final continues the open turn when the turn's last final was left unfinished (no 。?! at its
end: Whisper ends a sentence it heard end, and a fragment cut by a pause ends in 、 or nothing), no agent words
came in between (a backchannel such as 「はい」 does not count), its pause is under ``join_gap_s``, and it does not
open a topic of its own (あと…, "also"). A final whose turn already holds a later final is not searched at all: the
later search covers it.

A caller also tells one request over two finished sentences (「来月札幌に転勤になりまして。」 |
「今の部屋の電気とガスを止めたいんですけど。」): they are two turns, but the second is said ``after`` the first in
one run (same conditions, a finished sentence between), so its search refines the cards the first put on screen
(``refines``) instead of being read as a follow-up the topic's cards are kept against.

The notes read finals one by one too: an amount the pause cut (「…から、4、」 | 「980円の請求が…」) would be stated as
980円, so ``rejoin_amounts`` moves its first digit group into the next final of the same speaker first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from asr.numerals import rejoin_split
from common.openers import opens_new_topic
from retrieval.query import has_content
from retrieval.turns import TurnKind, classify_turn, should_query
from summarize.base import Turn

_FINISHED = re.compile(r"[。．.?？!！][」』）)\"'\s]*$")

_AMOUNT = re.compile(r"\s*[\d,]+")

_ASKING = frozenset({TurnKind.REQUEST, TurnKind.COMPLAINT, TurnKind.ANSWER})

DEFAULT_JOIN_GAP_S = 2.0
"""Longest pause inside one turn (``retrieval.join_gap_s``); see docs/QUALITY.md for the dev figures."""


@dataclass
class CustomerFinal:
    utterance_id: str
    text: str
    speech_end: float  # monotonic time the speech ended
    turn: int  # its index among the call's turns
    start: float = 0.0  # audio seconds of the leg
    end: float = 0.0
    redacted: list[tuple[str, str]] = field(default_factory=list)  # (raw, label) masked after the fact
    prompt: str | None = None  # the agent's last turn before it: a reply to its question asks nothing new
    group: CustomerTurn | None = None
    kind: TurnKind | None = None  # this final alone, as the turn gate reads it (``kind_of``)

    def kind_of(self, language: str) -> TurnKind:
        if self.kind is None:
            self.kind = classify_turn(self.text, language, prompt=self.prompt)
        return self.kind


@dataclass(eq=False)
class CustomerTurn:
    """The finals of one customer turn, in order; texts are read when needed, so a redaction reaches them."""

    language: str
    finals: list[CustomerFinal] = field(default_factory=list)
    pushed: bool = False  # cards went on screen for it: a later final refines them instead of being a follow-up
    matched: str | None = None  # the top article it added to the notes' 用件 (a later final may replace it)
    after: CustomerTurn | None = None  # the turn the customer said just before, with no agent words or long pause

    def text(self, upto: CustomerFinal | None = None) -> str:
        """What the turn asks, up to ``upto``: its finals but those the gate reads as a greeting, an identity
        answer or a closing (「山田花子です、」 | 「カードをなくしたんですが」 searches the second alone)."""
        finals = self.finals if upto is None else self.finals[: self.finals.index(upto) + 1]
        sep = "" if self.language == "ja" else " "
        return sep.join(f.text.strip() for f in finals if f.text.strip() and f.kind_of(self.language) in _ASKING)

    def first_asking(self, upto: CustomerFinal) -> CustomerFinal:
        """Where the turn's request starts (the notes tie its article to that final)."""
        finals = self.finals[: self.finals.index(upto) + 1]
        return next((f for f in finals if f.kind_of(self.language) in _ASKING), upto)

    def superseded(self, final: CustomerFinal) -> bool:
        """A later final of this turn that asks something is already here: its search covers this one."""
        later = self.finals[self.finals.index(final) + 1:]
        return any(should_query(f.kind_of(self.language)) for f in later)

    def redactions(self) -> list[tuple[str, str]]:
        return [r for f in self.finals for r in f.redacted]

    def refines(self) -> bool:
        """Cards already went on screen for this turn or for one the customer said just before it without the
        agent speaking: its search refines what the customer is still explaining, no follow-up to keep off."""
        turn: CustomerTurn | None = self
        while turn is not None:
            if turn.pushed:
                return True
            turn = turn.after
        return False


def finished(text: str) -> bool:
    """The final ends a sentence (。?!), not a phrase cut by a pause."""
    return bool(_FINISHED.search(text.strip()))


class TurnAssembler:
    """Per call, on the event loop: which customer turn a final belongs to."""

    def __init__(self, join_gap_s: float = DEFAULT_JOIN_GAP_S) -> None:
        self.join_gap_s = join_gap_s
        self._open: CustomerTurn | None = None

    def customer(self, final: CustomerFinal, language: str) -> CustomerTurn:
        """The turn ``final`` belongs to (the open one, or a new one); ``final.group`` is set."""
        turn = self._open
        last = turn.finals[-1] if turn is not None and turn.finals else None
        continues = (turn is not None and last is not None and turn.language == language and self.join_gap_s > 0
                     and final.start - last.end <= self.join_gap_s and not opens_new_topic(final.text))
        if turn is None or last is None or not continues or finished(last.text):
            turn = self._open = CustomerTurn(language, after=turn if continues else None)
        turn.finals.append(final)
        final.group = turn
        return turn

    def agent(self, text: str) -> None:
        """Agent words close the customer's turn; a backchannel (はい, ええ, "okay") leaves it open."""
        if has_content(text):
            self._open = None


def rejoin_amounts(turns: list[Turn], join_gap_s: float = DEFAULT_JOIN_GAP_S) -> list[Turn]:
    """The call's finals with every amount a pause cut across two finals of one speaker read whole
    (``asr.numerals.rejoin_split``); an uncertain span over the moved digits marks the whole amount."""
    out = list(turns)
    for i in range(1, len(out)):
        before, after = out[i - 1], out[i]
        if before.speaker != after.speaker or (before.end is not None and after.start is not None
                                               and after.start - before.end > join_gap_s):
            continue
        split = rejoin_split(before.text, after.text)
        if split is None:
            continue
        head, tail = split
        moved = len(tail) - len(after.text)  # the digits and comma put in front
        cut = len(head)
        unsure = [(a + moved, b + moved) for a, b in after.uncertain]
        if any(b > cut for _, b in before.uncertain):  # the recognizer was unsure of the digits that moved
            unsure.insert(0, (0, len(_AMOUNT.match(tail).group(0))))  # type: ignore[union-attr]
        out[i - 1] = replace(before, text=head, uncertain=tuple((a, b) for a, b in before.uncertain if b <= cut))
        out[i] = replace(after, text=tail, uncertain=tuple(unsure))
    return out
