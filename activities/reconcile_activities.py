"""Reconciliation: the database mirror and the Docker engine brought back in line with the
workflows, after whatever crash left them apart."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import docker
from docker.models.containers import Container
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from activities.run_activities import LABEL_ATTEMPT, LABEL_QUEUE, LABEL_RUN, heartbeating
from activities.types import (
    ReconcileContainersInput,
    ReconcileResult,
    ReconcileRunsResult,
    RepairedRun,
)
from slipway.db import Reconciliation, Run, utcnow
from slipway.health import observe
from slipway.settings import Settings
from slipway.statuses import AT_REST, TERMINAL
from slipway.timeline import EventDraft, append_events

# A row this fresh may just be catching up with its workflow (the mirror is written right
# after each transition); only older disagreements are repaired.
SETTLE = timedelta(seconds=15)
CLOSED_AS = {
    WorkflowExecutionStatus.CANCELED: ("cancelled", None),
    WorkflowExecutionStatus.TERMINATED: (
        "failed",
        "workflow_terminated: the run's workflow was terminated",
    ),
    WorkflowExecutionStatus.FAILED: ("failed", "workflow_failed: the run's workflow failed"),
    WorkflowExecutionStatus.TIMED_OUT: (
        "failed",
        "workflow_timed_out: the run's workflow timed out",
    ),
}


class ReconcileActivities:
    def __init__(
        self, settings: Settings, engine: Engine, docker_client: docker.DockerClient, client: Client
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.docker = docker_client
        self.client = client

    def shared_activities(self) -> list[Any]:
        return [self.reconcile_runs]

    def host_activities(self) -> list[Any]:
        return [self.reconcile_containers]

    # ---- database rows vs workflows -----------------------------------------------------

    @activity.defn
    async def reconcile_runs(self) -> ReconcileRunsResult:
        from workflows.run import RunWorkflow

        cutoff = utcnow() - SETTLE
        with Session(self.engine) as session:
            rows = session.exec(
                select(Run).where(col(Run.status).not_in([s.value for s in TERMINAL]))
            ).all()
        result = ReconcileRunsResult()
        for run in rows:
            activity.heartbeat()
            updated = (
                run.updated_at if run.updated_at.tzinfo else run.updated_at.replace(tzinfo=UTC)
            )
            if updated > cutoff or run.id is None:
                continue
            handle = self.client.get_workflow_handle_for(RunWorkflow.run, f"run-{run.id}")
            target: dict[str, Any]
            try:
                desc = await handle.describe()
                if desc.status == WorkflowExecutionStatus.RUNNING:
                    state = await handle.query(RunWorkflow.state)
                elif desc.status == WorkflowExecutionStatus.COMPLETED:
                    state = await handle.result()
                else:
                    status, reason = CLOSED_AS.get(desc.status, ("failed", "workflow closed"))
                    target = {"status": status, "failure_reason": reason}
                    state = None
                if state is not None:
                    target = {
                        "status": state.status,
                        "failure_reason": state.failure_reason,
                        "attempt": state.attempt,
                        "branch": state.branch,
                        "commit_sha": state.commit_sha,
                    }
            except RPCError as e:
                if e.status != RPCStatusCode.NOT_FOUND:
                    raise
                target = {
                    "status": "failed",
                    "failure_reason": "workflow_missing: the run's workflow does not exist",
                }
            if target["status"] == run.status:
                continue
            if await asyncio.to_thread(self._repair, run, target):
                result.repaired.append(
                    RepairedRun(run.id, run.status, target["status"], "row disagreed with workflow")
                )
        return result

    def _repair(self, run: Run, target: dict[str, Any]) -> bool:
        """Conditional on the row being as it was read, so a fresh write is never undone."""
        assert run.id is not None
        values = {k: v for k, v in target.items() if v is not None or k == "failure_reason"}
        with Session(self.engine) as session:
            done = session.execute(
                update(Run)
                .where(
                    col(Run.id) == run.id,
                    col(Run.status) == run.status,
                    col(Run.updated_at) == run.updated_at,
                )
                .values(**values, updated_at=utcnow())
            ).rowcount
            session.commit()
        if done:
            append_events(
                self.engine,
                run.id,
                [
                    EventDraft(
                        f"repair:{run.status}->{target['status']}:{run.updated_at.isoformat()}",
                        "run_repaired",
                        {"from": run.status, "to": target["status"], "by": "reconciler"},
                        severity="warning",
                    )
                ],
            )
        return bool(done)

    # ---- containers vs runs -------------------------------------------------------------

    @activity.defn
    async def reconcile_containers(self, inp: ReconcileContainersInput) -> ReconcileResult:
        return await heartbeating(self._reconcile_containers, inp)

    def _reconcile_containers(self, inp: ReconcileContainersInput) -> ReconcileResult:
        containers: list[Container] = self.docker.containers.list(
            all=True, filters={"label": f"{LABEL_QUEUE}={self.settings.task_queue}"}
        )
        removed: list[dict[str, Any]] = []
        seen_runs: set[int] = set()
        for c in containers:
            labels = c.labels or {}
            try:
                run_id, attempt = int(labels[LABEL_RUN]), int(labels.get(LABEL_ATTEMPT, "0"))
            except (KeyError, ValueError):
                continue
            with Session(self.engine) as session:
                run = session.get(Run, run_id)
            why = self._why_stale(run, attempt)
            state = c.attrs.get("State", {})
            if why is None:
                seen_runs.add(run_id)
                observe(
                    self.engine,
                    run_id,
                    str(c.status),
                    host=inp.host,
                    container_name=c.name,
                    exit_code=state.get("ExitCode"),
                    error=state.get("Error") or None,
                )
                continue
            c.remove(force=True)
            removed.append({"container": c.name, "runId": run_id, "reason": why})
            if run is not None:
                observe(self.engine, run_id, "removed", host=inp.host, container_name=c.name)
        # Runs that should have a container on this host but have none.
        with Session(self.engine) as session:
            orphans = session.exec(
                select(Run).where(col(Run.status).in_(["running", "paused"]), Run.host == inp.host)
            ).all()
        for run in orphans:
            if run.id is not None and run.id not in seen_runs:
                observe(
                    self.engine,
                    run.id,
                    "missing",
                    host=inp.host,
                    error="no container for this run on its host",
                )
        with Session(self.engine) as session:
            session.add(
                Reconciliation(
                    host=inp.host,
                    started_at=datetime.fromisoformat(inp.started_at),
                    containers_seen=len(containers),
                    containers_removed=removed,
                    runs_repaired=[
                        {"runId": r.run_id, "from": r.was, "to": r.now, "reason": r.why}
                        for r in inp.repaired
                    ],
                )
            )
            session.commit()
        return ReconcileResult(len(containers), len(removed), len(inp.repaired))

    @staticmethod
    def _why_stale(run: Run | None, attempt: int) -> str | None:
        if run is None:
            return "unknown run"
        if run.status in AT_REST:  # terminal statuses are at rest too
            return f"run is {run.status}"
        if attempt < run.attempt:
            return f"superseded by attempt {run.attempt}"
        return None
