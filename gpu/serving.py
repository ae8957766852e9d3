"""What the model pools on Ray Serve share: the wire format, one batch at a time at the model with the batches
that closed meanwhile merged into the next, and the deployment settings of their replicas.

Ray Serve's ``@serve.batch`` closes a batch when its wait ends, whether or not the model is still running the
previous one; a busy replica would then run what arrived during a decode one small batch at a time. Behind this
queue the batches wait at the model instead and run together when it is free (oldest first, up to ``limit``
items per run): the dynamic batching of a serving system, where a busier model runs bigger batches. The pools
pass ``max_concurrent_batches`` > 1 to ``@serve.batch`` so that batches can reach the queue while one runs.
"""

from __future__ import annotations

import asyncio
import json
import os
import struct
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

import numpy as np

T = TypeVar("T")
R = TypeVar("R")

QUEUED_BATCHES = 4  # the ``max_concurrent_batches`` the pools give ``@serve.batch``: batches that may wait here
MAX_HEADER_BYTES = 1 << 20
_HEADER = struct.Struct("<I")


# ---- wire format: a little-endian u32 header length, a JSON header, then the float32 values of each array it lists
def encode_request(header: dict[str, Any], arrays: Sequence[np.ndarray]) -> bytes:
    """One body: the header (with every array's length added as ``lengths``) and the arrays' values."""
    head = json.dumps({**header, "lengths": [len(a) for a in arrays]}, ensure_ascii=False).encode()
    parts = [_HEADER.pack(len(head)), head]
    parts += [np.ascontiguousarray(a, dtype="<f4").tobytes() for a in arrays]
    return b"".join(parts)


def parse_request(body: bytes) -> tuple[dict[str, Any], list[np.ndarray]]:
    """The header and arrays of ``encode_request``'s body; ``ValueError`` if malformed (each pool codes it)."""
    try:
        (size,) = _HEADER.unpack_from(body)
        if size > MAX_HEADER_BYTES:
            raise ValueError(f"header of {size} bytes")
        header = json.loads(body[_HEADER.size:_HEADER.size + size])
        lengths = [int(n) for n in header["lengths"]]
        offset = _HEADER.size + size
        if offset + 4 * sum(lengths) != len(body) or min(lengths, default=0) < 0:
            raise ValueError(f"{len(body) - offset} bytes of samples for lengths {lengths}")
        arrays = []
        for n in lengths:
            arrays.append(np.frombuffer(body, dtype="<f4", count=n, offset=offset).astype(np.float32))
            offset += 4 * n
    except (struct.error, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"malformed pool request: {exc}") from exc
    return header, arrays


class MergingQueue(Generic[T, R]):
    """``await queue.submit(items)`` → one result per item, from a ``run`` over these and other waiting items."""

    def __init__(self, limit: int, run: Callable[[list[T]], Awaitable[list[R]]]) -> None:
        """``run`` gets at most ``limit`` items (more only when one batch alone holds more) and returns one result
        per item, in order."""
        self.limit = limit
        self._run = run
        self._busy = asyncio.Lock()
        self._waiting: list[tuple[list[T], asyncio.Future[list[R]]]] = []

    async def submit(self, items: list[T]) -> list[R]:
        future: asyncio.Future[list[R]] = asyncio.get_running_loop().create_future()
        self._waiting.append((items, future))
        async with self._busy:
            while not future.done():  # older batches first: this one may need a second run
                await self._run_waiting()
        return await future

    async def _run_waiting(self) -> None:
        taken, total = 0, 0
        while taken < len(self._waiting) and (taken == 0 or total + len(self._waiting[taken][0]) <= self.limit):
            total += len(self._waiting[taken][0])
            taken += 1
        groups, self._waiting = self._waiting[:taken], self._waiting[taken:]
        try:
            results = await self._run([item for items, _ in groups for item in items])
        except BaseException as exc:  # every caller of the run hears of it; none hangs
            for _, future in groups:
                if not future.done():
                    future.set_exception(exc)
            if isinstance(exc, Exception):
                return
            raise
        start = 0
        for items, future in groups:
            future.set_result(results[start:start + len(items)])
            start += len(items)


def deployment_options(name: str, *, replicas: int, cpus: float, gpus: float, batch_size: int) -> dict[str, Any]:
    """``serve.deployment`` settings of a pool: its replicas, each with its share of CPUs/GPUs and the deployer's
    BLAS threads, and room for the batches queued at the model plus the work served beside them."""
    return {"name": name, "num_replicas": replicas,
            "ray_actor_options": {"num_cpus": cpus, "num_gpus": gpus,
                                  "runtime_env": {"env_vars": {"OMP_NUM_THREADS": blas_threads()}}},
            "max_ongoing_requests": max(16, (QUEUED_BATCHES + 1) * batch_size)}


def blas_threads() -> str:
    """The replicas' ``OMP_NUM_THREADS``: the deployer's, else what an in-process model gets unset (one per core).

    Ray otherwise sets one per reserved CPU, and the thread count of numpy's BLAS (Whisper's log-mel features)
    moves the scores: whisper-base int8 with 1 thread instead of 2 changed avg_logprob in the 4th decimal."""
    return os.environ.get("OMP_NUM_THREADS") or str(len(os.sched_getaffinity(0)))
