"""`ApplicationError.type` values that activities raise and workflows read."""

CONTAINER_LOST = "container_lost"
AGENT_IDLE = "agent_idle_timeout"
AGENT_TOO_LONG = "agent_max_duration"
AGENT_FAILED = "agent_failed"
GIT_FAILED = "git_failed"
PUSH_REJECTED = "push_rejected"
IMAGE_MISSING = "image_missing"
