"""A real ``redis-server`` for the tests of the Redis event bus, skipped (with the reason) where it is missing.

Used as ``with redis_or_skip(tmp_path) as url:`` from a fixture in the test module (no conftest needed).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from eval.local_redis import LocalRedis, available


def skip_without_redis() -> None:
    """Skip the test when the server binary or the client library is not installed, saying which."""
    if not available():
        pytest.skip("redis-server is not installed (apt-get install redis-server; scripts/bootstrap.sh does)")
    pytest.importorskip("redis", reason="the redis client is not installed (pip install -e '.[scale]')")


@contextmanager
def redis_or_skip(folder: Path) -> Iterator[str]:
    """A running server's URL, for a fixture; skips like ``skip_without_redis``."""
    skip_without_redis()
    with LocalRedis(folder) as url:
        yield url
