"""The QA report page: one self-contained HTML file (inline CSS, figures as base64 PNG, no scripts)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI","Noto Sans JP","Hiragino Sans",sans-serif;margin:24px auto;
max-width:1180px;color:#1f2933;line-height:1.45;padding:0 16px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:20px;margin:34px 0 10px;border-bottom:2px solid #e4e7eb;
padding-bottom:4px}.muted{color:#616e7c;font-size:13px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:10px;margin:16px 0}
.card{border:1px solid #d9dee3;border-radius:8px;padding:10px 12px;background:#f8fafc}
.card .v{font-size:24px;font-weight:600}.card .k{font-size:12px;color:#52606d}.card .t{font-size:11px;color:#616e7c}
.card.pass{border-color:#2a9d4b;background:#eef8f0}.card.fail{border-color:#d1495b;background:#fcefef}
table{border-collapse:collapse;width:100%;font-size:13px;margin:8px 0}
th,td{border-bottom:1px solid #e4e7eb;padding:5px 7px;text-align:left;vertical-align:top}
th{background:#f1f4f7;font-weight:600}table.kv th{width:14%;font-weight:500;font-size:12px}
table.kv td{width:11%}td.num{text-align:right;font-variant-numeric:tabular-nums}
img{max-width:100%;border:1px solid #e4e7eb;border-radius:6px;margin:6px 0}
code,pre{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
pre{background:#f5f7fa;padding:10px;overflow:auto;max-height:420px}
.bad{color:#b42335;font-weight:600}.good{color:#1e7b3a;font-weight:600}
"""

_CARDS: tuple[tuple[str, str, str], ...] = (
    ("hit@1", "hit@1", "{:.2f}"),
    ("hit@3", "hit@3", "{:.2f}"),
    ("push_top1_precision", "pushes whose top card is expected", "{:.2f}"),
    ("junk_pushes", "junk pushes (turn expects no card)", "{:d}"),
    ("on_screen@1", "top card right at request turn end", "{:.2f}"),
    ("suggestion_latency_s_p50", "speech end → card, p50", "{:.2f} s"),
    ("suggestion_latency_s_p95", "speech end → card, p95", "{:.2f} s"),
    ("final_latency_s_p95", "speech end → final text, p95", "{:.2f} s"),
    ("cer", "transcript CER (ja)", "{:.3f}"),
    ("wer", "transcript WER (en)", "{:.3f}"),
    ("fact_coverage", "notes fact coverage", "{:.2f}"),
    ("invented_numbers", "numbers never said (incl. misheard)", "{:d}"),
    ("wrong_numbers_stated", "… of them stated as fact", "{:d}"),
    ("wrong_numbers_flagged", "… of them flagged 要確認", "{:d}"),
    ("ungrounded_numbers", "numbers never heard (fact check failures)", "{:d}"),
    ("summary_latency_s", "hang-up → notes, p95", "{:.2f} s"),
    ("n_calls", "calls replayed", "{:d}"),
    ("concurrency", "calls at once", "{:d}"),
)


def _fmt(value: Any, pattern: str = "{}") -> str:
    if value is None:
        return "–"
    try:
        return pattern.format(value)
    except (ValueError, TypeError):
        return str(value)


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]], numeric: Sequence[int] = ()) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = "".join(f'<td class="num">{escape(_fmt(c))}</td>' if i in numeric else f"<td>{escape(_fmt(c))}</td>"
                        for i, c in enumerate(row))
        body.append(f"<tr>{cells}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _img(images: dict[str, str], key: str, alt: str) -> str:
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{images[key]}">' if key in images else ""


def _cards(report: dict[str, Any], cards: Sequence[tuple[str, str, str]] = _CARDS) -> str:
    headline, verdicts, targets = report["headline"], report["verdicts"], report["targets"]
    out = []
    for key, label, pattern in cards:
        verdict = verdicts.get(key)
        css = "" if verdict is None else " pass" if verdict else " fail"
        target = targets.get(key)
        note = f'<div class="t">target {"≥" if target["kind"] == "min" else "≤"} {target["limit"]:g}</div>' \
            if target else ""
        out.append(f'<div class="card{css}"><div class="k">{escape(label)}</div>'
                   f'<div class="v">{escape(_fmt(headline.get(key), pattern))}</div>{note}</div>')
    return f'<div class="cards">{"".join(out)}</div>'


def _calls_table(calls: list[dict[str, Any]]) -> str:
    rows = []
    for c in calls:
        expected = [t for t in c["turns"] if t["expected"]]
        sugg = [t["suggestion_latency_s"] for t in c["turns"] if t["suggestion_latency_s"] is not None]
        pushes = c.get("pushes") or []
        rows.append([c["id"], c["language"], f'{c["metric"]} {_fmt(c["error_rate"], "{:.3f}")}',
                     f'{sum(bool(t["hit1"]) for t in expected)}/{len(expected)}',
                     f'{sum(bool(t["hit3"]) for t in expected)}/{len(expected)}',
                     f'{sum(p["top_expected"] for p in pushes)}/{len(pushes)}', sum(p["junk"] for p in pushes),
                     " ".join(f"{s:.1f}" for s in sugg) or "–", _fmt(c["fact_coverage"], "{:.2f}"),
                     c["invented_numbers"], _fmt(c["summary_latency_s"], "{:.1f} s"), ", ".join(c["errors"]) or ""])
    return _table(["call", "lang", "transcript", "hit@1", "hit@3", "pushes: top expected", "junk pushes",
                   "card latencies (s)", "facts", "invented", "notes after", "errors"], rows, numeric=(6, 8, 9, 10))


def _pushes(calls: list[dict[str, Any]]) -> str:
    """Junk pushes and pushes with a wrong top card, then what was on screen when each request turn ended."""
    bad = []
    for c in calls:
        said = {t["index"]: t["reference"] for t in c["turns"]}
        for p in c.get("pushes") or []:
            if p["junk"] or not p["top_expected"]:
                why = "junk (turn expects no card)" if p["junk"] else "top card not expected"
                bad.append([c["id"], _fmt(p["turn"]), why, said.get(p["turn"], "–"), ", ".join(p["cards"]) or "–"])
    parts = [_table(["call", "turn", "why", "said", "cards pushed (top first)"], bad) if bad
             else '<p class="good">Every push put an expected card on top, none answered a turn expecting none.</p>']
    shown = [[c["id"], t["index"], t["reference"], ", ".join(t["expected"]), ", ".join(t["on_screen"] or []) or "–"]
             for c in calls for t in c["turns"] if t.get("on_screen") is not None]
    if shown:
        parts.append("<p class='muted'>The panel's unfolded cards, top first, when each request turn ended:</p>")
        parts.append(_table(["call", "turn", "said", "expected", "on screen"], shown))
    return "".join(parts)


def _misses(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return '<p class="good">No expected card was missed.</p>'
    return _table(["call", "turn", "why", "expected", "suggested", "said", "transcribed", "latency"],
                  [[r["call"], r["turn"], r["why"], ", ".join(r["expected"]) or "–", ", ".join(r["suggested"]) or "–",
                    r["reference"], r["transcript"], _fmt(r["latency_s"], "{:.2f} s")] for r in rows])


def _metrics(section: dict[str, Any], per_row: int = 4) -> str:
    """The command, then its headline metrics as metric/value pairs, ``per_row`` pairs a row."""
    flat = [(k, v) for k, v in section["metrics"].items() if not isinstance(v, dict | list)]
    nested = {k: v for k, v in section["metrics"].items() if isinstance(v, dict | list) and v}
    parts = [f'<p class="muted">Command: <code>{escape(section["command"])}</code> ({section["seconds"]} s)</p>']
    if section.get("error"):
        parts.append(f'<p class="bad">Failed: {escape(section["error"])}</p>')
    if flat:
        rows = []
        for i in range(0, len(flat), per_row):
            chunk = flat[i : i + per_row]
            rows.append("".join(f"<th>{escape(k)}</th><td class='num'>{escape(_fmt(v))}</td>" for k, v in chunk))
        parts.append(f"<table class='kv'>{''.join(f'<tr>{r}</tr>' for r in rows)}</table>")
    for key, value in nested.items():
        parts.append(f'<p class="muted">{escape(key)}: <code>{escape(json.dumps(value, ensure_ascii=False))}</code></p>')
    return "".join(parts)


def _notes(calls: list[dict[str, Any]]) -> str:
    return _table(["call", "fact coverage", "facts missing from the notes", "numbers in the notes never said",
                   "… stated as fact", "… flagged 要確認", "… nor in the transcript",
                   "what the notes say was done (対応内容)"],
                  [[c["id"], _fmt(c["fact_coverage"], "{:.2f}"), ", ".join(c["missing_facts"]) or "–",
                    ", ".join(c["invented"]) or "–", ", ".join(c.get("wrong_stated") or []) or "–",
                    ", ".join(c.get("wrong_flagged") or []) or "–", ", ".join(c.get("ungrounded") or []) or "–",
                    " / ".join(line["text"] for line in (c["notes"] or {}).get("actions", []))[:240] or "–"]
                   for c in calls], numeric=(1,))


def _gaps(gaps: dict[str, Any], per_cluster: int = 3, limit: int = 30) -> str:
    """Knowledge gaps: groups of customer requests the KB failed, largest first, with example utterances."""
    clusters = gaps.get("clusters") or []
    parts = [f'<p class="muted">{gaps.get("gaps", 0)} of {gaps.get("requests", 0)} customer requests from '
             f'<code>{escape(str(gaps.get("source", "")))}</code> got no card, only low-confidence cards or cards '
             f'the agent dismissed; grouped with {escape(str(gaps.get("embedder", "")))} at cosine '
             f'{_fmt(gaps.get("threshold"), "{:.2f}")} (<code>assist kb gaps</code>, <code>GET /api/kb/gaps</code>).</p>']
    if not clusters:
        parts.append('<p class="good">No knowledge gaps recorded in this period.</p>')
        return "".join(parts)
    rows = []
    for c in clusters[:limit]:
        examples = " / ".join(e["text"] for e in c["examples"][:per_cluster])
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(c["reasons"].items()))
        rows.append([c["label"], c["calls"], c["size"], reasons, ", ".join(c["articles"]) or "–",
                     time.strftime("%Y-%m-%d %H:%M", time.localtime(c["last_ts"])), examples])
    parts.append(_table(["group (most central request)", "calls", "requests", "why", "cards it got", "last seen",
                         "examples (newest first)"], rows, numeric=(1, 2)))
    return "".join(parts)


_ALERT_CARDS: tuple[tuple[str, str, str], ...] = (
    ("alert_recall", "expected alerts raised", "{:.2f}"),
    ("alert_on_time_rate", "… within 2 s of their turn", "{:.2f}"),
    ("alert_delay_s_p95", "turn end → alert, p95", "{:.2f} s"),
    ("false_alerts_calm", "alerts on the calm calls", "{:d}"),
    ("false_alerts", "alerts on turns expecting none", "{:d}"),
    ("extra_alerts", "other alerts on escalation turns", "{:d}"),
    ("checklist_accuracy", "checklist items right", "{:.2f}"),
    ("n_escalation_calls", "escalation calls", "{:d}"),
    ("n_calm_calls", "calm calls", "{:d}"),
)


def _alerts(section: dict[str, Any]) -> str:
    """Alerts raised against the scripted escalations, false alerts, checklist items scored wrong."""
    parts = [_cards({"headline": section["summary"], "verdicts": section["verdicts"], "targets": section["targets"]},
                    _ALERT_CARDS),
             f'<p class="muted">Command: <code>{escape(section["command"])}</code> ({section["seconds"]} s). Each '
             "call's turns are sent as finals at their scripted times (pauses, talk-over, fast turns) through the live "
             "service with the default rules and the embedder's paraphrases; request turns get the call's expected "
             "cards, so a category's checklist items join as after a right top card.</p>"]
    parts.append(_table(["call", "turn", "said", "expected alert", "raised", "turn end → alert"],
                        [[r["call"], r["turn"], r["said"], r["alert"], "yes" if r["raised"] else "MISSED",
                          _fmt(r["delay_s"], "{:.2f} s")] for r in section["expected"]]))
    unexpected = section["unexpected"]
    parts.append(_table(["call", "turn", "said", "rule", "category", "kind"],
                        [[r["call"], _fmt(r["turn"]), r["said"], r["rule"], r["category"] or "–",
                          "false (no alert expected)" if r["kind"] == "false" else "extra (another was expected)"]
                         for r in unexpected]) if unexpected
                 else '<p class="good">No alert other than the expected ones.</p>')
    wrong = section["checklist_wrong"]
    parts.append(_table(["call", "checklist item", "expected done", "done"],
                        [[r["call"], r["item"], r["expected"], r["done"]] for r in wrong]) if wrong
                 else '<p class="good">Every checklist item ended as the script expects.</p>')
    return "".join(parts)


def render(report: dict[str, Any], images: dict[str, str]) -> str:
    sections = report["sections"]
    body = [f"<h1>agent-assist QA report</h1><p class='muted'>Generated {escape(report['generated'])}. "
            "Every figure below comes from the commands shown; rerun them to reproduce.</p>"]
    if "calls" in sections:
        body += ["<h2>End-to-end call replay</h2>", _cards(report), _metrics(sections["calls"]),
                 "<p class='muted'>Each call's turns are streamed on their leg at real-time pace, 0.6 s apart. "
                 "A card counts for a customer turn if it arrives before the next customer turn starts; "
                 "<code>strict</code> figures exclude cards already on screen from earlier turns.</p>",
                 _img(images, "latency", "latency distributions"),
                 "<h2>Call timelines</h2><p class='muted'>Bars: speech. ▼ final transcript. ▲ first card for "
                 "the turn (green: expected card in the top 3, red: missed).</p>",
                 _img(images, "timelines", "call timelines"),
                 "<h2>Per call</h2>", _calls_table(report["calls"]), _img(images, "per_call", "per-call figures"),
                 "<h2>Missed cards, then the slowest cards</h2>", _misses(report["worst_call_misses"]),
                 "<h2>What the agent saw: pushes</h2><p class='muted'>Each <code>suggestions</code> event is a push; "
                 "the panel is modelled as the widget keeps it (a push's cards on top in rank order, older cards "
                 "below).</p>", _pushes(report["calls"]),
                 "<h2>After-call notes from the live transcript</h2><p class='muted'>Facts and numbers are "
                 "checked against what was said (the script), so recognition errors that reach the notes "
                 "count against them.</p>", _notes(report["calls"])]
    if "retrieval" in sections:
        body += ["<h2>Retrieval (typed queries)</h2>", _metrics(sections["retrieval"]),
                 "<p class='muted'>Rank of the first relevant article per answerable query, grouped by the "
                 "query's language and the article's category.</p>",
                 _img(images, "query_ranks", "per-query ranks")]
        if report["worst_query_misses"]:
            body.append("<p>Queries whose relevant article was not in the top 3:</p>")
            body.append(_table(["query", "text", "expected", "got (top 3)"],
                               [[m["id"], m["query"], ", ".join(m["expected"]), ", ".join(m["got"][:3])]
                                for m in report["worst_query_misses"]]))
    for name, title in (("asr", "Speech recognition (utterances)"), ("summary", "After-call notes (reference text)")):
        if name in sections:
            body += [f"<h2>{title}</h2>", _metrics(sections[name])]
    if report.get("alerts"):
        body += ["<h2>Alerts and checklists (scripted escalations)</h2>", _alerts(report["alerts"])]
    if report.get("kb_gaps") is not None:
        body += ["<h2>Knowledge gaps</h2>", _gaps(report["kb_gaps"])]
    body.append("<h2>Raw results</h2><details><summary>report.json</summary><pre>"
                + escape(json.dumps({k: v for k, v in report.items() if k != "calls"}, ensure_ascii=False, indent=1))
                + "</pre></details>")
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>agent-assist QA report</title>'
            f"<style>{_CSS}</style></head><body>{''.join(body)}</body></html>")
