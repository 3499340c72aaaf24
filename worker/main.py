"""The Temporal worker process: the run workflow and every activity, on two queues.

The shared queue (`slipway`) carries workflows and host-independent activities; this host's
own queue (`slipway-host-<name>`) carries every container and workspace activity of the runs
it provisioned (Temporal's worker-specific task queue pattern)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal

import docker
from temporalio.client import Client
from temporalio.worker import Worker

from activities.run_activities import RunActivities
from slipway.db import make_engine
from slipway.settings import Settings, get_settings
from worker.client import connect
from workflows.run import RunWorkflow

log = logging.getLogger("slipway.worker")


def build_workers(client: Client, settings: Settings) -> list[Worker]:
    engine = make_engine(settings.resolved_database_url)
    acts = RunActivities(settings, engine, docker.from_env())
    # The host in the identity tells operators (and tests) where each activity ran.
    identity = f"slipway-worker@{settings.host_name}:{os.getpid()}"
    shared = Worker(
        client,
        identity=identity,
        task_queue=settings.task_queue,
        workflows=[RunWorkflow],
        activities=acts.shared_activities(),
    )
    host = Worker(
        client,
        identity=identity,
        task_queue=settings.host_task_queue,
        activities=acts.host_activities(),
    )
    return [shared, host]


async def run_worker(settings: Settings) -> None:
    client = await connect(settings)
    workers = build_workers(client, settings)
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
