"""The EV Operation System's outbox table: the :class:`~evgrid.messaging.outbox.OutboxStore` of the worker."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import false, func, or_, select, update
from sqlalchemy.orm import Session, aliased, sessionmaker

from evgrid.adapters.store import models as m
from evgrid.messaging.outbox import Due, OutboxItem


class SqlOutboxStore:
    """The EV Operation System's outbox table; replies go to the audit table."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def count_pending(self) -> int:
        """Messages not delivered yet (a count: a health probe must not load message bodies)."""
        with self._sessions() as db:
            return int(db.scalar(select(func.count()).select_from(m.OutboxMessage)
                                 .where(m.OutboxMessage.status == "pending")) or 0)

    def pending(self, limit: int, *, due: Due) -> list[OutboxItem]:
        o, head_row = m.OutboxMessage, aliased(m.OutboxMessage)
        heads = (select(o.destination, func.min(o.id).label("head_id")).where(o.status == "pending")
                 .group_by(o.destination).subquery())
        matches = [o.destination.like(name[:-1].replace("_", r"\_") + "%", escape="\\") if name.endswith(":*")
                   else o.destination == name for name in due.destinations]
        with self._sessions() as db:
            rows = db.scalars(
                select(o).join(heads, heads.c.destination == o.destination).join(head_row, head_row.id == heads.c.head_id)
                .where(o.status == "pending", or_(false(), *matches),
                       or_(head_row.next_attempt_at <= due.now, head_row.next_attempt_at > due.now + due.horizon))
                .order_by(o.id).limit(limit))
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
