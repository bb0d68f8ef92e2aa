"""The mutable working state of one assignment: residual headroom per slot.

Private to the scheduler: :mod:`~evgrid.scheduler.assign` and
:mod:`~evgrid.scheduler.improve` share it. Everything is plain lists of floats
indexed by position, because the inner loops run a hundred thousand times a night
and attribute lookups on dataclasses would dominate them.
"""

from __future__ import annotations

from evgrid.scheduler.model import Plan, Problem, SessionRequest

# Smaller remainders are float noise of the energy bookkeeping.
ENERGY_EPS_KWH = 1e-9
# Less power than this in a slot is not worth placing (and would only churn the plan).
MOVE_EPS_KW = 1e-6


class Headroom:
    """Residual transformer and feeder headroom (kW) and total load per slot.

    Attributes:
        slots: Number of slots in the horizon.
        slot_hours: Length of a slot in hours.
        prices: Price per kWh of each slot, as float.
        penalty: Cost per unmet kWh, as float.
        transformer_index: Transformer id -> position.
        room: ``room[k][t]``: what transformer ``k`` can still take in slot ``t``.
        load: ``load[k][t]``: its base load plus the EV load placed so far (the
            diversity tie-break levels this).
        feeder_of: Position of the limited feeder of transformer ``k``, or -1.
        feeder_room: ``feeder_room[j][t]``: what limited feeder ``j`` can still take.
    """

    __slots__ = (
        "feeder_of",
        "feeder_room",
        "load",
        "penalty",
        "prices",
        "room",
        "slot_hours",
        "slots",
        "transformer_index",
    )

    def __init__(self, problem: Problem) -> None:
        """Headroom of an empty night: capacity minus base load, never below zero.

        Args:
            problem: The night; its sessions are not placed.
        """
        horizon = problem.horizon
        self.slots = horizon.slot_count
        self.slot_hours = horizon.slot_hours
        self.prices = [float(price) for price in problem.prices_per_kwh]
        self.penalty = float(problem.penalty_per_kwh)
        transformers = problem.transformers
        self.transformer_index = {t.transformer_id: k for k, t in enumerate(transformers)}
        # A base load above the rating is the grid's state, not the plan's: it leaves
        # no room for EVs, which is all check.violations() asks of such a slot.
        self.room = [[max(0.0, t.capacity_kw - base) for base in t.base_load_kw] for t in transformers]
        self.load = [list(t.base_load_kw) for t in transformers]
        limited = [f for f in problem.feeders if f.capacity_kw is not None]
        position = {f.feeder_id: j for j, f in enumerate(limited)}
        self.feeder_of = [position.get(t.feeder_id, -1) if t.feeder_id else -1 for t in transformers]
        self.feeder_room = []
        for j, feeder in enumerate(limited):
            capacity = feeder.capacity_kw or 0.0
            members = [t for k, t in enumerate(transformers) if self.feeder_of[k] == j]
            base_kw = [sum(t.base_load_kw[slot] for t in members) for slot in range(self.slots)]
            self.feeder_room.append([max(0.0, capacity - load) for load in base_kw])

    @classmethod
    def after(cls, problem: Problem, plan: Plan) -> Headroom:
        """Headroom left once every session of ``plan`` draws its planned power.

        Args:
            problem: The night the plan was made for.
            plan: The current plan; sessions it has and the problem lacks are ignored.

        Returns:
            The residual headroom, clamped at zero.
        """
        headroom = cls(problem)
        transformer_of = {s.session_id: s.transformer_id for s in problem.sessions}
        for session_plan in plan.sessions:
            transformer_id = transformer_of.get(session_plan.session_id)
            if transformer_id is None:
                continue
            k = headroom.transformer_index[transformer_id]
            for slot, power in enumerate(session_plan.power_kw):
                if power > 0:
                    headroom.shift(k, slot, power)
        for rooms in (*headroom.room, *headroom.feeder_room):
            rooms[:] = [max(0.0, room) for room in rooms]
        return headroom

    def available(self, k: int, slot: int) -> float:
        """What transformer ``k`` and its feeder can still both take in ``slot``."""
        room = self.room[k][slot]
        feeder = self.feeder_of[k]
        if feeder >= 0:
            return min(room, self.feeder_room[feeder][slot])
        return room

    def shift(self, k: int, slot: int, power_kw: float) -> None:
        """Add ``power_kw`` (negative: remove it) of EV load on transformer ``k``."""
        self.room[k][slot] -= power_kw
        self.load[k][slot] += power_kw
        feeder = self.feeder_of[k]
        if feeder >= 0:
            self.feeder_room[feeder][slot] -= power_kw


def fill(
    headroom: Headroom,
    session: SessionRequest,
    first: int,
    fractions: tuple[float, ...],
    order: list[int],
) -> list[float]:
    """Give ``session`` as much power as it needs, slot by slot in ``order``.

    Each slot gets the most the session, its transformer and its feeder allow, until
    the requested energy is reached; the headroom is updated in place.

    Args:
        headroom: Working state, updated.
        session: The session to place.
        first: First slot of its window.
        fractions: Share of each window slot inside its window.
        order: Window slots in order of preference.

    Returns:
        Its power per slot of the horizon.
    """
    power = [0.0] * headroom.slots
    remaining_kwh = session.energy_wh / 1000
    k = headroom.transformer_index[session.transformer_id]
    room, load = headroom.room[k], headroom.load[k]
    feeder = headroom.feeder_of[k]
    feeder_room = headroom.feeder_room[feeder] if feeder >= 0 else None
    max_kw, hours = session.max_power_kw, headroom.slot_hours
    for slot in order:
        if remaining_kwh <= ENERGY_EPS_KWH:
            break
        kwh_per_kw = hours * fractions[slot - first]
        value = room[slot]
        if feeder_room is not None and feeder_room[slot] < value:
            value = feeder_room[slot]
        value = min(value, max_kw, remaining_kwh / kwh_per_kw)
        if value <= MOVE_EPS_KW:
            continue
        power[slot] = value
        room[slot] -= value
        load[slot] += value
        if feeder_room is not None:
            feeder_room[slot] -= value
        remaining_kwh -= value * kwh_per_kw
    return power
