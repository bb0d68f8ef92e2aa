"""Tables of the scale-out: several ``evgrid serve`` workers on one PostgreSQL database.

- :class:`Worker`: each worker's heartbeat; a worker is live while its ``seen_at`` is
  younger than the lease time.
- :class:`StationLease`: which worker dispatches a station, until when (see
  :mod:`evgrid.adapters.store.leases`).
- :class:`DispatchOrder`: a start or stop order was issued for a session; at most one
  of each, whichever worker fires the job (see :mod:`evgrid.adapters.store.dispatch`).
- :class:`PlanState` and :class:`PlanChange`: the night plan's change log; the single
  ``plan_state`` row is the lock that serialises planner changes across workers (see
  :mod:`evgrid.adapters.store.plan_log`).

Imported by :mod:`evgrid.adapters.store.models`, so one metadata holds every table.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from evgrid.adapters.store.models import ID_LENGTH, Base, _ids

START_ORDER = "start"
STOP_ORDER = "stop"
PLACE = "place"
RELEASE = "release"
PLAN_STATE_ID = 1  # the one row of plan_state


class Worker(Base):
    """A ``serve`` worker and when it last renewed its leases."""

    __tablename__ = "workers"

    worker_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    seen_at: Mapped[datetime]


class StationLease(Base):
    """Which ``serve`` worker dispatches a station, until when (scale-out)."""

    __tablename__ = "station_leases"

    station_id: Mapped[str] = mapped_column(ForeignKey("charging_stations.station_id"), primary_key=True)
    worker_id: Mapped[str] = mapped_column(String(ID_LENGTH), index=True)
    expires_at: Mapped[datetime]


class DispatchOrder(Base):
    """A session's start (or stop) order was put in the outbox: never a second one."""

    __tablename__ = "dispatch_orders"
    __table_args__ = (CheckConstraint(f"action IN ({_ids(START_ORDER, STOP_ORDER)})", name="action"),)

    session_id: Mapped[str] = mapped_column(ForeignKey("charging_sessions.session_id"), primary_key=True)
    action: Mapped[str] = mapped_column(String(8), primary_key=True)
    worker_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    ordered_at: Mapped[datetime]


class PlanState(Base):
    """The newest ``plan_changes`` sequence number; its one row is the cross-worker plan lock."""

    __tablename__ = "plan_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)


class PlanChange(Base):
    """One change of the night plan: a session placed (its request and power) or released.

    ``seq`` is given under the ``plan_state`` lock, so entries commit in ``seq`` order with
    no gaps still in flight: a reader that sees ``seq`` n has seen every entry below it.
    """

    __tablename__ = "plan_changes"
    __table_args__ = (CheckConstraint(f"kind IN ({_ids(PLACE, RELEASE)})", name="kind"),)

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(8))
    session_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    # Placements only: the SessionRequest as placed and its exact power per slot (floats:
    # JSON keeps them to the bit, unlike the kW rounded to the watt in slot_allocations).
    request: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    power_kw: Mapped[list[float] | None] = mapped_column(JSON)
    worker_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    at: Mapped[datetime]
