"""Appending to a run's timeline, exactly once per key."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from slipway.db import AgentEvent


@dataclass
class EventDraft:
    """An event before it has a sequence number. `key` must be stable across retries."""

    key: str
    event_type: str
    data: dict[str, Any] = field(default_factory=dict)
    severity: str = "info"
    path: str | None = None


def append_events(engine: Engine, run_id: int, drafts: list[EventDraft]) -> int:
    """Append the drafts whose keys are new; returns how many were added.

    Two writers of one run (the agent tail and a status change) may race for the next seq;
    the unique constraint turns the loser's insert into a retry, never a duplicate or a gap.
    """
    if not drafts:
        return 0
    for _ in range(50):
        try:
            with Session(engine) as session:
                keys = [d.key for d in drafts]
                taken = set(
                    session.exec(
                        select(AgentEvent.key).where(
                            AgentEvent.run_id == run_id, col(AgentEvent.key).in_(keys)
                        )
                    ).all()
                )
                seq = session.exec(
                    select(func.coalesce(func.max(AgentEvent.seq), 0)).where(
                        AgentEvent.run_id == run_id
                    )
                ).one()
                added = 0
                seen: set[str] = set()
                for d in drafts:
                    if d.key in taken or d.key in seen:
                        continue
                    seen.add(d.key)
                    seq += 1
                    added += 1
                    session.add(
                        AgentEvent(
                            run_id=run_id,
                            seq=seq,
                            key=d.key,
                            event_type=d.event_type,
                            severity=d.severity,
                            path=d.path,
                            data=d.data,
                        )
                    )
                session.commit()
                return added
        except IntegrityError:
            continue
    raise RuntimeError(f"could not append events to run {run_id}: too much contention")
