# ruff: noqa: T201  (a command-line module: results go to stdout)
"""``assist calls list|show|export`` (call history) and ``assist replay`` (stream audio into a server)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assist.insights_cli import register_qa_export
from config import Settings

if TYPE_CHECKING:
    import numpy as np

    from asr.base import Leg


def register(sub: argparse._SubParsersAction) -> None:
    calls = sub.add_parser("calls", help="Stored calls: transcripts, suggestions shown, feedback, notes")
    csub = calls.add_subparsers(dest="calls_cmd", required=True)
    p = csub.add_parser("list", help="Calls, newest first")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--state", choices=["live", "ended", "interrupted"])
    p.add_argument("--json", action="store_true")
    p = csub.add_parser("show", help="One call in full")
    p.add_argument("call_id")
    p.add_argument("--json", action="store_true")
    p = csub.add_parser("export", help="Calls as JSON Lines (one call with everything per line)")
    p.add_argument("--output", "-o", help="File (default: stdout)")
    p.add_argument("--limit", type=int, default=100_000)
    calls.set_defaults(handler=_calls)
    register_qa_export(csub)

    replay = sub.add_parser("replay", help="Stream a WAV file or a calls.jsonl call into a running server")
    replay.add_argument("file", nargs="?", help="16-bit PCM WAV (any rate; resampled to 16 kHz)")
    replay.add_argument("--url", default="ws://127.0.0.1:8000")
    replay.add_argument("--leg", choices=["customer", "agent"], default="customer")
    replay.add_argument("--stereo", action="store_true", help="2-channel WAV: channel 0 customer, 1 agent")
    replay.add_argument("--language", choices=["ja", "en", "auto"], default="ja")
    replay.add_argument("--calls", help="calls.jsonl whose turns carry audio paths")
    replay.add_argument("--call-id", help="Call to replay from --calls; also the id used on the server")
    replay.add_argument("--fast", action="store_true", help="Send as fast as possible instead of in real time")
    replay.set_defaults(handler=_replay)


def _calls(args: argparse.Namespace, settings: Settings) -> int:
    from assist.store import CallStore

    store = CallStore(settings.calls_db)
    try:
        if args.calls_cmd == "list":
            rows = [r.to_dict() for r in store.list_calls(limit=args.limit, state=args.state)]
            if args.json:
                print(json.dumps(rows, ensure_ascii=False, indent=1))
            for r in rows if not args.json else ():
                print(f"{r['id']:28} {r['state']:12} {r['language'] or '-':5} {_duration(r):>8}  {r['source']}")
            return 0
        if args.calls_cmd == "show":
            detail = store.call_detail(args.call_id)
            if detail is None:
                print(f"assist: no call {args.call_id!r}", file=sys.stderr)
                return 1
            print(json.dumps(detail, ensure_ascii=False, indent=None if args.json else 1))
            return 0
        out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout  # noqa: SIM115
        try:
            for row in store.list_calls(limit=args.limit):
                out.write(json.dumps(store.call_detail(row.id), ensure_ascii=False) + "\n")
        finally:
            if out is not sys.stdout:
                out.close()
        return 0
    finally:
        store.close()


def _duration(row: dict[str, Any]) -> str:
    return f"{row['ended'] - row['started']:.0f}s" if row.get("ended") else "-"


def _replay(args: argparse.Namespace, settings: Settings) -> int:
    from asr.audio import read_wav
    from assist.replay import replay_call

    def show(event: dict[str, Any]) -> None:
        print(json.dumps(event, ensure_ascii=False), flush=True)

    kwargs: dict[str, Any] = {"language": args.language, "realtime": not args.fast, "on_event": show}
    if args.calls:
        if not args.call_id:
            print("assist: --calls needs --call-id", file=sys.stderr)
            return 2
        turns = _turns_from_calls(Path(args.calls), args.call_id)
        if turns is None:
            return 1
        kwargs["language"] = turns[1] or args.language
        coro = replay_call(args.url, args.call_id, turns=turns[0], **kwargs)
    elif args.file:
        audio = read_wav(args.file, mono=False)
        channels = 1 if audio.ndim == 1 else audio.shape[1]
        legs: dict[Leg, np.ndarray]
        if args.stereo:
            if channels != 2:
                print("assist: --stereo needs a 2-channel WAV", file=sys.stderr)
                return 2
            legs = {"customer": audio[:, 0].copy(), "agent": audio[:, 1].copy()}
        else:
            legs = {args.leg: audio if channels == 1 else audio.mean(axis=1)}
        coro = replay_call(args.url, args.call_id, legs, stereo=args.stereo, **kwargs)
    else:
        print("assist: give a WAV file or --calls FILE --call-id ID", file=sys.stderr)
        return 2
    events = asyncio.run(coro)
    fatal = [e for e in events if e.get("type") == "error" and e.get("fatal")]
    return 1 if fatal else 0


def _turns_from_calls(path: Path, call_id: str) -> tuple[list[Any], str | None] | None:
    from asr.audio import read_wav
    from assist.replay import ReplayTurn

    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        call = json.loads(line)
        if call.get("id") != call_id:
            continue
        turns = []
        for turn in call["turns"]:
            if not turn.get("audio"):
                print(f"assist: turn without audio in {call_id}; synthesize it first", file=sys.stderr)
                return None
            turns.append(ReplayTurn(turn["speaker"], read_wav(path.parent / turn["audio"])))
        return turns, call.get("language")
    print(f"assist: no call {call_id!r} in {path}", file=sys.stderr)
    return None
