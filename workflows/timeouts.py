"""Every activity timeout and retry policy of the workflows, in one place."""

from datetime import timedelta

from temporalio.common import RetryPolicy

RECORD_STATUS = timedelta(seconds=10)
PICK_HOST = timedelta(seconds=10)
PREPARE_WORKSPACE = timedelta(minutes=15)
PROVISION_CONTAINER = timedelta(minutes=5)
CONTAINER_COMMAND = timedelta(minutes=1)
SUMMARISE = timedelta(minutes=5)
GIT_COMMIT = timedelta(minutes=2)
GIT_PUSH = timedelta(minutes=15)

# The agent turn's own limits (idle, maximum duration) are the worker's settings; this only
# bounds a turn whose worker never reports back.
AGENT_TURN = timedelta(hours=24)
# Short, so work on a host is retried (and a turn re-attached) soon after its worker dies;
# every host activity heartbeats at least once a second.
HOST_HEARTBEAT = timedelta(seconds=5)

QUICK_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=10,
)
TURN_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=500),
    backoff_coefficient=1.5,
    maximum_interval=timedelta(seconds=3),
    maximum_attempts=0,  # re-attach for as long as the turn lives; the activity fails itself
)

RECONCILE = timedelta(minutes=5)
