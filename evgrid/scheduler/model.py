"""Inputs and output of the slot assignment: frozen dataclasses, units in the names.

A night is a :class:`Horizon` of equal slots (15 minutes by default). Power is in kW
and constant within a slot; energy is in Wh (integers, as everywhere in evgrid).

Partial slots are handled, not rounded away: when a session arrives or departs inside
a slot, only the overlapping fraction of that slot delivers energy, while the power
still counts in full against the transformer and feeder limits of that slot (the EV
draws it at that instant, so the limit must hold then).

The output, :class:`~evgrid.scheduler.plan.Plan`, is in :mod:`~evgrid.scheduler.plan`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

Price = Decimal | float
"""A money amount per kWh; Decimal from the tariff tables, float in synthetic data."""

SLOT_MINUTES = 15

# Below a watt a power value is numerical noise (LP solutions, float subtraction),
# and a start time derived from it would be wrong.
POWER_EPS_KW = 1e-6


def lateness_per_kwh(slot_count: int) -> list[float]:
    """What the third-party objective charges per kWh delivered in each slot.

    Third-party sessions are not steered by price (use-case 3.x: as soon as
    possible): their objective is unmet kWh at 1 each, plus these weights, which grow
    with the slot and stay below 1/2, so delivering always wins and earlier wins.
    The heuristic and the reference LP share it.
    """
    return [(slot + 1) / (2 * (slot_count + 1)) for slot in range(slot_count)]


def is_aware_utc(moment: datetime) -> bool:
    """Whether ``moment`` is timezone-aware with a zero UTC offset."""
    return moment.tzinfo is not None and moment.utcoffset() == timedelta(0)


@dataclass(frozen=True, slots=True)
class Horizon:
    """The night being planned: ``slot_count`` slots of ``slot_minutes`` from ``start_utc``."""

    start_utc: datetime
    slot_count: int
    slot_minutes: int = SLOT_MINUTES

    def __post_init__(self) -> None:
        """Reject a naive or non-UTC start and an empty horizon."""
        if not is_aware_utc(self.start_utc):
            raise ValueError(f"horizon start {self.start_utc!r} is not aware UTC")
        if self.slot_count < 1 or self.slot_minutes < 1:
            raise ValueError("a horizon needs at least one slot of at least one minute")

    @property
    def slot_hours(self) -> float:
        """Length of one slot in hours (0.25 for 15-minute slots)."""
        return self.slot_minutes / 60

    @property
    def end_utc(self) -> datetime:
        """End of the last slot."""
        return self.slot_start_utc(self.slot_count)

    def slot_start_utc(self, slot: int) -> datetime:
        """Start of slot ``slot`` (``slot_count`` gives the end of the horizon)."""
        return self.start_utc + timedelta(minutes=self.slot_minutes * slot)

    def window(self, arrival_utc: datetime, departure_utc: datetime) -> tuple[int, tuple[float, ...]]:
        """The slots overlapping ``[arrival_utc, departure_utc)``, clipped to the horizon.

        Args:
            arrival_utc: When the EV is plugged in.
            departure_utc: When it leaves.

        Returns:
            ``(first_slot, fractions)``: ``fractions[i]`` is the share of slot
            ``first_slot + i`` inside the window, in ``(0, 1]``. Empty when the window
            misses the horizon or is empty.
        """
        slot_seconds = self.slot_minutes * 60.0
        begin = (arrival_utc - self.start_utc).total_seconds() / slot_seconds
        end = (departure_utc - self.start_utc).total_seconds() / slot_seconds
        begin, end = max(begin, 0.0), min(end, float(self.slot_count))
        if end <= begin:
            return 0, ()
        first = int(begin)
        last = min(self.slot_count - 1, int(end) if end > int(end) else int(end) - 1)
        fractions = tuple(min(end, slot + 1.0) - max(begin, float(slot)) for slot in range(first, last + 1))
        return first, fractions


@dataclass(frozen=True, slots=True)
class SessionRequest:
    """One EV's charging need, as confirmed by the EV Operation System (step 2.1.1).

    ``max_power_kw`` is already the lower of the station's and the EV's limits.
    Third-party sessions (use-case 3.x) charge as soon as possible; home sessions are
    placed in the cheapest hours.
    """

    session_id: str
    arrival_utc: datetime
    departure_utc: datetime
    energy_wh: int
    max_power_kw: float
    transformer_id: str
    third_party: bool = False

    def __post_init__(self) -> None:
        """Reject naive or non-UTC times and negative energy or power."""
        if not (is_aware_utc(self.arrival_utc) and is_aware_utc(self.departure_utc)):
            raise ValueError(f"session {self.session_id}: arrival/departure must be aware UTC")
        if self.energy_wh < 0 or not self.max_power_kw >= 0:
            raise ValueError(f"session {self.session_id}: negative energy or power")


@dataclass(frozen=True, slots=True)
class Transformer:
    """A distribution transformer: its rating and its forecast non-EV load per slot."""

    transformer_id: str
    capacity_kw: float
    base_load_kw: tuple[float, ...]
    feeder_id: str | None = None


@dataclass(frozen=True, slots=True)
class Feeder:
    """A feeder; ``capacity_kw=None`` means it never binds."""

    feeder_id: str
    capacity_kw: float | None = None


@dataclass(frozen=True, slots=True)
class Problem:
    """Everything one assignment needs; checked for consistency on construction."""

    horizon: Horizon
    sessions: tuple[SessionRequest, ...]
    transformers: tuple[Transformer, ...]
    prices_per_kwh: tuple[Price, ...]
    penalty_per_kwh: Price
    feeders: tuple[Feeder, ...] = ()

    def __post_init__(self) -> None:
        """Reject inconsistent inputs: lengths, duplicate ids, dangling references."""
        slots = self.horizon.slot_count
        if len(self.prices_per_kwh) != slots:
            raise ValueError(f"{len(self.prices_per_kwh)} prices for {slots} slots")
        feeder_ids = _unique((f.feeder_id for f in self.feeders), "feeder")
        transformer_ids = _unique((t.transformer_id for t in self.transformers), "transformer")
        _unique((s.session_id for s in self.sessions), "session")
        for transformer in self.transformers:
            if len(transformer.base_load_kw) != slots:
                raise ValueError(f"transformer {transformer.transformer_id}: base load is not per slot")
            if transformer.feeder_id is not None and transformer.feeder_id not in feeder_ids:
                raise ValueError(f"transformer {transformer.transformer_id}: unknown feeder")
        for session in self.sessions:
            if session.transformer_id not in transformer_ids:
                raise ValueError(f"session {session.session_id}: unknown transformer")

    def with_session(self, session: SessionRequest, *, checked: bool = False) -> Problem:
        """This problem with one more session (for online placement).

        Only the new session is checked (the rest was when this problem was made), and not
        even that when the caller has (``checked``: a plan indexing this problem's sessions
        and transformers has placed it): online placement then costs no O(sessions) check.
        """
        if not checked:
            if any(s.session_id == session.session_id for s in self.sessions):
                raise ValueError(f"duplicate session id {session.session_id!r}")
            if all(t.transformer_id != session.transformer_id for t in self.transformers):
                raise ValueError(f"session {session.session_id}: unknown transformer")
        grown = object.__new__(Problem)
        for name in ("horizon", "transformers", "prices_per_kwh", "penalty_per_kwh", "feeders"):
            object.__setattr__(grown, name, getattr(self, name))
        object.__setattr__(grown, "sessions", (*self.sessions, session))
        return grown


def _unique(ids: Iterable[str], what: str) -> set[str]:
    seen: set[str] = set()
    for item in ids:
        if item in seen:
            raise ValueError(f"duplicate {what} id {item!r}")
        seen.add(item)
    return seen
