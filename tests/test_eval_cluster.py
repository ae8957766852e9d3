"""The scaled-out topology: deploy/'s files, and ``python -m eval cluster`` on local binaries with a worker killed.

The cluster run is the issue's target with scripted stages (tests/support/fake_worker.py): PostgreSQL, Redis,
two workers behind HAProxy rendered from deploy/haproxy.cfg, four calls, the busiest worker SIGKILLed mid-call.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from eval import local_postgres, local_redis
from eval.cluster import CallRun, Widget, pick_victim
from eval.cluster_topology import HAPROXY_CFG, render_haproxy

REPO = Path(__file__).resolve().parents[1]
COMPOSE = REPO / "deploy" / "compose.yaml"


def test_compose_file_parses_and_holds_the_topology() -> None:
    compose = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    services = compose["services"]
    for name in ("postgres", "redis", "asr-pool", "worker", "haproxy"):
        assert "healthcheck" in services[name], f"{name} has a healthcheck"
    env = services["worker"]["environment"]
    assert env["ASSIST_DATABASE_URL"].startswith("postgresql://assist:")
    assert env["ASSIST_REDIS_URL"] == "redis://redis:6379/0"
    assert env["ASSIST_ASR__POOL"] == "ray" and env["ASSIST_ASR__POOL_ADDRESS"] == "http://asr-pool:8100/asr"
    assert env["ASSIST_AUTH__MODE"] == "keys", "containers listen beyond loopback: never open mode"
    assert services["asr-pool"]["environment"] == env, "the pool reads the workers' asr settings"
    assert "./haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro" in services["haproxy"]["volumes"]
    assert {d: c["condition"] for d, c in services["worker"]["depends_on"].items()} == {
        "postgres": "service_healthy", "redis": "service_healthy", "asr-pool": "service_healthy"}
    assert (REPO / services["asr-pool"]["build"]["dockerfile"]).exists()


def test_haproxy_config_rendered_for_local_workers() -> None:
    rendered = render_haproxy(HAPROXY_CFG.read_text(encoding="utf-8"), [9101, 9102], lb_port=9100, stats_port=9103)
    lines = [line.strip() for line in rendered.splitlines()]
    servers = [line for line in lines if line.startswith("server ")]
    assert servers == ["server worker1 127.0.0.1:9101 check", "server worker2 127.0.0.1:9102 check"] * 2
    assert "bind 127.0.0.1:9100" in lines and "bind 127.0.0.1:9103" in lines
    assert not any(line.startswith(("resolvers", "nameserver", "server-template")) for line in lines)
    audio = lines[lines.index("backend call_audio"):lines.index("backend workers")]
    assert "balance hash path,field(4,/)" in audio and "hash-type consistent" in audio
    assert any(line.startswith("timeout tunnel") for line in lines)


@pytest.mark.skipif(shutil.which("haproxy") is None, reason="haproxy is not installed (scripts/bootstrap.sh)")
def test_haproxy_accepts_both_configs(tmp_path: Path) -> None:
    local = tmp_path / "local.cfg"
    local.write_text(render_haproxy(HAPROXY_CFG.read_text(encoding="utf-8"), [9101], lb_port=9100, stats_port=9103))
    for cfg in (HAPROXY_CFG, local):
        done = subprocess.run(["haproxy", "-c", "-f", str(cfg)], capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr


def test_the_victim_is_the_worker_running_the_most_live_calls() -> None:
    runs = [CallRun("a", 8.0, {"worker1"}, started=True), CallRun("b", 8.0, {"worker2"}, started=True),
            CallRun("c", 8.0, {"worker2"}, started=True, finished=True), CallRun("d", 8.0, {"worker1"}, started=True)]
    widgets = [Widget("a", servers=["worker2"]), Widget("b", servers=["worker1"], done=True)]
    assert pick_victim(runs, widgets, ["worker1", "worker2"]) == "worker1"  # c has finished: 2 live vs 1
    runs[0].dropped = True
    assert pick_victim(runs, widgets, ["worker1", "worker2"]) == "worker2"  # 1 call each; a live widget on worker2


async def test_widget_resumes_after_a_drop_and_reconnects_when_stalled() -> None:
    """A socket that dies mid-stream, then one that never ends: the widget resumes from its last seq both times."""
    from websockets.asyncio.server import serve

    asked: list[str] = []

    async def handler(ws: Any) -> None:
        asked.append(ws.request.path)
        after = int(ws.request.path.rsplit("after_seq=", 1)[1])
        if len(asked) == 1:  # two events, then the connection is cut (a killed worker)
            for seq in (1, 2):
                await ws.send(json.dumps({"type": "transcript", "seq": seq, "final": True}))
            ws.transport.abort()
        elif len(asked) == 2:  # the rest so far, then silence: the call's end never comes
            await ws.send(json.dumps({"type": "status", "seq": after + 1}))
            await ws.wait_closed()
        else:  # the stored replay: the end, and a normal close
            await ws.send(json.dumps({"type": "call_ended", "seq": after + 1}))

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        widget = Widget("c1")
        task = asyncio.create_task(widget.run(f"ws://127.0.0.1:{port}"))
        async with asyncio.timeout(10):
            while widget.last < 3:
                await asyncio.sleep(0.02)
            await widget.reconnect()
            await task
    assert [p.rsplit("after_seq=", 1)[1] for p in asked] == ["0", "2", "3"]
    assert widget.seen == {1: "transcript", 2: "transcript", 3: "status", 4: "call_ended"}
    assert widget.done and widget.stalled == 1 and widget.dropped_by == ["?"] and widget.finals == 2
    assert widget.repeated == 0


def _stray(marker: str) -> list[str]:
    """Command lines of running processes that mention ``marker``."""
    found = []
    for proc in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            cmd = proc.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmd and str(os.getpid()) != proc.parent.name:
            found.append(cmd)
    return found


@pytest.mark.slow
@pytest.mark.skipif(not (local_postgres.available() and local_redis.available() and shutil.which("haproxy")),
                    reason="needs Debian's postgresql, redis-server and haproxy (scripts/cluster.sh installs them)")
def test_eval_cluster_survives_a_killed_worker() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "eval", "cluster", "--workers", "2", "--calls", "4", "--kill-one", "--fake-models",
         "--worker-ttl", "3", "--json"],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["calls"] == 4 and report["workers"] == 2
    assert report["completed"] + report["interrupted"] == 4 and report["still_live"] == 0
    assert report["calls_on_killed"] >= 1 and report["interrupted"] == report["calls_on_killed"], \
        "exactly the killed worker's calls are interrupted"
    assert report["interrupted_with_notes"] == report["interrupted"]
    assert report["split_calls"] == 0, "both legs of a call reach one worker"
    assert report["events_stored"] >= 4 * 20, "the calls really ran"
    assert report["events_lost"] == 0 and report["events_repeated"] == 0
    assert report["supervisor_gaps"] == 0
    assert report["widgets_on_killed"] >= 1 and report["resumed"] == report["widgets_on_killed"]
    assert report["widget_errors"] == []
    assert report["batch_size_max"] is None, "no ASR pool with fake models"
    assert _stray("tests/support/fake_worker.py") == [] and _stray("assist-cluster-") == [], "all torn down"
