"""gpu/serving.py: batches that close while the model is busy merge into its next run."""

from __future__ import annotations

import asyncio

import pytest

from gpu.serving import MergingQueue


class _Model:
    def __init__(self, fail_on: str | None = None) -> None:
        self.runs: list[list[str]] = []
        self.fail_on = fail_on
        self.release = asyncio.Event()

    async def run(self, items: list[str]) -> list[str]:
        self.runs.append(items)
        if len(self.runs) == 1:
            await self.release.wait()  # the first run holds the model until the test lets it go
        if self.fail_on in items:
            raise RuntimeError("broken batch")
        return [f"done:{i}" for i in items]


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_batches_closed_during_a_run_share_the_next_one() -> None:
    model = _Model()
    queue: MergingQueue[str, str] = MergingQueue(8, model.run)
    first = asyncio.create_task(queue.submit(["a"]))
    await _settle()
    later = [asyncio.create_task(queue.submit([x])) for x in ("b", "c", "d")]
    await _settle()
    model.release.set()
    assert await first == ["done:a"]
    assert [await t for t in later] == [["done:b"], ["done:c"], ["done:d"]]
    assert model.runs == [["a"], ["b", "c", "d"]]


async def test_a_run_takes_the_oldest_batches_that_fit_the_limit() -> None:
    model = _Model()
    queue: MergingQueue[str, str] = MergingQueue(3, model.run)
    first = asyncio.create_task(queue.submit(["a"]))
    await _settle()
    later = [asyncio.create_task(queue.submit(batch)) for batch in (["b", "c"], ["d", "e"], ["f"], ["g", "h", "i", "j"])]
    await _settle()
    model.release.set()
    await first
    assert [await t for t in later] == [["done:b", "done:c"], ["done:d", "done:e"], ["done:f"],
                                        ["done:g", "done:h", "done:i", "done:j"]]
    # b+c fit; d+e would pass 3 and wait; then d+e+f; a batch over the limit runs alone
    assert model.runs == [["a"], ["b", "c"], ["d", "e", "f"], ["g", "h", "i", "j"]]


async def test_a_failed_run_fails_its_callers_only() -> None:
    model = _Model(fail_on="b")
    queue: MergingQueue[str, str] = MergingQueue(2, model.run)
    first = asyncio.create_task(queue.submit(["a"]))
    await _settle()
    broken = [asyncio.create_task(queue.submit([x])) for x in ("b", "c")]
    fine = asyncio.create_task(queue.submit(["d"]))
    await _settle()
    model.release.set()
    assert await first == ["done:a"]
    for task in broken:
        with pytest.raises(RuntimeError, match="broken batch"):
            await task
    assert await fine == ["done:d"]
    assert model.runs == [["a"], ["b", "c"], ["d"]]
