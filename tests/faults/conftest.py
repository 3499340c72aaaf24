"""Fault injection on real processes: each test gets its own data directory, ports and task
queue, and reports the fault, what it checked and its figure in the run's summary."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from tests.conftest import remove_containers
from tests.faults.procs import ProcessStack

REPORT: list[str] = []


@pytest.fixture
def report():  # type: ignore[no-untyped-def]
    def add(fault: str, checked: str, figure: str) -> None:
        REPORT.append(f"{fault}: {checked} -- {figure}")

    return add


@pytest.fixture
def procs(
    tmp_path: Path,
    test_image: str,
    docker_client: docker.DockerClient,
    request: pytest.FixtureRequest,
) -> Iterator[ProcessStack]:
    stack = ProcessStack(tmp_path, test_image)
    yield stack
    stack.close()
    if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
        print(stack.logs())  # noqa: T201 - shown with the failure
    remove_containers(docker_client, stack.task_queue)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):  # type: ignore[no-untyped-def]
    rep = yield
    setattr(item, f"rep_{rep.when}", rep)
    return rep


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    if REPORT:
        terminalreporter.section("faults survived")
        for line in REPORT:
            terminalreporter.write_line(line)
