"""The one masker of a process: the configured kinds, the rule for partials, the rolling window over finals.

``Masker`` is built once from settings ``privacy.mask_entities`` (``assist.services.Services``) and handed to
every masking point: live transcripts, reply drafts, call metadata, the summarizers, log redaction. It is
callable as ``mask(text, language)``, the shape ``Pipeline.mask`` has always had.

Speech breaks numbers apart. With 400 ms endpointing a caller pausing in a card number gives two finals
(「カード番号は4532 0151」, 「1283 0366です」), and neither half is a card number. So each leg keeps a
``LegWindow`` over its last few finals: number-bearing kinds (card, phone, マイナンバー) are also looked for in
the finals joined together, and a match that crosses finals masks its piece of the current final *and*
yields a ``Correction`` for each earlier final it reached into, for the caller to re-send and re-store.
A partial cannot wait for the rest of a number, so partials also lose every run of ≥ 4 digits.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Sequence
from dataclasses import dataclass, field, replace

from summarize.base import Turn
from summarize.pii import ENTITIES, apply_spans, find_pii, label, number_runs

NUMBER_KINDS = frozenset({"card", "phone", "mynumber"})
PARTIAL_MIN_DIGITS = 4
"""Partials: every run of this many digits or more is masked, whatever it is."""

_Span = tuple[int, int, str]


@dataclass(frozen=True, slots=True)
class Correction:
    """An earlier final that a number read across finals reached into: its new masked ``text``, and the
    ``(raw piece, label)`` pairs now masked in it (to scrub other copies of that text, e.g. a search query)."""

    key: Hashable
    text: str
    fragments: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class WindowResult:
    text: str
    corrections: tuple[Correction, ...] = ()


class Masker:
    """Masks the configured kinds of personal data; see the module docstring for what runs where."""

    def __init__(self, entities: Collection[str] | None = None, *, window_finals: int = 3,
                 window_s: float = 20.0) -> None:
        kinds = ENTITIES if entities is None else frozenset(entities)
        unknown = kinds - ENTITIES
        if unknown:
            raise ValueError(f"unknown PII kinds {sorted(unknown)}; expected some of {sorted(ENTITIES)}")
        if window_finals < 1 or window_s <= 0:
            raise ValueError("the rolling window needs at least one final and a positive duration")
        self.entities: frozenset[str] = kinds
        self.numbers: frozenset[str] = kinds & NUMBER_KINDS
        self.window_finals = window_finals
        self.window_s = window_s

    def __call__(self, text: str, language: str) -> str:
        return self.mask(text, language)

    def __repr__(self) -> str:
        return f"Masker({sorted(self.entities)})"

    def mask(self, text: str, language: str, extra: Sequence[_Span] = ()) -> str:
        """``text`` with the configured kinds (and any ``extra`` spans) replaced by labels."""
        if not self.entities:
            return text
        return apply_spans(text, [*find_pii(text, language, self.entities), *extra], language)

    def mask_partial(self, text: str, language: str) -> str:
        """A partial transcript: ``mask`` plus every run of ≥ ``PARTIAL_MIN_DIGITS`` digits, in any spelling
        (「カード番号は4532 0151 1283」 is not yet a card number, but will be). Applies while any
        number-bearing kind is configured."""
        if not self.numbers:
            return self.mask(text, language)
        return self.mask(text, language, number_runs(text, PARTIAL_MIN_DIGITS))

    def window(self) -> LegWindow:
        """A rolling window for one leg's finals."""
        return LegWindow(self)

    def mask_turns(self, turns: Sequence[Turn], language: str) -> list[Turn]:
        """Every turn masked, through one window per speaker: a number split across a speaker's consecutive
        turns is masked in each of them, as the live session does (the summarizers' input)."""
        out = list(turns)
        windows: dict[str, LegWindow] = {}
        for n, turn in enumerate(turns):
            window = windows.get(turn.speaker) or windows.setdefault(turn.speaker, self.window())
            result = window.push(n, turn.text, language, at=turn.end)
            out[n] = replace(turn, text=result.text)
            for c in result.corrections:
                out[int(c.key)] = replace(out[int(c.key)], text=c.text)  # type: ignore[call-overload]
        return out


@dataclass(slots=True)
class _Piece:
    key: Hashable
    raw: str
    language: str
    at: float | None
    masked: str = ""
    extra: list[_Span] = field(default_factory=list)


class LegWindow:
    """One leg's last ``window_finals`` finals within ``window_s`` seconds, unmasked, in memory only."""

    def __init__(self, masker: Masker) -> None:
        self.masker = masker
        self._pieces: list[_Piece] = []

    def push(self, key: Hashable, text: str, language: str, *, at: float | None = None) -> WindowResult:
        """Mask the final ``text`` (identified by ``key``, ending at time ``at``) in the light of the ones
        before it; ``corrections`` name the earlier finals whose masked text changed."""
        masker = self.masker
        if at is not None:
            self._pieces = [p for p in self._pieces if p.at is None or at - p.at <= masker.window_s]
        piece = _Piece(key, text, language, at)
        pieces = [*self._pieces, piece]
        crossing = self._crossing(pieces, language) if masker.numbers and len(pieces) > 1 else {}
        piece.extra = crossing.pop(len(pieces) - 1, [])
        piece.masked = masker.mask(text, language, piece.extra)
        corrections = []
        for i, spans in crossing.items():
            earlier = pieces[i]
            new = [s for s in spans if s not in earlier.extra]
            if not new:
                continue
            earlier.extra.extend(new)
            masked = masker.mask(earlier.raw, earlier.language, earlier.extra)
            if masked != earlier.masked:
                earlier.masked = masked
                fragments = tuple((earlier.raw[a:b], label(k, earlier.language)) for a, b, k in new)
                corrections.append(Correction(earlier.key, masked, fragments))
        self._pieces = pieces[-(masker.window_finals - 1):] if masker.window_finals > 1 else []
        return WindowResult(piece.masked, tuple(corrections))

    def _crossing(self, pieces: list[_Piece], language: str) -> dict[int, list[_Span]]:
        """Number spans found in the pieces joined by spaces that reach over a join, cut per piece."""
        offsets = []
        pos = 0
        for p in pieces:
            offsets.append(pos)
            pos += len(p.raw) + 1
        joined = " ".join(p.raw for p in pieces)
        cut: dict[int, list[_Span]] = {}
        for start, end, kind in find_pii(joined, language, self.masker.numbers):
            touched = [i for i, (off, p) in enumerate(zip(offsets, pieces, strict=True))
                       if start < off + len(p.raw) and end > off]
            if len(touched) < 2:
                continue
            for i in touched:
                off, size = offsets[i], len(pieces[i].raw)
                a, b = max(start, off) - off, min(end, off + size) - off
                if a < b and pieces[i].raw[a:b].strip():
                    cut.setdefault(i, []).append((a, b, kind))
        return cut
