"""``python -m eval gating --split dev|test [--transcripts DETAILS.json] [--calls calls.jsonl] [--json]``

What the agent would see, without audio: every call's finals go through the real ``CallSession`` (turn gate,
retrieval on ``kb.jsonl`` + ``kb_extra.jsonl``, topic, extractive notes) in call order, each customer turn's
search finished before the next final, as on a live call where the agent's answer comes seconds later. The finals
are the script's text, or with ``--transcripts`` what the recognizer heard in an ``eval calls --details`` run
(masked as the service masked them): the gate and the 該当FAQ rule can then be tuned on ASR text in a minute
instead of replaying audio for ten. Scored per push (junk: its turn expects no article; top card expected),
per request turn (hit@k: an expected article at rank ≤ k pushed for it or before it, so a card still on screen
counts) and per call (該当FAQ: expected articles named, others named). The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from asr.base import Leg, LegAudio, Utterance
from assist.hub import CallHub
from assist.session import CallOptions, CallSession
from assist.stages import CallStages
from config import load_settings
from eval.callset import SPLIT_AUDIO_CALLS, SPLIT_KB, SPLITS, CallSpec, read_split
from eval.retrieval import build_service
from models import ModelRegistry
from retrieval.embedders import build_embedder
from summarize.factory import build_summarizer
from summarize.masking import Masker


@dataclass
class CallGating:
    id: str
    pushes: list[tuple[int, list[str], bool]] = field(default_factory=list)
    """(customer turn, its cards in rank order, junk) per ``suggestions`` event."""
    hits: dict[int, tuple[bool, bool]] = field(default_factory=dict)
    """Request turn -> (hit@1, hit@3)."""
    faq: list[str] = field(default_factory=list)
    faq_other: list[str] = field(default_factory=list)


class _Recognizer:
    """Stands in for the ASR engine: hands the session's callback to the replay, which speaks the finals."""

    def __init__(self) -> None:
        self.callbacks: dict[Leg, Callable[[Utterance], None]] = {}

    def open_leg(self, call_id: str, leg: Leg, *, language: str | None,
                 on_event: Callable[[Utterance], None]) -> LegAudio:
        self.callbacks[leg] = on_event
        return _Leg()

    def stats(self) -> dict[str, float | int]:
        return {}


class _Leg:
    """No audio, nothing buffered: the replay hands over finals."""

    def feed(self, samples: np.ndarray) -> None:
        return None

    def close(self) -> None:
        return None

    def join(self, timeout: float | None = None) -> bool:
        return True

    @property
    def lag_s(self) -> float:
        return 0.0


Spoken = tuple[float, float, str]
"""(start, end, text) of one final, in seconds of its leg."""


async def replay_text(call: CallSpec, texts: Mapping[int, Sequence[Spoken]], stages: CallStages,
                      executor: ThreadPoolExecutor) -> list[dict[str, Any]]:
    """The events a widget would receive for ``call`` spoken as ``texts`` (turn index -> its finals; a turn not
    in it is spoken as its script line). Final ``j`` of turn ``i`` has the utterance id ``<leg initial>i.j``."""
    loop = asyncio.get_running_loop()
    hub = CallHub(call.id, loop=loop, writer=None, queue_size=4096)
    widget, _ = hub.subscribe(0)
    recognizer = _Recognizer()
    session = CallSession(call.id, CallOptions(language=call.language, legs=("customer", "agent")),
                          stages=replace(stages, asr=recognizer, executor=executor),
                          hub=hub, writer=None, loop=loop, status_interval_s=3600)
    session.attach(["customer", "agent"])
    for turn in call.turns:
        leg: Leg = "customer" if turn.speaker == "customer" else "agent"
        spoken = texts.get(turn.index, [(float(turn.index), turn.index + 0.9, turn.text)])
        for j, (start, end, text) in enumerate(spoken):
            recognizer.callbacks[leg](Utterance(call.id, leg, f"{leg[0]}{turn.index}.{j}", text, True, start, end,
                                                call.language))
            await asyncio.sleep(0)
            if turn.speaker == "customer":  # its search done (the one worker runs in order) before the next final
                while session.status().queue_depth:
                    await asyncio.sleep(0.01)
                await asyncio.sleep(0.01)
                await loop.run_in_executor(executor, time.sleep, 0)
                await asyncio.sleep(0.01)
    await session.end("stop")
    queued = [widget.queue.get_nowait() for _ in range(widget.queue.qsize())]
    return [json.loads(env.json) for env in queued if getattr(env, "json", None)]


def score(call: CallSpec, events: Sequence[dict[str, Any]]) -> CallGating:
    wanted = {a for ids in call.expected.values() for a in ids}
    result = CallGating(call.id)
    for e in events:
        if e.get("type") == "suggestions":
            turn = int(str(e["utterance_id"])[1:].split(".")[0])
            cards = [i["article_id"] for i in sorted(e["items"], key=lambda i: i["rank"])]
            result.pushes.append((turn, cards, not call.expected.get(turn)))
    for index, expected in call.expected.items():
        if expected:
            ranks = [(a, r) for turn, cards, _ in result.pushes if turn <= index for r, a in enumerate(cards, 1)]
            result.hits[index] = (any(a in expected and r == 1 for a, r in ranks),
                                  any(a in expected and r <= 3 for a, r in ranks))
    summary = next((e for e in events if e.get("type") == "summary"), None)
    named = dict.fromkeys(a for r in (summary or {}).get("notes", {}).get("requests", []) for a in r["articles"])
    result.faq = [a for a in named if a in wanted]
    result.faq_other = [a for a in named if a not in wanted]
    return result


def aggregate(results: Sequence[CallGating], calls: Sequence[CallSpec]) -> dict[str, Any]:
    wanted = {c.id: {a for ids in c.expected.values() for a in ids} for c in calls}
    pushes = [(r.id, p) for r in results for p in r.pushes]
    hits = [h for r in results for h in r.hits.values()]
    return {
        "pushes": len(pushes),
        "junk_pushes": sum(junk for _, (_, _, junk) in pushes),
        "push_top1_precision": round(sum(bool(c) and c[0] in wanted[i] for i, (_, c, _) in pushes)
                                     / max(1, len(pushes)), 4),
        "hit@1": round(sum(h1 for h1, _ in hits) / max(1, len(hits)), 4),
        "hit@3": round(sum(h3 for _, h3 in hits) / max(1, len(hits)), 4),
        "faq_calls_named_expected": sum(bool(r.faq) for r in results),
        "faq_expected_named": sum(len(r.faq) for r in results),
        "faq_other_named": sum(len(r.faq_other) for r in results),
        "n_calls": len(results),
        "n_request_turns": len(hits),
    }


def print_misses(call: CallSpec, result: CallGating, texts: Mapping[int, Sequence[Spoken]]) -> None:
    def said(index: int) -> str:
        return " | ".join(t for _, _, t in texts.get(index, [])) or call.turns[index].text

    for turn, cards, junk in result.pushes:
        if junk:
            print(f"    junk push for turn {turn} {cards}: {said(turn)}")
    for index, (hit1, hit3) in sorted(result.hits.items()):
        if hit1:
            continue
        print(f"    turn {index} (hit@3 {hit3}) expected {call.expected[index]}: {said(index)}")
        for turn, cards, _ in result.pushes:
            if turn <= index:
                print(f"      pushed for turn {turn}: {cards}")


def heard(details: Path) -> dict[str, dict[int, list[Spoken]]]:
    """Each call's finals as an ``eval calls --details`` run recorded them (turn index -> its finals). Older
    records (and ``eval/data/heard/``) hold a turn's text only: it is spoken as one final."""
    rows = json.loads(details.read_text(encoding="utf-8"))
    return {r["id"]: {t["index"]: ([(float(a), float(b), str(x)) for a, b, x in t["finals"]] if "finals" in t
                                   else [(float(t["index"]), t["index"] + 0.9, t["hypothesis"])])
                      for t in r["turns"]} for r in rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval gating", description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=SPLITS, required=True, help="tune on dev, report test")
    parser.add_argument("--calls", type=Path, help="calls.jsonl (default: the committed call set)")
    parser.add_argument("--transcripts", type=Path, help="`eval calls --details` output: replay what ASR heard")
    parser.add_argument("--config", type=Path, help="settings TOML")
    parser.add_argument("--json", action="store_true", help="print only the JSON summary")
    parser.add_argument("--show-misses", action="store_true",
                        help="for each request turn without an expected top card: what was said and pushed")
    args = parser.parse_args(argv)
    settings = load_settings(args.config)
    calls = read_split([args.calls] if args.calls else SPLIT_AUDIO_CALLS, args.split)
    texts = heard(args.transcripts) if args.transcripts else {}
    embedder = build_embedder(settings.retrieval, ModelRegistry(settings.models_dir))
    retrieval = build_service(list(SPLIT_KB), settings.retrieval, embedder)
    masker = Masker(settings.privacy.mask_entities)
    stages = CallStages(asr=_Recognizer(), retrieval=retrieval, summarizer=build_summarizer(settings.summarize, masker),
                        mask=masker, top_k=settings.retrieval.top_k,
                        keep_topic_cards=settings.retrieval.keep_topic_cards,
                        join_gap_s=settings.retrieval.join_gap_s)
    results = []
    with ThreadPoolExecutor(1) as executor:
        for call in calls:
            events = asyncio.run(replay_text(call, texts.get(call.id, {}), stages, executor))
            results.append(score(call, events))
            if not args.json:
                r = results[-1]
                junk = [(t, c) for t, c, j in r.pushes if j]
                print(f"{call.id:30s} hit@1 {sum(h for h, _ in r.hits.values())}/{len(r.hits)}  junk {junk}  "
                      f"該当FAQ {r.faq} other {r.faq_other}")
                if args.show_misses:
                    print_misses(call, r, texts.get(call.id, {}))
    print(json.dumps(aggregate(results, calls), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
