"""Every `ApplicationError.type` Slipway raises: activities and workflows raise them, the
workflow and the API (api/errors.py) read them."""

CONTAINER_LOST = "container_lost"
AGENT_IDLE = "agent_idle_timeout"
AGENT_TOO_LONG = "agent_max_duration"
GIT_FAILED = "git_failed"
PUSH_REJECTED = "push_rejected"
IMAGE_MISSING = "image_missing"
INVALID_TRANSITION = "invalid_transition"
HOST_LOST = "host_lost"
