"""The exchange pass: repair what the session-by-session greedy got wrong, vectorised.

Private to the scheduler. The cost of energy depends only on the slot it lands in,
so moving energy telescopes: when session B gives up its dearest energy (unmet, at
the penalty, or its dearest slot) and enters slot x, and session A, which drew power
in x, moves that much to slot y where the transformer still has room, the plan gets
cheaper by ``cost(B's dearest) - price[y]`` per kWh, whatever x costs. The greedy's
typical mistake is exactly that: an early session took the cheap slots although it
could also have used a half-empty mid-priced slot that a later one could not fill
(its own power limit), so the later one paid the peak price.

Each round looks, on every transformer still in play at once, for the best such
exchange (the chain of two, and the chain of one where B itself has a cheaper slot
with room), then carries it out in bulk: as many kWh as keep paying, pairing B's
dearest energy with A's cheapest room. A transformer drops out when it has no
paying exchange left. Exchanges only ever lower the cost, so ties are never churned
and the diversity the greedy chose among equally priced slots stays.

Across a full feeder (``by_feeder``) A may sit on another transformer of the feeder.
Every transformer still proposes its best exchange each round; exchanges that would
meet (one transformer in two of them) wait, except the best, so each reads room that
is its own. The feeder's room is what they share: slot by slot it goes to them best
first, each getting what those before it could take at most has left. Many exchanges
per feeder and round is what keeps congested nights (every feeder full all night) to
a handful of rounds.

Where B enters A's slot, both must have it in full (a partial slot turns kW into
fewer kWh, which would break the telescoping); energy can leave any slot and land in
any slot with room, partial ones too.
"""

from __future__ import annotations

import numpy as np

from evgrid.scheduler.greedy import ENERGY_EPS_KWH, MOVE_EPS_KW, Work
from evgrid.scheduler.tables import Bools, Floats, Ints

# An exchange must gain more than this per kWh, so price ties never cause churn.
_GAIN_EPS = 1e-9
# Less room or headroom than this (kW) is not worth an exchange.
_ROOM_EPS = 1e-4
_INF = np.inf
# An exchange moving less than this (kWh) counts as none: it only churns.
_MOVED_KWH = 1e-6


def repair(
    work: Work, members: Ints, prices: Floats, penalty: float, *, max_rounds: int, by_feeder: bool = False,
    min_gain: float = 0.0,
) -> int:
    """Run the exchange pass over sessions ``members``; the others stay as they are.

    Args:
        work: State after the greedy, updated in place.
        members: Rows of the sessions that may move.
        prices: ``T`` cost per kWh: the tariff for home sessions, the lateness weights
            of :func:`~evgrid.scheduler.model.lateness_per_kwh` for third-party ones.
        penalty: Cost per unmet kWh, above every price the pass should use.
        max_rounds: Upper bound on rounds; each costs O(sessions in play x slots).
        by_feeder: Partners searched across each limited feeder instead of within
            each transformer, so that B and A may sit on different transformers of a
            feeder that is full (A's leaving frees the feeder, B needs room on its own
            transformer only). Slower where feeders are large: for full feeders only.
        min_gain: Stop after a round that saved less than this (an upper bound of what
            it saved: kWh moved times the best gain per kWh of each exchange); 0 runs
            until no exchange pays.

    Returns:
        The number of exchanges carried out.
    """
    table = work.table
    ks = table.transformer[members]
    key = work.grid.feeder_of[ks] if by_feeder else ks
    members = members[np.lexsort((ks, key))]
    key = key[np.lexsort((ks, key))]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(members) else np.zeros(0, np.intp)
    sizes = np.diff(np.r_[starts, len(members)])
    active = np.ones(len(starts), bool)  # per group of members
    blocked = np.zeros(len(table), bool)  # sessions whose best exchange moved nothing
    rank = np.unique(prices, return_inverse=True)[1].reshape(-1).astype(float)
    moves = 0
    for _ in range(max_rounds):
        groups = np.flatnonzero(active)
        if not len(groups):
            break
        act = members[_ranges(starts[groups], sizes[groups])]
        moved, stuck, saved = _round(work, act, np.repeat(np.arange(len(groups)), sizes[groups]),
                                     prices, rank, penalty, blocked)  # fmt: skip
        moves += int(moved.sum())
        blocked[act[np.repeat(moved, sizes[groups])]] = False
        active[groups] = moved | stuck
        if saved < min_gain:
            break
    return moves


def _ranges(starts: Ints, sizes: Ints) -> Ints:
    """Concatenated ``range(start, start + size)`` for every pair."""
    offsets = np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    return np.repeat(starts, sizes) + offsets


def _round(
    work: Work, act: Ints, group: Ints, prices: Floats, rank: Floats, penalty: float, blocked: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float]:
    """One exchange per transformer of each group.

    Returns:
        The groups that moved, the groups that only got blocked or must wait, and an
        upper bound of what the round saved.
    """
    table = work.table
    n_groups = int(group[-1]) + 1
    ks = table.transformer[act]
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    sub = np.r_[True, (group[1:] != group[:-1]) | (ks[1:] != ks[:-1])]
    sub_starts, sub_of = np.flatnonzero(sub), np.cumsum(sub) - 1
    power, frac, max_kw = work.power[act], table.frac[act], table.max_kw[act]
    full = frac >= 1.0
    roomy = work.available(ks) > _ROOM_EPS
    headroom = power < max_kw[:, None] - _ROOM_EPS
    slack = full & headroom
    powered = power > MOVE_EPS_KW
    unmet = work.remaining[act] > ENERGY_EPS_KWH
    source = np.where(unmet, penalty, np.where(powered, prices, -_INF).max(axis=1))
    # Where energy can go: any slot of the window with room, partial ones too (they take
    # more kW per kWh, which only the room has to pay for).
    into = headroom & roomy
    into &= frac > 0.0
    escape = np.where(into, prices, _INF).min(axis=1)  # cheapest slot with room
    gain_one = source - escape
    # Chains of two: in every slot, the occupant with the cheapest escape other than B,
    # on B's transformer, or anywhere in the group where only the feeder is full there.
    # Only sessions that can escape somewhere can be A, and only those with slack in a
    # slot without room can be B: the search runs on those rows alone.
    rows = np.arange(len(act))
    gain_two = np.full(len(act), -_INF)
    mover = rows.copy()
    blocked_here = slack & ~roomy
    cand = np.flatnonzero(blocked_here.any(axis=1) & (source > -_INF) & ~blocked[act])
    occupies = powered & full
    occ = np.flatnonzero(np.isfinite(escape) & occupies.any(axis=1))
    if len(cand) and len(occ):
        partner, who = _best_other(escape[occ], occupies[occ], occ, group[occ], cand, group[cand])
        entry = np.where(blocked_here[cand], partner, _INF)
        if len(sub_starts) != len(starts):
            # Across transformers only where B's own has room: the pass per transformer
            # (run before) has done the exchanges within one.
            entry[~(work.room[ks[cand]] > _ROOM_EPS)] = _INF
        x = entry.argmin(axis=1)
        at = np.arange(len(cand))
        gain_two[cand] = source[cand] - entry[at, x]
        mover[cand] = who[at, x]
    gain = np.maximum(gain_one, gain_two)
    gain[blocked[act] | ~(gain > _GAIN_EPS)] = -_INF
    # The best exchange of every transformer (sub-group), not just of every group: on a
    # full feeder all its transformers exchange in the same round.
    top = np.maximum.reduceat(gain, sub_starts)
    chosen = np.flatnonzero(top > -_INF)
    pick = np.full(len(sub_starts), len(act))
    hits = np.flatnonzero(gain == top[sub_of])
    np.minimum.at(pick, sub_of[hits], hits)
    b = pick[chosen]
    two = gain_two[b] > gain_one[b]
    a = np.where(two, mover[b], b)
    # Exchanges of one round must not meet: each transformer takes part in one at most
    # (as B's or as A's), so the room each reads is its own. The best exchange at each
    # transformer goes ahead where it is the best at the other one too; the others
    # wait for the next round. The round's best always goes ahead.
    k_b, k_a = ks[b], ks[a]
    priority = np.empty(len(b), np.intp)
    priority[np.lexsort((b, -gain[b]))] = np.arange(len(b))
    best_at = np.full(len(work.room), len(b))
    np.minimum.at(best_at, k_b, priority)
    np.minimum.at(best_at, k_a, priority)
    go = (best_at[k_b] == priority) & (best_at[k_a] == priority)
    best_first = np.argsort(priority[go], kind="stable")
    b, a, two = b[go][best_first], a[go][best_first], two[go][best_first]
    amount = _exchange(work, act[b], act[a], two, prices, rank, penalty)
    moved = np.zeros(n_groups, bool)
    stuck = np.zeros(n_groups, bool)
    done = amount > _MOVED_KWH
    moved[group[b[done]]] = True
    stuck[group[pick[chosen[~go]]]] = True
    stuck[group[b[~done]]] = True
    stuck &= ~moved
    blocked[act[b[~done]]] = True
    return moved, stuck, float((amount * gain[b]).sum())


def _best_other(
    escape: Floats, occupies: Bools, holders: Ints, holder_group: Ints, asking: Ints, asking_group: Ints
) -> tuple[Floats, Ints]:
    """Per asking row and slot: the cheapest escape of another row of its group there, and whose.

    Args:
        escape: ``m`` the holders' cheapest escape.
        occupies: ``m x T`` where each holder draws power (in a full slot).
        holders: ``m`` their rows, sorted by group.
        holder_group: ``m`` their groups.
        asking: ``c`` the rows asking.
        asking_group: ``c`` their groups.

    Returns:
        ``c x T`` the least escape of another holder in the slot (inf: none), and its row.
    """
    m = len(holders)
    # Within each group cheapest escape first: the first holder occupying a slot is the
    # best there, the second the best for the first itself.
    order = np.lexsort((escape, holder_group))
    occupies, holders, escape, holder_group = occupies[order], holders[order], escape[order], holder_group[order]
    starts = np.flatnonzero(np.r_[True, holder_group[1:] != holder_group[:-1]])
    index = np.where(occupies, np.arange(m, dtype=np.int32)[:, None], np.int32(m))
    first = np.minimum.reduceat(index, starts, axis=0)
    index[index == first[np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, m]))]] = m
    second = np.minimum.reduceat(index, starts, axis=0)
    position = np.full(int(max(holder_group.max(), asking_group.max())) + 1, len(starts))
    position[holder_group[starts]] = np.arange(len(starts))
    at = position[asking_group]
    none = np.full((1, first.shape[1]), m, np.int32)
    first, second = np.r_[first, none], np.r_[second, none]
    padded_rows, padded_escape = np.r_[holders, -1], np.r_[escape, _INF]
    best = first[at]
    mine = padded_rows[best] == asking[:, None]
    best[mine] = second[at][mine]
    return padded_escape[best], padded_rows[best]


def _exchange(
    work: Work, rows_b: Ints, rows_a: Ints, two: np.ndarray, prices: Floats, rank: Floats, penalty: float
) -> Floats:
    """Carry out one exchange per pair: B gives up energy, A (maybe B itself) moves to room.

    Returns:
        The kWh moved by each exchange.
    """
    table, grid = work.table, work.grid
    hours = grid.slot_hours
    ks, k_b = table.transformer[rows_a], table.transformer[rows_b]
    power_b, power_a = work.power[rows_b], work.power[rows_a]
    frac_b, frac_a = table.frac[rows_b], table.frac[rows_a]
    max_b, max_a = table.max_kw[rows_b], table.max_kw[rows_a]
    full_a, full_b = frac_a >= 1.0, frac_b >= 1.0
    load = work.load(ks)
    spread = load / (np.abs(load).max(axis=1, keepdims=True) + 1.0)
    load_b = work.load(k_b)
    spread_b = load_b / (np.abs(load_b).max(axis=1, keepdims=True) + 1.0)
    # B's energy, dearest first (most loaded slot first among equals); column T is unmet.
    slots = len(prices)
    give = np.zeros((len(rows_b), slots + 1))
    give[:, :slots] = np.where(power_b > MOVE_EPS_KW, power_b * frac_b * hours, 0.0)
    give[:, slots] = np.maximum(work.remaining[rows_b], 0.0)
    give_price = np.broadcast_to(np.r_[prices, penalty], give.shape)
    give_key = np.where(give > ENERGY_EPS_KWH, -np.c_[rank[None, :] * 2 + spread_b, np.full(len(rows_b), 1e9)], _INF)
    # A's room, cheapest first (least loaded among equals): what the feeder has is shared
    # by every transformer of it exchanging in this round.
    avail = work.available(ks)
    feeders = grid.feeder_of[ks]
    on = feeders >= 0
    if on.any():
        # The feeder's room, slot by slot, goes to the exchanges in order (best first):
        # each gets what those before it could take at most has left.
        could = np.where(frac_a[on] > 0.0, np.minimum(work.room[ks[on]], max_a[on][:, None] - power_a[on]), 0.0)
        np.maximum(could, 0.0, out=could)
        by_feeder = np.argsort(feeders[on], kind="stable")  # keeps the order within a feeder
        sorted_feeders = feeders[on][by_feeder]
        claimed = np.cumsum(could[by_feeder], axis=0)
        starts = np.flatnonzero(np.r_[True, sorted_feeders[1:] != sorted_feeders[:-1]])
        claimed -= could[by_feeder]
        claimed -= np.repeat(claimed[starts], np.diff(np.r_[starts, len(sorted_feeders)]), axis=0)
        left = np.empty_like(claimed)
        left[by_feeder] = np.maximum(work.feeder_room[sorted_feeders] - claimed, 0.0)
        avail[on] = np.minimum(work.room[ks[on]], left)
    take = np.where(frac_a > 0.0, np.minimum(avail, max_a[:, None] - power_a), 0.0)
    take[take <= _ROOM_EPS] = 0.0
    take *= frac_a * hours
    take_key = np.where(take > ENERGY_EPS_KWH, rank[None, :] * 2 + spread, _INF)
    # For a chain of two: how much B can enter where A draws power.
    through = np.where(full_a & full_b & (power_a > MOVE_EPS_KW), np.minimum(power_a, max_b[:, None] - power_b), 0.0)
    # From another transformer of the feeder, B also needs room on its own.
    other = ks != k_b
    through[other] = np.minimum(through[other], work.room[k_b[other]])
    through[through < _ROOM_EPS] = 0.0
    through *= hours
    limit = np.where(two, through.sum(axis=1), _INF)

    g_order = np.argsort(give_key, axis=1, kind="stable")
    t_order = np.argsort(take_key, axis=1, kind="stable")
    g_amount = np.take_along_axis(give, g_order, axis=1)
    g_price = np.where(g_amount > ENERGY_EPS_KWH, np.take_along_axis(give_price, g_order, axis=1), -_INF)
    t_amount = np.take_along_axis(take, t_order, axis=1)
    t_price = np.where(t_amount > ENERGY_EPS_KWH, prices[t_order], _INF)
    g_cum, t_cum = np.cumsum(g_amount, axis=1), np.cumsum(t_amount, axis=1)
    total = np.minimum(_paying(g_price, g_cum, t_price, t_cum, t_amount), limit)
    given = np.clip(total[:, None] - (g_cum - g_amount), 0.0, g_amount)
    taken = np.clip(total[:, None] - (t_cum - t_amount), 0.0, t_amount)
    given_by_slot, taken_by_slot = np.empty_like(given), np.empty_like(taken)
    np.put_along_axis(given_by_slot, g_order, given, axis=1)
    np.put_along_axis(taken_by_slot, t_order, taken, axis=1)

    delta_b = -given_by_slot[:, :slots] / np.where(frac_b > 0.0, frac_b * hours, 1.0)
    delta_a = taken_by_slot / np.where(frac_a > 0.0, frac_a * hours, 1.0)
    passed = np.clip(total[:, None] - (np.cumsum(through, axis=1) - through), 0.0, through) / hours
    passed[~two] = 0.0
    delta_a -= passed
    delta_b += passed
    one = ~two
    # A first: it frees the slots B enters, so no limit is exceeded even in between.
    _apply(work, rows_a[two], delta_a[two])
    _apply(work, rows_b[two], delta_b[two])
    _apply(work, rows_b[one], delta_b[one] + delta_a[one])
    return total


def _paying(g_price: Floats, g_cum: Floats, t_price: Floats, t_cum: Floats, t_amount: Floats) -> Floats:
    """How many kWh pay, pairing energy given up (dearest first) with room (cheapest first).

    Unit ``q`` pays when the price of the ``q``-th kWh given up exceeds the price of the
    ``q``-th kWh of room; both are monotone in ``q``, so the paying units are a prefix.
    The ``q``-th kWh of room, in room segment ``j``, pays while ``q`` is below the kWh
    given up at prices above ``t_price[j]``.
    """
    rows, width = g_price.shape
    # Dearer-than-p energy per row: search the row's prices (descending) for p. Rows are
    # offset so that one flat searchsorted serves all of them.
    finite = np.isfinite(g_price)
    span = (np.abs(g_price[finite]).max() if finite.any() else 0.0) + abs(t_price[np.isfinite(t_price)]).max(
        initial=0.0
    ) + 1.0
    offset = (np.arange(rows) * 4.0 * span)[:, None]
    flat = np.where(finite, -g_price, 2.0 * span) + offset
    queries = np.where(np.isfinite(t_price), -(t_price + _GAIN_EPS), -2.0 * span) + offset
    count = np.searchsorted(flat.ravel(), queries.ravel(), side="left").reshape(t_price.shape) - (
        np.arange(rows) * width
    )[:, None]
    g_cum0 = np.c_[np.zeros(rows), g_cum]
    dearer = np.take_along_axis(g_cum0, np.clip(count, 0, width), axis=1)
    t_before = t_cum - t_amount
    upto = np.minimum(t_cum, dearer)
    upto[~((dearer > t_before) & np.isfinite(t_price))] = 0.0
    return upto.max(axis=1, initial=0.0)


def _apply(work: Work, rows: Ints, delta: Floats) -> None:
    """Add ``delta`` to ``rows``, snapping float noise so power stays in [0, max]."""
    if not len(rows):
        return
    old = work.power[rows]
    new = np.clip(old + delta, 0.0, work.table.max_kw[rows][:, None])
    new[new < MOVE_EPS_KW] = 0.0
    work.add(rows, new - old)
