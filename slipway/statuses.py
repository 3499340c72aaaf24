"""The run state machine's vocabulary, shared by the workflow, the activities and the API."""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    DRAFT = "draft"
    QUEUED = "queued"
    PROVISIONING = "provisioning"
    RUNNING = "running"
    PAUSED = "paused"
    REVIEW = "review"
    APPROVED = "approved"
    COMMITTED = "committed"
    PUSHED = "pushed"
    REJECTED = "rejected"
    FAILED = "failed"
    CANCELLED = "cancelled"


# No command can move a run out of these.
TERMINAL = frozenset({RunStatus.PUSHED, RunStatus.REJECTED, RunStatus.CANCELLED})

# The agent is not working and will print nothing more until a command changes that: a
# timeline stream may close once the client has every event.
AT_REST = frozenset(
    {
        RunStatus.REVIEW,
        RunStatus.APPROVED,
        RunStatus.COMMITTED,
        RunStatus.PUSHED,
        RunStatus.REJECTED,
        RunStatus.FAILED,
        RunStatus.CANCELLED,
    }
)


# The commands each status accepts: the workflow's update validators and the health
# endpoint's `availableActions` both read this one table.
ACTIONS: dict[RunStatus, tuple[str, ...]] = {
    RunStatus.DRAFT: ("start", "cancel"),
    RunStatus.QUEUED: ("cancel",),
    RunStatus.PROVISIONING: ("cancel",),
    RunStatus.RUNNING: ("pause", "cancel"),
    RunStatus.PAUSED: ("resume", "cancel"),
    RunStatus.REVIEW: ("approve", "reject", "cancel"),
    RunStatus.APPROVED: ("commit", "push", "cancel"),
    RunStatus.COMMITTED: ("push", "cancel"),
    RunStatus.FAILED: ("retry", "cancel"),
    RunStatus.PUSHED: (),
    RunStatus.REJECTED: (),
    RunStatus.CANCELLED: (),
}
