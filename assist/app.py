"""FastAPI app factory: one ``Settings`` in, one app out; models load off the event loop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from assist import __version__
from assist.config import Settings
from assist.services import Services

log = logging.getLogger(__name__)


def create_app(settings: Settings, services: Services | None = None) -> FastAPI:
    services = services or Services(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loading = None
        if settings.server.preload_models:
            loading = asyncio.get_running_loop().run_in_executor(None, services.load)
        try:
            yield
        finally:
            if loading is not None:
                await asyncio.wait([loading], timeout=0)
            services.close()

    app = FastAPI(
        title="agent-assist",
        version=__version__,
        description="Real-time agent assist for contact centers: live transcript, FAQ suggestions, "
        "reply drafts and after-call notes.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.services = services

    @app.get("/healthz", tags=["operations"], summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.get("/readyz", tags=["operations"], summary="Models are loaded and calls can be served")
    async def readyz() -> JSONResponse:
        state = services.readiness()
        return JSONResponse(state, status_code=200 if state["ready"] else 503)

    return app
