"""Every route × every role against the real server in keys mode; the route list comes from the app itself,
so a new endpoint without an entry in ``assist.auth.POLICY`` fails here."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.routing import APIRoute, APIWebSocketRoute, iter_route_contexts
from support.auth import AUTH_CODES, KeyedServer, keyed_settings, start_keyed, ws_outcome
from support.live import fake_stages

from assist.app import create_app
from assist.auth import GRANTS, POLICY, ROLES
from assist.services import Services


def _route_keys() -> list[str]:
    home = Path(tempfile.mkdtemp(prefix="auth-routes-"))
    app = create_app(keyed_settings(home), Services(keyed_settings(home), stages=fake_stages()))
    keys = []
    for ctx in iter_route_contexts(app.routes):  # flattens included routers (FastAPI >= 0.160)
        route = ctx.original_route
        if isinstance(route, APIRoute):
            keys += [f"{m} {ctx.path}" for m in sorted(route.methods - {"HEAD"})]
        elif isinstance(route, APIWebSocketRoute):
            keys.append(f"WS {ctx.path}")
    return keys


ROUTES = _route_keys()
OWNED_CALL = "owned-call"
BODIES = {"PATCH /api/calls/{call_id}/summary": {"language": "ja"},
          "POST /api/calls/{call_id}/feedback": {"article_id": "lost-card", "action": "clicked"},
          "POST /api/keys": {"role": "agent", "name": "made-by-test"}}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeyedServer]:
    keyed = start_keyed(tmp_path_factory.mktemp("auth"))
    keyed.srv.services.call_store.create_call(OWNED_CALL, language="ja", source="websocket", legs=["customer"],
                                              metadata={"owner": keyed.key_ids["agent"]})
    yield keyed
    keyed.srv.__exit__(None, None, None)


def _path(template: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: OWNED_CALL if m.group(1) == "call_id" else "nothing", template)


def test_every_route_has_a_policy() -> None:
    assert ROUTES, "no routes found"
    missing = [r for r in ROUTES if r not in POLICY]
    assert not missing, f"routes without an access policy in assist.auth.POLICY: {missing}"
    assert all(POLICY[r] in GRANTS for r in ROUTES), "a policy names an unknown permission"
    stale = sorted(set(POLICY) - set(ROUTES))
    assert not stale, f"policies for routes that do not exist: {stale}"


@pytest.mark.parametrize("role", [*ROLES, None])
@pytest.mark.parametrize("route", ROUTES)
async def test_route_role(server: KeyedServer, route: str, role: str | None) -> None:
    permission = POLICY[route]
    allowed = permission == "public" or (role is not None and role in GRANTS[permission])
    method, template = route.split(" ", 1)
    if method == "WS":
        first = {"type": "start", "encoding": "pcm16", "sample_rate": 16000} if role is None else None
        message, code = await ws_outcome(f"{server.url}{_path(template)}", headers=server.headers(role), first=first)
        refused = message is not None and message.get("code") in AUTH_CODES
        if allowed:
            assert not refused, f"{role} refused on {route}: {message}"
        else:
            assert refused and code == 1008, f"{role} not refused on {route}: {message} / {code}"
            assert message["code"] == ("unauthorized" if role is None else "forbidden")
        return
    async with httpx.AsyncClient(base_url=server.http, timeout=10) as client:
        r = await client.request(method, _path(template), headers=server.headers(role), json=BODIES.get(route))
    if allowed:
        assert r.status_code not in (401, 403), f"{role} refused on {route}: {r.status_code} {r.text}"
        assert r.status_code < 500 or r.status_code == 503, r.text  # 503: the KB is not loaded with fakes
    elif role is None:
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
        assert r.headers["www-authenticate"] == "Bearer"
    else:
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden", r.text


async def test_agents_see_only_their_own_calls(server: KeyedServer) -> None:
    async with httpx.AsyncClient(base_url=server.http, timeout=10) as client:
        mine = await client.get(f"/api/calls/{OWNED_CALL}", headers=server.headers("agent"))
        other = await client.get(f"/api/calls/{OWNED_CALL}", headers=server.headers("agent2"))
        feedback = await client.post(f"/api/calls/{OWNED_CALL}/feedback", headers=server.headers("agent2"),
                                     json=BODIES["POST /api/calls/{call_id}/feedback"])
        listed_mine = (await client.get("/api/calls", headers=server.headers("agent"))).json()["calls"]
        listed_other = (await client.get("/api/calls", headers=server.headers("agent2"))).json()["calls"]
        supervisor = (await client.get("/api/calls", headers=server.headers("supervisor"))).json()["calls"]
    assert mine.status_code == 200 and mine.json()["metadata"]["owner"] == server.key_ids["agent"]
    assert other.status_code == 403 and feedback.status_code == 403
    assert OWNED_CALL in [c["id"] for c in listed_mine]
    assert OWNED_CALL not in [c["id"] for c in listed_other]
    assert OWNED_CALL in [c["id"] for c in supervisor]


async def test_bad_and_revoked_keys_are_refused(server: KeyedServer) -> None:
    async with httpx.AsyncClient(base_url=server.http, timeout=10) as client:
        revoked = await client.get("/api/calls", headers={"Authorization": f"Bearer {server.revoked}"})
        garbage = await client.get("/api/calls", headers={"Authorization": "Bearer aa_zz_notakeyatallreally"})
        tampered = server.keys["admin"][:-2] + ("AA" if not server.keys["admin"].endswith("AA") else "BB")
        wrong_secret = await client.get("/api/calls", headers={"Authorization": f"Bearer {tampered}"})
        basic = await client.get("/api/calls", headers={"Authorization": "Basic dXNlcjpwYXNz"})
        query = await client.get(f"/api/calls?token={server.keys['admin']}")
        public = await client.get("/healthz")
    for r in (revoked, garbage, wrong_secret):
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_key"
    assert basic.status_code == 401 and basic.json()["error"]["code"] == "unauthorized"
    assert query.status_code == 401, "tokens in query strings must not be accepted"
    assert public.status_code == 200
