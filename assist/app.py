"""FastAPI app factory: one ``Settings`` in, one app out; models load off the event loop."""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from assist import __version__, api_calls, api_keys, auth, http_auth, notices, security, ws, ws_twilio
from assist.api_insights import router as insights_router
from assist.api_supervisor import router as supervisor_router
from assist.bus import open_bus
from assist.calls import CallManager
from assist.reaper import start_worker
from assist.services import Services
from config import Settings
from models import enforce_offline

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"


def _optional_router(module: str) -> APIRouter | None:
    """Routers owned by other packages, mounted when they are installed."""
    try:
        return importlib.import_module(module).router
    except ModuleNotFoundError as exc:
        if exc.name and module.startswith(exc.name):
            log.warning("%s is not available; its endpoints are not mounted", module)
            return None
        raise


def create_app(settings: Settings, services: Services | None = None, *, status_interval_s: float = 2.0) -> FastAPI:
    """Build the app; hub access is switched off here too, so an app built without the CLI is also offline."""
    enforce_offline(settings.allow_downloads)  # before Services loads any model library
    services = services or Services(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        bus = await open_bus(settings, services.call_store)  # in memory, or Redis with ASSIST_REDIS_URL
        try:  # its id and heartbeat; calls left live by a dead worker (or this one's last run) interrupted
            worker = await start_worker(settings, services, bus)
        except BaseException:
            await bus.close()
            raise
        app.state.worker_id = worker.id
        notices.install(bus, services, app.state.auth, loop)
        app.state.bus = bus
        calls = CallManager(settings, services.stages, services.call_store, loop=loop,
                            status_interval_s=status_interval_s, bus=bus, worker_id=worker.id)
        app.state.calls = calls
        loading = None
        if settings.server.preload_models:
            loading = loop.run_in_executor(None, services.load)
        try:
            yield
        finally:
            await calls.shutdown()
            await worker.close()
            await bus.close()
            if loading is not None:
                await asyncio.wait([loading], timeout=0)
            services.close()
            app.state.auth.close()

    app = FastAPI(
        title="agent-assist",
        version=__version__,
        description="Real-time agent assist for contact centers: live transcript, FAQ suggestions, "
        "reply drafts and after-call notes.",
        lifespan=lifespan,
        dependencies=[Depends(auth.authorize)],  # one policy check for every route, see assist/auth.py
    )
    auth.install(app, settings)
    security.install(app, settings)
    app.state.settings = settings
    app.state.services = services
    app.state.call_store = services.call_store
    app.add_exception_handler(api_calls.ApiError, api_calls.api_error_handler)
    app.add_exception_handler(RequestValidationError, api_calls.validation_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_auth.http_error_handler)

    @app.get("/healthz", tags=["operations"], summary="The process is alive")
    async def healthz() -> dict[str, str | None]:
        # worker_id: which worker answered (behind a balancer; GET /api/calls/{id} names the one running a call)
        return {"status": "ok", "version": __version__, "worker_id": getattr(app.state, "worker_id", None)}

    @app.get("/readyz", tags=["operations"], summary="Models are loaded and calls can be served")
    async def readyz() -> JSONResponse:
        state = services.readiness()
        return JSONResponse(state, status_code=200 if state["ready"] else 503)

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics")
    async def metrics_endpoint() -> Response:
        calls: CallManager | None = getattr(app.state, "calls", None)
        if calls is not None:
            calls.update_metrics()
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    kb_router = _optional_router("knowledge.api")
    if kb_router is not None:
        app.include_router(kb_router)
    app.include_router(api_calls.router)
    app.include_router(api_keys.router)
    app.include_router(supervisor_router)
    app.include_router(insights_router)
    app.include_router(ws.router)
    app.include_router(ws_twilio.router)
    if STATIC_DIR.is_dir():
        @app.get("/supervisor", tags=["operations"], summary="The supervisor console (a page; its data needs a "
                 "supervisor key)", include_in_schema=False)
        async def supervisor_page() -> FileResponse:
            # the page is public like the widget's files (a browser cannot send the key with a page load): it asks
            # for the key, and every socket and REST call it makes checks the supervisor role (calls:watch)
            return FileResponse(STATIC_DIR / "supervisor.html", media_type="text/html")

        app.mount("/", StaticFiles(directory=STATIC_DIR, html=True), name="widget")
    return app
