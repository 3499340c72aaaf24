from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlmodel import col, select

from api.deps import SessionDep, StateDep, TemporalDep
from api.errors import Problem
from api.pagination import decode_cursor, page_of
from api.routers.projects import get_project
from api.runs_service import command, get_run, run_public, start_run_workflow
from api.schemas import (
    ApproveBody,
    CommitBody,
    Page,
    RejectBody,
    RunCreate,
    RunPublic,
)
from slipway import gitops
from slipway.agents import ADAPTERS
from slipway.db import Run
from slipway.statuses import RunStatus
from workflows.run import ApproveInput, CommitRequest, RejectInput, RunWorkflow

router = APIRouter(prefix="/api/runs", tags=["runs"])


@router.post("", response_model=RunPublic, status_code=201)
async def create_run(
    body: RunCreate, session: SessionDep, state: StateDep, client: TemporalDep
) -> RunPublic:
    """Create a draft run; its workflow starts now and waits for `start`."""
    project = get_project(session, body.project_id)
    if body.selected_agent not in ADAPTERS:
        raise Problem(
            422,
            "unknown-agent",
            "Unknown agent",
            f"selectedAgent must be one of {sorted(ADAPTERS)}, not {body.selected_agent!r}.",
            agents=sorted(ADAPTERS),
        )
    base_branch = body.base_branch or project.default_branch
    try:
        gitops.validate_branch_name(base_branch)
    except ValueError as e:
        raise Problem(422, "invalid-branch", "Invalid branch name", str(e)) from e
    run = Run(
        project_id=body.project_id,
        title=body.title,
        prompt=body.prompt,
        selected_agent=body.selected_agent,
        selected_model=body.selected_model,
        base_branch=base_branch,
    )
    session.add(run)
    session.commit()
    session.refresh(run)
    try:
        await start_run_workflow(client, state.settings, run, project)
    except Exception as e:
        session.delete(run)
        session.commit()
        raise Problem(
            503,
            "temporal-unavailable",
            "The run could not be created",
            f"Temporal did not accept the run's workflow: {e}",
        ) from e
    return run_public(session, run)


@router.get("", response_model=Page[RunPublic])
def list_runs(
    session: SessionDep,
    project_id: Annotated[int | None, Query(alias="projectId")] = None,
    status: RunStatus | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[RunPublic]:
    """Newest first."""
    before = decode_cursor(cursor)
    query = select(Run).order_by(col(Run.id).desc())
    if project_id is not None:
        query = query.where(Run.project_id == project_id)
    if status is not None:
        query = query.where(Run.status == status.value)
    if before is not None:
        query = query.where(col(Run.id) < before)
    return page_of(session, query, limit, lambda r: run_public(session, r))


@router.get("/{run_id}", response_model=RunPublic)
def read_run(run_id: int, session: SessionDep) -> RunPublic:
    return run_public(session, get_run(session, run_id))


@router.post("/{run_id}/start", response_model=RunPublic)
async def start_run(run_id: int, session: SessionDep, client: TemporalDep) -> RunPublic:
    return await command(
        client, session, run_id, "start", lambda h: h.execute_update(RunWorkflow.start)
    )


@router.post("/{run_id}/pause", response_model=RunPublic)
async def pause_run(run_id: int, session: SessionDep, client: TemporalDep) -> RunPublic:
    """Freezes the agent (`docker pause`) until resumed."""
    return await command(
        client, session, run_id, "pause", lambda h: h.execute_update(RunWorkflow.pause)
    )


@router.post("/{run_id}/resume", response_model=RunPublic)
async def resume_run(run_id: int, session: SessionDep, client: TemporalDep) -> RunPublic:
    return await command(
        client, session, run_id, "resume", lambda h: h.execute_update(RunWorkflow.resume)
    )


@router.post("/{run_id}/cancel", response_model=RunPublic)
async def cancel_run(run_id: int, session: SessionDep, client: TemporalDep) -> RunPublic:
    """Stops the agent and removes its container; the timeline stays."""
    return await command(
        client, session, run_id, "cancel", lambda h: h.execute_update(RunWorkflow.cancel)
    )


@router.post("/{run_id}/retry", response_model=RunPublic)
async def retry_run(run_id: int, session: SessionDep, client: TemporalDep) -> RunPublic:
    """A failed run starts again with the same prompt on a new branch."""
    return await command(
        client, session, run_id, "retry", lambda h: h.execute_update(RunWorkflow.retry)
    )


@router.post("/{run_id}/approve", response_model=RunPublic)
async def approve_run(
    run_id: int, session: SessionDep, client: TemporalDep, body: ApproveBody | None = None
) -> RunPublic:
    body = body or ApproveBody()
    return await command(
        client,
        session,
        run_id,
        "approve",
        lambda h: h.execute_update(RunWorkflow.approve, ApproveInput(body.notes, body.commit)),
    )


@router.post("/{run_id}/reject", response_model=RunPublic)
async def reject_run(
    run_id: int, session: SessionDep, client: TemporalDep, body: RejectBody | None = None
) -> RunPublic:
    body = body or RejectBody()
    return await command(
        client,
        session,
        run_id,
        "reject",
        lambda h: h.execute_update(RunWorkflow.reject, RejectInput(body.notes)),
    )


@router.post("/{run_id}/commit", response_model=RunPublic)
async def commit_run(
    run_id: int, session: SessionDep, client: TemporalDep, body: CommitBody | None = None
) -> RunPublic:
    """Commits the run's changes on its branch (needs approval). The message defaults to the
    run's title."""
    body = body or CommitBody()
    req = CommitRequest(body.message, body.author_name, body.author_email)
    return await command(
        client, session, run_id, "commit", lambda h: h.execute_update(RunWorkflow.commit, req)
    )


@router.post("/{run_id}/push", response_model=RunPublic)
async def push_run(run_id: int, session: SessionDep, client: TemporalDep) -> RunPublic:
    """Pushes the run branch to the project's remote (needs approval; commits first if the
    approved run is not committed yet)."""
    return await command(
        client, session, run_id, "push", lambda h: h.execute_update(RunWorkflow.push)
    )
