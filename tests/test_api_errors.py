"""Every bad input gets an RFC 7807 problem document with a fitting status; never a 500."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Stack
from tests.helpers import create_project, create_run, script


def assert_problem(r, status: int, slug: str | None = None) -> dict:  # type: ignore[no-untyped-def]
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == status and body["title"] and body["type"].startswith("https://")
    assert "Traceback" not in r.text
    if slug:
        assert body["type"].endswith("/" + slug), body["type"]
    return body  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", "/api/projects/999999"),
        ("PUT", "/api/projects/999999"),
        ("DELETE", "/api/projects/999999"),
        ("POST", "/api/projects/999999/pull"),
        ("GET", "/api/runs/999999"),
        ("POST", "/api/runs/999999/start"),
        ("POST", "/api/runs/999999/cancel"),
        ("GET", "/api/runs/999999/events"),
        ("GET", "/api/runs/999999/events/stream"),
        ("GET", "/api/runs/999999/diff"),
        ("GET", "/api/runs/999999/files"),
        ("GET", "/api/runs/999999/summary"),
        ("GET", "/api/nothing-here"),
    ],
)
async def test_unknown_ids_are_404(stack: Stack, method: str, path: str):
    r = await stack.http.request(method, path, json={} if method in ("PUT", "POST") else None)
    assert_problem(r, 404)


async def test_malformed_json_is_400(stack: Stack):
    r = await stack.http.post(
        "/api/projects", content=b'{"name": ', headers={"content-type": "application/json"}
    )
    assert_problem(r, 400, "malformed-json")


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x"},  # missing repositoryUrl
        {"name": 5, "repositoryUrl": "/tmp"},  # wrong type
        {"name": "", "repositoryUrl": "/tmp"},  # empty
        {"name": "x", "repositoryUrl": "/tmp", "bogus": 1},  # unknown field
    ],
)
async def test_invalid_project_bodies_are_422(stack: Stack, body: dict):
    assert_problem(await stack.http.post("/api/projects", json=body), 422, "validation-error")


async def test_unreachable_repository_is_422(stack: Stack, tmp_path: Path):
    r = await stack.http.post(
        "/api/projects", json={"name": "x", "repositoryUrl": str(tmp_path / "nope")}
    )
    body = assert_problem(r, 422, "repository-unreachable")
    assert str(tmp_path / "nope") in body["detail"]
    r = await stack.http.post(
        "/api/projects", json={"name": "x", "repositoryUrl": "--upload-pack=x"}
    )
    assert_problem(r, 422, "invalid-repository-url")
    r = await stack.http.post("/api/projects", json={"name": "x", "repositoryUrl": "ftp://h/r"})
    assert_problem(r, 422, "invalid-repository-url")


async def test_unknown_default_branch_is_422(stack: Stack, remote: Path):
    r = await stack.http.post(
        "/api/projects", json={"name": "x", "repositoryUrl": str(remote), "defaultBranch": "nope"}
    )
    assert_problem(r, 422, "branch-not-found")


async def test_run_bodies(stack: Stack, remote: Path):
    http = stack.http
    project = await create_project(http, remote)
    base = {"projectId": project["id"], "title": "t", "prompt": "say hi"}
    body = assert_problem(
        await http.post("/api/runs", json={**base, "selectedAgent": "gpt-x"}), 422, "unknown-agent"
    )
    assert "script" in body["agents"] and "claude-code" in body["agents"]
    assert_problem(await http.post("/api/runs", json={**base, "projectId": "abc"}), 422)
    assert_problem(await http.post("/api/runs", json={**base, "projectId": 999999}), 404)
    assert_problem(await http.post("/api/runs", json={**base, "prompt": "  "}), 422)
    assert_problem(
        await http.post("/api/runs", json={**base, "baseBranch": "../x"}), 422, "invalid-branch"
    )
    assert_problem(await http.get("/api/runs", params={"status": "bogus"}), 422)
    assert_problem(await http.get("/api/runs", params={"cursor": "!!!"}), 400, "invalid-cursor")
    assert_problem(await http.get("/api/runs", params={"limit": 0}), 422)
    assert_problem(await http.post(f"/api/runs/{999999}/approve", json={"commit": "yes?"}), 422)


async def test_diff_before_the_agent_finished_is_409(stack: Stack, remote: Path):
    http = stack.http
    project = await create_project(http, remote)
    run = await create_run(http, project["id"], script("say hi"))
    body = assert_problem(await http.get(f"/api/runs/{run['id']}/diff"), 409, "not-ready")
    assert body["currentStatus"] == "draft"
    r = await http.get(f"/api/runs/{run['id']}/events/stream", headers={"Last-Event-ID": "x"})
    assert_problem(r, 400, "invalid-last-event-id")
    await http.post(f"/api/runs/{run['id']}/cancel")


async def test_projects_crud_and_pagination(stack: Stack, remote: Path, tmp_path: Path):
    http = stack.http
    ids = [(await create_project(http, remote))["id"] for _ in range(3)]
    seen: list[int] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await http.get("/api/projects", params=params)).json()
        seen += [p["id"] for p in page["data"]]
        cursor = page["meta"]["nextCursor"]
        if not cursor:
            break
    assert set(ids) <= set(seen) and len(seen) == len(set(seen))
    updated = (await http.put(f"/api/projects/{ids[0]}", json={"name": "renamed"})).json()
    assert updated["name"] == "renamed"
    pulled = await http.post(f"/api/projects/{ids[0]}/pull")
    assert pulled.status_code == 200 and len(pulled.json()["headSha"]) == 40
    assert (await http.delete(f"/api/projects/{ids[0]}")).status_code == 204
    assert_problem(await http.get(f"/api/projects/{ids[0]}"), 404)
    assert ids[0] not in [
        p["id"] for p in (await http.get("/api/projects", params={"limit": 200})).json()["data"]
    ]


async def test_runs_pagination_newest_first_with_filters(stack: Stack, remote: Path):
    http = stack.http
    project = await create_project(http, remote)
    ids = [(await create_run(http, project["id"], script("say hi")))["id"] for _ in range(3)]
    seen: list[int] = []
    cursor = None
    while True:
        params = {"projectId": project["id"], "status": "draft", "limit": 2}
        page = (
            await http.get("/api/runs", params={**params, **({"cursor": cursor} if cursor else {})})
        ).json()
        seen += [r["id"] for r in page["data"]]
        cursor = page["meta"]["nextCursor"]
        if not cursor:
            break
    assert seen == sorted(ids, reverse=True)
    for run_id in ids:
        await http.post(f"/api/runs/{run_id}/cancel")
    cancelled = (
        await http.get("/api/runs", params={"projectId": project["id"], "status": "cancelled"})
    ).json()
    assert sorted(r["id"] for r in cancelled["data"]) == ids
