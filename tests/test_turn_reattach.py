"""The agent-turn activity re-attaches to a running agent after its worker is lost, and no
line becomes two events (ActivityEnvironment: real container, real files, real DB)."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, col, select
from temporalio.testing import ActivityEnvironment

from activities.run_activities import RunActivities
from activities.types import ContainerInput, PrepareWorkspaceInput, ProvisionInput, TurnInput
from slipway.db import AgentEvent, Project, Run
from tests.conftest import Stack
from tests.helpers import script

LINES = 40


async def _provisioned(stack: Stack, remote: Path) -> tuple[RunActivities, int, Any, Any]:
    """A run row, its workspace and its container, made by the activities themselves."""
    acts = RunActivities(stack.settings, stack.engine, stack.docker)
    run_id = _make_run(stack, remote)
    ws = await acts.prepare_workspace(
        PrepareWorkspaceInput(run_id, 1, str(remote), f"slipway/run-{run_id}", "main")
    )
    prov = await acts.provision_container(ProvisionInput(run_id, 1, 1, ws.workspace))
    return acts, run_id, ws, prov


def _make_run(stack: Stack, remote: Path) -> int:
    with Session(stack.engine) as s:
        project = Project(name="p", repository_url=str(remote), default_branch="main")
        s.add(project)
        s.commit()
        run = Run(
            project_id=project.id or 0,
            title="t",
            prompt="",
            selected_agent="script",
            base_branch="main",
        )
        s.add(run)
        s.commit()
        return run.id or 0


async def test_retried_turn_reattaches_and_adds_each_line_once(stack: Stack, remote: Path):
    acts, run_id, ws, prov = await _provisioned(stack, remote)
    # Retrying provisioning finds the same container instead of making a second one.
    assert (
        await acts.provision_container(ProvisionInput(run_id, 1, 1, ws.workspace))
    ).container_id == prov.container_id
    prompt = script(*[f"say line {i}\nsleep 0.05" for i in range(LINES)])
    turn = TurnInput(run_id, 1, 1, "script", None, prompt, prov.container_name, ws.workspace)
    try:
        beats: list[Any] = []
        first = ActivityEnvironment()
        first.on_heartbeat = lambda *d: beats.append(d[0])
        task = asyncio.create_task(first.run(acts.run_agent_turn, turn))
        while not beats or beats[-1]["lines"] < 10:
            await asyncio.sleep(0.05)
        first.cancel()  # the worker is gone mid-turn
        with pytest.raises(asyncio.CancelledError):
            await task
        pid = (Path(ws.workspace) / ".slipway/turns/1.pid").read_text()

        # A retry starts from the last heartbeat, possibly behind what was already stored.
        resumed = ActivityEnvironment()
        resumed.info = dataclasses.replace(resumed.info, heartbeat_details=[beats[len(beats) // 2]])
        result = await resumed.run(acts.run_agent_turn, turn)
        assert result.exit_code == 0
        assert (Path(ws.workspace) / ".slipway/turns/1.pid").read_text() == pid  # not relaunched

        with Session(stack.engine) as s:
            events = s.exec(
                select(AgentEvent).where(AgentEvent.run_id == run_id).order_by(col(AgentEvent.seq))
            ).all()
        says = [e.data["text"] for e in events if e.event_type == "assistant_message"]
        assert says == [f"line {i}" for i in range(LINES)]
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        assert sum(1 for e in events if e.event_type == "agent_started") == 1
    finally:
        await acts.teardown_container(ContainerInput(run_id, 1, prov.container_name))


async def test_turn_fails_when_its_container_disappears(stack: Stack, remote: Path):
    acts, run_id, ws, prov = await _provisioned(stack, remote)
    turn = TurnInput(
        run_id,
        1,
        1,
        "script",
        None,
        script("say hi", "sleep 60"),
        prov.container_name,
        ws.workspace,
    )
    env = ActivityEnvironment()
    task = asyncio.create_task(env.run(acts.run_agent_turn, turn))
    await asyncio.sleep(1.5)
    stack.docker.containers.get(prov.container_name).remove(force=True)
    from temporalio.exceptions import ApplicationError

    with pytest.raises(ApplicationError) as err:
        await asyncio.wait_for(task, 30)
    assert err.value.type == "container_lost" and "was removed" in str(err.value)
