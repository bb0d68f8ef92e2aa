"""What the planner needs from the store, one partition at a time: its problem and the plan already in it.

The registry gives the problem (a feeder's transformers, or one transformer without a
feeder, with their limits and base load; the home tariff's price per slot); the sessions
already given slots give the plan a partition restores when it is opened (a start, a
restart, a new window).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Select, and_, false, select
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from evgrid.adapters.store import models as m
from evgrid.adapters.store.leases import chunks
from evgrid.adapters.store.uow import SqlRegistry
from evgrid.operations.model import ChargingKind
from evgrid.operations.rates import windows
from evgrid.operations.session import SessionState
from evgrid.scheduler.model import SLOT_MINUTES, Feeder, Horizon, Problem, SessionRequest, Transformer
from evgrid.scheduler.partitions import partition_key

# Unmet energy costs more than any tariff price: the planner never leaves energy on the
# table to save money, only when a limit or the departure forces it.
UNMET_PENALTY_PER_KWH = 1.0


def night_problem(sessions: object, start_utc: datetime, slot_count: int) -> Problem:
    """The whole grid's empty planning problem over the given slots (reports; the planner reads partitions)."""
    horizon = Horizon(start_utc, slot_count, SLOT_MINUTES)
    with sessions() as db:  # type: ignore[operator]
        return _problem(db, horizon, select(m.Transformer), select(m.Feeder), home_prices(db, horizon))


def home_prices(db: DbSession, horizon: Horizon) -> tuple[float, ...]:
    """The default tariff's home price of every slot of ``horizon``."""
    tariff = SqlRegistry(db, None).tariff()
    prices = []
    for slot in range(horizon.slot_count):
        start = horizon.slot_start_utc(slot)
        (window,) = windows(tariff, ChargingKind.HOME, start, start + timedelta(minutes=1))
        prices.append(float(window.price_per_kwh))
    return tuple(prices)


def _problem(db: DbSession, horizon: Horizon, transformers: Select, feeders: Select,
             prices: tuple[float, ...]) -> Problem:
    """The empty problem of the ``transformers`` and ``feeders`` selected, base load per slot."""
    rows = db.scalars(transformers.order_by(m.Transformer.transformer_id)).all()
    forecast: dict[str, dict[datetime, float]] = {}
    ids = [t.transformer_id for t in rows]
    for chunk in chunks(ids):
        for transformer_id, slot_start, kw in db.execute(
                select(m.BaseLoadForecast.transformer_id, m.BaseLoadForecast.slot_start, m.BaseLoadForecast.kw)
                .where(m.BaseLoadForecast.transformer_id.in_(chunk),
                       m.BaseLoadForecast.slot_start >= horizon.start_utc,
                       m.BaseLoadForecast.slot_start < horizon.end_utc)):
            forecast.setdefault(transformer_id, {})[_aware(slot_start)] = float(kw)
    planned = tuple(
        Transformer(t.transformer_id, float(t.capacity_kw),
                    _base_load(t.base_load_kw, horizon, forecast.get(t.transformer_id, {})), t.feeder_id)
        for t in rows
    )
    grid_feeders = tuple(Feeder(f.feeder_id, float(f.capacity_kw)) for f in db.scalars(feeders))
    return Problem(horizon, (), planned, prices, UNMET_PENALTY_PER_KWH, grid_feeders)


class StoreGrid:
    """The planner's :class:`~evgrid.scheduler.partitions.GridSource` on the store, one partition at a time."""

    def __init__(self, sessions: sessionmaker[DbSession]) -> None:
        self._sessions = sessions
        self._prices: dict[Horizon, tuple[float, ...]] = {}  # the same for every partition of a window

    def partition_of(self, transformer_id: str) -> str | None:
        with self._sessions() as db:
            row = db.execute(select(m.Transformer.feeder_id).where(m.Transformer.transformer_id == transformer_id)
                             ).first()
        return None if row is None else partition_key(transformer_id, row.feeder_id)

    def problem(self, partition: str, horizon: Horizon) -> Problem:
        with self._sessions() as db:
            return self.problem_in(db, partition, horizon)

    def problem_in(self, db: DbSession, partition: str, horizon: Horizon) -> Problem:
        """:meth:`problem` inside the transaction ``db``."""
        prices = self._prices.get(horizon)
        if prices is None:
            prices = self._prices[horizon] = home_prices(db, horizon)
            if len(self._prices) > 8:  # windows past are not asked for again
                del self._prices[next(iter(self._prices))]
        kind, _, key = partition.partition(":")
        if kind == "feeder":
            return _problem(db, horizon, select(m.Transformer).where(m.Transformer.feeder_id == key),
                            select(m.Feeder).where(m.Feeder.feeder_id == key), prices)
        return _problem(db, horizon, select(m.Transformer).where(m.Transformer.transformer_id == key,
                                                                 m.Transformer.feeder_id.is_(None)),
                        select(m.Feeder).where(false()), prices)

    def planned(self, partition: str, horizon: Horizon) -> list[tuple[SessionRequest, list[float]]]:
        with self._sessions() as db:
            return planned_in(db, horizon, partition)

    def changed(self) -> None:
        self._prices.clear()


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


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def planned_in(db: DbSession, horizon: Horizon, partition: str | None = None,
               ) -> list[tuple[SessionRequest, list[float]]]:
    """Every scheduled or charging session (of ``partition``, if given) with its power per slot of ``horizon``.

    Read in the caller's transaction: a scale-out worker reads it holding the
    partition's plan lock, so it is exactly the plan at the log's position.
    """
    aware = _aware
    index = {horizon.slot_start_utc(slot): slot for slot in range(horizon.slot_count)}
    active = m.ChargingSession.state.in_([SessionState.SCHEDULED.value, SessionState.CHARGING.value])
    if partition is not None:
        active = and_(active, m.ChargingSession.premise_number.in_(_premises_of(partition)))
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


def _premises_of(partition: str) -> Select:
    kind, _, key = partition.partition(":")
    transformers = (select(m.Transformer.transformer_id).where(m.Transformer.feeder_id == key) if kind == "feeder"
                    else select(m.Transformer.transformer_id).where(m.Transformer.transformer_id == key))
    return select(m.ServiceLocation.premise_number).where(m.ServiceLocation.transformer_id.in_(transformers))
