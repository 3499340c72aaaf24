"""Operators find runs in Temporal by run id, project id and status."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.conftest import Stack
from tests.helpers import command, create_project, create_run, script, wait_status


async def _ids(stack: Stack, query: str) -> list[str]:
    return [wf.id async for wf in stack.client.list_workflows(query)]


async def test_search_attributes_follow_the_run(stack: Stack, remote: Path):
    http = stack.http
    project = await create_project(http, remote)
    run = await create_run(http, project["id"], script("say hi"))
    wid = f"run-{run['id']}"
    await command(http, run["id"], "start")
    await wait_status(http, run["id"], "review")
    expected = {
        f"SlipwayRunId = '{run['id']}'": wid,
        f"SlipwayProjectId = '{project['id']}' AND SlipwayRunStatus = 'review'": wid,
    }
    for query, want in expected.items():
        for _ in range(50):  # visibility is eventually consistent
            if want in await _ids(stack, query):
                break
            await asyncio.sleep(0.2)
        else:
            raise AssertionError(f"{query} did not find {want}")
