"""One ``assist serve`` worker with the tests' scripted stages (``support.live.fake_stages``), as a process.

``python tests/support/fake_worker.py --port P``: the real app (store, bus, sessions, websockets) configured
like ``assist serve`` (``ASSIST_*``, ``ASSIST_CONFIG``), but no model is loaded, so a cluster of these starts
in seconds on a small box. ``python -m eval cluster --fake-models`` and its test run workers this way: what
they measure (routing, events across workers, a worker's death) is the service's own logic, not recognition.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]

# The scripted recognizer finishes one line per 0.5 s of a leg's audio; a call longer than the script goes on
# in silence (status events only).
CUSTOMER = ["カードをなくしました", "再発行はできますか", "手数料はかかりますか", "いつ届きますか",
            "住所も変わりました", "ありがとうございます"] * 4
AGENT = ["承知しました", "お調べいたします", "少々お待ちください", "ご案内いたします"] * 6
RESPONSES = {"カードをなくしました": ["lost-card"], "再発行はできますか": ["reissue"],
             "手数料はかかりますか": ["fees"], "いつ届きますか": ["reissue"], "住所も変わりました": ["address-change"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(TESTS))
    import uvicorn

    from assist.app import create_app
    from assist.logging_setup import setup_logging
    from assist.services import Services
    from config import load_settings
    from support.live import fake_stages

    settings = load_settings()
    settings = settings.model_copy(update={"server": settings.server.model_copy(update={"preload_models": False})})
    setup_logging(settings.log_level, settings.log_json)
    services = Services(settings, stages=fake_stages({"customer": CUSTOMER, "agent": AGENT}, RESPONSES))
    uvicorn.run(create_app(settings, services), host=args.host, port=args.port, log_config=None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
