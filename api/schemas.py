"""Request and response bodies: camelCase JSON, ISO-8601 UTC timestamps."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, StringConstraints
from pydantic.alias_generators import to_camel


def _utc(dt: datetime) -> str:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


UtcDatetime = Annotated[datetime, PlainSerializer(_utc, return_type=str)]
NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class CamelModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)


class RequestModel(CamelModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


T = TypeVar("T")


class PageMeta(CamelModel):
    next_cursor: str | None = None


class Page(CamelModel, Generic[T]):
    data: list[T]
    meta: PageMeta


# ---- projects -------------------------------------------------------------------------------


class ProjectCreate(RequestModel):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    repository_url: NonEmpty
    default_branch: str | None = None
    description: str | None = None


class ProjectUpdate(RequestModel):
    name: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
        | None
    ) = None
    description: str | None = None
    default_branch: str | None = None


class ProjectPublic(CamelModel):
    id: int
    name: str
    description: str | None
    repository_url: str
    default_branch: str
    head_sha: str | None
    last_pulled_at: UtcDatetime | None
    created_at: UtcDatetime
    updated_at: UtcDatetime


# ---- runs -----------------------------------------------------------------------------------


class RunCreate(RequestModel):
    project_id: int
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
    prompt: NonEmpty
    selected_agent: NonEmpty = "script"
    selected_model: str | None = None
    base_branch: str | None = None


class ApproveBody(RequestModel):
    notes: str | None = None
    commit: bool = False


class RejectBody(RequestModel):
    notes: str | None = None


class CommitBody(RequestModel):
    message: str | None = None
    author_name: str | None = None
    author_email: str | None = None


class TimelineSummary(CamelModel):
    events: int
    last_event_id: int | None


class RunPublic(CamelModel):
    id: int
    project_id: int
    title: str
    prompt: str
    selected_agent: str
    selected_model: str | None
    status: str
    attempt: int
    branch: str | None
    base_branch: str
    base_sha: str | None
    commit_sha: str | None
    failure_reason: str | None
    review_notes: str | None
    host: str | None
    workflow_id: str
    created_at: UtcDatetime
    updated_at: UtcDatetime
    started_at: UtcDatetime | None
    finished_at: UtcDatetime | None
    timeline: TimelineSummary | None = None


class EventPublic(CamelModel):
    id: int
    run_id: int
    seq: int
    event_type: str
    severity: str
    path: str | None
    data: dict[str, Any]
    created_at: UtcDatetime


class RunFilePublic(CamelModel):
    path: str
    change: str
    additions: int
    deletions: int
    binary: bool


class RunFileDetail(RunFilePublic):
    diff: str


class DiffPublic(CamelModel):
    run_id: int
    base_sha: str | None
    snapshot_sha: str | None
    diff: str


class SummaryPublic(CamelModel):
    run_id: int
    status: str
    summary: dict[str, Any] | None = Field(default=None)


class HealthDetails(CamelModel):
    host: str | None
    container_name: str | None
    container_status: str | None
    exit_code: int | None
    error_message: str | None
    observed_at: UtcDatetime | None


class ReconciliationInfo(CamelModel):
    last_run: UtcDatetime | None
    host: str | None
    containers_seen: int
    containers_removed: int
    runs_repaired: int
    this_run_repairs: int


class RunHealth(CamelModel):
    run_id: int
    status: str
    health: str
    details: HealthDetails
    available_actions: list[str]
    reconciliation: ReconciliationInfo
