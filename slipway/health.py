"""What a run's health is, and which commands it accepts, from its status and the last
observation of its container."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session

from slipway.db import ContainerObservation, utcnow
from slipway.statuses import ACTIONS, RunStatus

S = RunStatus

# Statuses in which the run's container should exist and be up.
NEEDS_CONTAINER = frozenset({S.RUNNING, S.PAUSED})


def available_actions(status: str) -> list[str]:
    try:
        return list(ACTIONS[RunStatus(status)])
    except ValueError:
        return []


def health_of(status: str, container_status: str | None) -> str:
    """healthy | degraded | error | stopped | unknown (after seed 004's session health)."""
    if status == S.FAILED:
        return "error"
    if status in NEEDS_CONTAINER:
        if container_status in ("running", "paused", "created"):
            return "healthy"
        if container_status is None:
            return "unknown"
        return "error"
    if status in (S.QUEUED, S.PROVISIONING):
        return "healthy" if container_status in (None, "created", "running") else "degraded"
    return "stopped" if status != S.DRAFT else "healthy"


def observe(
    engine: Engine,
    run_id: int,
    container_status: str,
    *,
    host: str | None = None,
    container_name: str | None = None,
    exit_code: int | None = None,
    error: str | None = None,
) -> None:
    with Session(engine) as session:
        row = session.get(ContainerObservation, run_id) or ContainerObservation(
            run_id=run_id, container_status=container_status
        )
        row.container_status = container_status
        row.host = host or row.host
        row.container_name = container_name or row.container_name
        if container_status != "removed" or error is not None:
            # Removing a dead container keeps what was known of how it died.
            row.exit_code = exit_code
            row.error = error
        row.observed_at = utcnow()
        session.add(row)
        session.commit()
