"""Wait for a condition with a deadline instead of sleeping a fixed time: a slow, shared box is then not a
failing test, a fast one does not wait for nothing, and a real failure says what never happened."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(condition: Callable[[], T], timeout_s: float = 10.0, what: str = "the condition", *,
               interval_s: float = 0.05) -> T:
    """Poll ``condition`` until it returns a truthy value, which is returned; fail the test at the deadline."""
    deadline = time.monotonic() + timeout_s
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(interval_s)
    return value


async def async_wait_until(condition: Callable[[], T], timeout_s: float = 10.0, what: str = "the condition", *,
                           interval_s: float = 0.02) -> T:
    """``wait_until`` inside a coroutine: polls without blocking the event loop the condition may depend on."""
    deadline = time.monotonic() + timeout_s
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")
        await asyncio.sleep(interval_s)
    return value
