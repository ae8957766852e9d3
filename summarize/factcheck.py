"""The fact check every backend's notes pass before anyone sees them.

Two rules agents care about most: no number the call did not contain (compared as values, so 三万二千円 in
the transcript grounds 32,000円 in the notes), and no promise listed as done. Lines that break the first
are flagged (shown as unverified, never as fact); actions that break the second move to follow-ups.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from summarize.base import Turn
from summarize.notes import CallNotes, NoteLine
from summarize.numbers import number_values
from summarize.text import is_future


@dataclass(slots=True)
class CheckReport:
    invented: list[str] = field(default_factory=list)
    """Numbers in the notes that no transcript turn (or source title) contains."""
    moved: list[str] = field(default_factory=list)
    """Action lines that were promises, moved to follow-ups."""
    unlinked: list[str] = field(default_factory=list)
    """Lines whose turn indexes point at no turn of the call."""

    @property
    def passed(self) -> bool:
        return not self.invented and not self.unlinked


def grounded_numbers(turns: Sequence[Turn], language: str, sources: Iterable[str] = ()) -> set[str]:
    values: set[str] = set()
    for text in [*(t.text for t in turns), *sources]:
        values |= number_values(text, language)
    return values


def fact_check(
    notes: CallNotes, turns: Sequence[Turn], *, sources: Iterable[str] = ()
) -> tuple[CallNotes, CheckReport]:
    """Return checked notes (a copy) and what was found. ``sources`` are other grounded texts, such as the
    titles of the articles the notes cite."""
    language = notes.language
    allowed = grounded_numbers(turns, language, sources)
    valid_turns = {t.index for t in turns}
    report = CheckReport()
    checked = notes.model_copy(deep=True)

    def check_line(line: NoteLine, where: str) -> None:
        missing = sorted(number_values(line.text, language) - allowed)
        bad_turns = [i for i in line.turns if i not in valid_turns]
        if missing:
            line.flagged = True
            report.invented.extend(missing)
            checked.flags.append(f"{where}: number(s) not in the transcript: {', '.join(missing)}")
        if bad_turns or (not line.turns and not where.startswith("inquiry")):
            line.flagged = True
            line.turns = [i for i in line.turns if i in valid_turns]
            report.unlinked.append(line.text)
            checked.flags.append(f"{where}: not linked to a transcript turn")

    actions: list[NoteLine] = []
    for line in checked.actions:
        if is_future(line.text, language):
            report.moved.append(line.text)
            checked.follow_ups.append(line)
            checked.flags.append(f"actions: promised, not done; moved to follow_ups: {line.text}")
        else:
            actions.append(line)
    checked.actions = actions

    for section in ("inquiry", "actions", "follow_ups"):
        for i, line in enumerate(getattr(checked, section)):
            check_line(line, f"{section}[{i}]")
    if checked.result_line is not None:
        check_line(checked.result_line, "result_line")

    entities = []
    for entity in checked.entities:
        values = number_values(entity.text, language) | (
            number_values(entity.value, "en") if entity.value and entity.kind in ("amount", "count") else set()
        )
        missing = sorted(values - allowed)
        if missing:
            report.invented.extend(missing)
            checked.flags.append(f"entity dropped, number(s) not in the transcript: {entity.text}")
            continue
        entities.append(entity)
    checked.entities = entities
    return checked, report
