"""The EV Operation System's outbox table: the :class:`~evgrid.messaging.outbox.OutboxStore` of the worker."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, false, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from evgrid.adapters.store import models as m
from evgrid.messaging.outbox import Due, OutboxItem

_OUTBOX = m.OutboxMessage.__table__


def _pending_query(destinations: tuple[str, ...]) -> Select[Any]:
    """Pending rows of ``destinations`` (names, or ``prefix:*``) whose destination's oldest row is due.

    Due: its next attempt is at or before ``:now``, or after ``:latest`` (set by no worker).
    Oldest first, at most ``:limit``.
    """
    o, head_row = _OUTBOX, _OUTBOX.alias("head_row")
    heads = (select(o.c.destination, func.min(o.c.id).label("head_id")).where(o.c.status == "pending")
             .group_by(o.c.destination).subquery("heads"))
    matches = [o.c.destination.like(name[:-1].replace("_", r"\_") + "%", escape="\\") if name.endswith(":*")
               else o.c.destination == name for name in destinations]
    return (select(o.c.id, o.c.message_id, o.c.destination, o.c.body, o.c.attempts, o.c.next_attempt_at)
            .join(heads, heads.c.destination == o.c.destination).join(head_row, head_row.c.id == heads.c.head_id)
            .where(o.c.status == "pending", or_(false(), *matches),
                   or_(head_row.c.next_attempt_at <= bindparam("now"), head_row.c.next_attempt_at > bindparam("latest")))
            .order_by(o.c.id).limit(bindparam("limit")))


class SqlOutboxStore:
    """The EV Operation System's outbox table; replies go to the audit table."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._queries: dict[tuple[str, ...], Select[Any]] = {}

    def count_pending(self) -> int:
        """Messages not delivered yet (a count: a health probe must not load message bodies)."""
        with self._sessions() as db:
            return int(db.scalar(select(func.count()).select_from(m.OutboxMessage)
                                 .where(m.OutboxMessage.status == "pending")) or 0)

    def pending(self, limit: int, *, due: Due) -> list[OutboxItem]:
        query = self._queries.get(due.destinations)
        if query is None:  # built once per set of destinations: a worker asks every pass, often for nothing
            query = self._queries[due.destinations] = _pending_query(due.destinations)
        with self._sessions() as db:
            rows = db.connection().execute(query, {"now": due.now, "latest": due.now + due.horizon, "limit": limit})
            return [OutboxItem(r.id, r.message_id, r.destination, bytes(r.body), r.attempts, r.next_attempt_at)
                    for r in rows]

    def claim(self, item: OutboxItem, until: datetime) -> bool:
        with self._sessions() as db:
            claimed = db.execute(update(m.OutboxMessage).where(
                m.OutboxMessage.id == item.id, m.OutboxMessage.status == "pending",
                m.OutboxMessage.attempts == item.attempts,
            ).values(attempts=item.attempts + 1, next_attempt_at=until))
            db.commit()
            return bool(claimed.rowcount)  # type: ignore[attr-defined]

    def delivered(self, item: OutboxItem, reply: bytes, at: datetime) -> None:
        with self._sessions() as db:
            db.execute(update(m.OutboxMessage).where(m.OutboxMessage.id == item.id).values(
                status="delivered", delivered_at=at, last_error=None))
            db.add(m.AuditEntry(at=at, actor="outbox", action="delivered", subject=item.message_id, detail={
                "destination": item.destination, "attempts": item.attempts + 1,
                "reply": reply.decode("utf-8", "replace")}))
            db.commit()

    def retry(self, item: OutboxItem, error: str, at: datetime) -> None:
        with self._sessions() as db:
            db.execute(update(m.OutboxMessage).where(m.OutboxMessage.id == item.id).values(
                next_attempt_at=at, last_error=error))
            db.commit()

    def give_up(self, item: OutboxItem, error: str) -> None:
        with self._sessions() as db:
            db.execute(update(m.OutboxMessage).where(m.OutboxMessage.id == item.id).values(
                status="failed", last_error=error))
            db.commit()
