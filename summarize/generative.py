"""Generative notes behind the same guard rails as extraction.

A chat backend (OpenAI-compatible endpoint, local transformers model) is asked for CallNotes as JSON, given
the schema and the numbered, masked transcript (masked through per-speaker windows, so a number read across
two turns never reaches the model whole). Its answer is validated, fact-checked, and replaced by the
extractive notes on timeout, error, invalid JSON or a failed check; ``backend`` says which one wrote them.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from pydantic import ValidationError

from summarize.base import ArticleRef, Turn
from summarize.extractive import ExtractiveSummarizer
from summarize.factcheck import fact_check
from summarize.masking import Masker
from summarize.notes import CallNotes
from summarize.uncertain import mark_uncertain

log = logging.getLogger(__name__)

Message = dict[str, str]


class ChatError(RuntimeError):
    """The backend gave no usable answer (connection, HTTP status, runtime failure)."""


class ChatTimeout(ChatError):
    """The backend did not answer within the configured time."""


@runtime_checkable
class ChatBackend(Protocol):
    name: str

    def complete(self, messages: list[Message], *, json_mode: bool) -> str: ...


_INSTRUCTIONS = {
    "ja": ("あなたはコールセンターの後処理(ACW)担当です。以下の通話記録から応対メモを作り、JSONだけを出力してください。"
           "inquiry=用件、actions=通話中に完了した対応だけ、follow_ups=約束した今後の対応やお客様が行うこと、"
           "result=resolved/pending/escalated/unknown。各行の turns には根拠となる発話番号を入れてください。"
           "記録にない数字や事実は書かないでください。約束しただけの対応を完了として書かないでください。"),
    "en": ("You write after-call notes for a contact center. From the call below, output only JSON. "
           "inquiry = the customer's request, actions = only what was completed on the call, follow_ups = what was "
           "promised or what the customer will do, result = resolved/pending/escalated/unknown. Every line's turns "
           "lists the utterance numbers it comes from. Add no number or fact that is not in the call, and never "
           "list a promise as done."),
}
_SCHEMA_FIELDS = ("inquiry", "actions", "result", "result_line", "follow_ups", "entities", "disposition")


def notes_schema() -> dict:
    """The part of CallNotes' JSON schema a model is asked to fill."""
    schema = CallNotes.model_json_schema()
    schema["properties"] = {k: v for k, v in schema["properties"].items() if k in _SCHEMA_FIELDS}
    schema.pop("required", None)
    return schema


def build_messages(turns: Sequence[Turn], language: str, articles: Sequence[ArticleRef],
                   masker: Masker | None = None) -> list[Message]:
    lang = "ja" if language == "ja" else "en"
    masked = (masker if masker is not None else Masker()).mask_turns(turns, lang)
    transcript = "\n".join(f"[{t.index}] {t.speaker}: {t.text}" for t in masked)
    faq = "\n".join(f"- {a.title} ({a.category or '-'})" for a in articles) or "-"
    return [
        {"role": "system", "content": _INSTRUCTIONS[lang] + "\nJSON schema:\n" +
         json.dumps(notes_schema(), ensure_ascii=False)},
        {"role": "user", "content": f"FAQ:\n{faq}\n\nTranscript:\n{transcript}"},
    ]


_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.MULTILINE)


def parse_notes(text: str, language: str) -> CallNotes:
    """The model's JSON as CallNotes; raises ValueError on anything else."""
    cleaned = _FENCE.sub("", text.strip())
    start, end = cleaned.find("{"), cleaned.rfind("}")
    if start < 0 or end <= start:
        raise ValueError("no JSON object in the reply")
    try:
        data = json.loads(cleaned[start:end + 1])
        notes = CallNotes.model_validate({k: v for k, v in data.items() if k in _SCHEMA_FIELDS})
    except (json.JSONDecodeError, ValidationError, AttributeError, RecursionError) as exc:  # deep nesting
        raise ValueError(f"invalid notes JSON: {exc}") from exc
    return notes.model_copy(update={"language": "ja" if language == "ja" else "en"})


class GenerativeSummarizer:
    """Notes from a chat backend, fact-checked, with extraction as the fallback for every failure."""

    def __init__(self, chat: ChatBackend, *, fallback: ExtractiveSummarizer | None = None,
                 masker: Masker | None = None) -> None:
        self.chat = chat
        self.masker = masker if masker is not None else Masker()  # the service passes the configured one
        self.fallback = fallback or ExtractiveSummarizer(masker=self.masker)
        self.name = chat.name

    def summarize(
        self, turns: Sequence[Turn], *, language: str, articles: Sequence[ArticleRef] = ()
    ) -> CallNotes:
        lang = "ja" if language == "ja" else "en"
        if not self.fallback.has_content(self.masker.mask_turns(turns, lang), lang):
            return CallNotes(status="insufficient_content", language=lang, backend=self.name)
        try:
            reply = self.chat.complete(build_messages(turns, lang, articles, self.masker), json_mode=True)
            notes = parse_notes(reply, lang)
        except ChatTimeout:
            return self._fall_back(turns, lang, articles, "timeout")
        except ChatError as exc:
            log.warning("summary backend %s failed: %s", self.name, exc)
            return self._fall_back(turns, lang, articles, "error")
        except ValueError as exc:
            log.warning("summary backend %s: %s", self.name, exc)
            return self._fall_back(turns, lang, articles, "invalid JSON")
        notes.disposition = notes.disposition or self.fallback.disposition(articles)
        checked, report = fact_check(notes.model_copy(update={"backend": self.name}), turns,
                                     sources=[a.title for a in articles])
        if not report.passed:
            log.warning("summary backend %s failed the fact check: %s", self.name, checked.flags)
            return self._fall_back(turns, lang, articles, "failed check")
        return mark_uncertain(checked, turns)

    def _fall_back(self, turns: Sequence[Turn], lang: str, articles: Sequence[ArticleRef], why: str) -> CallNotes:
        notes = self.fallback.summarize(turns, language=lang, articles=articles)
        return notes.model_copy(update={"backend": f"{self.fallback.name} (fallback: {why})"})
