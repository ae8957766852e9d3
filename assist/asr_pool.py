"""``python -m assist.asr_pool``: serve the shared recognition pool (``asr/serve_pool.py``) on Ray Serve.

The pool listens where ``asr.pool_address`` points (port and path; ``--host 0.0.0.0`` for workers on other
machines), with the service's own ``asr`` settings, so its decodes match the in-process ones. With
``--ray-address`` (``auto`` after ``ray start --head``) the application is deployed on that cluster and stays
there after this command returns (``serve shutdown`` removes it); without, a local Ray instance is started and
served until SIGINT/SIGTERM. Needs the ``scale`` extra (``ray[serve]``).
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from collections.abc import Sequence
from functools import partial
from pathlib import Path

from assist.logging_setup import setup_logging
from config import load_settings
from models import enforce_offline

log = logging.getLogger("assist.asr_pool")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m assist.asr_pool",
                                     description="Serve the shared recognition pool on Ray Serve.")
    parser.add_argument("--config", type=Path, help="settings TOML (asr.pool_* and the model settings)")
    parser.add_argument("--ray-address", help="an existing Ray cluster (e.g. auto); default: start a local one")
    parser.add_argument("--host", help="address Serve listens on (default: pool_address's host)")
    parser.add_argument("--num-cpus", type=int, default=None, help="CPUs of the local Ray instance")
    args = parser.parse_args(argv)

    settings = load_settings(args.config)
    setup_logging(settings.log_level, settings.log_json)
    enforce_offline(settings.allow_downloads)
    import ray

    from asr.serve_pool import build_app, deploy, load_whisper

    local = args.ray_address is None
    ray.init(address=args.ray_address, num_cpus=args.num_cpus if local else None, include_dashboard=False)
    factory = partial(load_whisper, settings.asr, settings.models_dir, settings.allow_downloads)
    deploy(build_app(factory, settings.asr), settings.asr.pool_address, host=args.host)
    log.info("ASR pool serving at %s (%d replicas)", settings.asr.pool_address, settings.asr.pool_replicas)
    if not local:
        return 0
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    from ray import serve

    serve.shutdown()
    ray.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
