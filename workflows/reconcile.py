"""ReconcileWorkflow: one pass of a host's reconciler, started by a Temporal Schedule."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.reconcile_activities import ReconcileActivities
    from activities.types import ReconcileContainersInput, ReconcileInput, ReconcileResult
    from workflows import timeouts


@workflow.defn
class ReconcileWorkflow:
    @workflow.run
    async def run(self, inp: ReconcileInput) -> ReconcileResult:
        started = workflow.now().isoformat()
        runs = await workflow.execute_activity_method(
            ReconcileActivities.reconcile_runs,
            start_to_close_timeout=timeouts.RECONCILE,
            heartbeat_timeout=timeouts.HOST_HEARTBEAT * 4,
            retry_policy=timeouts.QUICK_RETRY,
        )
        return await workflow.execute_activity_method(
            ReconcileActivities.reconcile_containers,
            ReconcileContainersInput(inp.host, started, runs.repaired),
            task_queue=inp.host_queue,
            start_to_close_timeout=timeouts.RECONCILE,
            heartbeat_timeout=timeouts.HOST_HEARTBEAT * 4,
            # A host that is gone has nothing to reconcile; the next pass will try again.
            schedule_to_start_timeout=timedelta(minutes=1),
            retry_policy=timeouts.QUICK_RETRY,
        )
