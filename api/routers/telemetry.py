"""A run's timeline (paged and live over SSE), its diff, files and summary."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import PlainTextResponse, Response
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from sse_starlette import EventSourceResponse, ServerSentEvent

from api.deps import SessionDep, StateDep
from api.errors import Problem, not_found
from api.pagination import MAX_LIMIT, page_of
from api.runs_service import get_run
from api.schemas import (
    DiffPublic,
    EventPublic,
    Page,
    RunFileDetail,
    RunFilePublic,
    SummaryPublic,
)
from slipway.db import AgentEvent, Run, RunFile
from slipway.statuses import AT_REST

router = APIRouter(prefix="/api/runs", tags=["telemetry"])

STREAM_POLL_SECONDS = 0.2
STREAM_BATCH = 500


def _event_query(
    run_id: int,
    since: int,
    event_types: list[str] | None = None,
    severity: str | None = None,
    path: str | None = None,
):  # type: ignore[no-untyped-def]
    query = select(AgentEvent).where(AgentEvent.run_id == run_id, col(AgentEvent.id) > since)
    if event_types:
        query = query.where(col(AgentEvent.event_type).in_(event_types))
    if severity:
        query = query.where(AgentEvent.severity == severity)
    if path:
        query = query.where(AgentEvent.path == path)
    return query.order_by(col(AgentEvent.id))


@router.get("/{run_id}/events", response_model=Page[EventPublic])
def list_events(
    run_id: int,
    session: SessionDep,
    since: Annotated[int, Query(ge=0, description="return events with id > since")] = 0,
    event_types: Annotated[
        str | None, Query(alias="eventTypes", description="comma-separated")
    ] = None,
    severity: str | None = None,
    path: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
) -> Page[EventPublic]:
    get_run(session, run_id)
    types = [t.strip() for t in event_types.split(",") if t.strip()] if event_types else None
    # Event cursors are plain ids: the same ids SSE sends, so either can resume the other.
    query = _event_query(run_id, since, types, severity, path)
    return page_of(session, query, limit, EventPublic.model_validate, cursor_of=str)


def _fetch(engine: Engine, run_id: int, after: int) -> tuple[list[AgentEvent], str | None]:
    """The run's status is read before its events: a status at rest is written after its
    last event, so an empty batch read after it means the client has everything."""
    with Session(engine) as session:
        run = session.get(Run, run_id)
        status = run.status if run else None
        rows = list(session.exec(_event_query(run_id, after).limit(STREAM_BATCH)).all())
        return rows, status


def _sse(event: AgentEvent) -> ServerSentEvent:
    data = EventPublic.model_validate(event).model_dump(by_alias=True, mode="json")
    return ServerSentEvent(data=json.dumps(data), event="agent_event", id=str(event.id))


@router.get(
    "/{run_id}/events/stream",
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream_events(
    run_id: int,
    request: Request,
    state: StateDep,
    session: SessionDep,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    since: Annotated[int | None, Query(ge=0)] = None,
) -> EventSourceResponse:
    """Live timeline over SSE. Resume with `Last-Event-ID` (or `?since=`); the stream ends
    once the run is at rest (review, approved, committed, pushed, rejected, failed,
    cancelled) and every event has been sent."""
    get_run(session, run_id)
    after = since or 0
    if last_event_id:
        try:
            after = int(last_event_id)
        except ValueError:
            raise Problem(
                400,
                "invalid-last-event-id",
                "Invalid Last-Event-ID",
                "Last-Event-ID must be an event id this API sent.",
            ) from None
    engine = state.engine

    async def events() -> AsyncIterator[ServerSentEvent]:
        nonlocal after
        while not await request.is_disconnected():
            rows, status = await asyncio.to_thread(_fetch, engine, run_id, after)
            for row in rows:
                yield _sse(row)
            if rows:
                after = rows[-1].id or after
                if len(rows) == STREAM_BATCH:
                    continue
            elif status in AT_REST or status is None:
                return
            await asyncio.sleep(STREAM_POLL_SECONDS)

    return EventSourceResponse(
        events(),
        ping=state.settings.sse_ping_seconds,
        ping_message_factory=lambda: ServerSentEvent(comment="ping"),
        send_timeout=30,
    )


def _wants_text(accept: str | None) -> bool:
    return accept is not None and ("text/x-diff" in accept or "text/plain" in accept)


def _ready(run: Run) -> None:
    if run.summary is None:
        raise Problem(
            409,
            "not-ready",
            "The run has no diff yet",
            f"Run {run.id} is {run.status}; its diff, files and summary exist once "
            "the agent has finished.",
            runId=run.id,
            currentStatus=run.status,
        )


@router.get(
    "/{run_id}/diff", response_model=DiffPublic, responses={200: {"content": {"text/x-diff": {}}}}
)
def run_diff(
    run_id: int, session: SessionDep, accept: Annotated[str | None, Header()] = None
) -> Response | DiffPublic:
    """Unified diff of the run's work against its base (JSON, or raw with
    `Accept: text/x-diff`)."""
    run = get_run(session, run_id)
    _ready(run)
    assert run.summary is not None
    if _wants_text(accept):
        return PlainTextResponse(run.diff or "", media_type="text/x-diff")
    return DiffPublic(
        run_id=run_id,
        base_sha=run.base_sha,
        snapshot_sha=run.summary.get("snapshotSha"),
        diff=run.diff or "",
    )


@router.get("/{run_id}/files", response_model=list[RunFilePublic])
def run_files(run_id: int, session: SessionDep) -> list[RunFilePublic]:
    run = get_run(session, run_id)
    _ready(run)
    rows = session.exec(
        select(RunFile).where(RunFile.run_id == run_id).order_by(col(RunFile.path))
    ).all()
    return [RunFilePublic.model_validate(r) for r in rows]


@router.get("/{run_id}/files/{path:path}", response_model=RunFileDetail)
def run_file(run_id: int, path: str, session: SessionDep) -> RunFileDetail:
    run = get_run(session, run_id)
    _ready(run)
    row = session.exec(
        select(RunFile).where(RunFile.run_id == run_id, RunFile.path == path)
    ).first()
    if row is None:
        raise not_found("file", f"{path!r} in run {run_id}")
    return RunFileDetail.model_validate(row)


@router.get("/{run_id}/summary", response_model=SummaryPublic)
def run_summary(run_id: int, session: SessionDep) -> SummaryPublic:
    run = get_run(session, run_id)
    return SummaryPublic(run_id=run_id, status=run.status, summary=run.summary)
