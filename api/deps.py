"""Dependencies shared by the routers, as `Annotated` aliases."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.engine import Engine
from sqlmodel import Session
from temporalio.client import Client

from api.errors import Problem
from slipway.settings import Settings
from worker.client import connect


class AppState:
    """What one API process holds: settings, the DB engine and a lazily made Temporal client
    (the API starts, and answers reads, while Temporal is still coming up)."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self._client: Client | None = None
        self._lock = asyncio.Lock()

    async def temporal(self) -> Client:
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                try:
                    self._client = await asyncio.wait_for(connect(self.settings), timeout=10)
                except Exception as e:
                    raise Problem(
                        503,
                        "temporal-unavailable",
                        "Temporal is unavailable",
                        f"Cannot reach Temporal at {self.settings.temporal_address}: {e}",
                    ) from e
            return self._client


def get_state(request: Request) -> AppState:
    return request.app.state.slipway  # type: ignore[no-any-return]


def get_session(request: Request) -> Iterator[Session]:
    with Session(get_state(request).engine) as session:
        yield session


async def get_temporal(request: Request) -> Client:
    return await get_state(request).temporal()


StateDep = Annotated[AppState, Depends(get_state)]
SessionDep = Annotated[Session, Depends(get_session)]
TemporalDep = Annotated[Client, Depends(get_temporal)]
