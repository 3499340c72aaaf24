"""RunWorkflow: one agent run, from draft to a pushed branch. The workflow owns the state
machine of DESIGN.md; the database row only mirrors it (via the record_status activity)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, TimeoutError, TimeoutType

with workflow.unsafe.imports_passed_through():
    from activities import errors
    from activities.run_activities import RunActivities
    from activities.types import (
        CommitInput,
        ContainerInput,
        PrepareWorkspaceInput,
        ProvisionInput,
        PushInput,
        RecordStatusInput,
        SummariseInput,
        TurnInput,
    )
    from slipway.statuses import ACTIONS, TERMINAL, RunStatus
    from workflows import search_attributes as sa
    from workflows import timeouts

S = RunStatus


@dataclass
class RunInput:
    run_id: int
    project_id: int
    title: str
    prompt: str
    agent: str
    model: str | None
    repository_url: str
    base_branch: str


@dataclass
class RunState:
    run_id: int
    status: str
    attempt: int
    branch: str | None
    failure_reason: str | None
    commit_sha: str | None
    host: str | None


@dataclass
class ApproveInput:
    notes: str | None = None
    commit: bool = False


@dataclass
class RejectInput:
    notes: str | None = None


@dataclass
class CommitRequest:
    message: str | None = None
    author_name: str | None = None
    author_email: str | None = None


class _Cancelled(Exception):
    pass


class _Failed(Exception):
    pass


def _invalid(action: str, current: str) -> ApplicationError:
    return ApplicationError(
        f"cannot {action} a run that is {current}",
        {"currentStatus": current, "action": action},
        type=errors.INVALID_TRANSITION,
        non_retryable=True,
    )


def _host_lost(err: BaseException) -> bool:
    return (
        isinstance(err, ActivityError)
        and isinstance(err.cause, TimeoutError)
        and err.cause.type == TimeoutType.SCHEDULE_TO_START
    )


def _reason(err: BaseException) -> str:
    cause: BaseException | None = err
    while isinstance(cause, ActivityError) and cause.cause is not None:
        cause = cause.cause
    return str(cause) if cause is not None else str(err)


@workflow.defn
class RunWorkflow:
    @workflow.init
    def __init__(self, inp: RunInput) -> None:
        self._input = inp
        self._status = S.DRAFT
        self._transition = 0
        self._attempt = 0
        self._branch: str | None = None
        self._workspace: str | None = None
        self._base_sha: str | None = None
        self._host: str | None = None
        self._host_queue: str | None = None
        self._host_lost_timeout = timedelta(minutes=2)
        self._host_is_lost = False
        self._container: str | None = None
        self._failure: str | None = None
        self._commit_sha: str | None = None
        self._cancel_requested = False
        self._command_lock = asyncio.Lock()
        self._record_lock = asyncio.Lock()

    # ---- main loop ----------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: RunInput) -> RunState:
        try:
            await workflow.wait_condition(lambda: self._status != S.DRAFT)
            while self._status not in TERMINAL:
                if self._status == S.QUEUED:
                    await self._attempt_once()
                else:
                    await workflow.wait_condition(
                        lambda: self._status == S.QUEUED or self._status in TERMINAL
                    )
        except asyncio.CancelledError:
            # Cancelled by an operator (Temporal UI / CLI): clean up and say so, then stop.
            await self._on_workflow_cancelled()
            raise
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.state()

    async def _on_workflow_cancelled(self) -> None:
        await self._teardown()
        if self._status not in TERMINAL:
            await self._set_status(S.CANCELLED, reason="cancelled from Temporal")

    async def _attempt_once(self) -> None:
        self._attempt += 1
        run_id = self._input.run_id
        suffix = "" if self._attempt == 1 else f"-{self._attempt}"
        self._branch = f"slipway/run-{run_id}{suffix}"
        self._container = None
        self._failure = None
        outcome, reason = S.REVIEW, None
        try:
            host = await workflow.execute_activity_method(
                RunActivities.pick_host,
                start_to_close_timeout=timeouts.PICK_HOST,
                retry_policy=timeouts.QUICK_RETRY,
            )
            self._host, self._host_queue = host.host, host.task_queue
            self._host_lost_timeout = timedelta(seconds=host.host_lost_timeout_seconds)
            self._host_is_lost = False
            self._check_cancel()
            await self._set_status(S.PROVISIONING)
            ws = await self._on_host(
                RunActivities.prepare_workspace,
                PrepareWorkspaceInput(
                    run_id,
                    self._attempt,
                    self._input.repository_url,
                    self._branch,
                    self._input.base_branch,
                ),
                timeouts.PREPARE_WORKSPACE,
            )
            self._workspace, self._base_sha = ws.workspace, ws.base_sha
            self._check_cancel()
            prov = await self._on_host(
                RunActivities.provision_container,
                ProvisionInput(run_id, self._input.project_id, self._attempt, ws.workspace),
                timeouts.PROVISION_CONTAINER,
            )
            self._container = prov.container_name
            self._check_cancel()
            await self._set_status(S.RUNNING, container_id=prov.container_id)
            await self._run_turn(1)
            await self._on_host(
                RunActivities.summarise,
                SummariseInput(run_id, self._attempt, ws.workspace, ws.base_sha),
                timeouts.SUMMARISE,
            )
        except _Cancelled:
            outcome = S.CANCELLED
        except _Failed as e:
            outcome, reason = S.FAILED, str(e)
        except ActivityError as e:
            outcome, reason = S.FAILED, self._failure_reason(e)
        await self._teardown()
        if self._cancel_requested:
            outcome, reason = S.CANCELLED, None
        self._failure = reason
        await self._set_status(outcome, reason=reason)

    def _failure_reason(self, err: ActivityError) -> str:
        if _host_lost(err):
            # Nothing more can reach that host; its reconciler cleans up when it is back.
            self._host_is_lost = True
            return (
                f"{errors.HOST_LOST}: no worker of host {self._host} picked up the run's work for "
                f"{self._host_lost_timeout.total_seconds():.0f}s"
            )
        return _reason(err)

    async def _run_turn(self, turn: int) -> None:
        assert self._container and self._workspace and self._host_queue
        handle = workflow.start_activity_method(
            RunActivities.run_agent_turn,
            TurnInput(
                self._input.run_id,
                self._attempt,
                turn,
                self._input.agent,
                self._input.model,
                self._input.prompt,
                self._container,
                self._workspace,
            ),
            task_queue=self._host_queue,
            start_to_close_timeout=timeouts.AGENT_TURN,
            heartbeat_timeout=timeouts.HOST_HEARTBEAT,
            schedule_to_start_timeout=self._host_lost_timeout,
            retry_policy=timeouts.TURN_RETRY,
        )
        await workflow.wait_condition(lambda: handle.done() or self._cancel_requested)
        if not handle.done():
            handle.cancel()
            try:
                await handle
            except (ActivityError, asyncio.CancelledError):
                pass
            raise _Cancelled()
        result = await handle
        if result.exit_code != 0:
            raise _Failed(result.error or f"the agent exited with status {result.exit_code}")

    def _check_cancel(self) -> None:
        if self._cancel_requested:
            raise _Cancelled()

    async def _teardown(self) -> None:
        if not self._container or not self._host_queue or self._host_is_lost:
            return
        name, self._container = self._container, None
        try:
            await self._on_host(
                RunActivities.teardown_container,
                ContainerInput(self._input.run_id, self._attempt, name),
                timeouts.CONTAINER_COMMAND,
            )
        except ActivityError:
            workflow.logger.warning("could not remove container %s", name)

    async def _on_host(self, activity: Any, arg: Any, timeout: timedelta) -> Any:
        """Every container and workspace activity goes to the host that holds the run."""
        return await workflow.execute_activity_method(
            activity,
            arg,
            task_queue=self._host_queue,
            start_to_close_timeout=timeout,
            heartbeat_timeout=timeouts.HOST_HEARTBEAT,
            schedule_to_start_timeout=self._host_lost_timeout,
            retry_policy=timeouts.QUICK_RETRY,
        )

    async def _set_status(
        self, status: RunStatus, reason: str | None = None, **fields: Any
    ) -> None:
        previous, self._status = self._status, status
        self._transition += 1
        workflow.upsert_search_attributes([sa.RUN_STATUS.value_set(status.value)])
        record = RecordStatusInput(
            run_id=self._input.run_id,
            transition=self._transition,
            status=status.value,
            previous=previous.value,
            reason=reason,
            attempt=self._attempt,
            branch=self._branch,
            base_sha=self._base_sha,
            host=self._host,
            commit_sha=self._commit_sha,
            **fields,
        )
        # Records go out in transition order so the mirror never ends on a stale status.
        async with self._record_lock:
            await workflow.execute_activity_method(
                RunActivities.record_status,
                record,
                start_to_close_timeout=timeouts.RECORD_STATUS,
                retry_policy=timeouts.QUICK_RETRY,
            )

    # ---- reads --------------------------------------------------------------------------

    @workflow.query
    def state(self) -> RunState:
        return RunState(
            run_id=self._input.run_id,
            status=self._status.value,
            attempt=self._attempt,
            branch=self._branch,
            failure_reason=self._failure,
            commit_sha=self._commit_sha,
            host=self._host,
        )

    # ---- commands -----------------------------------------------------------------------

    def _require(self, action: str) -> None:
        if action not in ACTIONS[self._status]:
            raise _invalid(action, self._status.value)

    @workflow.update
    async def start(self) -> RunState:
        async with self._command_lock:
            self._require("start")
            await self._set_status(S.QUEUED)
        return self.state()

    @start.validator
    def _validate_start(self) -> None:
        self._require("start")

    @workflow.update
    async def pause(self) -> RunState:
        return await self._freeze("pause", RunActivities.pause_container, S.RUNNING, S.PAUSED)

    @pause.validator
    def _validate_pause(self) -> None:
        self._require("pause")

    @workflow.update
    async def resume(self) -> RunState:
        return await self._freeze("resume", RunActivities.unpause_container, S.PAUSED, S.RUNNING)

    async def _freeze(
        self, action: str, activity: Any, before: RunStatus, after: RunStatus
    ) -> RunState:
        """Pause or resume: `docker (un)pause` on the run's host, then the status, unless the
        turn ended meanwhile."""
        async with self._command_lock:
            self._require(action)
            assert self._container
            await self._on_host(
                activity,
                ContainerInput(self._input.run_id, self._attempt, self._container),
                timeouts.CONTAINER_COMMAND,
            )
            if self._status == before:
                await self._set_status(after)
        return self.state()

    @resume.validator
    def _validate_resume(self) -> None:
        self._require("resume")

    @workflow.update
    async def cancel(self) -> RunState:
        self._require("cancel")
        self._cancel_requested = True
        if self._status in (S.DRAFT, S.REVIEW, S.APPROVED, S.COMMITTED, S.FAILED):
            async with self._command_lock:
                if self._status not in TERMINAL:
                    await self._set_status(S.CANCELLED)
        else:
            # An attempt is in flight: it stops its agent, removes its container and ends
            # the run as cancelled.
            await workflow.wait_condition(lambda: self._status == S.CANCELLED)
        return self.state()

    @cancel.validator
    def _validate_cancel(self) -> None:
        self._require("cancel")

    @workflow.update
    async def retry(self) -> RunState:
        async with self._command_lock:
            self._require("retry")
            self._commit_sha = None
            await self._set_status(S.QUEUED)
        return self.state()

    @retry.validator
    def _validate_retry(self) -> None:
        self._require("retry")

    @workflow.update
    async def approve(self, inp: ApproveInput) -> RunState:
        async with self._command_lock:
            self._require("approve")
            await self._set_status(S.APPROVED, review_notes=inp.notes)
            if inp.commit:
                await self._commit(CommitRequest())
        return self.state()

    @approve.validator
    def _validate_approve(self, inp: ApproveInput) -> None:
        self._require("approve")

    @workflow.update
    async def reject(self, inp: RejectInput) -> RunState:
        async with self._command_lock:
            self._require("reject")
            await self._set_status(S.REJECTED, review_notes=inp.notes)
        return self.state()

    @reject.validator
    def _validate_reject(self, inp: RejectInput) -> None:
        self._require("reject")

    @workflow.update
    async def commit(self, inp: CommitRequest) -> RunState:
        async with self._command_lock:
            self._require("commit")
            await self._commit(inp)
        return self.state()

    @commit.validator
    def _validate_commit(self, inp: CommitRequest) -> None:
        self._require("commit")

    @workflow.update
    async def push(self) -> RunState:
        async with self._command_lock:
            self._require("push")
            if self._status == S.APPROVED:
                await self._commit(CommitRequest())
            assert self._workspace and self._branch
            try:
                await self._on_host(
                    RunActivities.push,
                    PushInput(self._input.run_id, self._workspace, self._branch),
                    timeouts.GIT_PUSH,
                )
            except ActivityError as e:
                rejected = (
                    isinstance(e.cause, ApplicationError) and e.cause.type == errors.PUSH_REJECTED
                )
                raise ApplicationError(
                    f"push failed: {self._failure_reason(e)}",
                    type=errors.PUSH_REJECTED if rejected else errors.GIT_FAILED,
                    non_retryable=True,
                ) from e
            await self._set_status(S.PUSHED)
        return self.state()

    @push.validator
    def _validate_push(self) -> None:
        self._require("push")

    async def _commit(self, req: CommitRequest) -> None:
        assert self._workspace
        try:
            result = await self._on_host(
                RunActivities.commit,
                CommitInput(
                    self._input.run_id,
                    self._workspace,
                    req.message or self._input.title,
                    req.author_name,
                    req.author_email,
                ),
                timeouts.GIT_COMMIT,
            )
        except ActivityError as e:
            raise ApplicationError(
                f"commit failed: {self._failure_reason(e)}",
                type=errors.GIT_FAILED,
                non_retryable=True,
            ) from e
        self._commit_sha = result.sha
        await self._set_status(S.COMMITTED)
