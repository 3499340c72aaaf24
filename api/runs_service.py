"""Turning run commands into workflow updates, and workflow errors into problems."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.errors import WORKFLOW_ERRORS, Problem, not_found
from api.schemas import RunPublic, TimelineSummary
from slipway.db import AgentEvent, Project, Run
from slipway.settings import Settings
from workflows import search_attributes as sa
from workflows.run import RunInput, RunState, RunWorkflow


def workflow_id(run_id: int) -> str:
    return f"run-{run_id}"


def get_run(session: Session, run_id: int) -> Run:
    run = session.get(Run, run_id)
    if run is None:
        raise not_found("run", run_id)
    return run


def run_public(session: Session, run: Run, status: str | None = None) -> RunPublic:
    assert run.id is not None
    count, last = session.exec(
        select(func.count(col(AgentEvent.id)), func.max(AgentEvent.id)).where(
            AgentEvent.run_id == run.id
        )
    ).one()
    data = RunPublic.model_validate(
        {
            **run.model_dump(),
            "workflow_id": workflow_id(run.id),
            "timeline": TimelineSummary(events=count, last_event_id=last),
        }
    )
    if status is not None:
        data.status = status
    return data


async def start_run_workflow(
    client: Client, settings: Settings, run: Run, project: Project
) -> None:
    assert run.id is not None and project.id is not None
    await client.start_workflow(
        RunWorkflow.run,
        RunInput(
            run_id=run.id,
            project_id=project.id,
            title=run.title,
            prompt=run.prompt,
            agent=run.selected_agent,
            model=run.selected_model,
            repository_url=project.repository_url,
            base_branch=run.base_branch,
        ),
        id=workflow_id(run.id),
        task_queue=settings.task_queue,
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(sa.RUN_ID, str(run.id)),
                SearchAttributePair(sa.PROJECT_ID, str(project.id)),
                SearchAttributePair(sa.RUN_STATUS, "draft"),
            ]
        ),
    )


async def command(
    client: Client,
    session: Session,
    run_id: int,
    action: str,
    call: Callable[[WorkflowHandle[Any, Any]], Awaitable[RunState]],
) -> RunPublic:
    """Run one update on the run's workflow; refusals come back as 409 with currentStatus."""
    run = get_run(session, run_id)
    assert run.id is not None
    handle = client.get_workflow_handle_for(RunWorkflow.run, workflow_id(run.id))
    try:
        state = await call(handle)
    except WorkflowUpdateFailedError as e:
        raise _problem_from(e.cause, run, action) from e
    except RPCError as e:
        if e.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
            # The workflow has ended: the run is in a terminal status.
            session.refresh(run)
            raise Problem(
                409,
                "invalid-transition",
                "The run cannot do that in its current status",
                f"cannot {action} run {run.id}: it is {run.status}",
                runId=run.id,
                currentStatus=run.status,
            ) from e
        if e.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
            raise Problem(
                503, "temporal-unavailable", "Temporal is unavailable", str(e.message), runId=run.id
            ) from e
        raise
    session.refresh(run)
    return run_public(session, run, status=state.status)


def _problem_from(cause: BaseException | None, run: Run, action: str) -> Problem:
    if isinstance(cause, ApplicationError) and cause.type in WORKFLOW_ERRORS:
        status, slug, title = WORKFLOW_ERRORS[cause.type]
        details = cause.details[0] if cause.details else {}
        current = details.get("currentStatus") if isinstance(details, dict) else None
        return Problem(
            status, slug, title, cause.message, runId=run.id, currentStatus=current or run.status
        )
    message = cause.message if isinstance(cause, ApplicationError) else str(cause)
    return Problem(
        409,
        "command-failed",
        f"The run could not {action}",
        message,
        runId=run.id,
        currentStatus=run.status,
    )
