from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import func
from sqlmodel import col, select

from api.deps import SessionDep
from api.runs_service import get_run
from api.schemas import HealthDetails, ReconciliationInfo, RunHealth
from slipway.db import AgentEvent, ContainerObservation, Reconciliation
from slipway.health import available_actions, health_of

router = APIRouter(prefix="/api/runs", tags=["health"])


@router.get("/{run_id}/health", response_model=RunHealth)
def run_health(run_id: int, session: SessionDep) -> RunHealth:
    """The run's container as last seen (by its activities or the reconciler), what the
    reconciler last did on the run's host, and the commands the run accepts now."""
    run = get_run(session, run_id)
    seen = session.get(ContainerObservation, run_id)
    host = run.host or (seen.host if seen else None)
    query = select(Reconciliation).order_by(col(Reconciliation.id).desc())
    if host:
        query = query.where(Reconciliation.host == host)
    last = session.exec(query).first()
    repairs = session.exec(
        select(func.count(col(AgentEvent.id))).where(
            AgentEvent.run_id == run_id, AgentEvent.event_type == "run_repaired"
        )
    ).one()
    container_status = seen.container_status if seen else None
    return RunHealth(
        run_id=run_id,
        status=run.status,
        health=health_of(run.status, container_status),
        details=HealthDetails(
            host=host,
            container_name=seen.container_name if seen else None,
            container_status=container_status,
            exit_code=seen.exit_code if seen else None,
            error_message=(seen.error if seen else None) or run.failure_reason,
            observed_at=seen.observed_at if seen else None,
        ),
        available_actions=available_actions(run.status),
        reconciliation=ReconciliationInfo(
            last_run=last.finished_at if last else None,
            host=last.host if last else host,
            containers_seen=last.containers_seen if last else 0,
            containers_removed=len(last.containers_removed) if last else 0,
            runs_repaired=len(last.runs_repaired) if last else 0,
            this_run_repairs=repairs,
        ),
    )
