"""Named pauses for fault-injection tests: `SLIPWAY_FAILPOINTS="provision.created=30"` makes
the worker log that it reached `provision.created` and then wait 30 s there, so a test can kill
it at exactly that point. Unset (the default), a failpoint costs one dict lookup."""

from __future__ import annotations

import logging
import os
import time

log = logging.getLogger("slipway.failpoints")


def _parse(spec: str) -> dict[str, float]:
    points: dict[str, float] = {}
    for item in spec.split(","):
        name, _, seconds = item.strip().partition("=")
        if name:
            points[name] = float(seconds or 0)
    return points


_POINTS = _parse(os.environ.get("SLIPWAY_FAILPOINTS", ""))


def failpoint(name: str) -> None:
    seconds = _POINTS.get(name)
    if seconds is None:
        return
    log.warning("failpoint %s reached; waiting %.1fs", name, seconds)
    time.sleep(seconds)
