"""Reconciliation: stray containers removed, run rows repaired, all of it visible in
`GET /api/runs/{id}/health`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import Session

from slipway.db import Run
from tests.conftest import Stack
from tests.helpers import (
    command,
    create_project,
    create_run,
    run_containers,
    says,
    script,
    wait_for,
    wait_status,
)


def _stray(stack: Stack, run_id: int, attempt: int = 1):  # type: ignore[no-untyped-def]
    """A container labelled as Slipway's, as a crash between steps could leave behind."""
    return stack.docker.containers.run(
        stack.settings.agent_image,
        ["sleep", "infinity"],
        detach=True,
        name=f"{stack.settings.task_queue}-stray-{run_id}-{attempt}",
        labels={
            "slipway.run": str(run_id),
            "slipway.project": "0",
            "slipway.attempt": str(attempt),
            "slipway.queue": stack.settings.task_queue,
        },
    )


async def test_reconciler_removes_stray_containers_and_keeps_live_ones(
    stack: Stack, remote: Path, report
):
    http = stack.http
    project = await create_project(http, remote)
    done = await create_run(http, project["id"], script("say hi"))
    await command(http, done["id"], "start")
    await wait_status(http, done["id"], "review")
    live = await create_run(http, project["id"], script("say working", "sleep 120"))
    await command(http, live["id"], "start")
    await wait_for(lambda: says(http, live["id"]))

    unknown = _stray(stack, 987654)
    of_review_run = _stray(stack, done["id"])
    pass_ = await stack.reconcile()

    removed = {r["container"]: r["reason"] for r in pass_.containers_removed}
    assert removed == {unknown.name: "unknown run", of_review_run.name: "run is review"}
    live_containers = run_containers(
        stack.docker, stack.settings.task_queue, live["id"], running_only=True
    )
    assert len(live_containers) == 1  # the running run's container is left alone

    health = (await http.get(f"/api/runs/{live['id']}/health")).json()
    assert health["health"] == "healthy"
    assert health["details"]["containerStatus"] == "running"
    assert health["availableActions"] == ["pause", "cancel"]
    assert health["reconciliation"]["lastRun"] is not None
    assert health["reconciliation"]["containersRemoved"] == 2

    live_containers[0].kill()
    await wait_status(http, live["id"], "failed")
    health = (await http.get(f"/api/runs/{live['id']}/health")).json()
    assert health["health"] == "error" and health["availableActions"] == ["retry", "cancel"]
    assert health["details"]["containerStatus"] == "removed"  # torn down after the failure
    assert "killed or stopped" in health["details"]["errorMessage"]
    report(
        "reconciler: stray containers",
        f"removed {sorted(removed.values())}; kept the live run's",
        f"containers seen {pass_.containers_seen}, removed {len(removed)}",
    )


async def test_reconciler_repairs_a_row_that_disagrees_with_its_workflow(
    stack: Stack, remote: Path, report
):
    http = stack.http
    project = await create_project(http, remote)
    run = await create_run(http, project["id"], script("say hi"))
    await command(http, run["id"], "start")
    await wait_status(http, run["id"], "review")
    # As if a crash had lost the last mirror write, long enough ago to be settled.
    with Session(stack.engine) as session:
        row = session.get(Run, run["id"])
        assert row is not None
        row.status = "running"
        row.updated_at = datetime.now(UTC) - timedelta(minutes=5)
        session.add(row)
        session.commit()
    pass_ = await stack.reconcile()
    assert {
        "runId": run["id"],
        "from": "running",
        "to": "review",
        "reason": "row disagreed with workflow",
    } in pass_.runs_repaired
    fixed = (await http.get(f"/api/runs/{run['id']}")).json()
    assert fixed["status"] == "review"
    health = (await http.get(f"/api/runs/{run['id']}/health")).json()
    assert health["reconciliation"]["thisRunRepairs"] == 1
    assert health["health"] == "stopped"
    assert health["availableActions"] == ["approve", "reject", "cancel"]
    report(
        "reconciler: stale run row",
        "row said running while the workflow was in review",
        "repaired to review in one pass",
    )


async def test_health_of_unknown_run_is_404(stack: Stack):
    r = await stack.http.get("/api/runs/999999/health")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
