"""Reachability labels for the augmenting pass of :mod:`~evgrid.scheduler.improve`.

A *group* is one transformer, or all transformers of a limited feeder (the only
coupling between transformers). A state ``(k, x)`` means "a session of transformer k
wants to enter slot x". It is terminal when x has headroom on k and its feeder;
otherwise whoever holds the binding limit can vacate x (a session of k when k is
full; any session of the feeder when only the feeder is full) and enter another full
slot of its own window. A state where a session draws power in its partial slot is
also terminal, at the price of evicting it: ``price + fraction * (penalty - price)``.

:meth:`Network.label` gives every state the cheapest terminal reachable from it, with
the next step towards it, by a reverse breadth-first search from the terminals in
ascending price that expands every session once: linear in the size of the group.
"""

from __future__ import annotations

from dataclasses import dataclass

from evgrid.scheduler.headroom import ENERGY_EPS_KWH, MOVE_EPS_KW, Headroom
from evgrid.scheduler.model import SessionRequest

INF = float("inf")
# Room below this counts as none: a chain through it could not move anything.
ROOM_EPS = MOVE_EPS_KW


@dataclass(slots=True)
class Movable:
    """One session the pass may move (mutable: private working state)."""

    session: SessionRequest
    k: int
    power: list[float]
    first: int
    fractions: tuple[float, ...]
    full_lo: int  # the full slots of the window are range(full_lo, full_hi)
    full_hi: int
    partial: tuple[int, ...]  # its partial first and last slots, if any
    unmet_kwh: float
    powered: set[int]  # slots where it draws power (the BFS iterates these, not the window)
    dearest: tuple[float, int] | None = None  # cache of Network.source(), None when stale

    def fraction(self, slot: int) -> float:
        """Share of ``slot`` inside the session's window (0 outside it)."""
        offset = slot - self.first
        return self.fractions[offset] if 0 <= offset < len(self.fractions) else 0.0


@dataclass(slots=True)
class Labels:
    """One labelling of a group, per transformer and slot."""

    price: dict[int, list[float]]  # cheapest reachable terminal
    step: dict[int, list[tuple[int, int] | None]]  # (mover, slot it enters) towards it
    evict: dict[int, list[int]]  # on a partial-slot terminal: whom to evict, else -1
    floor: float  # the cheapest terminal: energy no dearer than this cannot improve


class Network:
    """The sessions that may move, grouped as the limits couple them, and their labels."""

    def __init__(
        self,
        headroom: Headroom,
        sessions: list[SessionRequest],
        powers: dict[str, list[float]],
        windows: dict[str, tuple[int, tuple[float, ...]]],
        prices: list[float],
        penalty: float,
    ) -> None:
        """Index ``sessions`` by group, transformer and slot; ``powers`` stay shared, not copied."""
        self.headroom = headroom
        self.prices = prices
        self.penalty = penalty
        self.movables: list[Movable] = []
        for session in sessions:
            first, fractions = windows[session.session_id]
            power = powers[session.session_id]
            last = first + len(fractions) - 1
            lo = first + 1 if fractions and fractions[0] < 1.0 else first
            hi = last if len(fractions) > 1 and fractions[-1] < 1.0 else last + 1
            partial = tuple(slot for slot in sorted({first, last}) if fractions and not lo <= slot < hi)
            delivered = sum(power[first + i] * f for i, f in enumerate(fractions)) * headroom.slot_hours
            unmet = max(0.0, session.energy_wh / 1000 - delivered)
            k = headroom.transformer_index[session.transformer_id]
            powered = {slot for slot, value in enumerate(power) if value > MOVE_EPS_KW}
            self.movables.append(
                Movable(session, k, power, first, fractions, lo, max(lo, hi), partial, unmet, powered)
            )
        transformers = len(headroom.room)
        self.groups: list[list[int]] = []
        group_of: list[int] = []
        by_feeder: dict[int, int] = {}
        for k in range(transformers):
            feeder = headroom.feeder_of[k]
            if feeder < 0 or feeder not in by_feeder:
                if feeder >= 0:
                    by_feeder[feeder] = len(self.groups)
                self.groups.append([])
            group = by_feeder[feeder] if feeder >= 0 else len(self.groups) - 1
            self.groups[group].append(k)
            group_of.append(group)
        self.group_of = group_of
        self.members: list[list[int]] = [[] for _ in self.groups]
        # Who can enter a slot of a transformer (a full slot of its window), and who
        # has a slot of the group as its partial slot (and may be evicted from it).
        slots = range(headroom.slots)
        self.covering: list[list[list[int]]] = [[[] for _ in slots] for _ in self.group_of]
        self.group_partial_at: list[list[list[int]]] = [[[] for _ in slots] for _ in self.groups]
        for index, movable in enumerate(self.movables):
            self.members[group_of[movable.k]].append(index)
            for slot in range(movable.full_lo, movable.full_hi):
                self.covering[movable.k][slot].append(index)
            for slot in movable.partial:
                self.group_partial_at[group_of[movable.k]][slot].append(index)
        self.powers = [m.power for m in self.movables]
        self.caps = [m.session.max_power_kw - MOVE_EPS_KW for m in self.movables]
        self.powered = [m.powered for m in self.movables]
        self.full_lo = [m.full_lo for m in self.movables]
        self.full_hi = [m.full_hi for m in self.movables]
        self.stamp = [0] * len(self.movables)
        self.generation = 0

    def terminals(self, group: int) -> list[tuple[float, int, int, int]]:
        """``(price, transformer, slot, evicted or -1)`` of every terminal, cheapest first."""
        headroom = self.headroom
        room, prices, penalty = headroom.room, self.prices, self.penalty
        transformers = self.groups[group]
        feeder = headroom.feeder_of[transformers[0]]
        feeder_room = headroom.feeder_room[feeder] if feeder >= 0 else None
        found: list[tuple[float, int, int, int]] = []
        partial_at = self.group_partial_at[group]
        for slot in range(headroom.slots):
            feeder_full = feeder_room is not None and feeder_room[slot] <= ROOM_EPS
            occupants = [i for i in partial_at[slot] if self.movables[i].power[slot] > MOVE_EPS_KW]
            for k in transformers:
                own_full = room[k][slot] <= ROOM_EPS
                if not own_full and not feeder_full:
                    found.append((prices[slot], k, slot, -1))
                    continue
                if not occupants:
                    continue
                # Who could be evicted: someone on k if k is full, anyone on the feeder otherwise.
                best, evicted = INF, -1
                for index in occupants:
                    occupant = self.movables[index]
                    if own_full and occupant.k != k:
                        continue
                    cost = prices[slot] + occupant.fraction(slot) * (penalty - prices[slot])
                    if cost < best:
                        best, evicted = cost, index
                if evicted >= 0:
                    found.append((best, k, slot, evicted))
        found.sort()
        return found

    def label(self, group: int, ceiling: float) -> Labels:
        """Cheapest terminal reachable from every state of ``group`` (reverse BFS).

        Terminals from ``ceiling`` up are left out: no chain into them could pay off,
        as no session's energy costs more than that.
        """
        headroom = self.headroom
        room, slots = headroom.room, headroom.slots
        transformers = self.groups[group]
        feeder = headroom.feeder_of[transformers[0]]
        feeder_room = headroom.feeder_room[feeder] if feeder >= 0 else None
        price = {k: [INF] * slots for k in transformers}
        step: dict[int, list[tuple[int, int] | None]] = {k: [None] * slots for k in transformers}
        evict = {k: [-1] * slots for k in transformers}
        # Where only the feeder is full, a session of any transformer of the group
        # that still has room of its own can take what a vacating session frees.
        shared = [
            tuple(k for k in transformers if room[k][x] > ROOM_EPS)
            if feeder_room is not None and feeder_room[x] <= ROOM_EPS
            else ()
            for x in range(slots)
        ]
        self.generation += 1
        generation, stamp, covering = self.generation, self.stamp, self.covering
        # Per session, hoisted out of the loop below: it runs for every state.
        powers, caps, powered = self.powers, self.caps, self.powered
        full_lo, full_hi = self.full_lo, self.full_hi
        terminals = self.terminals(group)
        for cost, k0, slot0, evicted in terminals:
            if cost >= ceiling:
                break
            if price[k0][slot0] != INF:
                continue  # a cheaper terminal is reachable from this one
            price[k0][slot0] = cost
            evict[k0][slot0] = evicted
            queue = [(k0, slot0)]
            while queue:
                k, y = queue.pop()
                room_k = room[k]
                for index in covering[k][y]:
                    if stamp[index] == generation or powers[index][y] >= caps[index]:
                        continue  # expanded already, or no slack in y to enter it
                    stamp[index] = generation  # every session is expanded once per labelling
                    lo, hi = full_lo[index], full_hi[index]
                    for x in powered[index]:
                        if x == y or x < lo or x >= hi:
                            continue
                        for other in (k,) if room_k[x] <= ROOM_EPS else shared[x]:
                            if price[other][x] > cost:
                                price[other][x] = cost
                                step[other][x] = (index, y)
                                queue.append((other, x))
        return Labels(price, step, evict, terminals[0][0] if terminals else INF)

    def source(self, movable: Movable) -> tuple[float, int]:
        """A session's dearest energy: ``(cost per kWh, slot)``, slot -1 for unmet energy."""
        if movable.dearest is not None:
            return movable.dearest
        if movable.unmet_kwh > ENERGY_EPS_KWH:
            movable.dearest = (self.penalty, -1)
            return movable.dearest
        prices = self.prices
        best_cost, best_slot = -1.0, -1
        for slot in movable.powered:
            if prices[slot] > best_cost or (prices[slot] == best_cost and slot > best_slot):
                best_cost, best_slot = prices[slot], slot
        movable.dearest = (best_cost, best_slot)
        return movable.dearest
