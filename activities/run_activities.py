"""Every piece of I/O a run needs: workspace, container, agent turn, summary, git, DB mirror.

Each activity is idempotent: a retry after a crash finds what the first attempt left (the
workspace marker, the named container, the turn's lock, the event keys) and carries on."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import docker
from docker.errors import APIError, ImageNotFound, NotFound
from docker.models.containers import Container
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, delete, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import errors
from activities.types import (
    CommitInput,
    CommitResult,
    ContainerInput,
    PickHostResult,
    PrepareWorkspaceInput,
    PrepareWorkspaceResult,
    ProvisionInput,
    ProvisionResult,
    PushInput,
    PushResult,
    RecordStatusInput,
    SummariseInput,
    SummariseResult,
    TurnInput,
    TurnResult,
)
from slipway import gitops
from slipway.agents import get_adapter
from slipway.db import AgentEvent, Run, RunFile, utcnow
from slipway.failpoints import failpoint
from slipway.health import observe
from slipway.settings import Settings
from slipway.timeline import EventDraft, append_events

CONTAINER_WORKSPACE = "/workspace"
TURNS_DIR = ".slipway/turns"
LABEL_RUN = "slipway.run"
LABEL_PROJECT = "slipway.project"
LABEL_ATTEMPT = "slipway.attempt"
LABEL_QUEUE = "slipway.queue"
# The tail polls fast while the agent is printing (or just started) and backs off when quiet.
TAIL_INTERVAL_ACTIVE = 0.05
TAIL_INTERVAL_QUIET = 0.25
TAIL_ACTIVE_FOR = 2.0
CONTAINER_CHECK_INTERVAL = 2.0
READ_CHUNK = 1 << 20
HEARTBEAT_EVERY = 1.0

T = TypeVar("T")


def container_name(task_queue: str, run_id: int, attempt: int) -> str:
    """Unique per installation (its task queue), so two Slipways sharing a Docker engine
    never adopt each other's containers; `slipway-run-<id>-<attempt>` by default."""
    return f"{task_queue}-run-{run_id}-{attempt}"


def _relative(path: str | None) -> str | None:
    if path and path.startswith(CONTAINER_WORKSPACE + "/"):
        return path[len(CONTAINER_WORKSPACE) + 1 :]
    return path


async def heartbeating(fn: Callable[..., T], *args: Any) -> T:
    """Run blocking `fn` in a thread, heartbeating meanwhile: a worker that dies during a
    long clone, build or push is then noticed within the heartbeat timeout, not at the
    activity's start-to-close timeout."""
    task = asyncio.ensure_future(asyncio.to_thread(fn, *args))
    while True:
        done, _ = await asyncio.wait({task}, timeout=HEARTBEAT_EVERY)
        if done:
            return task.result()
        activity.heartbeat()


def _git_error(e: Exception) -> ApplicationError:
    return ApplicationError(str(e), type=errors.GIT_FAILED, non_retryable=True)


class RunActivities:
    """Built once per worker with its settings, DB engine and Docker client."""

    def __init__(self, settings: Settings, engine: Engine, docker_client: docker.DockerClient):
        self.settings = settings
        self.engine = engine
        self.docker = docker_client

    def shared_activities(self) -> list[Any]:
        return [self.pick_host, self.record_status]

    def host_activities(self) -> list[Any]:
        return [
            self.prepare_workspace,
            self.provision_container,
            self.run_agent_turn,
            self.pause_container,
            self.unpause_container,
            self.summarise,
            self.teardown_container,
            self.commit,
            self.push,
        ]

    def _events(self, run_id: int, *drafts: EventDraft) -> None:
        append_events(self.engine, run_id, list(drafts))

    def _observe(self, run_id: int, name: str, status: str, **kw: Any) -> None:
        observe(
            self.engine, run_id, status, host=self.settings.host_name, container_name=name, **kw
        )

    # ---- shared queue -------------------------------------------------------------------

    @activity.defn
    async def pick_host(self) -> PickHostResult:
        """Runs on the shared queue; whichever worker takes it becomes the run's host."""
        return PickHostResult(
            host=self.settings.host_name,
            task_queue=self.settings.host_task_queue,
            host_lost_timeout_seconds=self.settings.host_lost_timeout_seconds,
        )

    @activity.defn
    async def record_status(self, inp: RecordStatusInput) -> None:
        await asyncio.to_thread(self._record_status, inp)

    def _record_status(self, inp: RecordStatusInput) -> None:
        severity = "error" if inp.status == "failed" else "info"
        data: dict[str, Any] = {"from": inp.previous, "to": inp.status}
        if inp.reason:
            data["reason"] = inp.reason
        # The event goes in before the row changes: a reader that sees the new status has
        # every event up to it (the SSE stream relies on this to know when it may end).
        self._events(
            inp.run_id,
            EventDraft(f"status:{inp.transition}", "status_changed", data, severity=severity),
        )
        now = utcnow()
        with Session(self.engine) as session:
            run = session.get(Run, inp.run_id)
            if run is None:
                raise ApplicationError(f"run {inp.run_id} not found", non_retryable=True)
            run.status = inp.status
            run.updated_at = now
            for name in (
                "attempt",
                "branch",
                "base_sha",
                "host",
                "container_id",
                "commit_sha",
                "review_notes",
            ):
                value = getattr(inp, name)
                if value is not None:
                    setattr(run, name, value)
            if inp.status == "queued":
                run.failure_reason = None
                run.finished_at = None
            if inp.status == "failed":
                run.failure_reason = inp.reason
            if inp.status == "running" and run.started_at is None:
                run.started_at = now
            if inp.status in ("review", "failed", "cancelled", "rejected", "pushed"):
                run.finished_at = now
            session.add(run)
            session.commit()

    # ---- workspace ----------------------------------------------------------------------

    @activity.defn
    async def prepare_workspace(self, inp: PrepareWorkspaceInput) -> PrepareWorkspaceResult:
        workspace = self.settings.workspaces_dir / f"run-{inp.run_id}-{inp.attempt}"
        try:
            base_sha = await heartbeating(
                gitops.prepare_workspace,
                inp.repository_url,
                workspace,
                inp.branch,
                inp.base_branch,
            )
        except gitops.GitError as e:
            raise _git_error(e) from e
        self._events(
            inp.run_id,
            EventDraft(
                f"cloned:{inp.attempt}",
                "repository_cloned",
                {"branch": inp.branch, "baseBranch": inp.base_branch, "baseSha": base_sha},
            ),
        )
        return PrepareWorkspaceResult(workspace=str(workspace), base_sha=base_sha)

    # ---- container ----------------------------------------------------------------------

    def _get_container(self, name: str) -> Container | None:
        try:
            return self.docker.containers.get(name)
        except NotFound:
            return None

    @activity.defn
    async def provision_container(self, inp: ProvisionInput) -> ProvisionResult:
        container = await heartbeating(self._provision, inp)
        self._events(
            inp.run_id,
            EventDraft(
                f"container_started:{inp.attempt}",
                "container_started",
                {
                    "containerId": container.id,
                    "name": container.name,
                    "image": self.settings.agent_image,
                },
            ),
        )
        return ProvisionResult(container_id=str(container.id), container_name=str(container.name))

    def _provision(self, inp: ProvisionInput) -> Container:
        name = container_name(self.settings.task_queue, inp.run_id, inp.attempt)
        existing = self._get_container(name)
        if existing is None:
            try:
                existing = self.docker.containers.create(
                    self.settings.agent_image,
                    command=["sleep", "infinity"],
                    name=name,
                    labels={
                        LABEL_RUN: str(inp.run_id),
                        LABEL_PROJECT: str(inp.project_id),
                        LABEL_ATTEMPT: str(inp.attempt),
                        LABEL_QUEUE: self.settings.task_queue,
                    },
                    volumes={inp.workspace: {"bind": CONTAINER_WORKSPACE, "mode": "rw"}},
                    working_dir=CONTAINER_WORKSPACE,
                    user=f"{os.getuid()}:{os.getgid()}",
                    environment={"HOME": "/tmp", "SLIPWAY_RUN_ID": str(inp.run_id)},
                    cap_drop=["ALL"],
                    security_opt=["no-new-privileges"],
                    pids_limit=self.settings.container_pids_limit,
                    mem_limit=self.settings.container_memory,
                    nano_cpus=int(self.settings.container_cpus * 1e9),
                    network_mode=self.settings.container_network,
                    init=True,
                )
            except ImageNotFound as e:
                raise ApplicationError(
                    f"agent image {self.settings.agent_image} is missing on host "
                    f"{self.settings.host_name}; run `slipway image build`",
                    type=errors.IMAGE_MISSING,
                    non_retryable=True,
                ) from e
            except APIError as e:
                if e.status_code != 409:  # 409: a concurrent attempt created it first
                    raise
                existing = self.docker.containers.get(name)
        failpoint("provision.created")
        existing.reload()
        if existing.status == "paused":
            existing.unpause()
        elif existing.status != "running":
            existing.start()
        self._observe(inp.run_id, name, "running")
        return existing

    @activity.defn
    async def pause_container(self, inp: ContainerInput) -> None:
        await heartbeating(self._set_paused, inp, True)

    @activity.defn
    async def unpause_container(self, inp: ContainerInput) -> None:
        await heartbeating(self._set_paused, inp, False)

    def _set_paused(self, inp: ContainerInput, paused: bool) -> None:
        """`docker pause` freezes every process of the agent; idempotent both ways."""
        c = self._get_container(inp.container_name)
        if c is None:
            raise ApplicationError(
                f"the run's container {inp.container_name} is gone",
                type=errors.CONTAINER_LOST,
                non_retryable=True,
            )
        if paused and c.status != "paused":
            c.pause()
        elif not paused and c.status == "paused":
            c.unpause()
        self._observe(inp.run_id, inp.container_name, "paused" if paused else "running")

    @activity.defn
    async def teardown_container(self, inp: ContainerInput) -> None:
        def remove() -> bool:
            c = self._get_container(inp.container_name)
            if c is None:
                return False
            c.remove(force=True)
            return True

        removed = await heartbeating(remove)
        self._observe(inp.run_id, inp.container_name, "removed")
        self._events(
            inp.run_id,
            EventDraft(
                f"container_stopped:{inp.attempt}",
                "container_stopped",
                {"name": inp.container_name, "removed": removed},
            ),
        )

    # ---- the agent turn -----------------------------------------------------------------

    @activity.defn
    async def run_agent_turn(self, inp: TurnInput) -> TurnResult:
        """Start the turn (once) and tail its log by byte offset until it exits.

        The offset and the parser state are heartbeated, so a retry after the worker died
        re-attaches to the same agent process and resumes reading where the last one stopped;
        event keys make any line read twice count once."""
        adapter = get_adapter(inp.agent)
        turns = Path(inp.workspace) / TURNS_DIR
        log = turns / f"{inp.turn}.jsonl"
        exit_file = turns / f"{inp.turn}.exit"
        pid_file = turns / f"{inp.turn}.pid"

        details = activity.info().heartbeat_details
        state: dict[str, Any] = dict(details[0]) if details else {}
        offset = int(state.get("offset", 0))
        lines = int(state.get("lines", 0))
        parser = adapter.new_parser(state.get("parser"))

        container = await asyncio.to_thread(self._get_container, inp.container_name)
        if container is None or container.status in ("exited", "dead"):
            raise self._container_lost(inp, None if container is None else container.status)
        if not pid_file.exists():
            await asyncio.to_thread(self._launch_turn, container, inp, adapter, turns)

        started = time.time()
        turn_started: float | None = None
        last_growth = time.monotonic()  # idle clock; a paused agent is not idle
        last_output = last_growth  # poll-rate clock
        last_check = 0.0
        while True:
            # The exit file is written after the log is closed, so checking it before the read
            # means the read sees every byte the agent printed.
            exited = exit_file.exists()
            chunk = await asyncio.to_thread(_read_from, log, offset)
            at_end = exited and len(chunk) < READ_CHUNK
            complete = chunk.rfind(b"\n") + 1
            if at_end and complete < len(chunk):
                complete = len(chunk)  # a last line without a newline
            if complete:
                drafts = []
                pos = offset
                for raw in chunk[:complete].splitlines(keepends=True):
                    text = raw.decode("utf-8", "replace")
                    for i, ev in enumerate(parser.parse_line(text)):
                        drafts.append(
                            EventDraft(
                                f"a{inp.attempt}:t{inp.turn}:{pos}:{i}",
                                ev.event_type,
                                ev.data,
                                severity=ev.severity,
                                path=_relative(ev.path),
                            )
                        )
                    pos += len(raw)
                    if text.strip():
                        lines += 1
                await asyncio.to_thread(append_events, self.engine, inp.run_id, drafts)
                offset += complete
                last_growth = last_output = time.monotonic()
            activity.heartbeat({"offset": offset, "lines": lines, "parser": parser.state()})
            if at_end:
                break

            now = time.monotonic()
            if now - last_check >= CONTAINER_CHECK_INTERVAL:
                last_check = now
                status = await asyncio.to_thread(self._container_status, inp.container_name)
                if status is None or status in ("exited", "dead"):
                    raise self._container_lost(inp, status)
                if status == "paused":
                    last_growth = now
                elif now - last_growth > self.settings.turn_idle_timeout_seconds:
                    raise ApplicationError(
                        f"the agent printed nothing for "
                        f"{self.settings.turn_idle_timeout_seconds:.0f}s",
                        type=errors.AGENT_IDLE,
                        non_retryable=True,
                    )
            if turn_started is None and pid_file.exists():
                turn_started = pid_file.stat().st_mtime  # when the agent really started
            if time.time() - (turn_started or started) > self.settings.turn_max_seconds:
                raise ApplicationError(
                    f"the agent ran longer than {self.settings.turn_max_seconds:.0f}s",
                    type=errors.AGENT_TOO_LONG,
                    non_retryable=True,
                )
            active = time.monotonic() - last_output < TAIL_ACTIVE_FOR
            await asyncio.sleep(TAIL_INTERVAL_ACTIVE if active else TAIL_INTERVAL_QUIET)

        exit_code = int(exit_file.read_text().strip() or "1")
        error = None
        if exit_code != 0:
            error = await asyncio.to_thread(self._turn_error, inp, exit_code, turns)
        self._events(
            inp.run_id,
            EventDraft(
                f"a{inp.attempt}:t{inp.turn}:exit",
                "agent_exited",
                {"exitCode": exit_code, "lines": lines},
                severity="error" if exit_code else "info",
            ),
        )
        return TurnResult(exit_code=exit_code, lines=lines, error=error)

    def _container_lost(self, inp: TurnInput, status: str | None) -> ApplicationError:
        """Says in the timeline what happened to the container, and fails the turn for good."""
        what = "was removed" if status is None else f"is {status} (killed or stopped)"
        message = f"the run's container {inp.container_name} {what}"
        self._observe(inp.run_id, inp.container_name, status or "missing", error=message)
        self._events(
            inp.run_id,
            EventDraft(
                f"a{inp.attempt}:t{inp.turn}:lost",
                "error",
                {"message": message, "containerStatus": status or "missing"},
                severity="error",
            ),
        )
        return ApplicationError(message, type=errors.CONTAINER_LOST, non_retryable=True)

    def _launch_turn(self, container: Container, inp: TurnInput, adapter: Any, turns: Path) -> None:
        turns.mkdir(parents=True, exist_ok=True)
        prompt_file = turns / f"{inp.turn}.prompt"
        prompt_file.write_text(inp.prompt, encoding="utf-8")
        in_container = f"{CONTAINER_WORKSPACE}/{TURNS_DIR}"
        command = adapter.command(f"{in_container}/{inp.turn}.prompt", inp.model)
        container.exec_run(
            ["slipway-turn", in_container, str(inp.turn), *command],
            detach=True,
            workdir=CONTAINER_WORKSPACE,
            user=f"{os.getuid()}:{os.getgid()}",
        )

    def _container_status(self, name: str) -> str | None:
        c = self._get_container(name)
        return None if c is None else str(c.status)

    def _turn_error(self, inp: TurnInput, exit_code: int, turns: Path) -> str:
        with Session(self.engine) as session:
            last_error = session.exec(
                select(AgentEvent)
                .where(AgentEvent.run_id == inp.run_id, AgentEvent.event_type == "error")
                .order_by(col(AgentEvent.seq).desc())
            ).first()
        if last_error and last_error.data.get("message"):
            return str(last_error.data["message"])
        err = turns / f"{inp.turn}.err"
        tail = err.read_text(errors="replace").strip().splitlines()[-3:] if err.exists() else []
        return "; ".join(tail) or f"the agent exited with status {exit_code}"

    # ---- summary ------------------------------------------------------------------------

    @activity.defn
    async def summarise(self, inp: SummariseInput) -> SummariseResult:
        return await heartbeating(self._summarise, inp)

    def _summarise(self, inp: SummariseInput) -> SummariseResult:
        workspace = Path(inp.workspace)
        try:
            snap = gitops.snapshot(workspace)
            changes = gitops.changes_between(workspace, inp.base_sha, snap)
            # git lists files in the same order for --numstat and for the diff itself.
            diff = "".join(c.diff for c in changes)
        except gitops.GitError as e:
            raise _git_error(e) from e
        with Session(self.engine) as session:
            commands = [
                str(e.data.get("command"))
                for e in session.exec(
                    select(AgentEvent)
                    .where(
                        AgentEvent.run_id == inp.run_id, AgentEvent.event_type == "command_started"
                    )
                    .order_by(col(AgentEvent.seq))
                ).all()
            ]
            session.exec(delete(RunFile).where(col(RunFile.run_id) == inp.run_id))
            for c in changes:
                session.add(
                    RunFile(
                        run_id=inp.run_id,
                        path=c.path,
                        change=c.change,
                        additions=c.additions,
                        deletions=c.deletions,
                        binary=c.binary,
                        diff=c.diff,
                    )
                )
            run = session.get(Run, inp.run_id)
            additions = sum(c.additions for c in changes)
            deletions = sum(c.deletions for c in changes)
            summary = {
                "snapshotSha": snap,
                "baseSha": inp.base_sha,
                "changedFiles": [
                    {
                        "path": c.path,
                        "change": c.change,
                        "additions": c.additions,
                        "deletions": c.deletions,
                        "binary": c.binary,
                    }
                    for c in changes
                ],
                "additions": additions,
                "deletions": deletions,
                "commandsRun": commands,
                "summarisedAt": datetime.now(UTC).isoformat(),
            }
            if run is not None:
                run.summary = summary
                run.diff = diff
                session.add(run)
            session.commit()
        drafts = [
            EventDraft(
                f"file:{inp.attempt}:{c.path}",
                "file_updated",
                {
                    "path": c.path,
                    "change": c.change,
                    "additions": c.additions,
                    "deletions": c.deletions,
                    "binary": c.binary,
                },
                path=c.path,
            )
            for c in changes
        ]
        drafts.append(
            EventDraft(
                f"summary:{inp.attempt}",
                "summary_ready",
                {
                    "changedFiles": len(changes),
                    "additions": additions,
                    "deletions": deletions,
                    "commandsRun": len(commands),
                },
            )
        )
        self._events(inp.run_id, *drafts)
        return SummariseResult(
            changed_files=len(changes), additions=additions, deletions=deletions, snapshot_sha=snap
        )

    # ---- git ----------------------------------------------------------------------------

    @activity.defn
    async def commit(self, inp: CommitInput) -> CommitResult:
        name = inp.author_name or self.settings.git_author_name
        email = inp.author_email or self.settings.git_author_email
        try:
            sha = await heartbeating(
                gitops.commit_all, Path(inp.workspace), inp.run_id, inp.message, name, email
            )
        except gitops.GitError as e:
            raise _git_error(e) from e
        await heartbeating(failpoint, "commit.done")
        self._events(
            inp.run_id,
            EventDraft(
                f"commit:{sha}",
                "commit_created",
                {"sha": sha, "message": inp.message, "authorName": name, "authorEmail": email},
            ),
        )
        return CommitResult(sha=sha)

    @activity.defn
    async def push(self, inp: PushInput) -> PushResult:
        try:
            sha = await heartbeating(gitops.push_branch, Path(inp.workspace), inp.branch)
        except gitops.PushRejected as e:
            raise ApplicationError(str(e), type=errors.PUSH_REJECTED, non_retryable=True) from e
        except gitops.GitError as e:
            raise _git_error(e) from e
        await heartbeating(failpoint, "push.done")
        self._events(
            inp.run_id,
            EventDraft(
                f"push:{sha}",
                "branch_pushed",
                {"branch": inp.branch, "sha": sha, "remote": "origin"},
            ),
        )
        return PushResult(sha=sha)


def _read_from(path: Path, offset: int) -> bytes:
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read(READ_CHUNK)
    except FileNotFoundError:
        return b""
