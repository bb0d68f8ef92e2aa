"""Augmenting pass: repair what the one-session-at-a-time greedy got wrong.

The greedy gives each home session the cheapest slots still free at its turn, so an
early session can hold a cheap slot that a later one needed more. Seen as a min-cost
flow, the cost of energy depends only on the slot it lands in, so the cost of a
chain of moves telescopes: session B takes slot x_1 from its dearest energy (unmet,
at the penalty, or its dearest slot z); session A_1 leaves x_1 for x_2, A_2 leaves x_2
for x_3, ..., and the last one lands in a slot e that still has headroom. The chain
costs ``price[e] - cost(z)`` per kWh whatever the x_i are, so a plan can be improved
exactly when a slot with headroom and a lower price is *reachable* from some
session's dearest energy, and the best chain goes to the cheapest reachable one.

The pass works per group of transformers on the labels of
:mod:`~evgrid.scheduler.reach` (the cheapest terminal reachable from each state). A
sweep labels the group once, then every session whose dearest energy costs more than
the best label in its window, dearest first, follows the labels' pointers. Chains are
re-validated against the current headroom (and undone if they would break a limit)
because labels go stale as chains are applied; when the last mover's target has
filled up meanwhile, it lands in its cheapest slot that still has room. Sweeps repeat
until one changes nothing.

Partial first and last slots turn kW into kWh at a lower rate than full ones, which
breaks the telescoping, so they take part in restricted ways only. Movers move
between full slots of their windows. The session whose energy moves may enter one of
its partial slots; per kWh of its own that costs ``price + (label - price) / fraction``.
A session drawing power in its partial slot can be *evicted* from it: the entrant gets
a full slot's kWh, the evicted session loses ``fraction`` times as much and counts it
as unmet (the pass may place it again later).

The same pass serves third-party sessions (before home sessions are placed) with
lateness weights for prices: there it trades lateness against unmet energy
exactly as the reference LP's first stage does.
"""

from __future__ import annotations

from enum import Enum

from evgrid.scheduler.headroom import MOVE_EPS_KW, Headroom
from evgrid.scheduler.model import SessionRequest
from evgrid.scheduler.reach import INF, ROOM_EPS, Labels, Movable, Network

# A chain must gain more than this per kWh, so price ties never cause churn.
_GAIN_EPS = 1e-9
# A committed chain may leave a limit exceeded by float noise only.
_LIMIT_SLACK = 1e-9
# Chains per session per sweep: each is capped by one bottleneck, so a session may
# need a few, but after that fresh labels are the better use of time.
_CHAINS_PER_SESSION = 4


class _Outcome(Enum):
    MOVED = 1
    NOTHING = 2  # the labels show no cheaper reachable slot
    STALE = 3  # they did, but the chain no longer holds


class _Chains(Network):
    """The network plus the moves: following labels, re-validating, committing."""

    def augment(self, index: int, labels: Labels) -> _Outcome:
        """Move session ``index``'s dearest energy along its best chain."""
        headroom = self.headroom
        prices, hours = self.prices, headroom.slot_hours
        movable = self.movables[index]
        source_cost, source_slot = self.source(movable)
        if source_cost < 0:
            return _Outcome.NOTHING
        label, power, k = labels.price[movable.k], movable.power, movable.k
        max_kw = movable.session.max_power_kw
        entry, best = -1, source_cost - _GAIN_EPS
        for x in range(movable.full_lo, movable.full_hi):
            if label[x] < best and x != source_slot and power[x] < max_kw - MOVE_EPS_KW:
                entry, best = x, label[x]
        for x in movable.partial:
            # A kW here brings the session only `fraction` of the kWh the chain moves:
            # what it gains per kWh of its own is price + (label - price) / fraction.
            if label[x] < INF and x != source_slot and power[x] < max_kw - MOVE_EPS_KW:
                cost = prices[x] + (label[x] - prices[x]) / movable.fraction(x)
                if cost < best:
                    entry, best = x, cost
        if entry < 0:
            return _Outcome.NOTHING
        fraction = movable.fraction(entry)
        if source_slot < 0:
            amount = movable.unmet_kwh / (hours * fraction)
        else:
            amount = power[source_slot] * movable.fraction(source_slot) / fraction
        amount = min(amount, max_kw - power[entry])
        changes = [(index, entry, 1.0)]  # (session, slot, sign): the amount comes last
        slot, evicted = entry, -1
        while headroom.available(k, slot) <= ROOM_EPS:
            link = labels.step[k][slot] if k in labels.step else None
            if link is None:
                evicted = labels.evict[k][slot] if k in labels.evict else -1
                if evicted < 0 and len(changes) > 1:
                    # The usual way labels go stale: an earlier chain filled this terminal.
                    # The last mover can still land in another slot with room.
                    mover_index, leaves = changes[-2][0], changes[-2][1]
                    slot = self._retarget(mover_index, leaves, source_cost)
                    if slot < 0:
                        return _Outcome.STALE
                    mover = self.movables[mover_index]
                    changes[-1] = (mover_index, slot, 1.0)
                    amount = min(amount, mover.session.max_power_kw - mover.power[slot])
                    break
                if evicted < 0 or evicted == index:
                    return _Outcome.STALE
                occupant = self.movables[evicted]
                amount = min(amount, occupant.power[slot])
                if occupant.k != k:
                    amount = min(amount, headroom.room[k][slot])
                break
            if len(changes) > 4 * headroom.slots:
                return _Outcome.STALE  # stale pointers went round in a circle
            mover_index, target = link
            mover = self.movables[mover_index]
            amount = min(amount, mover.power[slot], mover.session.max_power_kw - mover.power[target])
            if mover.k != k:
                amount = min(amount, headroom.room[k][slot])
            changes.append((mover_index, slot, -1.0))
            changes.append((mover_index, target, 1.0))
            k, slot = mover.k, target
        if evicted < 0:
            amount = min(amount, headroom.available(k, slot))
            end_cost = prices[slot]
        else:
            end_fraction = self.movables[evicted].fraction(slot)
            end_cost = prices[slot] + end_fraction * (self.penalty - prices[slot])
            changes.append((evicted, slot, -1.0))
        end_cost = prices[entry] + (end_cost - prices[entry]) / fraction  # per kWh of its own
        if amount <= MOVE_EPS_KW or end_cost >= source_cost - _GAIN_EPS:
            return _Outcome.STALE
        moves = [(session, at, amount if sign >= 0 else -amount) for session, at, sign in changes]
        if source_slot >= 0:
            moves.append((index, source_slot, -amount * fraction / movable.fraction(source_slot)))
        if not self._commit(moves):
            return _Outcome.STALE
        if source_slot < 0:
            movable.unmet_kwh = max(0.0, movable.unmet_kwh - amount * fraction * hours)
            movable.dearest = None
        if evicted >= 0:
            occupant = self.movables[evicted]
            occupant.unmet_kwh += amount * occupant.fraction(slot) * hours
            occupant.dearest = None
        return _Outcome.MOVED

    def _retarget(self, index: int, leaves: int, below: float) -> int:
        """The cheapest slot under ``below`` with room that session ``index`` can enter, or -1."""
        movable = self.movables[index]
        prices, available, power = self.prices, self.headroom.available, movable.power
        cap = movable.session.max_power_kw - MOVE_EPS_KW
        best, found = below - _GAIN_EPS, -1
        for slot in range(movable.full_lo, movable.full_hi):
            if (
                prices[slot] < best
                and slot != leaves
                and power[slot] < cap
                and available(movable.k, slot) > ROOM_EPS
            ):
                best, found = prices[slot], slot
        return found

    def _commit(self, changes: list[tuple[int, int, float]]) -> bool:
        """Apply power changes; undo them all if any limit would be exceeded."""
        headroom = self.headroom
        undo: list[tuple[Movable, int, float]] = []
        for session, slot, delta in changes:
            movable = self.movables[session]
            old = movable.power[slot]
            new = old + delta
            if -_LIMIT_SLACK < new < MOVE_EPS_KW:
                new = 0.0  # what is left of a vacated slot is noise, not worth a slot
            movable.power[slot] = new
            headroom.shift(movable.k, slot, new - old)
            undo.append((movable, slot, old))
            movable.dearest = None
            if new > MOVE_EPS_KW:
                movable.powered.add(slot)
            else:
                movable.powered.discard(slot)
        for movable, slot, _ in undo:
            feeder = headroom.feeder_of[movable.k]
            if (
                movable.power[slot] < -_LIMIT_SLACK
                or movable.power[slot] > movable.session.max_power_kw + _LIMIT_SLACK
                or headroom.room[movable.k][slot] < -_LIMIT_SLACK
                or (feeder >= 0 and headroom.feeder_room[feeder][slot] < -_LIMIT_SLACK)
            ):
                for done, at, old in reversed(undo):
                    headroom.shift(done.k, at, old - done.power[at])
                    done.power[at] = old
                    if old > MOVE_EPS_KW:
                        done.powered.add(at)
                    else:
                        done.powered.discard(at)
                return False
        return True


def improve(
    headroom: Headroom,
    sessions: list[SessionRequest],
    powers: dict[str, list[float]],
    windows: dict[str, tuple[int, tuple[float, ...]]],
    *,
    prices: list[float],
    penalty: float,
    max_sweeps: int,
) -> int:
    """Run the augmenting pass over ``sessions``, updating ``powers`` in place.

    Args:
        headroom: Working state after the greedy, updated.
        sessions: The sessions that may move; the others' power is part of the headroom.
        powers: Session id -> power per slot; the lists are modified in place.
        windows: Session id -> ``(first slot, fractions)``.
        prices: Cost per kWh in each slot: the tariff for home sessions, the lateness
            weights of :func:`~evgrid.scheduler.model.lateness_per_kwh` for third-party ones.
        penalty: Cost per unmet kWh, above every price the pass should use.
        max_sweeps: Upper bound on sweeps per group; each is linear in the group's size.

    Returns:
        The number of chains applied.
    """
    state = _Chains(headroom, sessions, powers, windows, prices, penalty)
    moves = 0
    for group, members in enumerate(state.members):
        for _ in range(max_sweeps if members else 0):
            # Dearest energy first: it gains most from the cheap terminals, which the
            # first chains of a sweep use up.
            members.sort(key=lambda index: -state.source(state.movables[index])[0])
            ceiling = state.source(state.movables[members[0]])[0] - _GAIN_EPS
            labels = state.label(group, ceiling)
            unsettled = False
            for index in members:
                if state.source(state.movables[index])[0] <= labels.floor + _GAIN_EPS:
                    break  # nor can anyone after it, in this order
                for _ in range(_CHAINS_PER_SESSION):
                    outcome = state.augment(index, labels)
                    if outcome is _Outcome.NOTHING:
                        break
                    # Otherwise a stale chain is retried on the next sweep's labels.
                    unsettled = True
                    if outcome is _Outcome.STALE:
                        break
                    moves += 1
            if not unsettled:
                break
    return moves
