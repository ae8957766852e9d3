from __future__ import annotations

import pytest
from pydantic import ValidationError

from assist.events import INBOUND_ADAPTER, StartMessage, SuggestionItem, SuggestionsEvent, parse_event
from scripts.gen_protocol_docs import DOC_PATH, render


def test_committed_protocol_doc_is_up_to_date() -> None:
    assert DOC_PATH.read_text(encoding="utf-8") == render(), "run python scripts/gen_protocol_docs.py"


def test_start_defaults_legs_from_channels() -> None:
    assert StartMessage(channels=2).legs == ["customer", "agent"]
    assert StartMessage(leg="agent").legs == ["agent"]
    with pytest.raises(ValidationError):
        StartMessage(channels=2, legs=["customer"])
    with pytest.raises(ValidationError):
        INBOUND_ADAPTER.validate_json('{"type": "start", "sample_rate": 44100}')
    with pytest.raises(ValidationError):
        INBOUND_ADAPTER.validate_json('{"type": "start", "surprise": 1}')


def test_events_round_trip_by_type() -> None:
    event = SuggestionsEvent(call_id="c1", seq=4, utterance_id="u1", query="カード", latency_ms=12.5,
                             items=[SuggestionItem(article_id="lost-card", title="t", snippet="s", score=0.9, rank=1)])
    back = parse_event(event.model_dump_json())
    assert isinstance(back, SuggestionsEvent) and back == event
