"""Opaque cursors over ids: `{data, meta: {nextCursor}}`."""

from __future__ import annotations

import base64

from api.errors import Problem

MAX_LIMIT = 1000


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = raw.partition(":")
        if kind != "id":
            raise ValueError
        return int(value)
    except (ValueError, UnicodeDecodeError):
        raise Problem(
            400, "invalid-cursor", "Invalid cursor", "The cursor is not one this API returned."
        ) from None
