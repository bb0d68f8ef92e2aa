"""What the planner needs from the store: a night's problem and the plan already in it.

The registry gives the problem (transformers and feeders with their limits and base
load, the home tariff's price per slot); the sessions already given slots give the plan
a restarted or newly joined worker restores before it places anything.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from evgrid.adapters.store import models as m
from evgrid.adapters.store.uow import SqlRegistry
from evgrid.operations.model import ChargingKind
from evgrid.operations.rates import windows
from evgrid.operations.session import SessionState
from evgrid.scheduler.model import SLOT_MINUTES, Feeder, Horizon, Problem, SessionRequest, Transformer

# Unmet energy costs more than any tariff price: the planner never leaves energy on the
# table to save money, only when a limit or the departure forces it.
UNMET_PENALTY_PER_KWH = 1.0


def night_problem(sessions: object, start_utc: datetime, slot_count: int) -> Problem:
    """The night's empty planning problem from the registry: transformers, feeders, prices."""
    horizon = Horizon(start_utc, slot_count, SLOT_MINUTES)
    with sessions() as db:  # type: ignore[operator]
        tariff = SqlRegistry(db, None).tariff()
        feeders = tuple(Feeder(f.feeder_id, float(f.capacity_kw)) for f in db.scalars(select(m.Feeder)))
        forecast: dict[str, dict[datetime, float]] = {}
        for transformer_id, slot_start, kw in db.execute(
                select(m.BaseLoadForecast.transformer_id, m.BaseLoadForecast.slot_start, m.BaseLoadForecast.kw)
                .where(m.BaseLoadForecast.slot_start >= horizon.start_utc,
                       m.BaseLoadForecast.slot_start < horizon.slot_start_utc(slot_count))):
            forecast.setdefault(transformer_id, {})[slot_start] = float(kw)
        transformers = tuple(
            Transformer(t.transformer_id, float(t.capacity_kw),
                        _base_load(t.base_load_kw, horizon, forecast.get(t.transformer_id, {})), t.feeder_id)
            for t in db.scalars(select(m.Transformer).order_by(m.Transformer.transformer_id))
        )
    prices = []
    for slot in range(slot_count):
        start = horizon.slot_start_utc(slot)
        (window,) = windows(tariff, ChargingKind.HOME, start, start + timedelta(minutes=1))
        prices.append(float(window.price_per_kwh))
    return Problem(horizon, (), transformers, tuple(prices), UNMET_PENALTY_PER_KWH, feeders)


def _base_load(profile_kw: list[float] | None, horizon: Horizon,
               forecast: dict[datetime, float]) -> tuple[float, ...]:
    """Per-slot base load: a slot's forecast, else the daily profile, else zero.

    The profile is 24 hourly or 96 quarter-hour values of a UTC day.
    """
    loads = []
    for slot in range(horizon.slot_count):
        start = horizon.slot_start_utc(slot)
        if start in forecast:
            loads.append(forecast[start])
        elif profile_kw and len(profile_kw) == 96:
            loads.append(float(profile_kw[start.hour * 4 + start.minute // 15]))
        elif profile_kw:
            loads.append(float(profile_kw[start.hour % 24]))
        else:
            loads.append(0.0)
    return tuple(loads)


def planned_sessions(sessions: object, horizon: Horizon) -> list[tuple[SessionRequest, list[float]]]:
    """Every scheduled or charging session with the power per slot it was allotted (from the store)."""
    with sessions() as db:  # type: ignore[operator]
        return planned_in(db, horizon)


def planned_in(db: DbSession, horizon: Horizon) -> list[tuple[SessionRequest, list[float]]]:
    """:func:`planned_sessions` inside the transaction ``db`` (a restart reads it with the plan log's head)."""
    def aware(moment: datetime) -> datetime:
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    index = {horizon.slot_start_utc(slot): slot for slot in range(horizon.slot_count)}
    active = m.ChargingSession.state.in_([SessionState.SCHEDULED.value, SessionState.CHARGING.value])
    # Two queries whatever the number of sessions: a worker joining mid-night restores fast.
    power: dict[str, list[float]] = {}
    for session_id, slot_start, kw in db.execute(
            select(m.SlotAllocation.session_id, m.SlotAllocation.slot_start, m.SlotAllocation.power_kw)
            .join(m.ChargingSession, m.ChargingSession.session_id == m.SlotAllocation.session_id).where(active)):
        slot = index.get(aware(slot_start))
        if slot is not None:
            power.setdefault(session_id, [0.0] * horizon.slot_count)[slot] = float(kw)
    planned = []
    for session, transformer_id in db.execute(
            select(m.ChargingSession, m.ServiceLocation.transformer_id)
            .join(m.ServiceLocation, m.ServiceLocation.premise_number == m.ChargingSession.premise_number)
            .where(active).order_by(m.ChargingSession.created_at, m.ChargingSession.session_id)):
        if aware(session.departure_at) <= horizon.start_utc and session.session_id not in power:
            continue  # an earlier night's (its completion never came): nothing of it is in this night
        request = SessionRequest(
            session_id=session.session_id,
            arrival_utc=max(aware(session.plugged_in_at), horizon.start_utc),
            departure_utc=aware(session.departure_at), energy_wh=session.planned_wh or 0,
            max_power_kw=float(session.max_power_kw), transformer_id=transformer_id,
            third_party=session.kind != ChargingKind.HOME.value)
        planned.append((request, power.get(session.session_id, [0.0] * horizon.slot_count)))
    return planned
