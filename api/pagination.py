"""Opaque cursors over ids: `{data, meta: {nextCursor}}`."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any, TypeVar

from sqlmodel import Session
from sqlmodel.sql.expression import SelectOfScalar

from api.errors import Problem
from api.schemas import Page, PageMeta

P = TypeVar("P")

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


def page_of(
    session: Session,
    query: SelectOfScalar[Any],
    limit: int,
    to_public: Callable[[Any], P],
    cursor_of: Callable[[int], str] = encode_cursor,
) -> Page[P]:
    """One page of `query` (ordered by id): one row more than asked for tells whether
    another page follows, and the last row's id is the cursor to it."""
    rows = list(session.exec(query.limit(limit + 1)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(
        data=[to_public(r) for r in rows],
        meta=PageMeta(next_cursor=cursor_of(rows[-1].id) if more else None),
    )
