"""One input and one result type per activity; plain dataclasses so workflows can carry them."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class PickHostResult:
    host: str
    task_queue: str
    # How long the run's work may wait for this host's worker before the run fails host_lost.
    host_lost_timeout_seconds: float = 120.0


@dataclass
class RecordStatusInput:
    run_id: int
    transition: int
    status: str
    previous: str
    reason: str | None = None
    attempt: int | None = None
    branch: str | None = None
    base_sha: str | None = None
    host: str | None = None
    container_id: str | None = None
    commit_sha: str | None = None
    review_notes: str | None = None


@dataclass
class PrepareWorkspaceInput:
    run_id: int
    attempt: int
    repository_url: str
    branch: str
    base_branch: str


@dataclass
class PrepareWorkspaceResult:
    workspace: str
    base_sha: str


@dataclass
class ProvisionInput:
    run_id: int
    project_id: int
    attempt: int
    workspace: str


@dataclass
class ProvisionResult:
    container_id: str
    container_name: str


@dataclass
class ContainerInput:
    run_id: int
    attempt: int
    container_name: str


@dataclass
class TurnInput:
    run_id: int
    attempt: int
    turn: int
    agent: str
    model: str | None
    prompt: str
    container_name: str
    workspace: str


@dataclass
class TurnResult:
    exit_code: int
    lines: int
    error: str | None = None


@dataclass
class SummariseInput:
    run_id: int
    attempt: int
    workspace: str
    base_sha: str


@dataclass
class SummariseResult:
    changed_files: int
    additions: int
    deletions: int
    snapshot_sha: str


@dataclass
class CommitInput:
    run_id: int
    workspace: str
    message: str
    author_name: str | None = None
    author_email: str | None = None


@dataclass
class CommitResult:
    sha: str


@dataclass
class PushInput:
    run_id: int
    workspace: str
    branch: str


@dataclass
class PushResult:
    sha: str
    remote: str = field(default="origin")


@dataclass
class ReconcileInput:
    host: str
    host_queue: str


@dataclass
class RepairedRun:
    run_id: int
    was: str
    now: str
    why: str


@dataclass
class ReconcileRunsResult:
    repaired: list[RepairedRun] = field(default_factory=list)


@dataclass
class ReconcileContainersInput:
    host: str
    started_at: str
    repaired: list[RepairedRun] = field(default_factory=list)


@dataclass
class ReconcileResult:
    containers_seen: int
    containers_removed: int
    runs_repaired: int
