"""The FastAPI app: a thin layer from HTTP to workflow updates, queries and the DB mirror."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import errors
from api.deps import AppState
from api.routers import health, projects, runs, telemetry
from slipway.db import make_engine
from slipway.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.resolved_database_url)
        app.state.slipway = AppState(settings, engine)
        yield
        engine.dispose()

    app = FastAPI(
        title="Slipway",
        summary="Run coding agents against git repositories as durable Temporal workflows.",
        version="0.1.0",
        lifespan=lifespan,
    )
    errors.install(app)
    app.include_router(projects.router)
    app.include_router(runs.router)
    app.include_router(telemetry.router)
    app.include_router(health.router)

    @app.get("/health", tags=["health"])
    def service_health() -> dict[str, str]:
        return {"status": "healthy", "version": app.version}

    return app


def app() -> FastAPI:
    """Factory for `uvicorn --factory api.app:app`."""
    return create_app()
