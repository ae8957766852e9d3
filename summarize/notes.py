"""After-call notes: the one structure every summarizer returns, the widget edits and the store keeps.

Field names are English; the widget labels them 用件 / 対応内容 / 結果 / 次回対応 (or the English
equivalents). Every line carries the transcript turn indexes it came from, so the agent can check it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Outcome = Literal["resolved", "pending", "escalated", "unknown"]
EntityKind = Literal["date", "time", "amount", "count", "product", "phone", "card", "person", "place", "organization",
                     "other"]


class NoteLine(BaseModel):
    text: str
    turns: list[int] = Field(default_factory=list, description="Indexes of the transcript turns it came from")
    flagged: bool = Field(False, description="Failed the fact check; shown as unverified, never as fact")


class Entity(BaseModel):
    kind: EntityKind
    text: str = Field(description="As spoken, personal data masked")
    value: str | None = Field(None, description="Normalized value (e.g. 32000, 2026-04-12)")
    turns: list[int] = Field(default_factory=list)


class RequestNote(BaseModel):
    """One distinct customer request of the call. Its 用件 line is the inquiry line of ``turn``; the action and
    follow-up lines whose first turn lies in ``turn`` … ``until`` are its 対応内容 and 次回対応."""

    turn: int = Field(description="The customer turn that states the request")
    until: int = Field(description="Its last turn: the one before the next request (or the call's last)")
    result: Outcome = "unknown"
    articles: list[str] = Field(default_factory=list, description="Ids of its 該当FAQ articles")


class ChecklistLabel(BaseModel):
    ja: str
    en: str


class ChecklistMark(BaseModel):
    """One item of the call's guidance checklist (``assist/checklist.py``): an agent action and whether the agent's
    finals showed it. The live service fills ``CallNotes.checklist``; summarizers leave it empty."""

    id: str
    label: ChecklistLabel
    category: str | None = Field(None, description="The knowledge-base category that added it; none: every call")
    done: bool = False
    turn: int | None = Field(None, ge=0, description="The agent's final that did it (its index among the turns)")


class CallNotes(BaseModel):
    status: Literal["ok", "insufficient_content"] = "ok"
    language: str = "ja"
    backend: str = Field("extractive", description="Which summarizer produced the notes")
    inquiry: list[NoteLine] = Field(default_factory=list, description="用件")
    actions: list[NoteLine] = Field(default_factory=list, description="対応内容: actions completed on the call")
    result: Outcome = Field("unknown", description="結果")
    result_line: NoteLine | None = None
    follow_ups: list[NoteLine] = Field(default_factory=list, description="次回対応: promised or pending actions")
    entities: list[Entity] = Field(default_factory=list)
    to_confirm: list[Entity] = Field(
        default_factory=list, description="Numbers the recognizer was unsure of that the notes repeat: marked "
        "(要確認) in their lines, kept out of `entities`; the agent confirms them with the caller")
    requests: list[RequestNote] = Field(
        default_factory=list, description="Each distinct request in call order (a lost card, then a payment change) "
        "with its own result; `result` is the call's")
    disposition: str | None = Field(None, description="Wrap-up category, from the knowledge base's categories")
    flags: list[str] = Field(default_factory=list, description="Fact-check findings")
    edited: bool = Field(False, description="An agent edited these notes")
    checklist: list[ChecklistMark] = Field(
        default_factory=list, description="The guidance checklist at the call's end: what the agent did and missed")
