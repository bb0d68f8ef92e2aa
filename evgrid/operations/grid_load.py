"""Live transformer readings: the transformer's own meter tells its load, and the plan never keeps an overload.

A 61968-9 ``created MeterReadings`` for a transformer's meter (``evgrid baseload meters``)
is checked by the interval rules like any meter's. Its newest interval (or, without
intervals, its newest two registers) gives the transformer's whole load in kW; less the
EV power the plan had there, that is its base load, carried to the current and next
slots (:func:`evgrid.scheduler.partitions.observe_in`) and kept (it beats the forecast
for those slots). When the new base load puts a transformer or its feeder over its
limit, the sessions with power in those slots are planned again at once:

- not started yet: placed again from now (a new TimeSlotAllotment, the start moved);
- charging: their power is kept until the next slot boundary (it cannot change
  sooner) and the rest is placed around the others; the new TimeSlotAllotment reaches
  the portal, which writes the lower ``DESE1.ChaPwrLim`` at that boundary.

Each re-plan is a transition (SCHEDULED or CHARGING again, detail ``2.2``/``3.2``
with the reading's MessageID), so the session's history says why its slots moved.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from evgrid.errors import InvalidParameter
from evgrid.operations import events, metering
from evgrid.operations.ports import UnitOfWork
from evgrid.operations.session import SessionState as S
from evgrid.operations.session import advance

WH_PER_KWH = 1000


def measured_load(registers: list[metering.Register], intervals: list[metering.Interval],
                  what: str) -> tuple[datetime, float]:
    """(start, average kW) of the newest interval measured, else of the newest two registers."""
    metering.spans(registers, intervals, what=what)
    if intervals:
        newest = max(intervals, key=lambda interval: interval.end_utc)
        return newest.end_utc - metering.INTERVAL, newest.wh * (timedelta(hours=1) / metering.INTERVAL) / WH_PER_KWH
    ordered = sorted(registers, key=lambda register: register.at_utc)
    if len(ordered) < 2:
        raise InvalidParameter(f"{what}: a transformer's load needs an interval or two register reads")
    first, last = ordered[-2], ordered[-1]
    hours = (last.at_utc - first.at_utc) / timedelta(hours=1)
    return first.at_utc, (last.wh - first.wh) / hours / WH_PER_KWH


def record_transformer_load(transformer_id: str, meter: str, registers: list[metering.Register],
                            intervals: list[metering.Interval], uow: UnitOfWork, now: datetime,
                            message_id: str | None) -> tuple[str, ...]:
    """Take a transformer meter's readings in (see the module docstring); the sessions planned again."""
    start, kw = measured_load(registers, intervals, f"transformer {transformer_id}'s meter {meter}")
    if start + metering.INTERVAL > now + metering.CLOCK_SKEW:
        raise InvalidParameter(f"meter {meter}: a load measured until {(start + metering.INTERVAL).isoformat()} "
                               "is in the future")
    change = uow.planner.observe_load(transformer_id, start, kw, now)
    uow.ledger.record_base_load(transformer_id, change.base_kw)
    boundary = metering.floor_interval(now) + metering.INTERVAL  # the next one: power changes there
    moved = []
    for session_id in change.overloaded:
        session = uow.sessions.get(session_id)
        if session.state is S.SCHEDULED and (session.planned_start_utc is None or session.planned_start_utc > now):
            uow.planner.release(session.session_id, session.transformer_id)
            allotment = uow.planner.place(session, now)
        elif session.state in (S.SCHEDULED, S.CHARGING):  # started, or about to: from the next boundary
            allotment = uow.planner.reshape(session, boundary)
        else:
            continue
        session, transition = advance(session, session.state, now, message_id=message_id,
                                      detail="3.2" if session.third_party else "2.2",
                                      planned_start_utc=allotment.start_utc or session.planned_start_utc,
                                      planned_end_utc=allotment.end_utc, planned_wh=allotment.planned_wh)
        uow.sessions.save(session, transition)
        uow.sessions.allot(allotment)
        uow.outbox.put(events.SlotAllotted(session, allotment, revision=message_id or f"load-{now.isoformat()}"))
        moved.append(session_id)
    return tuple(moved)
