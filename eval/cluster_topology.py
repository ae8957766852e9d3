"""The scaled-out topology from local binaries: PostgreSQL, Redis, N ``assist serve`` workers, HAProxy, and
optionally the Ray Serve model pools (recognition and embeddings), all in one temporary folder and torn down together.

``python -m eval.cluster_topology --workers 2 --port 8000`` (``scripts/cluster.sh``) serves until Ctrl-C;
``python -m eval cluster`` measures it. The balancer runs ``deploy/haproxy.cfg`` itself, rendered for local
processes (``render_haproxy``), so what is tested here is what ships. The engines are Debian's binaries
(``postgresql``, ``redis-server``, ``haproxy``; ``scripts/bootstrap.sh`` installs them as root); the database is
a throw-away one (``eval/local_postgres.py``: fsync off), so this is for tests, measurements and trials, not
for keeping calls.
"""

from __future__ import annotations

import argparse
import csv
import io
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import httpx

from config import Settings, load_settings
from eval.callset import SPLIT_KB
from eval.local_postgres import LocalPostgres
from eval.local_redis import LocalRedis
from eval.server import ServerError, free_port, wait_ready
from knowledge.io import apply_import, read_path
from knowledge.store import KnowledgeStore

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]
HAPROXY_CFG = REPO / "deploy" / "haproxy.cfg"
FAKE_WORKER = REPO / "tests" / "support" / "fake_worker.py"
LB_PORT, STATS_PORT = 8000, 8404  # the template's bind ports
BACKENDS = ("call_audio", "workers")


class TopologyError(RuntimeError):
    """A part of the topology is missing or did not start; ``code`` says which."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def render_haproxy(template: str, ports: Sequence[int], *, lb_port: int, stats_port: int,
                   host: str = "127.0.0.1") -> str:
    """``deploy/haproxy.cfg`` for workers on ``host``: ``server-template NAME 1-K ADDR OPTS`` becomes
    ``server NAME{i} host:port OPTS`` per worker (without the DNS options), the ``resolvers`` section goes, and
    the template's bind ports become ``lb_port`` / ``stats_port`` on ``host``."""
    binds = {str(LB_PORT): lb_port, str(STATS_PORT): stats_port}
    out: list[str] = []
    in_resolvers = False
    for line in template.splitlines():
        stripped = line.strip()
        indent = line[: len(line) - len(line.lstrip())]
        if in_resolvers and (not stripped or indent):
            continue
        in_resolvers = stripped.startswith("resolvers ")
        if in_resolvers:
            continue
        words = stripped.split()
        if words[:1] == ["bind"]:
            port = words[1].rsplit(":", 1)[-1]
            if port not in binds:
                raise TopologyError("bad_haproxy_template", f"unexpected bind {words[1]!r} in the template")
            line = f"{indent}bind {host}:{binds[port]}"
        elif words[:1] == ["server-template"]:
            options: list[str] = []
            rest = iter(words[4:])
            for word in rest:
                if word in ("resolvers", "init-addr", "resolve-prefer"):
                    next(rest, None)  # and its argument
                else:
                    options.append(word)
            out += [" ".join([f"{indent}server", f"{words[1]}{i}", f"{host}:{port}", *options])
                    for i, port in enumerate(ports, 1)]
            continue
        out.append(line)
    return "\n".join(out) + "\n"


@dataclass
class Worker:
    """One ``assist serve`` process; ``name`` is HAProxy's name for it (``X-Assist-Worker``)."""

    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return self.proc.poll() is None


class LocalTopology:
    """``with LocalTopology(workers=2) as topo:`` a running cluster; ``topo.http``/``topo.ws`` is the balancer.

    ``fake_models`` runs the tests' scripted stages (``tests/support/fake_worker.py``, a source checkout only);
    ``pool`` starts the Ray Serve pools, recognition and embeddings (``python -m assist.asr_pool --pools asr,embed``)
    and points the workers at them;
    ``env`` adds ``ASSIST_*`` settings for the workers (and the pool)."""

    def __init__(self, workers: int = 2, *, fake_models: bool = False, pool: bool = False,
                 kb: Sequence[Path] = (), lb_port: int = 0, env: Mapping[str, str] | None = None,
                 settings: Settings | None = None, ready_timeout_s: float = 300.0) -> None:
        if workers < 1:
            raise TopologyError("bad_workers", "at least one worker")
        if fake_models and pool:
            raise TopologyError("pool_needs_models", "the ASR pool decodes with the real models; drop --fake-models")
        self.n_workers = workers
        self.fake_models = fake_models
        self.pool = pool
        self.kb = list(kb)
        self.lb_port = lb_port
        self.env = dict(env or {})
        self.settings = settings or load_settings()
        self.ready_timeout_s = ready_timeout_s
        self.folder: Path | None = None
        self.postgres: LocalPostgres | None = None
        self.redis: LocalRedis | None = None
        self.database_url = ""
        self.redis_url = ""
        self.pool_address = ""
        self.embed_address = ""
        self.workers: list[Worker] = []
        self.stats_port = 0
        self._pool_proc: subprocess.Popen[bytes] | None = None
        self._haproxy: subprocess.Popen[bytes] | None = None

    # ---- addresses

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.lb_port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.lb_port}"

    def worker(self, name: str) -> Worker | None:
        return next((w for w in self.workers if w.name == name), None)

    # ---- start and stop

    def start(self) -> LocalTopology:
        self._check_binaries()
        self.folder = Path(tempfile.mkdtemp(prefix="assist-cluster-"))
        try:
            self.postgres = LocalPostgres()
            self.postgres.start()
            self.database_url = self.postgres.create_database("assist")
            self.redis = LocalRedis(self.folder / "redis")
            self.redis_url = self.redis.start()
            self._import_kb()
            if self.pool:
                self._start_pool()
            for i in range(1, self.n_workers + 1):
                self.workers.append(self._start_worker(i))
            for w in self.workers:
                wait_ready(w.proc, w.http, self.ready_timeout_s, w.log_path)
            self._start_haproxy()
        except BaseException:
            self.stop()
            raise
        log.info("cluster: %d workers behind %s (database %s, redis %s%s)", self.n_workers, self.http,
                 "postgres", self.redis_url, f", ASR pool {self.pool_address}" if self.pool else "")
        return self

    def stop(self) -> None:
        """Everything started, in reverse order; safe to call twice."""
        _end(self._haproxy, "haproxy")
        self._haproxy = None
        for w in self.workers:
            _end(w.proc, w.name)
        self.workers = []
        if self._pool_proc is not None:
            _end(self._pool_proc, "asr pool", group=True, grace_s=30)
            self._pool_proc = None
        if self.redis is not None:
            self.redis.stop()
            self.redis = None
        if self.postgres is not None:
            self.postgres.stop()
            self.postgres = None
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def kill(self, name: str) -> None:
        """SIGKILL one worker: its sockets drop, nothing of it runs on."""
        worker = self.worker(name)
        if worker is None:
            raise TopologyError("unknown_worker", f"no worker {name!r}")
        worker.proc.send_signal(signal.SIGKILL)
        worker.proc.wait(10)
        log.info("cluster: %s killed", name)

    def __enter__(self) -> LocalTopology:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # ---- the balancer's view

    def server_states(self) -> dict[str, dict[str, str]]:
        """HAProxy's status (``UP``, ``DOWN`` …) of each worker in each backend."""
        text = httpx.get(f"http://127.0.0.1:{self.stats_port}/stats;csv", timeout=5).text.lstrip("# ")
        states: dict[str, dict[str, str]] = {}
        for row in csv.DictReader(io.StringIO(text)):
            if row["pxname"] in BACKENDS and row["svname"] not in ("FRONTEND", "BACKEND"):
                states.setdefault(row["pxname"], {})[row["svname"]] = row["status"].split()[0]
        return states

    # ---- parts

    def _check_binaries(self) -> None:
        from eval import local_postgres, local_redis

        missing = [name for name, ok in (("postgresql", local_postgres.available()),
                                         ("redis-server", local_redis.available()),
                                         ("haproxy", shutil.which("haproxy") is not None)) if not ok]
        if missing:
            raise TopologyError("binaries_missing", f"not installed: {', '.join(missing)} (Debian: apt-get install "
                                f"{' '.join(missing)}; scripts/bootstrap.sh does it as root)")
        if self.fake_models and not FAKE_WORKER.exists():
            raise TopologyError("fake_models_unavailable", f"--fake-models needs a source checkout ({FAKE_WORKER})")

    def _import_kb(self) -> None:
        if not self.kb:
            return
        store = KnowledgeStore(self.database_url)
        try:
            for path in self.kb:
                apply_import(store, read_path(path))
        finally:
            store.close()

    def _worker_env(self, home: Path, name: str | None = None) -> dict[str, str]:
        env = {**os.environ, "ASSIST_HOME": str(home), "ASSIST_DATABASE_URL": self.database_url,
               "ASSIST_REDIS_URL": self.redis_url, "ASSIST_AUTH__MODE": "open",
               "ASSIST_LOG_LEVEL": os.environ.get("ASSIST_LOG_LEVEL", "WARNING"), "PYTHONPATH": str(REPO)}
        if name is not None:  # the worker id is HAProxy's name for it: X-Assist-Worker and worker_id agree
            env["ASSIST_SERVER__WORKER_ID"] = name
        if self.pool:
            env |= {"ASSIST_ASR__POOL": "ray", "ASSIST_ASR__POOL_ADDRESS": self.pool_address,
                    "ASSIST_RETRIEVAL__POOL": "ray", "ASSIST_RETRIEVAL__POOL_ADDRESS": self.embed_address}
        return env | self.env

    def _start_worker(self, index: int) -> Worker:
        assert self.folder is not None
        name = f"worker{index}"
        home = self.folder / name
        home.mkdir()
        (home / "models").symlink_to(self.settings.models_dir.resolve(), target_is_directory=True)
        port = free_port()
        if self.fake_models:
            cmd = [sys.executable, str(FAKE_WORKER), "--port", str(port)]
        else:
            cmd = [sys.executable, "-m", "assist.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
        log_path = self.folder / f"{name}.log"
        with open(log_path, "wb") as out:
            proc = subprocess.Popen(cmd, env=self._worker_env(home, name), stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        return Worker(name, port, proc, log_path)

    def _start_pool(self) -> None:
        assert self.folder is not None
        port = free_port()
        self.pool_address = f"http://127.0.0.1:{port}/asr"
        self.embed_address = f"http://127.0.0.1:{port}/embed"
        env = self._worker_env(self.folder)
        log_path = self.folder / "asr_pool.log"
        with open(log_path, "wb") as out:
            self._pool_proc = subprocess.Popen([sys.executable, "-m", "assist.asr_pool", "--pools", "asr,embed"],
                                               env=env, stdout=out,
                                               stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                               start_new_session=True)
        deadline = time.monotonic() + self.ready_timeout_s
        while not (_answers(f"{self.pool_address}/stats") and _answers(f"{self.embed_address}/stats")):
            if self._pool_proc.poll() is not None or time.monotonic() > deadline:
                raise ServerError(f"the ASR pool did not start:\n{_tail(log_path)}")
            time.sleep(0.5)

    def _start_haproxy(self) -> None:
        assert self.folder is not None
        self.lb_port = self.lb_port or free_port()
        self.stats_port = free_port()
        cfg = self.folder / "haproxy.cfg"
        cfg.write_text(render_haproxy(HAPROXY_CFG.read_text(encoding="utf-8"), [w.port for w in self.workers],
                                      lb_port=self.lb_port, stats_port=self.stats_port), encoding="utf-8")
        log_path = self.folder / "haproxy.log"
        with open(log_path, "wb") as out:
            self._haproxy = subprocess.Popen(["haproxy", "-db", "-f", str(cfg)], stdout=out,
                                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                             start_new_session=True)
        deadline = time.monotonic() + 30
        names = {w.name for w in self.workers}
        while True:
            if self._haproxy.poll() is not None:
                raise ServerError(f"haproxy exited with {self._haproxy.returncode}:\n{_tail(log_path)}")
            try:
                states = self.server_states()
                if all({n for n, s in states.get(b, {}).items() if s == "UP"} == names for b in BACKENDS):
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise ServerError(f"haproxy did not see every worker up:\n{_tail(log_path)}")
            time.sleep(0.2)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _tail(path: Path, lines: int = 30) -> str:
    if not path.exists():
        return ""
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def _end(proc: subprocess.Popen[bytes] | None, what: str, *, group: bool = False, grace_s: float = 15) -> None:
    """SIGTERM (the process group with ``group``: Ray's own processes), then SIGKILL after ``grace_s``."""
    if proc is None:
        return
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop in %.0f s; killing it", what, grace_s)
            proc.kill()
            proc.wait()
    if group:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # its own session: whatever it left behind
        except ProcessLookupError:
            pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.cluster_topology",
                                     description="Run PostgreSQL, Redis, N workers and HAProxy locally until Ctrl-C.")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=LB_PORT, help="the balancer's port on 127.0.0.1 (0: a free one)")
    parser.add_argument("--pool", action="store_true", help="recognition on the Ray Serve pool")
    parser.add_argument("--fake-models", action="store_true", help="the tests' scripted stages, no models")
    parser.add_argument("--kb", type=Path, action="append", help="articles to import (default: the eval KB)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per health poll otherwise
    kb = args.kb or ([] if args.fake_models else list(SPLIT_KB))
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        with LocalTopology(args.workers, fake_models=args.fake_models, pool=args.pool, kb=kb,
                           lb_port=args.port) as topo:
            print(f"balancer {topo.http}  (HAProxy stats http://127.0.0.1:{topo.stats_port}/stats)", flush=True)
            for w in topo.workers:
                print(f"{w.name} {w.http} pid {w.proc.pid}  log {w.log_path}", flush=True)
            print(f"ASSIST_DATABASE_URL={topo.database_url}\nASSIST_REDIS_URL={topo.redis_url}"
                  + (f"\nASSIST_ASR__POOL_ADDRESS={topo.pool_address}" if args.pool else ""), flush=True)
            print("Ctrl-C stops everything", flush=True)
            stop.wait()
    except (TopologyError, ServerError) as exc:
        code = getattr(exc, "code", "cluster_failed")
        print(f"cluster: error [{code}]: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
