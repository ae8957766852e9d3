"""The app served by a child Python process, for tests that must kill it or read everything it logs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from support.wait import wait_until

REPO = Path(__file__).resolve().parents[2]


def start_server(home: Path, log: Path, script: Path) -> tuple[subprocess.Popen, int]:
    """Run ``script HOME PORT`` (a module whose ``__main__`` serves the app) and wait until it is ready."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, str(script), str(home), str(port)], env=env,
                            stdout=log.open("ab"), stderr=subprocess.STDOUT)

    def ready() -> bool:
        assert proc.poll() is None, f"the server exited with {proc.returncode}"
        try:
            return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(ready, 60, "the server to answer /readyz", interval_s=0.2)
    except AssertionError as exc:
        proc.kill()
        raise AssertionError(f"{exc}; its log:\n{log.read_text()}") from None
    return proc, port
