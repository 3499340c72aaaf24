"""The Temporal worker process: the run workflow and every activity, on two queues.

The shared queue (`slipway`) carries workflows and host-independent activities; this host's
own queue (`slipway-host-<name>`) carries every container and workspace activity of the runs
it provisioned (Temporal's worker-specific task queue pattern)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from datetime import timedelta

import docker
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleHandle,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.worker import Worker

from activities.reconcile_activities import ReconcileActivities
from activities.run_activities import RunActivities
from activities.types import ReconcileInput
from slipway.db import make_engine
from slipway.settings import Settings, get_settings
from worker.client import connect
from workflows.reconcile import ReconcileWorkflow
from workflows.run import RunWorkflow

log = logging.getLogger("slipway.worker")


def build_workers(client: Client, settings: Settings) -> list[Worker]:
    engine = make_engine(settings.resolved_database_url)
    docker_client = docker.from_env()
    acts = RunActivities(settings, engine, docker_client)
    reconcile = ReconcileActivities(settings, engine, docker_client, client)
    # The host in the identity tells operators (and tests) where each activity ran.
    identity = f"slipway-worker@{settings.host_name}:{os.getpid()}"
    shared = Worker(
        client,
        identity=identity,
        task_queue=settings.task_queue,
        workflows=[RunWorkflow, ReconcileWorkflow],
        activities=[*acts.shared_activities(), *reconcile.shared_activities()],
    )
    host = Worker(
        client,
        identity=identity,
        task_queue=settings.host_task_queue,
        activities=[*acts.host_activities(), *reconcile.host_activities()],
    )
    return [shared, host]


def reconcile_schedule_id(settings: Settings) -> str:
    return f"{settings.task_queue}-reconcile-{settings.host_name}"


async def ensure_reconcile_schedule(client: Client, settings: Settings) -> ScheduleHandle:
    """One schedule per host: it reconciles that host's containers (and the run rows)."""
    schedule_id = reconcile_schedule_id(settings)
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            ReconcileWorkflow.run,
            ReconcileInput(settings.host_name, settings.host_task_queue),
            id=schedule_id,
            task_queue=settings.task_queue,
        ),
        spec=ScheduleSpec(
            intervals=[
                ScheduleIntervalSpec(every=timedelta(seconds=settings.reconcile_interval_seconds))
            ]
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )
    try:
        return await client.create_schedule(schedule_id, schedule)
    except ScheduleAlreadyRunningError:
        handle = client.get_schedule_handle(schedule_id)

        def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await handle.update(replace)
        return handle


async def run_worker(settings: Settings) -> None:
    client = await connect(settings)
    workers = build_workers(client, settings)
    await ensure_reconcile_schedule(client, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    tasks = [asyncio.create_task(w.run()) for w in workers]
    log.info("worker up: queues %s, %s", settings.task_queue, settings.host_task_queue)
    done_task = asyncio.create_task(stop.wait())
    await asyncio.wait([done_task, *tasks], return_when=asyncio.FIRST_COMPLETED)
    log.info("worker shutting down")
    await asyncio.gather(*(w.shutdown() for w in workers), return_exceptions=True)
    for t in tasks:
        if t.done() and t.exception():
            raise t.exception()  # type: ignore[misc]


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(levelname)s %(message)s")
    asyncio.run(run_worker(get_settings()))


if __name__ == "__main__":
    main()
