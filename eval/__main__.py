"""``python -m eval NAME ...``: the QA team's entry points, one module each."""

from __future__ import annotations

import importlib
import sys

from models import enforce_offline

# name -> module whose main(argv) -> int runs it
COMMANDS: dict[str, str] = {
    "alert-phrases": "eval.alert_phrases",
    "asr": "eval.asr",
    "bench-asr": "eval.bench_asr",
    "bench-live": "eval.bench_live",
    "summary": "eval.summary",
    "retrieval": "eval.retrieval",
    "bench-retrieval": "eval.bench_retrieval",
    "bus-load": "eval.bus_load",
    "calls": "eval.calls",
    "cluster": "eval.cluster",
    "gaps": "eval.gaps",
    "gating": "eval.gating",
    "report": "eval.report",
    "gate": "eval.gate",
    "soak": "eval.soak",
    "store-load": "eval.store_load",
    "pii": "eval.pii",
    "uncertain": "eval.uncertain",
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        names = ", ".join(sorted(COMMANDS)) or "(none yet)"
        stream = sys.stdout if argv and argv[0] in ("-h", "--help") else sys.stderr
        stream.write(f"usage: python -m eval COMMAND [options]\ncommands: {names}\n")
        return 0 if stream is sys.stdout else 2
    enforce_offline()
    return importlib.import_module(COMMANDS[argv[0]]).main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
