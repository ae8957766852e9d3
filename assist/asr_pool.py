"""``python -m assist.asr_pool``: serve the shared model pools on Ray Serve: recognition (``asr/serve_pool.py``)
and, with ``--pools asr,embed`` or ``--pools embed``, embeddings (``retrieval/serve_pool.py``).

Each pool listens where its ``pool_address`` points (``asr.pool_address``, ``retrieval.pool_address``: one Serve
instance, so one port, each app at its own path; ``--host 0.0.0.0`` for workers on other machines), with the
service's own ``asr`` / ``retrieval`` settings, so its results match the in-process ones. With
``--ray-address`` (``auto`` after ``ray start --head``) the applications are deployed on that cluster and stay
there after this command returns (``serve shutdown`` removes them); without, a local Ray instance is started and
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
from urllib.parse import urlsplit

from assist.logging_setup import setup_logging
from config import load_settings
from models import enforce_offline

log = logging.getLogger("assist.asr_pool")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m assist.asr_pool",
                                     description="Serve the shared model pools on Ray Serve.")
    parser.add_argument("--config", type=Path, help="settings TOML (asr.pool_*, retrieval.pool_*, the models)")
    parser.add_argument("--pools", default="asr", help="comma-separated pools: asr, embed (default: asr)")
    parser.add_argument("--ray-address", help="an existing Ray cluster (e.g. auto); default: start a local one")
    parser.add_argument("--host", help="address Serve listens on (default: pool_address's host)")
    parser.add_argument("--num-cpus", type=int, default=None, help="CPUs of the local Ray instance")
    args = parser.parse_args(argv)
    pools = [p.strip() for p in args.pools.split(",") if p.strip()]
    if not pools or set(pools) - {"asr", "embed"}:
        parser.error(f"--pools takes asr and/or embed, not {args.pools!r}")

    settings = load_settings(args.config)
    addresses = {"asr": settings.asr.pool_address, "embed": settings.retrieval.pool_address}
    if len({urlsplit(addresses[p]).netloc for p in pools}) > 1:  # one Serve HTTP proxy serves every app
        parser.error(f"the pools share one Serve host and port: {', '.join(addresses[p] for p in pools)}")
    setup_logging(settings.log_level, settings.log_json)
    enforce_offline(settings.allow_downloads)
    import ray

    from asr.serve_pool import deploy

    local = args.ray_address is None
    ray.init(address=args.ray_address, num_cpus=args.num_cpus if local else None, include_dashboard=False)
    if "asr" in pools:
        from asr.serve_pool import build_app, load_whisper

        factory = partial(load_whisper, settings.asr, settings.models_dir, settings.allow_downloads)
        deploy(build_app(factory, settings.asr), settings.asr.pool_address, host=args.host)
        log.info("ASR pool serving at %s (%d replicas)", settings.asr.pool_address, settings.asr.pool_replicas)
    if "embed" in pools:
        from retrieval import serve_pool

        embedder = partial(serve_pool.load_embedder, settings.retrieval, settings.models_dir, settings.allow_downloads)
        deploy(serve_pool.build_app(embedder, settings.retrieval), settings.retrieval.pool_address, host=args.host,
               name=serve_pool.APP_NAME)
        log.info("embeddings pool serving at %s (%d replicas)", settings.retrieval.pool_address,
                 settings.retrieval.pool_replicas)
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
