"""Database models and engine. SQLite (WAL) by default, PostgreSQL for scale-out."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Column, Text, UniqueConstraint, event
from sqlalchemy.engine import Engine
from sqlmodel import Field, SQLModel, create_engine


def utcnow() -> datetime:
    return datetime.now(UTC)


class Project(SQLModel, table=True):
    __tablename__ = "projects"

    id: int | None = Field(default=None, primary_key=True)
    name: str
    description: str | None = None
    repository_url: str
    default_branch: str
    head_sha: str | None = None
    last_pulled_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    # Soft delete: runs keep pointing at an archived project.
    archived_at: datetime | None = None


class Run(SQLModel, table=True):
    """Mirror of a RunWorkflow's state for fast reads; the workflow owns the status."""

    __tablename__ = "runs"
    # Ids are never reused: they name workflows (`run-<id>`) and branches.
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="projects.id", index=True)
    title: str
    prompt: str = Field(sa_column=Column(Text, nullable=False))
    selected_agent: str
    selected_model: str | None = None
    status: str = Field(default="draft", index=True)
    attempt: int = 0
    branch: str | None = None
    base_branch: str
    base_sha: str | None = None
    host: str | None = None
    container_id: str | None = None
    commit_sha: str | None = None
    failure_reason: str | None = None
    review_notes: str | None = None
    summary: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    diff: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None


class RunFile(SQLModel, table=True):
    """A file the run changed, with its diff against the run's base."""

    __tablename__ = "run_files"
    __table_args__ = (UniqueConstraint("run_id", "path"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="runs.id", index=True)
    path: str
    change: str  # added | modified | deleted
    additions: int = 0
    deletions: int = 0
    binary: bool = False
    diff: str = Field(default="", sa_column=Column(Text, nullable=False))


class AgentEvent(SQLModel, table=True):
    """One timeline event. `(run_id, seq)` orders a run's timeline without gaps; `(run_id,
    key)` makes every writer idempotent: a replayed agent line or a retried activity finds its
    key taken and adds nothing."""

    __tablename__ = "agent_events"
    __table_args__ = (
        UniqueConstraint("run_id", "seq"),
        UniqueConstraint("run_id", "key"),
        # Ids are SSE ids: a client's Last-Event-ID must never point at a reused one.
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="runs.id", index=True)
    seq: int
    key: str
    event_type: str = Field(index=True)
    severity: str = "info"
    path: str | None = None
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    SQLModel.metadata.create_all(engine)
    return engine


class ContainerObservation(SQLModel, table=True):
    """The last thing Slipway saw of a run's container (by its activities or the reconciler)."""

    __tablename__ = "container_observations"

    run_id: int = Field(primary_key=True, foreign_key="runs.id")
    host: str | None = None
    container_name: str | None = None
    container_status: str  # created | running | paused | exited | dead | removed | missing
    exit_code: int | None = None
    error: str | None = None
    observed_at: datetime = Field(default_factory=utcnow)


class Reconciliation(SQLModel, table=True):
    """One pass of a host's reconciler: what it removed and what it repaired."""

    __tablename__ = "reconciliations"

    id: int | None = Field(default=None, primary_key=True)
    host: str = Field(index=True)
    started_at: datetime
    finished_at: datetime = Field(default_factory=utcnow)
    containers_seen: int = 0
    containers_removed: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    runs_repaired: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
