"""Per-call QA metrics: the pure figures on a real two-leg timeline, epochs, the CSV, the store on both engines,
the date range, `assist calls qa-export`, `GET /api/qa` and a live call's metrics stored at its end."""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from support.live import silence
from support.postgres import StoreTarget

from assist.alerts.sentiment import score_sentiment
from assist.cli import main
from assist.insights import record_qa
from assist.insights_report import RangeError, date_range, parse_bound, qa_csv
from assist.qa import CSV_COLUMNS, QaMetrics, QaTurn, compute_qa, csv_row, overlaps, spoken_chars, to_csv
from assist.replay import replay_call
from assist.store import CallStore
from summarize.notes import ChecklistLabel, ChecklistMark


def _sentiment(text: str) -> float:
    return score_sentiment(text).score


# A lost-card call: the customer cuts in on the agent for 1.0 s (counted) and 0.4 s (not), then a 4.5 s hold.
TIMELINE = [
    QaTurn("customer", "もう最悪です。本当に困ってるんです。カードを落としちゃって。", 0.5, 3.0),
    QaTurn("agent", "それはご心配ですね。ご本人確認のため、お名前と生年月日をお願いいたします。", 2.0, 5.0),
    QaTurn("customer", "山田太郎です。", 5.3, 7.0),
    QaTurn("agent", "ありがとうございます。ただいまカードのご利用を停止いたしました。", 6.6, 9.0),
    QaTurn("customer", "わかりました。ありがとうございました、助かりました。", 13.5, 15.0),
    QaTurn("agent", "お電話ありがとうございました。", 15.2, 17.0),
]
MARKS = [ChecklistMark(id="identity", label=ChecklistLabel(ja="本人確認", en="Identity"), done=True, turn=1),
         ChecklistMark(id="closing", label=ChecklistLabel(ja="クロージング", en="Closing"), done=True, turn=5),
         ChecklistMark(id="read-back", label=ChecklistLabel(ja="復唱", en="Read-back"))]


def test_metrics_of_a_two_leg_call() -> None:
    m = compute_qa(TIMELINE, sentiment=_sentiment, checklist=MARKS, alerts=2)
    assert m.talk_s == {"customer": 5.7, "agent": 7.2}
    assert m.talk_listen_ratio == round(7.2 / 5.7, 3)
    assert (m.overtalk_count, m.overtalk_s) == (1, 1.0)  # 2.0–3.0; 6.6–7.0 is under a second
    assert (m.longest_silence_s, m.silences) == (4.5, 1)  # 9.0 → 13.5; 0.3 s and 0.2 s gaps are not silences
    assert m.speaking_rate["customer"] == round((27 + 6 + 23) / 5.7, 2)  # characters without the punctuation
    assert m.sentiment_start is not None and m.sentiment_start < -0.2  # 最悪, 困って: an upset start …
    assert m.sentiment_end is not None and m.sentiment_end > 0.2  # … ありがとう, 助かりました: a calm end
    assert (m.checklist_done, m.checklist_total, m.checklist_adherence) == (2, 3, 0.667)
    assert m.checklist_missing == ["read-back"] and m.alerts == 2 and m.turns == {"customer": 3, "agent": 3}


def test_english_call_and_empty_call() -> None:
    turns = [QaTurn("agent", "Thank you for calling, how can I help?", 0.0, 2.0),
             QaTurn("customer", "This is unacceptable, I am really frustrated.", 2.5, 5.0),
             QaTurn("agent", "I'm sorry. Let me fix that right away.", 4.0, 6.0),
             QaTurn("customer", "Great, thanks so much for your help.", 6.2, 8.0)]
    m = compute_qa(turns, sentiment=_sentiment)
    assert (m.overtalk_count, m.overtalk_s) == (1, 1.0)
    assert m.sentiment_start is not None and m.sentiment_end is not None and m.sentiment_start < 0 < m.sentiment_end
    assert m.checklist_adherence is None and m.checklist_total == 0
    empty = compute_qa([], sentiment=_sentiment)
    assert empty.talk_listen_ratio is None and empty.sentiment_start is None and empty.longest_silence_s == 0.0


def test_reconnect_epochs_are_measured_apart() -> None:
    rows = [{"utterance_id": "customer-0", "leg": "customer", "text": "カードを止めてください", "start": 0.5, "end": 3.0},
            {"utterance_id": "e1:agent-0", "leg": "agent", "text": "お待たせいたしました", "start": 1.0, "end": 4.0},
            {"utterance_id": "e1:customer-0", "leg": "customer", "text": "はい", "start": 9.0, "end": 9.5},
            {"utterance_id": "agent-1", "leg": "agent", "text": "no times", "start": None, "end": None}]
    turns = [t for t in (QaTurn.from_row(r) for r in rows) if t is not None]
    assert [t.epoch for t in turns] == [0, 1, 1]
    m = compute_qa(turns, sentiment=_sentiment)
    assert m.overtalk_count == 0, "epoch 1 restarts at 0 s: its agent final never overlapped epoch 0's customer"
    assert m.longest_silence_s == 5.0  # within epoch 1: 4.0 → 9.0


def test_overlap_and_character_counting() -> None:
    c = [QaTurn("customer", "a", 0.0, 10.0)]
    a = [QaTurn("agent", "b", 1.0, 2.5), QaTurn("agent", "c", 3.0, 3.9), QaTurn("agent", "d", 9.0, 12.0)]
    assert overlaps(c, a) == [1.5, 1.0]
    assert spoken_chars("山田太郎です。") == 6
    assert spoken_chars("ＡＢＣ　１２３、です") == 8  # full-width letters and digits count once each
    assert spoken_chars("My number is [電話番号], thanks.") == len("Mynumberisthanks")


def test_csv_row_and_text() -> None:
    m = compute_qa(TIMELINE, sentiment=_sentiment, checklist=MARKS)
    call = {"id": "c1", "started": 1_700_000_000.0, "ended": None, "state": "ended", "language": "ja",
            "metadata": {"agent": "tanaka", "owner": "k1"}}
    row = csv_row(call, m)
    assert row["agent"] == "tanaka" and row["ended"] == "" and row["checklist_missing"] == "read-back"
    assert row["started"] == datetime.fromtimestamp(1_700_000_000).astimezone().isoformat(timespec="seconds")
    parsed = list(csv.DictReader(io.StringIO(to_csv([row]))))
    assert list(parsed[0]) == list(CSV_COLUMNS)
    assert parsed[0]["overtalk_count"] == "1" and parsed[0]["talk_listen_ratio"] == str(m.talk_listen_ratio)


def test_date_range() -> None:
    start, end = date_range("2025-04-01", "2025-04-30")
    assert start == datetime(2025, 4, 1).timestamp() and end == datetime(2025, 5, 1).timestamp()  # the 30th counts
    assert parse_bound("2025-04-01T09:00:00+09:00", name="since", end=False) == 1743465600.0
    assert parse_bound("1700000000", name="since", end=False) == 1_700_000_000.0
    now = time.time()
    default = date_range(None, None, now=now)
    assert default[1] > now and default[1] - default[0] == 30 * 86400
    for since, until, code in (("yesterday", None, "bad_date"), ("2025-02-30", None, "bad_date"),
                               ("2025-05-01", "2025-04-01", "bad_range")):
        with pytest.raises(RangeError) as err:
            date_range(since, until)
        assert err.value.code == code and err.value.fields


def _store_call(store: CallStore, call_id: str, started: float, *, alerts: int) -> None:
    store.create_call(call_id, language="ja", source="websocket", legs=["customer", "agent"],
                      metadata={"agent": "sato"}, started=started)
    for i, t in enumerate(TIMELINE):
        store.add_utterance(call_id, f"{t.leg}-{i}", leg=t.leg, text=t.text, start=t.start, end=t.end)
    rows = [(call_id, seq, "alert", started + seq, json.dumps({"type": "alert", "seq": seq})) for seq in range(1,
                                                                                                           alerts + 1)]
    rows.append((call_id, alerts + 1, "status", started, json.dumps({"type": "status"})))
    store.add_events(rows)
    store.end_call(call_id, reason="stop", ended=started + 20)


def test_store_keeps_metrics_and_exports_a_range(store_target: StoreTarget) -> None:
    store = CallStore(store_target("calls.db"))
    try:
        april = datetime(2025, 4, 10, 10).timestamp()
        _store_call(store, "apr", april, alerts=2)
        _store_call(store, "may", datetime(2025, 5, 2, 10).timestamp(), alerts=0)
        _store_call(store, "no-qa", april + 60, alerts=0)
        metrics = record_qa(store, "apr", MARKS)
        record_qa(store, "may")
        assert metrics.alerts == 2 and metrics.overtalk_count == 1
        stored = store.qa("apr")
        assert stored is not None and QaMetrics.model_validate(stored) == metrics
        assert store.call_detail("apr")["qa"] == stored and store.call_detail("no-qa")["qa"] is None
        assert [c["id"] for c, _ in store.qa_calls(*date_range("2025-04-01", "2025-04-30"))] == ["apr"]
        rows = list(csv.DictReader(io.StringIO(qa_csv(store, *date_range("2025-04-01", "2025-05-31")))))
        assert [(r["call_id"], r["agent"], r["alerts"], r["checklist_adherence"]) for r in rows] == [
            ("apr", "sato", "2", "0.667"), ("may", "sato", "0", "")]
        record_qa(store, "apr")  # computed again (a reconnected call's end): replaced, not duplicated
        assert store.qa("apr")["checklist_total"] == 0 and len(store.qa_calls(0, time.time())) == 2
    finally:
        store.close()


def test_cli_qa_export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ASSIST_HOME", str(tmp_path))
    store = CallStore(tmp_path / "assist.db")
    _store_call(store, "c-1", datetime(2025, 4, 10, 10).timestamp(), alerts=1)
    record_qa(store, "c-1", MARKS)
    store.close()
    out = tmp_path / "qa.csv"
    assert main(["calls", "qa-export", "--since", "2025-04-01", "--until", "2025-04-30", "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [(r["call_id"], r["overtalk_count"], r["longest_silence_s"], r["alerts"]) for r in rows] == [
        ("c-1", "1", "4.5", "1")]
    assert main(["calls", "qa-export", "--since", "2025-05-01", "--until", "2025-05-31"]) == 0
    assert capsys.readouterr().out.splitlines() == [",".join(CSV_COLUMNS)]
    assert main(["calls", "qa-export", "--since", "April"]) == 2
    assert "[bad_date]" in capsys.readouterr().err
    assert main(["calls", "show", "c-1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["qa"]["overtalk_count"] == 1


async def test_live_call_metrics_and_rest_csv(live) -> None:
    srv = live({"customer": ["カードをなくしました", "再発行はできますか"], "agent": ["ご本人確認のため、お名前をお願いします"]},
               {"カードをなくしました": ["lost-card"]})
    await replay_call(srv.url, "call-qa", {"customer": silence(1.1), "agent": silence(0.6)}, stereo=True,
                      realtime=False, timeout_s=30)
    qa = srv.services.call_store.qa("call-qa")
    assert qa is not None, "metrics are stored when the call ends"
    assert qa["turns"] == {"customer": 2, "agent": 1} and qa["talk_s"]["customer"] == 0.8  # two 0.4 s finals
    assert qa["checklist_done"] == 1 and "identity" not in qa["checklist_missing"]
    async with httpx.AsyncClient(base_url=srv.http) as client:
        today = datetime.now().strftime("%Y-%m-%d")
        r = await client.get("/api/qa", params={"since": today, "until": today})
        bad = await client.get("/api/qa", params={"since": "soon"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert 'filename="qa-' in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["call_id"] for row in rows] == ["call-qa"] and rows[0]["checklist_done"] == "1"
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "bad_date"
    assert bad.json()["error"]["fields"][0]["field"] == "since"
