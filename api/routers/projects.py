from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Response
from sqlmodel import col, select

from api.deps import SessionDep
from api.errors import Problem, not_found
from api.pagination import decode_cursor, page_of
from api.schemas import Page, ProjectCreate, ProjectPublic, ProjectUpdate
from slipway import gitops
from slipway.db import Project, utcnow

router = APIRouter(prefix="/api/projects", tags=["projects"])


def get_project(session: SessionDep, project_id: int) -> Project:
    project = session.get(Project, project_id)
    if project is None or project.archived_at is not None:
        raise not_found("project", project_id)
    return project


async def _probe(url: str) -> gitops.RemoteInfo:
    try:
        return await asyncio.to_thread(gitops.probe_remote, url)
    except gitops.GitError as e:
        raise Problem(
            422,
            "repository-unreachable",
            "The repository cannot be reached",
            f"git could not read {url}: {e}",
            repositoryUrl=url,
        ) from e


def _check_branch(info: gitops.RemoteInfo, branch: str, url: str) -> str:
    try:
        gitops.validate_branch_name(branch)
    except ValueError as e:
        raise Problem(422, "invalid-branch", "Invalid branch name", str(e)) from e
    if branch not in info.heads:
        raise Problem(
            422,
            "branch-not-found",
            "The branch does not exist",
            f"{url} has no branch {branch!r}.",
            branches=sorted(info.heads)[:50],
        )
    return branch


@router.get("", response_model=Page[ProjectPublic])
def list_projects(
    session: SessionDep,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[ProjectPublic]:
    after = decode_cursor(cursor)
    query = select(Project).where(col(Project.archived_at).is_(None)).order_by(col(Project.id))
    if after is not None:
        query = query.where(col(Project.id) > after)
    return page_of(session, query, limit, ProjectPublic.model_validate)


@router.post("", response_model=ProjectPublic, status_code=201)
async def create_project(body: ProjectCreate, session: SessionDep) -> ProjectPublic:
    try:
        url = gitops.normalize_repository_url(body.repository_url)
    except ValueError as e:
        raise Problem(422, "invalid-repository-url", "Invalid repository URL", str(e)) from e
    info = await _probe(url)
    branch = (
        _check_branch(info, body.default_branch, url)
        if body.default_branch
        else (info.default_branch)
    )
    project = Project(
        name=body.name,
        description=body.description,
        repository_url=url,
        default_branch=branch,
        head_sha=info.heads[branch],
        last_pulled_at=utcnow(),
    )
    session.add(project)
    session.commit()
    session.refresh(project)
    return ProjectPublic.model_validate(project)


@router.get("/{project_id}", response_model=ProjectPublic)
def read_project(project_id: int, session: SessionDep) -> ProjectPublic:
    return ProjectPublic.model_validate(get_project(session, project_id))


@router.put("/{project_id}", response_model=ProjectPublic)
async def update_project(
    project_id: int, body: ProjectUpdate, session: SessionDep
) -> ProjectPublic:
    project = get_project(session, project_id)
    if body.default_branch is not None and body.default_branch != project.default_branch:
        info = await _probe(project.repository_url)
        project.default_branch = _check_branch(info, body.default_branch, project.repository_url)
    if body.name is not None:
        project.name = body.name
    if body.description is not None:
        project.description = body.description
    project.updated_at = utcnow()
    session.add(project)
    session.commit()
    session.refresh(project)
    return ProjectPublic.model_validate(project)


@router.delete("/{project_id}", status_code=204)
def delete_project(project_id: int, session: SessionDep) -> Response:
    project = get_project(session, project_id)
    project.archived_at = utcnow()
    session.add(project)
    session.commit()
    return Response(status_code=204)


@router.post("/{project_id}/pull", response_model=ProjectPublic)
async def pull_project(project_id: int, session: SessionDep) -> ProjectPublic:
    """Refresh the default branch's head from the remote; new runs start from it."""
    project = get_project(session, project_id)
    info = await _probe(project.repository_url)
    if project.default_branch not in info.heads:
        raise Problem(
            409,
            "branch-not-found",
            "The default branch is gone from the remote",
            f"{project.repository_url} no longer has {project.default_branch!r}.",
        )
    project.head_sha = info.heads[project.default_branch]
    project.last_pulled_at = utcnow()
    project.updated_at = project.last_pulled_at
    session.add(project)
    session.commit()
    session.refresh(project)
    return ProjectPublic.model_validate(project)
