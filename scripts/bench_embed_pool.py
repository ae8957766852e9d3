"""Query-embedding latency in process vs through the embeddings pool, and texts per pool batch under 4 threads.

``python scripts/bench_embed_pool.py`` (needs the ``scale`` extra): starts a local Ray (2 CPUs) with the pool of
the configured ``retrieval`` settings on a free port, embeds 50 single queries of ``eval/data/queries_v2.jsonl``
each way (after one warm-up each), then has 4 threads post them: 50 rounds of 4 posts released at once
(``together``), and freely, each thread's next query when its last is back (``free``); logs one JSON line
(docs/SCALING.md, "Model pools on Ray Serve").
"""

from __future__ import annotations

import json
import logging
import statistics
import sys
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from support.ray_serve import local_serve  # noqa: E402

from asr.serve_pool import deploy  # noqa: E402
from config import load_settings  # noqa: E402
from models import ModelRegistry, enforce_offline  # noqa: E402
from retrieval.embedders import build_embedder  # noqa: E402
from retrieval.pool import RemoteEmbedder  # noqa: E402
from retrieval.serve_pool import APP_NAME, build_app, load_embedder  # noqa: E402

log = logging.getLogger("bench_embed_pool")
N, THREADS = 50, 4


def p50_ms(embed: Callable[[list[str]], object], queries: list[str]) -> float:
    embed(queries[:1])
    times = []
    for q in queries:
        started = time.perf_counter()
        embed([q])
        times.append(time.perf_counter() - started)
    return round(1000 * statistics.median(times), 1)


def threaded(remote: RemoteEmbedder, queries: list[str], *, synchronized: bool) -> dict[str, object]:
    """``THREADS`` threads embedding every query one by one; the pool's batches meanwhile."""
    before = remote.pool_stats()
    barrier = threading.Barrier(THREADS)

    def post() -> None:
        barrier.wait()
        for q in queries:
            remote.embed_queries([q])
            if synchronized:
                barrier.wait()

    threads = [threading.Thread(target=post) for _ in range(THREADS)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    stats = remote.pool_stats()
    texts, batches = stats["texts"] - before["texts"], stats["batches"] - before["batches"]
    sizes = {k: n - before["batch_sizes"].get(k, 0) for k, n in stats["batch_sizes"].items()}
    return {"texts": texts, "batches": batches, "texts_per_batch": round(texts / batches, 2),
            "batch_sizes": {k: n for k, n in sizes.items() if n}, "queries_per_s": round(texts / elapsed, 1)}


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    settings = load_settings()
    enforce_offline(settings.allow_downloads)
    rows = (ROOT / "eval" / "data" / "queries_v2.jsonl").read_text(encoding="utf-8").splitlines()
    queries = [json.loads(line)["query"] for line in rows][:N]
    local = build_embedder(settings.retrieval, ModelRegistry(settings.models_dir))
    local.load()
    with local_serve() as port:
        pool = settings.retrieval.model_copy(update={"pool": "ray", "pool_address": f"http://127.0.0.1:{port}/embed"})
        factory = partial(load_embedder, pool, settings.models_dir, settings.allow_downloads)
        deploy(build_app(factory, pool), pool.pool_address, name=APP_NAME)
        remote = RemoteEmbedder.from_settings(pool)
        out: dict[str, object] = {"embedder": remote.name, "in_process_p50_ms": p50_ms(local.embed_queries, queries),
                                  "pool_p50_ms": p50_ms(remote.embed_queries, queries)}
        for mode in ("together", "free"):  # 50 rounds of 4 posts released at once; 4 threads posting 50 each
            out[mode] = threaded(remote, queries, synchronized=mode == "together")
        remote.close()
    log.info("%s", json.dumps(out))


if __name__ == "__main__":
    main()
