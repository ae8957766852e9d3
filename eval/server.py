"""Run the real service for an evaluation: a throwaway home holding one knowledge base.

The child process is the same ``assist serve`` an operator runs. Its home is a temporary folder whose
``models/`` links to the already prepared model cache (nothing is copied or re-prepared), so the
evaluation never touches the operator's calls or knowledge base.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from config import Settings
from knowledge.io import apply_import, read_path
from knowledge.store import KnowledgeStore

log = logging.getLogger(__name__)


class ServerError(RuntimeError):
    """The evaluation server did not become ready; the message carries the tail of its log."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare_home(home: Path, kb: Path, settings: Settings) -> int:
    """Link the model cache and import ``kb`` into ``home``; returns the number of articles."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "models").symlink_to(settings.models_dir.resolve(), target_is_directory=True)
    store = KnowledgeStore(Settings(home=home).kb_path)
    try:
        return apply_import(store, read_path(kb)).total
    finally:
        store.close()


@dataclass(frozen=True)
class EvalServer:
    """A running evaluation server: its ``ws://`` base URL and its process id (for /proc readings)."""

    url: str
    pid: int


@contextmanager
def running_server(
    kb: Path, settings: Settings, *, config: Path | None = None, ready_timeout_s: float = 300.0
) -> Iterator[str]:
    """Yield the ``ws://`` base URL of a fresh server that serves ``kb``; stop it on exit."""
    with eval_server(kb, settings, config=config, ready_timeout_s=ready_timeout_s) as server:
        yield server.url


@contextmanager
def eval_server(
    kb: Path, settings: Settings, *, config: Path | None = None, ready_timeout_s: float = 300.0
) -> Iterator[EvalServer]:
    """Start ``assist serve`` over ``kb`` in a throwaway home; stop it on exit."""
    with tempfile.TemporaryDirectory(prefix="assist-eval-") as tmp:
        home = Path(tmp) / "home"
        n = prepare_home(home, kb, settings)
        port = free_port()
        # loopback only, so the throwaway server needs no API keys
        env = {**os.environ, "ASSIST_HOME": str(home), "ASSIST_LOG_LEVEL": "WARNING", "ASSIST_AUTH__MODE": "open"}
        cmd = [sys.executable, "-m", "assist.cli"] + (["--config", str(config)] if config else [])
        cmd += ["serve", "--host", "127.0.0.1", "--port", str(port)]
        log_path = Path(tmp) / "server.log"
        with open(log_path, "wb") as log_file:
            proc = subprocess.Popen(cmd, env=env, stdout=log_file, stderr=subprocess.STDOUT)
            try:
                wait_ready(proc, f"http://127.0.0.1:{port}", ready_timeout_s, log_path)
                log.info("evaluation server on port %d with %d articles", port, n)
                yield EvalServer(f"ws://127.0.0.1:{port}", proc.pid)
            finally:
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def _tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def wait_ready(proc: subprocess.Popen, base: str, timeout_s: float, log_path: Path) -> None:
    """Until ``base``/readyz answers 200; ``ServerError`` with the log's tail if the process dies or fails to load."""
    deadline = time.monotonic() + timeout_s
    last = ""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerError(f"server exited with code {proc.returncode}:\n{_tail(log_path)}")
        try:
            r = httpx.get(f"{base}/readyz", timeout=2.0)
            state = r.json()
            if r.status_code == 200:
                return
            if state.get("error"):
                raise ServerError(f"server failed to load models: {state['error']}\n{_tail(log_path)}")
            last = str(state)
        except httpx.HTTPError as exc:
            last = str(exc)
        time.sleep(0.5)
    raise ServerError(f"server not ready after {timeout_s:.0f} s ({last}):\n{_tail(log_path)}")
