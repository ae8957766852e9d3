"""A throw-away PostgreSQL server (Debian's binaries) in a temporary folder, for tests and measurements.

``initdb`` into the folder, ``postgres`` with its unix socket there (no TCP listener: nothing outside this
machine can reach it), ``stop`` ends it and removes the folder. PostgreSQL refuses to run as root; as root the
server runs as the ``postgres`` user (or ``nobody``) through ``setpriv``, the folder handed to that user.
"""

from __future__ import annotations

import glob
import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

log = logging.getLogger(__name__)

SUPERUSER = "assist"
_SERVER_USERS = ("postgres", "nobody")
# Only for throw-away servers: a crash may lose them, which tests and measurements do not mind.
FAST_UNSAFE = ("fsync=off", "full_page_writes=off", "synchronous_commit=off")


def bin_dir() -> Path | None:
    """The newest installed server's ``bin`` folder (``initdb`` is not on Debian's PATH)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[4]))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def available() -> bool:
    return bin_dir() is not None and (os.geteuid() != 0 or _server_user() is not None)


def _server_user() -> pwd.struct_passwd | None:
    for name in _SERVER_USERS:
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalPostgres:
    """``with LocalPostgres() as pg:`` a running server; ``pg.create_database(name)`` gives a database's URL.

    ``durable=False`` turns off fsync and synchronous commits (tests); ``True`` keeps PostgreSQL's defaults,
    which is what a measurement of commit throughput must run with."""

    def __init__(self, *, durable: bool = False, timeout_s: float = 30.0) -> None:
        self.durable = durable
        self.timeout_s = timeout_s
        self.port = 0
        self.folder: Path | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self._bin: Path | None = None
        self._prefix: list[str] = []

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@/{database}?host={self.folder}&port={self.port}"

    def start(self) -> str:
        self._bin = bin_dir()
        if self._bin is None:
            raise FileNotFoundError("PostgreSQL's initdb is not installed (Debian: apt-get install postgresql)")
        self.folder = Path(tempfile.mkdtemp(prefix="assist-pg-"))  # short: a socket path has ~100 bytes
        if os.geteuid() == 0:
            user = _server_user()
            if user is None:
                raise PermissionError("PostgreSQL does not run as root and there is no postgres or nobody user")
            os.chown(self.folder, user.pw_uid, user.pw_gid)
            self._prefix = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups"]
        data = self.folder / "data"
        self._run("initdb", "-D", str(data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--no-locale",
                  "--no-sync")
        self.port = _free_port()
        settings = ["listen_addresses=", f"unix_socket_directories={self.folder}", "max_connections=200"]
        if not self.durable:
            settings += FAST_UNSAFE
        log_path = self.folder / "postgres.log"
        with open(log_path, "wb") as log_file:
            self.proc = subprocess.Popen(
                [*self._prefix, str(self._bin / "postgres"), "-D", str(data), "-p", str(self.port),
                 *[arg for s in settings for arg in ("-c", s)]],
                stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + self.timeout_s
        while not self._ready():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text(errors="replace")[-2000:] if log_path.exists() else ""
                self.stop()
                raise RuntimeError(f"postgres did not start (port {self.port}):\n{tail}")
            time.sleep(0.05)
        log.info("postgres on %s, port %d", self.folder, self.port)
        return self.url()

    def create_database(self, name: str) -> str:
        """A new, empty database; its URL."""
        self._run("createdb", "-h", str(self.folder), "-p", str(self.port), "-U", SUPERUSER, name)
        return self.url(name)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # "fast" shutdown: SIGTERM would wait for every client to leave
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def _ready(self) -> bool:
        assert self._bin is not None
        done = subprocess.run([str(self._bin / "pg_isready"), "-q", "-h", str(self.folder), "-p", str(self.port)],
                              check=False)
        return done.returncode == 0

    def _run(self, tool: str, *args: str) -> None:
        assert self._bin is not None
        cmd = [str(self._bin / tool), *args]
        if tool == "initdb":
            cmd = [*self._prefix, *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")

    def __enter__(self) -> LocalPostgres:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
